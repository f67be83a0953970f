// SMS pumping simulation (E3): 10,000 send attempts to 500 numbers under one prefix from 50 addresses over a day on a fake clock, beside legitimate users in other prefixes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dialects } from "../support/stores.ts";
import { createGuardContext, DAY, hkNumber, MINUTE } from "./support.ts";

const DIALECTS = await dialects();

const ATTEMPTS = 10_000;
const NUMBERS = 500;
const ADDRESSES = 50;
const LEGIT_USERS = 200;
const PRICE = 0.05;

interface Attempt {
  at: number;
  kind: "pumping" | "legitimate";
  userId: string;
  number: string;
  ip: string;
  /** Legitimate users type the code they get, a minute later (one in ten never does). */
  types: boolean;
}

/** The day's attempts in time order: the attack spread evenly, each legitimate user asking twice. */
function scenario(start: number): Attempt[] {
  const attempts: Attempt[] = [];
  for (let i = 0; i < ATTEMPTS; i++)
    attempts.push({
      at: start + Math.floor((i * DAY) / ATTEMPTS),
      kind: "pumping",
      // The attacker drives a few hundred accounts through phone verification, cycling the numbers and addresses.
      userId: `U-pump-${i % 250}`,
      number: hkNumber("5123", i % NUMBERS),
      ip: `203.0.113.${(i % ADDRESSES) + 1}`,
      types: false,
    });
  for (let u = 0; u < LEGIT_USERS; u++)
    for (const half of [0, 1])
      attempts.push({
        at: start + half * (DAY / 2) + Math.floor(((u * 7919) % LEGIT_USERS) * (DAY / 2 / LEGIT_USERS)) + 1,
        kind: "legitimate",
        userId: `U-staff-${u}`,
        // Other prefixes: +852 61xx, 62xx, … and 9xxx, one number per user.
        number: hkNumber(String(6100 + (u % 100)), u),
        ip: `198.51.${100 + Math.floor(u / 100)}.${u % 100}`,
        types: (u + half) % 10 !== 0,
      });
  return attempts.sort((a, b) => a.at - b.at);
}

for (const dialect of DIALECTS) {
  describe(`SMS pumping on ${dialect}`, () => {
    test("sends stay within every cap, spend within the daily cap, the breaker trips and alerts, other prefixes still get codes", async () => {
      const g = await createGuardContext(dialect, { "sms.guard.spend.prices": { HK: PRICE } });
      try {
        const cfg = g.t.config.sms.guard;
        const start = g.t.clock.now();
        const tally = {
          pumping: { attempts: 0, sent: 0, refused: {} as Record<string, number> },
          legitimate: { attempts: 0, sent: 0, refused: {} as Record<string, number> },
        };
        const pumpedSends: number[] = [];
        const pendingTypes: Array<{ at: number; id: string }> = [];
        for (const a of scenario(start)) {
          // Codes typed by now are recorded first, as the login that verifies them would.
          while (pendingTypes.length > 0 && pendingTypes[0]!.at <= a.at) {
            const typed = pendingTypes.shift()!;
            await g.services.recordSmsConverted(typed.id, typed.at);
          }
          g.t.clock.set(a.at);
          const t = tally[a.kind];
          t.attempts++;
          const d = await g.send({
            userId: a.userId,
            phoneE164: a.number,
            ip: a.ip,
            purpose: a.kind === "pumping" ? "phone_verification" : "passcode",
          });
          if (d.allow) {
            t.sent++;
            if (a.kind === "pumping") pumpedSends.push(a.at);
            if (a.types) pendingTypes.push({ at: a.at + MINUTE, id: d.reservationId });
          } else t.refused[d.reason] = (t.refused[d.reason] ?? 0) + 1;
        }

        const report = await g.services.readSmsReport({ days: 2 });
        const spent = report.days.reduce((s, d) => s + d.spent, 0);
        const rows = [
          ["", "attempts", "sent", "refused (by reason)"],
          ...(["pumping", "legitimate"] as const).map((k) => [
            k,
            String(tally[k].attempts),
            String(tally[k].sent),
            Object.entries(tally[k].refused)
              .sort((x, y) => y[1] - x[1])
              .map(([r, n]) => `${r} ${n}`)
              .join(", ") || "–",
          ]),
        ];
        console.log(`\nSMS pumping simulation on ${dialect} (defaults; HK at ${PRICE} a text):`);
        for (const r of rows) console.log(`| ${r.join(" | ")} |`);
        console.log(
          `spend ${spent.toFixed(2)} of the ${cfg.spend.dailyCap} daily cap; alerts: ${g.alerts.map((a) => `${a.kind} ${String(a.details["subject"] ?? "")}`).join("; ")}`,
        );

        // Every cap holds for the pumped prefix: per hour and per day.
        assert.ok(
          tally.pumping.sent <= cfg.perPrefix.perDay,
          `${tally.pumping.sent} ≤ ${cfg.perPrefix.perDay} a day`,
        );
        for (const at of pumpedSends) {
          const inHour = pumpedSends.filter(
            (t) => t > at - cfg.perPrefix.windowSeconds * 1000 && t <= at,
          ).length;
          assert.ok(inHour <= cfg.perPrefix.perWindow, "never more than the hourly prefix quota");
        }
        assert.ok(spent <= cfg.spend.dailyCap, "spend stays within the daily cap");
        // The breaker saw the prefix's codes go untyped, paused it and told operators.
        assert.ok((tally.pumping.refused["breaker_prefix"] ?? 0) > 0);
        const tripped = g.alerts.filter((a) => a.kind === "sms.breaker_tripped");
        assert.ok(tripped.some((a) => a.details["subject"] === "+8525123"));
        assert.ok(
          tripped.every((a) => a.details["scope"] !== "country"),
          "the home country itself is never blamed",
        );
        // Legitimate users in other prefixes got every code they asked for.
        assert.equal(
          tally.legitimate.sent,
          tally.legitimate.attempts,
          JSON.stringify(tally.legitimate.refused),
        );
        assert.equal(tally.pumping.attempts + tally.legitimate.attempts, ATTEMPTS + 2 * LEGIT_USERS);
      } finally {
        await g.close();
      }
    });
  });
}
