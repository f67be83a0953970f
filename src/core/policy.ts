// The policy the core enforces, as plain data (the configuration schema produces a value of this shape).
import type { OTPAlgorithm } from "./otp/hotp.ts";

export interface LockoutPolicy {
  maxFailures: number;
  delayAfter: number;
  delayBaseSeconds: number;
  delayMaxSeconds: number;
  /** First lock period; each further failure while locked doubles it. */
  autoUnlockSeconds: number;
  /** Longest lock period: what guesses alone can cost a user at most (A6). */
  lockMaxSeconds: number;
}

export interface Policy {
  newUserPolicy: "deny" | "enroll";
  totp: {
    algorithm: OTPAlgorithm;
    digits: 6 | 8;
    period: number;
    window: number;
    maxDrift: number;
    enrollmentTtlSeconds: number;
    secretBytes: number;
  };
  hotp: { lookAhead: number; resyncLookAhead: number };
  lockout: LockoutPolicy;
  bypass: {
    digits: number;
    defaultUses: number;
    defaultValiditySeconds: number;
    maxUses: number;
    maxValiditySeconds: number;
    allowUnlimited: boolean;
    maxLivePerUser: number;
  };
  rescue: { count: number };
  push: {
    lifetimeSeconds: number;
    codeDigits: number;
    maxPending: number;
    ratePerWindow: number;
    rateWindowSeconds: number;
    maxSinceSuccess: number;
    answerMaxAgeSeconds: number;
    activationSeconds: number;
    infoMaxBytes: number;
  };
}

/**
 * SP 800-63B-4 §3.2.2: never more than 100 consecutive failed attempts before a factor locks, whatever is
 * configured (the ceiling of `maxFailures`). Past the lock, one guess per lock period (evaluateLockout).
 */
export const HARD_FAILURE_LIMIT = 100;
