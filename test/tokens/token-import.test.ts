// Importing hardware tokens into the inventory from real-world-shaped files: all or nothing, then lend and use them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { generateHOTP } from "../../src/core/otp/hotp.ts";
import { parsePSKC } from "../../src/core/tokens/pskc.ts";
import { parseTokenCSV } from "../../src/core/tokens/token-csv.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

const fixture = (path: string) => readFileSync(`test/fixtures/${path}`, "utf8");
const PSK = new Uint8Array(Buffer.from("12345678901234567890123456789012", "hex"));

for (const dialect of await dialects()) {
  describe(`token import on ${dialect}`, () => {
    let t: TestContext;
    before(async () => {
      t = await createTestContext(dialect);
    });
    after(() => t.close());
    const inventory = async () => (await t.store.listOTPCredentials({ kind: "token" })).credentials;

    test("a vendor PSKC file, a PSK-encrypted PSKC file and a CSV file fill the inventory", async () => {
      const progress: number[] = [];
      const plain = parsePSKC(fixture("pskc/acme-plain.pskcxml"));
      await t.services.importTokens(ADMIN, plain, (done, total) =>
        progress.push(Math.round((done / total) * 100)),
      );
      assert.equal(progress.at(-1), 100);
      const encrypted = parsePSKC(fixture("pskc/rfc6030-6.1-psk-aes128-cbc.pskcxml"), { preSharedKey: PSK });
      await t.services.importTokens(ADMIN, encrypted);
      // The same vendor's CSV export of a later shipment (serials not in the PSKC file).
      const csv = parseTokenCSV(
        "serial,secret,type,digits,counter_or_period\nACM-2000001,hex:00112233445566778899aabbccddeeff00112233,hotp,6,0\nACM-2000002,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,6,30\n",
      );
      await t.services.importTokens(ADMIN, csv);
      const all = await inventory();
      assert.equal(all.length, plain.length + encrypted.length + csv.length);
      assert.ok(all.every((c) => c.userId === null && c.status === "active"));
    });

    test("the RFC 4226 token from the encrypted file, once lent, logs its owner in with RFC 4226 codes", async () => {
      const [hotp] = parsePSKC(fixture("pskc/rfc6030-6.1-psk-aes128-cbc.pskcxml"), {
        preSharedKey: PSK,
      }).filter((x) => x.type === "hotp");
      assert.ok(hotp);
      await t.services.createUser(ADMIN, { username: "borrower" });
      await t.services.assignToken(ADMIN, hotp.serial, "borrower");
      await assert.rejects(t.services.assignToken(ADMIN, hotp.serial, "borrower"), {
        code: "ERR_TOKEN_ASSIGNED",
      });
      const code = generateHOTP(
        { key: new Uint8Array(Buffer.from("12345678901234567890")), algorithm: "SHA1", digits: hotp.digits },
        hotp.counter,
      );
      const r = await t.services.verifyPasscode({ username: "borrower", passcode: code });
      assert.equal(r.result, "allow");
      assert.equal(r.factor, "token");
      await t.services.unassignToken(ADMIN, hotp.serial);
      const next = generateHOTP(
        { key: new Uint8Array(Buffer.from("12345678901234567890")), algorithm: "SHA1", digits: hotp.digits },
        hotp.counter + 1,
      );
      assert.equal(
        (await t.services.verifyPasscode({ username: "borrower", passcode: next })).result,
        "deny",
      );
    });

    test("a batch with a serial already in the inventory is refused whole", async () => {
      const before = (await inventory()).length;
      // The vendor's CSV of the same shipment repeats six of the PSKC serials and adds one.
      const overlapping = parseTokenCSV(fixture("csv/acme-tokens.csv"));
      assert.equal(overlapping.length, 7);
      await assert.rejects(
        t.services.importTokens(ADMIN, overlapping),
        (e: { code: string; issues: { path: string }[] }) => {
          assert.equal(e.code, "ERR_TOKEN_EXISTS");
          assert.deepEqual(
            e.issues.map((i) => i.path),
            ["ACM-0000101", "ACM-0000102", "ACM-0000103", "ACM-1000201", "ACM-1000202", "ACM-1000203"].map(
              (s) => `serial ${s}`,
            ),
          );
          return true;
        },
      );
      assert.equal(await t.store.findTokenBySerial("ACM-0000104"), undefined);
      assert.equal((await inventory()).length, before);
    });

    test("broken files name their fault and change nothing", async () => {
      const before = (await inventory()).length;
      assert.throws(
        () => parsePSKC(fixture("pskc/broken/missing-secret.pskcxml")),
        (e: { code: string; issues: { path: string }[] }) => {
          assert.equal(e.code, "ERR_IMPORT_INVALID");
          assert.match(e.issues[0]!.path, /KeyPackage\[\d+\]/);
          return true;
        },
      );
      assert.throws(
        () => parseTokenCSV(fixture("csv/broken-tokens.csv")),
        (e: { code: string; issues: { path: string }[] }) => {
          assert.equal(e.code, "ERR_IMPORT_INVALID");
          assert.ok(e.issues.every((i) => /^line \d+$|^file$/.test(i.path)));
          return true;
        },
      );
      assert.throws(() => parsePSKC(fixture("pskc/rfc6030-6.1-psk-aes128-cbc.pskcxml")), {
        code: "ERR_IMPORT_DECRYPT",
      });
      assert.equal((await inventory()).length, before);
    });

    test("listing tokens never shows a secret", async () => {
      const listed = JSON.stringify(await inventory());
      for (const tok of parseTokenCSV(fixture("csv/acme-tokens.csv"))) {
        assert.ok(!listed.includes(Buffer.from(tok.secret).toString("hex")));
      }
    });
  });
}
