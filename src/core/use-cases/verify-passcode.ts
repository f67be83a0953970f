// The one passcode use case: whatever was typed (app code, token code, SMS code, bypass or rescue code), find out which and verify it once.

import { allowsMethod, effectivePolicy } from "../application-policy.ts";
import {
  completeAuthentication,
  completeAuthenticationOnPresumedState,
  type GateDenyReason,
} from "../completion-gate.ts";
import { randomBytes, randomHex, timeOrderedId } from "../crypto/index.ts";
import { audit, type Deps } from "../deps.ts";
import { TwofoldError } from "../errors.ts";
import { evaluateLockout, minutesUntil } from "../lockout.ts";
import type { Application, AuthFactor, FactorClass, User } from "../model.ts";
import { generateHOTP } from "../otp/hotp.ts";
import { classifyPasscode } from "../passcode.ts";
import type { LoginSessionCode } from "../ports.ts";
import { canonicalizeEmail } from "../username.ts";
import { type LoginCache, loginCacheOf } from "./login-cache.ts";
import { notify } from "./notify.ts";
import { clampDrift, matchOTP } from "./otp-credentials.ts";
import { hasLiveLoginCode, matchLoginSMSCode, reportLoginCodeUsed } from "./sms-passcodes.ts";
import { findUser, resolveIdentifier } from "./users.ts";

export interface PasscodeAttempt {
  username: string;
  passcode: unknown;
  application?: Application | null;
  ip?: string | null;
  /** Transaction id to log under (generated when absent). */
  txid?: string;
  /**
   * A prompt login this passcode completes: on an allow, the session moves to `allowed` in the same transaction
   * as the code's one-time write and the completion gate's log line. A session that has ended (expired, other
   * user, already completed) rolls the whole attempt back with ERR_LOGIN_SESSION_ENDED: the code stays unused.
   */
  loginSessionId?: string;
  /** With loginSessionId: the login's code, issued by the allow's own write (Store.allowLoginSession's `code`). */
  loginSessionCode?: LoginSessionCode;
  /**
   * The user the caller has just found by this name (findLoginUser), so that it is not looked up twice. The
   * transaction re-reads it all the same (deleted, disabled: the completion gate decides).
   */
  user?: User | undefined;
  /**
   * Log a user found by this name under their canonical name rather than as typed (the Auth API: the name given may
   * be an alias or an e-mail address). An unknown name is logged as typed either way.
   */
  logCanonicalName?: boolean;
}

/**
 * Why a passcode was refused: for operators and logs. Clients see one generic deny (A5), except that a locked
 * or delayed factor says when to try again — the same words for a right and a wrong code.
 */
export type DenyReason =
  | "unknown_user"
  | "user_disabled"
  | "malformed_passcode"
  | "invalid_passcode"
  | "replayed_passcode"
  | "locked_out"
  | "rate_delayed"
  | "concurrent_attempt"
  | "factor_not_allowed"
  | GateDenyReason;

export type PasscodeOutcome =
  | {
      result: "allow";
      factor: AuthFactor;
      userId: string;
      txid: string;
      reason: "valid_passcode";
      /** The credential or code record that matched (never the code). */
      matchedId: string;
      /** Bypass codes: uses left after this one (null = unlimited). */
      usesLeft?: number | null;
    }
  | {
      result: "deny";
      factor: AuthFactor;
      userId: string | null;
      txid: string;
      reason: DenyReason;
      /** Locked or delayed: when the factor takes attempts again (decided before any code is checked). */
      retryAt?: number;
    };

/**
 * The user-facing words for each outcome. Unknown user and wrong code read the same; a locked or delayed factor
 * says when to come back, whatever was typed (A5: a right and a wrong code get the same answer).
 */
