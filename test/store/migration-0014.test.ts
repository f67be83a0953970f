// Migration 0014 on an existing database: users who already have or had a second factor are marked, so they cannot enrol again as new users.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { generateP256Signer } from "../../src/core/crypto/ecdsa.ts";
import { migrateToLatest } from "../../src/store/migrations.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

for (const dialect of await dialects()) {
  describe(`migration 0014 on ${dialect}`, () => {
    let t: TestContext;
    before(async () => {
      t = await createTestContext(dialect);
    });
    after(() => t.close());

    test("marks users with an authenticator app, a device (even revoked) or a login with a factor; not the others", async () => {
      await enrollActiveTOTP(t, "has-app");
      await t.services.createUser(ADMIN, { username: "had-device" });
      const ticket = await t.services.createDeviceActivation(ADMIN, "had-device");
      const { device } = await t.services.activateDevice({
        token: ticket.token.reveal(),
        name: "Phone",
        publicKey: Buffer.from(generateP256Signer().publicKeyRaw).toString("base64url"),
      });
      await t.services.revokeDevice(ADMIN, device.id);
      const logged = await enrollActiveTOTP(t, "logged-in");
      const app = (await t.services.createApplication(ADMIN, { name: "A", type: "auth-api" })).application;
      assert.equal(
        (
          await t.services.verifyPasscode({
            username: "logged-in",
            passcode: logged.codeAt(),
            application: app,
          })
        ).result,
        "allow",
      );
      await t.services.removeOTPCredential(ADMIN, logged.credentialId);
      await t.services.createUser(ADMIN, { username: "never" });
      await t.services.createUser(ADMIN, { username: "pending-only" });
      await t.services.enrollTOTP(ADMIN, "pending-only");

      // The database as it was before 0014: no column, no table, the migration not recorded.
      const db = t.store.kysely;
      await sql`drop table trusted_browsers`.execute(db);
      await sql`alter table users drop column first_factor_at`.execute(db);
      await sql`delete from kysely_migration where name = '0014_trusted_browsers'`.execute(db);
      assert.deepEqual((await migrateToLatest(db as never, dialect)).applied, ["0014_trusted_browsers"]);

      // Read straight from the table: statements the store prepared before the columns changed are not the subject.
      const marks = new Map(
        (
          await sql<{
            username: string;
            first_factor_at: unknown;
          }>`select username, first_factor_at from users`.execute(db)
        ).rows.map((r) => [r.username, r.first_factor_at !== null]),
      );
      const marked = async (username: string) => marks.get(username);
      assert.equal(await marked("has-app"), true);
      assert.equal(await marked("had-device"), true);
      assert.equal(await marked("logged-in"), true, "its app is gone, its login with it is in the log");
      assert.equal(await marked("never"), false);
      assert.equal(await marked("pending-only"), false, "an unconfirmed enrolment is no factor");
    });
  });
}
