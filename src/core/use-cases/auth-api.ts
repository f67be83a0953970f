// The login steps behind the Duo-compatible Auth API and REST v1: preauth (may this user log in, and how), passcode and push authentication, and the status of a transaction.

import { allowsMethod, effectivePolicy } from "../application-policy.ts";
import { type CompletionVerdict, completeAuthentication } from "../completion-gate.ts";
import { randomHex } from "../crypto/index.ts";
import type { Deps } from "../deps.ts";
import { mayEnrollAsNewUser } from "../enrollment-rule.ts";
import { evaluateLockout } from "../lockout.ts";
import type { Application, AuthFactor, Device, OTPCredential, PushStatus, User } from "../model.ts";
import { decideThrottle, windowsToRead } from "../throttle.ts";
import {
  createDeviceActivation,
  type DeviceActivationTicket,
  openPushCode,
  type PushStart,
  startPush,
  waitForPush,
} from "./push.ts";
import { listSMSPhones, SMS_MESSAGES, type SMSPhone, sendLoginPasscode } from "./sms-passcodes.ts";
import { createUser, findUser, isNameSpokenFor } from "./users.ts";
import { PASSCODE_MESSAGES, passcodeDenyMessage, recordAuthAttempt } from "./verify-passcode.ts";

/** What a user is offered at preauth (duo-compat §3.6 `devices`). */
export interface AuthDevice {
  id: string;
  /** A Twofold Authenticator or a phone for text messages is a `phone`; apps and hardware tokens are `token`s. */
  type: "phone" | "token";
  name: string;
  capabilities: Array<"auto" | "push" | "mobile_otp" | "sms">;
  /** A phone for text messages: its number with all but the last four digits masked (N1). */
  number?: string;
}

export type PreauthOutcome =
  | { result: "auth"; user: User; devices: AuthDevice[]; message: string }
  | { result: "allow" | "deny" | "enroll"; user: User | null; message: string; reason: string };

export const AUTH_MESSAGES = {
  active: "Account is active",
  bypassUser: "Bypass user: no second factor required",
  denied: "Access denied. Contact your IT service desk.",
  disabled: "Your account is disabled. Contact your IT service desk.",
  lockedOut: "Too many failed attempts. Try again later or contact your IT service desk.",
  enroll: "Set up a second factor to continue. Contact your IT service desk for an activation link.",
  approved: "Success. Logging you in...",
  bypassCode: "Success. Bypass code accepted.",
  pushDenied: "Login request denied.",
  pushFraud: "Login request reported as fraudulent. Push is suspended; contact your IT service desk.",
  timeout: "Login timed out.",
  cancelled: "Login request cancelled.",
  pushed: "Pushed a login request to your device...",
  pushSuspended: "Push is suspended on your account. Use a passcode or contact your IT service desk.",
  pushBusy: "A login request is already waiting on your device. Answer it or wait a minute.",
  pushLimited: "Too many login requests. Use a passcode or try again later.",
  verifiedPushRequired:
    "This application cannot show a verification code, so push is not allowed here. Use a passcode.",
  unavailable: "Second-factor service temporarily unavailable. Access denied.",
  smsUnavailable:
    "SMS passcodes are not available. Use a passcode from your authenticator app or token, or a bypass code.",
  optionUnavailable: "That option is not available. Choose one of the options listed or enter a passcode.",
  methodNotAllowed: "This application does not accept that method. Use another one.",
  noAllowedMethod: "None of your methods work with this application. Contact your IT service desk.",
  newUserAllowed: "Allowed: this application does not require a second factor from new users",
  resetRequired:
    "Your second factor was removed. Contact your IT service desk to set up a new one before you log in.",
  smsQuota: "Too many codes. Try again later.",
  smsCooldown: "A code was just sent. Wait a moment before asking for another.",
} as const;

