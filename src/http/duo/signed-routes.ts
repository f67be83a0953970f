// Routes of the Duo-signed APIs: raw bodies, strict parameter parsing, signature and integration checks, replay refusal, then a schema for the parameters.
import { type Static, Type as T, type TObject, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { apiHost } from "../../config/load.ts";
import type { Application, ApplicationType } from "../../core/model.ts";
import {
  type DuoCredentials,
  parseDuoAuthorization,
  type SignatureVariant,
  verifyDuoSignature,
} from "../../core/signed-request.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { AnswerDeadline } from "../answer-deadline.ts";
import { compileLater } from "../deferred-compilers.ts";
import { PlainText } from "../validation.ts";
import {
  DUO_FAILURES,
  type DuoFormat,
  type DuoMetadata,
  DuoRefusal,
  duoFormatOf,
  invalidParameters,
  sendDuoOK,
} from "./envelope.ts";

/** Integrations that may call the Auth API and the legacy REST v1 paths (a UNIX integration uses the Auth API). */
export const AUTH_API_TYPES: readonly ApplicationType[] = ["auth-api", "unix"];
export const ADMIN_API_TYPES: readonly ApplicationType[] = ["admin-api"];

/** Parameter schemas: every value arrives as text; objects refuse unknown parameters. */
export const strict = { additionalProperties: false } as const;
export const Text = (maxLength = 256) => T.Optional(PlainText({ maxLength }));
/**
 * What a login names or types (username, passcode): any text, so that a name no user can have (control characters,
 * H-3) is still looked up, denied and written to the authentication log like any unknown user, not refused unlogged.
 */
export const LoginName = (maxLength = 256) => T.Optional(T.String({ maxLength }));
/** Boolean-like parameters (§3): "1"/"0", or true/false from a JSON body. */
export const Flag = T.Optional(
  T.Union([T.Literal("0"), T.Literal("1"), T.Literal("true"), T.Literal("false")]),
);

/** More parameters than any call of these APIs takes. */
const MAX_PARAMS = 100;
/** Keys that could reach an object's prototype if merged (H-1). */
const FORBIDDEN_NAMES = new Set(["__proto__", "constructor", "prototype"]);

export interface DuoCall<P> {
  application: Application;
  params: P;
  variant: SignatureVariant;
  format: DuoFormat;
  request: FastifyRequest;
  reply: FastifyReply;
  /**
   * Aborts when the client hangs up before the answer is sent. (Fastify's request.signal follows the request
   * stream, which closes as soon as a POST body has been read.)
   */
  signal: AbortSignal;
  /** server.answerTimeoutSeconds for this call: a handler about to wait for a push extends it by the wait. */
  deadline: AnswerDeadline;
}

/** What a handler answers: a `response` (with paging metadata), or raw bytes (the logo). */
export type DuoAnswer = { response: unknown; metadata?: DuoMetadata } | { raw: Buffer; contentType: string };

export interface DuoRouteOptions<S extends TObject> {
  method: "GET" | "POST" | "DELETE";
  url: string;
  /** Integration types allowed to call; `unsigned` for `ping` only. */
  integrations: readonly ApplicationType[] | "unsigned";
  /** The parameters, after parsing: every value a string, or an array of strings where declared. */
  params: S;
  /** Path parameters (Admin API object ids). */
  pathParams?: TObject;
  /** The `response` member of a successful answer (documentation; answers are serialised as built). */
  response: TSchema;
  /**
   * Calls that change state: an identical signed request seen again within the date window is refused (K2), or
   * within a few seconds when undated; within one second of the first it is answered "retry" (429).
   */
  replayProtected?: boolean;
  /** A login decision: an internal error answers this deny instead of a 5xx, which duo_unix may let through. */
  failClosed?: () => unknown;
  /**
   * Long-polling routes: the longest push wait they add to the answer deadline (which they extend when the
   * wait starts). The request's own deadline, a backstop, is this plus the whole-request timeout.
   */
  waitMs?: number;
  handler: (call: DuoCall<Static<S>>) => Promise<DuoAnswer>;
}

const Envelope = (response: TSchema) =>
  T.Object(
    {
      stat: T.Literal("OK"),
      response,
      metadata: T.Optional(
        T.Object(
          {
            total_objects: T.Optional(T.Integer()),
            next_offset: T.Optional(T.Union([T.Integer(), T.Array(T.String()), T.Null()])),
            prev_offset: T.Optional(T.Union([T.Integer(), T.Null()])),
          },
          { additionalProperties: false },
        ),
      ),
    },
    { additionalProperties: false },
  );

const Failure = T.Object(
  {
    stat: T.Literal("FAIL"),
    code: T.Integer(),
    message: T.String(),
    message_detail: T.Optional(T.String()),
  },
  { additionalProperties: false },
);

/** The query string as Fastify parsed it: checked for shape only; the signed parameters are parsed from the raw URL. */
const AnyQuery = T.Record(T.String(), T.Union([T.String(), T.Array(T.String())]));
/** The body is kept as the bytes received: form parameters are re-canonicalised, JSON bodies hashed as sent. */
const RawBody = T.Union([T.Uint8Array(), T.Undefined(), T.Null()]);

/**
 * Register the Duo paths in their own scope: form and JSON bodies arrive as bytes (nothing else is accepted),
 * and `route` adds a signed route.
 */
export function registerDuoScope(
  app: FastifyInstance,
  runtime: ServiceRuntime,
  register: (route: <S extends TObject>(options: DuoRouteOptions<S>) => void) => void,
): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      ["application/x-www-form-urlencoded", "application/json"],
      { parseAs: "buffer" },
      (_request, body, done) => done(null, body),
    );
    const answerTimeoutMs = runtime.config.server.answerTimeoutSeconds * 1000;
    const requestTimeoutMs = runtime.config.server.requestTimeoutSeconds * 1000;
    let lastPurge = 0;
    const purge = () => {
      const now = runtime.clock.now();
      if (now - lastPurge < 60_000) return;
      lastPurge = now;
      runtime.services.purgeSignedRequests().catch((error: unknown) => {
        runtime.logger.warn({ err: error }, "could not purge remembered request signatures");
      });
    };

    register(<S extends TObject>(options: DuoRouteOptions<S>) => {
      // Compiled on the route's first request or in the warm-up after listening, not at start.
      const checkParams = compileLater(app, () => TypeCompiler.Compile(options.params));
      const arrayParams = new Set(
        Object.entries(options.params.properties)
          .filter(([, s]) => (s as TSchema)["type"] === "array")
          .map(([k]) => k),
      );
      scope.route({
        method: options.method,
        url: options.url,
        // One timer per request (registerAnswerDeadline), set before the body arrives: Fastify's handlerTimeout
        // would add an AbortController, a listener and an abort per request.
        config: {
          duoFailClosed: options.failClosed,
          requestDeadlineMs: (options.waitMs ?? 0) + requestTimeoutMs,
        },
        schema: {
          querystring: AnyQuery,
          ...(options.method === "POST" ? { body: RawBody } : {}),
          ...(options.pathParams ? { params: options.pathParams } : {}),
          response: { 200: Envelope(options.response), "4xx": Failure, "5xx": Failure },
        },
        handler: async (request, reply) => {
          // Signature checks read the database too: the deadline covers everything after the body arrived.
          const deadline = new AnswerDeadline(answerTimeoutMs);
          return deadline.race(answerCall(request, reply, deadline));
        },
      });

      async function answerCall(request: FastifyRequest, reply: FastifyReply, deadline: AnswerDeadline) {
        const format = duoFormatOf(request.url);
        const input = readParameters(request);
        let application: Application | undefined;
        let variant: SignatureVariant = "v2";
        if (options.integrations !== "unsigned") {
          const verified = await verifyRequest(runtime, request, input, options.integrations);
          application = verified.application;
          variant = verified.variant;
          if (options.replayProtected) {
            const admission = await runtime.services.admitSignedRequest({
              ikey: verified.credentials.ikey,
              signature: verified.credentials.signature,
              signedAt: verified.signedAt,
            });
            purge();
            if (admission === "duplicate")
              throw new DuoRefusal(
                "ERR_RATE_LIMITED",
                DUO_FAILURES.duplicate,
                "the same signed request within one second",
              );
            if (admission === "replay")
              throw new DuoRefusal("ERR_CONFLICT", DUO_FAILURES.replay, "signed request seen before");
          }
        }
        const params = toParameterObject(input.params, arrayParams);
        if (!checkParams().Check(params)) {
          const first = checkParams().Errors(params).First();
          const name = first?.path.replace(/^\//, "").split("/")[0] || "request";
          throw new DuoRefusal(
            "ERR_VALIDATION",
            invalidParameters(name === "request" ? (first?.message ?? "invalid") : name),
            first ? `${first.path}: ${first.message}` : undefined,
          );
        }
        const answer = await options.handler({
          application: application as Application,
          params: params as Static<S>,
          variant,
          format,
          request,
          reply,
          get signal() {
            return hangUpSignal(reply, deadline);
          },
          deadline,
        });
        if ("raw" in answer) return reply.code(200).type(answer.contentType).send(answer.raw);
        return sendDuoOK(reply, format, answer.response, answer.metadata);
      }
    });
  });
}

