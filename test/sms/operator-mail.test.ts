// Operator alerts and token-loan reminders by e-mail, through the outbox to a local SMTP server, on a test clock: each mailed once across two nodes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { OperatorAlert } from "../../src/core/ports.ts";
import { createServices, type Services } from "../../src/core/services.ts";
import { formatTime } from "../../src/core/use-cases/email-notifications.ts";
import { ALERT_TEMPLATES, renderAlertMail } from "../../src/core/use-cases/operator-alert-mail.ts";
import { createMessaging } from "../../src/runtime/messaging.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "../http/support.ts";
import { type ReceivedMail, TestSMTPServer } from "../support/smtp.ts";
import { dialects } from "../support/stores.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function capAlert(at: number, day = "2026-11-22"): OperatorAlert {
  return {
    kind: "sms.spend_cap_reached",
    at,
    message: "SMS stopped for the day: spend 50.00 of the 50.00 USD cap",
    details: { day, spent: 50, cap: 50, currency: "USD" },
  };
}

function breakerAlert(at: number, subject: string): OperatorAlert {
  return {
    kind: "sms.breaker_tripped",
    at,
    message: `SMS paused for prefix ${subject} until 2026-11-22T13:00:00.000Z: 2% of 400 codes typed against a baseline of 80%`,
    details: { scope: "prefix", subject, until: at + HOUR, sent: 400 },
  };
}

test("every alert kind has an English and a Traditional Chinese e-mail, with nothing left unfilled", () => {
  const at = Date.UTC(2026, 10, 22, 12);
  const samples: Record<OperatorAlert["kind"], OperatorAlert> = {
    "sms.spend_cap_reached": capAlert(at),
    "sms.breaker_tripped": breakerAlert(at, "+8529123"),
  };
  for (const kind of Object.keys(ALERT_TEMPLATES) as OperatorAlert["kind"][])
    for (const language of ["en", "zh-Hant"] as const) {
      const mail = renderAlertMail(samples[kind], language);
      assert.doesNotMatch(`${mail.subject}${mail.text}`, /undefined|null|NaN|\{|\}/, `${kind} ${language}`);
      if (language === "zh-Hant") assert.match(mail.subject, /[\u4e00-\u9fff]/);
    }
  assert.match(renderAlertMail(samples["sms.breaker_tripped"], "en").subject, /number prefix \+8529123/);
  assert.match(renderAlertMail(samples["sms.breaker_tripped"], "zh-Hant").text, /2026-11-22 13:00 UTC/);
});