/**
 * Logins denied before any factor ran, by the reason the authentication log records. An async `/auth` answers
 * these with a transaction id like any other (duo_unix reads a missing `txid` as a server error and shows
 * nothing); its status poll reads the reason back from the log. The reasons never collide with a passcode's.
 */
const IMMEDIATE_DENIALS = {
  push_unknown_user: { status: "deny", message: AUTH_MESSAGES.denied },
  push_user_disabled: { status: "deny", message: AUTH_MESSAGES.disabled },
  push_suspended: { status: "deny", message: AUTH_MESSAGES.pushSuspended },
  push_already_pending: { status: "deny", message: AUTH_MESSAGES.pushBusy },
  push_rate_limited: { status: "deny", message: AUTH_MESSAGES.pushLimited },
  push_locked_out: { status: "locked_out", message: AUTH_MESSAGES.lockedOut },
  push_needs_verification: { status: "deny", message: AUTH_MESSAGES.verifiedPushRequired },
  push_application_disabled: { status: "deny", message: AUTH_MESSAGES.denied },
  push_not_allowed: { status: "deny", message: AUTH_MESSAGES.methodNotAllowed },
  sms_unavailable: { status: "deny", message: AUTH_MESSAGES.smsUnavailable },
  // Duo's answer to factor=sms: a deny whose status is `sent` (§3.7); the code is then typed as a passcode.
  sms_sent: { status: "sent", message: SMS_MESSAGES.sent },
  sms_stopped: { status: "deny", message: SMS_MESSAGES.stopped },
  sms_quota: { status: "deny", message: AUTH_MESSAGES.smsQuota },
  sms_cooldown: { status: "deny", message: AUTH_MESSAGES.smsCooldown },
  sms_not_sent: { status: "deny", message: SMS_MESSAGES.unavailable },
  sms_locked_out: { status: "locked_out", message: AUTH_MESSAGES.lockedOut },
  option_unavailable: { status: "deny", message: AUTH_MESSAGES.optionUnavailable },
} as const satisfies Record<string, { status: string; message: string }>;

export type ImmediateDenial = keyof typeof IMMEDIATE_DENIALS;

function immediateOutcome(reason: ImmediateDenial, factor: AuthFactor): AuthOutcome {
  const { status, message } = IMMEDIATE_DENIALS[reason];
  return { result: "deny", status, message, factor };
}

/**
 * Deny a login at once (an unknown or disabled user asking for a push, a push the policy refuses, a factor
 * that does not exist here): logged like every attempt (N1), with a transaction id its status poll finds.
 */
export async function denyLogin(
  deps: Deps,
  input: {
    user: User | undefined;
    username: string;
    application: Application;
    ip: string | null;
    factor: AuthFactor;
    reason: ImmediateDenial;
    /** Words for this answer when they carry a detail (minutes to wait); status polls read the plain ones. */
    message?: string;
  },
): Promise<{ txid: string; outcome: AuthOutcome }> {
  const txid = randomHex(16);
  const { message, ...attempt } = input;
  await recordAuthAttempt(deps, { ...attempt, txid, now: deps.clock.now(), result: "deny" });
  const outcome = immediateOutcome(input.reason, input.factor);
  return { txid, outcome: message ? { ...outcome, message } : outcome };
}

/** What sendLoginPasscode's refusals are logged and answered as. */
const SMS_REFUSALS = {
  not_allowed: "sms_unavailable",
  cooldown: "sms_cooldown",
  locked_out: "sms_locked_out",
  stopped: "sms_stopped",
  quota: "sms_quota",
  unavailable: "sms_not_sent",
} as const satisfies Record<string, ImmediateDenial>;

export type SMSRequestOutcome =
  | { noCapableDevice: true }
  | { noCapableDevice: false; txid: string; outcome: AuthOutcome };

/**
 * A login asks for a text-message passcode (Auth API `factor=sms`, REST v1 `smsN`): Duo answers `deny` with
 * status `sent` and the user then types the code as a passcode (§3.7). Every answer is a deny logged with its
 * reason; asking for a text is never a failed login (send quotas are the guard's, apart from guess counters).
 */