const HANG_UP = Symbol("hangUp");

/**
 * Aborted when the client hangs up or the deadline passes (the deadline's reason), as AbortSignal.any would do,
 * without the weak references AbortSignal.any keeps per request. Made when a handler first asks (a push wait):
 * a passcode or a read never pays for it. Made aborted when the client has already gone.
 */
function hangUpSignal(reply: FastifyReply, deadline: AnswerDeadline): AbortSignal {
  const held = reply as FastifyReply & { [HANG_UP]?: AbortController };
  let hangUp = held[HANG_UP];
  if (!hangUp) {
    const controller = new AbortController();
    hangUp = controller;
    held[HANG_UP] = controller;
    // A client already gone (it hung up while the handler worked, before it first asked) has sent its "close".
    if (reply.raw.destroyed && !reply.raw.writableFinished) controller.abort();
    else
      reply.raw.once("close", () => {
        if (!reply.raw.writableFinished) controller.abort();
      });
    const timedOut = deadline.signal;
    if (timedOut.aborted) controller.abort(timedOut.reason);
    else timedOut.addEventListener("abort", () => controller.abort(timedOut.reason), { once: true });
  }
  return hangUp.signal;
}

interface RawParameters {
  /** The signed parameters in wire order. */
  params: Array<[string, string]>;
  jsonBody: Uint8Array | null;
}

