// Concurrency at the SMS limits (E3): requests racing at a quota or at the spend cap never both pass, on one node and on two sharing PostgreSQL.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LocalPushEvents } from "../../src/adapters/events/local-push-events.ts";
import type { OperatorAlert } from "../../src/core/ports.ts";
import { createServices } from "../../src/core/services.ts";
import type { SmsSendDecision } from "../../src/core/use-cases/sms-guard.ts";
import { dialects } from "../support/stores.ts";
import { createGuardContext, hkNumber } from "./support.ts";

const DIALECTS = await dialects();
const allows = (ds: SmsSendDecision[]) => ds.filter((d) => d.allow).length;

for (const dialect of DIALECTS) {
  describe(`SMS limits under concurrency on ${dialect}`, () => {
    test("50 requests at once for one user: exactly 3 texts (the 10-minute quota)", async () => {
      const g = await createGuardContext(dialect);
      try {
        const ds = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            g.send({ userId: "U-race", phoneE164: hkNumber(String(6100 + i), i), ip: `198.51.100.${i}` }),
          ),
        );
        assert.equal(allows(ds), 3);
        assert.ok(ds.filter((d) => !d.allow).every((d) => !d.allow && d.reason === "quota_user"));
        assert.equal((await g.services.readSmsReport()).today.sent, 3);
      } finally {
        await g.close();
      }
    });

    test("30 requests at once against a spend cap worth 5 texts: exactly 5, one alert", async () => {
      const g = await createGuardContext(dialect, {
        "sms.guard.spend.prices": { HK: 0.05 },
        "sms.guard.spend.dailyCap": 0.25,
      });
      try {
        const ds = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            g.send({ userId: `U-c${i}`, phoneE164: hkNumber(String(6100 + i), i), ip: `198.51.100.${i}` }),
          ),
        );
        assert.equal(allows(ds), 5);
        assert.equal((await g.services.readSmsReport()).today.spent, 0.25);
        assert.deepEqual(
          g.alerts.map((a) => a.kind),
          ["sms.spend_cap_reached"],
        );
      } finally {
        await g.close();
      }
    });

    // Several nodes share PostgreSQL; an SQLite database has one node.
    if (dialect !== "postgres") return;
    test("two nodes on one database, 40 requests at once to one prefix: exactly its 10 an hour", async () => {
      const g = await createGuardContext(dialect);
      const other = await g.t.db.open();
      try {
        const alerts: OperatorAlert[] = [];
        const nodeB = createServices({
          store: other,
          keyring: g.t.keyring,
          clock: g.t.clock,
          config: g.t.config,
          nodeName: "node-b",
          pushEvents: new LocalPushEvents(),
          alerts: { raise: (a) => alerts.push(a) },
        });
        const ds = await Promise.all(
          Array.from({ length: 40 }, (_, i) => {
            const request = {
              userId: `U-n${i}`,
              phoneE164: hkNumber("5123", i),
              ip: `203.0.113.${i}`,
              applicationId: "APP",
              purpose: "passcode" as const,
              now: g.t.clock.now(),
            };
            return i % 2 === 0 ? g.services.decideSmsSend(request) : nodeB.decideSmsSend(request);
          }),
        );
        assert.equal(allows(ds), 10);
        assert.ok(ds.filter((d) => !d.allow).every((d) => !d.allow && d.reason === "quota_prefix"));
      } finally {
        await other.close();
        await g.close();
      }
    });
  });
}