export async function requestLoginSMS(
  deps: Deps,
  input: {
    user: User | undefined;
    username: string;
    application: Application;
    ip: string | null;
    /** `auto` or one of the user's phones. */
    device: string;
  },
): Promise<SMSRequestOutcome> {
  const { user } = input;
  const deny = async (reason: ImmediateDenial, message?: string): Promise<SMSRequestOutcome> => ({
    noCapableDevice: false,
    ...(await denyLogin(deps, { ...input, factor: "sms", reason, ...(message ? { message } : {}) })),
  });
  if (!user || user.status === "disabled") return deny("sms_unavailable");
  const sent = await sendLoginPasscode(deps, {
    user,
    application: input.application,
    ip: input.ip,
    phoneId: input.device,
  });
  if (sent.sent) return deny("sms_sent");
  if (sent.reason === "no_phone") return { noCapableDevice: true };
  return deny(SMS_REFUSALS[sent.reason], sent.message);
}

/**
 * Who this is and what they may use (§3.6). Unknown and unenrolled users follow the application's new-user
 * policy; disabled users are denied; users in bypass status are let in without a second factor; a user whose
 * every factor is locked is denied. The allow, deny and enroll outcomes are written to the authentication log.
 */
export async function preauthenticate(
  deps: Deps,
  input: { user: User | undefined; username: string; application: Application; ip: string | null },
): Promise<PreauthOutcome> {
  const { user, application } = input;
  const now = deps.clock.now();
  const finish = async (
    result: "deny" | "enroll",
    reason: string,
    message: string,
  ): Promise<PreauthOutcome> => {
    await recordAuthAttempt(deps, {
      user,
      username: input.username,
      application,
      ip: input.ip,
      txid: randomHex(16),
      now,
      factor: "none",
      result: "deny",
      reason,
    });
    return { result, user: user ?? null, message, reason };
  };
  const policy = effectivePolicy(deps.policy, application);
  // No second factor. Enrol or allow only a user who never had one (CISA AA22-074A): a user whose factors were
  // removed waits for an administrator's reset (`twofold user reset-enrollment`).
  const newUser = async (): Promise<PreauthOutcome> => {
    if (policy.newUserPolicy === "deny") return finish("deny", "not_enrolled", AUTH_MESSAGES.denied);
    if (user && !(await mayEnrollAsNewUser(deps.store, user.id)))
      return finish("deny", "enrollment_reset_required", AUTH_MESSAGES.resetRequired);
    // A name that names nobody only because two users claim it or share it as their address is not a stranger's:
    // neither let in without a factor nor offered as a new user's name.
    if (!user && (await isNameSpokenFor(deps, input.username)))
      return finish("deny", "not_enrolled", AUTH_MESSAGES.denied);
    if (policy.newUserPolicy === "enroll") return finish("enroll", "enroll", AUTH_MESSAGES.enroll);
    // Let in without a factor: still a completed authentication, through the gate, logged as such (G1).
    const verdict = await deps.store.transaction((store) =>
      completeAuthentication(
        { ...deps, store },
        {
          userId: user?.id ?? null,
          username: input.username,
          applicationId: application.id,
          factor: "none",
          factorClass: null,
          reason: "allow_unenrolled_user",
          ip: input.ip,
          txid: randomHex(16),
          now,
        },
      ),
    );
    return verdict.result === "allow"
      ? {
          result: "allow",
          user: user ?? null,
          message: AUTH_MESSAGES.newUserAllowed,
          reason: "allow_unenrolled_user",
        }
      : {
          result: "deny",
          user: user ?? null,
          message: gateDenyMessage(verdict, now),
          reason: verdict.reason,
        };
  };

  if (!user) return newUser();
  if (user.status === "disabled") return finish("deny", "user_disabled", AUTH_MESSAGES.disabled);
  if (user.status === "bypass") {
    // A login without a second factor is still a completed authentication: through the gate (A4).
    const verdict = await deps.store.transaction((store) =>
      completeAuthentication(
        { ...deps, store },
        {
          userId: user.id,
          username: input.username,
          applicationId: application.id,
          factor: "none",
          factorClass: null,
          reason: "bypass_user",
          ip: input.ip,
          txid: randomHex(16),
          now,
        },
      ),
    );
    return verdict.result === "allow"
      ? { result: "allow", user, message: AUTH_MESSAGES.bypassUser, reason: "bypass_user" }
      : { result: "deny", user, message: gateDenyMessage(verdict, now), reason: verdict.reason };
  }

  const [devices, allCredentials, bypass, rescue, lockouts, suspendedAt, smsPhones] = await Promise.all([
    deps.store.listDevices(user.id),
    deps.store.listUsableOTPCredentials(user.id),
    deps.store.listLiveBypassCodes(user.id, now),
    deps.store.listUnusedRescueCodes(user.id),
    deps.store.listLockouts(user.id),
    deps.store.getPushSuspendedAt(user.id),
    listSMSPhones(deps, user, application),
  ]);
  const active = devices.filter((d) => d.status === "active");
  if (active.length === 0 && allCredentials.length === 0 && bypass.length === 0 && rescue.length === 0)
    return newUser();
  // What this application's policy lets the user use (docs/policy.md).
  const allows = (m: Parameters<typeof allowsMethod>[1]) => allowsMethod(policy, m);
  const credentials = allCredentials.filter((c) => allows(c.kind === "token" ? "token" : "passcode-app"));
  const pushAllowed = allows("push") && active.length > 0;
  const bypassAllowed = bypass.length > 0 && allows("bypass");
  const rescueAllowed = rescue.length > 0 && allows("rescue");
  if (!pushAllowed && credentials.length === 0 && !bypassAllowed && !rescueAllowed && smsPhones.length === 0)
    return finish("deny", "no_allowed_method", AUTH_MESSAGES.noAllowedMethod);

  // The earliest time one of the user's closed classes opens again: what "try again in N minutes" says.
  let reopensAt = Number.POSITIVE_INFINITY;
  const open = (cls: "otp" | "push" | "bypass" | "rescue" | "sms") => {
    const d = evaluateLockout(
      lockouts.find((l) => l.factorClass === cls),
      now,
      deps.policy.lockout,
    );
    if (!d.allowed) reopensAt = Math.min(reopensAt, d.retryAt);
    return d.allowed;
  };
  const pushOpen = pushAllowed && suspendedAt === null && open("push");
  const passcodeOpen =
    (credentials.length > 0 && open("otp")) ||
    (bypassAllowed && open("bypass")) ||
    (rescueAllowed && open("rescue")) ||
    (smsPhones.length > 0 && open("sms"));
  if (!pushOpen && !passcodeOpen)
    return finish(
      "deny",
      "locked_out",
      Number.isFinite(reopensAt) ? passcodeDenyMessage(reopensAt, now) : AUTH_MESSAGES.lockedOut,
    );

  return {
    result: "auth",
    user,
    devices: listAuthDevices(
      active,
      credentials,
      pushAllowed && suspendedAt === null,
      allows("passcode-app"),
      smsPhones,
    ),
    message: AUTH_MESSAGES.active,
  };
}

