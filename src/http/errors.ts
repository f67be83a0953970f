// The one error-code → HTTP status table, and the error and not-found handlers that never send detail or stacks.
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  type ErrorCode,
  type ErrorIssue,
  genericMessage,
  isTwofoldError,
  TwofoldError,
} from "../core/errors.ts";
import {
  DUO_FAILURES,
  duoFailureFrom,
  duoFormatOf,
  isDuoPath,
  sendDuoFailure,
  sendDuoOK,
} from "./duo/envelope.ts";
import type { ErrorReply } from "./error-reply.ts";
import { isOAuthJSONPath, sendOAuthError } from "./oidc/oauth-errors.ts";

export type { ErrorBody, ErrorReply } from "./error-reply.ts";

/** Every code has a status; adding a code to ERROR_CODES without a row here fails the typecheck. */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  ERR_CONFIG_INVALID: 500,
  ERR_VALIDATION: 400,
  ERR_NOT_FOUND: 404,
  ERR_CONFLICT: 409,
  ERR_POLICY: 422,
  ERR_FORBIDDEN: 403,
  ERR_UNAUTHENTICATED: 401,
  ERR_RATE_LIMITED: 429,
  ERR_USERNAME_INVALID: 400,
  ERR_USER_AMBIGUOUS: 409,
  ERR_USER_EXISTS: 409,
  ERR_USER_NOT_FOUND: 404,
  ERR_APPLICATION_NOT_FOUND: 404,
  ERR_POLICY_CONFIGURED: 409,
  ERR_TRUSTED_BROWSER_NOT_FOUND: 404,
  ERR_ENROLLMENT_NOT_FOUND: 404,
  ERR_ENROLLMENT_EXPIRED: 410,
  ERR_TOTP_INVALID: 400,
  ERR_TOTP_REPLAYED: 400,
  ERR_OTP_SECRET_TOO_SHORT: 400,
  ERR_TOKEN_NOT_FOUND: 404,
  ERR_TOKEN_EXISTS: 409,
  ERR_TOKEN_ASSIGNED: 409,
  ERR_TOKEN_RESYNC_FAILED: 400,
  ERR_IMPORT_INVALID: 400,
  ERR_IMPORT_DECRYPT: 400,
  ERR_BYPASS_POLICY: 422,
  ERR_BYPASS_NOT_FOUND: 404,
  ERR_ACTIVATION_INVALID: 400,
  ERR_DEVICE_NOT_FOUND: 404,
  ERR_PUSH_NOT_FOUND: 404,
  ERR_PUSH_EXPIRED: 410,
  ERR_PUSH_ANSWER_INVALID: 400,
  ERR_PUSH_ALREADY_ANSWERED: 409,
  ERR_PHONE_INVALID: 400,
  ERR_PHONE_PREMIUM_RATE: 400,
  ERR_PHONE_SHARED_COST: 400,
  ERR_PHONE_NOT_MOBILE: 400,
  ERR_PHONE_NOT_VERIFIED: 409,
  ERR_SMS_NOT_ALLOWED: 403,
  ERR_SMS_CODE_INVALID: 400,
  ERR_LOGIN_SESSION_ENDED: 410,
  ERR_KEYRING: 500,
  ERR_DECRYPT: 500,
  ERR_STORE: 500,
  ERR_STORE_UNAVAILABLE: 503,
  // Raised by the command-line authenticator when it cannot reach a Twofold server; never by the server.
  ERR_SERVER_UNREACHABLE: 502,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_REQUEST_TIMEOUT: 408,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_INTERNAL: 500,
};

