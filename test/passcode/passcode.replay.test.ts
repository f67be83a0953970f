// Replay and misuse threats (B1, B2, B5, C3, C5, C6): each code works once, in its window, for its owner only.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { randomBytes } from "../../src/core/crypto/index.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, assignHOTPToken, enrollActiveTOTP } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

for (const dialect of await dialects()) {
  describe(`replay and misuse on ${dialect}`, () => {
    let t: TestContext;
    before(async () => {
      t = await createTestContext(dialect);
    });
    after(() => t.close());
    const verify = (username: string, passcode: string) => t.services.verifyPasscode({ username, passcode });

    test("B1: a TOTP code works once; after step T+1, the code for step T is refused", async () => {
      const app = await enrollActiveTOTP(t, "replayer");
      const now = t.clock.now();
      const current = app.codeAt(now);
      const next = app.codeAt(now + 30_000);
      assert.equal((await verify("replayer", current)).result, "allow");
      assert.equal((await verify("replayer", current)).result, "deny");
      assert.equal((await verify("replayer", next)).result, "allow"); // next step, accepted within ±1
      t.clock.advance(1000);
      assert.equal((await verify("replayer", current)).result, "deny");
    });

    test("B1/B5: the code that confirmed the enrolment cannot be used to log in", async () => {
      await t.services.createUser(ADMIN, { username: "enrollee" });
      const e = await t.services.enrollTOTP(ADMIN, "enrollee");
      const { decodeBase32 } = await import("../../src/core/base32.ts");
      const { generateTOTP } = await import("../../src/core/otp/totp.ts");
      const code = generateTOTP(
        { key: decodeBase32(e.secret.reveal())!, algorithm: "SHA1", digits: 6, period: 30 },
        t.clock.now(),
      );
      assert.equal((await verify("enrollee", code)).result, "deny", "pending enrolment cannot authenticate");
      await t.services.confirmTOTP(ADMIN, e.credentialId, code);
      assert.equal((await verify("enrollee", code)).result, "deny");
      await assert.rejects(t.services.confirmTOTP(ADMIN, e.credentialId, code), {
        code: "ERR_ENROLLMENT_NOT_FOUND",
      });
    });

    test("B5: an abandoned enrolment expires and cannot be confirmed", async () => {
      await t.services.createUser(ADMIN, { username: "slowpoke" });
      const e = await t.services.enrollTOTP(ADMIN, "slowpoke");
      t.clock.advance((t.config.policy.totp.enrollmentTtlSeconds + 1) * 1000);
      await assert.rejects(t.services.confirmTOTP(ADMIN, e.credentialId, "123456"), {
        code: "ERR_ENROLLMENT_EXPIRED",
      });
    });

    test("B2: codes from one step either side are accepted; two steps away are refused", async () => {
      const early = await enrollActiveTOTP(t, "early");
      const late = await enrollActiveTOTP(t, "late");
      const far = await enrollActiveTOTP(t, "far");
      const now = Math.ceil(t.clock.now() / 30_000) * 30_000 + 15_000; // mid-step
      t.clock.set(now);
      assert.equal((await verify("early", early.codeAt(now - 29_000))).result, "allow");
      assert.equal((await verify("late", late.codeAt(now + 29_000))).result, "allow");
      assert.equal((await verify("far", far.codeAt(now + 31_000 + 30_000))).result, "deny");
      assert.equal((await verify("far", far.codeAt(now - 31_000 - 30_000))).result, "deny");
    });

    test("B2: drift is learned from successes only, one step at a time, and capped", async () => {
      const app = await enrollActiveTOTP(t, "slow-clock");
      const user = await t.services.findUser("slow-clock");
      const driftOf = async () => (await t.store.listUsableOTPCredentials(user!.id))[0]!.drift;
      // Wrong codes never move the window.
      for (let i = 0; i < 3; i++) await verify("slow-clock", "000000");
      assert.equal(await driftOf(), 0);
      await t.services.unlockUser(ADMIN, "slow-clock");
      // A device whose clock falls behind by one more step each time is followed, up to the cap.
      for (let behind = 1; behind <= 6; behind++) {
        t.clock.advance(30_000 * 10);
        const r = await verify("slow-clock", app.codeAt(t.clock.now() - behind * 30_000));
        assert.equal(
          r.result,
          behind <= t.config.policy.totp.maxDrift + 1 ? "allow" : "deny",
          `behind ${behind}`,
        );
      }
      assert.equal(await driftOf(), -t.config.policy.totp.maxDrift);
    });

    test("B2: HOTP look-ahead is 10; a code 11 ahead needs a resync with two consecutive codes", async () => {
      const token = await assignHOTPToken(t, "hotp-user", "HOTP-1", randomBytes(20));
      assert.equal((await verify("hotp-user", token.codeAt(11))).result, "deny");
      assert.equal((await verify("hotp-user", token.codeAt(10))).result, "allow");
      assert.equal((await verify("hotp-user", token.codeAt(10))).result, "deny", "counter moved past 10");
      await assert.rejects(t.services.resyncToken(ADMIN, "HOTP-1", token.codeAt(40), token.codeAt(42)), {
        code: "ERR_TOKEN_RESYNC_FAILED",
      });
      await t.services.resyncToken(ADMIN, "HOTP-1", token.codeAt(40), token.codeAt(41));
      assert.equal((await verify("hotp-user", token.codeAt(41))).result, "deny", "resync codes are used up");
      assert.equal((await verify("hotp-user", token.codeAt(42))).result, "allow");
    });

    test("B2: a TOTP token whose clock runs 20 steps slow is resynchronised with two consecutive codes", async () => {
      const { generateTOTP } = await import("../../src/core/otp/totp.ts");
      const key = randomBytes(20);
      const codeAt = (ms: number) => generateTOTP({ key, algorithm: "SHA1", digits: 6, period: 30 }, ms);
      await t.services.createUser(ADMIN, { username: "slow-token" });
      await t.services.importTokens(ADMIN, [
        {
          serial: "TOTP-SLOW",
          type: "totp",
          algorithm: "SHA1",
          digits: 6,
          period: 30,
          counter: 0,
          secret: key,
          manufacturer: null,
          model: null,
        },
      ]);
      await t.services.assignToken(ADMIN, "TOTP-SLOW", "slow-token");
      const tokenTime = () => t.clock.now() - 20 * 30_000;
      assert.equal((await verify("slow-token", codeAt(tokenTime()))).result, "deny", "outside the window");
      await assert.rejects(
        t.services.resyncToken(ADMIN, "TOTP-SLOW", codeAt(tokenTime()), codeAt(tokenTime() + 60_000)),
        {
          code: "ERR_TOKEN_RESYNC_FAILED",
        },
      );
      await t.services.resyncToken(ADMIN, "TOTP-SLOW", codeAt(tokenTime() - 30_000), codeAt(tokenTime()));
      assert.equal(
        (await verify("slow-token", codeAt(tokenTime()))).result,
        "deny",
        "resync codes are used up",
      );
      t.clock.advance(30_000);
      assert.equal((await verify("slow-token", codeAt(tokenTime()))).result, "allow");
    });

    test("tokens can be found by the code they show, without using it up", async () => {
      const key = randomBytes(20);
      const token = await assignHOTPToken(t, "finder", "FIND-ME-7", key);
      const found = await t.services.findTokensByCode(token.codeAt(0));
      assert.deepEqual(
        found.map((f) => f.serial),
        ["FIND-ME-7"],
      );
      assert.equal("secretSealed" in found[0]!, false);
      assert.equal((await verify("finder", token.codeAt(0))).result, "allow");
    });

    test("C5: a bypass code fails after its expiry even with uses left; policy caps what staff may set", async () => {
      await t.services.createUser(ADMIN, { username: "expiring" });
      const code = (
        await t.services.issueBypassCodes(ADMIN, "expiring", { uses: 5, validSeconds: 60 })
      ).codes.reveal()[0]!;
      assert.equal((await verify("expiring", code)).result, "allow");
      t.clock.advance(61_000);
      assert.equal((await verify("expiring", code)).result, "deny");
      for (const request of [{ uses: 0 }, { validSeconds: 0 }, { uses: 21 }, { validSeconds: 43_201 }]) {
        await assert.rejects(t.services.issueBypassCodes(ADMIN, "expiring", request), {
          code: "ERR_BYPASS_POLICY",
        });
      }
    });

    test("C5: defaults are 20 uses within 12 hours, 10 digits", async () => {
      await t.services.createUser(ADMIN, { username: "defaults" });
      const issued = await t.services.issueBypassCodes(ADMIN, "defaults");
      assert.match(issued.codes.reveal()[0]!, /^[0-9]{10}$/);
      assert.equal(issued.records[0]!.usesLeft, 20);
      assert.equal(issued.records[0]!.expiresAt, t.clock.now() + 12 * 3_600_000);
    });

    test("C6: a bypass code works only for the user it was issued to", async () => {
      await t.services.createUser(ADMIN, { username: "owner" });
      await t.services.createUser(ADMIN, { username: "other" });
      const code = (await t.services.issueBypassCodes(ADMIN, "owner", { uses: 3 })).codes.reveal()[0]!;
      assert.equal((await verify("other", code)).result, "deny");
      assert.equal((await verify("owner", code)).result, "allow");
    });

    test("revoked bypass codes stop working; listing never shows the code", async () => {
      await t.services.createUser(ADMIN, { username: "revokee" });
      const issued = await t.services.issueBypassCodes(ADMIN, "revokee", { count: 2, uses: 3 });
      await t.services.revokeBypassCode(ADMIN, issued.records[0]!.id);
      assert.equal((await verify("revokee", issued.codes.reveal()[0]!)).result, "deny");
      assert.equal((await verify("revokee", issued.codes.reveal()[1]!)).result, "allow");
      const listed = JSON.stringify(await t.services.listBypassCodes("revokee"));
      for (const code of issued.codes.reveal()) assert.ok(!listed.includes(code));
      assert.ok(!listed.includes("codeHash"));
    });

    test("C3: a rescue code works once, is typed in any case and grouping, and regeneration voids the old set", async () => {
      await t.services.createUser(ADMIN, { username: "rescuer" });
      const first = (await t.services.generateRescueCodes(ADMIN, "rescuer")).codes.reveal();
      assert.equal(first.length, 10);
      for (const c of first) assert.match(c, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
      assert.equal((await verify("rescuer", first[0]!.toLowerCase().replaceAll("-", " "))).result, "allow");
      assert.equal((await verify("rescuer", first[0]!)).result, "deny");
      const outbox = await t.store.listPendingNotifications(1000);
      assert.ok(outbox.some((n) => n.kind === "rescue-code-used"));
      await t.services.generateRescueCodes(ADMIN, "rescuer");
      assert.equal((await verify("rescuer", first[1]!)).result, "deny");
      assert.equal(await t.services.countUnusedRescueCodes("rescuer"), 10);
    });

    test("an application may refuse bypass and rescue codes", async () => {
      await t.services.createUser(ADMIN, { username: "strict-app-user" });
      const { application } = await t.services.createApplication(ADMIN, {
        name: "High assurance",
        type: "auth-api",
        policy: { methods: ["push", "passcode-app", "token"] },
      });
      const code = (
        await t.services.issueBypassCodes(ADMIN, "strict-app-user", { uses: 3 })
      ).codes.reveal()[0]!;
      const r = await t.services.verifyPasscode({ username: "strict-app-user", passcode: code, application });
      assert.equal(r.result, "deny");
      assert.equal(r.reason, "factor_not_allowed");
      assert.equal((await verify("strict-app-user", code)).result, "allow");
    });

    test("every attempt is in the authentication log with factor, result and reason, never the code", async () => {
      const app = await enrollActiveTOTP(t, "logged");
      const code = app.codeAt();
      await verify("logged", code);
      await verify("logged", "000000");
      const { entries } = await t.store.listAuthLog({ minTime: 0, maxTime: t.clock.now() + 1, limit: 1000 });
      const mine = entries.filter((e) => e.username === "logged");
      assert.deepEqual(mine.map((e) => [e.result, e.factor, e.reason]).sort(), [
        ["allow", "totp", "valid_passcode"],
        ["deny", "none", "invalid_passcode"],
      ]);
      assert.ok(!JSON.stringify(entries).includes(code));
    });
  });
}