function listAuthDevices(
  devices: Device[],
  credentials: OTPCredential[],
  pushAllowed: boolean,
  passcodesAllowed: boolean,
  smsPhones: SMSPhone[],
): AuthDevice[] {
  const onDevices = new Set(devices.map((d) => d.otpCredentialId).filter((id) => id !== null));
  return [
    // A phone offers what the application allows of it now: push, its offline passcodes, or neither (not listed).
    ...devices
      .map(
        (d): AuthDevice => ({
          id: d.id,
          type: "phone",
          name: d.name,
          capabilities: [
            ...(pushAllowed ? (["auto", "push"] as const) : []),
            ...(passcodesAllowed ? (["mobile_otp"] as const) : []),
          ],
        }),
      )
      .filter((d) => d.capabilities.length > 0),
    ...credentials
      .filter((c) => !onDevices.has(c.id))
      .map(
        (c): AuthDevice => ({
          id: c.id,
          type: "token",
          name: c.kind === "token" ? `Token ${c.serial ?? ""}`.trim() : (c.label ?? "Authenticator app"),
          capabilities: ["mobile_otp"],
        }),
      ),
    ...smsPhones.map(
      (p): AuthDevice => ({
        id: p.id,
        type: "phone",
        name: p.name,
        capabilities: ["sms"],
        number: p.maskedNumber,
      }),
    ),
  ];
}

