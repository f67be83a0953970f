// L-2: expired pushes, activation links, enrolments, replay records and old log entries are deleted; tables stay bounded.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { randomHex, randomId } from "../../src/core/crypto/index.ts";
import type { OTPCredential, PushTransaction } from "../../src/core/model.ts";
import { startHousekeeping } from "../../src/runtime/housekeeping.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import type { KyselyStore } from "../../src/store/kysely-store.ts";
import { openStore } from "../../src/store/open-store.ts";
import { createSandbox } from "../cli/helpers.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { dialects } from "../support/stores.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ADMIN = { name: "test-admin" };

type Table =
  | "push_transactions"
  | "device_activations"
  | "otp_credentials"
  | "signed_requests"
  | "auth_log"
  | "notifications";
const TABLES: readonly Table[] = [
  "push_transactions",
  "device_activations",
  "otp_credentials",
  "signed_requests",
  "auth_log",
  "notifications",
];

async function count(store: KyselyStore, table: Table): Promise<number> {
  const row = await store.kysely
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function push(
  userId: string,
  createdAt: number,
  lifetime: number,
  status: PushTransaction["status"],
): PushTransaction {
  return {
    id: randomHex(16),
    userId,
    applicationId: null,
    status,
    codeHash: null,
    context: { application: "VPN", time: createdAt, ip: null, place: null, info: null },
    createdAt,
    expiresAt: createdAt + lifetime,
    answeredAt: status === "pending" ? null : createdAt + 5000,
    deviceId: null,
  };
}

function enrolment(
  userId: string,
  createdAt: number,
  status: "pending" | "active",
  expiresAt: number,
): OTPCredential {
  return {
    id: randomId("DT"),
    kind: "app",
    serial: null,
    userId,
    type: "totp",
    algorithm: "SHA1",
    digits: 6,
    period: 30,
    secretSealed: "sealed",
    counter: 0,
    lastStep: null,
    drift: 0,
    status,
    label: null,
    manufacturer: null,
    model: null,
    createdAt,
    activatedAt: status === "active" ? createdAt : null,
    pendingExpiresAt: status === "pending" ? expiresAt : null,
    assignedAt: null,
  };
}

/** What one simulated hour of use adds (a small site's logins, scaled down so both databases run it quickly). */
const PER_STEP = { pushes: 6, activations: 2, enrolments: 2, replays: 5, authLog: 4, notifications: 2 };

for (const dialect of await dialects()) {
  describe(`housekeeping on ${dialect}`, () => {
    let t: TestContext | undefined;
    after(() => t?.close());

    test("ten simulated days: every table stays bounded, live rows survive", async () => {
      t = await createTestContext(dialect, {
        "housekeeping.batchSize": 25,
        "housekeeping.graceSeconds": 3600,
        "housekeeping.pushRetentionSeconds": 2 * 86400,
        "housekeeping.authLogRetentionDays": 3,
      });
      const { store, clock, services } = t;
      const user = await services.createUser(ADMIN, { username: "ursula" });
      // Confirmed long ago: housekeeping must never touch a credential in use.
      const active = enrolment(user.id, clock.now(), "active", 0);
      await store.insertOTPCredentials([active]);
      const lifetime = t.config.policy.push.lifetimeSeconds * 1000;
      const activationTTL = t.config.policy.push.activationSeconds * 1000;
      const enrolmentTTL = t.config.policy.totp.enrollmentTtlSeconds * 1000;
      const stepMs = 2 * HOUR;
      const steps = (10 * DAY) / stepMs;
      const created: Record<Table, number> = {
        push_transactions: 0,
        device_activations: 0,
        otp_credentials: 1,
        signed_requests: 0,
        auth_log: 0,
        notifications: 0,
      };
      const peak: Record<Table, number> = { ...created };
      for (let i = 0; i < steps; i++) {
        const now = clock.now();
        for (let k = 0; k < PER_STEP.pushes; k++)
          await store.insertPushTransaction(
            push(user.id, now, lifetime, k % 3 === 0 ? "pending" : "approved"),
          );
        for (let k = 0; k < PER_STEP.activations; k++)
          await store.insertDeviceActivation({
            id: randomHex(8),
            userId: user.id,
            secretHash: randomHex(16),
            createdAt: now,
            expiresAt: now + activationTTL,
            usedAt: k === 0 ? now + 1000 : null,
          });
        await store.insertOTPCredentials(
          Array.from({ length: PER_STEP.enrolments }, () =>
            enrolment(user.id, now, "pending", now + enrolmentTTL),
          ),
        );
        for (let k = 0; k < PER_STEP.replays; k++)
          await store.claimSignedRequest(randomHex(32), now + 5 * MINUTE, now);
        for (let k = 0; k < PER_STEP.authLog; k++)
          await store.appendAuthLog({
            id: randomHex(10),
            at: now,
            userId: user.id,
            username: "ursula",
            applicationId: null,
            factor: "totp",
            // Denials: allows are written by the completion gate alone, and retention treats both alike.
            result: "deny",
            reason: "invalid_passcode",
            ip: null,
            txid: randomHex(16),
            node: "test-node",
          });
        created.push_transactions += PER_STEP.pushes;
        created.device_activations += PER_STEP.activations;
        created.otp_credentials += PER_STEP.enrolments;
        created.signed_requests += PER_STEP.replays;
        for (let k = 0; k < PER_STEP.notifications; k++)
          await store.enqueueNotification({
            id: randomId("DN"),
            userId: user.id,
            kind: "locked-out",
            payload: { factorClass: "otp" },
            createdAt: now,
            sentAt: null,
          });
        created.auth_log += PER_STEP.authLog;
        created.notifications += PER_STEP.notifications;
        clock.advance(stepMs);
        // The largest a table gets: just before the job runs.
        for (const table of TABLES) peak[table] = Math.max(peak[table], await count(store, table));
        await services.pruneExpiredRows();
      }

      // A row lives until its expiry plus its retention, and the job runs once a step: at most this many steps'
      // worth of rows can be in a table at once, however long the simulation runs.
      const live = (ttl: number, retention: number) => Math.ceil((ttl + retention) / stepMs) + 1;
      const bound: Record<Table, number> = {
        push_transactions: PER_STEP.pushes * live(lifetime, 2 * DAY),
        device_activations: PER_STEP.activations * live(activationTTL, HOUR),
        otp_credentials: 1 + PER_STEP.enrolments * live(enrolmentTTL, HOUR),
        signed_requests: PER_STEP.replays * live(5 * MINUTE, HOUR),
        auth_log: PER_STEP.authLog * live(0, 3 * DAY),
        notifications: PER_STEP.notifications * live(0, 3 * DAY),
      };
      const figures = TABLES.map(
        (table) => `${table}: ${created[table]} written, peak ${peak[table]} (bound ${bound[table]})`,
      );
      console.log(`# ${dialect}, 10 simulated days, pruned every 2 h:\n#   ${figures.join("\n#   ")}`);
      for (const table of TABLES) {
        assert.ok(peak[table] <= bound[table], `${table}: peak ${peak[table]} > bound ${bound[table]}`);
        assert.ok(
          peak[table] * 3 < created[table],
          `${table} did not shrink: ${peak[table]} of ${created[table]}`,
        );
      }

      // Rows still in use survive a run; rows just past their retention do not.
      const now = clock.now();
      const pending = push(user.id, now, lifetime, "pending");
      const dayOld = push(user.id, now - DAY, lifetime, "denied"); // still counted by push-fatigue limits
      // A backlog (the job was off for a while) goes in batches of housekeeping.batchSize (25), not one statement.
      const backlog = Array.from({ length: 60 }, () => push(user.id, now - 3 * DAY, lifetime, "approved"));
      for (const p of [pending, dayOld, ...backlog]) await store.insertPushTransaction(p);
      const ticket = await services.createDeviceActivation(ADMIN, "ursula");
      const enrolling = await services.enrollTOTP(ADMIN, "ursula");
      await store.claimSignedRequest("fresh-digest", now + 5 * MINUTE, now);
      await store.claimSignedRequest("in-grace-digest", now - 30 * MINUTE, now - 35 * MINUTE);
      const report = await services.pruneExpiredRows();
      assert.deepEqual(
        report.steps.find((s) => s.name === "pushes"),
        { name: "pushes", deleted: 60, batches: 3, cutoff: now - 2 * DAY },
      );
      assert.ok(await store.getPushTransaction(pending.id), "a pending push survives");
      assert.ok(await store.getPushTransaction(dayOld.id), "a push from yesterday survives (fatigue limits)");
      assert.equal(
        await store.getPushTransaction(backlog[0]!.id),
        undefined,
        "a push past its retention is gone",
      );
      assert.ok(await store.getDeviceActivation(ticket.activationId), "a fresh activation link survives");
      assert.equal((await store.getOTPCredential(enrolling.credentialId))?.status, "pending");
      assert.equal((await store.getOTPCredential(active.id))?.status, "active", "confirmed credentials stay");
      assert.equal(
        await store.claimSignedRequest("fresh-digest", now + 5 * MINUTE, now),
        false,
        "replay still refused",
      );
      const { entries } = await store.listAuthLog({
        minTime: 0,
        maxTime: now + 1,
        limit: 1000,
        order: "asc",
      });
      assert.ok(entries.length > 0);
      assert.ok(entries[0]!.at >= now - 3 * DAY, "nothing older than the log's retention");
      assert.ok(
        entries.some((e) => e.at < now - 2 * DAY),
        "entries inside the retention stay",
      );
    });
  });
}

test("the authentication log is kept forever with authLogRetentionDays 0", async () => {
  const t = await createTestContext("sqlite", { "housekeeping.authLogRetentionDays": 0 });
  try {
    await t.store.appendAuthLog({
      id: "old-entry",
      at: t.clock.now() - 3650 * DAY,
      userId: null,
      username: "x",
      applicationId: null,
      factor: "totp",
      result: "deny",
      reason: "unknown_user",
      ip: null,
      txid: "tx",
      node: "n",
    });
    const report = await t.services.pruneExpiredRows();
    assert.deepEqual(
      report.steps.find((s) => s.name === "authentication log"),
      {
        name: "authentication log",
        deleted: 0,
        batches: 0,
        cutoff: null,
      },
    );
    assert.ok(await t.store.findAuthLogByTxid("tx"));
  } finally {
    await t.close();
  }
});

test("the scheduler runs the job repeatedly, one run at a time, and stop waits for a run in progress", async () => {
  let runs = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  const schedule = startHousekeeping({
    intervalSeconds: 0.05,
    logger: createLogger({ level: "silent", node: "n" }),
    run: async () => {
      runs++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await new Promise((r) => setTimeout(r, 80));
      concurrent--;
      return { steps: [], deleted: 0 };
    },
  });
  await new Promise((r) => setTimeout(r, 1600));
  await schedule.stop();
  const after = runs;
  assert.ok(runs >= 3, `ran ${runs} times`);
  assert.equal(maxConcurrent, 1);
  assert.equal(concurrent, 0, "stop waited for the run");
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(runs, after, "no run after stop");
});

test("twofold db prune deletes expired rows once and reports them", async () => {
  const box = createSandbox();
  try {
    assert.equal((await box.run(["user", "add", "vera"])).code, 0);
    const { store } = await openStore({ sqlitePath: box.sqlitePath, backgroundCheckpoints: false });
    try {
      const user = (await store.findUserByIdentifier("vera"))!;
      const longAgo = Date.now() - 30 * DAY;
      for (let i = 0; i < 3; i++)
        await store.insertPushTransaction(push(user.id, longAgo, MINUTE, "expired"));
      await store.insertPushTransaction(push(user.id, Date.now(), 10 * MINUTE, "pending"));
      await store.claimSignedRequest("old", longAgo, longAgo - 1);
    } finally {
      await store.close();
    }
    const report = await box.json<{ deleted: number; steps: { name: string; deleted: number }[] }>([
      "db",
      "prune",
    ]);
    assert.equal(report.deleted, 4);
    assert.equal(report.steps.find((s) => s.name === "pushes")?.deleted, 3);
    assert.equal(report.steps.find((s) => s.name === "replay records")?.deleted, 1);
    const human = await box.run(["db", "prune"]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^0 expired rows deleted$/m);
  } finally {
    box.cleanup();
  }
});

for (const dialect of await dialects()) {
  test(`login-throttle counters go once no sliding window reads them (${dialect})`, async () => {
    const t = await createTestContext(dialect);
    try {
      const source = { application: { id: "app-throttled" }, ip: "192.0.2.7", peer: "198.51.100.1" };
      for (let i = 0; i < 3; i++) await t.services.countFailedLogin(source);
      const step = async () =>
        (await t.services.pruneExpiredRows()).steps.find((s) => s.name === "login throttle counters");
      assert.equal((await step())?.deleted, 0, "the counters are still read");
      // Defaults: 15-minute window, 1-hour enrolment window; counters go after twice the longest.
      t.clock.advance(2 * HOUR + MINUTE);
      assert.equal((await step())?.deleted, 3, "one row each for the integration, the address and the peer");
      assert.equal((await t.services.checkLoginThrottle(source)).allowed, true);
    } finally {
      await t.close();
    }
  });
}
