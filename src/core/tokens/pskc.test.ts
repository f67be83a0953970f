// Tests for the PSKC importer: vendor-shaped files, RFC 6030 §4/§6.1/§6.2 structures, and every way a file is refused.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { encryptAESCBCWithIV, hmac, pbkdf2, randomBytes, unwrapAESKW, wrapAESKW } from "../crypto/index.ts";
import { isTwofoldError, type TwofoldError } from "../errors.ts";
import { generateHOTP } from "../otp/hotp.ts";
import { generateTOTP } from "../otp/totp.ts";
import type { ImportedToken } from "./imported-token.ts";
import { type PSKCOptions, parsePSKC } from "./pskc.ts";

const FIXTURES = new URL("../../../test/fixtures/pskc/", import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), "utf8");
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/** RFC 4226 Appendix D's secret; RFC 6030's examples carry it too. */
const RFC4226_SECRET = new TextEncoder().encode("12345678901234567890");
/** RFC 6238 Appendix B's SHA-256 seed. */
const RFC6238_SHA256_SECRET = new TextEncoder().encode("12345678901234567890123456789012");
/** The pre-shared key of RFC 6030 §6.1's example, used to make rfc6030-6.1-psk-aes128-cbc.pskcxml. */
const PSK = new Uint8Array(Buffer.from("12345678901234567890123456789012", "hex"));
/** The password used to make rfc6030-6.2-pbkdf2.pskcxml. */
const PASSWORD = "qwerty";

const PSK_FILE = "rfc6030-6.1-psk-aes128-cbc.pskcxml";
const PBKDF2_FILE = "rfc6030-6.2-pbkdf2.pskcxml";

/** Parse and expect a refusal with `code` and an issue at `path`; returns the error for further checks. */
function refused(xml: string, options: PSKCOptions, code: string, path: string | RegExp): TwofoldError {
  let caught: unknown;
  try {
    parsePSKC(xml, options);
  } catch (error) {
    caught = error;
  }
  assert.ok(isTwofoldError(caught), `expected a TwofoldError, got ${String(caught)}`);
  assert.equal(caught.code, code, JSON.stringify(caught.issues));
  const paths = caught.issues.map((i) => i.path);
  assert.ok(
    paths.some((p) => (typeof path === "string" ? p === path : path.test(p))),
    `no issue at ${String(path)}; issues: ${JSON.stringify(caught.issues)}`,
  );
  return caught;
}

function withHexSecret(token: ImportedToken) {
  return { ...token, secret: hex(token.secret) };
}