/** A login's answer (§3.7, §3.8): `waiting` only from status polls while a push is pending. */
export interface AuthOutcome {
  result: "allow" | "deny" | "waiting";
  /** Duo's `status`: allow, bypass, deny, fraud, timeout, locked_out, pushed. */
  status: string;
  message: string;
  factor: AuthFactor;
}

/** The words for a login the completion gate refused although its factor checked out (A4). */
const GATE_MESSAGES: Partial<Record<string, string>> = {
  user_deleted: AUTH_MESSAGES.denied,
  application_deleted: AUTH_MESSAGES.denied,
  application_disabled: AUTH_MESSAGES.denied,
  bypass_status_revoked: AUTH_MESSAGES.denied,
  plain_push_not_allowed: AUTH_MESSAGES.verifiedPushRequired,
  // Not `factor_not_allowed`: a code of a method the application refuses reads like a wrong code, or the
  // answer would tell a guesser that their code was right (A5).
  new_user_not_allowed: AUTH_MESSAGES.denied,
  enrolled_user: AUTH_MESSAGES.denied,
};

/** What a user is told when the gate refused: "try again in N minutes" for a lock, else why, in few words. */
export function gateDenyMessage(
  verdict: Extract<CompletionVerdict, { result: "deny" }>,
  now: number,
): string {
  if (verdict.retryAt !== null) return passcodeDenyMessage(verdict.retryAt, now);
  if (verdict.reason === "user_disabled") return AUTH_MESSAGES.disabled;
  return GATE_MESSAGES[verdict.reason] ?? AUTH_MESSAGES.denied;
}

/**
 * Duo's answer for a passcode outcome (from the one passcode use case, where lockout applies: A4). A wrong code
 * and an unknown user read the same; a locked or delayed factor says when to try again — decided before the
 * code is looked at, so a right and a wrong code get the same bytes (A5).
 */
export function passcodeOutcome(
  outcome: { result: "allow" | "deny"; factor: AuthFactor; reason?: string; retryAt?: number | null },
  now: number,
): AuthOutcome {
  const { result, factor } = outcome;
  if (result === "deny") {
    const message =
      outcome.retryAt != null
        ? passcodeDenyMessage(outcome.retryAt, now)
        : ((outcome.reason && GATE_MESSAGES[outcome.reason]) ?? PASSCODE_MESSAGES.deny);
    return { result, status: "deny", message, factor };
  }
  if (factor === "bypass") return { result, status: "bypass", message: AUTH_MESSAGES.bypassCode, factor };
  return { result, status: "allow", message: PASSCODE_MESSAGES.allow, factor };
}

export type PushRequestOutcome =
  | { started: true; txid: string; code: string | null; expiresAt: number }
  | { started: false; noCapableDevice: true }
  | { started: false; noCapableDevice: false; txid: string; outcome: AuthOutcome };

