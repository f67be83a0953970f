// Ports: what the core needs from the outside world (storage, time), implemented by adapters.

import type {
  APIEnrollment,
  Application,
  AuditEvent,
  AuditInput,
  AuthLogEntry,
  AuthLogWrite,
  BypassCode,
  Device,
  DeviceActivation,
  FactorClass,
  GatedAllow,
  LockoutState,
  LoginSession,
  LoginSessionStatus,
  Notification,
  OTPCredential,
  OTPKind,
  OTPStatus,
  OutboxMessage,
  OutboxStatus,
  Phone,
  PushStatus,
  PushTransaction,
  RescueCode,
  SMSCode,
  SMSCodePurpose,
  TrustedBrowser,
  TrustRevocationReason,
  User,
  UserStatus,
  WebAuthnCeremony,
  WebAuthnCredential,
} from "./model.ts";
import type { SmsGuardStore } from "./sms-guard-store.ts";
import type { ThrottleCount } from "./throttle.ts";

/** What the completion gate re-reads inside the login's transaction (Store.readCompletionState). */
export interface CompletionState {
  /** Undefined: the user was deleted. */
  user: { status: UserStatus } | undefined;
  /** The factor class's lockout state (null when no class was asked for); a missing row is a clear state. */
  lockout: LockoutState | null;
  /** Null when no application was asked for; undefined: it was deleted. */
  application: Application | null | undefined;
}

/**
 * An OTP allow decided on a state read earlier or cached (Store.commitOTPAllow): the credential's one-time write
 * and the gate's allow line, applied only if everything the decision rested on is still so.
 */
export interface OTPAllowWrite {
  userId: string;
  /** The user was found by this canonical name (from a cache): it must still be theirs, uncontested. */
  canonicalName: string | null;
  /** The factor class whose failure counter must still be clear (nothing to reset). */
  factorClass: FactorClass;
  /** The application the gate checked: it must be active and unchanged since (same updated_at and policy). */
  application: Pick<Application, "id" | "updatedAt" | "policy"> | null;
  /** The credential as the code was matched against it: it must be unchanged (status, secret, counter, step, drift). */
  credential: Pick<OTPCredential, "id" | "secretSealed" | "counter" | "lastStep" | "drift">;
  /** What the credential becomes: the next counter (HOTP), or the step used and the drift learned (TOTP). */
  next: { counter: number; lastStep: number | null; drift: number };
  line: GatedAllow;
  /**
   * A prompt login this allow completes: moved to `allowed` in the same transaction (Store.allowLoginSession). If it
   * has ended, nothing is written: on SQLite the write reports itself not applied (its first write checks the login
   * too) and the caller's transaction then throws ERR_LOGIN_SESSION_ENDED; on PostgreSQL the write throws it.
   */
  loginSessionId?: string;
  /** With loginSessionId: the code the same write issues (Store.allowLoginSession's `code`). */
  loginSessionCode?: LoginSessionCode;
}

/**
 * A WebAuthn allow decided outside a transaction (Store.commitWebAuthnAllow): the assertion was verified against a
 * ceremony this node began and the credential as this node read it. The ceremony is taken, the counter advanced and
 * the gate's allow line written only if all of that still holds.
 */
export interface WebAuthnAllowWrite {
  userId: string;
  /** The user's canonical name as the line gives it: still theirs, uncontested. */
  canonicalName: string;
  /** The application the gate checked: it must be active and unchanged since (same updated_at and policy). */
  application: Pick<Application, "id" | "updatedAt" | "policy"> | null;
  /** The ceremony the assertion answers: it must still be there, and this write takes it (deletes it). */
  ceremonyId: string;
  /**
   * The credential (Twofold's id) and what the assertion reported: it must be the user's and active, and its stored
   * counter below `signCount` (both 0: an authenticator without a counter).
   */
  credential: { id: string; signCount: number; backupState: boolean };
  line: GatedAllow;
  /** As OTPAllowWrite's: a prompt login moved to `allowed` by the same write, or nothing written. */
  loginSessionId?: string;
}

/**
 * What Store.commitWebAuthnAllow did: `allowed` (everything written); `not_applied` (nothing written: the state was
 * not as presumed); `taken` (PostgreSQL only: the ceremony was taken, but a concurrent finish moved the key's counter
 * first, so no counter and no line were written).
 */
export type WebAuthnAllowResult = "allowed" | "not_applied" | "taken";

/**
 * The code of a prompt login issued by the allow's own write, when nothing is left to ask the user (no trust or
 * backup offer): the session goes from pending straight to code_issued, once, as issueLoginSessionCode would.
 */
export interface LoginSessionCode {
  hash: string;
  expiresAt: number;
}

/** The one clock. Production uses the system clock; tests inject a fixed or stepping one. */
export interface Clock {
  now(): number;
}