describe("parsePSKC: plaintext files", () => {
  test("an Acme shipment yields every HOTP and TOTP token with its counter, period, digits and hash", () => {
    const tokens = parsePSKC(fixture("acme-plain.pskcxml")).map(withHexSecret);
    const common = { manufacturer: "Acme" };
    assert.deepEqual(tokens, [
      {
        ...common,
        serial: "ACM-0000101",
        type: "hotp",
        algorithm: "SHA1",
        digits: 6,
        period: null,
        counter: 0,
        secret: "4cd8661c8f9231175c1926319aea088091be8c72",
        model: "Acme OTP c200",
      },
      {
        ...common,
        serial: "ACM-0000102",
        type: "hotp",
        algorithm: "SHA1",
        digits: 6,
        period: null,
        counter: 17,
        secret: "ed3af91d0fc3b2f9693127e1ca7b0f7b0f53f97e",
        model: "Acme OTP c200",
      },
      {
        ...common,
        serial: "ACM-0000103",
        type: "hotp",
        algorithm: "SHA1",
        digits: 8,
        period: null,
        counter: 0,
        secret: "8af8e5700d41573e88ac25cd2dbd0b51f687a7c0",
        model: "Acme OTP c280",
      },
      {
        ...common,
        serial: "ACM-1000201",
        type: "totp",
        algorithm: "SHA1",
        digits: 6,
        period: 30,
        counter: 0,
        secret: "81042106076b02521ab84b2a70259c063b55c697",
        model: "Acme TOTP c100",
      },
      {
        ...common,
        serial: "ACM-1000202",
        type: "totp",
        algorithm: "SHA256",
        digits: 8,
        period: 60,
        counter: 0,
        secret: "3ada198ea6a8522cc30fb95a0c06daaa131f12272d6db9de7b24be62e8cacb2c",
        model: "Acme TOTP c160",
      },
      {
        ...common,
        serial: "ACM-1000203",
        type: "totp",
        algorithm: "SHA512",
        digits: 6,
        period: 30,
        counter: 0,
        secret:
          "86824f546e00f55aa2dd100d2a3f681e5ecc1155f275449926c7bb070bcd0afc5be1fadc5b54ad16d82d7d0159909fca91af88e71d955571a3d4afdde5f142f2",
        model: "Acme TOTP c160",
      },
    ]);
  });

  test("RFC 6030 §4 example shape: the RFC 4226 secret, whose first code is 755224", () => {
    const [token, ...rest] = parsePSKC(fixture("rfc6030-4-plain.pskcxml"));
    assert.equal(rest.length, 0);
    assert.ok(token);
    assert.deepEqual(token.secret, RFC4226_SECRET);
    assert.equal(token.serial, "987654321");
    assert.equal(token.manufacturer, "Manufacturer");
    assert.equal(token.digits, 8);
    assert.equal(token.counter, 0);
    // RFC 4226 Appendix D, counts 0 and 1.
    assert.equal(generateHOTP({ key: token.secret, algorithm: "SHA1", digits: 6 }, 0), "755224");
    assert.equal(generateHOTP({ key: token.secret, algorithm: "SHA1", digits: 6 }, 1), "287082");
  });

  test("any namespace prefix is accepted, and Key@Id stands in for a missing SerialNo", () => {
    const tokens = parsePSKC(fixture("prefixed-key-id.pskcxml"));
    assert.deepEqual(tokens.map(withHexSecret), [
      {
        serial: "KID-7781",
        type: "hotp",
        algorithm: "SHA1",
        digits: 6,
        period: null,
        counter: 5,
        secret: "705b06321a0c9b8f9d0f91bc98594004e1d40a60",
        manufacturer: "Acme",
        model: null,
      },
    ]);
  });

  test("a UTF-8 byte order mark before the XML declaration is tolerated", () => {
    assert.equal(parsePSKC(`\uFEFF${fixture("rfc6030-4-plain.pskcxml")}`).length, 1);
  });
});