/** Why startPush refused, as the denial the login is told (and the log records). */
type PushRefusal = Extract<PushStart, { started: false }>["reason"];
const PUSH_REFUSALS: Record<Exclude<PushRefusal, "no_devices">, ImmediateDenial> = {
  unknown_user: "push_unknown_user",
  push_suspended: "push_suspended",
  push_pending: "push_already_pending",
  rate_limited: "push_rate_limited",
  too_many_since_success: "push_rate_limited",
  locked_out: "push_locked_out",
  verified_push_required: "push_needs_verification",
  application_disabled: "push_application_disabled",
  push_not_allowed: "push_not_allowed",
};

/**
 * Send a push for a login (§3.7). `verified` is whether the caller can show the user a code (an async call
 * whose status polls are shown, or a client that said so); without it the application must allow plain
 * pushes (D1). `device` is `auto` or one of the user's devices. An unknown or disabled user, and a push the
 * policy refuses, are denied at once and logged.
 */
export async function requestAuthPush(
  deps: Deps,
  input: {
    user: User | undefined;
    username: string;
    application: Application;
    device: string;
    ip: string | null;
    info: string | null;
    verified: boolean;
  },
): Promise<PushRequestOutcome> {
  const { user } = input;
  const deny = async (reason: ImmediateDenial): Promise<PushRequestOutcome> => ({
    started: false,
    noCapableDevice: false,
    ...(await denyLogin(deps, { ...input, factor: "push", reason })),
  });
  if (!user) return deny("push_unknown_user");
  if (user.status === "disabled") return deny("push_user_disabled");
  const devices = (await deps.store.listDevices(user.id)).filter((d) => d.status === "active");
  if (devices.length === 0 || (input.device !== "auto" && !devices.some((d) => d.id === input.device)))
    return { started: false, noCapableDevice: true };
  const start = await startPush(deps, {
    username: user.usernameCanonical,
    application: input.application,
    ip: input.ip,
    info: input.info,
    verified: input.verified,
  });
  if (start.started)
    return {
      started: true,
      txid: start.txid,
      code: start.code?.reveal() ?? null,
      expiresAt: start.expiresAt,
    };
  if (start.reason === "no_devices") return { started: false, noCapableDevice: true };
  return deny(PUSH_REFUSALS[start.reason]);
}

/** The text shown while a push waits: with the code to type into the app when it is a verified push. */
export function pushedMessage(code: string | null): string {
  return code === null
    ? `${AUTH_MESSAGES.pushed} Approve it in the Twofold app.`
    : `${AUTH_MESSAGES.pushed} Enter code ${code} in the Twofold app to approve it.`;
}

export function pushOutcome(status: PushStatus, code: string | null): AuthOutcome {
  switch (status) {
    case "approved":
      return { result: "allow", status: "allow", message: AUTH_MESSAGES.approved, factor: "push" };
    case "pending":
      return { result: "waiting", status: "pushed", message: pushedMessage(code), factor: "push" };
    case "fraud":
      return { result: "deny", status: "fraud", message: AUTH_MESSAGES.pushFraud, factor: "push" };
    case "expired":
      return { result: "deny", status: "timeout", message: AUTH_MESSAGES.timeout, factor: "push" };
    case "cancelled":
      return { result: "deny", status: "deny", message: AUTH_MESSAGES.cancelled, factor: "push" };
    default:
      return { result: "deny", status: "deny", message: AUTH_MESSAGES.pushDenied, factor: "push" };
  }
}

/**
 * How long a status poll holds a pending push before answering `waiting`. Released duo_unix lets a user in
 * after 20 non-final replies (duo-compat §3.9), so a push's whole life must fit in far fewer: at least 20 s,
 * and long enough that the longest allowed push lifetime takes at most 12 holds.
 */
export function statusHoldMs(deps: Pick<Deps, "policy">): number {
  return Math.max(20_000, Math.ceil((deps.policy.push.lifetimeSeconds * 1000) / 12));
}

export type StatusLookup = { found: false } | { found: true; outcome: AuthOutcome };

