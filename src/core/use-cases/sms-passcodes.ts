// Text-message passcodes (E1) and the code that verifies a phone number before it receives them (E2).
import { allowsMethod, effectivePolicy } from "../application-policy.ts";
import { randomDigits, randomId } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { type ErrorCode, TwofoldError } from "../errors.ts";
import { evaluateLockout } from "../lockout.ts";
import { maskPhone } from "../mask-phone.ts";
import type { Application, Phone, SMSCode, SMSCodePurpose, User } from "../model.ts";
import { isTextableNumber, parseTextableNumber } from "../phone-number.ts";
import { canonicalizeEmail, tryCanonicalizeUsername } from "../username.ts";
import { recordFactorAdded } from "./factor-changes.ts";
import { attemptDelivery, enqueueMessage, outboxHasRoom } from "./outbox.ts";
import { requirePhone } from "./phones.ts";
import { decideSmsSend, recordSmsConverted, recordSmsFailed } from "./sms-guard.ts";
import { requireUser } from "./users.ts";

/** What the user is told when no text went out (ux.md §2.2; P13 for "stopped"). */
export const SMS_MESSAGES = {
  sent: "New SMS passcodes sent.",
  stopped: "Text messages are not available for your account.",
  quota: (minutes: number) => `Too many codes. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
  unavailable: "We couldn't send a text just now.",
  cooldown: (seconds: number) => `A code was just sent. You can ask for another in ${seconds} seconds.`,
  notAllowed: "Text messages are not available for your account.",
  lockedOut: "Too many incorrect attempts. Try again later, or contact the IT service desk.",
} as const;

/** The owner a text code's hash is bound to: the user and the purpose, so a code of one kind never passes as another. */
const hashOwner = (userId: string, purpose: SMSCodePurpose) => `sms:${purpose}:${userId}`;

/**
 * Whether a user is an administrator: never offered text messages (E2). `policy.sms.administrators` may name them
 * as a login would (A3): by username, by an alias or by their e-mail address.
 */
export async function isAdministrator(
  deps: Pick<Deps, "policy" | "stripDomains" | "store">,
  user: User,
): Promise<boolean> {
  const listed = deps.policy.sms.administrators;
  if (listed.length === 0) return false;
  const email = user.email ? canonicalizeEmail(user.email) : undefined;
  let aliases: Set<string | undefined> | undefined;
  for (const name of listed) {
    const key = tryCanonicalizeUsername(name, deps.stripDomains);
    if (key === user.usernameCanonical) return true;
    if (email !== undefined && canonicalizeEmail(name) === email) return true;
    if (key === undefined) continue;
    aliases ??= new Set(
      (await deps.store.listAliases(user.id)).map((a) => tryCanonicalizeUsername(a, deps.stripDomains)),
    );
    if (aliases.has(key)) return true;
  }
  return false;
}

/**
 * Whether the user has a factor that is not restricted (an authenticator app, a token, a device): text messages
 * are never a user's only factor (E2, SP 800-63B-4 §3.2.9).
 */
async function hasUnrestrictedFactor(deps: Deps, userId: string): Promise<boolean> {
  const [devices, credentials] = await Promise.all([
    deps.store.listDevices(userId),
    deps.store.listUsableOTPCredentials(userId),
  ]);
  return devices.some((d) => d.status === "active") || credentials.length > 0;
}

/** The user's phones that may receive passcodes: verified (E2), and still a number texts may go to. */
async function listTextablePhones(deps: Deps, userId: string): Promise<Phone[]> {
  const { phones } = await deps.store.listPhones({ userId, limit: 20 });
  return phones.filter((p) => p.number !== null && p.smsVerifiedAt != null && isTextableNumber(p.number));
}

/** A phone as preauth shows it: its id and the number masked (`+852 •••• 5678` style, last four digits only). */
export interface SMSPhone {
  id: string;
  name: string;
  maskedNumber: string;
}

/**
 * The phones a login may send this user a passcode to, or none: text messages must be configured (a gateway),
 * allowed by the application, the user not an administrator, and not their only factor (E2).
 */
export async function listSMSPhones(
  deps: Deps,
  user: User,
  application: Application | null,
): Promise<SMSPhone[]> {
  if (!deps.messaging || deps.messaging.sms.length === 0) return [];
  if (application && !allowsMethod(effectivePolicy(deps.policy, application), "sms")) return [];
  if (user.status !== "active" || (await isAdministrator(deps, user))) return [];
  const phones = await listTextablePhones(deps, user.id);
  if (phones.length === 0 || !(await hasUnrestrictedFactor(deps, user.id))) return [];
  return phones.map((p) => ({ id: p.id, name: p.name ?? "Phone", maskedNumber: maskPhone(p.number!) }));
}

export type SMSSendOutcome =
  | { sent: true; phoneId: string; maskedNumber: string; expiresAt: number; messageId: string }
  | {
      sent: false;
      /** `no_phone`: nothing to send to (Duo's "no capable device"); the rest are denials with a message. */
      reason: "no_phone" | "not_allowed" | "cooldown" | "locked_out" | "stopped" | "quota" | "unavailable";
      message: string;
      retryAt: number | null;
    };

function refused(
  reason: Exclude<SMSSendOutcome, { sent: true }>["reason"],
  message: string,
  retryAt: number | null = null,
): SMSSendOutcome {
  return { sent: false, reason, message, retryAt };
}

/**
 * The text of a code message, in the user's language (Traditional Chinese goes out as UCS-2). The code comes
 * first after the sender so a phone's lock screen shows it; nothing else about the account is in it.
 */
export function smsText(
  purpose: SMSCodePurpose,
  language: "en" | "zh-Hant",
  issuer: string,
  code: string,
  minutes: number,
): string {
  if (language === "zh-Hant")
    return purpose === "login"
      ? `${issuer} 登入驗證碼：${code}，${minutes} 分鐘內有效。切勿告訴任何人。`
      : `${issuer} 手機驗證碼：${code}，${minutes} 分鐘內有效。`;
  return purpose === "login"
    ? `${issuer} passcode: ${code}. It works for ${minutes} minutes. Never share it.`
    : `${issuer} code to verify this phone: ${code}. It works for ${minutes} minutes.`;
}

/** Wait for `work` at most `ms`; past that, `onLate` answers and the work goes on by itself. */
async function withDeadline<T>(work: Promise<T>, ms: number, onLate: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onLate), ms);
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Create a code, commit it with its message in the outbox (held by this node), then hand the message to the
 * gateways and wait a short deadline for one to take it. "Send again" kills the user's earlier codes of the
 * purpose in the same transaction; the failure count (lockout class `sms`) is untouched (E1). When no gateway
 * took it within the deadline the user is told at once; the outbox keeps trying only while the code lives.
 */
async function sendCode(
  deps: Deps,
  input: {
    user: User;
    phone: Phone & { number: string };
    purpose: SMSCodePurpose;
    application: Application | null;
    /** The prompt login it is for (login codes from the prompt): the code completes that login only. */
    loginSessionId?: string | null;
    ip: string | null;
    lifetimeSeconds: number;
  },
): Promise<SMSSendOutcome> {
  const { user, phone, purpose } = input;
  const messaging = deps.messaging!;
  const now = deps.clock.now();
  const latest = await deps.store.latestSMSCode(user.id, purpose);
  const cooldownEnds = latest ? latest.createdAt + deps.policy.sms.resendAfterSeconds * 1000 : 0;
  if (cooldownEnds > now)
    return refused("cooldown", SMS_MESSAGES.cooldown(Math.ceil((cooldownEnds - now) / 1000)), cooldownEnds);

  const decision = await decideSmsSend(deps, {
    userId: user.id,
    phoneE164: phone.number,
    ip: input.ip,
    applicationId: input.application?.id ?? null,
    purpose: purpose === "login" ? "passcode" : "phone_verification",
    now,
  });
  if (!decision.allow) {
    if (decision.userMessage === "stopped") return refused("stopped", SMS_MESSAGES.stopped);
    if (decision.userMessage === "quota")
      return refused(
        "quota",
        SMS_MESSAGES.quota(Math.max(1, Math.ceil(((decision.retryAt ?? now) - now) / 60_000))),
        decision.retryAt,
      );
    return refused("unavailable", SMS_MESSAGES.unavailable, decision.retryAt);
  }
  if (!(await outboxHasRoom(deps, "sms"))) {
    await recordSmsFailed(deps, decision.reservationId, now);
    return refused("unavailable", SMS_MESSAGES.unavailable);
  }

  const code = randomDigits(deps.policy.sms.codeDigits);
  const expiresAt = now + input.lifetimeSeconds * 1000;
  const minutes = Math.round(input.lifetimeSeconds / 60);
  const text = smsText(purpose, user.language ?? messaging.mailLanguage, deps.issuer, code, minutes);
  const message = await deps.store.transaction(async (store) => {
    const tx: Deps = { ...deps, store };
    await store.revokeSMSCodes(user.id, purpose, now);
    const queued = await enqueueMessage(tx, {
      channel: "sms",
      userId: user.id,
      kind: purpose === "login" ? "sms-passcode" : "sms-verify",
      destination: phone.number,
      body: text,
      reservationId: decision.reservationId,
      sendBy: expiresAt,
      claimNow: true,
    });
    const record: SMSCode = {
      id: randomId("SC"),
      userId: user.id,
      phoneId: phone.id,
      purpose,
      applicationId: input.application?.id ?? null,
      loginSessionId: input.loginSessionId ?? null,
      codeHash: deps.keyring.hashCode(code, hashOwner(user.id, purpose)),
      reservationId: decision.reservationId,
      messageId: queued.id,
      createdAt: now,
      expiresAt,
      usedAt: null,
      revokedAt: null,
    };
    await store.insertSMSCode(record);
    return queued;
  });
  const result = await withDeadline(
    attemptDelivery(deps, message.id),
    messaging.sendDeadlineMs,
    "late" as const,
  );
  if (result !== "sent") return refused("unavailable", SMS_MESSAGES.unavailable);
  return {
    sent: true,
    phoneId: phone.id,
    maskedNumber: maskPhone(phone.number),
    expiresAt,
    messageId: message.id,
  };
}

/**
 * A login asks for a text-message passcode (Auth API `factor=sms`, REST v1 `sms1`, the prompt's "Text me a
 * passcode"). `phoneId` is `auto` (the first of the user's phones) or one of them. The code is then typed into
 * the one passcode field (verifyPasscode), within its lifetime: for the prompt login it was sent for
 * (`loginSessionId`) only, or, sent through the Auth API, for this application's logins outside the prompt.
 */
export async function sendLoginPasscode(
  deps: Deps,
  input: {
    user: User;
    application: Application | null;
    ip: string | null;
    phoneId?: string;
    loginSessionId?: string;
  },
): Promise<SMSSendOutcome> {
  const { user } = input;
  const phones = await listSMSPhones(deps, user, input.application);
  if (phones.length === 0) return refused("no_phone", SMS_MESSAGES.notAllowed);
  const chosen =
    input.phoneId === undefined || input.phoneId === "auto"
      ? phones[0]
      : phones.find((p) => p.id === input.phoneId);
  if (!chosen) return refused("no_phone", SMS_MESSAGES.notAllowed);
  const lock = evaluateLockout(
    await deps.store.getLockout(user.id, "sms"),
    deps.clock.now(),
    deps.policy.lockout,
  );
  if (!lock.allowed) return refused("locked_out", SMS_MESSAGES.lockedOut, lock.retryAt);
  const phone = (await deps.store.getPhone(chosen.id)) as Phone & { number: string };
  return sendCode(deps, {
    user,
    phone,
    purpose: "login",
    application: input.application,
    loginSessionId: input.loginSessionId ?? null,
    ip: input.ip,
    lifetimeSeconds: deps.policy.sms.lifetimeSeconds,
  });
}

/**
 * A live login code matching what was typed, checked in constant time against each live code's hash, and bound to
 * where it is typed (E1): a code sent for a prompt login completes that login only; one sent through the Auth API
 * completes this application's logins outside the prompt.
 */
export async function matchLoginSMSCode(
  deps: Deps,
  userId: string,
  applicationId: string | null,
  loginSessionId: string | null,
  typed: string,
): Promise<SMSCode | undefined> {
  const live = await deps.store.listLiveSMSCodes(userId, "login", deps.clock.now());
  let found: SMSCode | undefined;
  for (const c of live) {
    const ok = deps.keyring.verifyCodeHash(typed, hashOwner(userId, "login"), c.codeHash);
    // Bound to the login's application: a code sent for one integration does not complete another's login.
    if (
      ok &&
      found === undefined &&
      (c.applicationId === null || c.applicationId === applicationId) &&
      c.loginSessionId === loginSessionId
    )
      found = c;
  }
  return found;
}

/** Whether a user has a live login code (the passcode field then also checks it, under lockout class `sms`). */
export async function hasLiveLoginCode(deps: Deps, userId: string): Promise<boolean> {
  return (await deps.store.listLiveSMSCodes(userId, "login", deps.clock.now())).length > 0;
}

/** A login code was typed correctly: tell the guard (its conversion breaker counts codes that were used). */
export async function reportLoginCodeUsed(deps: Deps, code: SMSCode): Promise<void> {
  if (code.reservationId) await recordSmsConverted(deps, code.reservationId, deps.clock.now());
}

function phoneError(code: ErrorCode, message: string): TwofoldError {
  return new TwofoldError(code, message, { issues: [{ path: "phone_id", message }] });
}

/**
 * Register a number for text messages for a user: parsed and checked (E.164; premium-rate, shared-cost, unassigned
 * and non-mobile ranges refused), then a verification code is sent to it. It receives passcodes only once that code
 * is confirmed (confirmPhoneVerification). Administrators, and users with no other factor, are refused (E2).
 */
export async function addSMSPhone(
  deps: Deps,
  actor: Actor,
  input: { user: string; number: string; name?: string; defaultCountry?: string; ip?: string | null },
): Promise<{ phone: Phone; sent: SMSSendOutcome }> {
  const user = await requireUser(deps, input.user);
  const parsed = parseTextableNumber(input.number, input.defaultCountry);
  await checkMayUseSMS(deps, user);
  const phone: Phone = {
    id: randomId("DP"),
    userId: user.id,
    number: parsed.e164,
    extension: null,
    name: input.name ?? "Phone for text messages",
    type: "mobile",
    platform: "unknown",
    deviceId: null,
    createdAt: deps.clock.now(),
    smsVerifiedAt: null,
  };
  await deps.store.transaction(async (tx) => {
    await tx.insertPhone(phone);
    await audit({ ...deps, store: tx }, actor, {
      action: "phone.create",
      targetType: "phone",
      targetId: phone.id,
      after: { userId: user.id, number: phone.number, purpose: "sms" },
    });
  });
  const sent = await sendPhoneVerification(deps, actor, phone.id, { ip: input.ip ?? null });
  return { phone, sent };
}

async function checkMayUseSMS(deps: Deps, user: User): Promise<void> {
  if (!deps.messaging || deps.messaging.sms.length === 0)
    throw new TwofoldError("ERR_SMS_NOT_ALLOWED", "no SMS gateway is configured");
  if (user.status !== "active")
    throw new TwofoldError("ERR_SMS_NOT_ALLOWED", "text messages are only for active users");
  if (await isAdministrator(deps, user))
    throw new TwofoldError("ERR_SMS_NOT_ALLOWED", "administrators cannot use text messages (E2)");
  if (!(await hasUnrestrictedFactor(deps, user.id)))
    throw new TwofoldError(
      "ERR_SMS_NOT_ALLOWED",
      "text messages cannot be a user's only factor: set up an authenticator app or device first (E2)",
    );
}

/** Send (again) the code that verifies a phone's number. The phone must belong to a user allowed text messages. */
export async function sendPhoneVerification(
  deps: Deps,
  _actor: Actor,
  phoneId: string,
  options: { ip?: string | null } = {},
): Promise<SMSSendOutcome> {
  const phone = await requirePhone(deps, phoneId);
  if (!phone.userId) throw phoneError("ERR_VALIDATION", "attach the phone to a user first");
  if (!phone.number) throw phoneError("ERR_PHONE_INVALID", "the phone has no number");
  const number = parseTextableNumber(phone.number).e164;
  const user = (await deps.store.getUser(phone.userId))!;
  await checkMayUseSMS(deps, user);
  return sendCode(deps, {
    user,
    phone: { ...phone, number },
    purpose: "verify",
    application: null,
    ip: options.ip ?? null,
    lifetimeSeconds: deps.policy.sms.verifyLifetimeSeconds,
  });
}

/**
 * The code sent to a phone was typed back: its number is verified and receives passcodes from now on (E2). Wrong
 * codes count against the user's `sms` lockout class like wrong passcodes; a locked class refuses even the right one.
 */
export async function confirmPhoneVerification(
  deps: Deps,
  actor: Actor,
  input: { phoneId: string; code: string },
): Promise<Phone> {
  const phone = await requirePhone(deps, input.phoneId);
  if (!phone.userId || !phone.number)
    throw phoneError("ERR_SMS_CODE_INVALID", "no code was sent to this phone");
  const userId = phone.userId;
  const number = phone.number;
  const now = deps.clock.now();
  const outcome = await deps.store.transaction(async (store) => {
    const state = await store.lockAttemptState(userId, "sms");
    const lock = evaluateLockout(state, now, deps.policy.lockout);
    if (!lock.allowed) return { ok: false as const, locked: true };
    const live = (await store.listLiveSMSCodes(userId, "verify", now)).filter((c) => c.phoneId === phone.id);
    const typed = typeof input.code === "string" ? input.code.replace(/[ -]/g, "") : "";
    const match = live.find((c) =>
      deps.keyring.verifyCodeHash(typed, hashOwner(userId, "verify"), c.codeHash),
    );
    if (!match || !(await store.consumeSMSCode(match.id, now))) {
      await store.recordFailure(userId, "sms", now);
      return { ok: false as const, locked: false };
    }
    if (!(await store.setPhoneSMSVerified(phone.id, number, now)))
      return { ok: false as const, locked: false };
    await store.resetLockout(userId, "sms");
    // A number that can now receive passcodes is a factor added: the user's trusted browsers stop skipping (I5).
    await recordFactorAdded({ ...deps, store }, userId);
    await audit({ ...deps, store }, actor, {
      action: "phone.sms_verified",
      targetType: "phone",
      targetId: phone.id,
      after: { userId, number },
    });
    return { ok: true as const, code: match };
  });
  if (!outcome.ok)
    throw new TwofoldError(
      outcome.locked ? "ERR_RATE_LIMITED" : "ERR_SMS_CODE_INVALID",
      outcome.locked
        ? "too many wrong codes; try again later"
        : "the code is wrong, used, replaced or expired",
    );
  if (outcome.code.reservationId) await recordSmsConverted(deps, outcome.code.reservationId, now);
  return (await deps.store.getPhone(phone.id))!;
}
