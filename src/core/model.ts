// The domain records Twofold keeps: users, applications, OTP credentials, bypass and rescue codes, logs.
import type { OTPAlgorithm } from "./otp/hotp.ts";

export type UserStatus = "active" | "bypass" | "disabled";

export interface User {
  id: string;
  /** The username as first given (for display). */
  username: string;
  /** Trimmed, NFKC, case-folded: the key every lookup uses (A3). */
  usernameCanonical: string;
  realName: string | null;
  email: string | null;
  phone: string | null;
  status: UserStatus;
  /** scrypt hash of a local password, for organisations without an upstream directory. */
  passwordHash: string | null;
  notes: string | null;
  /** The language notifications are written in (`en`, `zh-Hant`); absent or null = the organisation's. */
  language?: UserLanguage | null;
  createdAt: number;
  updatedAt: number;
}

export const USER_LANGUAGES = ["en", "zh-Hant"] as const;
export type UserLanguage = (typeof USER_LANGUAGES)[number];

export const APPLICATION_TYPES = ["auth-api", "admin-api", "web-sdk", "unix", "radius", "oidc"] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];

/**
 * The second-factor methods an application's policy can allow (docs/policy.md). A factor of the authentication log
 * belongs to one method (methodOfFactor); the completion gate denies a factor whose method the policy leaves out.
 * `passcode-app`: authenticator-app passcodes (an app enrolled with TOTP/HOTP, or the Twofold Authenticator's
 * offline codes); `token`: hardware tokens; `webauthn`: security keys and passkeys; `sms`: text-message passcodes.
 */
export const AUTH_METHODS = ["push", "passcode-app", "token", "bypass", "rescue", "webauthn", "sms"] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** What happens to a user with no second factor: deny, offer enrolment in the prompt, or let them through. */
export const NEW_USER_POLICIES = ["deny", "enroll", "allow"] as const;
export type NewUserPolicy = (typeof NEW_USER_POLICIES)[number];

/** The most days an application may let a browser skip the second factor (DESIGN.md §4: off … 90 days). */
export const MAX_REMEMBER_DAYS = 90;

export interface ApplicationPolicy {
  /**
   * The methods a user may pass the second factor with here. Bypass codes (service desk and self-service) and
   * rescue codes are methods like the others: leave them out for a high-assurance application.
   */
  methods: AuthMethod[];
  /** Days a browser the user chose to trust skips the second factor for this application; 0 = never (I5). */
  rememberDays: number;
  /**
   * A user with no second factor: deny (default), offer enrolment in the prompt, or allow in without one (logged
   * as `allow_unenrolled_user`, through the completion gate). Enrol and allow apply only to users who never had a
   * second factor (CISA AA22-074A); one whose factors were removed needs an administrator's reset first.
   */
  newUserPolicy: NewUserPolicy;
  /**
   * Whether pushes without number matching may be sent for this application (integrations with no screen to
   * show a code, e.g. a VPN over RADIUS). Off by default: verified push (D1).
   */
  allowPlainPush: boolean;
  /**
   * Whether requests signed without a date (duo_unix ≤ 2.0.4, Debian's and Ubuntu's 1.11.3) are refused. Such a
   * signature never expires, so a captured request can be sent again at any time. Absent = accepted: those
   * clients have no other way to sign.
   */
  refuseUndatedSignatures?: boolean;
  /**
   * Whether this integration may create users through Auth API enrolment (`/auth/v2/enroll`). Off by default,
   * like the new-user policy (G1): an integration that never enrols needs nothing, and one that does is given
   * it by an administrator. Absent in older rows = off.
   */
  allowEnrollment?: boolean;
}

export interface Application {
  /** The integration key (Duo `ikey` / OIDC `client_id`): 20 characters starting with `DI`. */
  id: string;
  name: string;
  type: ApplicationType;
  /** The secret key, sealed with the keyring (K4). */
  secretSealed: string;
  policy: ApplicationPolicy;
  /** A disabled application's logins are all denied, including those already under way (A4). */
  status: ApplicationStatus;
  createdAt: number;
  updatedAt: number;
  /**
   * Web SDK applications: the redirect URIs the prompt may send the browser back to, compared as exact strings
   * (J1). Absent or empty: the application cannot start a login through the prompt.
   */
  redirectURIs?: readonly string[];
}

export type ApplicationStatus = "active" | "disabled";

export type OTPKind = "app" | "token";
export type OTPType = "totp" | "hotp";
export type OTPStatus = "pending" | "active" | "disabled";

