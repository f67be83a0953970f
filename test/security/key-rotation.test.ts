// Key rotation (M2): after re-sealing with a new primary key, the old key can be removed and every factor still works.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { LocalPushEvents } from "../../src/adapters/events/local-push-events.ts";
import { generateP256Signer } from "../../src/core/crypto/ecdsa.ts";
import { randomBytes } from "../../src/core/crypto/index.ts";
import { Keyring } from "../../src/core/crypto/keyring.ts";
import { createServices } from "../../src/core/services.ts";
import { deliverySealContext } from "../../src/core/use-cases/push.ts";
import { loadVAPIDKeys } from "../../src/runtime/vapid.ts";
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
      const ticket = await t.services.createDeviceActivation(ADMIN, "rotator");
      const subscription = { endpoint: "https://push.example/sub/1", keys: { p256dh: "p", auth: "a" } };
      const { device } = await t.services.activateDevice({
        token: ticket.token.reveal(),
        name: "Phone",
        publicKey: Buffer.from(generateP256Signer().publicKeyRaw).toString("base64url"),
        delivery: { type: "webpush", subscription },
      });
      const vapid = await loadVAPIDKeys(t.store, t.keyring);
      const k2 = { id: "t2", key: randomBytes(32) };
      const withBoth = (keyring: Keyring) =>
        createServices({
          store: t.store,
          keyring,
          clock: t.clock,
          config: t.config,
          nodeName: "n",
          pushEvents: new LocalPushEvents(),
        });
      const both = withBoth(new Keyring([k2, { id: "t1", key: t.keyringKey }]));
      const progress: number[] = [];
      const report = await both.resealSecrets(ADMIN, (done) => progress.push(done));
      assert.equal(report.otpCredentials, 2, "the app enrolment and the device's passcode seed");
      assert.equal(report.applications, 1);
      assert.equal(report.devices, 1);
      assert.equal(report.settings, 1, "the VAPID key");
      assert.equal(progress.at(-1), 5);
      assert.equal((await both.resealSecrets(ADMIN)).alreadyCurrent, 5, "a second run has nothing to do");

      const onlyNew = withBoth(new Keyring([k2]));
      assert.equal(
        (await onlyNew.verifyPasscode({ username: "rotator", passcode: app.codeAt() })).result,
        "allow",
      );
      const stored = await onlyNew.requireApplication(created.application.id);
      assert.equal(onlyNew.openApplicationSecret(stored).reveal(), created.secretKey.reveal());
      const newKeyring = new Keyring([k2]);
      assert.deepEqual((await loadVAPIDKeys(t.store, newKeyring)).publicKeyRaw, vapid.publicKeyRaw);
      const sealed = (await t.store.getDevice(device.id))!.deliverySealed!;
      const opened = JSON.parse(
        Buffer.from(newKeyring.open(sealed, deliverySealContext(device.id))).toString(),
      );
      assert.deepEqual(opened, { type: "webpush", subscription });

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