/** A change to a push, told to every node: waiting logins and open apps wake and re-read the store. */
export type PushEvent =
  | { kind: "created"; txid: string; userId: string }
  | { kind: "resolved"; txid: string; userId: string; status: PushStatus }
  /** A device was activated for the user: an enrolment page showing its QR code moves on. */
  | { kind: "activated"; userId: string }
  /** Events may have been missed (a listening connection was re-opened): every listener re-reads. */
  | { kind: "resync" };

/**
 * Wake-ups between processes (PostgreSQL LISTEN/NOTIFY) or within one (SQLite). Only a hint: the store
 * decides every outcome, and waiters also re-read it on a timer, so a lost event delays but never decides.
 */
export interface PushEvents {
  /**
   * How often a waiter re-reads the store without a wake-up. Short where other processes may write without
   * telling us (another process on the same SQLite file), long where every node is heard (NOTIFY).
   */
  readonly fallbackPollMs: number;
  publish(event: PushEvent): Promise<void>;
  /** Listen for events about one push (`tx:<txid>`) or one user (`user:<userId>`); returns the unsubscribe. */
  subscribe(key: string, listener: (event: PushEvent) => void): () => void;
  /** Resolve after `ms` of real time, or earlier when an event for `key` arrives or `signal` aborts. */
  waitFor(key: string, ms: number, signal?: AbortSignal): Promise<void>;
}

/** What the app shows about a pending push (device API, Web Push payload, live stream). */
export interface PushView {
  txid: string;
  application: string;
  time: number;
  ip: string | null;
  place: string | null;
  info: string | null;
  expiresAt: number;
  verified: boolean;
  codeDigits: number | null;
}

/** Sends a new push to the user's devices (Web Push). Fire and forget: failures are the adapter's to log. */
export interface PushDelivery {
  deliver(push: PushView, devices: readonly Device[]): void;
}

/** Something operators must hear about now (the day's SMS spend cap reached, an SMS source paused). */
export interface OperatorAlert {
  kind: "sms.spend_cap_reached" | "sms.breaker_tripped";
  at: number;
  /** One line for a person: what happened and what to look at. */
  message: string;
  details: Record<string, unknown>;
}

/**
 * Where alerts go: the log, and whatever has subscribed (e-mail to operators). Raised after the change that caused
 * it has committed, once across nodes (a conditional write decides which node raises it).
 */
export interface OperatorAlerts {
  raise(alert: OperatorAlert): void;
}

/** Turns a requesting IP into a place ("Taipei, Taiwan") when a GeoIP database is configured. */
export interface PlaceLookup {
  lookup(ip: string): string | null;
  /** The address's country as an ISO 3166-1 alpha-2 code (`HK`), or null when none is known. */
  country?(ip: string): string | null;
}

/** A text message to send: `to` in E.164, `reference` the outbox id (for logs and receipts; never the text). */
export interface SMSMessage {
  to: string;
  text: string;
  reference: string;
}

/**
 * Why a gateway did not take a message. `definite`: it certainly did not (refused, not connected, an error
 * answer), so another attempt or gateway may send it; otherwise it may have gone out (a timeout after the
 * request was written) and is not sent again.
 */
export class MessageSendError extends Error {
  readonly definite: boolean;
  constructor(message: string, definite: boolean) {
    super(message);
    this.name = "MessageSendError";
    this.definite = definite;
  }
}

/** A lent hardware token whose reminder is due: stage 1 when it falls due, 2 when overdue. */
export interface TokenLoanReminder {
  tokenId: string;
  serial: string;
  userId: string;
  dueAt: number;
  stage: 1 | 2;
}

/** A delivery receipt a gateway reported for a message it accepted earlier. */
export interface DeliveryReceipt {
  gateway: string;
  gatewayMessageId: string;
  delivered: boolean;
  /** The gateway's own words (`DELIVRD`, `UNDELIV`, …), for operators. */
  detail: string;
}

/** An SMS gateway (SMPP, an HTTP provider). Named by configuration; the outbox tries them in order. */
export interface SMSGateway {
  readonly name: string;
  /** Whether it can take a message now (an SMPP session bound); absent = assumed (HTTP: asked per message). */
  readonly up?: boolean;
  /** Hand one message over; resolves with the gateway's id for it (receipts name it), or throws MessageSendError. */
  send(message: SMSMessage, signal: AbortSignal): Promise<{ gatewayMessageId: string | null }>;
}

/** An e-mail to send (already rendered in the user's language). */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  reference: string;
}

export interface MailTransport {
  readonly name: string;
  send(message: MailMessage, signal: AbortSignal): Promise<{ gatewayMessageId: string | null }>;
}

export interface OutboxPatch {
  status: OutboxStatus;
  nextAttemptAt?: number;
  gateway?: string | null;
  gatewayMessageId?: string | null;
  lastError?: string | null;
  sentAt?: number | null;
}

