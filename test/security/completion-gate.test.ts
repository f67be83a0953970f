// The completion gate (A4, G1): every completion path × every change made while the login was under way ends in a deny the log explains.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { generateP256Signer } from "../../src/core/crypto/ecdsa.ts";
import type { Application } from "../../src/core/model.ts";
import { passcodeOutcome } from "../../src/core/use-cases/auth-api.ts";
import { canonicalPushAnswer } from "../../src/core/use-cases/push.ts";
import { createTestContext, servicesOfAnotherNode, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP, wrongCode } from "../support/factors.ts";
import { SoftAuthenticator } from "../support/soft-authenticator.ts";
import { dialects } from "../support/stores.ts";

type Change =
  | "none"
  | "user disabled"
  | "locked"
  | "user deleted"
  | "application disabled"
  | "policy changed"
  | "method forbidden";
const CHANGES: Change[] = [
  "none",
  "user disabled",
  "locked",
  "user deleted",
  "application disabled",
  "policy changed",
  "method forbidden",
];

/** What each completion path must end in, per change: the reason the authentication log gives. */
const EXPECTED: Record<string, Record<Change, string>> = {
  // verifyPasscode: Auth API v2 sync and async, REST v1, `twofold passcode check`, the demo page.
  passcode: {
    none: "allow valid_passcode",
    "user disabled": "deny user_disabled",
    locked: "deny locked_out",
    "user deleted": "deny user_deleted",
    "application disabled": "deny application_disabled",
    "policy changed": "deny factor_not_allowed",
    // The application stops allowing authenticator-app passcodes (the TOTP code typed).
    "method forbidden": "deny factor_not_allowed",
  },
  // answerPush: the device API, behind every push login (Auth API v2, REST v1, `twofold push send`).
  push: {
    none: "allow push_approved",
    "user disabled": "deny user_disabled",
    locked: "deny locked_out",
    "user deleted": "deny user_deleted",
    "application disabled": "deny application_disabled",
    "policy changed": "deny plain_push_not_allowed",
    // The application stops allowing push at all.
    "method forbidden": "deny factor_not_allowed",
  },
  // finishWebAuthnAuthentication: a login with a key (the prompt, step-up), here decided on what the node read at the
  // ceremony's start and committed by one conditional write (commitWebAuthnAllow), which the change comes just before.
  webauthn: {
    none: "allow valid_assertion",
    "user disabled": "deny user_disabled",
    locked: "deny locked_out",
    // The user's ceremonies and keys went with them.
    "user deleted": "deny unknown_ceremony",
    "application disabled": "deny application_disabled",
    "policy changed": "deny factor_not_allowed",
    "method forbidden": "deny factor_not_allowed",
  },
  // preauthenticate: a user in bypass status logs in without a factor (there is no factor lock to check).
  "bypass user": {
    none: "allow bypass_user",
    "user disabled": "deny user_disabled",
    locked: "allow bypass_user",
    "user deleted": "deny user_deleted",
    "application disabled": "deny application_disabled",
    "policy changed": "deny bypass_status_revoked",
    // The application leaves bypass out of its methods: bypass status does not open it either.
    "method forbidden": "deny factor_not_allowed",
  },
};

/**
 * The same services over a store that applies `change` just before the login's writes: its transaction, or the one
 * conditional statement of a login decided on what the node read before (commitOTPAllow): "while pending".
 */
function servicesWithChangeAtCompletion(t: TestContext, change: () => Promise<void>, calls: string[] = []) {
  let pending: (() => Promise<void>) | null = change;
  return servicesOfAnotherNode(t, "gate-test", {
    methods: ["transaction", "commitOTPAllow", "commitWebAuthnAllow"],
    call: async (method, run) => {
      calls.push(method);
      const apply = pending;
      pending = null;
      if (apply) await apply();
      return run();
    },
  });
}

const ORIGIN = "https://login.example.edu";

