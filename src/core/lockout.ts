// Lockout policy as a pure function: given the failure count and time, may another attempt be verified now? (A1, A6)
import type { LockoutState } from "./model.ts";
import { HARD_FAILURE_LIMIT, type LockoutPolicy } from "./policy.ts";

export type LockoutDecision = { allowed: true } | { allowed: false; locked: boolean; retryAt: number | null };

/**
 * Decides whether the next attempt may be checked at all (read under the user's lockout-row lock):
 *  - below `delayAfter` failures: yes;
 *  - from `delayAfter` to `maxFailures`: after a delay that doubles per failure, capped (SP 800-63B-4 §3.2.2);
 *  - at `maxFailures`: locked. With `autoUnlockSeconds`, one more attempt is allowed that long after the
 *    last failure, but the count is not reset, so a wrong code locks again at once: over any period the
 *    guesses stay bounded (A6, privacyIDEA #1578) and never exceed the hard limit of 100 (A1).
 */
export function evaluateLockout(
  state: Pick<LockoutState, "failures" | "lastFailureAt"> | undefined,
  now: number,
  policy: LockoutPolicy,
): LockoutDecision {
  const failures = state?.failures ?? 0;
  const last = state?.lastFailureAt ?? null;
  if (failures >= HARD_FAILURE_LIMIT) return { allowed: false, locked: true, retryAt: null };
  if (failures >= policy.maxFailures) {
    if (policy.autoUnlockSeconds <= 0 || last === null)
      return { allowed: false, locked: true, retryAt: null };
    const retryAt = last + policy.autoUnlockSeconds * 1000;
    return now >= retryAt ? { allowed: true } : { allowed: false, locked: true, retryAt };
  }
  if (failures >= policy.delayAfter && last !== null) {
    const exponent = failures - policy.delayAfter;
    const delay = Math.min(policy.delayBaseSeconds * 2 ** exponent, policy.delayMaxSeconds) * 1000;
    const retryAt = last + delay;
    if (now < retryAt) return { allowed: false, locked: false, retryAt };
  }
  return { allowed: true };
}