export interface Page {
  limit: number;
  offset: number;
}

export interface UserQuery extends Partial<Page> {
  /** Substring of the canonical username, e-mail or real name. */
  search?: string;
}

export interface OTPQuery extends Partial<Page> {
  userId?: string;
  kind?: OTPKind;
  status?: OTPStatus;
  /** Only hardware tokens not lent to anyone (the inventory). */
  unassigned?: boolean;
}

export interface AuthLogQuery {
  minTime: number;
  maxTime: number;
  limit: number;
  /** Resume after this (time, id) pair, as the Admin API's next_offset. */
  after?: { at: number; id: string };
  userIds?: string[];
  applicationIds?: string[];
  results?: string[];
  factors?: string[];
  order?: "asc" | "desc";
}

/** A username or alias as stored: its spelling and the key lookups find it by. */
export interface StoredUserName {
  kind: "username" | "alias";
  userId: string;
  name: string;
  canonical: string;
}

/** A canonical key more than one user's name reduces to; it names nobody until an operator settles it. */
export interface UsernameCollision {
  canonical: string;
  userIds: string[];
  detectedAt: number;
}

export type UserPatch = Partial<
  Pick<User, "realName" | "email" | "phone" | "status" | "passwordHash" | "notes" | "language">
> & {
  username?: string;
  usernameCanonical?: string;
};

export interface PhoneQuery extends Partial<Page> {
  userId?: string;
  number?: string;
}

export interface BypassCodeQuery extends Partial<Page> {
  /** Only codes that can still be used at this time: not revoked, not expired, uses left. */
  liveAt?: number;
}

export type PhonePatch = Partial<
  Pick<Phone, "number" | "extension" | "name" | "type" | "platform" | "smsVerifiedAt">
>;

export type ApplicationPatch = Partial<
  Pick<Application, "name" | "secretSealed" | "policy" | "status" | "redirectURIs">
>;

/**
 * Storage. Every counter and one-time value changes by one conditional write whose result says whether
 * this caller won (B1, C4, A2); methods named `consume*`/`claim*` return false when another caller did.
 */
export interface Store extends SmsGuardStore {
  readonly dialect: "sqlite" | "postgres";

  /** Run `fn` in one database transaction; everything it writes commits or rolls back together. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  /** Cheap round trip for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // Users
  insertUser(user: User): Promise<void>;
  getUser(id: string): Promise<User | undefined>;
  /**
   * Find by canonical username or alias, else by an e-mail address only one user has: `email` is the address's
   * own key (folded, never domain-stripped; by default the same as `canonical`). A key recorded as a username
   * collision names nobody: undefined, whoever holds it.
   */
  findUserByIdentifier(canonical: string, email?: string): Promise<User | undefined>;
  listUsers(query: UserQuery): Promise<{ users: User[]; total: number }>;
  updateUser(id: string, patch: UserPatch, now: number): Promise<User | undefined>;
  deleteUser(id: string): Promise<boolean>;
  addAlias(userId: string, alias: string, aliasCanonical: string): Promise<void>;
  removeAlias(userId: string, aliasCanonical: string): Promise<boolean>;
  listAliases(userId: string): Promise<string[]>;
  /** Every username and alias as stored: spelling and canonical key (to recompute keys after a settings change). */
  listUserNames(): Promise<StoredUserName[]>;
  /** Set a username's or alias's key to `to`, only if it is still `name.canonical`; false otherwise. */
  recanonicalizeUserName(name: StoredUserName, to: string): Promise<boolean>;
  /** Replace the recorded username collisions with these (several nodes writing the same set is harmless). */
  replaceUsernameCollisions(collisions: UsernameCollision[]): Promise<void>;
  listUsernameCollisions(): Promise<UsernameCollision[]>;
  /** The users contesting a canonical key; empty when the key is not contested. */
  getUsernameCollision(canonical: string): Promise<string[]>;
  /** How many users have this canonical e-mail address (one names that user; more name nobody). */
  countUsersWithEmail(canonical: string): Promise<number>;

  // Applications (integrations)
  insertApplication(app: Application): Promise<void>;
  getApplication(id: string): Promise<Application | undefined>;
  listApplications(): Promise<Application[]>;
  updateApplication(id: string, patch: ApplicationPatch, now: number): Promise<Application | undefined>;
  deleteApplication(id: string): Promise<boolean>;

