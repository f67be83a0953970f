// HS512 compact JWS (duo-compat §4): what verifies, and the spellings and algorithms that are refused (J4).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { prepareHmacKey } from "./index.ts";
import { signHS512, verifyHS512 } from "./jwt.ts";

const secret = "a-client-secret-of-forty-characters-long";
const bytes = new Uint8Array(Buffer.from(secret, "utf8"));
const claims = { iss: "DIXXXXXXXXXXXXXXXXXX", exp: 1_800_000_000, nested: { ok: true } };
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

test("a token verifies under its key, given as bytes or prepared once, and is RFC 7515's HMAC", () => {
  const token = signHS512(claims, bytes);
  assert.equal(signHS512(claims, prepareHmacKey(secret)), token);
  const [h, c, s] = token.split(".") as [string, string, string];
  assert.equal(s, createHmac("sha512", bytes).update(`${h}.${c}`).digest("base64url"));
  for (const key of [bytes, prepareHmacKey(bytes), prepareHmacKey(secret)]) {
    const checked = verifyHS512(token, key);
    assert.equal(checked.ok, true);
    assert.deepEqual(checked.ok && checked.claims, claims);
  }
  assert.deepEqual(verifyHS512(token, prepareHmacKey(`${secret}x`)), { ok: false, reason: "signature" });
});

test("the signature is accepted only in its canonical spelling and length", () => {
  const token = signHS512(claims, bytes);
  const s = token.split(".")[2]!;
  // 86 characters carry 516 bits for a 512-bit MAC: the last character's four low bits are padding. Another
  // character with the same high bits decodes to the very same MAC, but it is not the token we signed.
  const last = B64URL.indexOf(s.at(-1)!);
  const twin = `${s.slice(0, -1)}${B64URL[last ^ 1]}`;
  assert.deepEqual(Buffer.from(twin, "base64url"), Buffer.from(s, "base64url"));
  const prefix = token.slice(0, token.length - s.length);
  assert.deepEqual(verifyHS512(`${prefix}${twin}`, bytes), { ok: false, reason: "signature" });
  for (const other of [s.slice(0, -1), `${s}A`, `${s}==`, ""])
    assert.equal(verifyHS512(`${prefix}${other}`, bytes).ok, false, `signature ${JSON.stringify(other)}`);
});

test("only HS512 is accepted: none, HS256 and RS256 headers are refused before any key is used", () => {
  const token = signHS512(claims, bytes);
  const [, c] = token.split(".") as [string, string, string];
  for (const alg of ["none", "HS256", "RS256", "hs512"]) {
    const h = Buffer.from(JSON.stringify({ alg, typ: "JWT" })).toString("base64url");
    const s = createHmac("sha512", bytes).update(`${h}.${c}`).digest("base64url");
    assert.deepEqual(verifyHS512(`${h}.${c}.${s}`, bytes), { ok: false, reason: "algorithm" }, alg);
  }
});
