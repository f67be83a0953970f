// Two nodes on one database, each keeping what its passcode logins read (users by name, their credentials): a
// change made through one node is honoured by the other at its very next login.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { LocalPushEvents } from "../../src/adapters/events/local-push-events.ts";
import { randomBytes } from "../../src/core/crypto/index.ts";
import { generateHOTP } from "../../src/core/otp/hotp.ts";
import type { Services } from "../../src/core/services.ts";
import { createServices } from "../../src/core/services.ts";
import type { KyselyStore } from "../../src/store/kysely-store.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, assignHOTPToken, enrollActiveTOTP, wrongCode } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

for (const dialect of await dialects()) {
  describe(`passcode logins on two nodes, ${dialect}`, () => {
    let t: TestContext;
    let storeB: KyselyStore;
    /** Node A: t.services. Node B: its own store (connection or pool) and services over the same database. */
    let b: Services;
    before(async () => {
      t = await createTestContext(dialect);
      storeB = await t.db.open();
      b = createServices({
        store: storeB,
        keyring: t.keyring,
        clock: t.clock,
        config: t.config,
        nodeName: "node-b",
        pushEvents: new LocalPushEvents(),
      });
    });
    after(async () => {
      await storeB.close();
      await t.close();
    });

    const verify = (node: Services, username: string, passcode: string) =>
      node.verifyPasscode({ username, passcode });

    test("a token code used on one node is refused on the other, and the next code works on both", async () => {
      const token = await assignHOTPToken(t, "two-hotp", "TWO-1", randomBytes(20));
      assert.equal((await verify(t.services, "two-hotp", token.codeAt(0))).result, "allow");
      assert.equal((await verify(b, "two-hotp", token.codeAt(1))).result, "allow");
      // Node A last saw counter 1: code 1 was used on node B since.
      const replay = await verify(t.services, "two-hotp", token.codeAt(1));
      assert.equal(replay.result, "deny");
      assert.equal((await verify(t.services, "two-hotp", token.codeAt(2))).result, "allow");
      assert.equal((await verify(b, "two-hotp", token.codeAt(2))).result, "deny");
      assert.equal((await verify(b, "two-hotp", token.codeAt(3))).result, "allow");
    });

    test("an authenticator-app code used on one node is refused on the other", async () => {
      const app = await enrollActiveTOTP(t, "two-totp");
      assert.equal((await verify(t.services, "two-totp", app.codeAt())).result, "allow");
      t.clock.advance(t.config.policy.totp.period * 1000);
      const code = app.codeAt();
      assert.equal((await verify(b, "two-totp", code)).result, "allow");
      assert.equal((await verify(t.services, "two-totp", code)).result, "deny");
    });

    test("a credential removed on one node no longer logs in on the other", async () => {
      const app = await enrollActiveTOTP(t, "two-removed");
      assert.equal((await verify(t.services, "two-removed", app.codeAt())).result, "allow");
      await b.removeOTPCredential(ADMIN, app.credentialId);
      t.clock.advance(t.config.policy.totp.period * 1000);
      const outcome = await verify(t.services, "two-removed", app.codeAt());
      assert.equal(outcome.result, "deny");
      assert.equal(outcome.reason, "invalid_passcode");

      const token = await assignHOTPToken(t, "two-unassigned", "TWO-2", randomBytes(20));
      assert.equal((await verify(t.services, "two-unassigned", token.codeAt(0))).result, "allow");
      await b.unassignToken(ADMIN, "TWO-2");
      assert.equal((await verify(t.services, "two-unassigned", token.codeAt(1))).result, "deny");
    });

    test("a token assigned on one node logs in on the other at once, and after", async () => {
      const first = await assignHOTPToken(t, "two-added", "TWO-8", randomBytes(20));
      assert.equal((await verify(t.services, "two-added", first.codeAt(0))).result, "allow");
      const key = randomBytes(20);
      await b.importTokens(ADMIN, [
        {
          serial: "TWO-9",
          type: "hotp",
          algorithm: "SHA1",
          digits: 6,
          period: null,
          counter: 0,
          secret: key,
          manufacturer: "Test",
          model: null,
        },
      ]);
      await b.assignToken(ADMIN, "TWO-9", "two-added");
      const second = { codeAt: (n: number) => generateHOTP({ key, algorithm: "SHA1", digits: 6 }, n) };
      assert.equal((await verify(t.services, "two-added", second.codeAt(0))).result, "allow");
      assert.equal((await verify(t.services, "two-added", second.codeAt(1))).result, "allow");
      assert.equal((await verify(t.services, "two-added", first.codeAt(1))).result, "allow");
      assert.equal((await verify(t.services, "two-added", second.codeAt(1))).result, "deny");
    });

    test("a user disabled or deleted on one node is refused on the other, and re-enabled logs in again", async () => {
      const token = await assignHOTPToken(t, "two-status", "TWO-3", randomBytes(20));
      assert.equal((await verify(t.services, "two-status", token.codeAt(0))).result, "allow");
      await b.updateUser(ADMIN, "two-status", { status: "disabled" });
      const disabled = await verify(t.services, "two-status", token.codeAt(1));
      assert.equal(disabled.result, "deny");
      assert.equal(disabled.reason, "user_disabled");
      await b.updateUser(ADMIN, "two-status", { status: "active" });
      assert.equal((await verify(t.services, "two-status", token.codeAt(1))).result, "allow");
      await b.deleteUser(ADMIN, "two-status");
      const deleted = await verify(t.services, "two-status", token.codeAt(2));
      assert.equal(deleted.result, "deny");
      assert.equal(deleted.reason, "unknown_user");
    });

    test("a user renamed on one node is not found under the old name on the other", async () => {
      const token = await assignHOTPToken(t, "two-old-name", "TWO-4", randomBytes(20));
      assert.equal((await verify(t.services, "two-old-name", token.codeAt(0))).result, "allow");
      await b.updateUser(ADMIN, "two-old-name", { username: "two-new-name" });
      const old = await verify(t.services, "two-old-name", token.codeAt(1));
      assert.equal(old.result, "deny");
      assert.equal(old.reason, "unknown_user");
      assert.equal((await verify(t.services, "two-new-name", token.codeAt(1))).result, "allow");
    });

    test("a lockout reached on one node holds on the other, for a right code too", async () => {
      const token = await assignHOTPToken(t, "two-locked", "TWO-5", randomBytes(20));
      assert.equal((await verify(t.services, "two-locked", token.codeAt(0))).result, "allow");
      // Wrong codes on node B, each after the delay the previous ones imposed, until the factor locks.
      for (let i = 0; i < t.config.policy.lockout.maxFailures; i++) {
        t.clock.advance(t.config.policy.lockout.delayMaxSeconds * 1000);
        const wrong = await verify(b, "two-locked", wrongCode(token.codeAt(1)));
        assert.equal(wrong.reason, "invalid_passcode");
      }
      const locked = await verify(t.services, "two-locked", token.codeAt(1));
      assert.equal(locked.result, "deny");
      assert.equal(locked.reason, "locked_out");
      await b.unlockUser(ADMIN, "two-locked");
      assert.equal((await verify(t.services, "two-locked", token.codeAt(1))).result, "allow");
    });

    test("an application disabled on one node refuses logins through the other", async () => {
      const created = await t.services.createApplication(ADMIN, { name: "two-nodes", type: "auth-api" });
      const application = (await t.store.getApplication(created.application.id))!;
      const token = await assignHOTPToken(t, "two-app", "TWO-6", randomBytes(20));
      const through = (node: Services, code: string) =>
        node.verifyPasscode({ username: "two-app", passcode: code, application });
      assert.equal((await through(t.services, token.codeAt(0))).result, "allow");
      await b.setApplicationStatus(ADMIN, application.id, "disabled");
      // The caller still holds the application as it read it before the change.
      const refused = await through(t.services, token.codeAt(1));
      assert.equal(refused.result, "deny");
      assert.equal(refused.reason, "application_disabled");
    });

    test("every allow and every deny is one line in the authentication log", async () => {
      const token = await assignHOTPToken(t, "two-log", "TWO-7", randomBytes(20));
      const outcomes = [
        await verify(t.services, "two-log", token.codeAt(0)),
        await verify(b, "two-log", token.codeAt(1)),
        await verify(t.services, "two-log", token.codeAt(1)),
        await verify(t.services, "two-log", token.codeAt(2)),
      ];
      assert.deepEqual(
        outcomes.map((o) => o.result),
        ["allow", "allow", "deny", "allow"],
      );
      const user = (await t.services.findUser("two-log"))!;
      const { entries } = await t.services.listAuthLog({
        minTime: 0,
        maxTime: t.clock.now() + 1,
        limit: 50,
        userIds: [user.id],
      });
      assert.deepEqual(
        entries.map((e) => `${e.txid} ${e.result} ${e.node}`).sort(),
        outcomes.map((o, i) => `${o.txid} ${o.result} ${i === 1 ? "node-b" : "test-node"}`).sort(),
      );
    });
  });
}