describe("parsePSKC: encrypted files", () => {
  test("RFC 6030 §6.1: AES-128-CBC under a pre-shared key with an HMAC-SHA1 ValueMAC", () => {
    const [hotp, totp] = parsePSKC(fixture(PSK_FILE), { preSharedKey: PSK });
    assert.ok(hotp && totp);
    assert.deepEqual(hotp.secret, RFC4226_SECRET);
    assert.equal(generateHOTP({ key: hotp.secret, algorithm: hotp.algorithm, digits: 6 }, 0), "755224");
    assert.deepEqual(totp.secret, RFC6238_SHA256_SECRET);
    assert.equal(totp.algorithm, "SHA256");
    assert.equal(totp.period, 30);
    // RFC 6238 Appendix B: SHA-256 at T = 59 s.
    assert.equal(
      generateTOTP({ key: totp.secret, algorithm: "SHA256", digits: 8, period: 30 }, 59_000),
      "46119246",
    );
  });

  test("RFC 6030 §6.2: a PBKDF2 key derived from the password", () => {
    const tokens = parsePSKC(fixture(PBKDF2_FILE), { password: PASSWORD });
    assert.deepEqual(
      tokens.map((t) => [t.serial, t.type, hex(t.secret)]),
      [
        ["987654321", "hotp", hex(RFC4226_SECRET)],
        ["987654322", "totp", hex(RFC6238_SHA256_SECRET)],
      ],
    );
  });

  test("a file that is not encrypted ignores a key given anyway", () => {
    assert.equal(parsePSKC(fixture("rfc6030-4-plain.pskcxml"), { preSharedKey: PSK }).length, 1);
  });

  test("AES-256-CBC with an HMAC-SHA256 MAC", () => {
    const key = randomBytes(32);
    const secret = randomBytes(32);
    const xml = buildEncrypted({ key, cipher: "aes256-cbc", mac: "sha256", secret });
    const [token] = parsePSKC(xml, { preSharedKey: key });
    assert.deepEqual(token?.secret, secret);
  });

  test("kw-aes128 (RFC 3394 key wrap) needs no ValueMAC: the wrap carries its own integrity check", () => {
    // RFC 3394 §4.1: 128 bits of key data wrapped with a 128-bit KEK.
    const kek = new Uint8Array(Buffer.from("000102030405060708090A0B0C0D0E0F", "hex"));
    const keyData = new Uint8Array(Buffer.from("00112233445566778899AABBCCDDEEFF", "hex"));
    assert.equal(hex(wrapAESKW(kek, keyData)), "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5");
    assert.deepEqual(unwrapAESKW(kek, wrapAESKW(kek, keyData)), keyData);

    const secret = randomBytes(24);
    const xml = buildEncrypted({ key: kek, cipher: "kw-aes128", secret });
    assert.deepEqual(parsePSKC(xml, { preSharedKey: kek })[0]?.secret, secret);
    refused(
      xml,
      { preSharedKey: randomBytes(16) },
      "ERR_IMPORT_DECRYPT",
      "KeyPackage[1]/Key/Data/Secret/EncryptedValue",
    );
  });

  test("PBKDF2 with an HMAC-SHA256 PRF and a 32-byte key", () => {
    const salt = randomBytes(16);
    const key = pbkdf2(new TextEncoder().encode("correct horse"), salt, 2000, 32, "SHA256");
    const secret = randomBytes(20);
    const xml = buildEncrypted({
      key,
      cipher: "aes256-cbc",
      mac: "sha1",
      secret,
      encryptionKey: `<xenc11:DerivedKey>
        <xenc11:KeyDerivationMethod Algorithm="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2">
          <pkcs5:PBKDF2-params>
            <Salt><Specified>${b64(salt)}</Specified></Salt>
            <IterationCount>2000</IterationCount>
            <KeyLength>32</KeyLength>
            <PRF Algorithm="http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"/>
          </pkcs5:PBKDF2-params>
        </xenc11:KeyDerivationMethod>
      </xenc11:DerivedKey>`,
    });
    assert.deepEqual(parsePSKC(xml, { password: "correct horse" })[0]?.secret, secret);
  });
});

describe("parsePSKC: keys missing or wrong", () => {
  test("encrypted secrets and no key: ERR_IMPORT_DECRYPT asking for the pre-shared key or password", () => {
    const error = refused(fixture(PSK_FILE), {}, "ERR_IMPORT_DECRYPT", "EncryptionKey");
    assert.equal(
      error.message,
      "this file's secrets are encrypted; give the pre-shared key (--psk) or password",
    );
  });

  test("a password-protected file and no password names the DerivedKey", () => {
    refused(fixture(PBKDF2_FILE), {}, "ERR_IMPORT_DECRYPT", "EncryptionKey/DerivedKey");
    refused(fixture(PBKDF2_FILE), { preSharedKey: PSK }, "ERR_IMPORT_DECRYPT", "EncryptionKey/DerivedKey");
  });

  test("a password for a pre-shared-key file is not enough", () => {
    refused(fixture(PSK_FILE), { password: PASSWORD }, "ERR_IMPORT_DECRYPT", "EncryptionKey");
  });

  // A wrong key almost always fails the MAC key's CBC padding; when the padding happens to pass,
  // the ValueMAC check catches it. Either way nothing is imported.
  const WRONG_KEY_AT = /^(MACMethod\/MACKey|KeyPackage\[\d\]\/Key\/Data\/Secret\/ValueMAC)$/;

  test("a wrong pre-shared key is refused", () => {
    refused(fixture(PSK_FILE), { preSharedKey: randomBytes(16) }, "ERR_IMPORT_DECRYPT", WRONG_KEY_AT);
  });

  test("a wrong password is refused", () => {
    refused(fixture(PBKDF2_FILE), { password: "qwertz" }, "ERR_IMPORT_DECRYPT", WRONG_KEY_AT);
  });

  test("a pre-shared key of the wrong size is refused at the MAC key", () => {
    refused(
      fixture(PSK_FILE),
      { preSharedKey: randomBytes(32) },
      "ERR_IMPORT_DECRYPT",
      "MACMethod/MACKey/EncryptionMethod",
    );
  });

  test("an altered ciphertext fails the ValueMAC even with the right key (RFC 6030 §6.1.1)", () => {
    const xml = fixture(PSK_FILE);
    const values = [...xml.matchAll(/<pskc:EncryptedValue>[\s\S]*?<xenc:CipherValue>([^<]+)</g)];
    const original = values[0]![1]!;
    const bytes = Buffer.from(original, "base64");
    bytes[bytes.length - 1]! ^= 1;
    const altered = xml.replace(original, bytes.toString("base64"));
    refused(altered, { preSharedKey: PSK }, "ERR_IMPORT_DECRYPT", "KeyPackage[1]/Key/Data/Secret/ValueMAC");
  });

  test("an AES-CBC value without a ValueMAC is refused as malformed", () => {
    const xml = fixture(PSK_FILE).replace(/<pskc:ValueMAC>[^<]*<\/pskc:ValueMAC>/, "");
    refused(xml, { preSharedKey: PSK }, "ERR_IMPORT_INVALID", "KeyPackage[1]/Key/Data/Secret/ValueMAC");
  });

  test("an unsupported cipher such as Triple DES is refused", () => {
    const xml = fixture(PSK_FILE).replace(
      /(<pskc:EncryptedValue>\s*<xenc:EncryptionMethod Algorithm=")[^"]+/,
      "$1http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
    );
    refused(
      xml,
      { preSharedKey: PSK },
      "ERR_IMPORT_INVALID",
      "KeyPackage[1]/Key/Data/Secret/EncryptedValue/EncryptionMethod",
    );
  });
});