/**
 * The state of a login transaction for the integration that started it (§3.8, §3.9). A push's first poll
 * answers at once (it carries the code to type); later polls wait until the push ends or `holdMs` passes.
 * A passcode transaction is already final: its outcome is read from the authentication log. A push's outcome
 * was decided once, by the completion gate when it was answered (A4); a gate refusal says why.
 */
export async function readAuthStatus(
  deps: Deps,
  input: {
    txid: string;
    application: Application;
    holdMs: number;
    signal?: AbortSignal;
    /** Called with the hold's length just before a pending push is waited for. */
    onWait?: (ms: number) => void;
  },
): Promise<StatusLookup> {
  const push = await deps.store.getPushTransaction(input.txid);
  if (push) {
    if (push.applicationId !== input.application.id) return { found: false };
    const code = openPushCode(deps, push);
    let status: PushStatus = push.status;
    if (status === "pending" && push.expiresAt <= deps.clock.now())
      status = await waitForPush(deps, push.id, { timeoutMs: 0 });
    else if (status === "pending" && !(await deps.store.markPushAnnounced(push.id, deps.clock.now()))) {
      input.onWait?.(input.holdMs);
      status = await waitForPush(deps, push.id, {
        timeoutMs: input.holdMs,
        ...(input.signal ? { signal: input.signal } : {}),
      });
    }
    if (status === "denied") {
      // Refused by the completion gate although the number was right: say why, as the log does (A4).
      const entry = await deps.store.findAuthLogByTxid(push.id);
      const retryAt =
        entry?.reason === "locked_out" || entry?.reason === "rate_delayed"
          ? await lockedUntil(deps, push.userId)
          : null;
      if (entry && (retryAt !== null || entry.reason === "user_disabled" || GATE_MESSAGES[entry.reason])) {
        const message =
          retryAt !== null
            ? passcodeDenyMessage(retryAt, deps.clock.now())
            : entry.reason === "user_disabled"
              ? AUTH_MESSAGES.disabled
              : GATE_MESSAGES[entry.reason]!;
        return { found: true, outcome: { result: "deny", status: "deny", message, factor: "push" } };
      }
    }
    return { found: true, outcome: pushOutcome(status, code) };
  }
  const entry = await deps.store.findAuthLogByTxid(input.txid);
  if (!entry || entry.applicationId !== input.application.id) return { found: false };
  if (entry.result === "deny" && Object.hasOwn(IMMEDIATE_DENIALS, entry.reason))
    return { found: true, outcome: immediateOutcome(entry.reason as ImmediateDenial, entry.factor) };
  const retryAt =
    entry.result === "deny" && (entry.reason === "locked_out" || entry.reason === "rate_delayed")
      ? await lockedUntil(deps, entry.userId)
      : null;
  return {
    found: true,
    outcome: passcodeOutcome({ ...entry, retryAt }, deps.clock.now()),
  };
}

/** The latest time any of the user's locked or delayed factor classes takes attempts again (at least now + 1 ms). */
async function lockedUntil(deps: Deps, userId: string | null): Promise<number> {
  const now = deps.clock.now();
  let until = now + 1;
  for (const state of userId ? await deps.store.listLockouts(userId) : []) {
    const d = evaluateLockout(state, now, deps.policy.lockout);
    if (!d.allowed) until = Math.max(until, d.retryAt);
  }
  return until;
}

/** Find the user a request names: `user_id` (exact) or `username` (any spelling, alias or e-mail). */
export async function findLoginUser(
  deps: Deps,
  by: { userId?: string | undefined; username?: string | undefined },
): Promise<User | undefined> {
  if (by.userId !== undefined) return deps.store.getUser(by.userId);
  if (by.username !== undefined) return findUser(deps, by.username);
  return undefined;
}

