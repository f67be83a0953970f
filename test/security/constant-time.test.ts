// M3: secrets and MACs are compared in time independent of their contents, and values of unequal length are simply unequal.
import assert from "node:assert/strict";
import { test } from "node:test";
import { constantTimeEqual, randomHex } from "../../src/core/crypto/index.ts";

test("equal values are equal, as text or bytes; one byte changed anywhere makes them unequal", () => {
  const secret = randomHex(32);
  assert.equal(constantTimeEqual(secret, `${secret}`), true);
  assert.equal(constantTimeEqual(Buffer.from(secret), new Uint8Array(Buffer.from(secret))), true);
  assert.equal(constantTimeEqual(secret, Buffer.from(secret)), true, "text is compared as its UTF-8 bytes");
  for (const at of [0, 31, 63]) {
    const changed = secret.slice(0, at) + (secret[at] === "0" ? "1" : "0") + secret.slice(at + 1);
    assert.equal(constantTimeEqual(secret, changed), false, `byte ${at}`);
  }
  assert.equal(constantTimeEqual("", ""), true);
});

test("unequal lengths are unequal whichever side is longer, never an exception", () => {
  const secret = randomHex(16);
  for (const other of ["", secret.slice(1), `${secret}0`, secret.repeat(100)]) {
    assert.equal(constantTimeEqual(secret, other), false);
    assert.equal(constantTimeEqual(other, secret), false);
  }
  // The same number of characters but not of UTF-8 bytes.
  assert.equal(constantTimeEqual("ab", "aé"), false);
  assert.equal(constantTimeEqual("é", "e\u0301"), false, "no normalisation: the bytes as given");
});
