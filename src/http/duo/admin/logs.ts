// Admin API authentication logs (duo-compat §5.6): version 2 with filters and paging, and deprecated version 1.
import { Type as T } from "@sinclair/typebox";
import type { AuthFactor, AuthLogEntry } from "../../../core/model.ts";
import type { ServiceRuntime } from "../../../runtime/runtime.ts";
import { strict } from "../signed-routes.ts";
import {
  type AdminRoute,
  AnyObject,
  invalid,
  List,
  LOG_PAGE,
  pageOf,
  seconds,
  Whole,
} from "./admin-route.ts";
import { createLookups } from "./objects.ts";

/**
 * Twofold's factors in Duo's words (§5.6); filters translate back through the same table. The prompt's
 * `auth_context.factor` uses the same words (a trusted browser: `remembered_device`).
 */
export const FACTOR_NAMES: Record<AuthFactor, string> = {
  totp: "passcode",
  hotp: "passcode",
  rescue: "passcode",
  token: "hardware_token",
  bypass: "bypass_code",
  push: "duo_push",
  sms: "sms_passcode",
  webauthn: "webauthn_security_key",
  remembered_device: "remembered_device",
  none: "not_available",
};
/** Authentication log v1 (deprecated by Duo) named factors and results for people. [U] */
const FACTOR_NAMES_V1: Record<AuthFactor, string> = {
  totp: "Passcode",
  hotp: "Passcode",
  rescue: "Passcode",
  token: "Hardware Token",
  bypass: "Bypass Code",
  push: "Duo Push",
  sms: "SMS Passcode",
  webauthn: "WebAuthn Security Key",
  remembered_device: "Remembered Device",
  none: "Not Available",
};
const RESULT_NAMES = { allow: "success", deny: "denied" } as const;

function translateFilter<K extends string>(
  wanted: readonly string[] | undefined,
  names: Record<K, string>,
): K[] | undefined {
  if (!wanted || wanted.length === 0) return undefined;
  return (Object.keys(names) as K[]).filter((k) => wanted.includes(names[k]));
}

const NO_LOCATION = { city: null, state: null, country: null };

async function authLogRecord(
  entry: AuthLogEntry,
  lookups: ReturnType<typeof createLookups>,
): Promise<Record<string, unknown>> {
  const [user, app] = await Promise.all([lookups.user(entry.userId), lookups.app(entry.applicationId)]);
  return {
    txid: entry.txid,
    timestamp: seconds(entry.at),
    isotimestamp: new Date(entry.at).toISOString(),
    event_type: "authentication",
    result: RESULT_NAMES[entry.result],
    reason: entry.reason,
    factor: FACTOR_NAMES[entry.factor],
    alias: "",
    email: user?.email ?? "",
    ood_software: null,
    user: { name: entry.username, key: entry.userId ?? "" },
    application: { name: app?.name ?? "", key: entry.applicationId ?? "" },
    auth_device: { ip: null, location: NO_LOCATION, name: null },
    access_device: { ip: entry.ip, location: NO_LOCATION, hostname: null, epkey: null },
  };
}

/** `next_offset` as Duo's clients send it back: the two strings of the last page's value, or them joined by a comma. */
function parseLogOffset(values: readonly string[] | undefined): { at: number; id: string } | undefined {
  if (!values || values.length === 0) return undefined;
  const parts = values.length === 1 ? values[0]!.split(",") : [...values];
  const [at, id] = parts;
  if (parts.length !== 2 || !/^[0-9]{1,16}$/.test(at ?? "") || !id || id.length > 64)
    throw invalid("next_offset");
  return { at: Number(at), id };
}

export function registerLogRoutes(admin: AdminRoute, runtime: ServiceRuntime): void {
  const { services } = runtime;
  const now = () => runtime.clock.now();

  admin(
    "GET",
    "/admin/v2/logs/authentication",
    T.Object(
      {
        mintime: T.String({ pattern: "^[0-9]{1,16}$" }),
        maxtime: T.String({ pattern: "^[0-9]{1,16}$" }),
        limit: Whole(6),
        next_offset: T.Optional(T.Array(T.String({ maxLength: 100 }), { maxItems: 2 })),
        sort: T.Optional(T.Union([T.Literal("ts:desc"), T.Literal("ts:asc")])),
        users: List,
        applications: List,
        results: List,
        factors: List,
      },
      strict,
    ),
    T.Object({ authlogs: T.Array(AnyObject), metadata: AnyObject }, strict),
    async ({ params }) => {
      const minTime = Number(params.mintime);
      const maxTime = Number(params.maxtime);
      if (minTime > maxTime) throw invalid("mintime (after maxtime)");
      const { limit } = pageOf(params, LOG_PAGE);
      const after = parseLogOffset(params.next_offset);
      const results = translateFilter(params.results, RESULT_NAMES);
      const factors = translateFilter(params.factors, FACTOR_NAMES);
      // A filter naming only results or factors Twofold never records matches nothing.
      if (results?.length === 0 || factors?.length === 0)
        return { response: { authlogs: [], metadata: { next_offset: null, total_objects: 0 } } };
      const { entries, total } = await services.listAuthLog({
        minTime,
        maxTime,
        // One more than asked tells whether another page follows.
        limit: limit + 1,
        order: params.sort === "ts:asc" ? "asc" : "desc",
        ...(after ? { after } : {}),
        ...(params.users?.length ? { userIds: params.users } : {}),
        ...(params.applications?.length ? { applicationIds: params.applications } : {}),
        ...(results ? { results } : {}),
        ...(factors ? { factors } : {}),
      });
      const pageEntries = entries.slice(0, limit);
      const last = pageEntries.at(-1);
      const lookups = createLookups(services);
      return {
        response: {
          authlogs: await Promise.all(pageEntries.map((e) => authLogRecord(e, lookups))),
          metadata: {
            next_offset: entries.length > limit && last ? [String(last.at), last.id] : null,
            total_objects: total,
          },
        },
      };
    },
  );

  // Version 1 (deprecated by Duo): the first 1000 records from `mintime` (unix seconds), oldest first.
  admin(
    "GET",
    "/admin/v1/logs/authentication",
    T.Object({ mintime: Whole(12) }, strict),
    T.Array(AnyObject),
    async ({ params }) => {
      const { entries } = await services.listAuthLog({
        minTime: Number(params.mintime ?? 0) * 1000,
        maxTime: now(),
        limit: LOG_PAGE.max,
        order: "asc",
      });
      const lookups = createLookups(services);
      return {
        response: await Promise.all(
          entries.map(async (e) => ({
            timestamp: seconds(e.at),
            username: e.username,
            factor: FACTOR_NAMES_V1[e.factor],
            result: e.result === "allow" ? "SUCCESS" : "FAILURE",
            reason: e.reason,
            ip: e.ip ?? "",
            integration: (await lookups.app(e.applicationId))?.name ?? "",
            new_enrollment: false,
            location: { city: "", state: "", country: "" },
          })),
        ),
      };
    },
  );
}