for (const dialect of await dialects()) {
  describe(`completion gate on ${dialect}`, () => {
    let t: TestContext;
    let n = 0;
    before(async () => {
      t = await createTestContext(dialect, { "webauthn.rpId": "example.edu", "webauthn.origins": [ORIGIN] });
    });
    after(() => t.close());

    async function newApplication(): Promise<Application> {
      const { application } = await t.services.createApplication(ADMIN, {
        name: `App ${++n}`,
        type: "auth-api",
        policy: { allowPlainPush: true },
      });
      return application;
    }

    /** Lock a factor class as failures recorded on another node would. */
    async function lock(userId: string, factorClass: "otp" | "push" | "webauthn"): Promise<void> {
      await t.store.transaction(async (tx) => {
        await tx.lockAttemptState(userId, factorClass);
        for (let i = 0; i < t.config.policy.lockout.maxFailures; i++)
          await tx.recordFailure(userId, factorClass, t.clock.now());
      });
    }

    async function apply(
      change: Change,
      username: string,
      app: Application,
      factorClass: "otp" | "push" | "webauthn",
    ) {
      const user = (await t.services.findUser(username))!;
      switch (change) {
        case "none":
          return;
        case "user disabled":
          await t.services.setUserStatus(ADMIN, username, "disabled");
          return;
        case "locked":
          await lock(user.id, factorClass);
          return;
        case "user deleted":
          await t.services.deleteUser(ADMIN, username);
          return;
        case "application disabled":
          await t.services.setApplicationStatus(ADMIN, app.id, "disabled");
          return;
        case "policy changed":
          if (user.status === "bypass") await t.services.setUserStatus(ADMIN, username, "active");
          else
            await t.services.updateApplication(ADMIN, app.id, {
              policy: { methods: ["push", "passcode-app", "token"], allowPlainPush: false },
            });
          return;
        case "method forbidden":
          await t.services.updateApplication(ADMIN, app.id, {
            policy: {
              methods: (["push", "passcode-app", "token", "bypass"] as const).filter(
                (m) =>
                  m !==
                  (user.status === "bypass"
                    ? "bypass"
                    : factorClass === "otp"
                      ? "passcode-app"
                      : factorClass),
              ),
            },
          });
      }
    }

    async function logged(txid: string, username: string) {
      const entry = await t.store.findAuthLogByTxid(txid);
      assert.ok(entry, `a log line for ${username}`);
      assert.equal(entry.username.toLowerCase(), username);
      return `${entry.result} ${entry.reason}`;
    }

    for (const change of CHANGES) {
      test(`passcode × ${change}`, async () => {
        const username = `pc-${n}-${change.replace(/ /g, "-")}`;
        const app = await newApplication();
        const totp = await enrollActiveTOTP(t, username);
        // The policy case uses a bypass code: the application stops accepting them while the login runs.
        const passcode =
          change === "policy changed"
            ? (await t.services.issueBypassCodes(ADMIN, username, { uses: 1 })).codes.reveal()[0]!
            : totp.codeAt();
        const user = (await t.services.findUser(username))!;
        const services = servicesWithChangeAtCompletion(t, () => apply(change, username, app, "otp"));
        const outcome = await services.verifyPasscode({ username, passcode, application: app });
        const expected = EXPECTED["passcode"]![change];
        assert.equal(`${outcome.result} ${outcome.reason}`, expected);
        assert.equal(await logged(outcome.txid, username), expected);
        if (expected.startsWith("deny"))
          assert.equal(await t.store.lastLoginAt(user.id), undefined, "no last login");
      });

      test(`push approval × ${change}`, async () => {
        const username = `push-${n}-${change.replace(/ /g, "-")}`;
        const app = await newApplication();
        await t.services.createUser(ADMIN, { username });
        const signer = generateP256Signer();
        const ticket = await t.services.createDeviceActivation(ADMIN, username);
        const { device, user } = await t.services.activateDevice({
          token: ticket.token.reveal(),
          name: "Phone",
          publicKey: Buffer.from(signer.publicKeyRaw).toString("base64url"),
        });
        // The policy case is a plain push (no number to type) that the application stops allowing.
        const verified = change !== "policy changed";
        const s = await t.services.startPush({ username, application: app, verified, ip: "198.51.100.9" });
        assert.ok(s.started);
        await apply(change, username, app, "push");
        const fields = {
          txid: s.txid,
          decision: "approve" as const,
          timestamp: t.clock.now(),
          ...(s.code ? { code: s.code.reveal() } : {}),
        };
        const answer = {
          ...fields,
          deviceId: device.id,
          signature: Buffer.from(signer.sign(canonicalPushAnswer(fields))).toString("base64url"),
        };
        const expected = EXPECTED["push"]![change];
        if (change === "user deleted")
          // The push went with its user; the login waiting on it reads the deny from the log.
          await assert.rejects(t.services.answerPush(answer), { code: "ERR_PUSH_NOT_FOUND" });
        else {
          const { status } = await t.services.answerPush(answer);
          assert.equal(status, expected.startsWith("allow") ? "approved" : "denied");
          assert.equal(await t.services.getPushStatus(s.txid), status);
        }
        assert.equal(await logged(s.txid, username), expected);
        if (expected.startsWith("deny"))
          assert.equal(await t.store.lastLoginAt(user.id), undefined, "no last login");
      });

      test(`WebAuthn assertion × ${change}`, async () => {
        const username = `wa-${n}-${change.replace(/ /g, "-")}`;
        const app = await newApplication();
        const totp = await enrollActiveTOTP(t, username);
        const proof = await t.services.verifyPasscode({ username, passcode: totp.codeAt() });
        const key = new SoftAuthenticator({ origin: ORIGIN });
        const reg = await t.services.beginWebAuthnRegistration({ username, proof, context: "gate" });
        const added = await t.services.finishWebAuthnRegistration({
          ceremonyId: reg.ceremonyId,
          context: "gate",
          response: key.register(reg.options),
        });
        assert.equal(added.result, "registered");
        const user = (await t.services.findUser(username))!;
        const lastLogin = await t.store.lastLoginAt(user.id);
        // Begun and finished through the same services: the finish is decided on what they read at the start.
        const calls: string[] = [];
        const services = servicesWithChangeAtCompletion(
          t,
          () => apply(change, username, app, "webauthn"),
          calls,
        );
        const start = await services.beginWebAuthnAuthentication({ username, context: "gate" });
        const outcome = await services.finishWebAuthnAuthentication({
          ceremonyId: start.ceremonyId,
          context: "gate",
          response: key.assert(start.options),
          application: app,
        });
        const expected = EXPECTED["webauthn"]![change];
        assert.equal(`${outcome.result} ${outcome.reason}`, expected);
        // The change came just before the conditional write; what it left standing was decided in the transaction.
        assert.equal(calls[0], "commitWebAuthnAllow");
        assert.deepEqual(calls.slice(1), change === "none" ? [] : ["transaction"]);
        const entry = await t.store.findAuthLogByTxid(outcome.txid);
        assert.equal(`${entry?.result} ${entry?.reason}`, expected);
        if (change !== "user deleted") assert.equal(entry?.username, username);
        if (expected.startsWith("deny"))
          assert.equal(await t.store.lastLoginAt(user.id), lastLogin, "no new last login");
      });

      test(`bypass-status user × ${change}`, async () => {
        const username = `by-${n}-${change.replace(/ /g, "-")}`;
        const app = await newApplication();
        const created = await t.services.createUser(ADMIN, { username, status: "bypass" });
        const services = servicesWithChangeAtCompletion(t, () => apply(change, username, app, "otp"));
        const user = (await t.services.findUser(username))!;
        const outcome = await services.preauthenticate({ user, username, application: app, ip: null });
        const expected = EXPECTED["bypass user"]![change];
        const reason = outcome.result === "auth" ? "auth" : outcome.reason;
        assert.equal(`${outcome.result === "allow" ? "allow" : "deny"} ${reason}`, expected);
        const { entries } = await t.store.listAuthLog({
          minTime: t.clock.now(),
          maxTime: t.clock.now(),
          limit: 10,
          applicationIds: [app.id],
        });
        assert.deepEqual(
          entries.map((e) => `${e.result} ${e.reason}`),
          [expected],
        );
        if (expected.startsWith("deny"))
          assert.equal(await t.store.lastLoginAt(created.id), undefined, "no last login");
      });
    }

    test("a right code of a method the application refuses reads exactly like a wrong code (A5)", async () => {
      const app = (
        await t.services.createApplication(ADMIN, {
          name: `App ${++n}`,
          type: "auth-api",
          policy: { methods: ["push", "token"] },
        })
      ).application;
      const totp = await enrollActiveTOTP(t, "no-app-codes");
      const right = await t.services.verifyPasscode({
        username: "no-app-codes",
        passcode: totp.codeAt(),
        application: app,
      });
      assert.deepEqual([right.result, right.reason], ["deny", "factor_not_allowed"]);
      t.clock.advance(30_000);
      const wrong = await t.services.verifyPasscode({
        username: "no-app-codes",
        passcode: wrongCode(totp.codeAt()),
        application: app,
      });
      assert.equal(wrong.reason, "invalid_passcode");
      const now = t.clock.now();
      // What a Duo client is sent: result, status and status_msg.
      const seen = (o: ReturnType<typeof passcodeOutcome>) => [o.result, o.status, o.message];
      assert.deepEqual(seen(passcodeOutcome(right, now)), seen(passcodeOutcome(wrong, now)));
    });

    test("a disabled application's pushes are not even started; enabling it again restores them", async () => {
      const app = await newApplication();
      await t.services.createUser(ADMIN, { username: "app-toggle" });
      const ticket = await t.services.createDeviceActivation(ADMIN, "app-toggle");
      await t.services.activateDevice({
        token: ticket.token.reveal(),
        name: "Phone",
        publicKey: Buffer.from(generateP256Signer().publicKeyRaw).toString("base64url"),
      });
      await t.services.setApplicationStatus(ADMIN, app.id, "disabled");
      const disabled = await t.services.requireApplication(app.id);
      assert.deepEqual(
        await t.services.startPush({ username: "app-toggle", application: disabled, verified: true }),
        { started: false, reason: "application_disabled" },
      );
      await t.services.setApplicationStatus(ADMIN, app.id, "active");
      const enabled = await t.services.requireApplication(app.id);
      assert.ok(
        (await t.services.startPush({ username: "app-toggle", application: enabled, verified: true }))
          .started,
      );
    });
  });
}
