// The login prompt's steps on a login session: which methods, push with number matching, passcodes, the code back to the application.

import { allowsMethod, effectivePolicy } from "../application-policy.ts";
import { randomHex, sha256Hex } from "../crypto/index.ts";
import type { Deps } from "../deps.ts";
import { TwofoldError } from "../errors.ts";
import type { Application, AuthFactor, LoginSession, PushStatus, User } from "../model.ts";
import { displayMaskedNumber } from "../phone-number.ts";
import { checkEnrollmentEligibility, type EnrollmentEligibility } from "./enrollment-eligibility.ts";
import { frameAuthResponse, isFrameLogin } from "./frame-login.ts";
import { checkLoginThrottle, countFailedLogin } from "./login-throttle.ts";
import { CODE_LIFETIME_SECONDS, errorRedirectURL, LOGIN_IDLE_SECONDS } from "./oidc.ts";
import { countPromptActivation } from "./prompt-activation-limit.ts";
import {
  cancelPush,
  createDeviceActivation,
  type DeviceActivationTicket,
  openPushCode,
  startPush,
  waitForPush,
} from "./push.ts";
import { listSMSPhones } from "./sms-passcodes.ts";
import {
  checkTrustedBrowser,
  offerTrustAfterAllow,
  offerTrustBrowser,
  type TrustedBrowserCheck,
  type TrustedBrowserGrant,
  trustBrowser,
} from "./trusted-browsers.ts";
import { type PasscodeOutcome, verifyPasscode } from "./verify-passcode.ts";

/** A login session as the prompt shows it. */
export interface PromptLogin {
  session: LoginSession;
  application: Application;
  /** Undefined when the application named nobody we know. */
  user: User | undefined;
  /** Past its idle or maximum expiry: only "Return to {app}" is left. */
  expired: boolean;
  /** The user's first second factor as read with the user (null: never had one); undefined when not read. */
  firstFactorAt?: number | null;
}

/** Whether a login read earlier is the one behind `handle` (the stored hash of a handle is no secret). */
function isLoginOf(login: PromptLogin, handle: string): boolean {
  return login.session.handleHash === sha256Hex(handle);
}

/** The methods a prompt offers, in the order of spec/ux.md §2 ("strongest first"). */
export const PROMPT_METHODS = ["webauthn", "push", "passcode"] as const;
export type PromptMethod = (typeof PROMPT_METHODS)[number] | (string & {});

/**
 * The login behind a prompt handle, or undefined for a link that names none (bad link). An active login's idle
 * expiry moves forward (`touch`, the default): every page view and action keeps it alive for another 10 minutes.
 */
export async function openPromptLogin(
  deps: Deps,
  handle: string,
  options: { touch?: boolean; user?: boolean } = {},
): Promise<PromptLogin | undefined> {
  if (!/^[0-9a-f]{32}$/.test(handle)) return undefined;
  // One read: the session, its application and (unless `user: false`, for a step that needs no user record) its user.
  const read = await deps.store.getPromptLogin(sha256Hex(handle), options.user !== false);
  if (!read) return undefined;
  const { session, application, user, userFirstFactorAt } = read;
  const now = deps.clock.now();
  let expired = session.expiresAt <= now || session.maxExpiresAt <= now;
  if (!expired && options.touch !== false && (session.status === "pending" || session.status === "allowed"))
    expired = !(await deps.store.touchLoginSession(session.id, now + LOGIN_IDLE_SECONDS * 1000, now));
  return {
    session,
    application,
    user,
    expired,
    ...(user && userFirstFactorAt !== undefined ? { firstFactorAt: userFirstFactorAt } : {}),
  };
}

/**
 * The login the same request has just allowed, as the prompt's next steps (trust offer, backup offer, the code)
 * see it, so that they do not read it back: undefined unless `allowed` is that login behind this handle, allowed,
 * with its user. Each step still decides with its own conditional write (the code: issued once, to an allowed
 * login), and every offer is checked again with fresh reads when the user takes it.
 */
export function allowedPromptLogin(
  handle: string,
  allowed: PromptLogin | undefined,
): PromptLogin | undefined {
  if (!allowed?.user || allowed.session.status !== "allowed" || allowed.session.authTxid === null)
    return undefined;
  return isLoginOf(allowed, handle) ? allowed : undefined;
}

