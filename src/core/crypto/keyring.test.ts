// The keyring seals values to one row and column, rotates keys, and hashes codes with a key outside the database (M2, C2).
import assert from "node:assert/strict";
import { test } from "node:test";
import { constantTimeEqual, randomBytes, randomDigits } from "./index.ts";
import { Keyring } from "./keyring.ts";

const ctx = { table: "otp_credentials", column: "secret_sealed", row: "DA1" };

test("a sealed value opens only in its own row and column, and any changed byte is refused", () => {
  const ring = new Keyring([{ id: "k1", key: randomBytes(32) }]);
  const secret = new Uint8Array(Buffer.from("12345678901234567890"));
  const sealed = ring.seal(secret, ctx);
  assert.ok(!sealed.includes(Buffer.from(secret).toString("base64")));
  assert.deepEqual(ring.open(sealed, ctx), secret);
  assert.throws(() => ring.open(sealed, { ...ctx, row: "DA2" }), { code: "ERR_DECRYPT" });
  assert.throws(() => ring.open(sealed, { ...ctx, column: "other" }), { code: "ERR_DECRYPT" });
  const body = Buffer.from(sealed.split(".")[2]!, "base64url");
  body[body.length - 20]! ^= 1;
  assert.throws(() => ring.open(`v1.k1.${body.toString("base64url")}`, ctx), { code: "ERR_DECRYPT" });
});

test("rotation: a new primary key seals, old keys still open; a missing key fails closed", () => {
  const k1 = { id: "k1", key: randomBytes(32) };
  const k2 = { id: "k2", key: randomBytes(32) };
  const old = new Keyring([k1]).seal(new Uint8Array([1, 2, 3]), ctx);
  const rotated = new Keyring([k2, k1]);
  assert.deepEqual(rotated.open(old, ctx), new Uint8Array([1, 2, 3]));
  assert.equal(rotated.needsRotation(old), true);
  assert.equal(rotated.needsRotation(rotated.seal(new Uint8Array([1]), ctx)), false);
  assert.throws(() => new Keyring([k2]).open(old, ctx), { code: "ERR_KEYRING" });
});

test("code hashes: salted, bound to the owner, verified only with the right key", () => {
  const ring = new Keyring([{ id: "k1", key: randomBytes(32) }]);
  const h1 = ring.hashCode("1234567890", "DU1");
  const h2 = ring.hashCode("1234567890", "DU1");
  assert.notEqual(h1, h2, "a fresh salt each time");
  assert.match(h1, /^hmac-sha256\.k1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
  assert.ok(ring.verifyCodeHash("1234567890", "DU1", h1));
  assert.ok(!ring.verifyCodeHash("1234567891", "DU1", h1));
  assert.ok(!ring.verifyCodeHash("1234567890", "DU2", h1));
  assert.ok(!new Keyring([{ id: "k1", key: randomBytes(32) }]).verifyCodeHash("1234567890", "DU1", h1));
  assert.ok(!new Keyring([{ id: "k9", key: randomBytes(32) }]).verifyCodeHash("1234567890", "DU1", h1));
});

test("short or duplicate keys are refused", () => {
  assert.throws(() => new Keyring([{ id: "k1", key: randomBytes(16) }]), { code: "ERR_KEYRING" });
  assert.throws(
    () =>
      new Keyring([
        { id: "k", key: randomBytes(32) },
        { id: "k", key: randomBytes(32) },
      ]),
    {
      code: "ERR_KEYRING",
    },
  );
  assert.throws(() => new Keyring([]), { code: "ERR_KEYRING" });
});

test("constant-time equality handles unequal lengths", () => {
  assert.equal(constantTimeEqual("123456", "123456"), true);
  assert.equal(constantTimeEqual("123456", "1234567"), false);
  assert.equal(constantTimeEqual("", ""), true);
  assert.equal(constantTimeEqual(new Uint8Array([1]), new Uint8Array([2])), false);
});

test("random digits are uniform (χ² over 200 000 digits, C1)", () => {
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 20_000; i++) for (const d of randomDigits(10)) counts[Number(d)]++;
  const expected = 200_000 / 10;
  const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  // 9 degrees of freedom: p = 0.001 at 27.88. A biased generator (e.g. byte % 10) scores in the hundreds.
  assert.ok(chi2 < 27.88, `χ² = ${chi2.toFixed(2)}`);
});
