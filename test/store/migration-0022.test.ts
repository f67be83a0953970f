// Migration 0022 on a database that got 0014 after keys and text-message numbers existed: their users are marked as
// having had a second factor, so the new-user policy and enrolment in the prompt never treat them as new users.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { randomHex } from "../../src/core/crypto/index.ts";
import type { AuthLogWrite } from "../../src/core/model.ts";
import { migrateToLatest } from "../../src/store/migrations.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

for (const dialect of await dialects()) {
  describe(`migration 0022 on ${dialect}`, () => {
    let t: TestContext;
    before(async () => {
      t = await createTestContext(dialect);
    });
    after(() => t.close());

    test("marks users with a key, a number verified for texts, or a login by either; not the others", async () => {
      const now = t.clock.now();
      const key = await t.services.createUser(ADMIN, { username: "has-key" });
      await t.store.insertWebAuthnCredential({
        id: `WK${randomHex(10)}`,
        userId: key.id,
        credentialId: randomHex(16),
        publicKey: randomHex(32),
        userHandle: randomHex(16),
        signCount: 0,
        transports: ["usb"],
        aaguid: "00000000-0000-0000-0000-000000000000",
        attestationFormat: "none",
        backupEligible: false,
        backupState: false,
        deviceType: "singleDevice",
        discoverable: null,
        name: "YubiKey",
        status: "active",
        createdAt: now,
        lastUsedAt: null,
      });
      for (const [username, verified] of [
        ["has-number", true],
        ["unverified-number", false],
      ] as const) {
        const user = await t.services.createUser(ADMIN, { username });
        await t.store.insertPhone({
          id: `DP${randomHex(10)}`,
          userId: user.id,
          number: "+85291234567",
          extension: null,
          name: "Phone",
          type: "mobile",
          platform: "unknown",
          deviceId: null,
          createdAt: now,
          smsVerifiedAt: verified ? now : null,
        });
      }
      for (const [username, factor, result] of [
        ["had-key", "webauthn", "allow"],
        ["had-texts", "sms", "allow"],
        ["denied-key", "webauthn", "deny"],
      ] as const) {
        const user = await t.services.createUser(ADMIN, { username });
        await t.store.appendAuthLog({
          id: `AL${randomHex(8)}`,
          at: now,
          userId: user.id,
          username,
          applicationId: null,
          factor,
          result,
          reason: "r",
          ip: null,
          txid: randomHex(16),
          node: "n",
        } as AuthLogWrite);
      }
      await t.services.createUser(ADMIN, { username: "never" });

      // The database as 0014 left it after keys and numbers existed: nobody marked, 0022 not recorded.
      const db = t.store.kysely;
      await sql`update users set first_factor_at = null`.execute(db);
      await sql`delete from kysely_migration where name = '0022_first_factor_keys_and_phones'`.execute(db);
      assert.deepEqual((await migrateToLatest(db as never, dialect)).applied, [
        "0022_first_factor_keys_and_phones",
      ]);

      const marks = new Map(
        (
          await sql<{
            username: string;
            first_factor_at: unknown;
          }>`select username, first_factor_at from users`.execute(db)
        ).rows.map((r) => [r.username, r.first_factor_at !== null]),
      );
      assert.deepEqual(
        Object.fromEntries(
          ["has-key", "has-number", "had-key", "had-texts", "unverified-number", "denied-key", "never"].map(
            (u) => [u, marks.get(u)],
          ),
        ),
        {
          "has-key": true,
          "has-number": true,
          "had-key": true,
          "had-texts": true,
          "unverified-number": false,
          "denied-key": false,
          never: false,
        },
      );
    });
  });
}
