// Tests for the token CSV importer: a vendor-shaped export, defaults, secret encodings, and refusals by line.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { isTwofoldError, type TwofoldError } from "../errors.ts";
import { generateHOTP } from "../otp/hotp.ts";
import { MAX_IMPORT_ISSUES } from "./imported-token.ts";
import { parseTokenCSV } from "./token-csv.ts";

const FIXTURES = new URL("../../../test/fixtures/csv/", import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), "utf8");
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const RFC4226_HEX = "3132333435363738393031323334353637383930";

function refused(text: string): TwofoldError {
  let caught: unknown;
  try {
    parseTokenCSV(text);
  } catch (error) {
    caught = error;
  }
  assert.ok(isTwofoldError(caught), `expected a TwofoldError, got ${String(caught)}`);
  assert.equal(caught.code, "ERR_IMPORT_INVALID");
  return caught;
}

describe("parseTokenCSV: accepted files", () => {
  test("an Acme export with BOM, CRLF, header, comments, blank lines, quotes and every secret notation", () => {
    const tokens = parseTokenCSV(fixture("acme-tokens.csv")).map((t) => ({ ...t, secret: hex(t.secret) }));
    assert.deepEqual(tokens, [
      {
        serial: "ACM-0000101",
        secret: "4cd8661c8f9231175c1926319aea088091be8c72",
        type: "hotp",
        algorithm: "SHA1",
        digits: 6,
        period: null,
        counter: 0,
        manufacturer: "Acme",
        model: "Acme OTP c200, keyring",
      },
      {
        serial: "ACM-0000102",
        secret: "ed3af91d0fc3b2f9693127e1ca7b0f7b0f53f97e",
        type: "hotp",
        algorithm: "SHA1",
        digits: 6,
        period: null,
        counter: 17,
        manufacturer: "Acme",
        model: "Acme OTP c200",
      },
      {
        serial: "ACM-0000103",
        secret: "8af8e5700d41573e88ac25cd2dbd0b51f687a7c0",
        type: "hotp",
        algorithm: "SHA1",
        digits: 8,
        period: null,
        counter: 0,
        manufacturer: "Acme",
        model: "Acme OTP c280",
      },
      {
        serial: "ACM-1000201",
        secret: "81042106076b02521ab84b2a70259c063b55c697",
        type: "totp",
        algorithm: "SHA1",
        digits: 6,
        period: 30,
        counter: 0,
        manufacturer: "Acme",
        model: "Acme TOTP c100",
      },
      {
        serial: "ACM-1000202",
        secret: "3ada198ea6a8522cc30fb95a0c06daaa131f12272d6db9de7b24be62e8cacb2c",
        type: "totp",
        algorithm: "SHA256",
        digits: 8,
        period: 60,
        counter: 0,
        manufacturer: 'Acme "Pro"',
        model: "Acme TOTP c160",
      },
      {
        serial: "ACM-0000104",
        secret: "705b06321a0c9b8f9d0f91bc98594004e1d40a60",
        type: "hotp",
        algorithm: "SHA1",
        digits: 6,
        period: null,
        counter: 0,
        manufacturer: null,
        model: null,
      },
      {
        serial: "ACM-1000203",
        secret: RFC4226_HEX,
        type: "totp",
        algorithm: "SHA512",
        digits: 6,
        period: 30,
        counter: 0,
        manufacturer: null,
        model: null,
      },
    ]);
  });

  test("serial and secret alone give a 6-digit SHA1 HOTP token at counter 0 (RFC 4226 App. D: 755224)", () => {
    const [token] = parseTokenCSV(`T-1,${RFC4226_HEX}\n`);
    assert.ok(token);
    assert.deepEqual(
      { ...token, secret: hex(token.secret) },
      {
        serial: "T-1",
        secret: RFC4226_HEX,
        type: "hotp",
        algorithm: "SHA1",
        digits: 6,
        period: null,
        counter: 0,
        manufacturer: null,
        model: null,
      },
    );
    assert.equal(
      generateHOTP({ key: token.secret, algorithm: token.algorithm, digits: token.digits }, 0),
      "755224",
    );
  });

  test("a TOTP row with an empty last column takes a 30-second step", () => {
    assert.equal(parseTokenCSV(`T-1,${RFC4226_HEX},totp,6,\n`)[0]?.period, 30);
  });

  test("a value of hex digits is read as hex unless marked base32:", () => {
    // Both spellings are 32 characters of A–F and 2–7, valid as either encoding.
    const ambiguous = "ABCDEF234567ABCDEF234567ABCDEF23";
    const [asHex] = parseTokenCSV(`T-1,${ambiguous}`);
    const [asBase32] = parseTokenCSV(`T-1,base32:${ambiguous}`);
    assert.equal(asHex?.secret.length, 16);
    assert.equal(asBase32?.secret.length, 20);
    assert.equal(hex(asHex!.secret), ambiguous.toLowerCase());
  });

  test("the header is only recognised on the first data line", () => {
    assert.equal(parseTokenCSV(`# comment\nSerial,Secret\nT-1,${RFC4226_HEX}`).length, 1);
    const error = refused(`T-1,${RFC4226_HEX}\nserial,secret\n`);
    assert.deepEqual(error.issues[0]?.path, "line 2");
  });
});

