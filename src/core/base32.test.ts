// Base32 against RFC 4648 §10, and tolerance for how people paste secrets.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { decodeBase32, encodeBase32 } from "./base32.ts";

const rfc4648 = JSON.parse(readFileSync("test/vectors/rfc4648-section-10.json", "utf8"));

test("RFC 4648 §10 vectors encode (unpadded) and decode", () => {
  for (const { plain, base32 } of rfc4648.vectors) {
    assert.equal(encodeBase32(new Uint8Array(Buffer.from(plain))), base32.replace(/=/g, ""));
    if (plain !== "") assert.equal(Buffer.from(decodeBase32(base32)!).toString(), plain);
  }
});

test("lower case and spaces decode; foreign characters and impossible lengths do not", () => {
  assert.equal(Buffer.from(decodeBase32("mzxw 6ytb oi")!).toString(), "foobar");
  assert.equal(decodeBase32("MZXW1YTB"), undefined);
  assert.equal(decodeBase32("A"), undefined);
  assert.equal(decodeBase32(""), undefined);
});