for (const dialect of await dialects()) {
  describe(`operator and loan-desk e-mail (${dialect})`, () => {
    let t: HTTPTestContext;
    let smtp: TestSMTPServer;
    let nodeB: Services;
    let closeB: () => Promise<void>;

    before(async () => {
      smtp = new TestSMTPServer();
      await smtp.start();
      const overrides = {
        "mail.from": "Example U IT <it-security@example.edu>",
        "mail.smtp.host": "127.0.0.1",
        "mail.smtp.port": smtp.port,
        "mail.smtp.requireTLS": false,
        "alerts.email.to": ["noc@example.edu", "sms-owner@example.edu"],
        "alerts.email.language": "zh-Hant",
        "tokens.loanOverdueReminderDays": 7,
      };
      t = await createTestRuntime({ dialect, overrides });
      const { runtime } = t;
      // A second node on the same database, with its own outbox owner and SMTP connection.
      const setup = createMessaging(runtime.config, runtime.logger, "node-b", () => {});
      closeB = setup.close;
      nodeB = createServices({
        store: runtime.store,
        keyring: runtime.keyring,
        clock: t.clock,
        config: runtime.config,
        nodeName: "node-b",
        pushEvents: runtime.pushEvents,
        messaging: setup.messaging!,
      });
      await runtime.services.createUser(ADMIN, { username: "ed", email: "ed@example.edu", language: "en" });
      await runtime.services.createUser(ADMIN, {
        username: "mei",
        email: "mei@example.edu",
        language: "zh-Hant",
      });
    });

    after(async () => {
      await closeB?.();
      await t?.close();
      await smtp?.stop();
    });

    /** Send what is due and wait until the SMTP server has `total` messages; returns those past `from`. */
    async function mailsFrom(from: number, total: number): Promise<ReceivedMail[]> {
      await t.runtime.services.runOutbox();
      const deadline = Date.now() + 30_000;
      while (smtp.received.length < total) {
        assert.ok(Date.now() < deadline, `got ${smtp.received.length} of ${total} e-mails`);
        await new Promise((r) => setTimeout(r, 25));
      }
      // Nothing more arrives than expected.
      await t.runtime.services.runOutbox();
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(smtp.received.length, total);
      return smtp.received.slice(from);
    }

    test("an alert is e-mailed to every operator address, once an hour per kind and key, even raised on two nodes", async () => {
      const start = smtp.received.length;
      const now = t.clock.now();
      // The hub's subscriber (node A) and a second node raise the same alert.
      t.runtime.alerts.raise(capAlert(now));
      await nodeB.queueOperatorAlertMail(capAlert(now));
      await new Promise((r) => setTimeout(r, 100));
      t.runtime.alerts.raise(capAlert(now));
      await new Promise((r) => setTimeout(r, 100));
      const first = await mailsFrom(start, start + 2);
      assert.deepEqual(first.map((m) => m.to[0]).sort(), ["noc@example.edu", "sms-owner@example.edu"]);
      for (const mail of first) {
        assert.equal(mail.subject, "Twofold：今日已停止發送短訊（已達每日費用上限）");
        assert.match(mail.text, /2026-11-22 的短訊費用已達每日上限 50 USD/);
      }
      // Another key (a paused prefix) is another alert; the same prefix again within the hour is not.
      t.runtime.alerts.raise(breakerAlert(now, "+8529123"));
      await new Promise((r) => setTimeout(r, 100));
      t.runtime.alerts.raise(breakerAlert(now, "+8529123"));
      await new Promise((r) => setTimeout(r, 100));
      const paused = await mailsFrom(start + 2, start + 4);
      for (const mail of paused) assert.match(mail.subject, /已暫停向號碼字首 \+8529123 發送短訊/);
      // An hour later the cause, still there, is mailed again.
      t.clock.advance(HOUR);
      t.runtime.alerts.raise(capAlert(t.clock.now()));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await mailsFrom(start + 4, start + 6)).length, 2);
    });

    test("one new alert raised ten times at once on two nodes: one e-mail per operator; marks pruned after a day", async () => {
      const start = smtp.received.length;
      const alert = breakerAlert(t.clock.now(), "+8526000");
      const queued = await Promise.all(
        Array.from({ length: 5 }, () => [
          t.runtime.services.queueOperatorAlertMail(alert),
          nodeB.queueOperatorAlertMail(alert),
        ]).flat(),
      );
      assert.equal(queued.filter(Boolean).length, 1);
      assert.equal((await mailsFrom(start, start + 2)).length, 2);
      t.clock.advance(DAY + HOUR);
      const report = await t.runtime.services.pruneExpiredRows();
      assert.ok((report.steps.find((s) => s.name === "message marks")?.deleted ?? 0) >= 1);
    });

    test("a lent token: the borrower is reminded when it falls due and once more when overdue, once each across two nodes", async () => {
      const { services } = t.runtime;
      await services.importTokens(ADMIN, [
        {
          serial: "LOAN-1",
          type: "hotp",
          algorithm: "SHA1",
          digits: 6,
          period: null,
          counter: 0,
          secret: new TextEncoder().encode("12345678901234567890"),
          manufacturer: "Test",
          model: "virtual",
        },
        {
          serial: "LOAN-2",
          type: "hotp",
          algorithm: "SHA1",
          digits: 6,
          period: null,
          counter: 0,
          secret: new TextEncoder().encode("09876543210987654321"),
          manufacturer: "Test",
          model: "virtual",
        },
      ]);
      await assert.rejects(
        services.assignToken(ADMIN, "LOAN-1", "ed", { dueAt: t.clock.now() - 1 }),
        (e: Error & { code?: string }) => e.code === "ERR_VALIDATION",
      );
      const edDue = t.clock.now() + 2 * DAY;
      const lent = await services.assignToken(ADMIN, "LOAN-1", "ed", { dueAt: edDue });
      assert.equal(lent.loanDueAt, t.clock.now() + 2 * DAY);
      await services.assignToken(ADMIN, "LOAN-2", "mei", { dueAt: t.clock.now() + 3 * DAY });
      // The assignment's own "factor added" notices.
      let seen = (await mailsFrom(smtp.received.length, smtp.received.length + 2)).length;
      seen = smtp.received.length;

      const both = async () => {
        const [a, b] = await Promise.all([services.sendTokenLoanReminders(), nodeB.sendTokenLoanReminders()]);
        return { due: a.due + b.due, overdue: a.overdue + b.overdue };
      };
      assert.deepEqual(await both(), { due: 0, overdue: 0 }, "nothing is due yet");

      t.clock.advance(2 * DAY);
      assert.deepEqual(await both(), { due: 1, overdue: 0 });
      assert.deepEqual(await both(), { due: 0, overdue: 0 }, "never twice");
      const [due] = await mailsFrom(seen, seen + 1);
      assert.deepEqual(due!.to, ["ed@example.edu"]);
      assert.equal(due!.subject, "Please return your hardware token");
      assert.ok(
        due!.text.includes(
          `The hardware token LOAN-1 you borrowed from the IT office is due back on ${formatTime(edDue)}.`,
        ),
        due!.text,
      );

      t.clock.advance(DAY);
      assert.deepEqual(await both(), { due: 1, overdue: 0 });
      const [zh] = await mailsFrom(seen + 1, seen + 2);
      assert.deepEqual(zh!.to, ["mei@example.edu"]);
      assert.equal(zh!.subject, "請歸還保安編碼器");

      // Seven days past ed's due date: the overdue reminder, once. A new due date for mei starts hers again.
      t.clock.advance(6 * DAY);
      await services.setTokenLoanDue(ADMIN, "LOAN-2", t.clock.now() + DAY);
      assert.deepEqual(await both(), { due: 0, overdue: 1 });
      assert.deepEqual(await both(), { due: 0, overdue: 0 });
      const [overdue] = await mailsFrom(seen + 2, seen + 3);
      assert.deepEqual(overdue!.to, ["ed@example.edu"]);
      assert.equal(overdue!.subject, "Your hardware token is overdue");
      t.clock.advance(DAY);
      assert.deepEqual(await both(), { due: 1, overdue: 0 });

      // Returned: no more reminders, whatever the clock says.
      await services.unassignToken(ADMIN, "LOAN-1");
      t.clock.advance(30 * DAY);
      assert.deepEqual(await both(), { due: 0, overdue: 1 }, "only mei's overdue reminder is left");
      assert.deepEqual(await both(), { due: 0, overdue: 0 });
    });
  });
}
