// The enrolment rule (CISA AA22-074A) and the new-user policy: only a user who never had a second factor may enrol in the prompt or be let in without one; methods an application leaves out are not offered.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { LocalPushEvents } from "../../src/adapters/events/local-push-events.ts";
import { generateP256Signer } from "../../src/core/crypto/ecdsa.ts";
import type { Application } from "../../src/core/model.ts";
import type { Store } from "../../src/core/ports.ts";
import { createServices } from "../../src/core/services.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

for (const dialect of await dialects()) {
  describe(`enrolment rule and new-user policy on ${dialect}`, () => {
    let t: TestContext;
    let n = 0;
    before(async () => {
      t = await createTestContext(dialect);
    });
    after(() => t.close());

    async function newApplication(policy: Record<string, unknown>): Promise<Application> {
      return (await t.services.createApplication(ADMIN, { name: `App ${++n}`, type: "auth-api", policy }))
        .application;
    }
    const eligibility = (username: string, application: Application) =>
      t.services.checkEnrollmentEligibility({ username, application });
    /** Preauth's outcome with its reason (`auth` for a user asked for a factor). */
    const preauth = async (username: string, application: Application) => {
      const outcome = await t.services.preauthenticate({
        user: await t.services.findUser(username),
        username,
        application,
        ip: "203.0.113.5",
      });
      return { ...outcome, reason: outcome.result === "auth" ? "auth" : outcome.reason };
    };

    test("only a user who never had a second factor may enrol, and only where the application offers it", async () => {
      const enroll = await newApplication({ newUserPolicy: "enroll" });
      const deny = await newApplication({ newUserPolicy: "deny" });
      assert.deepEqual(await eligibility("nobody-yet", enroll), { eligible: true, userId: null });
      assert.deepEqual(await eligibility("nobody-yet", deny), { eligible: false, reason: "policy" });

      const created = await t.services.createUser(ADMIN, { username: "fresh" });
      assert.deepEqual(await eligibility("fresh", enroll), { eligible: true, userId: created.id });
      const totp = await enrollActiveTOTP(t, "fresh");
      assert.deepEqual(await eligibility("fresh", enroll), { eligible: false, reason: "enrolled" });
      // Removed, the factor still counts: whoever has the password must not bind a new one (dormant account).
      await t.services.removeOTPCredential(ADMIN, totp.credentialId);
      assert.deepEqual(await eligibility("fresh", enroll), { eligible: false, reason: "reset_required" });
      assert.equal((await preauth("fresh", enroll)).reason, "enrollment_reset_required");
      assert.ok(await t.services.resetEnrollment(ADMIN, "fresh"));
      assert.deepEqual(await eligibility("fresh", enroll), { eligible: true, userId: created.id });
      assert.equal((await preauth("fresh", enroll)).result, "enroll");
      const audit = await t.store.listAudit({ limit: 20, order: "desc" });
      assert.ok(audit.some((e) => e.action === "user.enrollment_reset" && e.targetId === created.id));

      await t.services.setUserStatus(ADMIN, "fresh", "disabled");
      assert.deepEqual(await eligibility("fresh", enroll), { eligible: false, reason: "disabled" });
    });

    test("a device or a lent token, once bound, counts as having had a factor; a reset needs them gone first", async () => {
      const enroll = await newApplication({ newUserPolicy: "enroll" });
      await t.services.createUser(ADMIN, { username: "phone-user" });
      const ticket = await t.services.createDeviceActivation(ADMIN, "phone-user");
      const { device } = await t.services.activateDevice({
        token: ticket.token.reveal(),
        name: "Phone",
        publicKey: Buffer.from(generateP256Signer().publicKeyRaw).toString("base64url"),
      });
      await assert.rejects(t.services.resetEnrollment(ADMIN, "phone-user"), { code: "ERR_CONFLICT" });
      await t.services.revokeDevice(ADMIN, device.id);
      assert.deepEqual(await eligibility("phone-user", enroll), {
        eligible: false,
        reason: "reset_required",
      });

      await t.services.createUser(ADMIN, { username: "token-user" });
      await t.services.importTokens(ADMIN, [
        {
          serial: "ER-1",
          type: "hotp",
          algorithm: "SHA1",
          digits: 6,
          period: null,
          counter: 0,
          secret: new Uint8Array(20).fill(3),
          manufacturer: null,
          model: null,
        },
      ]);
      await t.services.assignToken(ADMIN, "ER-1", "token-user");
      await t.services.unassignToken(ADMIN, "ER-1");
      assert.deepEqual(await eligibility("token-user", enroll), {
        eligible: false,
        reason: "reset_required",
      });
      assert.equal(await t.services.resetEnrollment(ADMIN, "token-user"), true);
      assert.equal(await t.services.resetEnrollment(ADMIN, "token-user"), false, "nothing left to reset");
    });

    test("new-user policy allow lets a never-enrolled user in through the gate, logged as such; nobody else", async () => {
      const allow = await newApplication({ newUserPolicy: "allow" });
      const unknown = await preauth("walk-in", allow);
      assert.equal(unknown.result, "allow");
      assert.equal(unknown.reason, "allow_unenrolled_user");
      const created = await t.services.createUser(ADMIN, { username: "never-had" });
      assert.equal((await preauth("never-had", allow)).result, "allow");
      const { entries } = await t.store.listAuthLog({
        minTime: t.clock.now(),
        maxTime: t.clock.now(),
        limit: 10,
        applicationIds: [allow.id],
      });
      assert.deepEqual(
        entries.map((e) => `${e.result} ${e.factor} ${e.reason} ${e.userId ?? "no user"}`).sort(),
        [`allow none allow_unenrolled_user ${created.id}`, "allow none allow_unenrolled_user no user"].sort(),
      );
      // A user with a factor is asked for it; one whose factor was removed is refused until reset.
      const totp = await enrollActiveTOTP(t, "had-one");
      assert.equal((await preauth("had-one", allow)).result, "auth");
      await t.services.removeOTPCredential(ADMIN, totp.credentialId);
      const refused = await preauth("had-one", allow);
      assert.deepEqual([refused.result, refused.reason], ["deny", "enrollment_reset_required"]);
    });

    test("the gate re-checks at completion: allow turned to deny meanwhile, or a factor bound meanwhile, denies", async () => {
      const allow = await newApplication({ newUserPolicy: "allow" });
      await t.services.createUser(ADMIN, { username: "racer" });
      for (const [change, expected] of [
        [
          () => t.services.updateApplication(ADMIN, allow.id, { policy: { newUserPolicy: "deny" } }),
          "new_user_not_allowed",
        ],
        [
          async () => {
            await t.services.updateApplication(ADMIN, allow.id, { policy: { newUserPolicy: "allow" } });
            await enrollActiveTOTP(t, "racer");
          },
          "enrolled_user",
        ],
      ] as const) {
        let pending: (() => Promise<unknown>) | null = change;
        const store = new Proxy(t.store, {
          get(target, prop) {
            if (prop === "transaction")
              return async (fn: (tx: Store) => Promise<unknown>) => {
                const run = pending;
                pending = null;
                if (run) await run();
                return target.transaction(fn);
              };
            const value = Reflect.get(target, prop, target);
            return typeof value === "function" ? value.bind(target) : value;
          },
        }) as Store;
        const services = createServices({
          store,
          keyring: t.keyring,
          clock: t.clock,
          config: t.config,
          nodeName: "gate-test",
          pushEvents: new LocalPushEvents(),
        });
        const user = await t.services.findUser("racer");
        const outcome = await services.preauthenticate({
          user,
          username: "racer",
          application: allow,
          ip: null,
        });
        assert.deepEqual(
          [outcome.result, outcome.result === "auth" ? "auth" : outcome.reason],
          ["deny", expected],
        );
      }
    });

    test("preauth offers only the methods the application allows", async () => {
      const totp = await enrollActiveTOTP(t, "methods-user");
      void totp;
      const ticket = await t.services.createDeviceActivation(ADMIN, "methods-user");
      await t.services.activateDevice({
        token: ticket.token.reveal(),
        name: "Phone",
        publicKey: Buffer.from(generateP256Signer().publicKeyRaw).toString("base64url"),
      });
      const all = await preauth("methods-user", await newApplication({}));
      assert.ok(all.result === "auth");
      assert.deepEqual(all.devices.map((d) => `${d.type} ${d.capabilities.join("+")}`).sort(), [
        "phone auto+push+mobile_otp",
        "token mobile_otp",
      ]);
      const pushOnly = await preauth("methods-user", await newApplication({ methods: ["push"] }));
      assert.ok(pushOnly.result === "auth");
      assert.deepEqual(
        pushOnly.devices.map((d) => `${d.type} ${d.capabilities.join("+")}`),
        ["phone auto+push"],
      );
      const tokenOnly = await preauth("methods-user", await newApplication({ methods: ["token"] }));
      assert.deepEqual([tokenOnly.result, tokenOnly.reason], ["deny", "no_allowed_method"]);
    });

    test("a push to an application that leaves push out is not even sent", async () => {
      await t.services.createUser(ADMIN, { username: "no-push" });
      const ticket = await t.services.createDeviceActivation(ADMIN, "no-push");
      await t.services.activateDevice({
        token: ticket.token.reveal(),
        name: "Phone",
        publicKey: Buffer.from(generateP256Signer().publicKeyRaw).toString("base64url"),
      });
      const app = await newApplication({ methods: ["passcode-app"] });
      assert.deepEqual(
        await t.services.startPush({ username: "no-push", application: app, verified: true }),
        {
          started: false,
          reason: "push_not_allowed",
        },
      );
    });
  });
}
