// The completion gate: the one place that decides whether an authentication completes, and records the outcome (A4, G1).

import { allowsMethod, effectivePolicy, methodOfFactor } from "./application-policy.ts";
import { timeOrderedId } from "./crypto/index.ts";
import type { Deps } from "./deps.ts";
import { mayEnrollAsNewUser } from "./enrollment-rule.ts";
import { evaluateLockout } from "./lockout.ts";
import type { Application, AuthFactor, FactorClass, GatedAllow, UserStatus } from "./model.ts";
import type { CompletionState } from "./ports.ts";
import { isNameSpokenFor } from "./use-cases/users.ts";

/** A factor that checked out, about to become a login. */
export interface Completion {
  /** Null only for an unknown user an application lets in without a factor (new-user policy `allow`). */
  userId: string | null;
  /** As the login named the user (for the log). */
  username: string;
  applicationId: string | null;
  factor: AuthFactor;
  /**
   * The lockout class of the factor: it must not be locked now, and a success resets its counter (and only
   * its counter, A6). Null where no factor was checked: a user in bypass status, a new user the application lets
   * in (`none`), and a trusted browser (`remembered_device`: nothing was guessed, so someone else's failed guesses
   * do not keep the user out, A6).
   */
  factorClass: FactorClass | null;
  /** Push only: whether the user typed the login's code (number matching, D1). */
  verifiedPush?: boolean;
  /**
   * Why it is an allow (`valid_passcode`, `push_approved`, `bypass_user`, `allow_unenrolled_user`,
   * `remembered_device`).
   */
  reason: string;
  ip: string | null;
  txid: string;
  now: number;
}

/** Why the gate refused a login whose factor checked out: operators read these in the authentication log. */
export type GateDenyReason =
  | "user_deleted"
  | "user_disabled"
  | "application_deleted"
  | "application_disabled"
  | "locked_out"
  | "rate_delayed"
  | "factor_not_allowed"
  | "plain_push_not_allowed"
  | "bypass_status_revoked"
  | "new_user_not_allowed"
  | "enrolled_user";

export type CompletionVerdict =
  | { result: "allow" }
  | { result: "deny"; reason: GateDenyReason; retryAt: number | null };

/**
 * Complete an authentication, inside the caller's transaction (`tx.store` is the transaction; the caller has
 * already made its one-time writes — a consumed code, a resolved push — in it). Re-reads what may have changed
 * since the login started — the user, the application, the factor's lock, the application's policy — and
 * writes the single outcome: an `allow` line (which is also the user's last login) and the reset of the
 * factor's failure counter, or a `deny` line with the reason. Every interface's allow passes through here:
 * passcodes (verifyPasscode), push answers (answerPush) and users in bypass status (preauthenticate).
 */
export async function completeAuthentication(tx: Deps, c: Completion): Promise<CompletionVerdict> {
  // One read: the user, the class's lockout state (its row lock taken, a no-op when the caller holds it: nothing
  // changes it until commit) and the application.
  const state = await tx.store.readCompletionState(c.userId ?? "", c.factorClass, c.applicationId);
  const verdict = await decide(tx, c, state);
  const line = {
    id: timeOrderedId("AL", c.now),
    at: c.now,
    userId: c.userId,
    username: c.username.slice(0, 256),
    applicationId: c.applicationId,
    factor: c.factor,
    ip: c.ip,
    txid: c.txid,
    node: tx.nodeName,
  };
  if (verdict.result === "deny") {
    await tx.store.appendAuthLog({ ...line, result: "deny", reason: verdict.reason });
    return verdict;
  }
  // The line, and the reset of the factor's failure counter (one statement where the database allows).
  await tx.store.appendAuthLog(
    { ...line, result: "allow", reason: c.reason } as GatedAllow,
    c.userId !== null ? (c.factorClass ?? undefined) : undefined,
  );
  return verdict;
}

/**
 * The gate for an OTP login decided on a state the caller presumes instead of re-reading it (read earlier, or
 * cached): the user as found, a clear failure counter, the application as given. The same decision as
 * completeAuthentication's on that state; on allow, `commit` writes the code's one-time write and this allow line
 * in one conditional statement that applies only if that state still holds (Store.commitOTPAllow). Anything but
 * an applied allow is "stale": nothing was written, and the caller takes the ordinary path, which reads
 * everything in its transaction (a deny is always decided and logged there).
 */