describe("parsePSKC: malformed files are refused whole, naming the element at fault", () => {
  const cases: [string, string, string][] = [
    ["a KeyPackage without a Secret", "missing-secret.pskcxml", "KeyPackage[2]/Key/Data/Secret"],
    ["a Secret that is not base64", "bad-base64.pskcxml", "KeyPackage[1]/Key/Data/Secret/PlainValue"],
    ["ResponseFormat Length 7", "bad-length.pskcxml", "KeyPackage[1]/Key/AlgorithmParameters/ResponseFormat"],
    ["a serial used twice", "duplicate-serial.pskcxml", "KeyPackage[3]/DeviceInfo/SerialNo"],
    ["an 80-bit secret (B4)", "short-secret.pskcxml", "KeyPackage[1]/Key/Data/Secret"],
    ["a DOCTYPE with entities (XXE, billion laughs)", "doctype.pskcxml", "DOCTYPE"],
  ];
  for (const [what, file, path] of cases)
    test(what, () => {
      refused(fixture(`broken/${file}`), {}, "ERR_IMPORT_INVALID", path);
    });

  test("every problem in the file is reported, and no token is returned", () => {
    const error = refused(
      fixture("broken/several-problems.pskcxml"),
      {},
      "ERR_IMPORT_INVALID",
      "KeyPackage[1]/Key/Data/Counter/PlainValue",
    );
    assert.deepEqual(
      error.issues.map((i) => i.path),
      ["KeyPackage[1]/Key/Data/Counter/PlainValue", "KeyPackage[3]/Key"],
    );
    assert.match(error.issues[1]!.message, /OCRA.*not supported.*\(line \d+\)/);
  });

  test("issues never carry the secret", () => {
    const error = refused(fixture("broken/short-secret.pskcxml"), {}, "ERR_IMPORT_INVALID", /Secret/);
    const shown = JSON.stringify({ message: error.message, issues: error.issues, detail: error.detail });
    assert.doesNotMatch(shown, /MTIzNDU2Nzg5MA|1234567890|31323334353637383930/);
    assert.match(error.issues[0]!.message, /80 bits/);
  });

  test("a TOTP time step outside 15–300 s names Data/TimeInterval", () => {
    const xml = fixture("acme-plain.pskcxml").replace(
      "<PlainValue>60</PlainValue>",
      "<PlainValue>10</PlainValue>",
    );
    refused(xml, {}, "ERR_IMPORT_INVALID", "KeyPackage[5]/Key/Data/TimeInterval");
  });

  test("an unknown Suite hash is refused", () => {
    const xml = fixture("acme-plain.pskcxml").replace('<Suite hash="SHA256"/>', '<Suite hash="MD5"/>');
    refused(xml, {}, "ERR_IMPORT_INVALID", "KeyPackage[5]/Key/AlgorithmParameters/Suite");
  });

  test("two Secrets in one Data are refused rather than guessing", () => {
    const xml = fixture("rfc6030-4-plain.pskcxml").replace(
      "<Counter>",
      "<Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret><Counter>",
    );
    refused(xml, {}, "ERR_IMPORT_INVALID", "KeyPackage[1]/Key/Data/Secret");
  });

  test("XML that is not well-formed", () => {
    refused(fixture("rfc6030-4-plain.pskcxml").replace("</Key>", ""), {}, "ERR_IMPORT_INVALID", "XML");
  });

  test("a root element outside the PSKC namespace", () => {
    const xml = fixture("rfc6030-4-plain.pskcxml").replace(
      'urn:ietf:params:xml:ns:keyprov:pskc"',
      'urn:example:other"',
    );
    refused(xml, {}, "ERR_IMPORT_INVALID", "KeyContainer");
  });

  test("a container with no KeyPackage", () => {
    refused(
      '<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"/>',
      {},
      "ERR_IMPORT_INVALID",
      "KeyContainer",
    );
  });

  test("a file over 10 MB is refused before parsing", () => {
    const xml = `<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc"><!--${" ".repeat(10 * 1024 * 1024)}--></KeyContainer>`;
    refused(xml, {}, "ERR_IMPORT_INVALID", "file");
  });
});