/** One OTP secret: an authenticator-app enrolment or a hardware token (assigned or in the inventory). */
export interface OTPCredential {
  id: string;
  kind: OTPKind;
  /** Hardware tokens: the serial printed on the token. */
  serial: string | null;
  userId: string | null;
  type: OTPType;
  algorithm: OTPAlgorithm;
  digits: number;
  /** TOTP step in seconds; null for HOTP. */
  period: number | null;
  secretSealed: string;
  /** HOTP: the next counter value expected. */
  counter: number;
  /** TOTP: the last step accepted (B1). */
  lastStep: number | null;
  /** TOTP: learned drift in steps (B2). */
  drift: number;
  status: OTPStatus;
  label: string | null;
  manufacturer: string | null;
  model: string | null;
  createdAt: number;
  activatedAt: number | null;
  /** Pending enrolments expire (B5). */
  pendingExpiresAt: number | null;
  assignedAt: number | null;
  /** A hardware token on loan: when it is due back (absent: no due date). */
  loanDueAt?: number | null;
}

export type BypassSource = "admin" | "service-desk" | "self-service" | "api";

export interface BypassCode {
  id: string;
  userId: string;
  /** Keyed hash of the code (C2); the code itself is shown once and never stored. */
  codeHash: string;
  /** Uses left; null means unlimited (only where policy allows it, C5). */
  usesLeft: number | null;
  maxUses: number | null;
  /** Expiry time (ms); null means never (only where policy allows it). */
  expiresAt: number | null;
  source: BypassSource;
  createdBy: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  /** Service desk: how the user's identity was checked (recorded, never secret). */
  idCheck: string | null;
}

export interface RescueCode {
  id: string;
  userId: string;
  setId: string;
  codeHash: string;
  createdAt: number;
  usedAt: number | null;
}

export type FactorClass = "otp" | "bypass" | "rescue" | "sms" | "push" | "webauthn";

export interface LockoutState {
  userId: string;
  factorClass: FactorClass;
  /** Consecutive failed attempts (incremented before verification, reset on success). */
  failures: number;
  lastFailureAt: number | null;
}

export interface AuditEvent {
  id: number;
  at: number;
  actor: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  before: unknown;
  after: unknown;
  sourceIp: string | null;
}

export type AuditInput = Omit<AuditEvent, "id" | "at" | "before" | "after" | "sourceIp"> & {
  before?: unknown;
  after?: unknown;
  sourceIp?: string | null;
};

export type AuthResult = "allow" | "deny";
/**
 * What completed (or failed) a login, as the authentication log records it. `remembered_device`: a browser the
 * user chose to trust skipped the second factor (I5); `none`: no factor (a user in bypass status, a new user an
 * application lets in, or a denial before any factor ran).
 */
export type AuthFactor =
  | "totp"
  | "hotp"
  | "token"
  | "bypass"
  | "rescue"
  | "sms"
  | "push"
  | "webauthn"
  | "remembered_device"
  | "none";

export interface AuthLogEntry {
  id: string;
  at: number;
  userId: string | null;
  /** The username as given (for unknown users), encoded against injection by the logger. */
  username: string;
  applicationId: string | null;
  factor: AuthFactor;
  result: AuthResult;
  /** Operator-facing reason: `valid_passcode`, `invalid_passcode`, `locked_out`, `unknown_user`, … */
  reason: string;
  ip: string | null;
  txid: string;
  node: string;
}

declare const completedByGate: unique symbol;

/**
 * An `allow` line of the authentication log. Only the completion gate (completion-gate.ts) makes one, after
 * re-reading user, application, locks and policy in the transaction that writes it (A4, G1); the store's
 * appendAuthLog takes denials or these, so no other code can record a login as allowed.
 */
export type GatedAllow = AuthLogEntry & { result: "allow"; readonly [completedByGate]: true };

/** What the store's authentication log accepts: any denial, and allows made by the completion gate. */
export type AuthLogWrite = (AuthLogEntry & { result: "deny" }) | GatedAllow;

export interface Notification {
  id: string;
  userId: string;
  kind: string;
  payload: unknown;
  createdAt: number;
  sentAt: number | null;
}

/** A phone or computer running the Twofold Authenticator, bound by a single-use activation. */
export interface Device {
  id: string;
  userId: string;
  name: string;
  /** The device's ECDSA P-256 public key (raw uncompressed point, base64url): answers are signed with it (D3). */
  publicKey: string;
  /** How to reach it (a Web Push subscription), sealed: it lets anyone send it pushes. */
  deliverySealed: string | null;
  status: "active" | "revoked";
  /** The offline passcode generator provisioned with the device (an authenticator-app TOTP credential). */
  otpCredentialId: string | null;
  createdAt: number;
  lastSeenAt: number | null;
}

/** A user an integration created through Auth API enrolment, with the activation handed out for them. */
export interface APIEnrollment {
  userId: string;
  applicationId: string;
  activationId: string;
  createdAt: number;
  expiresAt: number;
}