  // OTP credentials (authenticator apps and hardware tokens)
  insertOTPCredentials(credentials: OTPCredential[]): Promise<void>;
  getOTPCredential(id: string): Promise<OTPCredential | undefined>;
  findTokenBySerial(serial: string): Promise<OTPCredential | undefined>;
  listOTPCredentials(query: OTPQuery): Promise<{ credentials: OTPCredential[]; total: number }>;
  /** Active credentials a user can authenticate with (apps and assigned tokens). */
  listUsableOTPCredentials(userId: string): Promise<OTPCredential[]>;
  /** Record a TOTP step as used: succeeds only if it is later than the last used step (B1). */
  consumeTOTPStep(id: string, step: number, drift: number): Promise<boolean>;
  /** Move an HOTP counter past `matched`: succeeds only if the stored counter is still ≤ matched (B1). */
  consumeHOTPCounter(id: string, matched: number): Promise<boolean>;
  /**
   * The one-time write of an OTP code and the completion gate's allow line, only if the state the allow was
   * decided on still holds (OTPAllowWrite): one statement on PostgreSQL. False: nothing was written.
   */
  commitOTPAllow(write: OTPAllowWrite): Promise<boolean>;
  /** Activate a pending enrolment, recording the confirming step/counter; false if expired or already done. */
  activateOTPCredential(
    id: string,
    used: { step?: number; counter?: number; drift?: number },
    now: number,
  ): Promise<boolean>;
  /** Lend an inventory token to a user; false if it is already assigned. */
  assignToken(id: string, userId: string, now: number): Promise<boolean>;
  unassignToken(id: string): Promise<boolean>;
  /** Set an HOTP counter after a resync, only if it has not moved since it was read. */
  resyncHOTPCounter(id: string, expectedCounter: number, newCounter: number): Promise<boolean>;
  /** Set TOTP drift and last step after a resync, only if the last step has not moved since it was read. */
  resyncTOTP(id: string, expectedLastStep: number | null, lastStep: number, drift: number): Promise<boolean>;
  setOTPStatus(id: string, status: OTPStatus): Promise<boolean>;
  /** Replace a sealed secret (key rotation), only if it is still the value that was read. */
  resealOTPSecret(id: string, expected: string, sealed: string): Promise<boolean>;
  deleteOTPCredential(id: string): Promise<boolean>;
  deleteExpiredPendingOTP(now: number): Promise<number>;

  // Bypass codes
  insertBypassCodes(codes: BypassCode[]): Promise<void>;
  getBypassCode(id: string): Promise<BypassCode | undefined>;
  /** All of a user's bypass codes, newest first (metadata only: the store holds no plaintext). */
  listBypassCodes(userId: string): Promise<BypassCode[]>;
  /** Codes that could still be used now: not revoked, not expired, uses left. */
  listLiveBypassCodes(userId: string, now: number): Promise<BypassCode[]>;
  /** Every user's codes, newest first, a page at a time (Admin API account-wide list; metadata only). */
  listAllBypassCodes(query: BypassCodeQuery): Promise<{ codes: BypassCode[]; total: number }>;
  /**
   * Use a bypass code once: one conditional decrement of uses left that also checks expiry and revocation
   * (C4). Returns the uses left afterwards (null = unlimited), or undefined when nothing was consumed.
   */
  consumeBypassCode(id: string, now: number): Promise<{ usesLeft: number | null } | undefined>;
  revokeBypassCode(id: string, now: number): Promise<boolean>;
  revokeBypassCodes(userId: string, now: number): Promise<number>;

  // Rescue codes
  /** Void every earlier rescue code of the user and store the new set, in one transaction (C3). */
  replaceRescueCodes(userId: string, codes: RescueCode[]): Promise<void>;
  listUnusedRescueCodes(userId: string): Promise<RescueCode[]>;
  consumeRescueCode(id: string, now: number): Promise<boolean>;

  // Lockout (A1, A2)
  getLockout(userId: string, factorClass: FactorClass): Promise<LockoutState | undefined>;
  listLockouts(userId: string): Promise<LockoutState[]>;
  /**
   * Inside a transaction: take the user's lockout row for this factor class (creating it if missing) with a
   * write lock held until commit, and return its state. Attempts for one user and class are so verified one
   * at a time on every node, and parallel guesses cannot check more codes than the limit allows (A2).
   * A user deleted meanwhile has no row: an empty state (nothing is counted; the completion gate denies).
   */
  lockAttemptState(userId: string, factorClass: FactorClass): Promise<LockoutState>;
  /** Count one failed attempt; returns the consecutive failures now recorded. */
  recordFailure(userId: string, factorClass: FactorClass, now: number): Promise<number>;
  /**
   * Inside a transaction, for the completion gate: the user's status, the factor class's lockout state (its row
   * taken as lockAttemptState takes it) and the application, read in one statement.
   */
  readCompletionState(
    userId: string,
    factorClass: FactorClass | null,
    applicationId: string | null,
  ): Promise<CompletionState>;
  resetLockout(userId: string, factorClass: FactorClass): Promise<void>;
  clearLockouts(userId: string): Promise<number>;

