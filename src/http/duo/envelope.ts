// Duo's answer envelope (duo-compat §2.1): `{stat:"OK",response}` or `{stat:"FAIL",code,message}`, as JSON or BSON, for every answer on the Duo paths.
import type { FastifyReply } from "fastify";
import { type ErrorCode, TwofoldError } from "../../core/errors.ts";
import { type ErrorReply, issueSummary } from "../error-reply.ts";
import { type BSONDocument, type BSONValue, encodeBSON } from "./bson.ts";

/** Paths that speak Duo's protocols: every answer there, errors and 404s included, is a Duo envelope. */
const DUO_PREFIXES = ["/auth/v2/", "/rest/v1/", "/admin/v1/", "/admin/v2/"];

export function isDuoPath(url: string): boolean {
  return DUO_PREFIXES.some((p) => url.startsWith(p));
}

export type DuoFormat = "json" | "bson";

/** The legacy REST v1 paths ending in `.bson` answer in BSON (duo_unix 1.x), everything else in JSON. */
export function duoFormatOf(url: string): DuoFormat {
  const path = url.split("?", 1)[0]!;
  return path.startsWith("/rest/v1/") && path.endsWith(".bson") ? "bson" : "json";
}

export interface DuoFailure {
  status: number;
  /** The HTTP status followed by two digits (§2.1). */
  code: number;
  message: string;
  /** `message_detail`: which parameter or why, safe to show. */
  detail?: string;
  /** Sent as `Retry-After` (seconds): duo_unix ≥ 2.1 waits that long, then signs the request again. */
  retryAfterSeconds?: number;
}

/** A refusal with Duo's exact code and message (§1.7, §2.1); its ErrorCode is what logs and metrics see. */
export class DuoRefusal extends TwofoldError {
  readonly failure: DuoFailure;

  constructor(errorCode: ErrorCode, failure: DuoFailure, logDetail?: string) {
    super(errorCode, failure.message, logDetail === undefined ? {} : { detail: logDetail });
    this.failure = failure;
  }
}

export const DUO_FAILURES = {
  missingCredentials: { status: 401, code: 40101, message: "Missing request credentials" },
  unknownIntegration: {
    status: 401,
    code: 40102,
    message: "Invalid integration key in request credentials",
  },
  badSignature: { status: 401, code: 40103, message: "Invalid signature in request credentials" },
  badDate: { status: 401, code: 40104, message: "Missing or invalid date in request credentials" },
  skewedDate: {
    status: 401,
    code: 40105,
    message: "Request date outside the allowed window",
    detail: "The request's date must be within 5 minutes of the server's time.",
  },
  wrongType: {
    status: 403,
    code: 40301,
    message: "Access forbidden",
    detail: "Wrong integration type for this API.",
  },
  replay: {
    status: 409,
    code: 40901,
    message: "Duplicate request",
    detail: "This signed request was already received; sign each request anew.",
  },
  // The same signed bytes twice within one second (dates have one-second resolution): a client making the same
  // call twice, e.g. two parallel logins. duo_unix ≥ 2.1 honours Retry-After and signs again with a later date;
  // the SDKs resend the same bytes after their back-off, and that copy gets the 409 above.
  duplicate: {
    status: 429,
    code: 42901,
    message: "Too many requests",
    detail: "An identical request arrived within the same second; send it again with a new date.",
    retryAfterSeconds: 1,
  },
  // Not a 401: duo_unix lets the user in on a 401 under failmode=safe (duo-compat §1.7); a 403 is a deny.
  undatedRefused: {
    status: 403,
    code: 40301,
    message: "Access forbidden",
    detail: "This integration refuses requests signed without a date; use a client that sends X-Duo-Date.",
  },
  notFound: { status: 404, code: 40401, message: "Resource not found" },
} as const satisfies Record<string, DuoFailure>;

/**
 * Duo's rate-limit answer (§2.1, §2.2): HTTP 429 with code 42901. Node duo_api and duo_client_python retry it
 * after 1, 2, 4 … 32 s; duo_unix ≥ 2.1 honours Retry-After; duo_unix 1.x treats it as an abort, which denies.
 */
export function rateLimited(retryAfterSeconds: number): DuoFailure {
  return { status: 429, code: 42901, message: "Too Many Requests", retryAfterSeconds };
}

export function invalidParameters(detail: string): DuoFailure {
  return { status: 400, code: 40002, message: "Invalid request parameters", detail };
}

/** What a thrown error becomes on a Duo path. Our own refusals carry their failure; the rest map by status. */
export function duoFailureFrom(error: unknown, described: ErrorReply): DuoFailure {
  if (error instanceof DuoRefusal) return error.failure;
  const status = described.status;
  if (status === 400) return invalidParameters(issueSummary(described));
  if (status === 401) return DUO_FAILURES.missingCredentials;
  if (status === 404) return DUO_FAILURES.notFound;
  return { status, code: status * 100 + 1, message: described.body.error.message };
}

export interface DuoMetadata {
  total_objects?: number;
  next_offset?: number | string[] | null;
  prev_offset?: number | null;
}

export function sendDuoOK(
  reply: FastifyReply,
  format: DuoFormat,
  response: unknown,
  metadata?: DuoMetadata,
): FastifyReply {
  const body = { stat: "OK", response, ...(metadata ? { metadata } : {}) };
  return sendDuoBody(reply.code(200), format, body);
}

export function sendDuoFailure(reply: FastifyReply, format: DuoFormat, failure: DuoFailure): FastifyReply {
  const body = {
    stat: "FAIL",
    code: failure.code,
    message: failure.message,
    ...(failure.detail ? { message_detail: failure.detail } : {}),
  };
  if (failure.retryAfterSeconds !== undefined) reply.header("retry-after", String(failure.retryAfterSeconds));
  return sendDuoBody(reply.code(failure.status), format, body);
}

function sendDuoBody(reply: FastifyReply, format: DuoFormat, body: Record<string, unknown>): FastifyReply {
  if (format === "bson")
    return reply.type("application/bson").send(encodeBSON(withoutUndefined(body) as BSONDocument));
  // Serialised here, not by a response schema, so no field is ever dropped or coerced on the way out.
  return reply.type("application/json").send(JSON.stringify(body));
}

function withoutUndefined(value: unknown): BSONValue {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (value !== null && typeof value === "object") {
    const out: Record<string, BSONValue> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v);
    return out;
  }
  return value as BSONValue;
}
