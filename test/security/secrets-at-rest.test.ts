// No secret is stored in plain text (B4, C2, M2): dump every table after enrolling every kind of factor, search for each secret.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { randomBytes } from "../../src/core/crypto/index.ts";
import { Secret } from "../../src/core/secret.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, assignHOTPToken } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

/** Every encoding a secret might be stored in by mistake. */
function spellings(bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes);
  return [
    b.toString("hex"),
    b.toString("hex").toUpperCase(),
    b.toString("base64"),
    b.toString("base64url"),
  ].map((s) => s.replace(/=+$/, ""));
}

for (const dialect of await dialects()) {
  describe(`secrets at rest on ${dialect}`, () => {
    let t: TestContext;
    const secrets: string[] = [];
    before(async () => {
      t = await createTestContext(dialect);
      await t.services.createUser(ADMIN, { username: "carol", password: "correct horse battery staple" });
      secrets.push("correct horse battery staple");
      const e = await t.services.enrollTOTP(ADMIN, "carol");
      secrets.push(e.secret.reveal(), e.uri.reveal());
      const tokenKey = randomBytes(20);
      await assignHOTPToken(t, "carol", "AT-REST-1", tokenKey);
      secrets.push(...spellings(tokenKey));
      secrets.push(
        ...(await t.services.issueBypassCodes(ADMIN, "carol", { count: 5, uses: 2 })).codes.reveal(),
      );
      const rescue = (await t.services.generateRescueCodes(ADMIN, "carol")).codes.reveal();
      secrets.push(...rescue, ...rescue.map((c) => c.replaceAll("-", "")));
      const app = await t.services.createApplication(ADMIN, { name: "Portal", type: "web-sdk" });
      secrets.push(app.secretKey.reveal());
      // A use of each kind, so logs and counters hold whatever a use writes.
      await t.services.verifyPasscode({ username: "carol", passcode: rescue[0]! });
    });
    after(() => t.close());

    test("a dump of every table contains none of the secrets", async () => {
      const tables = [
        "users",
        "user_aliases",
        "applications",
        "otp_credentials",
        "bypass_codes",
        "rescue_codes",
        "lockouts",
        "audit_log",
        "auth_log",
        "notifications",
        "meta",
        "devices",
        "device_activations",
        "push_transactions",
      ];
      let dump = "";
      for (const table of tables) {
        const rows = await sql.raw(`select * from ${table}`).execute(t.store.kysely);
        dump += JSON.stringify(rows.rows);
      }
      assert.ok(dump.length > 1000, "the dump has content");
      for (const s of secrets)
        assert.ok(!dump.includes(s), `secret found in the database: ${s.slice(0, 4)}…`);
      assert.ok(
        !dump.toUpperCase().includes(secrets[1]!.toUpperCase()),
        "TOTP base32 seed absent in any case",
      );
    });

    test("bypass and rescue rows record the hash algorithm, key id and salt", async () => {
      const rows = await sql<{
        code_hash: string;
      }>`select code_hash from bypass_codes union all select code_hash from rescue_codes`.execute(
        t.store.kysely,
      );
      assert.ok(rows.rows.length >= 15);
      for (const r of rows.rows)
        assert.match(r.code_hash, /^hmac-sha256\.t1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    });
  });
}

test("logs redact secret fields at any depth, and Secret values never print", async () => {
  let out = "";
  const sink = new Writable({
    write(chunk, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ level: "info", node: "n", destination: sink });
  logger.info(
    { passcode: "123456", req: { body: { code: "9876543210", secret: "JBSWY3DP" } }, user: "alice" },
    "attempt",
  );
  logger.info({ wrapped: new Secret("S3CR3T-VALUE") }, "wrapped");
  logger.flush();
  await new Promise((r) => setTimeout(r, 50));
  for (const s of ["123456", "9876543210", "JBSWY3DP", "S3CR3T-VALUE"]) assert.ok(!out.includes(s), s);
  assert.ok(out.includes("alice"));
  assert.equal(`${new Secret("x")}`, "[redacted]");
  assert.equal(JSON.stringify({ s: new Secret("x") }), '{"s":"[redacted]"}');
});