  // Logs and outbox
  appendAudit(event: AuditInput, at: number): Promise<number>;
  /** Events after `afterId` in id order; with `order: "desc"`, the newest first. */
  listAudit(query: { afterId?: number; limit: number; order?: "asc" | "desc" }): Promise<AuditEvent[]>;
  /**
   * Denials from anywhere; allows only as the completion gate makes them (GatedAllow, A4). With `resetLockout`,
   * the entry's user's failure counter of that class is reset by the same statement (an allow, A6).
   */
  appendAuthLog(entry: AuthLogWrite, resetLockout?: FactorClass): Promise<void>;
  listAuthLog(query: AuthLogQuery): Promise<{ entries: AuthLogEntry[]; total: number }>;
  enqueueNotification(n: Notification): Promise<void>;
  listPendingNotifications(limit: number): Promise<Notification[]>;
  markNotificationSent(id: string, at: number): Promise<boolean>;

  // Push: devices, activations, transactions (D1-D5)
  insertDevice(device: Device): Promise<void>;
  getDevice(id: string): Promise<Device | undefined>;
  listDevices(userId: string): Promise<Device[]>;
  setDeviceStatus(id: string, status: Device["status"]): Promise<boolean>;
  touchDevice(id: string, now: number): Promise<void>;
  /**
   * Replace (or clear) how the device is reached; sealed by the caller. With `expected`, only if the stored
   * value is still that (key rotation must not overwrite a subscription the device just renewed).
   */
  setDeviceDelivery(id: string, deliverySealed: string | null, expected?: string): Promise<boolean>;
  /** Every device that has delivery data (key rotation). */
  listDevicesWithDelivery(): Promise<Device[]>;
  insertDeviceActivation(activation: DeviceActivation): Promise<void>;
  getDeviceActivation(id: string): Promise<DeviceActivation | undefined>;
  /** Use an activation once: only if unused and not expired (G5). */
  consumeDeviceActivation(id: string, now: number): Promise<boolean>;
  /** Attach the activation's QR code (sealed) and the hash of its handle, once: false if it already has one. */
  setDeviceActivationBarcode(id: string, barcodeHash: string, barcodeSealed: string): Promise<boolean>;
  /** The activation whose QR code handle hashes to this, with the sealed code. */
  findDeviceActivationBarcode(
    barcodeHash: string,
  ): Promise<{ activation: DeviceActivation; barcodeSealed: string } | undefined>;
  insertPushTransaction(push: PushTransaction): Promise<void>;
  getPushTransaction(id: string): Promise<PushTransaction | undefined>;
  /** A user's pushes created at or after `since`, newest first (rate limits, D4). */
  listPushTransactions(userId: string, since: number): Promise<PushTransaction[]>;
  /** A user's pending pushes not yet expired at `now`, newest first (what the app shows). */
  listPendingPushes(userId: string, now: number): Promise<PushTransaction[]>;
  /**
   * Move a pending, unexpired push to its final state: one conditional write, so racing answers end
   * in exactly one terminal state (D2). False when it was already answered or has expired.
   */
  resolvePushTransaction(
    id: string,
    status: Exclude<PushStatus, "pending" | "expired">,
    deviceId: string | null,
    now: number,
  ): Promise<boolean>;
  /** Mark every pending push past its expiry as expired; returns how many. */
  expirePushTransactions(now: number): Promise<number>;
  getPushSuspendedAt(userId: string): Promise<number | null>;
  setPushSuspendedAt(userId: string, at: number | null): Promise<void>;

  /** The first status poll of a push marks it announced (one conditional write); false if one already did. */
  markPushAnnounced(id: string, now: number): Promise<boolean>;

  // Signed APIs (Duo Auth/Admin API)
  /**
   * Remember a signed request's digest until `expiresAt`: true the first time, false when the same digest is
   * already held and unexpired (a replay, K2). One conditional write, so two nodes cannot both accept it.
   */
  claimSignedRequest(digest: string, expiresAt: number, now: number): Promise<boolean>;
  /** When a remembered digest was claimed (`now` of the winning claim); null for rows older than that record. */
  signedRequestSeenAt(digest: string): Promise<number | null | undefined>;
  /** The latest authentication-log entry of a transaction (Auth API status of a passcode attempt). */
  findAuthLogByTxid(txid: string): Promise<AuthLogEntry | undefined>;
  /** When the user last logged in (their latest `allow` in the authentication log), or undefined. */
  lastLoginAt(userId: string): Promise<number | undefined>;

  // Throttles (A6)
  /** Counts of these keys in windows starting at or after `since`. */
  readThrottleCounts(keys: readonly string[], since: number): Promise<ThrottleCount[]>;
  /** Add one event to each key's window: one statement (an upsert of every row), atomic on every node. */
  addThrottleEvents(entries: ReadonlyArray<{ key: string; windowStart: number }>): Promise<void>;
  /** Forget at most `limit` rows of windows that started before `before` (the oldest first); returns how many. */
  deleteThrottleCounts(before: number, limit: number): Promise<number>;

