// Canonical usernames (A3, H-3): one key per identity, hostile spellings refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { classifyPasscode } from "./passcode.ts";
import { canonicalizeUsername } from "./username.ts";

test("case, width and surrounding space fold to one key", () => {
  for (const s of ["Alice", " alice", "ALICE\t", "ａｌｉｃｅ", "Ａｌｉｃｅ "])
    assert.equal(canonicalizeUsername(s, []), "alice");
  assert.equal(canonicalizeUsername("Ｊöｒｇ", []), "jörg");
  assert.equal(canonicalizeUsername("Jo\u0308rg", []), "jörg", "combining diaeresis composes (NFKC)");
});

test("A3: with corp stripped, alice@corp in any spelling is alice; other domains are kept", () => {
  const strip = ["Corp"];
  for (const s of ["alice@corp", " Alice@CORP ", "ａｌｉｃｅ＠ｃｏｒｐ", "alice", "alice@corp@corp"])
    assert.equal(canonicalizeUsername(s, strip), "alice", JSON.stringify(s));
  assert.equal(canonicalizeUsername("alice@other", strip), "alice@other");
  assert.equal(canonicalizeUsername("alice@corp.example", strip), "alice@corp.example");
  assert.equal(canonicalizeUsername("alice@corp", []), "alice@corp", "nothing stripped unless configured");
  assert.equal(canonicalizeUsername("@corp", strip), "@corp", "a bare domain is not emptied");
});

test("the canonical form of a canonical form is itself (one key, however often it is applied)", () => {
  const strip = ["corp"];
  for (const s of [
    "Alice",
    "ａｌｉｃｅ@corp",
    "bob@corp@corp",
    "Ｊöｒｇ@ＣＯＲＰ",
    "x@other@corp",
    "ǅemal",
  ]) {
    const once = canonicalizeUsername(s, strip);
    assert.equal(canonicalizeUsername(once, strip), once, JSON.stringify(s));
  }
});

test("empty, over-long, control, bidi, zero-width and inner-space names are refused", () => {
  for (const s of [
    "",
    "   ",
    "a".repeat(257),
    "al\nice",
    "al\u0000ice",
    "\u202Eecila",
    "al\u200Bice",
    "al ice",
  ]) {
    assert.throws(() => canonicalizeUsername(s, []), { code: "ERR_USERNAME_INVALID" }, JSON.stringify(s));
  }
});

test("passcode shapes: 6/8 digits OTP, 10 digits bypass, 16 Crockford characters rescue", () => {
  assert.deepEqual(classifyPasscode("123456", 10), { kind: "otp", value: "123456" });
  assert.deepEqual(classifyPasscode("1234 5678", 10), { kind: "otp", value: "12345678" });
  assert.deepEqual(classifyPasscode("123-456-7890", 10), { kind: "bypass", value: "1234567890" });
  assert.deepEqual(classifyPasscode("abcd-efgh-jkmn-pqrs", 10), {
    kind: "rescue",
    value: "ABCDEFGHJKMNPQRS",
  });
  assert.deepEqual(classifyPasscode("oOiL-0000-0000-0000", 10), {
    kind: "rescue",
    value: "0011000000000000",
  });
  for (const bad of [
    "",
    "12345",
    "1234567",
    "１２３４５６",
    "ABCD-EFGH-JKMN-PQRU",
    42,
    null,
    "9".repeat(100),
  ]) {
    assert.deepEqual(classifyPasscode(bad, 10), { kind: "malformed" }, JSON.stringify(bad));
  }
});
