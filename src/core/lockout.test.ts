// The lockout decision as a pure function of failures, time and policy (A1, A6).
import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluateLockout } from "./lockout.ts";

const policy = {
  maxFailures: 10,
  delayAfter: 5,
  delayBaseSeconds: 30,
  delayMaxSeconds: 3600,
  autoUnlockSeconds: 3600,
};
const at = (failures: number, lastFailureAt: number | null = 0) => ({ failures, lastFailureAt });

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

test("locked at maxFailures; auto-unlock allows one attempt after the period without resetting the count", () => {
  assert.deepEqual(evaluateLockout(at(10), 3_599_999, policy), {
    allowed: false,
    locked: true,
    retryAt: 3_600_000,
  });
  assert.deepEqual(evaluateLockout(at(10), 3_600_000, policy), { allowed: true });
  assert.deepEqual(evaluateLockout(at(11), 3_600_000, policy), { allowed: true });
  assert.deepEqual(evaluateLockout(at(10), 10 ** 12, { ...policy, autoUnlockSeconds: 0 }), {
    allowed: false,
    locked: true,
    retryAt: null,
  });
});

test("never more than 100 consecutive failures, whatever the auto-unlock", () => {
  assert.deepEqual(evaluateLockout(at(100), 10 ** 12, policy), {
    allowed: false,
    locked: true,
    retryAt: null,
  });
  assert.deepEqual(evaluateLockout(at(99), 10 ** 12, policy), { allowed: true });
});