  // Auth API enrolments (G)
  /**
   * Inside a transaction: hold the integration's enrolment lock until commit (enrolments of one integration
   * are so made one at a time on every node) and return how many of its enrolments are pending at `now`
   * (neither activated nor expired), and when the first of those expires.
   */
  lockPendingAPIEnrollments(
    applicationId: string,
    now: number,
  ): Promise<{ count: number; nextExpiry: number | null }>;
  insertAPIEnrollment(enrollment: APIEnrollment): Promise<void>;
  /**
   * Delete enrolments that expired unactivated before `now`, with their users when those users have no
   * device and no authenticator app or token (nothing was set up for them since); returns the users deleted.
   */
  deleteExpiredAPIEnrollments(now: number): Promise<number>;

  // Phones registered through the Admin API
  insertPhone(phone: Phone): Promise<void>;
  getPhone(id: string): Promise<Phone | undefined>;
  listPhones(query: PhoneQuery): Promise<{ phones: Phone[]; total: number }>;
  updatePhone(id: string, patch: PhonePatch): Promise<Phone | undefined>;
  deletePhone(id: string): Promise<boolean>;
  /** Attach to a user: only if the phone has no user yet or already has this one. */
  attachPhone(id: string, userId: string): Promise<boolean>;
  /** Detach from a user: only if it is attached to that user. */
  detachPhone(id: string, userId: string): Promise<boolean>;
  /** Record (or clear) the Twofold Authenticator activated for the phone. */
  setPhoneDevice(id: string, deviceId: string | null): Promise<void>;

  /** Mark the phone's number verified (E2), only if the number is still `number`. */
  setPhoneSMSVerified(id: string, number: string, at: number): Promise<boolean>;

  // Text-message codes (E1, E2)
  insertSMSCode(code: SMSCode): Promise<void>;
  /** A user's codes of one purpose that are neither used, revoked nor expired at `now`, newest first. */
  listLiveSMSCodes(userId: string, purpose: SMSCodePurpose, now: number): Promise<SMSCode[]>;
  /** The user's newest code of this purpose, live or not (the resend cooldown). */
  latestSMSCode(userId: string, purpose: SMSCodePurpose): Promise<SMSCode | undefined>;
  /** Kill every live code of the user and purpose ("send again"); returns how many. */
  revokeSMSCodes(userId: string, purpose: SMSCodePurpose, now: number): Promise<number>;
  /** Use a code once: one conditional write that also checks expiry and revocation (E1). */
  consumeSMSCode(id: string, now: number): Promise<boolean>;
  /** Codes that expired at or before `before` (housekeeping). */
  pruneSMSCodes(before: number, limit: number): Promise<number>;

  // The outbox (SMS and e-mail): committed before sent, claimed with a lease, sent once
  enqueueOutboxMessage(message: OutboxMessage): Promise<void>;
  getOutboxMessage(id: string): Promise<OutboxMessage | undefined>;
  /** Messages not yet final, how many (the outbox is bounded). */
  countUnsentOutboxMessages(channel: string): Promise<number>;
  /** Ids of messages due for an attempt at `now` (pending, not leased), oldest first. */
  listDueOutboxMessages(now: number, limit: number): Promise<string[]>;
  /** Ids of messages whose sender stopped mid-send (status `sending`, lease run out at `now`). */
  listAbandonedOutboxMessages(now: number, limit: number): Promise<string[]>;
  /**
   * Take a due message for one attempt: one conditional write (pending, due, not leased) that sets it `sending`,
   * leased to `owner` until `leaseUntil`, attempts + 1. False when another node took it (or it is not due).
   */
  claimOutboxMessage(id: string, owner: string, now: number, leaseUntil: number): Promise<boolean>;
  /** Record an attempt's result, only if `owner` still holds it (status `sending`). */
  finishOutboxAttempt(id: string, owner: string, patch: OutboxPatch): Promise<boolean>;
  /** Settle a message that is not being sent (expired, abandoned): only from one of `from`. */
  settleOutboxMessage(id: string, from: readonly OutboxStatus[], patch: OutboxPatch): Promise<boolean>;
  /** A delivery receipt: the message the gateway knows by this id becomes delivered or undelivered. */
  recordOutboxReceipt(receipt: DeliveryReceipt, at: number): Promise<OutboxMessage | undefined>;
  /** Messages in a final state created at or before `before`. */
  pruneOutboxMessages(before: number, limit: number): Promise<number>;
  /** Insert a mark once (a message sent at most once per key across nodes); false when it was there already. */
  addMessageMark(mark: string, at: number): Promise<boolean>;
  /** Marks made at or before `before` (housekeeping). */
  pruneMessageMarks(before: number, limit: number): Promise<number>;
  /** Set (or clear) when a lent token is due back; its reminders start again. False unless lent to `userId`. */
  setTokenLoanDue(id: string, userId: string, dueAt: number | null): Promise<boolean>;
  /**
   * Lent tokens whose next reminder is due at `now`: due with none sent, or overdue by `overdueMs` (null: no
   * overdue reminder) with only the first sent. Oldest due first.
   */
  listTokenLoanReminders(now: number, overdueMs: number | null, limit: number): Promise<TokenLoanReminder[]>;
  /** Record a reminder as sent: one conditional write (same borrower and due date, an earlier stage). */
  markTokenLoanReminder(reminder: TokenLoanReminder): Promise<boolean>;
  /** Counts by channel and status created at or after `since` (operators). */
  countOutboxMessages(since: number): Promise<Array<{ channel: string; status: string; count: number }>>;

