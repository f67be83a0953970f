// Text-message passcodes end to end on both databases: a number verified by a code, then factor=sms through the Auth API, the code from a local SMSC typed as a passcode (E1, E2, N1).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sign } from "@duosecurity/duo_api/lib/duo_sig.js";
import type { TwofoldError } from "../../src/core/errors.ts";
import { AUTH_METHODS } from "../../src/core/model.ts";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import { ADMIN, createTestRuntime, enrollTOTPUser, type HTTPTestContext } from "../http/support.ts";
import { startPromptLogin } from "../support/prompt-login.ts";
import { codeIn, TestSMSC } from "../support/smsc.ts";
import { dialects } from "../support/stores.ts";

const NUMBER = "+85291234567";

for (const dialect of await dialects()) {
  describe(`text-message passcodes through the Auth API (${dialect})`, () => {
    let t: HTTPTestContext;
    let server: RunningServer;
    let smsc: TestSMSC;
    let ikey: string;
    let skey: string;
    let host: string;
    let phoneId: string;
    /** Every code the SMSC saw: none may appear in a log line or audit row (N1). */
    const secrets = new Set<string>();

    before(async () => {
      smsc = new TestSMSC();
      await smsc.start();
      t = await createTestRuntime({
        dialect,
        overrides: {
          "organization.country": "HK",
          "sms.gateways": [
            { type: "smpp", name: "smsc", url: smsc.url, systemId: "twofold", password: "secret" },
          ],
          // By username, by an alias and by an e-mail address, as a login may name them (A3).
          "policy.sms.administrators": ["root", "ops.admin", "Dana@Example.org"],
          // Not a test of the deadline (outbox.test.ts is): a loaded machine must not turn a send into a refusal.
          "sms.sendDeadlineMs": 20_000,
          // Every test here texts the same number: the SMS guard's quotas (tested in sms-guard.test.ts) stay out of
          // the way of the factor's own behaviour.
          "sms.guard.perUser.perWindow": 1000,
          "sms.guard.perUser.perDay": 1000,
          "sms.guard.perNumber.perWindow": 1000,
          "sms.guard.perNumber.perDay": 1000,
          "sms.guard.perAddress.perWindow": 1000,
          "sms.guard.perAddress.perDay": 1000,
          "sms.guard.perPrefix.perWindow": 1000,
          "sms.guard.perPrefix.perDay": 1000,
        },
      });
      server = await startServer(t.runtime);
      host = new URL(server.url).host;
      const created = await t.runtime.services.createApplication(ADMIN, { name: "VPN", type: "auth-api" });
      ikey = created.application.id;
      skey = created.secretKey.reveal();
      await enrollTOTPUser(t, "alice");
    });

    after(async () => {
      await server?.close();
      await t?.close();
      await smsc?.stop();
    });

    function signed(method: "GET" | "POST", path: string, params: Record<string, string>) {
      const when = new Date(t.clock.now()).toUTCString();
      const query = new URLSearchParams(params).toString();
      return {
        url: `${server.url}${path}${method === "GET" && query ? `?${query}` : ""}`,
        init: {
          method,
          headers: {
            date: when,
            authorization: sign(ikey, skey, method, host, path, params, when),
            ...(method === "POST" ? { "content-type": "application/x-www-form-urlencoded" } : {}),
          },
          ...(method === "POST" ? { body: query } : {}),
        } satisfies RequestInit,
      };
    }

    async function duo(method: "GET" | "POST", path: string, params: Record<string, string>) {
      // Each request is signed at a later second: the same call twice would be a replay (K2).
      t.clock.advance(1000);
      const r = signed(method, path, params);
      const response = await fetch(r.url, r.init);
      // biome-ignore lint/suspicious/noExplicitAny: a client's view of JSON; the tests check each field they use.
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    }

    /** Ask for a text; return the answer and the code the SMSC received (if one was sent). */
    async function textMe(username = "alice") {
      const before = smsc.submitted.length;
      const answer = await duo("POST", "/auth/v2/auth", { username, factor: "sms", device: "auto" });
      const sent = smsc.submitted.slice(before);
      const code = sent.length > 0 ? codeIn(sent.at(-1)!.text) : undefined;
      if (code) secrets.add(code);
      return { answer, code, sent };
    }

    const passcode = (code: string, username = "alice") =>
      duo("POST", "/auth/v2/auth", { username, factor: "passcode", passcode: code });

    test("E2: a number is refused when premium-rate, shared-cost, unassigned or fixed-line, with a code saying why", async () => {
      const refusal = async (number: string) => {
        try {
          await t.runtime.services.addSMSPhone(ADMIN, { user: "alice", number });
          return "accepted";
        } catch (error) {
          return (error as TwofoldError).code;
        }
      };
      assert.equal(await refusal("+19005550100"), "ERR_PHONE_PREMIUM_RATE");
      assert.equal(await refusal("+448449000000"), "ERR_PHONE_PREMIUM_RATE");
      assert.equal(await refusal("+15555550100"), "ERR_PHONE_INVALID");
      assert.equal(await refusal("+85223456789"), "ERR_PHONE_NOT_MOBILE");
      assert.equal(await refusal("not a number"), "ERR_PHONE_INVALID");
      assert.equal(smsc.submitted.length, 0, "nothing was texted to a refused number");
    });

    test("E2: administrators and users with no other factor are never offered text messages", async () => {
      await t.runtime.services.createUser(ADMIN, { username: "root" });
      await t.runtime.services.createUser(ADMIN, { username: "carol" });
      for (const user of ["root", "carol"])
        await assert.rejects(
          t.runtime.services.addSMSPhone(ADMIN, { user, number: "+85291230000" }),
          (e: TwofoldError) => e.code === "ERR_SMS_NOT_ALLOWED",
        );
    });

    test("E2: an administrator listed by an alias or by an e-mail address is never offered text messages", async () => {
      await enrollTOTPUser(t, "dave");
      await t.runtime.services.addUserAlias(ADMIN, "dave", "Ops.Admin");
      await enrollTOTPUser(t, "dana");
      await t.runtime.services.updateUser(ADMIN, "dana", { email: "dana@example.org" });
      for (const user of ["dave", "dana"])
        await assert.rejects(
          t.runtime.services.addSMSPhone(ADMIN, { user, number: "+85291230001" }),
          (e: TwofoldError) => e.code === "ERR_SMS_NOT_ALLOWED" && /administrators/.test(e.message),
          user,
        );
      // (alice, with an app and no listed name, is texted in the next test.)
    });

    test("E2: a number receives passcodes only after the code texted to it is typed back", async () => {
      const { phone, sent } = await t.runtime.services.addSMSPhone(ADMIN, {
        user: "alice",
        number: "+852 9123 4567",
      });
      phoneId = phone.id;
      assert.equal(phone.number, NUMBER, "stored in E.164");
      assert.equal(sent.sent, true);
      const [verify] = await smsc.waitForSubmits(1);
      assert.equal(verify!.to, "85291234567");
      assert.equal(verify!.from, "Twofold");
      assert.match(verify!.text, /code to verify this phone: [0-9]{6}\./);
      const code = codeIn(verify!.text);
      secrets.add(code);
      // Not yet verified: preauth offers no SMS and factor=sms finds no capable device.
      const early = await duo("POST", "/auth/v2/preauth", { username: "alice" });
      assert.ok(
        !early.body.response.devices.some((d: { capabilities: string[] }) => d.capabilities.includes("sms")),
      );
      const refused = await duo("POST", "/auth/v2/auth", {
        username: "alice",
        factor: "sms",
        device: "auto",
      });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, 40002);
      // A wrong code is refused; the right one verifies the number.
      await assert.rejects(
        t.runtime.services.confirmPhoneVerification(ADMIN, {
          phoneId,
          code: code === "000000" ? "111111" : "000000",
        }),
        (e: TwofoldError) => e.code === "ERR_SMS_CODE_INVALID",
      );
      const verified = await t.runtime.services.confirmPhoneVerification(ADMIN, { phoneId, code });
      assert.equal(typeof verified.smsVerifiedAt, "number");
      // The verification code is used up.
      await assert.rejects(
        t.runtime.services.confirmPhoneVerification(ADMIN, { phoneId, code }),
        (e: TwofoldError) => e.code === "ERR_SMS_CODE_INVALID",
      );
    });

    test("a user whose language is Traditional Chinese gets the text in Chinese (sent as UCS-2), and its code works", async () => {
      await t.runtime.services.createUser(ADMIN, { username: "mei", language: "zh-Hant" });
      const e = await t.runtime.services.enrollTOTP(ADMIN, "mei");
      const { generateTOTP } = await import("../../src/core/otp/totp.ts");
      const { decodeBase32 } = await import("../../src/core/base32.ts");
      const key = decodeBase32(e.secret.reveal())!;
      await t.runtime.services.confirmTOTP(
        ADMIN,
        e.credentialId,
        generateTOTP({ key, algorithm: "SHA1", digits: 6, period: 30 }, t.clock.now()),
      );
      const before = smsc.submitted.length;
      const { phone } = await t.runtime.services.addSMSPhone(ADMIN, { user: "mei", number: "+85261234567" });
      const [text] = (await smsc.waitForSubmits(before + 1)).slice(before);
      assert.match(text!.text, /^Twofold 手機驗證碼：[0-9]{6}，10 分鐘內有效。$/);
      const code = codeIn(text!.text);
      secrets.add(code);
      await t.runtime.services.confirmPhoneVerification(ADMIN, { phoneId: phone.id, code });
      const login = await textMe("mei");
      assert.match(login.sent[0]!.text, /^Twofold 登入驗證碼：[0-9]{6}，5 分鐘內有效。切勿告訴任何人。$/);
      assert.equal((await passcode(login.code!, "mei")).body.response.result, "allow");
    });

    test("N3: readiness reports the SMS gateway beside the database", async () => {
      const ready = await fetch(`${server.url}/ready`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: "ready", checks: { database: "up", sms: "up" } });
    });

    test("preauth lists the phone with capability sms and its number masked", async () => {
      const preauth = await duo("POST", "/auth/v2/preauth", { username: "alice" });
      const phone = preauth.body.response.devices.find((d: { device: string }) => d.device === phoneId);
      assert.deepEqual(phone.capabilities, ["sms"]);
      assert.equal(phone.number, "+*******4567");
      assert.equal(phone.type, "phone");
      // duo_unix's menu offers it as sms1 after the passcode line; it is never the default (texts only on request).
      const withPrompt = await duo("POST", "/auth/v2/preauth", { username: "alice", text_prompt: "1" });
      assert.deepEqual(withPrompt.body.response.prompt.factors, { "1": "sms1" });
      assert.match(withPrompt.body.response.prompt.text, /1\. SMS passcode to \+\*{7}4567/);
    });

    test("E1: factor=sms denies with Duo's 'sent' answer; the texted code logs in once, as a passcode", async () => {
      const { answer, code, sent } = await textMe();
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body.response, {
        result: "deny",
        status: "sent",
        status_msg: "New SMS passcodes sent.",
      });
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.to, "85291234567");
      assert.equal(sent[0]!.registeredDelivery, 1);
      assert.match(sent[0]!.text, /^Twofold passcode: [0-9]{6}\. It works for 5 minutes\. Never share it\.$/);
      const ok = await passcode(code!);
      assert.deepEqual(ok.body.response, {
        result: "allow",
        status: "allow",
        status_msg: "Success. Logging you in...",
      });
      const log = await t.runtime.services.listAuthLog({
        minTime: 0,
        maxTime: t.clock.now() + 1,
        limit: 1,
        order: "desc",
      });
      assert.equal(log.entries[0]!.factor, "sms");
      // Single use.
      const again = await passcode(code!);
      assert.equal(again.body.response.result, "deny");
    });

    test("E1: send again kills the old code but not the failure count; a code is refused after 5 minutes", async () => {
      t.clock.advance(31_000);
      const first = await textMe();
      const wrong = first.code === "000000" ? "000001" : "000000";
      assert.equal((await passcode(wrong)).body.response.result, "deny");
      const failuresBefore = (await t.runtime.services.listUserLockouts("alice")).find(
        (l) => l.factorClass === "sms",
      )!.failures;
      assert.equal(failuresBefore, 1);
      // Send again within 30 s: refused with the wait (ux.md: Send again after 30 s).
      const tooSoon = await textMe();
      assert.equal(tooSoon.sent.length, 0);
      assert.match(tooSoon.answer.body.response.status_msg, /A code was just sent/);
      t.clock.advance(31_000);
      const second = await textMe();
      assert.equal(second.answer.body.response.status, "sent");
      assert.notEqual(second.code, undefined);
      const failuresAfter = (await t.runtime.services.listUserLockouts("alice")).find(
        (l) => l.factorClass === "sms",
      )!.failures;
      assert.equal(failuresAfter, 1, "a new code keeps the failure count (E1)");
      if (first.code !== second.code)
        assert.equal((await passcode(first.code!)).body.response.result, "deny", "the old code is dead");
      // Past its 5 minutes the new code is refused too.
      t.clock.advance(5 * 60_000 + 1000);
      assert.equal((await passcode(second.code!)).body.response.result, "deny");
      // A fresh one works, and the success resets the sms class.
      const third = await textMe();
      assert.equal((await passcode(third.code!)).body.response.result, "allow");
      const reset = (await t.runtime.services.listUserLockouts("alice")).find((l) => l.factorClass === "sms");
      assert.equal(reset?.failures ?? 0, 0);
    });

    test("a code sent for one application does not complete another application's login", async () => {
      t.clock.advance(31_000);
      const { code } = await textMe();
      const other = await t.runtime.services.createApplication(ADMIN, { name: "Mail", type: "auth-api" });
      const [oikey, oskey] = [other.application.id, other.secretKey.reveal()];
      t.clock.advance(1000);
      const when = new Date(t.clock.now()).toUTCString();
      const params = { username: "alice", factor: "passcode", passcode: code! };
      const response = await fetch(`${server.url}/auth/v2/auth`, {
        method: "POST",
        headers: {
          date: when,
          authorization: sign(oikey, oskey, "POST", host, "/auth/v2/auth", params, when),
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams(params).toString(),
      });
      const body = (await response.json()) as { response: { result: string } };
      assert.equal(body.response.result, "deny");
      assert.equal(
        (await passcode(code!)).body.response.result,
        "allow",
        "it still works where it was asked for",
      );
    });

    test("E1: a code texted for a prompt login completes that login only, not another login of the same user and application", async () => {
      t.clock.advance(31_000);
      const redirect = "https://portal.example.edu/duo-callback";
      const audience = "https://twofold.test";
      const created = await t.runtime.services.createApplication(ADMIN, {
        name: "Portal",
        type: "web-sdk",
        redirectURIs: [redirect],
      });
      const client = created.application.id;
      const ip = "198.51.100.20";
      const promptClient = { id: client, secret: created.secretKey.reveal(), redirect, audience };
      const start = () => startPromptLogin(t.runtime.services, promptClient, "alice", t.clock.now(), ip);
      const first = await start();
      const second = await start();
      const before = smsc.submitted.length;
      const sent = await t.runtime.services.sendPromptSMS(first, { ip });
      assert.equal(sent.sent, true, JSON.stringify(sent));
      assert.equal(smsc.submitted.length, before + 1);
      const code = codeIn(smsc.submitted.at(-1)!.text)!;
      secrets.add(code);
      const elsewhere = await t.runtime.services.verifyPromptPasscode(second, { passcode: code, ip });
      assert.equal(elsewhere.result, "deny", "another login of alice at the same application");
      const here = await t.runtime.services.verifyPromptPasscode(first, { passcode: code, ip });
      assert.equal(here.result, "allow", "the login it was sent for");
    });

    test("delivery receipts from the SMSC are recorded on the message", async () => {
      t.clock.advance(31_000);
      const { sent } = await textMe();
      const outbox = await t.runtime.services.countMessages(0);
      assert.ok(outbox.some((r) => r.channel === "sms" && r.status === "sent"));
      smsc.sendReceipt(sent[0]!.messageId, "DELIVRD");
      const deadline = Date.now() + 20_000;
      for (;;) {
        const counts = await t.runtime.services.countMessages(0);
        if (counts.some((r) => r.status === "delivered")) break;
        assert.ok(Date.now() < deadline, "the receipt was recorded within 20 s");
        await new Promise((r) => setTimeout(r, 50));
      }
    });

    test("an application whose policy leaves SMS out gets Duo's 'no capable device' for factor=sms", async () => {
      await t.runtime.services.updateApplication(ADMIN, ikey, {
        policy: { methods: ["push", "passcode-app", "token", "bypass", "rescue", "webauthn"] },
      });
      try {
        t.clock.advance(31_000);
        const { answer, sent } = await textMe();
        assert.equal(answer.status, 400);
        assert.equal(answer.body.code, 40002);
        assert.equal(sent.length, 0);
      } finally {
        await t.runtime.services.updateApplication(ADMIN, ikey, { policy: { methods: [...AUTH_METHODS] } });
      }
    });

    test("Admin API phone fields: capabilities include sms once verified; the number in E.164", async () => {
      const admin = await t.runtime.services.createApplication(ADMIN, { name: "Admin", type: "admin-api" });
      const [aikey, askey] = [admin.application.id, admin.secretKey.reveal()];
      const get = async (path: string) => {
        t.clock.advance(1000);
        const when = new Date(t.clock.now()).toUTCString();
        const response = await fetch(`${server.url}${path}`, {
          headers: { date: when, authorization: sign(aikey, askey, "GET", host, path, {}, when) },
        });
        // biome-ignore lint/suspicious/noExplicitAny: a client's view of JSON; the test checks the fields it uses.
        return (await response.json()) as { stat: string; response: any };
      };
      const phone = await get(`/admin/v1/phones/${phoneId}`);
      assert.equal(phone.stat, "OK");
      assert.equal(phone.response.number, NUMBER);
      assert.deepEqual(phone.response.capabilities, ["sms"]);
      assert.equal(phone.response.sms_verified, true);
      // An unverified phone has no sms capability.
      const other = await t.runtime.services.createPhone(ADMIN, { number: "+85298765432" });
      assert.deepEqual((await get(`/admin/v1/phones/${other.id}`)).response.capabilities, []);
    });

    test("N1: no number in clear and no code in any log line or audit row", async () => {
      assert.ok(secrets.size >= 5, "the tests texted codes");
      const audit = JSON.stringify(await t.runtime.services.listAudit({ limit: 1000 }));
      const authLog = JSON.stringify(
        await t.runtime.services.listAuthLog({ minTime: 0, maxTime: t.clock.now() + 1, limit: 1000 }),
      );
      for (const where of [t.logs.join("\n"), audit, authLog]) {
        assert.ok(!where.includes("91234567"), "no full number");
        assert.ok(!where.includes("61234567"), "no full number");
        for (const code of secrets) assert.ok(!where.includes(code), "no code");
      }
      assert.ok(audit.includes("4567"), "the audit trail keeps the last four digits");
    });
  });
}