export type EnrollmentResult =
  | { enrolled: true; user: User; ticket: DeviceActivationTicket }
  /** The integration's policy does not allow enrolment through the API. */
  | { enrolled: false; reason: "not_allowed" }
  /** Too many enrolments in the window, or too many waiting for activation: try again after this long. */
  | { enrolled: false; reason: "rate_limited" | "too_many_pending"; retryAfterSeconds: number };

/**
 * Auth API enrolment (§3.4): a new user (named, or given a generated name) and a Twofold Authenticator
 * activation for them. A name already taken is refused: enrolment never hands out access to an existing user.
 *
 * Only where the integration's policy allows it (G), and within limits per integration: at most
 * `ratePerWindow` enrolments in any sliding `rateWindowSeconds`, and at most `maxPending` neither activated
 * nor expired. The integration's enrolments are counted and made one at a time on every node (its enrolment
 * lock is held by the transaction), so neither limit can be overrun by parallel requests.
 */
export async function enrollNewUser(
  deps: Deps,
  actor: { name: string; ip?: string | null },
  input: { application: Application; username?: string | undefined; validSeconds: number },
): Promise<EnrollmentResult> {
  const { application } = input;
  if (application.policy.allowEnrollment !== true) return { enrolled: false, reason: "not_allowed" };
  const limits = deps.policy.apiEnrollment;
  const rule = { limit: limits.ratePerWindow, windowSeconds: limits.rateWindowSeconds };
  const key = `enroll:${application.id}`;
  const now = deps.clock.now();
  return deps.store.transaction(async (store): Promise<EnrollmentResult> => {
    const tx: Deps = { ...deps, store };
    const pending = await store.lockPendingAPIEnrollments(application.id, now);
    const { current, previous } = windowsToRead(now, rule);
    const counts = await store.readThrottleCounts([key], previous);
    const count = (start: number) => counts.find((c) => c.windowStart === start)?.count ?? 0;
    const rate = decideThrottle(now, rule, count(current), count(previous));
    if (!rate.allowed)
      return { enrolled: false, reason: "rate_limited", retryAfterSeconds: rate.retryAfterSeconds };
    if (pending.count >= limits.maxPending)
      return {
        enrolled: false,
        reason: "too_many_pending",
        retryAfterSeconds: Math.max(1, Math.ceil(((pending.nextExpiry ?? now) - now) / 1000)),
      };
    await store.addThrottleEvents([{ key, windowStart: current }]);
    const username = input.username ?? `user-${randomHex(5)}`;
    const created = await createUser(tx, actor, { username });
    const ticket = await createDeviceActivation(tx, actor, created.id, { validSeconds: input.validSeconds });
    await store.insertAPIEnrollment({
      userId: created.id,
      applicationId: application.id,
      activationId: ticket.activationId,
      createdAt: now,
      expiresAt: ticket.expiresAt,
    });
    return { enrolled: true, user: (await store.getUser(created.id))!, ticket };
  });
}

/**
 * Housekeeping: delete Auth API enrolments that expired without being activated, and the users they created
 * unless something was set up for them since (a device, an authenticator app or a token). Returns how many
 * users were deleted. Safe to run on several nodes at once.
 */
export async function deleteExpiredEnrollments(deps: Deps): Promise<number> {
  return deps.store.deleteExpiredAPIEnrollments(deps.clock.now());
}

/** Whether an enrolment's activation was used (§3.5): `success`, still `waiting`, or `invalid`. */
export async function readActivationStatus(
  deps: Deps,
  input: { userId: string; token: string },
): Promise<"success" | "waiting" | "invalid"> {
  const [id, secret] = input.token.split(".");
  if (!id || !secret) return "invalid";
  const activation = await deps.store.getDeviceActivation(id);
  if (
    !activation ||
    activation.userId !== input.userId ||
    !deps.keyring.verifyCodeHash(secret, id, activation.secretHash)
  )
    return "invalid";
  if (activation.usedAt !== null) return "success";
  return activation.expiresAt > deps.clock.now() ? "waiting" : "invalid";
}
