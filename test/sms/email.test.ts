// E-mail notifications through the outbox to a local SMTP server, in each user's language (en, zh-Hant), never carrying a code.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decodeBase32 } from "../../src/core/base32.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import { MAIL_TEMPLATES, renderNotificationMail } from "../../src/core/use-cases/email-notifications.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "../http/support.ts";
import { TestSMTPServer } from "../support/smtp.ts";
import { dialects } from "../support/stores.ts";

test("every notification has an English and a Traditional Chinese text, with no placeholder left", () => {
  const payloads: Record<string, Record<string, unknown>> = {
    "factor-added": { factor: "passkey", name: "iCloud Keychain" },
    "factor-removed": { factor: "hardware token", serial: "T-1001" },
    "bypass-code-issued": { count: 2, by: "helpdesk", expiresAt: null },
    "push-fraud-reported": { application: "VPN", ip: "192.0.2.1" },
    "sms-stopped": { reason: "pumping" },
    "token-loan-due": { serial: "T-1001", dueAt: Date.UTC(2026, 11, 24) },
    "rescue-codes-generated": { count: 10 },
    "rescue-code-used": { remaining: 9 },
    "locked-out": { factorClass: "otp" },
  };
  for (const kind of Object.keys(MAIL_TEMPLATES)) {
    for (const language of ["en", "zh-Hant"] as const) {
      const mail = renderNotificationMail(kind, payloads[kind] ?? {}, language, Date.UTC(2026, 10, 22, 12));
      assert.ok(mail, `${kind} ${language}`);
      assert.ok(mail.subject.length > 0 && mail.text.length > 0);
      assert.doesNotMatch(`${mail.subject}${mail.text}`, /undefined|null|NaN|\{|\}/, `${kind} ${language}`);
      if (language === "zh-Hant") assert.match(mail.subject, /[\u4e00-\u9fff]/, `${kind} is in Chinese`);
    }
  }
  assert.match(
    renderNotificationMail("token-loan-due", payloads["token-loan-due"]!, "en", 0)!.text,
    /2026-12-24/,
  );
  assert.equal(renderNotificationMail("no-such-kind", {}, "en", 0), undefined);
});

for (const dialect of await dialects()) {
  describe(`e-mail notifications through the outbox (${dialect})`, () => {
    let t: HTTPTestContext;
    let smtp: TestSMTPServer;

    before(async () => {
      smtp = new TestSMTPServer();
      await smtp.start();
      t = await createTestRuntime({
        dialect,
        overrides: {
          "mail.from": "Example U IT <it-security@example.edu>",
          "mail.smtp.host": "127.0.0.1",
          "mail.smtp.port": smtp.port,
          "mail.smtp.requireTLS": false,
        },
      });
      const { services } = t.runtime;
      await services.createUser(ADMIN, { username: "ed", email: "ed@example.edu", language: "en" });
      await services.createUser(ADMIN, { username: "mei", email: "mei@example.edu", language: "zh-Hant" });
      await services.createUser(ADMIN, { username: "noemail" });
    });

    after(async () => {
      await t?.close();
      await smtp?.stop();
    });

    async function deliver(expected: number) {
      await t.runtime.services.runOutbox();
      const deadline = Date.now() + 30_000;
      while (smtp.received.length < expected) {
        assert.ok(Date.now() < deadline, `got ${smtp.received.length} of ${expected} e-mails`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return smtp.received.slice(-1)[0]!;
    }

    test("a bypass code issued: the user is told in English, and the code is not in the mail", async () => {
      const issued = await t.runtime.services.issueBypassCodes(ADMIN, "ed", { count: 1 });
      const mail = await deliver(1);
      assert.deepEqual(mail.to, ["ed@example.edu"]);
      assert.equal(mail.from, "it-security@example.edu");
      assert.equal(mail.subject, "A bypass code was issued for your account");
      assert.match(mail.text, /1 bypass code was issued for your account at 2026-11-22 \d\d:\d\d UTC/);
      assert.match(mail.text, /contact them at once/);
      assert.ok(!mail.raw.includes(issued.codes.reveal()[0]!), "never the code");
    });

    test("an authenticator app added and removed, and rescue codes made: told in Traditional Chinese", async () => {
      const { services, config } = t.runtime;
      const e = await services.enrollTOTP(ADMIN, "mei");
      const key = decodeBase32(e.secret.reveal())!;
      const code = generateTOTP(
        { key, algorithm: config.policy.totp.algorithm, digits: config.policy.totp.digits, period: 30 },
        t.clock.now(),
      );
      await services.confirmTOTP(ADMIN, e.credentialId, code);
      const added = await deliver(2);
      assert.deepEqual(added.to, ["mei@example.edu"]);
      assert.equal(added.subject, "你的帳戶已加入登入方式");
      assert.match(added.text, /加入驗證器 App/);
      assert.match(added.text, /請立即聯絡資訊科技服務台/);
      assert.ok(!added.raw.includes(e.secret.reveal()), "never the seed");
      await services.removeOTPCredential(ADMIN, e.credentialId);
      assert.equal((await deliver(3)).subject, "你的帳戶已移除登入方式");
      const rescue = await services.generateRescueCodes(ADMIN, "mei");
      const made = await deliver(4);
      assert.equal(made.subject, "你的帳戶已產生新的救援碼");
      for (const c of rescue.codes.reveal()) assert.ok(!made.raw.includes(c), "never a rescue code");
    });

    test("a user with no e-mail address gets none; each message is sent once", async () => {
      await t.runtime.services.issueBypassCodes(ADMIN, "noemail", { count: 1 });
      t.clock.advance(60_000);
      await t.runtime.services.runOutbox();
      await t.runtime.services.runOutbox();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(smtp.received.length, 4);
      const counts = await t.runtime.services.countMessages(0);
      assert.deepEqual(
        counts.map((c) => [c.channel, c.status, c.count]),
        [["email", "sent", 4]],
      );
    });
  });
}