/** The login session behind a handle alone (no application, no user): for steps that decide on the session. */
async function promptSession(deps: Deps, handle: string): Promise<LoginSession | undefined> {
  if (!/^[0-9a-f]{32}$/.test(handle)) return undefined;
  return deps.store.getLoginSessionByHandle(sha256Hex(handle));
}

export async function requireLogin(
  deps: Deps,
  handle: string,
  options: { user?: boolean } = {},
): Promise<PromptLogin> {
  // Read, not touched: the page that posted here kept the login alive; the step below re-checks it in its write.
  const login = await openPromptLogin(deps, handle, { touch: false, ...options });
  if (!login || login.expired || login.session.status !== "pending")
    throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended");
  return login;
}

/** A login read earlier in the request, as requireLogin would accept it. */
function pendingLogin(login: PromptLogin, now: number): PromptLogin {
  const { session } = login;
  if (session.expiresAt <= now || session.maxExpiresAt <= now || session.status !== "pending")
    throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended");
  return login;
}

export interface PromptMethods {
  /** Active Twofold Authenticator devices (names as the user gave them). */
  pushDevices: string[];
  /** Something to type in "Enter a passcode": an app or token, a live bypass code, unused rescue codes. */
  passcode: boolean;
  /** The transports of each active WebAuthn key (as reported at registration): which entries to offer. */
  webauthnKeys: string[][];
  /** Methods the application allows (its policy); seam for per-application method lists. */
  allowed: readonly PromptMethod[];
  /** The number text-message passcodes go to, masked (`+852 •••• 5678`); absent when SMS is not offered (E2). */
  smsPhone?: string;
}

/**
 * The methods the application allows. Every application allows push and passcodes today; the per-application
 * method list (policy) narrows this list here, so Other options shows only what both the user has and the
 * application allows.
 */
export function allowedPromptMethods(application: Application): readonly PromptMethod[] {
  const passcodeMethods = ["passcode-app", "token", "bypass", "rescue", "sms"] as const;
  return PROMPT_METHODS.filter((m) =>
    m === "push" || m === "webauthn"
      ? allowsMethod(application.policy, m)
      : passcodeMethods.some((p) => allowsMethod(application.policy, p)),
  );
}

/** What the user has and the application allows (Other options, ux.md §2.1). */
export async function listPromptMethods(deps: Deps, login: PromptLogin): Promise<PromptMethods> {
  const allowed = allowedPromptMethods(login.application);
  if (!login.user || login.user.status === "disabled")
    return { pushDevices: [], passcode: false, webauthnKeys: [], allowed };
  const userId = login.user.id;
  const now = deps.clock.now();
  const [devices, otp, bypass, rescue, keys, smsPhones] = await Promise.all([
    deps.store.listDevices(userId),
    deps.store.listUsableOTPCredentials(userId),
    deps.store.listLiveBypassCodes(userId, now),
    deps.store.listUnusedRescueCodes(userId),
    deps.store.listWebAuthnCredentials(userId),
    // The same list the Auth API's preauth offers (gateway, policy, not an administrator, never the only factor).
    listSMSPhones(deps, login.user, login.application),
  ]);
  const webauthnKeys =
    allowed.includes("webauthn") && deps.webauthn
      ? keys.filter((k) => k.status === "active").map((k) => k.transports)
      : [];
  const pushDevices = allowed.includes("push")
    ? devices.filter((d) => d.status === "active").map((d) => d.name)
    : [];
  const passcode =
    allowed.includes("passcode") &&
    ((otp.some((c) => c.kind === "app") && allowsMethod(login.application.policy, "passcode-app")) ||
      (otp.some((c) => c.kind === "token") && allowsMethod(login.application.policy, "token")) ||
      (bypass.length > 0 && allowsMethod(login.application.policy, "bypass")) ||
      (rescue.length > 0 && allowsMethod(login.application.policy, "rescue")));
  const smsNumber = smsPhones[0] ? (await deps.store.getPhone(smsPhones[0].id))?.number : null;
  const smsPhone = smsNumber ? displayMaskedNumber(smsNumber) : undefined;
  return { pushDevices, passcode, webauthnKeys, allowed, ...(smsPhone ? { smsPhone } : {}) };
}

