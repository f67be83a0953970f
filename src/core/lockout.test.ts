// The lockout decision as a pure function of failures, time and policy (A1, A6).
import assert from "node:assert/strict";
import { test } from "node:test";
import { describeLockout, evaluateLockout, minutesUntil } from "./lockout.ts";

const policy = {
  maxFailures: 10,
  delayAfter: 5,
  delayBaseSeconds: 30,
  delayMaxSeconds: 3600,
  autoUnlockSeconds: 3600,
  lockMaxSeconds: 86_400,
};
const at = (failures: number, lastFailureAt: number | null = 0) => ({ failures, lastFailureAt });
const HOUR = 3_600_000;

test("no delay below delayAfter", () => {
  assert.deepEqual(evaluateLockout(undefined, 0, policy), { allowed: true });
  assert.deepEqual(evaluateLockout(at(4), 0, policy), { allowed: true });
});

test("delays double from delayAfter and are capped", () => {
  assert.deepEqual(evaluateLockout(at(5), 29_999, policy), {
    allowed: false,
    locked: false,
    retryAt: 30_000,
  });
  assert.deepEqual(evaluateLockout(at(5), 30_000, policy), { allowed: true });
  assert.deepEqual(evaluateLockout(at(6), 0, policy), { allowed: false, locked: false, retryAt: 60_000 });
  const big = { ...policy, maxFailures: 100 };
  assert.deepEqual(evaluateLockout(at(50), 0, big), { allowed: false, locked: false, retryAt: 3_600_000 });
});

test("locked at maxFailures; the lock ends without resetting the count, so the next failure locks again", () => {
  assert.deepEqual(evaluateLockout(at(10), HOUR - 1, policy), {
    allowed: false,
    locked: true,
    retryAt: HOUR,
  });
  assert.deepEqual(evaluateLockout(at(10), HOUR, policy), { allowed: true });
  // Each failure while locked doubles the lock: 1 h, 2 h, 4 h … up to lockMaxSeconds.
  assert.deepEqual(evaluateLockout(at(11), HOUR, policy), {
    allowed: false,
    locked: true,
    retryAt: 2 * HOUR,
  });
  assert.deepEqual(evaluateLockout(at(13), 0, policy), { allowed: false, locked: true, retryAt: 8 * HOUR });
  assert.deepEqual(evaluateLockout(at(15), 0, policy), { allowed: false, locked: true, retryAt: 24 * HOUR });
});

test("guesses never make a lock permanent: even after 10 000 failures the factor opens after lockMaxSeconds", () => {
  assert.deepEqual(evaluateLockout(at(100), 24 * HOUR - 1, policy), {
    allowed: false,
    locked: true,
    retryAt: 24 * HOUR,
  });
  assert.deepEqual(evaluateLockout(at(10_000), 24 * HOUR, policy), { allowed: true });
});

test("the service desk sees why and until when; users see whole minutes", () => {
  const state = { userId: "U", factorClass: "otp" as const, failures: 10, lastFailureAt: 0 };
  assert.deepEqual(describeLockout(state, 60_000, policy), {
    factorClass: "otp",
    failures: 10,
    lastFailureAt: 0,
    state: "locked",
    retryAt: HOUR,
  });
  assert.equal(describeLockout({ ...state, failures: 5 }, 0, policy).state, "delayed");
  assert.equal(describeLockout({ ...state, failures: 2 }, 0, policy).state, "open");
  assert.equal(minutesUntil(HOUR, 60_000), 59);
  assert.equal(minutesUntil(HOUR, HOUR - 1), 1);
});