/**
 * The parameters as signed (duo-compat §1.5 step 1): the query for GET/DELETE, the form body for POST, or the
 * query for a JSON request, whose body fields join them. A POST form with a query too is ambiguous (K3).
 */
function readParameters(request: FastifyRequest): RawParameters {
  const rawURL = request.raw.url ?? "";
  const q = rawURL.indexOf("?");
  const query = q === -1 ? [] : parseURLEncoded(rawURL.slice(q + 1));
  const body = request.body;
  const bytes = body instanceof Uint8Array && body.length > 0 ? body : null;
  if (request.method === "GET" || request.method === "DELETE") {
    if (bytes) throw new DuoRefusal("ERR_VALIDATION", invalidParameters("a GET or DELETE has no body"));
    return { params: query, jsonBody: null };
  }
  const isJSON = (request.headers["content-type"] ?? "").toLowerCase().startsWith("application/json");
  if (isJSON) {
    if (!bytes) throw new DuoRefusal("ERR_VALIDATION", invalidParameters("empty JSON body"));
    return { params: query, jsonBody: bytes };
  }
  if (bytes && query.length > 0)
    throw new DuoRefusal("ERR_VALIDATION", invalidParameters("parameters in both the query and the body"));
  return { params: bytes ? parseURLEncoded(Buffer.from(bytes).toString("latin1")) : query, jsonBody: null };
}

/**
 * `application/x-www-form-urlencoded` into name/value pairs (§1.5 step 2): `+` is a space, then strict
 * percent-decoding as UTF-8. A bad escape or invalid UTF-8 is refused, never replaced.
 */
export function parseURLEncoded(text: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (text === "") return pairs;
  for (const part of text.split("&")) {
    if (part === "") continue;
    if (pairs.length >= MAX_PARAMS)
      throw new DuoRefusal("ERR_VALIDATION", invalidParameters("too many parameters"));
    const eq = part.indexOf("=");
    const name = decodeComponent(eq === -1 ? part : part.slice(0, eq));
    const value = decodeComponent(eq === -1 ? "" : part.slice(eq + 1));
    pairs.push([name, value]);
  }
  return pairs;
}

const PLAIN_COMPONENT = /^[^%+]*$/;

function decodeComponent(text: string): string {
  if (PLAIN_COMPONENT.test(text)) return text;
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    throw new DuoRefusal("ERR_VALIDATION", invalidParameters("malformed percent-encoding"));
  }
}

/**
 * One value per name unless the route declares the name as a list; names that could reach a prototype are
 * refused. The handler sees exactly the parameters that were signed (K3).
 */
function toParameterObject(pairs: ReadonlyArray<[string, string]>, arrays: ReadonlySet<string>): unknown {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of pairs) {
    if (FORBIDDEN_NAMES.has(name)) throw new DuoRefusal("ERR_VALIDATION", invalidParameters(name));
    if (arrays.has(name)) {
      const list = out[name];
      if (Array.isArray(list)) list.push(value);
      else out[name] = [value];
      continue;
    }
    if (name in out) throw new DuoRefusal("ERR_VALIDATION", invalidParameters(`${name} (repeated)`));
    out[name] = value;
  }
  return { ...out };
}