export type PromptPush =
  | { sent: true; txid: string; code: string; expiresAt: number; status: PushStatus; reused: boolean }
  | {
      sent: false;
      reason:
        | "no_devices"
        | "push_suspended"
        | "push_pending"
        | "rate_limited"
        | "too_many_since_success"
        | "locked_out"
        | "unknown_user"
        | "application_disabled"
        | "verified_push_required"
        | "push_not_allowed";
    };

/**
 * Send the login's push (verified: the page shows the number to type in the app, D1), or show the one already
 * waiting: a reload reuses a pending push; `again` (Send again) cancels it and sends a new one. The push is
 * bound to the session, so its approval completes this login in the answer's transaction (answerPush).
 */
export async function sendPromptPush(
  deps: Deps,
  handle: string,
  options: { ip: string | null; again?: boolean },
): Promise<PromptPush> {
  const { session, application } = await requireLogin(deps, handle);
  if (session.pushTxid) {
    const current = await deps.store.getPushTransaction(session.pushTxid);
    const live = current?.status === "pending" && current.expiresAt > deps.clock.now();
    if (current && live && !options.again) {
      const code = openPushCode(deps, current);
      if (code)
        return {
          sent: true,
          txid: current.id,
          code,
          expiresAt: current.expiresAt,
          status: "pending",
          reused: true,
        };
    }
    if (current && live) await cancelPush(deps, current.id);
  }
  const started = await startPush(deps, {
    username: session.username,
    application,
    ip: options.ip ?? session.ip,
    verified: true,
  });
  if (!started.started) return { sent: false, reason: started.reason };
  if (!(await deps.store.setLoginSessionPush(session.id, started.txid, deps.clock.now()))) {
    await cancelPush(deps, started.txid);
    throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended");
  }
  return {
    sent: true,
    txid: started.txid,
    code: started.code!.reveal(),
    expiresAt: started.expiresAt,
    status: "pending",
    reused: false,
  };
}

/** Why a push ended without a login, as the prompt explains it (ux.md §2.2). */
export type PushOutcome =
  | "approved"
  | "pending"
  | "expired"
  | "denied"
  | "wrong_number"
  | "fraud"
  | "cancelled"
  | "locked"
  | "account_disabled"
  | "not_allowed";

export interface PromptPushState {
  txid: string;
  code: string | null;
  expiresAt: number;
  outcome: PushOutcome;
  /** The login itself: `allowed` once the approval went through the completion gate. */
  loginStatus: LoginSession["status"];
}

const GATE_OUTCOME: Record<string, PushOutcome> = {
  wrong_push_code: "wrong_number",
  push_denied: "denied",
  push_fraud: "fraud",
  push_cancelled: "cancelled",
  locked_out: "locked",
  rate_delayed: "locked",
  user_disabled: "account_disabled",
  user_deleted: "account_disabled",
  application_disabled: "not_allowed",
  application_deleted: "not_allowed",
  factor_not_allowed: "not_allowed",
  plain_push_not_allowed: "not_allowed",
};

async function pushState(
  deps: Deps,
  session: LoginSession,
  status: PushStatus,
): Promise<PromptPushState | undefined> {
  if (!session.pushTxid) return undefined;
  const push = await deps.store.getPushTransaction(session.pushTxid);
  if (!push) return undefined;
  let outcome: PushOutcome;
  if (status === "approved") {
    // Approved in the app, but the completion gate may still have refused the login (A4).
    outcome = session.status === "pending" ? "denied" : "approved";
  } else if (status === "denied" || status === "fraud") {
    const line = await deps.store.findAuthLogByTxid(push.id);
    outcome = status === "fraud" ? "fraud" : (GATE_OUTCOME[line?.reason ?? ""] ?? "denied");
  } else outcome = status;
  return {
    txid: push.id,
    code: status === "pending" ? openPushCode(deps, push) : null,
    expiresAt: push.expiresAt,
    outcome,
    loginStatus: session.status,
  };
}

