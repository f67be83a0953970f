// SMS abuse controls (E3): each quota and its default, the country allow-list, the spend cap, stops, refunds, the breaker and its record-only mode, the operator report.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import type { SmsSendDecision } from "../../src/core/use-cases/sms-guard.ts";
import { ADMIN, enrollActiveTOTP } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";
import { createGuardContext, DAY, type GuardContext, HOUR, hkNumber, MINUTE } from "./support.ts";

// Known before any test is declared: node's runner ends once its declared tests are done.
const DIALECTS = await dialects();

const allowed = (d: SmsSendDecision) => d.allow;
function refused(d: SmsSendDecision): Extract<SmsSendDecision, { allow: false }> {
  assert.equal(d.allow, false, "expected a refusal");
  return d as Extract<SmsSendDecision, { allow: false }>;
}

test("the shipped defaults are the campus policy (DESIGN §4, E3)", () => {
  const g = loadConfig({ env: {}, overrides: { mode: "demo" } }).sms.guard;
  assert.deepEqual(g.perUser, { perWindow: 3, windowSeconds: 600, perDay: 10 });
  assert.deepEqual(g.perNumber, { perWindow: 3, windowSeconds: 600, perDay: 10 });
  assert.deepEqual(g.perAddress, { perWindow: 10, windowSeconds: 3600, perDay: 30 });
  assert.deepEqual(g.perApplication, { perWindow: 200, windowSeconds: 3600, perDay: 1000 });
  assert.deepEqual(g.perPrefix, { perWindow: 10, windowSeconds: 3600, perDay: 30 });
  assert.deepEqual(g.perCountry, { perWindow: 500, windowSeconds: 3600, perDay: 2000 });
  assert.deepEqual(g.countries, [], "empty: the organisation's own country alone");
  assert.equal(g.spend.dailyCap, 50);
  assert.equal(g.breaker.prefix.mode, "enforce");
  assert.throws(
    () => loadConfig({ env: {}, overrides: { mode: "demo", "sms.guard.sendRetentionDays": 3 } }),
    /sendRetentionDays: must be at least/,
  );
});

