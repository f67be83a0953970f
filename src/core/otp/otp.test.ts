// HOTP/TOTP against the RFC test vectors, the verification window, drift and one-time use (B1, B2).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { randomBytes } from "../crypto/index.ts";
import { findHOTPCounter, generateHOTP, otpCodeEqual } from "./hotp.ts";
import { buildOTPAuthURI } from "./otpauth-uri.ts";
import { generateTOTP, totpStep, verifyTOTP } from "./totp.ts";

const rfc4226 = JSON.parse(readFileSync("test/vectors/rfc4226-appendix-d.json", "utf8"));
const rfc6238 = JSON.parse(readFileSync("test/vectors/rfc6238-appendix-b.json", "utf8"));
const ascii = (s: string) => new Uint8Array(Buffer.from(s, "ascii"));

describe("RFC 4226 Appendix D", () => {
  const params = { key: ascii(rfc4226.secretAscii), algorithm: "SHA1" as const, digits: 6 };
  for (const { counter, hotp } of rfc4226.codes) {
    test(`counter ${counter} gives ${hotp}`, () => assert.equal(generateHOTP(params, counter), hotp));
  }
  test("look-ahead finds counter 7 from 0 within 10, not beyond", () => {
    assert.equal(findHOTPCounter(params, "162583", 0, 10), 7);
    assert.equal(findHOTPCounter(params, "162583", 0, 6), undefined);
    assert.equal(findHOTPCounter(params, "162583", 8, 10), undefined);
  });
});

describe("RFC 6238 Appendix B", () => {
  for (const row of rfc6238.codes) {
    for (const alg of ["SHA1", "SHA256", "SHA512"] as const) {
      test(`${alg} at T=${row.time} gives ${row[alg]}`, () => {
        const params = { key: ascii(rfc6238.seeds[alg]), algorithm: alg, digits: 8, period: 30 };
        assert.equal(totpStep(row.time * 1000, 30), Number.parseInt(row.step, 16));
        assert.equal(generateTOTP(params, row.time * 1000), row[alg]);
      });
    }
  }
});

describe("TOTP verification window", () => {
  const params = { key: randomBytes(20), algorithm: "SHA1" as const, digits: 6, period: 30 };
  const t0 = 1_800_000_000_000; // a step boundary (divisible by 30 s)
  const code = generateTOTP(params, t0);
  const at = (deltaSeconds: number) =>
    verifyTOTP(params, code, t0 + deltaSeconds * 1000, { window: 1, drift: 0, lastUsedStep: null });

  test("accepts the previous and next step (±1), refuses two steps away", () => {
    assert.ok(at(0));
    assert.ok(at(29));
    assert.ok(at(31)); // one step later: code is from the previous step
    assert.ok(at(-1)); // one step earlier: code is from the next step
    assert.equal(at(61), undefined);
    assert.equal(at(-31), undefined);
  });

  test("a used step and every earlier one are refused (B1)", () => {
    const step = totpStep(t0, 30);
    assert.equal(verifyTOTP(params, code, t0, { window: 1, drift: 0, lastUsedStep: step }), undefined);
    assert.ok(verifyTOTP(params, code, t0, { window: 1, drift: 0, lastUsedStep: step - 1 }));
  });

  test("learned drift moves the window centre", () => {
    const late = generateTOTP(params, t0 - 3 * 30_000);
    assert.equal(verifyTOTP(params, late, t0, { window: 1, drift: 0, lastUsedStep: null }), undefined);
    const m = verifyTOTP(params, late, t0, { window: 1, drift: -3, lastUsedStep: null });
    assert.equal(m?.offset, -3);
  });
});

test("otpauth URI states algorithm, digits and period (B5)", () => {
  const uri = new URL(
    buildOTPAuthURI({
      type: "totp",
      issuer: "Example University",
      account: "alice",
      secret: ascii("12345678901234567890"),
      algorithm: "SHA256",
      digits: 8,
      period: 30,
    }),
  );
  assert.equal(uri.protocol, "otpauth:");
  assert.equal(uri.host, "totp");
  assert.equal(decodeURIComponent(uri.pathname), "/Example University:alice");
  assert.equal(uri.searchParams.get("secret"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  assert.equal(uri.searchParams.get("algorithm"), "SHA256");
  assert.equal(uri.searchParams.get("digits"), "8");
  assert.equal(uri.searchParams.get("period"), "30");
  assert.equal(uri.searchParams.get("issuer"), "Example University");
});

function hasOathtool(): boolean {
  try {
    execFileSync("oathtool", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("agreement with oathtool (Debian oath-toolkit)", {
  skip:
    !hasOathtool() && process.env["CI"] !== "true"
      ? "oathtool not installed (apt-get install oathtool)"
      : false,
}, () => {
  test("random keys, HOTP and TOTP in all three algorithms", () => {
    for (let i = 0; i < 8; i++) {
      const key = randomBytes(32);
      const hex = Buffer.from(key).toString("hex");
      const counter = i * 1000 + 7;
      const hotp = execFileSync("oathtool", ["--hotp", "-d", "6", "-c", String(counter), hex], {
        encoding: "utf8",
      }).trim();
      assert.equal(generateHOTP({ key, algorithm: "SHA1", digits: 6 }, counter), hotp);
      for (const alg of ["SHA1", "SHA256", "SHA512"] as const) {
        const t = 1_700_000_000 + i * 977;
        const out = execFileSync(
          "oathtool",
          ["--totp=" + alg.toLowerCase(), "-d", "8", "-s", "30", "-N", `@${t}`, hex],
          { encoding: "utf8" },
        ).trim();
        assert.equal(
          generateTOTP({ key, algorithm: alg, digits: 8, period: 30 }, t * 1000),
          out,
          `${alg} @${t}`,
        );
      }
    }
  });
});

test("otpCodeEqual: equal codes match; another code, another length or look-alike characters do not", () => {
  assert.equal(otpCodeEqual("123456", "123456"), true);
  assert.equal(otpCodeEqual("123456", "123457"), false);
  assert.equal(otpCodeEqual("123456", "12345"), false);
  assert.equal(otpCodeEqual("123456", "1234567"), false);
  // U+0131 and U+0131+U+0100 share low bytes with "1": compared as UTF-8, never as truncated bytes.
  assert.equal(otpCodeEqual("111111", "\u0131\u0131\u0131\u0131\u0131\u0131"), false);
  assert.equal(otpCodeEqual("123456", "\u0131\u0232\u0333\u0434\u0535\u0636"), false);
});