  // Housekeeping (L-2): each call deletes at most `limit` rows in one short statement, oldest first, and
  // returns how many; callers repeat until fewer than `limit` come back. Safe on several nodes at once.
  /** Pushes (whatever their status) that expired at or before `before`. */
  prunePushTransactions(before: number, limit: number): Promise<number>;
  /** Device activation links, used or not, that expired at or before `before`. */
  pruneDeviceActivations(before: number, limit: number): Promise<number>;
  /** Authenticator-app enrolments never confirmed whose time ran out at or before `before`. */
  prunePendingOTPCredentials(before: number, limit: number): Promise<number>;
  /** Signed-request replay records that expired at or before `before`. */
  pruneSignedRequests(before: number, limit: number): Promise<number>;
  /** WebAuthn ceremonies (used or not) that expired at or before `before`. */
  pruneWebAuthnCeremonies(before: number, limit: number): Promise<number>;
  /** Authentication-log entries written before `before`. */
  pruneAuthLog(before: number, limit: number): Promise<number>;
  /** The oldest `limit` user notifications made before `before`. */
  pruneNotifications(before: number, limit: number): Promise<number>;

  // WebAuthn (F1-F7)
  /**
   * Store a new ceremony unless its user already has `perUser` live ones or its source `perSource` (checked at
   * `now` by the same statement that inserts); undefined when a cap was reached. Stored, it says whether its user's
   * `webauthn` class had failures on record as it was stored (false for a ceremony without a user).
   */
  insertWebAuthnCeremony(
    ceremony: WebAuthnCeremony,
    caps: { perUser: number; perSource: number },
    now: number,
  ): Promise<{ failuresOnRecord: boolean } | undefined>;
  /**
   * Take a ceremony once: one DELETE … RETURNING, so of two callers at most one gets it, and it is gone whatever
   * the caller then decides (F1: single use, deleted on success and on failure). Expired ones are returned too.
   */
  consumeWebAuthnCeremony(id: string): Promise<WebAuthnCeremony | undefined>;
  /** Add a credential; ERR_CONFLICT when its credential ID is registered already (to anyone, F5). */
  insertWebAuthnCredential(credential: WebAuthnCredential): Promise<void>;
  getWebAuthnCredential(id: string): Promise<WebAuthnCredential | undefined>;
  /** By the authenticator's credential ID (base64url). */
  findWebAuthnCredential(credentialId: string): Promise<WebAuthnCredential | undefined>;
  /** A user's credentials, oldest first. */
  listWebAuthnCredentials(userId: string): Promise<WebAuthnCredential[]>;
  /**
   * Accept an assertion's signature counter: one conditional write that only moves the stored counter forward
   * (or keeps 0 when both are 0, F4) on an active credential, recording the use and the backup state. False when
   * the stored value is already at or past `signCount`, or the credential was flagged meanwhile.
   */
  advanceWebAuthnCounter(id: string, signCount: number, backupState: boolean, now: number): Promise<boolean>;
  /**
   * A WebAuthn allow decided on what this node read (WebAuthnAllowWrite): the ceremony taken, the counter advanced
   * and the allow line appended together, and only if the user is still enabled under that name, the webauthn class
   * clear, the application unchanged, the ceremony still there and the counter forward (WebAuthnAllowResult).
   */
  commitWebAuthnAllow(write: WebAuthnAllowWrite): Promise<WebAuthnAllowResult>;
  /** Flag a credential as a possible clone (F4); false if it was not active. */
  markWebAuthnCredentialSuspect(id: string): Promise<boolean>;
  renameWebAuthnCredential(id: string, name: string): Promise<boolean>;
  deleteWebAuthnCredential(id: string): Promise<boolean>;

