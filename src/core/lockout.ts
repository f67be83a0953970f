// Lockout policy as a pure function: given the failure count and time, may another attempt be verified now? (A1, A6)
import type { FactorClass, LockoutState } from "./model.ts";
import type { LockoutPolicy } from "./policy.ts";

export type LockoutDecision = { allowed: true } | { allowed: false; locked: boolean; retryAt: number };

/**
 * Decides whether the next attempt may be checked at all (read under the user's lockout-row lock):
 *  - below `delayAfter` failures: yes;
 *  - from `delayAfter` to `maxFailures`: after a delay that doubles per failure, capped (SP 800-63B-4 §3.2.2);
 *  - from `maxFailures` on: locked, even for a correct code (A1). The lock lasts `autoUnlockSeconds` after the
 *    last failure and doubles with every further failure, up to `lockMaxSeconds`. The count is not reset when a
 *    lock ends, so one wrong code locks again at once, for longer: over any period the guesses stay bounded
 *    (A6, privacyIDEA #1578) — a lock never restarts a full budget.
 *
 * Guesses alone never lock a factor for good: a stranger who knows a username can keep one factor class
 * locked, but never longer than `lockMaxSeconds` past their last guess, and never the other classes. Only an
 * administrator makes a lock permanent (disabling the user); only a success or an administrator resets the count.
 */
export function evaluateLockout(
  state: Pick<LockoutState, "failures" | "lastFailureAt"> | undefined,
  now: number,
  policy: LockoutPolicy,
): LockoutDecision {
  const failures = state?.failures ?? 0;
  const last = state?.lastFailureAt ?? null;
  if (last === null) return { allowed: true };
  if (failures >= policy.maxFailures) {
    const exponent = Math.min(failures - policy.maxFailures, 40);
    const period = Math.min(policy.autoUnlockSeconds * 2 ** exponent, policy.lockMaxSeconds) * 1000;
    const retryAt = last + period;
    return now >= retryAt ? { allowed: true } : { allowed: false, locked: true, retryAt };
  }
  if (failures >= policy.delayAfter) {
    const exponent = failures - policy.delayAfter;
    const delay = Math.min(policy.delayBaseSeconds * 2 ** exponent, policy.delayMaxSeconds) * 1000;
    const retryAt = last + delay;
    if (now < retryAt) return { allowed: false, locked: false, retryAt };
  }
  return { allowed: true };
}

/** What the service desk is shown of one factor class: why it refuses attempts, and until when. */
export interface LockoutStatus {
  factorClass: FactorClass;
  failures: number;
  lastFailureAt: number | null;
  /** `locked`: refused even with a correct value; `delayed`: the next attempt must wait; `open`: accepted. */
  state: "locked" | "delayed" | "open";
  /** When the next attempt is accepted (null when open). */
  retryAt: number | null;
}

export function describeLockout(state: LockoutState, now: number, policy: LockoutPolicy): LockoutStatus {
  const d = evaluateLockout(state, now, policy);
  return {
    factorClass: state.factorClass,
    failures: state.failures,
    lastFailureAt: state.lastFailureAt,
    state: d.allowed ? "open" : d.locked ? "locked" : "delayed",
    retryAt: d.allowed ? null : d.retryAt,
  };
}

/** Whole minutes until `retryAt`, at least 1: what "try again in N minutes" says. */
export function minutesUntil(retryAt: number, now: number): number {
  return Math.max(1, Math.ceil((retryAt - now) / 60_000));
}