for (const dialect of DIALECTS) {
  describe(`SMS guard controls on ${dialect}`, () => {
    let g: GuardContext;
    const open = async (overrides: Record<string, unknown> = {}) => {
      g = await createGuardContext(dialect, overrides);
      return g;
    };
    after(() => g?.close());

    test("per user: 3 texts in 10 minutes, then 'too many codes' until the first leaves the window; 10 a day", async () => {
      await open();
      const start = g.t.clock.now();
      // Each text from a new number and address, so only the user's own quota is in play.
      let n = 0;
      const next = () =>
        g.send({ userId: "U-quota", phoneE164: hkNumber("9100", n), ip: `198.51.100.${n++}` });
      for (let i = 0; i < 3; i++) {
        assert.ok(allowed(await next()));
        g.t.clock.advance(MINUTE);
      }
      const fourth = refused(await next());
      assert.equal(fourth.reason, "quota_user");
      assert.equal(fourth.userMessage, "quota");
      assert.equal(fourth.retryAt, start + 10 * MINUTE, "when the first text leaves the 10-minute window");
      g.t.clock.set(fourth.retryAt!);
      assert.ok(allowed(await next()), "one more fits once the first has left the window");
      // Up to 10 in 24 hours, spread so the 10-minute quota never bites.
      for (let i = 0; i < 6; i++) {
        g.t.clock.advance(11 * MINUTE);
        assert.ok(allowed(await next()));
      }
      g.t.clock.advance(11 * MINUTE);
      const daily = refused(await next());
      assert.equal(daily.reason, "quota_user");
      assert.equal(daily.retryAt, start + DAY, "the first text of the day leaves the 24-hour window");
      await g.close();
    });

    test("per number: three users asking for one number share its quota", async () => {
      await open();
      const number = hkNumber("9200", 1);
      for (const [i, user] of ["U-a", "U-b", "U-c"].entries())
        assert.ok(allowed(await g.send({ userId: user, phoneE164: number, ip: `198.51.100.${i}` })));
      const d = refused(await g.send({ userId: "U-d", phoneE164: number, ip: "198.51.100.9" }));
      assert.equal(d.reason, "quota_number");
      assert.equal(d.userMessage, "quota");
      await g.close();
    });

    test("per address: 10 an hour from one address, IPv6 counted by /64", async () => {
      await open();
      for (let i = 0; i < 10; i++)
        assert.ok(
          allowed(
            await g.send({
              userId: `U-ip${i}`,
              phoneE164: hkNumber(String(6200 + i), i),
              ip: `2001:db8:1:2::${i}`,
            }),
          ),
        );
      const d = refused(
        await g.send({ userId: "U-ipx", phoneE164: hkNumber("6300", 99), ip: "2001:db8:1:2:ffff::1" }),
      );
      assert.equal(d.reason, "quota_address");
      assert.ok(
        allowed(await g.send({ userId: "U-ipy", phoneE164: hkNumber("6300", 98), ip: "2001:db8:1:3::1" })),
      );
      await g.close();
    });

    test("per application, per country and per prefix: a wider limit says 'couldn't send', not 'too many codes'", async () => {
      await open({
        "sms.guard.perApplication.perWindow": 4,
        "sms.guard.perCountry.perWindow": 6,
        "sms.guard.perPrefix.perWindow": 2,
      });
      let i = 0;
      const from = (first4: string, app: string) =>
        g.send({
          userId: `U-w${i}`,
          phoneE164: hkNumber(first4, i),
          ip: `203.0.113.${i++}`,
          applicationId: app,
        });
      // Prefix +8526100: 2 fit, the third is refused for its prefix.
      assert.ok(allowed(await from("6100", "APP1")));
      assert.ok(allowed(await from("6100", "APP1")));
      const prefix = refused(await from("6100", "APP2"));
      assert.deepEqual([prefix.reason, prefix.userMessage], ["quota_prefix", "unavailable"]);
      // APP1 has 2; two more through it in other prefixes, then it is full.
      assert.ok(allowed(await from("6200", "APP1")));
      assert.ok(allowed(await from("6300", "APP1")));
      const app = refused(await from("6400", "APP1"));
      assert.deepEqual([app.reason, app.userMessage], ["quota_application", "unavailable"]);
      // The country has 4; APP2 brings it to 6, then HK is full for everyone.
      assert.ok(allowed(await from("6500", "APP2")));
      assert.ok(allowed(await from("6600", "APP2")));
      const country = refused(await from("6700", "APP2"));
      assert.deepEqual([country.reason, country.userMessage], ["quota_country", "unavailable"]);
      g.t.clock.advance(HOUR + 1);
      assert.ok(allowed(await from("6700", "APP2")), "an hour later the window has moved on");
      await g.close();
    });

    test("countries: only the organisation's own by default; others, invalid numbers and no country at all are refused", async () => {
      await open();
      for (const number of ["+447400123456", "+14155552671", "+80012345678"]) {
        const d = refused(await g.send({ userId: "U-c", phoneE164: number }));
        assert.deepEqual(
          [d.reason, d.userMessage, d.retryAt],
          ["country_not_allowed", "stopped", null],
          number,
        );
      }
      const bad = refused(await g.send({ userId: "U-c", phoneE164: "+85290000001" }));
      assert.equal(bad.reason, "country_not_allowed", "an unassigned HK range belongs to no country");
      assert.equal(refused(await g.send({ userId: "U-c", phoneE164: "12345" })).reason, "number_invalid");
      assert.ok(allowed(await g.send({ userId: "U-c", phoneE164: hkNumber("9400", 1) })));
      await g.close();

      await open({ "sms.guard.countries": ["HK", "GB"] });
      assert.ok(allowed(await g.send({ userId: "U-c", phoneE164: "+447400123456" })));
      await g.close();

      await open({ "organization.country": "" });
      assert.equal(
        refused(await g.send({ userId: "U-c", phoneE164: hkNumber("9400", 2) })).reason,
        "country_not_allowed",
      );
      await g.close();
    });

    test("spend cap: texts stop at the day's cap, operators are alerted once, the next day starts afresh", async () => {
      await open({
        "sms.guard.spend.prices": { HK: 0.05 },
        "sms.guard.spend.dailyCap": 0.2,
        "sms.guard.spend.dayUtcOffsetMinutes": 480,
      });
      // The test clock starts at 12:00 UTC = 20:00 in Hong Kong: the HK day ends at 16:00 UTC tomorrow... today.
      let i = 0;
      const next = () =>
        g.send({ userId: `U-s${i}`, phoneE164: hkNumber("5500", i), ip: `203.0.113.${i++}` });
      for (let k = 0; k < 4; k++) assert.ok(allowed(await next()));
      const capped = refused(await next());
      assert.deepEqual([capped.reason, capped.userMessage], ["spend_cap", "unavailable"]);
      assert.equal(capped.retryAt, Date.UTC(2026, 10, 22, 16, 0, 0), "midnight in Hong Kong");
      refused(await next());
      assert.deepEqual(
        g.alerts.map((a) => a.kind),
        ["sms.spend_cap_reached"],
        "one alert, however many texts are refused",
      );
      const audit = await g.services.listAudit({ limit: 50, order: "desc" });
      assert.equal(audit.filter((e) => e.action === "sms.spend_cap_reached").length, 1);
      const report = await g.services.readSmsReport();
      assert.equal(report.today.spent, 0.2);
      assert.equal(report.today.capReached, true);
      g.t.clock.set(capped.retryAt!);
      assert.ok(allowed(await next()), "a new spend day");
      await g.close();
    });

    test("a text the gateway finally failed gives back its quota and its cost, once", async () => {
      await open({ "sms.guard.spend.prices": { HK: 0.05 } });
      const ids: string[] = [];
      for (let k = 0; k < 3; k++) {
        const d = await g.send({ userId: "U-f", phoneE164: hkNumber("9500", k) });
        assert.ok(d.allow);
        ids.push(d.reservationId);
      }
      assert.equal(
        refused(await g.send({ userId: "U-f", phoneE164: hkNumber("9500", 9) })).reason,
        "quota_user",
      );
      await g.services.recordSmsFailed(ids[0]!, g.t.clock.now());
      await g.services.recordSmsFailed(ids[0]!, g.t.clock.now());
      let report = await g.services.readSmsReport();
      assert.equal(report.today.sent, 2);
      assert.equal(Math.round(report.today.spent * 100), 10);
      assert.equal(report.days.at(-1)?.failed, 1, "refunded once although reported twice");
      assert.ok(allowed(await g.send({ userId: "U-f", phoneE164: hkNumber("9500", 9) })));
      await g.services.recordSmsConverted(ids[1]!, g.t.clock.now());
      report = await g.services.readSmsReport();
      assert.equal(report.days.at(-1)?.typed, 1);
      await g.close();
    });

    test("stop SMS for a user or a number: refused with P13, resumed by the service desk, other methods untouched", async () => {
      await open();
      const totp = await enrollActiveTOTP(g.t, "carol");
      const carol = (await g.services.findUser("carol"))!;
      const number = hkNumber("9600", 1);
      const stop = await g.services.stopSms(ADMIN, { user: "CAROL" }, "reported pumping from her account");
      assert.equal(stop.subject, carol.id);
      const d = refused(await g.send({ userId: carol.id, phoneE164: number }));
      assert.deepEqual([d.reason, d.userMessage, d.retryAt], ["user_stopped", "stopped", null]);
      await assert.rejects(g.services.stopSms(ADMIN, { user: "carol" }, "again"), { code: "ERR_CONFLICT" });
      await assert.rejects(g.services.stopSms(ADMIN, { user: "carol" }, "  "), { code: "ERR_VALIDATION" });
      // Her authenticator app still logs her in: SMS refusals touch no lockout counter.
      const login = await g.services.verifyPasscode({ username: "carol", passcode: totp.codeAt() });
      assert.equal(login.result, "allow");
      assert.deepEqual(
        (await g.services.listUserLockouts("carol")).filter((l) => l.failures > 0),
        [],
      );
      await g.services.resumeSms(ADMIN, { user: carol.id });
      assert.ok(allowed(await g.send({ userId: carol.id, phoneE164: number })));

      const other = hkNumber("9600", 2);
      const numberStop = await g.services.stopSms(ADMIN, { number: other }, "toll fraud range");
      assert.equal(numberStop.subject, "+*******0002", "the number is shown masked");
      assert.equal(refused(await g.send({ userId: "U-x", phoneE164: other })).reason, "number_stopped");
      const report = await g.services.readSmsReport();
      assert.deepEqual(
        report.stops.map((s) => [s.scope, s.subject]),
        [["number", "+*******0002"]],
      );
      await g.services.resumeSms(ADMIN, { number: other });
      assert.ok(allowed(await g.send({ userId: "U-x", phoneE164: other })));
      await assert.rejects(g.services.resumeSms(ADMIN, { number: other }), { code: "ERR_NOT_FOUND" });
      // The audit trail names the stop and its reason, never the whole number (N1).
      const audit = await g.services.listAudit({ limit: 50, order: "desc" });
      const sms = audit.filter((e) => e.action.startsWith("sms."));
      assert.deepEqual(sms.map((e) => e.action).sort(), ["sms.resume", "sms.resume", "sms.stop", "sms.stop"]);
      assert.ok(!JSON.stringify(audit).includes("96000002"), "no number in clear in the audit trail");
      assert.ok(JSON.stringify(audit).includes("****0002"));
      await g.close();
    });

    test("many texts refused at the quota never count as failed logins (privacyIDEA #933)", async () => {
      await open();
      const totp = await enrollActiveTOTP(g.t, "dave");
      const dave = (await g.services.findUser("dave"))!;
      for (let k = 0; k < 30; k++) await g.send({ userId: dave.id, phoneE164: hkNumber("9700", 1) });
      assert.deepEqual(
        (await g.services.listUserLockouts("dave")).filter((l) => l.failures > 0),
        [],
      );
      assert.equal(
        (await g.services.verifyPasscode({ username: "dave", passcode: totp.codeAt() })).result,
        "allow",
      );
      await g.close();
    });
  });

  describe(`the conversion breaker on ${dialect}`, () => {
    // Room in the prefix's hourly quota, so the breaker rather than the quota is what stops the prefix.
    const PREFIX_ROOM = { "sms.guard.perPrefix.perWindow": 100 };
    let g: GuardContext;
    after(() => g?.close());

    /**
     * Legitimate traffic in prefixes +8526100… whose codes are typed, and untyped texts to prefix +8525123 from
     * one address each; then the texts settle.
     */
    async function pumpAndSettle(pumped: number) {
      for (let i = 0; i < 30; i++) {
        const d = await g.send({
          userId: `U-l${i}`,
          phoneE164: hkNumber(String(6100 + i), i),
          ip: `198.51.100.${i}`,
        });
        assert.ok(d.allow);
        if (i % 10 !== 0) await g.services.recordSmsConverted(d.reservationId, g.t.clock.now());
        g.t.clock.advance(MINUTE);
      }
      for (let i = 0; i < pumped; i++) {
        const d = await g.send({ userId: `U-p${i}`, phoneE164: hkNumber("5123", i), ip: `203.0.113.${i}` });
        assert.ok(d.allow, `pumped text ${i} goes out before the breaker has seen enough`);
        g.t.clock.advance(MINUTE);
      }
      g.t.clock.advance(6 * MINUTE);
    }

    test("a prefix whose codes go untyped is paused and operators are alerted; other prefixes still get codes", async () => {
      g = await createGuardContext(dialect, PREFIX_ROOM);
      await pumpAndSettle(10);
      const tripped = refused(
        await g.send({ userId: "U-p99", phoneE164: hkNumber("5123", 99), ip: "203.0.113.99" }),
      );
      assert.deepEqual([tripped.reason, tripped.userMessage], ["breaker_prefix", "unavailable"]);
      assert.equal(tripped.retryAt, g.t.clock.now() + 6 * HOUR, "paused for pauseSeconds (6 hours)");
      assert.deepEqual(
        g.alerts.map((a) => [a.kind, a.details["subject"]]),
        [["sms.breaker_tripped", "+8525123"]],
      );
      assert.match(g.alerts[0]!.message, /0% of 10 codes typed against a baseline of 90%/);
      assert.ok(
        allowed(await g.send({ userId: "U-l99", phoneE164: hkNumber("9800", 99), ip: "198.51.100.99" })),
      );
      const report = await g.services.readSmsReport();
      assert.deepEqual(
        report.breaker.paused.map((p) => [p.scope, p.subject, p.active]),
        [["prefix", "+8525123", true]],
      );
      assert.equal(report.blockedByReason["breaker_prefix"], 1);
      const audit = await g.services.listAudit({ limit: 20, order: "desc" });
      assert.equal(audit.filter((e) => e.action === "sms.breaker.tripped").length, 1);
      // An operator can end the pause early; the breaker then judges the prefix afresh (its old texts left out).
      await g.services.resumeSms(ADMIN, { prefix: "+852 5123" });
      assert.ok(
        allowed(await g.send({ userId: "U-p98", phoneE164: hkNumber("5123", 98), ip: "203.0.113.98" })),
      );
      await g.close();
    });

    test("the pause ends by itself after pauseSeconds", async () => {
      g = await createGuardContext(dialect, PREFIX_ROOM);
      await pumpAndSettle(10);
      const tripped = refused(
        await g.send({ userId: "U-p99", phoneE164: hkNumber("5123", 99), ip: "203.0.113.99" }),
      );
      g.t.clock.set(tripped.retryAt! - 1);
      assert.equal(
        refused(await g.send({ userId: "U-p98", phoneE164: hkNumber("5123", 98) })).reason,
        "breaker_prefix",
      );
      g.t.clock.set(tripped.retryAt!);
      assert.ok(allowed(await g.send({ userId: "U-p98", phoneE164: hkNumber("5123", 98) })));
      await g.close();
    });

    test("record-only mode acts on nothing: every text goes out, the trip is recorded and reported, nobody is alerted", async () => {
      g = await createGuardContext(dialect, {
        "sms.guard.breaker.prefix.mode": "record",
        "sms.guard.perPrefix.perWindow": 100,
      });
      await pumpAndSettle(10);
      for (let i = 0; i < 5; i++)
        assert.ok(
          allowed(
            await g.send({ userId: `U-q${i}`, phoneE164: hkNumber("5123", 50 + i), ip: `192.0.2.${i}` }),
          ),
        );
      assert.deepEqual(g.alerts, []);
      const report = await g.services.readSmsReport();
      assert.deepEqual(report.breaker.paused, []);
      assert.deepEqual(
        report.breaker.recorded.map((p) => [p.scope, p.subject, p.mode]),
        [["prefix", "+8525123", "record"]],
      );
      assert.equal(report.breaker.modes.prefix, "record");
      assert.deepEqual(report.blockedByReason, {});
      const audit = await g.services.listAudit({ limit: 20, order: "desc" });
      assert.deepEqual(
        audit.filter((e) => e.action.startsWith("sms.breaker")).map((e) => e.action),
        ["sms.breaker.recorded"],
      );
      await g.close();
    });

    test("too few settled texts, or a prefix whose codes are typed, never trip", async () => {
      g = await createGuardContext(dialect, PREFIX_ROOM);
      await pumpAndSettle(9);
      assert.ok(
        allowed(await g.send({ userId: "U-p99", phoneE164: hkNumber("5123", 99), ip: "203.0.113.99" })),
      );
      assert.deepEqual(g.alerts, []);
      await g.close();
    });
  });

  describe(`SMS records are bounded on ${dialect}`, () => {
    let g: GuardContext;
    before(async () => {
      g = await createGuardContext(dialect);
    });
    after(() => g.close());

    test("housekeeping deletes single texts after sendRetentionDays and ended pauses after historyDays", async () => {
      await g.send({ userId: "U-h", phoneE164: hkNumber("9800", 1) });
      const stop = await g.services.stopSms(ADMIN, { number: hkNumber("9800", 2) }, "test");
      await g.services.resumeSms(ADMIN, { id: stop.id });
      g.t.clock.advance(9 * DAY);
      const first = await g.services.pruneExpiredRows();
      assert.equal(first.steps.find((s) => s.name === "SMS sends")?.deleted, 1);
      assert.equal(first.steps.find((s) => s.name === "ended SMS stops")?.deleted, 0);
      g.t.clock.advance(400 * DAY);
      const second = await g.services.pruneExpiredRows();
      assert.equal(second.steps.find((s) => s.name === "ended SMS stops")?.deleted, 1);
      assert.equal(second.steps.find((s) => s.name === "SMS daily totals")?.deleted, 1);
    });
  });
}
