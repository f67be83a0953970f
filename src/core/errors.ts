// The one error type of Twofold: a stable machine-readable code, a cause, and a private detail for operators.

/** Every error code Twofold can raise. docs/errors.md lists each one; a test keeps the two in step. */
export const ERROR_CODES = [
  "ERR_CONFIG_INVALID",
  "ERR_VALIDATION",
  "ERR_NOT_FOUND",
  "ERR_CONFLICT",
  "ERR_POLICY",
  "ERR_FORBIDDEN",
  "ERR_UNAUTHENTICATED",
  "ERR_RATE_LIMITED",
  "ERR_USERNAME_INVALID",
  "ERR_USER_AMBIGUOUS",
  "ERR_USER_EXISTS",
  "ERR_USER_NOT_FOUND",
  "ERR_APPLICATION_NOT_FOUND",
  "ERR_POLICY_CONFIGURED",
  "ERR_TRUSTED_BROWSER_NOT_FOUND",
  "ERR_ENROLLMENT_NOT_FOUND",
  "ERR_ENROLLMENT_EXPIRED",
  "ERR_TOTP_INVALID",
  "ERR_TOTP_REPLAYED",
  "ERR_OTP_SECRET_TOO_SHORT",
  "ERR_TOKEN_NOT_FOUND",
  "ERR_TOKEN_EXISTS",
  "ERR_TOKEN_ASSIGNED",
  "ERR_TOKEN_RESYNC_FAILED",
  "ERR_IMPORT_INVALID",
  "ERR_IMPORT_DECRYPT",
  "ERR_BYPASS_POLICY",
  "ERR_BYPASS_NOT_FOUND",
  "ERR_ACTIVATION_INVALID",
  "ERR_DEVICE_NOT_FOUND",
  "ERR_PUSH_NOT_FOUND",
  "ERR_PUSH_EXPIRED",
  "ERR_PUSH_ANSWER_INVALID",
  "ERR_PUSH_ALREADY_ANSWERED",
  "ERR_PHONE_INVALID",
  "ERR_PHONE_PREMIUM_RATE",
  "ERR_PHONE_SHARED_COST",
  "ERR_PHONE_NOT_MOBILE",
  "ERR_PHONE_NOT_VERIFIED",
  "ERR_SMS_NOT_ALLOWED",
  "ERR_SMS_CODE_INVALID",
  "ERR_LOGIN_SESSION_ENDED",
  "ERR_KEYRING",
  "ERR_DECRYPT",
  "ERR_STORE",
  "ERR_STORE_UNAVAILABLE",
  "ERR_SERVER_UNREACHABLE",
  "ERR_PAYLOAD_TOO_LARGE",
  "ERR_UNSUPPORTED_MEDIA_TYPE",
  "ERR_REQUEST_TIMEOUT",
  "ERR_ROUTE_NOT_FOUND",
  "ERR_METHOD_NOT_ALLOWED",
  "ERR_INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface TwofoldErrorOptions {
  /** Private text for operators (logs, audit). Never sent to a client. */
  detail?: string;
  cause?: unknown;
  /** Machine-readable facts safe to show a client (e.g. the config paths at fault). */
  issues?: readonly ErrorIssue[];
}

export interface ErrorIssue {
  path: string;
  message: string;
}

/** Public messages: what a client or user is told for each code. Deliberately generic. */
const PUBLIC_MESSAGES: Partial<Record<ErrorCode, string>> = {
  ERR_VALIDATION: "The request is not valid.",
  ERR_UNAUTHENTICATED: "Authentication required.",
  ERR_FORBIDDEN: "Forbidden.",
  ERR_NOT_FOUND: "Not found.",
  ERR_ROUTE_NOT_FOUND: "Not found.",
  ERR_METHOD_NOT_ALLOWED: "Method not allowed.",
  ERR_PAYLOAD_TOO_LARGE: "The request body is too large.",
  ERR_UNSUPPORTED_MEDIA_TYPE: "Unsupported content type.",
  ERR_REQUEST_TIMEOUT: "The request took too long to arrive.",
  ERR_RATE_LIMITED: "Too many requests. Try again later.",
  ERR_STORE_UNAVAILABLE: "The service is temporarily unavailable.",
  ERR_INTERNAL: "Internal error.",
};

/** The generic text shown outside for a code, when it has one. */
export function genericMessage(code: ErrorCode): string | undefined {
  return PUBLIC_MESSAGES[code];
}

export class TwofoldError extends Error {
  override readonly name = "TwofoldError";
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly issues: readonly ErrorIssue[];

  constructor(code: ErrorCode, message: string, options: TwofoldErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = options.detail;
    this.issues = options.issues ?? [];
  }

  /** The message safe to show outside: the generic text for the code, or the constructor message. */
  get publicMessage(): string {
    return PUBLIC_MESSAGES[this.code] ?? this.message;
  }
}

export function isTwofoldError(value: unknown): value is TwofoldError {
  return value instanceof TwofoldError;
}
