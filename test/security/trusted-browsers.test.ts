// "Yes, trust this browser" (I5): a trusted browser skips the second factor through the completion gate, and stops on expiry, policy change and every revocation trigger.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { generateP256Signer } from "../../src/core/crypto/ecdsa.ts";
import type { Application } from "../../src/core/model.ts";
import { canonicalPushAnswer } from "../../src/core/use-cases/push.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

const DAY = 86_400_000;
const CHROME =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

for (const dialect of await dialects()) {
  describe(`trusted browsers on ${dialect}`, () => {
    let t: TestContext;
    let n = 0;
    before(async () => {
      t = await createTestContext(dialect, { "policy.trustedBrowsers.maxPerUser": 2 });
    });
    after(() => t.close());

    async function newApplication(policy: Record<string, unknown> = {}): Promise<Application> {
      const { application } = await t.services.createApplication(ADMIN, {
        name: `Portal ${++n}`,
        type: "web-sdk",
        policy,
      });
      return application;
    }

    /** A user logs in with their authenticator app through `app`, then ticks "Yes, trust this browser". */
    async function trustedLogin(username: string, app: Application) {
      const totp = (await t.services.findUser(username)) ? undefined : await enrollActiveTOTP(t, username);
      const user = (await t.services.findUser(username))!;
      const login = await t.services.verifyPasscode({ username, passcode: totp!.codeAt(), application: app });
      assert.equal(login.result, "allow");
      const offer = await t.services.offerTrustBrowser({
        userId: user.id,
        applicationId: app.id,
        txid: login.txid,
      });
      assert.ok(offer, "the trust screen is offered");
      const grant = await t.services.trustBrowser({
        userId: user.id,
        applicationId: app.id,
        txid: login.txid,
        userAgent: CHROME,
        ip: "198.51.100.7",
      });
      return { user, totp: totp!, grant, token: grant.token.reveal(), login };
    }

    const check = (token: unknown, user: { id: string }, app: { id: string }, username = "someone") =>
      t.services.checkTrustedBrowser({ token, user, username, application: app, ip: "198.51.100.7" });

    test("the next login in the trusted browser skips the second factor, logged as a remembered device", async () => {
      const app = await newApplication();
      const { user, token, grant } = await trustedLogin("tb-skip", app);
      assert.match(token, /^TB[A-Z0-9]{18}\.[A-Za-z0-9_-]{32}$/, "id and a 192-bit secret");
      assert.equal(grant.days, 30, "the default remember days");
      assert.equal(grant.expiresAt, t.clock.now() + 30 * DAY);
      const r = await check(token, user, app, "tb-skip");
      assert.equal(r.result, "allow");
      assert.ok(r.result === "allow");
      const line = await t.store.findAuthLogByTxid(r.txid);
      assert.equal(
        `${line?.result} ${line?.factor} ${line?.reason}`,
        "allow remembered_device remembered_device",
      );
      assert.equal(line?.applicationId, app.id);
      assert.equal(await t.store.lastLoginAt(user.id), t.clock.now(), "a login like any other");
      // Rotated on use: the cookie presented stops working, the new one works.
      assert.equal((await check(token, user, app)).result, "none");
      assert.notEqual(r.token.reveal(), token);
      assert.equal((await check(r.token.reveal(), user, app)).result, "allow");
      // Only the hash is stored.
      const stored = await t.store.getTrustedBrowser(token.split(".")[0]!);
      assert.ok(stored && !stored.secretHash.includes(token.split(".")[1]!));
      const listed = await t.services.listTrustedBrowsers("tb-skip");
      assert.equal(listed.length, 1);
      assert.equal(listed[0]?.browser, "Chrome on Windows");
      assert.equal(listed[0]?.status, "active");
      assert.equal(JSON.stringify(listed).includes(token.split(".")[1]!), false, "the list shows no secret");
    });

    test("a cookie copied to another user or application, altered, forged or garbage is ignored", async () => {
      const app = await newApplication();
      const other = await newApplication();
      const { user, token } = await trustedLogin("tb-copy", app);
      await enrollActiveTOTP(t, "tb-copy-2");
      const someoneElse = (await t.services.findUser("tb-copy-2"))!;
      assert.deepEqual(await check(token, someoneElse, app), { result: "none", reason: "other_user" });
      assert.deepEqual(await check(token, user, other), { result: "none", reason: "other_application" });
      const last = token.at(-1) === "A" ? "B" : "A";
      assert.deepEqual(await check(token.slice(0, -1) + last, user, app), {
        result: "none",
        reason: "unknown",
      });
      const forgedJWT = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(`{"sub":"${user.id}"}`).toString("base64url")}.`;
      for (const garbage of [
        forgedJWT,
        "x",
        `${token}.extra`,
        42,
        ["a"],
        { id: 1 },
        "\u0000",
        "TB".padEnd(10_000, "A"),
      ])
        assert.deepEqual(await check(garbage, user, app), { result: "none", reason: "malformed" });
      assert.deepEqual(await check(undefined, user, app), { result: "none", reason: "absent" });
      // None of these was a login.
      assert.equal((await check(token, user, app)).result, "allow", "the real cookie still works");
    });

    test("trust is offered only after a recent login with a factor the user holds, once per login", async () => {
      const app = await newApplication();
      const { user, login, totp } = await trustedLogin("tb-offer", app);
      await assert.rejects(
        t.services.trustBrowser({ userId: user.id, applicationId: app.id, txid: login.txid }),
        { code: "ERR_CONFLICT" },
        "one browser per login",
      );
      // Another user's login, another application's login, a login over ten minutes ago: no offer.
      await enrollActiveTOTP(t, "tb-offer-2");
      const other = (await t.services.findUser("tb-offer-2"))!;
      assert.equal(
        await t.services.offerTrustBrowser({ userId: other.id, applicationId: app.id, txid: login.txid }),
        null,
      );
      const second = await t.services.verifyPasscode({
        username: "tb-offer",
        passcode: totp.codeAt(),
        application: app,
      });
      const otherApp = await newApplication();
      assert.equal(
        await t.services.offerTrustBrowser({
          userId: user.id,
          applicationId: otherApp.id,
          txid: second.txid,
        }),
        null,
      );
      t.clock.advance(10 * 60_000 + 1);
      assert.equal(
        await t.services.offerTrustBrowser({ userId: user.id, applicationId: app.id, txid: second.txid }),
        null,
      );
      // A bypass code or a rescue code proves no factor the user will have next month: no offer.
      const code = (await t.services.issueBypassCodes(ADMIN, "tb-offer", { uses: 1 })).codes.reveal()[0]!;
      const bypass = await t.services.verifyPasscode({
        username: "tb-offer",
        passcode: code,
        application: app,
      });
      assert.equal(bypass.result, "allow");
      assert.equal(
        await t.services.offerTrustBrowser({ userId: user.id, applicationId: app.id, txid: bypass.txid }),
        null,
      );
      await assert.rejects(
        t.services.trustBrowser({ userId: user.id, applicationId: app.id, txid: bypass.txid }),
        { code: "ERR_POLICY" },
      );
      const rescue = (await t.services.generateRescueCodes(ADMIN, "tb-offer")).codes.reveal()[0]!;
      const rescued = await t.services.verifyPasscode({
        username: "tb-offer",
        passcode: rescue,
        application: app,
      });
      assert.equal(rescued.result, "allow");
      assert.equal(
        await t.services.offerTrustBrowser({ userId: user.id, applicationId: app.id, txid: rescued.txid }),
        null,
      );
      // An application that remembers no browser offers nothing.
      const off = await newApplication({ rememberDays: 0 });
      const offLogin = await t.services.verifyPasscode({
        username: "tb-offer",
        passcode: totp.codeAt(t.clock.now() + 30_000),
        application: off,
      });
      assert.equal(offLogin.result, "allow");
      assert.equal(
        await t.services.offerTrustBrowser({ userId: user.id, applicationId: off.id, txid: offLogin.txid }),
        null,
      );
    });

    test("trust ends when its days are over", async () => {
      const app = await newApplication({ rememberDays: 7 });
      const { user, token, grant } = await trustedLogin("tb-expiry", app);
      assert.equal(grant.days, 7);
      t.clock.advance(7 * DAY - 1000);
      const r = await check(token, user, app);
      assert.equal(r.result, "allow");
      t.clock.advance(1000);
      assert.deepEqual(await check(r.result === "allow" ? r.token.reveal() : "", user, app), {
        result: "none",
        reason: "expired",
      });
      assert.equal((await t.services.listTrustedBrowsers("tb-expiry"))[0]?.status, "expired");
    });

    test("the application's days are checked again at use: lowered, it ends sooner; 0, no skip at all", async () => {
      const app = await newApplication({ rememberDays: 30 });
      const { user, token } = await trustedLogin("tb-policy", app);
      await t.services.updateApplication(ADMIN, app.id, { policy: { rememberDays: 7 } });
      t.clock.advance(3 * DAY);
      const r = await check(token, user, app);
      assert.equal(r.result, "allow", "still within the lowered days");
      assert.ok(r.result === "allow");
      assert.equal(r.expiresAt, (await t.store.getTrustedBrowser(token.split(".")[0]!))!.createdAt + 7 * DAY);
      t.clock.advance(5 * DAY);
      assert.deepEqual(await check(r.token.reveal(), user, app), { result: "none", reason: "expired" });

      const app2 = await newApplication();
      const second = await trustedLogin("tb-policy-2", app2);
      await t.services.updateApplication(ADMIN, app2.id, { policy: { rememberDays: 0 } });
      assert.deepEqual(await check(second.token, second.user, app2), {
        result: "none",
        reason: "policy_off",
      });
      await t.services.updateApplication(ADMIN, app2.id, { policy: { rememberDays: 30 } });
      assert.equal(
        (await check(second.token, second.user, app2)).result,
        "allow",
        "days back, the record was kept",
      );
    });

    test("a skip is still a completion: a disabled application denies it, and the log says why", async () => {
      const app = await newApplication();
      const { user, token } = await trustedLogin("tb-gate", app);
      await t.services.setApplicationStatus(ADMIN, app.id, "disabled");
      const r = await check(token, user, app, "tb-gate");
      assert.equal(r.result, "deny");
      assert.ok(r.result === "deny");
      assert.equal(r.reason, "application_disabled");
      const line = await t.store.findAuthLogByTxid(r.txid);
      assert.equal(
        `${line?.result} ${line?.factor} ${line?.reason}`,
        "deny remembered_device application_disabled",
      );
    });

    /** Each event that must end every trusted browser of the user (I5), and how to cause it. */
    const TRIGGERS: Array<[string, string, (username: string) => Promise<void>]> = [
      [
        "the user revokes it",
        "user",
        async (u) => {
          const [b] = await t.services.listTrustedBrowsers(u);
          await t.services.revokeTrustedBrowser({ name: u }, u, b!.id, "user");
        },
      ],
      [
        "an administrator revokes them all",
        "admin",
        async (u) => {
          assert.equal(await t.services.revokeAllTrustedBrowsers(ADMIN, u), 1);
        },
      ],
      [
        "another authenticator app is enrolled",
        "factor_added",
        async (u) => {
          const e = await t.services.enrollTOTP(ADMIN, u);
          // Confirm through the real enrolment: the helper computes the code from the returned secret.
          const { decodeBase32 } = await import("../../src/core/base32.ts");
          const { generateTOTP } = await import("../../src/core/otp/totp.ts");
          const p = t.config.policy.totp;
          await t.services.confirmTOTP(
            ADMIN,
            e.credentialId,
            generateTOTP(
              {
                key: decodeBase32(e.secret.reveal())!,
                algorithm: p.algorithm,
                digits: p.digits,
                period: p.period,
              },
              t.clock.now(),
            ),
          );
        },
      ],
      [
        "the authenticator app is removed",
        "factor_removed",
        async (u) => {
          const user = (await t.services.findUser(u))!;
          const [c] = (await t.services.listOTPCredentials({ userId: user.id })).credentials;
          await t.services.removeOTPCredential(ADMIN, c!.id);
        },
      ],
      [
        "a hardware token is lent",
        "factor_added",
        async (u) => {
          await t.services.importTokens(ADMIN, [
            {
              serial: `S-${u}`,
              type: "hotp",
              algorithm: "SHA1",
              digits: 6,
              period: null,
              counter: 0,
              secret: new Uint8Array(20).fill(7),
              manufacturer: null,
              model: null,
            },
          ]);
          await t.services.assignToken(ADMIN, `S-${u}`, u);
        },
      ],
      [
        "a hardware token is taken back",
        "factor_removed",
        async (u) => {
          await t.services.importTokens(ADMIN, [
            {
              serial: `R-${u}`,
              type: "hotp",
              algorithm: "SHA1",
              digits: 6,
              period: null,
              counter: 0,
              secret: new Uint8Array(20).fill(9),
              manufacturer: null,
              model: null,
            },
          ]);
          await t.services.assignToken(ADMIN, `R-${u}`, u);
          await trustAgain(u);
          await t.services.unassignToken(ADMIN, `R-${u}`);
        },
      ],
      [
        "a device is activated",
        "factor_added",
        async (u) => {
          await activateDevice(u);
        },
      ],
      [
        "a device is revoked",
        "factor_removed",
        async (u) => {
          const device = await activateDevice(u);
          await trustAgain(u);
          await t.services.revokeDevice(ADMIN, device);
        },
      ],
      [
        "a phone's number changes",
        "phone_changed",
        async (u) => {
          const phone = await t.services.createPhone(ADMIN, { number: "+85291234567" });
          await t.services.attachPhone(ADMIN, phone.id, u);
          await trustAgain(u);
          await t.services.updatePhone(ADMIN, phone.id, { number: "+85291234568" });
        },
      ],
      [
        "a phone is attached",
        "phone_changed",
        async (u) => {
          const phone = await t.services.createPhone(ADMIN, { number: "+85291230000" });
          await t.services.attachPhone(ADMIN, phone.id, u);
        },
      ],
      [
        "fraud is reported on a push",
        "fraud_reported",
        async (u) => {
          const signer = generateP256Signer();
          const ticket = await t.services.createDeviceActivation(ADMIN, u);
          const { device } = await t.services.activateDevice({
            token: ticket.token.reveal(),
            name: "Phone",
            publicKey: Buffer.from(signer.publicKeyRaw).toString("base64url"),
          });
          await trustAgain(u);
          const s = await t.services.startPush({ username: u, application: current!, verified: true });
          assert.ok(s.started);
          const fields = { txid: s.txid, decision: "fraud" as const, timestamp: t.clock.now() };
          await t.services.answerPush({
            ...fields,
            deviceId: device.id,
            signature: Buffer.from(signer.sign(canonicalPushAnswer(fields))).toString("base64url"),
          });
        },
      ],
      [
        "the user is disabled",
        "user_disabled",
        async (u) => {
          await t.services.setUserStatus(ADMIN, u, "disabled");
        },
      ],
    ];

    let current: Application | undefined;
    let currentToken = "";
    async function activateDevice(u: string): Promise<string> {
      const ticket = await t.services.createDeviceActivation(ADMIN, u);
      const { device } = await t.services.activateDevice({
        token: ticket.token.reveal(),
        name: "Phone",
        publicKey: Buffer.from(generateP256Signer().publicKeyRaw).toString("base64url"),
      });
      return device.id;
    }
    /** The setup of a trigger itself added a factor (and so revoked): trust the browser again before the event. */
    async function trustAgain(u: string): Promise<void> {
      const user = (await t.services.findUser(u))!;
      const code = (await t.services.listOTPCredentials({ userId: user.id })).credentials.length;
      assert.ok(code > 0);
      t.clock.advance(30_000);
      const totp = totps.get(u)!;
      const login = await t.services.verifyPasscode({
        username: u,
        passcode: totp.codeAt(),
        application: current!,
      });
      assert.equal(login.result, "allow");
      currentToken = (
        await t.services.trustBrowser({ userId: user.id, applicationId: current!.id, txid: login.txid })
      ).token.reveal();
      assert.equal((await t.services.listTrustedBrowsers(u)).filter((b) => b.status === "active").length, 1);
    }
    const totps = new Map<string, Awaited<ReturnType<typeof enrollActiveTOTP>>>();

    for (const [what, reason, cause] of TRIGGERS)
      test(`trusted browsers end when ${what}`, async () => {
        const username = `tb-rev-${reason}-${++n}`;
        current = await newApplication();
        const { user, token, totp } = await trustedLogin(username, current);
        totps.set(username, totp);
        currentToken = token;
        await cause(username);
        const r = await check(currentToken, user, current);
        assert.equal(
          r.result === "allow" ? "allow" : r.result === "none" ? r.reason : `deny ${r.reason}`,
          "revoked",
        );
        const listed = await t.services.listTrustedBrowsers(username);
        assert.ok(listed.length > 0);
        assert.ok(listed.every((b) => b.status === "revoked"));
        assert.equal(listed[0]?.revokedReason, reason);
      });

    test("a deleted user's trusted browsers go with them", async () => {
      const app = await newApplication();
      const { user, token } = await trustedLogin("tb-deleted", app);
      await t.services.deleteUser(ADMIN, "tb-deleted");
      assert.equal(await t.store.getTrustedBrowser(token.split(".")[0]!), undefined);
      assert.equal((await check(token, user, app)).result, "none");
    });

    test("a user keeps at most the configured number of trusted browsers; the least recently used goes", async () => {
      const app = await newApplication();
      const { user, token: first, totp } = await trustedLogin("tb-cap", app);
      const more: string[] = [];
      for (let i = 0; i < 2; i++) {
        t.clock.advance(30_000);
        const login = await t.services.verifyPasscode({
          username: "tb-cap",
          passcode: totp.codeAt(),
          application: app,
        });
        more.push(
          (
            await t.services.trustBrowser({ userId: user.id, applicationId: app.id, txid: login.txid })
          ).token.reveal(),
        );
      }
      const listed = await t.services.listTrustedBrowsers("tb-cap");
      assert.deepEqual(listed.map((b) => b.status).sort(), ["active", "active", "revoked"]);
      assert.deepEqual(await check(first, user, app), { result: "none", reason: "revoked" });
      assert.equal(listed.find((b) => b.status === "revoked")?.revokedReason, "replaced");
      for (const token of more) assert.equal((await check(token, user, app)).result, "allow");
    });

    test("housekeeping deletes trusted browsers once expired or revoked past the grace period", async () => {
      const app = await newApplication({ rememberDays: 1 });
      const a = await trustedLogin("tb-prune", app);
      const b = await trustedLogin("tb-prune-2", app);
      await t.services.revokeAllTrustedBrowsers(ADMIN, "tb-prune-2");
      const c = await trustedLogin("tb-prune-3", await newApplication({ rememberDays: 90 }));
      t.clock.advance(DAY + t.config.housekeeping.graceSeconds * 1000 + 1);
      const report = await t.services.pruneExpiredRows();
      // Earlier tests' revoked browsers go too (one database for the file).
      assert.ok((report.steps.find((s) => s.name === "trusted browsers")?.deleted ?? 0) >= 2);
      assert.equal(await t.store.getTrustedBrowser(a.token.split(".")[0]!), undefined);
      assert.equal(await t.store.getTrustedBrowser(b.token.split(".")[0]!), undefined);
      assert.ok(await t.store.getTrustedBrowser(c.token.split(".")[0]!), "a live one stays");
    });
  });
}