/** The login's push now: its number while pending, else how it ended (wrong number, fraud, gate refusal …). */
export async function readPromptPush(deps: Deps, handle: string): Promise<PromptPushState | undefined> {
  const login = await openPromptLogin(deps, handle, { touch: false });
  if (!login?.session.pushTxid) return undefined;
  const push = await deps.store.getPushTransaction(login.session.pushTxid);
  if (!push) return undefined;
  const status: PushStatus =
    push.status === "pending" && push.expiresAt <= deps.clock.now() ? "expired" : push.status;
  // The approval and the session's allow commit together: a session read before that commit is read again.
  const session =
    status === "approved" && login.session.status === "pending"
      ? ((await deps.store.getLoginSession(login.session.id)) ?? login.session)
      : login.session;
  return pushState(deps, session, status);
}

/**
 * Wait (up to `timeoutMs`, or until `signal`) for the login's push to end, as any node records it, then read
 * its state. Used by the live event stream and by the no-script **Continue** button.
 */
export async function waitPromptPush(
  deps: Deps,
  handle: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<PromptPushState | undefined> {
  const login = await openPromptLogin(deps, handle, { touch: false });
  if (!login?.session.pushTxid) return undefined;
  await waitForPush(deps, login.session.pushTxid, options);
  return readPromptPush(deps, handle);
}

export type PromptPasscodeResult =
  | {
      result: "allow";
      /** The factor the code belonged to (`sms` for a text-message code). */
      factor: AuthFactor;
      /** With `finish`: where the browser goes now. */
      finished?: FinishedLogin;
      /** The login as this allow left it (see allowedPromptLogin), when the caller handed in the login it read. */
      login?: PromptLogin;
    }
  | { result: "deny"; outcome: PasscodeOutcome }
  | { result: "throttled"; retryAfterSeconds: number };

/**
 * "Enter a passcode" in the prompt: the one passcode check (verifyPasscode), bound to this login so its allow
 * completes the session in the same transaction; the login throttles apply as on every entry point (A6).
 */
export async function verifyPromptPasscode(
  deps: Deps,
  handle: string,
  input: {
    passcode: string;
    ip: string | null;
    /**
     * Nothing is left to ask after an allow (finishesWithAllow): the allow's own write also issues the login's code,
     * and the answer says where the browser goes. A login that needs finishLogin's other steps (the iframe SDK, a
     * push to cancel) is finished by it after the allow instead.
     */
    finish?: boolean;
    /**
     * With `login`: finish when nothing is left to ask (finishesWithAllow); `keyOffer` says whether this browser could
     * be offered "Add a key" (it has a built-in authenticator and has not been offered one this month).
     */
    keyOffer?: boolean;
    /** The login as the same request just read it (the form's page): not read again. */
    login?: PromptLogin;
  },
): Promise<PromptPasscodeResult> {
  // The user is found by name in the passcode check itself. A login the request has already read is checked as
  // requireLogin would; the allow's conditional write checks it again (still pending, unexpired).
  const login =
    input.login && isLoginOf(input.login, handle)
      ? pendingLogin(input.login, deps.clock.now())
      : await requireLogin(deps, handle, { user: false });
  const { session, application } = login;
  const source = { application, ip: input.ip, peer: input.ip };
  const throttle = await checkLoginThrottle(deps, source);
  if (!throttle.allowed) return { result: "throttled", retryAfterSeconds: throttle.retryAfterSeconds };
  // The code (128 random bits, stored hashed, 60 s) issued by the allow itself: once, by that conditional write.
  const finish =
    input.finish === true ||
    (input.login !== undefined &&
      input.keyOffer !== undefined &&
      finishesWithAllow(deps, login, input.keyOffer));
  const code = finish && session.pushTxid === null && !isFrameLogin(session) ? randomHex(16) : undefined;
  const outcome = await verifyPasscode(deps, {
    username: session.username,
    passcode: input.passcode,
    application,
    ip: input.ip,
    loginSessionId: session.id,
    ...(code
      ? {
          loginSessionCode: {
            hash: sha256Hex(code),
            expiresAt: deps.clock.now() + CODE_LIFETIME_SECONDS * 1000,
          },
        }
      : {}),
  });
  if (outcome.result === "allow") {
    // What the allow's conditional write made of the session, without reading it back.
    const allowed: PromptLogin = {
      ...login,
      session: {
        ...session,
        status: code ? "code_issued" : "allowed",
        factor: outcome.factor,
        authTxid: outcome.txid,
        authAt: deps.clock.now(),
      },
    };
    if (code)
      return {
        result: "allow",
        factor: outcome.factor,
        finished: { redirectURL: codeRedirectURL(session, code) },
      };
    if (!finish)
      return { result: "allow", factor: outcome.factor, ...(input.login ? { login: allowed } : {}) };
    return { result: "allow", factor: outcome.factor, finished: await finishLogin(deps, allowed) };
  }
  await countFailedLogin(deps, source);
  return { result: "deny", outcome };
}

/**
 * The browser goes back to the application with a code: once, for a login the completion gate allowed. The
 * code (128 random bits) is stored hashed and lives 60 s; a push still waiting is cancelled.
 */
export async function finishPromptLogin(
  deps: Deps,
  handle: string,
  allowed?: PromptLogin,
): Promise<FinishedLogin> {
  const login =
    allowedPromptLogin(handle, allowed) ??
    (await openPromptLogin(deps, handle, { touch: false, user: false }));
  if (login?.session.status !== "allowed")
    throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login is not ready to finish");
  return finishLogin(deps, login);
}

/** Issue the code of an allowed login (one conditional write: once per login) and build the way back. */
/** How a finished login goes back: a redirect with the code, or (iframe SDK) an AUTH message for the parent page. */
export interface FinishedLogin {
  /** OIDC: the redirect URI with the code and state; "" for a frame login. */
  redirectURL: string;
  frame?: { parentOrigin: string; message: string };
}

async function finishLogin(deps: Deps, login: PromptLogin): Promise<FinishedLogin> {
  const { session } = login;
  const code = randomHex(16);
  const now = deps.clock.now();
  if (
    !(await deps.store.issueLoginSessionCode(session.id, sha256Hex(code), now + CODE_LIFETIME_SECONDS * 1000))
  )
    throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login already finished");
  if (session.pushTxid && session.factor !== "push") {
    const push = await deps.store.getPushTransaction(session.pushTxid);
    if (push?.status === "pending") await cancelPush(deps, push.id);
  }
  // Iframe SDK: the code marks the login finished (it is never handed out); the parent page gets AUTH instead.
  if (isFrameLogin(session))
    return { redirectURL: "", frame: frameAuthResponse(deps, session, login.application) };
  return { redirectURL: codeRedirectURL(session, code) };
}

/** The redirect URI with the code (`duo_code` unless the application asked for `code`) and the state (§4.4). */
function codeRedirectURL(session: LoginSession, code: string): string {
  const url = new URL(session.redirectURI);
  url.searchParams.set(session.useDuoCode ? "duo_code" : "code", code);
  url.searchParams.set("state", session.state);
  return url.toString();
}

/**
 * Whether a typed passcode's allow of this login (read in this request, with its user) leaves nothing to ask, so
 * that the allow can issue the code itself (verifyPromptPasscode's `finish`): the application remembers no browsers
 * (no "Trust this browser?"), the user's first factor is older than the login (no backup offer), and the browser
 * will not be offered a key (`keyOffer`: it could be). Conservative: where this says false, the offers decide after
 * the allow as before.
 */
export function finishesWithAllow(deps: Deps, login: PromptLogin, keyOffer: boolean): boolean {
  const s = login.session;
  if (!login.user || s.pushTxid !== null || isFrameLogin(s) || (keyOffer && deps.webauthn)) return false;
  const first = login.firstFactorAt;
  if (first === undefined || (first !== null && first >= s.createdAt)) return false;
  return effectivePolicy(deps.policy, login.application).rememberDays === 0;
}

/**
 * "Return to {app}": end a login that has no code yet and send the browser back with an OAuth error
 * (`access_denied`), to the redirect URI the application registered. Expired logins end the same way.
 */
export async function abandonPromptLogin(
  deps: Deps,
  handle: string,
  why: "cancelled" | "expired" | "denied",
): Promise<{ redirectURL: string } | undefined> {
  const login = await openPromptLogin(deps, handle, { touch: false });
  if (!login) return undefined;
  const { session } = login;
  await deps.store.endLoginSession(session.id, why === "denied" ? "denied" : "abandoned");
  if (session.pushTxid) {
    const push = await deps.store.getPushTransaction(session.pushTxid);
    if (push?.status === "pending") await cancelPush(deps, push.id);
  }
  const description = {
    cancelled: "The user returned to the application without logging in.",
    expired: "The login page expired.",
    denied: "The login was denied.",
  }[why];
  return {
    redirectURL: errorRedirectURL(
      { error: "access_denied", description },
      session.redirectURI,
      session.state,
    ),
  };
}

// ---------------------------------------------------------------- "Yes, trust this browser" (I5)

/**
 * Arrival with a trusted-browser cookie for this application: the skip completes the login through the completion
 * gate (checkTrustedBrowser, bound to the session). `none`: ask for a factor as usual; `deny`: the gate refused.
 */
export async function skipPromptWithTrustedBrowser(
  deps: Deps,
  handle: string,
  input: { token: string | undefined; ip: string | null },
): Promise<TrustedBrowserCheck> {
  const { session, application, user } = await requireLogin(deps, handle);
  if (!user || isFrameLogin(session)) return { result: "none", reason: "absent" };
  return checkTrustedBrowser(deps, {
    token: input.token,
    user,
    username: session.username,
    application,
    ip: input.ip,
    loginSessionId: session.id,
  });
}

/**
 * Offer "Trust this browser?" after this login's allow: for how many days, or null (not after a code, not in a
 * frame). `allowed`: the login the same request has just allowed (allowedPromptLogin), decided without reads; the
 * offer is checked again, with reads, when the user takes it (trustPromptBrowser).
 */
export async function offerPromptTrust(
  deps: Deps,
  handle: string,
  allowed?: PromptLogin,
): Promise<{ days: number } | null> {
  const known = allowedPromptLogin(handle, allowed);
  if (known) {
    const s = known.session;
    const now = deps.clock.now();
    if (s.expiresAt <= now || s.maxExpiresAt <= now || !s.userId || isFrameLogin(s) || !known.user)
      return null;
    return offerTrustAfterAllow(deps, { application: known.application, user: known.user, factor: s.factor });
  }
  // The session decides; offerTrustBrowser reads the application and the user it needs.
  const s = await promptSession(deps, handle);
  const now = deps.clock.now();
  const expired = !s || s.expiresAt <= now || s.maxExpiresAt <= now;
  if (!s || expired || s.status !== "allowed" || !s.userId || !s.authTxid || isFrameLogin(s)) return null;
  return offerTrustBrowser(deps, { userId: s.userId, applicationId: s.applicationId, txid: s.authTxid });
}

/** "Yes, trust browser": the record and the cookie's value; the login then finishes as usual. */
export async function trustPromptBrowser(
  deps: Deps,
  handle: string,
  input: { userAgent: string | null; ip: string | null },
): Promise<TrustedBrowserGrant> {
  const login = await openPromptLogin(deps, handle, { touch: false });
  const s = login?.session;
  if (!s || login.expired || s.status !== "allowed" || !s.userId || !s.authTxid || isFrameLogin(s))
    throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login cannot trust its browser now");
  return trustBrowser(deps, {
    userId: s.userId,
    applicationId: s.applicationId,
    txid: s.authTxid,
    userAgent: input.userAgent,
    ip: input.ip,
  });
}

// ---------------------------------------------------------------- enrolment in the prompt (G1, CISA AA22-074A)

/**
 * May this login's user set up a second factor here? Only where the application's new-user policy is `enroll` and
 * the user never had a factor (a user whose factors were removed or went dormant must be reset by an administrator).
 */
export async function promptEnrollment(deps: Deps, handle: string): Promise<EnrollmentEligibility> {
  const { session, application, user } = await requireLogin(deps, handle);
  if (!user || isFrameLogin(session)) return { eligible: false, reason: "policy" };
  return checkEnrollmentEligibility(deps, { username: session.username, application });
}

/**
 * Start the Twofold Authenticator's activation for an eligible user (the existing single-use QR activation, 10
 * minutes). Once activated, the login goes on with a push as usual, through the completion gate.
 */
export async function startPromptEnrollment(
  deps: Deps,
  handle: string,
  input: { ip: string | null },
): Promise<DeviceActivationTicket> {
  const eligibility = await promptEnrollment(deps, handle);
  const { session } = await requireLogin(deps, handle);
  if (!eligibility.eligible || !session.userId)
    throw new TwofoldError("ERR_POLICY", "this user may not enrol here", {
      detail: JSON.stringify(eligibility),
    });
  await countPromptActivation(deps, session.id);
  return createDeviceActivation(deps, { name: "prompt-enrolment", ip: input.ip }, session.username);
}