/** Fastify's own errors, by their code. Anything else Fastify raises with a 4xx status is a bad request. */
const FASTIFY_ERRORS: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "ERR_PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "ERR_UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "ERR_VALIDATION",
  FST_ERR_CTP_EMPTY_JSON_BODY: "ERR_VALIDATION",
  // Also raised for "__proto__" / "constructor.prototype" keys (onProtoPoisoning: "error").
  FST_ERR_CTP_INVALID_JSON_BODY: "ERR_VALIDATION",
  FST_ERR_VALIDATION: "ERR_VALIDATION",
  FST_ERR_BAD_URL: "ERR_VALIDATION",
  FST_ERR_MAX_PARAM_LENGTH: "ERR_ROUTE_NOT_FOUND",
  FST_ERR_NOT_FOUND: "ERR_ROUTE_NOT_FOUND",
  // The handler did not answer within server.answerTimeoutSeconds (almost always a slow database).
  FST_ERR_HANDLER_TIMEOUT: "ERR_STORE_UNAVAILABLE",
};

const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  401: "ERR_UNAUTHENTICATED",
  403: "ERR_FORBIDDEN",
  404: "ERR_ROUTE_NOT_FOUND",
  405: "ERR_METHOD_NOT_ALLOWED",
  413: "ERR_PAYLOAD_TOO_LARGE",
  415: "ERR_UNSUPPORTED_MEDIA_TYPE",
  429: "ERR_RATE_LIMITED",
};

/** Turn anything thrown into what the client is told. Only 4xx answers carry specifics; 5xx are generic. */
export function describeError(error: unknown): ErrorReply {
  if (isTwofoldError(error)) {
    const status = ERROR_STATUS[error.code];
    if (status >= 500)
      return serverError(status === 503 ? "ERR_STORE_UNAVAILABLE" : "ERR_INTERNAL", error.code);
    const issues =
      error.issues.length > 0 ? error.issues.map((i) => ({ path: i.path, message: i.message })) : [];
    return clientError(error.code, error.publicMessage, issues);
  }
  const e = error as { code?: unknown; statusCode?: unknown; validation?: unknown } | null;
  const fastifyCode = typeof e?.code === "string" ? FASTIFY_ERRORS[e.code] : undefined;
  if (fastifyCode) {
    const status = ERROR_STATUS[fastifyCode];
    if (status >= 500) return serverError(fastifyCode, String(e?.code));
    return clientError(fastifyCode, genericMessage(fastifyCode)!, validationIssues(e?.validation));
  }
  // A body parser's SyntaxError, or any other error that says it is the client's (4xx): never a 5xx.
  const statusCode = typeof e?.statusCode === "number" ? e.statusCode : 0;
  if (error instanceof SyntaxError || (statusCode >= 400 && statusCode < 500)) {
    const code = STATUS_CODES[statusCode] ?? "ERR_VALIDATION";
    return clientError(code, genericMessage(code)!, []);
  }
  return serverError("ERR_INTERNAL", typeof e?.code === "string" ? e.code : "unknown");
}

function clientError(code: ErrorCode, message: string, issues: ErrorIssue[]): ErrorReply {
  return {
    status: ERROR_STATUS[code],
    body: { error: { code, message, ...(issues.length > 0 ? { issues } : {}) } },
    logCode: code,
    internal: false,
  };
}

function serverError(code: ErrorCode, logCode: string): ErrorReply {
  return {
    status: ERROR_STATUS[code],
    body: { error: { code, message: genericMessage(code)! } },
    logCode,
    internal: true,
  };
}

/** Ajv-style validation results (should a route bring its own compiler), as path + message. */
function validationIssues(validation: unknown): ErrorIssue[] {
  if (!Array.isArray(validation)) return [];
  return validation.slice(0, 20).map((v: { instancePath?: string; message?: string }) => ({
    path: (v.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".") || "(root)",
    message: v.message ?? "is not valid",
  }));
}

/** The error code sent for each answered request, for the access log line. */
const sentCodes = new WeakMap<FastifyRequest, string>();

export function sentErrorCode(request: FastifyRequest): string | undefined {
  return sentCodes.get(request);
}

