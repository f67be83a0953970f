// Checking a code with the login cache's remembered codes decides exactly as computing them afresh, opens the
// secret only for codes not yet known, and forgets codes whose secret, algorithm or digits changed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { randomBytes } from "../crypto/index.ts";
import { Keyring } from "../crypto/keyring.ts";
import type { OTPCredential } from "../model.ts";
import { generateHOTP } from "../otp/hotp.ts";
import { totpStep } from "../otp/totp.ts";
import { matchOTP, OTPCodeMemo, otpSealContext } from "./otp-credentials.ts";

const windows = { totpWindow: 1, hotpLookAhead: 10 };

/** A keyring that counts how often a secret is opened. */
function countingKeyring() {
  const ring = new Keyring([{ id: "k1", key: randomBytes(32) }]);
  const counted = { opens: 0, ring };
  const open = ring.open.bind(ring);
  ring.open = (value, context) => {
    counted.opens++;
    return open(value, context);
  };
  return counted;
}

function credential(ring: Keyring, key: Uint8Array, over: Partial<OTPCredential> = {}): OTPCredential {
  const id = over.id ?? "OT1";
  return {
    id,
    kind: "token",
    serial: null,
    userId: "U1",
    type: "hotp",
    algorithm: "SHA1",
    digits: 6,
    period: null,
    secretSealed: ring.seal(key, otpSealContext(id)),
    counter: 0,
    lastStep: null,
    drift: 0,
    status: "active",
    label: null,
    manufacturer: null,
    model: null,
    createdAt: 0,
    activatedAt: 0,
    pendingExpiresAt: null,
    assignedAt: 0,
    ...over,
  };
}

test("HOTP: with remembered codes every look-ahead answer is the same, and each code is computed once", () => {
  const count = countingKeyring();
  const { ring } = count;
  const key = randomBytes(20);
  const memo = new OTPCodeMemo();
  let c = credential(ring, key);
  const params = { key, algorithm: "SHA1" as const, digits: 6 };
  for (let login = 0; login < 30; login++) {
    // Sometimes the user pressed the token a few times without logging in.
    const next = c.counter + (login % 7 === 3 ? 4 : 0);
    const code = generateHOTP(params, next);
    const fresh = matchOTP(ring, c, code, 0, windows);
    const remembered = matchOTP(ring, c, code, 0, windows, memo);
    assert.deepEqual(remembered, fresh);
    assert.deepEqual(remembered, { type: "hotp", counter: next });
    // A code already used, one past the look-ahead and a wrong one are refused alike.
    for (const other of [
      generateHOTP(params, c.counter - 1),
      generateHOTP(params, c.counter + 11),
      code === "000000" ? "000001" : "000000",
    ]) {
      if (other === code) continue;
      assert.deepEqual(matchOTP(ring, c, other, 0, windows, memo), matchOTP(ring, c, other, 0, windows));
    }
    c = { ...c, counter: next + 1 };
  }
  // Without the memo the secret is opened once per check; with it, only when a code is not yet known.
  const before = count.opens;
  matchOTP(ring, c, generateHOTP(params, c.counter), 0, windows, memo);
  const opensWithMemo = count.opens - before;
  assert.ok(opensWithMemo <= 1, `opened ${opensWithMemo} times`);
  const plain = count.opens;
  matchOTP(ring, c, generateHOTP(params, c.counter), 0, windows);
  assert.equal(count.opens - plain, 1);
  // Logins one after another move the window by one: the secret is opened for a batch of codes ahead, not per login.
  let stepped = c;
  const again = count.opens;
  for (let login = 0; login < 32; login++) {
    stepped = { ...stepped, counter: stepped.counter + 1 };
    assert.deepEqual(matchOTP(ring, stepped, generateHOTP(params, stepped.counter), 0, windows, memo), {
      type: "hotp",
      counter: stepped.counter,
    });
  }
  const opened = count.opens - again;
  assert.ok(opened >= 1 && opened <= 5, `opened ${opened} times for 32 logins`);
  // The same window again needs the secret not at all.
  const none = count.opens;
  matchOTP(ring, stepped, "999999", 0, windows, memo);
  assert.equal(count.opens - none, 0);
});

test("TOTP: remembered codes give the same steps and drift, and a used step is still refused", () => {
  const { ring } = countingKeyring();
  const key = randomBytes(20);
  const memo = new OTPCodeMemo();
  const params = { key, algorithm: "SHA1" as const, digits: 6 };
  let c = credential(ring, key, { type: "totp", kind: "app", period: 30 });
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < 20; i++) {
    const now = t0 + i * 17_000;
    const step = totpStep(now, 30) + ((i % 3) - 1);
    const code = generateHOTP(params, step);
    const fresh = matchOTP(ring, c, code, now, windows);
    assert.deepEqual(matchOTP(ring, c, code, now, windows, memo), fresh);
    if (fresh?.type === "totp") c = { ...c, lastStep: fresh.match.step };
    // The step just used is refused, remembered or not.
    assert.equal(matchOTP(ring, c, code, now, windows, memo), undefined);
  }
});

test("a credential re-sealed with another secret, or given other digits, is not matched on old codes", () => {
  const { ring } = countingKeyring();
  const oldKey = randomBytes(20);
  const newKey = randomBytes(20);
  const memo = new OTPCodeMemo();
  const before = credential(ring, oldKey);
  const oldCode = generateHOTP({ key: oldKey, algorithm: "SHA1", digits: 6 }, 0);
  assert.deepEqual(matchOTP(ring, before, oldCode, 0, windows, memo), { type: "hotp", counter: 0 });
  // Same id, a new secret (an administrator replaced the token's secret).
  const after = credential(ring, newKey);
  const newCode = generateHOTP({ key: newKey, algorithm: "SHA1", digits: 6 }, 0);
  if (newCode !== oldCode) assert.equal(matchOTP(ring, after, oldCode, 0, windows, memo), undefined);
  assert.deepEqual(matchOTP(ring, after, newCode, 0, windows, memo), { type: "hotp", counter: 0 });
  // Same secret, eight digits now: the six-digit codes remembered are not used.
  const eight = credential(ring, newKey, { digits: 8 });
  const code8 = generateHOTP({ key: newKey, algorithm: "SHA1", digits: 8 }, 0);
  assert.deepEqual(matchOTP(ring, eight, code8, 0, windows, memo), { type: "hotp", counter: 0 });
  assert.equal(matchOTP(ring, eight, newCode, 0, windows, memo), undefined);
  // Another keyring, one that cannot open the secret, gets none of the codes remembered: it fails closed.
  const stranger = new Keyring([{ id: "k9", key: randomBytes(32) }]);
  assert.throws(() => matchOTP(stranger, eight, code8, 0, windows, memo), { code: "ERR_KEYRING" });
});