describe("parseTokenCSV: refused files name the line at fault", () => {
  test("every problem in a broken file is reported with its physical line, and nothing is returned", () => {
    const error = refused(fixture("broken-tokens.csv"));
    const expected: [string, RegExp][] = [
      ["line 2", /^digits: "7" must be 6 or 8$/],
      ["line 3", /^secret: is neither hex/],
      ["line 4", /^type: "motp" must be hotp or totp$/],
      ["line 5", /^secret: is 80 bits; seeds under 128 bits are refused/],
      ["line 6", /^period: must be 15–300 seconds, got 5$/],
      ["line 7", /^serial: "ACM-0000201" is already used at line 2$/],
      ["line 8", /quoted field is not closed/],
      ["line 9", /^counter_or_period: "-3" is not a whole number$/],
      ["line 9", /^algorithm: "MD5" must be SHA1, SHA256 or SHA512$/],
      ["line 10", /^has 9 columns/],
    ];
    for (const [path, message] of expected)
      assert.ok(
        error.issues.some((i) => i.path === path && message.test(i.message)),
        `missing ${path} ${message}; got ${JSON.stringify(error.issues)}`,
      );
    assert.equal(error.issues.length, expected.length);
  });

  test("line numbers count comments, blank lines and CRLF line ends", () => {
    const error = refused(`\uFEFF# c\r\n\r\nserial,secret\r\nT-1,${RFC4226_HEX},hotp,9\r\n`);
    assert.deepEqual(error.issues, [{ path: "line 4", message: 'digits: "9" must be 6 or 8' }]);
  });

  test("an 80-bit seed is refused (B4) without the seed appearing in the error", () => {
    const error = refused("T-1,hex:31323334353637383930\n");
    assert.equal(error.issues[0]?.path, "line 1");
    assert.doesNotMatch(JSON.stringify({ m: error.message, i: error.issues, d: error.detail }), /3132333435/);
  });

  test("an odd-length hex secret marked as hex is refused", () => {
    assert.deepEqual(refused("T-1,0x313233343536373839303132333435363738393\n").issues, [
      { path: "line 1", message: "secret: is not valid hex" },
    ]);
  });

  test("a secret over 128 bytes is refused", () => {
    assert.match(refused(`T-1,${"ab".repeat(129)}`).issues[0]!.message, /^secret: is 129 bytes/);
  });

  test("a serial over 128 characters, or with control characters, is refused", () => {
    assert.equal(refused(`${"S".repeat(129)},${RFC4226_HEX}`).issues[0]?.path, "line 1");
    assert.match(refused(`"T\t1",${RFC4226_HEX}`).issues[0]!.message, /printable ASCII/);
  });

  test("text after a closing quote is refused", () => {
    assert.deepEqual(refused(`"T-1"x,${RFC4226_HEX}`).issues[0]?.path, "line 1");
  });

  test("a file with no tokens is refused", () => {
    assert.deepEqual(refused("# nothing here\nserial,secret\n").issues, [
      { path: "file", message: "has no tokens" },
    ]);
  });

  test(`at most ${MAX_IMPORT_ISSUES} issues are returned for a file full of errors`, () => {
    const text = Array.from({ length: 150 }, (_, i) => `T-${i},zz`).join("\n");
    const error = refused(text);
    assert.equal(error.issues.length, MAX_IMPORT_ISSUES);
    assert.deepEqual(error.issues.at(-1), { path: "file", message: "…and 51 more problems" });
    assert.match(error.message, /150 problems/);
  });
});