  // Prompt logins (OIDC): every state change is one conditional write on the session's status
  insertLoginSession(session: LoginSession): Promise<void>;
  /**
   * The same, for a session bound to a user found earlier (a node's cache) by this canonical name: inserted only if
   * that user still has the name, uncontested (as findUserByIdentifier would find it now). False: nothing inserted.
   */
  insertLoginSessionForName(session: LoginSession, canonicalName: string): Promise<boolean>;
  getLoginSession(id: string): Promise<LoginSession | undefined>;
  getLoginSessionByHandle(handleHash: string): Promise<LoginSession | undefined>;
  /**
   * The login behind a handle with its application, in one read; with its user too when `withUser` and the login
   * names one that exists. Undefined when there is no such login or its application is gone.
   */
  getPromptLogin(handleHash: string, withUser: boolean): Promise<PromptLoginRecord | undefined>;
  /** Move a pending, unexpired session's idle expiry to `expiresAt` (capped at its maximum); false when it ended. */
  touchLoginSession(id: string, expiresAt: number, now: number): Promise<boolean>;
  /** Record the push a pending session waits on; false when it is no longer pending. */
  setLoginSessionPush(id: string, pushTxid: string, now: number): Promise<boolean>;
  /**
   * Pending → allowed, for this user, while unexpired: inside the transaction in which the completion gate
   * allowed the factor. False when the session ended, expired, or belongs to another user. `userId` null: a
   * session for a username nobody has (a new user the application lets in without a factor).
   */
  allowLoginSession(
    id: string,
    userId: string | null,
    completion: { factor: string; txid: string; at: number; code?: LoginSessionCode },
  ): Promise<boolean>;
  /** The same for the pending session waiting on this push (none: false). */
  allowLoginSessionByPush(
    pushTxid: string,
    completion: { factor: string; txid: string; at: number },
  ): Promise<boolean>;
  /** Allowed → code_issued with the code's hash and expiry: once per session. */
  issueLoginSessionCode(id: string, codeHash: string, codeExpiresAt: number): Promise<boolean>;
  /**
   * code_issued → redeemed for the unexpired code with this hash: one conditional write; the session with its user
   * as they are now (read by the same statement), or undefined.
   */
  redeemLoginSessionCode(codeHash: string, now: number): Promise<RedeemedLogin | undefined>;
  /** End a session that has not issued a code (pending or allowed) as denied or abandoned. */
  endLoginSession(id: string, status: Extract<LoginSessionStatus, "denied" | "abandoned">): Promise<boolean>;
  /** Sessions whose maximum lifetime ended at or before `before` (housekeeping). */
  pruneLoginSessions(before: number, limit: number): Promise<number>;
  // Trusted browsers (I5)
  insertTrustedBrowser(browser: TrustedBrowser): Promise<void>;
  getTrustedBrowser(id: string): Promise<TrustedBrowser | undefined>;
  /** A user's trusted browsers, newest first; with `liveAt`, only those neither revoked nor expired then. */
  listTrustedBrowsers(userId: string, liveAt?: number): Promise<TrustedBrowser[]>;
  /**
   * Use a trusted browser once: replace its secret's hash (the cookie is rotated) and record the use, only if
   * the stored hash is still `expectedHash` and the browser is neither revoked nor expired. One conditional
   * write: of two requests with the same cookie, one skips.
   */
  useTrustedBrowser(id: string, expectedHash: string, newHash: string, now: number): Promise<boolean>;
  revokeTrustedBrowser(id: string, reason: TrustRevocationReason, now: number): Promise<boolean>;
  /** Revoke every live trusted browser of a user; returns how many. */
  revokeTrustedBrowsers(userId: string, reason: TrustRevocationReason, now: number): Promise<number>;
  /** Housekeeping: trusted browsers expired or revoked at or before `before`. */
  pruneTrustedBrowsers(before: number, limit: number): Promise<number>;

  // The enrolment rule (CISA AA22-074A): whether a user ever had a second factor
  /** When the user first had a second factor; null: never (or reset); undefined: no such user. */
  getFirstFactorAt(userId: string): Promise<number | null | undefined>;
  /** Record the user's first second factor, only if none is recorded; true when this call recorded it. */
  markFirstFactor(userId: string, at: number): Promise<boolean>;
  /** Forget it (an administrator's reset); false when nothing was recorded. */
  clearFirstFactor(userId: string): Promise<boolean>;

  // Small key/value state (demo seeding marker, schema facts)
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /** Insert only if the key is absent (several nodes creating the same value race safely); true if inserted. */
  insertMetaIfAbsent(key: string, value: string): Promise<boolean>;
}

/**
 * A login whose code was just redeemed (Store.redeemLoginSessionCode): `user` is what the id_token says of the
 * session's user, read in the same statement; null when the session names no user, undefined when it named one
 * that has been deleted since.
 */
export interface RedeemedLogin {
  session: LoginSession;
  user: Pick<User, "id" | "username" | "email"> | null | undefined;
}

/** A prompt login as one read returns it (Store.getPromptLogin). */
export interface PromptLoginRecord {
  session: LoginSession;
  application: Application;
  user: User | undefined;
  /** The user's first second factor (`first_factor_at`), read with it: the backup offer after an allow. */
  userFirstFactorAt?: number | null;
}