export interface DeviceActivation {
  id: string;
  userId: string;
  /** Keyed hash of the activation secret (the link is `id.secret`, shown once as a QR code). */
  secretHash: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  /** Set when an administrator asked for the activation for a registered phone (Admin API). */
  phoneId?: string | null;
}

export const PHONE_TYPES = ["unknown", "mobile", "landline"] as const;

/**
 * A phone an administrator registered (Admin API, duo-compat §5.3): a number and description attached to one
 * user. Its activation link enrols the Twofold Authenticator on it; `deviceId` is that device once activated.
 */
export interface Phone {
  id: string;
  userId: string | null;
  /** E.164, e.g. `+15555550100`; null when the phone has no number (a tablet). */
  number: string | null;
  extension: string | null;
  name: string | null;
  type: (typeof PHONE_TYPES)[number];
  platform: string;
  deviceId: string | null;
  createdAt: number;
  /**
   * When the number was proven by a code sent to it (E2): only then does it receive passcodes. Cleared when the
   * number changes (a new number is a new authenticator). Absent = never verified.
   */
  smsVerifiedAt?: number | null;
}

/** A text-message code: a login passcode (E1) or the code that verifies a phone number at enrolment (E2). */
export type SMSCodePurpose = "login" | "verify";

/** One code sent by text message. Only its keyed hash is kept; it is used once, or killed by the next one. */
export interface SMSCode {
  id: string;
  userId: string;
  phoneId: string;
  purpose: SMSCodePurpose;
  /** The application whose login asked for it: the code completes only that application's logins. */
  applicationId: string | null;
  /**
   * The prompt login it was sent for: it completes that login only (E1). Null when sent through the Auth API, where
   * the code is typed into a later, separate request of the same application.
   */
  loginSessionId: string | null;
  codeHash: string;
  /** The abuse guard's reservation for this send (conversion and refunds are reported against it). */
  reservationId: string | null;
  /** The outbox message that carries it. */
  messageId: string | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  revokedAt: number | null;
}

export type OutboxChannel = "sms" | "email";

/**
 * - `pending`: waiting for its (next) attempt; `sending`: a node holds it and is handing it to a gateway;
 * - `sent`: a gateway accepted it; `delivered` / `undelivered`: the gateway's delivery receipt said so;
 * - `failed`: every attempt failed; `expired`: it was no longer worth sending (a passcode past its life);
 * - `unknown`: the node sending it stopped mid-send, so whether the gateway got it cannot be known; it is not
 *   sent again (sent once at most, never twice).
 */
export type OutboxStatus =
  | "pending"
  | "sending"
  | "sent"
  | "delivered"
  | "undelivered"
  | "failed"
  | "expired"
  | "unknown";

/** A message committed before it is sent (DESIGN §2 "Messages out"): destination and body are sealed at rest. */
export interface OutboxMessage {
  id: string;
  channel: OutboxChannel;
  userId: string | null;
  /** What it is (`sms-passcode`, `sms-verify`, `email:<kind>`): for operators; never the content. */
  kind: string;
  destinationSealed: string;
  bodySealed: string;
  reservationId: string | null;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  /** Not sent after this (a passcode that expired is not sent late); null = until attempts run out. */
  sendBy: number | null;
  gateway: string | null;
  gatewayMessageId: string | null;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
  /** When the delivery receipt came (delivered or not). */
  receiptAt: number | null;
}

/** `cancelled`: the login that asked stopped waiting (the user chose another way, or gave up). */
export type PushStatus = "pending" | "approved" | "denied" | "fraud" | "expired" | "cancelled";

/** What the app shows about a login it is asked to approve (D6). Shown as text, never as markup. */
export interface PushContext {
  application: string;
  time: number;
  ip: string | null;
  place: string | null;
  /** Text the application supplied (Duo `pushinfo`), length-limited. */
  info: string | null;
  /** Verified push: how many digits the login screen shows (absent on plain approve). */
  codeDigits?: number;
}

export interface PushTransaction {
  id: string;
  userId: string;
  applicationId: string | null;
  status: PushStatus;
  /** Verified push: keyed hash of the code shown on the login screen; null for plain approve (D1). */
  codeHash: string | null;
  /** The same code sealed, for showing it again to the login that asked (Auth API status); never compared. */
  codeSealed?: string | null;
  context: PushContext;
  createdAt: number;
  expiresAt: number;
  answeredAt: number | null;
  /** The device that answered. */
  deviceId: string | null;
}

/**
 * A WebAuthn public-key credential: Windows Hello, Touch ID, a security key or a passkey (on this device or on a
 * phone reached over the hybrid transport). One type serves as a second factor and, being discoverable where the
 * authenticator allows, as a passwordless credential later (its user handle names the user, F6).
 */
