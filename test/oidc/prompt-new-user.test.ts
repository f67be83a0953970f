// The prompt for a user with no second factor, on both databases: new-user policy allow lets only a user who never had
// one in (through the completion gate, logged allow_unenrolled_user, the login allowed in the same transaction); the
// backup offer comes only after a login whose first factor was set up in it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decodeBase32 } from "../../src/core/base32.ts";
import { generateP256Signer } from "../../src/core/crypto/ecdsa.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP } from "../support/factors.ts";
import { startPromptLogin } from "../support/prompt-login.ts";
import { dialects } from "../support/stores.ts";

const REDIRECT = "https://portal.example.edu/callback";
const ORIGIN = "https://twofold.example.edu";

for (const dialect of await dialects()) {
  describe(`prompt: new users (${dialect})`, () => {
    let t: TestContext;
    const apps: Record<"allow" | "enroll" | "deny", { id: string; secret: string }> = {} as never;

    before(async () => {
      t = await createTestContext(dialect);
      for (const newUserPolicy of ["allow", "enroll", "deny"] as const) {
        const created = await t.services.createApplication(ADMIN, {
          name: `Portal (${newUserPolicy})`,
          type: "web-sdk",
          redirectURIs: [REDIRECT],
          policy: { newUserPolicy },
        });
        apps[newUserPolicy] = { id: created.application.id, secret: created.secretKey.reveal() };
      }
    });
    after(async () => {
      await t?.close();
    });

    /** A login as Duo's Node SDK starts one (authorize with a signed request JWT): its prompt handle. */
    async function start(policy: keyof typeof apps, username: string): Promise<string> {
      const client = { ...apps[policy], redirect: REDIRECT, audience: ORIGIN };
      return startPromptLogin(t.services, client, username, t.clock.now());
    }

    test("allow: a user who never had a factor is let in through the gate, logged allow_unenrolled_user", async () => {
      await t.services.createUser(ADMIN, { username: "ada" });
      const handle = await start("allow", "ada");
      assert.deepEqual(await t.services.allowPromptNewUser(handle, { ip: "192.0.2.9" }), { result: "allow" });
      const login = await t.services.openPromptLogin(handle, { touch: false });
      assert.equal(login?.session.status, "allowed");
      assert.equal(login?.session.factor, "none");
      const line = await t.store.findAuthLogByTxid(login!.session.authTxid!);
      assert.deepEqual(
        [line?.result, line?.reason, line?.factor, line?.userId],
        ["allow", "allow_unenrolled_user", "none", login!.user!.id],
      );
      const finished = await t.services.finishPromptLogin(handle);
      assert.match(finished.redirectURL, /^https:\/\/portal\.example\.edu\/callback\?duo_code=/);
      // Once allowed, the login cannot be allowed again.
      await assert.rejects(t.services.allowPromptNewUser(handle, { ip: null }), /this login has ended/);
    });

    test("not let in: a user with a factor, one whose factor was removed, another policy, an unknown user", async () => {
      await enrollActiveTOTP(t, "bob");
      const carl = await enrollActiveTOTP(t, "carl");
      await t.services.removeOTPCredential(ADMIN, carl.credentialId);
      await t.services.createUser(ADMIN, { username: "dee" });
      for (const [policy, username] of [
        ["allow", "bob"],
        ["allow", "carl"],
        ["enroll", "dee"],
        ["deny", "dee"],
      ] as const) {
        const handle = await start(policy, username);
        assert.deepEqual(
          await t.services.allowPromptNewUser(handle, { ip: null }),
          { result: "none" },
          `${policy} ${username}`,
        );
        assert.equal((await t.services.openPromptLogin(handle, { touch: false }))?.session.status, "pending");
      }
    });

    test("allow: a username nobody has is let in too (as preauth does), its id_token naming the username", async () => {
      const handle = await start("allow", "newcomer");
      assert.deepEqual(await t.services.allowPromptNewUser(handle, { ip: null }), { result: "allow" });
      const login = await t.services.openPromptLogin(handle, { touch: false });
      assert.deepEqual([login?.session.status, login?.session.userId], ["allowed", null]);
      const line = await t.store.findAuthLogByTxid(login!.session.authTxid!);
      assert.deepEqual(
        [line?.reason, line?.userId, line?.username],
        ["allow_unenrolled_user", null, "newcomer"],
      );
      // On an application that enrols or denies new users, nobody unknown is let in.
      for (const policy of ["enroll", "deny"] as const)
        assert.deepEqual(await t.services.allowPromptNewUser(await start(policy, "newcomer"), { ip: null }), {
          result: "none",
        });
      // A username taken after the login started: that login lets nobody in (log in again).
      const late = await start("allow", "latecomer");
      await t.services.createUser(ADMIN, { username: "latecomer" });
      assert.deepEqual(await t.services.allowPromptNewUser(late, { ip: null }), { result: "none" });
    });

    test("a backup is offered only after a login whose first factor was set up in it", async () => {
      // eve's app was set up before this login: no backup offer after logging in with it.
      const eve = await enrollActiveTOTP(t, "eve");
      const handle = await start("enroll", "eve");
      const r = await t.services.verifyPromptPasscode(handle, { passcode: eve.codeAt(), ip: null });
      assert.equal(r.result, "allow");
      assert.equal(await t.services.offerPromptBackup(handle), null);
      await assert.rejects(t.services.startPromptBackupActivation(handle, { ip: null }), /no backup/);
      // A login that is still pending offers nothing either.
      await t.services.createUser(ADMIN, { username: "fay" });
      assert.equal(await t.services.offerPromptBackup(await start("enroll", "fay")), null);
      // gil enrols in his login (the app, activated from the prompt's QR code) and logs in with its passcode: this
      // device or a security key is offered as the backup.
      await t.services.createUser(ADMIN, { username: "gil" });
      const gilLogin = await start("enroll", "gil");
      const ticket = await t.services.startPromptEnrollment(gilLogin, { ip: null });
      const { totp } = await t.services.activateDevice({
        token: ticket.token.reveal(),
        name: "Gil's phone",
        publicKey: Buffer.from(generateP256Signer().publicKeyRaw).toString("base64url"),
      });
      t.clock.advance(30_000);
      const passcode = generateTOTP(
        {
          key: decodeBase32(totp.secret.reveal())!,
          algorithm: totp.algorithm,
          digits: totp.digits,
          period: totp.period,
        },
        t.clock.now(),
      );
      const allowed = await t.services.verifyPromptPasscode(gilLogin, { passcode, ip: null });
      assert.equal(allowed.result, "allow", JSON.stringify(allowed));
      assert.deepEqual(await t.services.offerPromptBackup(gilLogin), { kind: "key" });
      // Not once the factor is more than 10 minutes old (the page kept open meanwhile: the login itself is live).
      t.clock.advance(6 * 60_000);
      assert.equal((await t.services.openPromptLogin(gilLogin))?.expired, false);
      t.clock.advance(5 * 60_000);
      assert.equal((await t.services.openPromptLogin(gilLogin, { touch: false }))?.expired, false);
      assert.equal(await t.services.offerPromptBackup(gilLogin), null);
    });
  });
}
