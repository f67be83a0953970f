// How an Admin API route is declared: parameter schemas, Duo's paging, refusals in Duo's words, the audit actor.
import { type Static, Type as T, type TObject, type TSchema } from "@sinclair/typebox";
import type { Actor } from "../../../core/deps.ts";
import { type ErrorCode, TwofoldError } from "../../../core/errors.ts";
import { PlainText } from "../../validation.ts";
import { DUO_FAILURES, type DuoMetadata, DuoRefusal, invalidParameters } from "../envelope.ts";
import {
  ADMIN_API_TYPES,
  type DuoAnswer,
  type DuoCall,
  type DuoRouteOptions,
  strict,
} from "../signed-routes.ts";

/** A whole number sent as text (every Duo parameter is a string). */
export const Whole = (digits: number) => T.Optional(T.String({ pattern: `^[0-9]{1,${digits}}$` }));
export const List = T.Optional(T.Array(PlainText({ maxLength: 128 }), { maxItems: 100 }));
export const Id = PlainText({ minLength: 1, maxLength: 64 });
export const Paging = { limit: Whole(6), offset: Whole(9) };
export const Path = (...names: string[]): TObject =>
  T.Object(Object.fromEntries(names.map((n) => [n, Id])), strict);
export const AnyObject = T.Object({}, { additionalProperties: true });
export const Empty = T.Literal("");

/** Duo's paging limits (duo-compat §5.1): users 100 by default and at most 300; other lists 100 and 500. */
export const USER_PAGE = { default: 100, max: 300 };
export const LIST_PAGE = { default: 100, max: 500 };
/** Authentication log v2: 100 records by default, at most 1000 (§5.6). */
export const LOG_PAGE = { default: 100, max: 1000 };
/** Bypass codes per call (§5.5). */
export const MAX_BYPASS_COUNT = 10;

export const STATUS = T.Optional(T.Union([T.Literal("active"), T.Literal("bypass"), T.Literal("disabled")]));

export const invalid = (detail: string, code: ErrorCode = "ERR_VALIDATION") =>
  new DuoRefusal(code, invalidParameters(detail));
export const notFound = () => new DuoRefusal("ERR_NOT_FOUND", DUO_FAILURES.notFound);

/** Who made an Admin API change, for the audit log. */
export function actorOf(call: DuoCall<unknown>): Actor {
  return { name: `integration:${call.application.id}`, ip: call.request.ip };
}

export function pathOf(call: DuoCall<unknown>): Record<string, string> {
  return call.request.params as Record<string, string>;
}

export const seconds = (ms: number) => Math.floor(ms / 1000);
export const truthy = (flag: string | undefined) => flag === "1" || flag === "true";

export function pageOf(
  params: { limit?: string; offset?: string },
  limits: { default: number; max: number },
) {
  const limit = params.limit === undefined ? limits.default : Number(params.limit);
  if (limit < 1 || limit > limits.max) throw invalid(`limit (1 to ${limits.max})`);
  return { limit, offset: Number(params.offset ?? 0) };
}

/** Duo's paging metadata (§5.1): `next_offset` is null on the last page. */
export function pageMetadata(
  page: { limit: number; offset: number },
  count: number,
  total: number,
): DuoMetadata {
  return {
    total_objects: total,
    next_offset: page.offset + count < total ? page.offset + count : null,
    prev_offset: page.offset > 0 ? Math.max(0, page.offset - page.limit) : null,
  };
}

export function pageOfList<E>(items: readonly E[], params: { limit?: string; offset?: string }) {
  const page = pageOf(params, LIST_PAGE);
  const slice = items.slice(page.offset, page.offset + page.limit);
  return { slice, metadata: pageMetadata(page, slice.length, items.length) };
}

/** Core refusals name their own fields; a Duo client is told the parameter it sent (400 40002, §2.1). */
export const PARAMETER_NAMES: Record<string, string> = {
  realName: "realname",
  uses: "reuse_count",
  validSeconds: "valid_secs",
  period: "totp_step",
};

export async function withParameterNames<R>(run: () => Promise<R>): Promise<R> {
  try {
    return await run();
  } catch (error) {
    if (
      error instanceof TwofoldError &&
      !(error instanceof DuoRefusal) &&
      ["ERR_VALIDATION", "ERR_BYPASS_POLICY", "ERR_OTP_SECRET_TOO_SHORT", "ERR_USERNAME_INVALID"].includes(
        error.code,
      )
    ) {
      const detail =
        error.issues.length > 0
          ? error.issues
              .slice(0, 3)
              .map((i) => {
                const name = i.path.replace(/\[.*$/, "");
                return `${PARAMETER_NAMES[name] ?? name}: ${i.message.replace(/^[a-z_]+: /, "")}`;
              })
              .join("; ")
          : error.message;
      throw new DuoRefusal(error.code, invalidParameters(detail), error.detail);
    }
    throw error;
  }
}

export function refuseUnsupported(params: Record<string, unknown>, names: readonly string[]): void {
  for (const n of names) if (params[n] !== undefined) throw invalid(`${n} (not supported)`);
}

/** `""` for an absent optional text field means "clear it". */
export const cleared = (value: string | undefined) =>
  value === undefined ? undefined : value === "" ? null : value;

/** Declares one Admin API route; `pathParams` are the `:names` in its URL. */
export type AdminRoute = <S extends TObject>(
  method: "GET" | "POST" | "DELETE",
  url: string,
  params: S,
  response: TSchema,
  handler: (call: DuoCall<Static<S>>) => Promise<DuoAnswer>,
  pathParams?: TObject,
) => void;

/** Admin API routes on a signed Duo scope: Admin API integrations only, changes replay-protected (K2). */
export function adminRoutes(route: <S extends TObject>(options: DuoRouteOptions<S>) => void): AdminRoute {
  return (method, url, params, response, handler, pathParams) =>
    route({
      method,
      url,
      integrations: ADMIN_API_TYPES,
      // Every change is refused when its signed request is seen again (K2).
      replayProtected: method !== "GET",
      params,
      ...(pathParams ? { pathParams } : {}),
      response,
      handler: (call) => withParameterNames(() => handler(call)),
    });
}