/** JSON bodies (v4/v5): an object of strings, numbers, booleans or (for list parameters) arrays of those. */
function jsonParameters(bytes: Uint8Array): Array<[string, string]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new DuoRefusal("ERR_VALIDATION", invalidParameters("the body is not valid JSON"));
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new DuoRefusal("ERR_VALIDATION", invalidParameters("the JSON body must be an object"));
  const pairs: Array<[string, string]> = [];
  const scalar = (name: string, v: unknown): string => {
    if (typeof v === "string") return v;
    if (typeof v === "boolean") return v ? "1" : "0";
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
    throw new DuoRefusal("ERR_VALIDATION", invalidParameters(name));
  };
  for (const [name, value] of Object.entries(parsed)) {
    if (pairs.length >= MAX_PARAMS)
      throw new DuoRefusal("ERR_VALIDATION", invalidParameters("too many parameters"));
    if (Array.isArray(value)) for (const v of value) pairs.push([name, scalar(name, v)]);
    else pairs.push([name, scalar(name, value)]);
  }
  return pairs;
}

async function verifyRequest(
  runtime: ServiceRuntime,
  request: FastifyRequest,
  input: RawParameters,
  integrations: readonly ApplicationType[],
): Promise<{
  application: Application;
  variant: SignatureVariant;
  signedAt: number | null;
  credentials: DuoCredentials;
}> {
  const parsed = parseDuoAuthorization(request.headers.authorization);
  if (!parsed.ok)
    throw new DuoRefusal("ERR_UNAUTHENTICATED", DUO_FAILURES.missingCredentials, parsed.problem);
  const { credentials } = parsed;
  const application = await runtime.services.getApplication(credentials.ikey);
  // A disabled application is refused like an unknown one; its logins already under way end at the gate (A4).
  if (!application || application.status === "disabled")
    throw new DuoRefusal(
      "ERR_UNAUTHENTICATED",
      DUO_FAILURES.unknownIntegration,
      application ? "disabled integration" : "unknown integration key",
    );
  const rawURL = request.raw.url ?? "";
  const path = rawURL.split("?", 1)[0]!;
  const hostHeader = (request.headers.host ?? "").toLowerCase();
  const date = headerValue(request, "x-duo-date") ?? headerValue(request, "date") ?? null;
  // Only `X-Duo-*` headers are signed (v5); Node gives header names in lower case.
  const headers: Array<[string, string]> = [];
  for (const name in request.headers) {
    const value = request.headers[name];
    if (name.startsWith("x-duo-") && typeof value === "string") headers.push([name, value]);
  }
  const check = verifyDuoSignature(
    {
      method: request.method,
      path,
      // The host the client connected to comes first: clients sign the host they send (the configured name
      // comes first only behind a proxy that rewrites Host). The order decides only how soon a match is found.
      hosts: [hostHeader, hostHeader.replace(/:\d+$/, ""), apiHost(runtime.config)],
      date,
      params: input.params,
      jsonBody: input.jsonBody,
      headers,
      // Only duo_unix up to 2.0.4 signs without a date, and only on these paths: an undated signature never
      // expires, so nowhere else is one accepted.
      allowUndated: path.startsWith("/rest/v1/"),
    },
    credentials,
    runtime.services.openApplicationSecret(application),
    runtime.clock.now(),
  );
  if (!check.ok) {
    const failure =
      check.problem === "bad_signature"
        ? DUO_FAILURES.badSignature
        : check.problem === "skewed_date"
          ? DUO_FAILURES.skewedDate
          : DUO_FAILURES.badDate;
    throw new DuoRefusal("ERR_UNAUTHENTICATED", failure, check.problem);
  }
  if (!integrations.includes(application.type))
    throw new DuoRefusal("ERR_FORBIDDEN", DUO_FAILURES.wrongType, `a ${application.type} integration`);
  if (check.variant === "L" && application.policy.refuseUndatedSignatures === true)
    throw new DuoRefusal("ERR_FORBIDDEN", DUO_FAILURES.undatedRefused, "an undated signature");
  // JSON body fields are parameters too, once the body's hash is known to be signed.
  if (input.jsonBody) {
    const fromBody = jsonParameters(input.jsonBody);
    const names = new Set(input.params.map(([k]) => k));
    for (const [k] of fromBody)
      if (names.has(k))
        throw new DuoRefusal("ERR_VALIDATION", invalidParameters(`${k} (in both the query and the body)`));
    input.params.push(...fromBody);
  }
  return { application, variant: check.variant, signedAt: check.signedAt, credentials };
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === "string" ? v : undefined;
}