export const PASSCODE_MESSAGES = {
  allow: "Success. Logging you in...",
  deny: "Incorrect passcode. Please try again.",
  tooManyAttempts: (minutes: number) =>
    `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
};

/** The words for a denied passcode: "try again in N minutes" while its factor is locked or delayed. */
export function passcodeDenyMessage(retryAt: number | null | undefined, now: number): string {
  return retryAt == null
    ? PASSCODE_MESSAGES.deny
    : PASSCODE_MESSAGES.tooManyAttempts(minutesUntil(retryAt, now));
}

const FACTOR_CLASS = {
  otp: "otp",
  bypass: "bypass",
  rescue: "rescue",
  malformed: "otp",
} as const satisfies Record<string, FactorClass>;

/**
 * Verify a passcode for a user who has passed primary authentication in this transaction (C6).
 *
 * Everything after the user lookup happens in one database transaction that first takes the user's
 * lockout row for the passcode's factor class (Store.lockAttemptState). Attempts for one user and class
 * are therefore checked one at a time on every node: parallel guesses can never check more codes than
 * the limit allows (A2), while parallel correct codes (two logins at once, a bypass code used by many
 * requests) are each answered on their merits (L-5, C4).
 *
 * 1. Classify the passcode by shape; its factor class owns the failure counter (A1).
 * 2. Refuse without checking when the class is locked or delayed (evaluateLockout).
 * 3. Verify; on a match, consume it with one conditional write, then complete through the completion gate in
 *    the same transaction: it re-reads user, application, lock and policy, resets the counter and logs the
 *    outcome (A4, B1, C4). A failed conditional write is a replay and a deny.
 * 4. Otherwise count the failure; reaching the limit is audited and the user notified (G3).
 *
 * Before that transaction, an app or token code is first matched against the user's credentials as this node last
 * read them (allowOnCachedState): a match with a clear failure counter is completed by the gate on that state and
 * committed by one conditional statement that applies only if nothing it rested on changed since. Anything else
 * (no match, a change, failures on record) takes the transaction above; no deny is decided on cached state.
 */
export async function verifyPasscode(deps: Deps, attempt: PasscodeAttempt): Promise<PasscodeOutcome> {
  const txid = attempt.txid ?? randomHex(16);
  const now = deps.clock.now();
  const shape = classifyPasscode(attempt.passcode, deps.policy.bypass.digits);
  const factorClass = FACTOR_CLASS[shape.kind];
  const app = attempt.application ?? null;
  // A code of the app-or-token shape: an allow is decided on what this node read before when that still holds
  // (allowOnCachedState; a prompt login's allow is written with it), else in the transaction below. The same code
  // may also be a live text message's: the transaction, too, tries the user's app and token credentials first and
  // completes with the one that matches while the otp class is clear, whatever the text-message code's state.
  const cache =
    shape.kind === "otp" && typeof attempt.username === "string" ? loginCacheOf(deps.store) : undefined;
  let user = attempt.user;
  let cachedName: string | null = null;
  if (!user && typeof attempt.username === "string") {
    const key = resolveIdentifier(deps, attempt.username);
    const cached = key === undefined ? undefined : cache?.users.get(key);
    if (cached && key !== undefined) {
      user = cached;
      cachedName = key;
    } else if (key !== undefined) {
      user = await deps.store.findUserByIdentifier(key, canonicalizeEmail(attempt.username));
      if (cache && user && user.status !== "disabled" && user.usernameCanonical === key)
        cache.users.set(key, user);
    }
  }
  if (cache && user && user.status !== "disabled" && shape.kind === "otp") {
    const outcome = await allowOnCachedState(deps, cache, {
      user,
      cachedName,
      username: loggedName(attempt, user),
      code: shape.value,
      app,
      ip: attempt.ip ?? null,
      txid,
      now,
      loginSessionId: attempt.loginSessionId ?? null,
      loginSessionCode: attempt.loginSessionCode,
    });
    if (outcome) return outcome;
    // Decided below on what the transaction reads: a user from the cache is looked up again.
    if (cachedName !== null) user = await findUser(deps, attempt.username);
  }

  if (!user || user.status === "disabled") {
    burnOTPWork();
    const reason: DenyReason = user ? "user_disabled" : "unknown_user";
    await logAttempt(deps, { user, attempt, app, txid, now, factor: "none", result: "deny", reason });
    return { result: "deny", factor: "none", userId: user?.id ?? null, txid, reason };
  }

  // A code of the text-message length may also be the user's live SMS passcode (E1): the one field takes both,
  // and that code's tries count in its own class, `sms`, whose row is locked second (always in this order). Read
  // before the transaction, so the user's lockout row is not held for it (a text sent meanwhile was not typed yet).
  const smsLive =
    shape.kind === "otp" &&
    shape.value.length === deps.policy.sms.codeDigits &&
    (deps.messaging?.sms.length ?? 0) > 0
      ? await hasLiveLoginCode(deps, user.id)
      : false;

  return deps.store.transaction(async (store) => {
    const tx: Deps = { ...deps, store };
    const state = await store.lockAttemptState(user.id, factorClass);

    const deny = async (
      reason: DenyReason,
      factor: AuthFactor = "none",
      retryAt?: number,
    ): Promise<PasscodeOutcome> => {
      await logAttempt(tx, { user, attempt, app, txid, now, factor, result: "deny", reason });
      return { result: "deny", factor, userId: user.id, txid, reason, ...(retryAt ? { retryAt } : {}) };
    };
    /** Count the failure against every class whose secrets were checked (a typed code may be an app or SMS code). */
    const fail = async (
      reason: DenyReason,
      factor: AuthFactor = "none",
      classes: readonly FactorClass[] = [factorClass],
    ): Promise<PasscodeOutcome> => {
      for (const cls of classes) {
        const failures = await store.recordFailure(user.id, cls, now);
        if (failures === deps.policy.lockout.maxFailures) await recordLock(tx, user, cls, failures);
      }
      return deny(reason, factor);
    };
    const succeed = async (
      factor: AuthFactor,
      matchedId: string,
      consumed: boolean,
      usesLeft?: number | null,
      matchedClass: FactorClass = factorClass,
    ): Promise<PasscodeOutcome> => {
      if (!consumed) return fail("replayed_passcode", factor, [matchedClass]);
      const verdict = await completeAuthentication(tx, {
        userId: user.id,
        username: loggedName(attempt, user),
        applicationId: app?.id ?? null,
        factor,
        factorClass: matchedClass,
        reason: "valid_passcode",
        ip: attempt.ip ?? null,
        txid,
        now,
      });
      if (verdict.result === "deny")
        return {
          result: "deny",
          factor,
          userId: user.id,
          txid,
          reason: verdict.reason,
          ...(verdict.retryAt ? { retryAt: verdict.retryAt } : {}),
        };
      if (
        attempt.loginSessionId !== undefined &&
        !(await store.allowLoginSession(attempt.loginSessionId, user.id, {
          factor,
          txid,
          at: now,
          ...(attempt.loginSessionCode ? { code: attempt.loginSessionCode } : {}),
        }))
      )
        throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended", {
          detail: "the prompt login was no longer pending when its passcode checked out",
        });
      if (factor === "rescue") {
        const remaining = (await store.listUnusedRescueCodes(user.id)).length;
        await notify(tx, user.id, "rescue-code-used", { remaining });
        await audit(
          tx,
          { name: user.usernameCanonical, ip: attempt.ip ?? null },
          {
            action: "rescue.use",
            targetType: "user",
            targetId: user.id,
            after: { codeId: matchedId, remaining },
          },
        );
      }
      return {
        result: "allow",
        factor,
        userId: user.id,
        txid,
        reason: "valid_passcode",
        matchedId,
        ...(usesLeft === undefined ? {} : { usesLeft }),
      };
    };

    const smsState = smsLive ? await store.lockAttemptState(user.id, "sms") : undefined;
    // Deleted since the lookup (read after the lock: SQLite takes its write lock first).
    if (!(await store.getUser(user.id))) return deny("user_deleted");
    const decision = evaluateLockout(state, now, deps.policy.lockout);
    const smsDecision = smsState ? evaluateLockout(smsState, now, deps.policy.lockout) : undefined;
    if (!decision.allowed && !smsDecision?.allowed) {
      burnOTPWork();
      const retryAt =
        smsDecision && !smsDecision.allowed
          ? Math.min(decision.retryAt, smsDecision.retryAt)
          : decision.retryAt;
      return deny(decision.locked ? "locked_out" : "rate_delayed", "none", retryAt);
    }
    if (shape.kind === "malformed") return fail("malformed_passcode");
    // Bypass and rescue codes have their own shape: a code of a method the application leaves out is refused
    // before any is looked at. App and token codes share one; the completion gate refuses those (A4).
    const policy = app && effectivePolicy(deps.policy, app);
    if (shape.kind === "bypass" && policy && !allowsMethod(policy, "bypass"))
      return fail("factor_not_allowed", "bypass");
    if (shape.kind === "rescue" && policy && !allowsMethod(policy, "rescue"))
      return fail("factor_not_allowed", "rescue");

    if (shape.kind === "otp") {
      const checked: FactorClass[] = [];
      if (decision.allowed) checked.push("otp");
      for (const c of decision.allowed ? await store.listUsableOTPCredentials(user.id) : []) {
        const m = matchOTP(deps.keyring, c, shape.value, now, {
          totpWindow: deps.policy.totp.window,
          hotpLookAhead: deps.policy.hotp.lookAhead,
        });
        if (!m) continue;
        const factor: AuthFactor = c.kind === "token" ? "token" : c.type;
        const consumed =
          m.type === "totp"
            ? await store.consumeTOTPStep(
                c.id,
                m.match.step,
                clampDrift(m.match.offset, deps.policy.totp.maxDrift),
              )
            : await store.consumeHOTPCounter(c.id, m.counter);
        return succeed(factor, c.id, consumed);
      }
      if (smsDecision?.allowed) {
        checked.push("sms");
        const code = await matchLoginSMSCode(
          tx,
          user.id,
          app?.id ?? null,
          attempt.loginSessionId ?? null,
          shape.value,
        );
        if (code) {
          const consumed = await store.consumeSMSCode(code.id, now);
          const outcome = await succeed("sms", code.id, consumed, undefined, "sms");
          if (outcome.result === "allow") await reportLoginCodeUsed(tx, code);
          return outcome;
        }
      }
      return fail("invalid_passcode", "none", checked);
    }

    if (shape.kind === "bypass") {
      const live = await store.listLiveBypassCodes(user.id, now);
      const match = live.find((c) => deps.keyring.verifyCodeHash(shape.value, user.id, c.codeHash));
      if (!match) return fail("invalid_passcode", "bypass");
      const used = await store.consumeBypassCode(match.id, now);
      return succeed("bypass", match.id, used !== undefined, used?.usesLeft);
    }

    const unused = await store.listUnusedRescueCodes(user.id);
    const match = unused.find((c) => deps.keyring.verifyCodeHash(shape.value, user.id, c.codeHash));
    if (!match) return fail("invalid_passcode", "rescue");
    return succeed("rescue", match.id, await store.consumeRescueCode(match.id, now));
  });
}

/**
 * The common login, decided without a transaction: the code matched against the user's credentials as this node
 * last read them, the completion gate's decision on the user as found, a clear failure counter and the application
 * as given, and one conditional write (Store.commitOTPAllow: on PostgreSQL one statement, one round trip) that uses
 * the code and logs the allow only if all of that still holds. Undefined when the code matches no cached credential
 * or anything changed since (the cache entries are then dropped): the caller decides in its transaction, as before,
 * and every deny is decided and logged there.
 */
async function allowOnCachedState(
  deps: Deps,
  cache: LoginCache,
  a: {
    user: User;
    cachedName: string | null;
    username: string;
    code: string;
    app: Application | null;
    ip: string | null;
    txid: string;
    now: number;
    loginSessionId: string | null;
    loginSessionCode: LoginSessionCode | undefined;
  },
): Promise<PasscodeOutcome | undefined> {
  const { user, app } = a;
  let credentials = cache.credentials.get(user.id);
  const fresh = credentials === undefined;
  if (!credentials) {
    credentials = await deps.store.listUsableOTPCredentials(user.id);
    cache.credentials.set(user.id, credentials);
  }
  for (const [i, c] of credentials.entries()) {
    const m = matchOTP(
      deps.keyring,
      c,
      a.code,
      a.now,
      { totpWindow: deps.policy.totp.window, hotpLookAhead: deps.policy.hotp.lookAhead },
      cache.codes,
    );
    if (!m) continue;
    // The credential as matched, taken now: the write must find it so, whatever this node does meanwhile.
    const matched = {
      id: c.id,
      secretSealed: c.secretSealed,
      counter: c.counter,
      lastStep: c.lastStep,
      drift: c.drift,
    };
    const next =
      m.type === "totp"
        ? {
            counter: c.counter,
            lastStep: m.match.step,
            drift: clampDrift(m.match.offset, deps.policy.totp.maxDrift),
          }
        : { counter: m.counter + 1, lastStep: c.lastStep, drift: c.drift };
    const factor: AuthFactor = c.kind === "token" ? "token" : c.type;
    const verdict = await completeAuthenticationOnPresumedState(
      deps,
      {
        userId: user.id,
        username: a.username,
        applicationId: app?.id ?? null,
        factor,
        factorClass: "otp",
        reason: "valid_passcode",
        ip: a.ip,
        txid: a.txid,
        now: a.now,
      },
      { userStatus: user.status, application: app },
      (line) =>
        deps.store.commitOTPAllow({
          userId: user.id,
          canonicalName: a.cachedName,
          factorClass: "otp",
          application: app && { id: app.id, updatedAt: app.updatedAt, policy: app.policy },
          credential: matched,
          next,
          line,
          ...(a.loginSessionId === null ? {} : { loginSessionId: a.loginSessionId }),
          ...(a.loginSessionId !== null && a.loginSessionCode
            ? { loginSessionCode: a.loginSessionCode }
            : {}),
        }),
    );
    if (verdict === "stale") {
      cache.forget(user);
      return undefined;
    }
    if (cache.credentials.get(user.id) === credentials) credentials[i] = { ...c, ...next };
    return {
      result: "allow",
      factor,
      userId: user.id,
      txid: a.txid,
      reason: "valid_passcode",
      matchedId: c.id,
    };
  }
  // A credential added since (on any node) is not in a list read before: the next login reads the list again.
  if (!fresh) cache.credentials.delete(user.id);
  return undefined;
}

/** The name an attempt is logged under: as typed, or the user's canonical name where the caller asks for it. */
function loggedName(attempt: PasscodeAttempt, user: User | undefined): string {
  if (attempt.logCanonicalName && user) return user.usernameCanonical;
  return typeof attempt.username === "string" ? attempt.username : "";
}

/** Spend about as much effort as checking a code, so refusals without a check are not faster (A5). */
function burnOTPWork(): void {
  const params = { key: randomBytes(20), algorithm: "SHA1" as const, digits: 6 };
  for (let i = 0; i < 3; i++) generateHOTP(params, i);
}

async function recordLock(deps: Deps, user: User, factorClass: FactorClass, failures: number): Promise<void> {
  await audit(
    deps,
    { name: "system" },
    {
      action: "user.locked_out",
      targetType: "user",
      targetId: user.id,
      after: { factorClass, failures },
    },
  );
  await notify(deps, user.id, "locked-out", { factorClass });
}

async function logAttempt(
  deps: Deps,
  e: {
    user: User | undefined;
    attempt: PasscodeAttempt;
    app: Application | null;
    txid: string;
    now: number;
    factor: AuthFactor;
    result: "deny";
    reason: string;
  },
): Promise<void> {
  await recordAuthAttempt(deps, {
    user: e.user,
    username: loggedName(e.attempt, e.user),
    application: e.app,
    ip: e.attempt.ip ?? null,
    txid: e.txid,
    now: e.now,
    factor: e.factor,
    result: e.result,
    reason: e.reason,
  });
}

/**
 * A name as typed, with control characters written as `\uXXXX`: an attempt with a NUL in the username is logged
 * like any other (PostgreSQL cannot store NUL), and the log line shows what was sent.
 */
function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * One denial in the authentication log: who, through which application, with what, and why. Allows are
 * written by the completion gate only.
 */
export async function recordAuthAttempt(
  deps: Deps,
  e: {
    user: User | undefined;
    /** As given (for unknown users); cut to 256 characters. */
    username: string;
    application: Application | null;
    ip: string | null;
    txid: string;
    now: number;
    factor: AuthFactor;
    result: "deny";
    reason: string;
  },
): Promise<void> {
  await deps.store.appendAuthLog({
    id: timeOrderedId("AL", e.now),
    at: e.now,
    userId: e.user?.id ?? null,
    username: printable(e.username.slice(0, 256)),
    applicationId: e.application?.id ?? null,
    factor: e.factor,
    result: e.result,
    reason: e.reason,
    ip: e.ip,
    txid: e.txid,
    node: deps.nodeName,
  });
}