export async function completeAuthenticationOnPresumedState(
  deps: Deps,
  c: Completion & { userId: string; factorClass: FactorClass },
  presumed: { userStatus: UserStatus; application: Application | null },
  commit: (line: GatedAllow) => Promise<boolean>,
): Promise<"allow" | "stale"> {
  const state: CompletionState = {
    user: { status: presumed.userStatus },
    lockout: { userId: c.userId, factorClass: c.factorClass, failures: 0, lastFailureAt: null },
    application: c.applicationId === null ? null : (presumed.application ?? undefined),
  };
  if ((await decide(deps, c, state)).result !== "allow") return "stale";
  const line = {
    id: timeOrderedId("AL", c.now),
    at: c.now,
    userId: c.userId,
    username: c.username.slice(0, 256),
    applicationId: c.applicationId,
    factor: c.factor,
    result: "allow",
    reason: c.reason,
    ip: c.ip,
    txid: c.txid,
    node: deps.nodeName,
  } as GatedAllow;
  return (await commit(line)) ? "allow" : "stale";
}

async function decide(tx: Deps, c: Completion, state: CompletionState): Promise<CompletionVerdict> {
  const deny = (reason: GateDenyReason, retryAt: number | null = null): CompletionVerdict => ({
    result: "deny",
    reason,
    retryAt,
  });
  const newUser = c.factor === "none" && c.reason === "allow_unenrolled_user";
  const user = c.userId === null ? undefined : state.user;
  if (c.userId !== null && !user) return deny("user_deleted");
  if (c.userId === null && !newUser) return deny("user_deleted");
  if (user?.status === "disabled") return deny("user_disabled");
  if (c.factorClass === null) {
    if (c.factor === "none" && !newUser && user?.status !== "bypass") return deny("bypass_status_revoked");
  } else if (user && c.userId !== null) {
    const lock = evaluateLockout(
      state.lockout ?? { userId: c.userId, factorClass: c.factorClass, failures: 0, lastFailureAt: null },
      c.now,
      tx.policy.lockout,
    );
    if (!lock.allowed) return deny(lock.locked ? "locked_out" : "rate_delayed", lock.retryAt);
  }
  const app = c.applicationId === null ? undefined : (state.application ?? undefined);
  if (c.applicationId !== null) {
    if (!app) return deny("application_deleted");
    if (app.status === "disabled") return deny("application_disabled");
  }
  // The application's policy as it is now, configuration overrides included (docs/policy.md).
  const policy = app && effectivePolicy(tx.policy, app);
  if (newUser) {
    // Only an application whose policy still says so lets a user in without a factor, and only a user who never
    // had one (a user whose factors were removed must be reset by an administrator, CISA AA22-074A).
    if (policy?.newUserPolicy !== "allow") return deny("new_user_not_allowed");
    // A name let in because nobody had it: nobody has it now either, in this transaction (a user created, or a
    // contested name or shared address recorded, since the caller looked is not a stranger).
    if (c.userId === null && (await isNameSpokenFor(tx, c.username))) return deny("enrolled_user");
    if (user && c.userId !== null && !(await mayEnrollAsNewUser(tx.store, c.userId)))
      return deny("enrolled_user");
    return { result: "allow" };
  }
  if (c.factor === "remembered_device") {
    // A trusted browser skips only where the application remembers browsers now (policy lowered to 0: no skip).
    if (!policy || policy.rememberDays === 0) return deny("factor_not_allowed");
    return { result: "allow" };
  }
  if (policy) {
    // A user in bypass status logs in without a factor: an application that leaves bypass out refuses that too.
    const method = c.factor === "none" ? "bypass" : methodOfFactor(c.factor);
    if (method !== null && !allowsMethod(policy, method)) return deny("factor_not_allowed");
    if (c.factor === "push" && c.verifiedPush === false && policy.allowPlainPush !== true)
      return deny("plain_push_not_allowed");
  }
  return { result: "allow" };
}