export function sendError(thrown: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let error = thrown;
  const handlerTimeout = (thrown as { code?: unknown } | null)?.code === "FST_ERR_HANDLER_TIMEOUT";
  if (handlerTimeout && request.raw.complete === false) {
    // The body was still arriving: the client was slow, not this server (H-1: slow bodies are 408, not 503).
    error = new TwofoldError("ERR_REQUEST_TIMEOUT", "the request body did not arrive in time");
    reply.header("connection", "close");
  }
  const described = describeError(error);
  sentCodes.set(request, described.logCode);
  if (handlerTimeout && described.internal) findTimeoutWarnings(request.server)?.count(request);
  else if (described.internal)
    request.log.error({ err: error, errorCode: described.logCode }, "request failed");
  else if (isTwofoldError(error) && error.detail)
    request.log.debug({ errorCode: error.code, detail: error.detail }, "request refused");
  if (isDuoPath(request.url)) return sendDuoError(error, described, request, reply);
  if (isOAuthJSONPath(request.url)) return sendOAuthError(request, reply, described, Date.now());
  return reply.code(described.status).type("application/json; charset=utf-8").send(described.body);
}

/**
 * Duo paths answer in Duo's envelope. Where a route marks itself fail-closed (login decisions), an internal
 * error becomes that route's deny answer: duo_unix would let the user in on a 5xx (duo-compat §2.3, N2).
 */
function sendDuoError(
  error: unknown,
  described: ErrorReply,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const format = duoFormatOf(request.url);
  const config = request.routeOptions.config as { duoFailClosed?: (() => unknown) | undefined } | undefined;
  if (described.status >= 500 && config?.duoFailClosed)
    return sendDuoOK(reply, format, config.duoFailClosed());
  return sendDuoFailure(reply, format, duoFailureFrom(error, described));
}

/**
 * Handlers that overrun server.requestTimeoutSeconds (almost always a slow database) are each answered, but logged
 * as one warning per interval with a count: a stalled database must not turn into one error line per request.
 */
class TimeoutWarnings {
  #pending = 0;
  #routes = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: FastifyBaseLogger,
    private readonly intervalMs: number,
  ) {}

  count(request: FastifyRequest): void {
    if (this.#timer === undefined) {
      this.#warn(1, [request.routeOptions.url ?? "(unmatched)"]);
      this.#timer = setInterval(() => this.#flush(), this.intervalMs).unref();
      return;
    }
    this.#pending++;
    if (this.#routes.size < 10) this.#routes.add(request.routeOptions.url ?? "(unmatched)");
  }

  #flush(): void {
    if (this.#pending === 0) {
      this.stop();
      return;
    }
    this.#warn(this.#pending, [...this.#routes]);
    this.#pending = 0;
    this.#routes.clear();
  }

  #warn(requests: number, routes: string[]): void {
    this.log.warn(
      { errorCode: "FST_ERR_HANDLER_TIMEOUT", requests, routes, intervalSeconds: this.intervalMs / 1000 },
      "requests ran past the handler timeout and were answered 503 (is the database slow?)",
    );
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

const timeoutWarnings = new WeakMap<object, TimeoutWarnings>();

/** Plugins' instances inherit from the root instance by prototype, so the root's entry is found from any of them. */
function findTimeoutWarnings(instance: object | null): TimeoutWarnings | undefined {
  for (let i = instance; i !== null; i = Object.getPrototypeOf(i) as object | null) {
    const found = timeoutWarnings.get(i);
    if (found) return found;
  }
  return undefined;
}

/** At most one handler-timeout warning per this interval. */
export const TIMEOUT_WARNING_INTERVAL_MS = 60_000;

export function registerErrorHandling(app: FastifyInstance): void {
  const warnings = new TimeoutWarnings(app.log, TIMEOUT_WARNING_INTERVAL_MS);
  timeoutWarnings.set(app, warnings);
  app.addHook("onClose", async () => warnings.stop());
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    sentCodes.set(request, "ERR_ROUTE_NOT_FOUND");
    if (isDuoPath(request.url)) return sendDuoFailure(reply, duoFormatOf(request.url), DUO_FAILURES.notFound);
    return reply
      .code(404)
      .type("application/json; charset=utf-8")
      .send({ error: { code: "ERR_ROUTE_NOT_FOUND", message: genericMessage("ERR_ROUTE_NOT_FOUND") } });
  });
}