export interface WebAuthnCredential {
  /** Twofold's id for the credential (`WK…`): what lists, renames and removals name. */
  id: string;
  userId: string;
  /** The credential ID the authenticator chose (base64url, ≤ 1023 bytes, unique across all users, F5). */
  credentialId: string;
  /** The COSE public key (base64url). Public: nothing to seal. */
  publicKey: string;
  /** The WebAuthn user handle given at registration (base64url of 16 random bytes; no personal data). */
  userHandle: string;
  /** The last signature counter accepted (F4); 0 for authenticators that keep none. */
  signCount: number;
  /** Transports exactly as the browser reported them (`internal`, `hybrid`, `usb`, …), for allowCredentials. */
  transports: string[];
  /** The authenticator model (all zeros when attestation is `none` and the browser hid it). */
  aaguid: string;
  attestationFormat: string;
  /** BE: the credential may be synced (a passkey); it must never change (F3). */
  backupEligible: boolean;
  /** BS: the credential is synced now (may change). */
  backupState: boolean;
  deviceType: "singleDevice" | "multiDevice";
  /** Whether the browser said the credential is discoverable (credProps.rk); null when it did not say. */
  discoverable: boolean | null;
  name: string;
  /** `suspect` after a signature-counter regression (possible clone, F4): refused until removed. */
  status: "active" | "suspect";
  createdAt: number;
  lastUsedAt: number | null;
}

export type WebAuthnCeremonyKind = "registration" | "authentication";

/**
 * One WebAuthn ceremony under way: its challenge, bound to a kind, a user (none for a passwordless login) and the
 * caller's context (a login or account session), used once and expiring with the ceremony timeout (F1).
 */
export interface WebAuthnCeremony {
  id: string;
  kind: WebAuthnCeremonyKind;
  userId: string | null;
  /** SHA-256 (hex) of the caller's context string: the same context must finish the ceremony. */
  contextHash: string;
  /** The challenge sent to the browser (base64url of 32 random bytes). */
  challenge: string;
  userVerification: "required" | "preferred";
  /** Registration: the user handle the new credential is created under. */
  userHandle: string | null;
  /** Where the ceremony was asked for (client address), for the per-source cap. */
  source: string | null;
  createdAt: number;
  expiresAt: number;
}

/**
 * Where a prompt login is: `pending` until a factor completes it (through the completion gate), `allowed` once it
 * has, `code_issued` when the browser was sent back with an authorization code, `redeemed` after the code was
 * exchanged; `denied` / `abandoned` end it without a code (the application gets an OAuth error).
 */
export type LoginSessionStatus = "pending" | "allowed" | "code_issued" | "redeemed" | "denied" | "abandoned";

/** One browser login through the prompt: created by the OIDC authorize request, bound to app, user and redirect. */
export interface LoginSession {
  id: string;
  /** Hash of the handle in the prompt's URL (128 random bits; the handle itself is never stored). */
  handleHash: string;
  applicationId: string;
  /** Null when the application named no user we know (the prompt says so; no code is ever issued). */
  userId: string | null;
  /** The username as the application sent it (`duo_uname`): the id_token's `preferred_username`. */
  username: string;
  redirectURI: string;
  state: string;
  nonce: string | null;
  /** `duo_code=` (true, Duo's default) or `code=` in the redirect. */
  useDuoCode: boolean;
  status: LoginSessionStatus;
  /** The push this login is waiting on, if any. */
  pushTxid: string | null;
  /** How the login was completed (set with `allowed`). */
  factor: AuthFactor | null;
  authTxid: string | null;
  authAt: number | null;
  codeHash: string | null;
  codeExpiresAt: number | null;
  /** The browser's address when the login started. */
  ip: string | null;
  createdAt: number;
  /** Idle expiry: moved forward on use, never past maxExpiresAt. */
  expiresAt: number;
  maxExpiresAt: number;
}

/** Why a trusted browser stopped skipping the second factor (I5). */
export type TrustRevocationReason =
  | "user"
  | "admin"
  | "fraud_reported"
  | "factor_added"
  | "factor_removed"
  | "phone_changed"
  | "user_disabled"
  | "replaced";

/**
 * A browser the user chose to trust for one application ("Yes, trust this browser", I5): the cookie holds
 * `id.secret`, the store a keyed hash of the secret. It skips the second factor until it expires or is revoked,
 * and only while the application's policy still remembers browsers that long.
 */
export interface TrustedBrowser {
  id: string;
  userId: string;
  applicationId: string;
  secretHash: string;
  /** The login that earned the trust (one browser per login). */
  txid: string;
  /** A short summary of the browser's User-Agent ("Chrome on Windows"), for the user's list. */
  userAgent: string | null;
  ip: string | null;
  createdAt: number;
  /** Set from the application's days when trusted; the policy in force at use may end it sooner. */
  expiresAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  revokedReason: TrustRevocationReason | null;
}