/** An RFC 6030 §6.1-shaped container holding one HOTP secret, built with Twofold's own crypto helpers. */
function buildEncrypted(options: {
  key: Uint8Array;
  cipher: "aes128-cbc" | "aes256-cbc" | "kw-aes128";
  mac?: "sha1" | "sha256";
  secret: Uint8Array;
  encryptionKey?: string;
}): string {
  const method = `<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#${options.cipher}"/>`;
  const encrypt = (plaintext: Uint8Array) =>
    options.cipher === "kw-aes128"
      ? wrapAESKW(options.key, plaintext)
      : encryptAESCBCWithIV(options.key, plaintext);
  const macKey = randomBytes(32);
  const macURI =
    options.mac === "sha256"
      ? "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
      : "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
  const macMethod = options.mac
    ? `<pskc:MACMethod Algorithm="${macURI}">
        <pskc:MACKey>${method}<xenc:CipherData><xenc:CipherValue>${b64(encrypt(macKey))}</xenc:CipherValue></xenc:CipherData></pskc:MACKey>
      </pskc:MACMethod>`
    : "";
  const data = encrypt(options.secret);
  const valueMAC = options.mac
    ? `<pskc:ValueMAC>${b64(hmac(options.mac === "sha256" ? "SHA256" : "SHA1", macKey, data))}</pskc:ValueMAC>`
    : "";
  return `<?xml version="1.0" encoding="UTF-8"?>
<pskc:KeyContainer Version="1.0" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"
    xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"
    xmlns:xenc11="http://www.w3.org/2009/xmlenc11#"
    xmlns:pkcs5="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#">
  <pskc:EncryptionKey>${options.encryptionKey ?? "<ds:KeyName>Pre-shared-key</ds:KeyName>"}</pskc:EncryptionKey>
  ${macMethod}
  <pskc:KeyPackage>
    <pskc:DeviceInfo><pskc:Manufacturer>Acme</pskc:Manufacturer><pskc:SerialNo>ACM-9000001</pskc:SerialNo></pskc:DeviceInfo>
    <pskc:Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
      <pskc:AlgorithmParameters><pskc:ResponseFormat Length="6" Encoding="DECIMAL"/></pskc:AlgorithmParameters>
      <pskc:Data>
        <pskc:Secret>
          <pskc:EncryptedValue>${method}<xenc:CipherData><xenc:CipherValue>${b64(data)}</xenc:CipherValue></xenc:CipherData></pskc:EncryptedValue>
          ${valueMAC}
        </pskc:Secret>
      </pskc:Data>
    </pskc:Key>
  </pskc:KeyPackage>
</pskc:KeyContainer>`;
}
