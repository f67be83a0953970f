// Key rotation (M2): after re-sealing with a new primary key, the old key can be removed and every factor still works.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { randomBytes } from "../../src/core/crypto/index.ts";
import { Keyring } from "../../src/core/crypto/keyring.ts";
import { createServices } from "../../src/core/services.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

for (const dialect of await dialects()) {
  describe(`key rotation on ${dialect}`, () => {
    let t: TestContext;
    before(async () => {
      t = await createTestContext(dialect);
    });
    after(() => t.close());

    test("re-seal with a new key, drop the old one: passcodes and application secrets still work", async () => {
      const app = await enrollActiveTOTP(t, "rotator");
      const created = await t.services.createApplication(ADMIN, { name: "Rotating app", type: "auth-api" });
      const k2 = { id: "t2", key: randomBytes(32) };
      const withBoth = (keyring: Keyring) =>
        createServices({ store: t.store, keyring, clock: t.clock, config: t.config, nodeName: "n" });
      const both = withBoth(new Keyring([k2, { id: "t1", key: t.keyringKey }]));
      const progress: number[] = [];
      const report = await both.resealSecrets(ADMIN, (done) => progress.push(done));
      assert.equal(report.otpCredentials, 1);
      assert.equal(report.applications, 1);
      assert.equal(progress.at(-1), 2);
      assert.equal((await both.resealSecrets(ADMIN)).alreadyCurrent, 2, "a second run has nothing to do");

      const onlyNew = withBoth(new Keyring([k2]));
      assert.equal(
        (await onlyNew.verifyPasscode({ username: "rotator", passcode: app.codeAt() })).result,
        "allow",
      );
      const stored = await onlyNew.requireApplication(created.application.id);
      assert.equal(onlyNew.openApplicationSecret(stored).reveal(), created.secretKey.reveal());

      // Without any key that can open them, secrets fail closed.
      const stranger = withBoth(new Keyring([{ id: "t9", key: randomBytes(32) }]));
      await assert.rejects(
        stranger.verifyPasscode({ username: "rotator", passcode: app.codeAt(t.clock.now() + 30_000) }),
        {
          code: "ERR_KEYRING",
        },
      );
    });
  });
}
