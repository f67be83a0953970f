// One scheduler per serving node: retention, the outbox and the loan desk's reminders run as its jobs, each on its own interval, never overlapping itself; a running server sends what is queued with no other timer.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import { serverJobs, startScheduler } from "../../src/runtime/housekeeping.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "../http/support.ts";
import { TestSMTPServer } from "../support/smtp.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("jobs run independently: a slow one never overlaps itself nor holds up a fast one; stop waits for both", async () => {
  const runs = { slow: 0, fast: 0 };
  let slowActive = 0;
  let slowOverlap = false;
  const scheduler = startScheduler(
    [
      {
        name: "slow",
        intervalMs: 50,
        firstRun: "interval",
        run: async () => {
          slowActive++;
          if (slowActive > 1) slowOverlap = true;
          runs.slow++;
          await sleep(400);
          slowActive--;
        },
      },
      {
        name: "fast",
        intervalMs: 50,
        firstRun: "interval",
        run: async () => {
          runs.fast++;
          if (runs.fast === 3) throw new Error("a failing run is retried at the next interval");
        },
      },
    ],
    createLogger({ level: "silent", node: "n" }),
  );
  await sleep(1300);
  await scheduler.stop();
  assert.equal(slowOverlap, false);
  assert.equal(slowActive, 0, "stop waited for the slow run");
  assert.ok(runs.slow >= 2 && runs.slow <= 4, `slow ran ${runs.slow} times`);
  assert.ok(runs.fast >= 8, `fast ran ${runs.fast} times while slow was busy`);
  const after = { ...runs };
  await sleep(200);
  assert.deepEqual(runs, after, "nothing runs after stop");
});

test("a serving node's jobs follow its configuration", async () => {
  const smtp = new TestSMTPServer();
  await smtp.start();
  let t: HTTPTestContext | undefined;
  let server: RunningServer | undefined;
  try {
    t = await createTestRuntime({
      overrides: {
        "mail.from": "it@example.edu",
        "mail.smtp.host": "127.0.0.1",
        "mail.smtp.port": smtp.port,
        "mail.smtp.requireTLS": false,
        "sms.outbox.pollSeconds": 1,
      },
    });
    assert.deepEqual(
      serverJobs(t.runtime).map((j) => j.name),
      ["prune", "token-loan reminders", "outbox"],
    );
    assert.deepEqual(
      serverJobs({
        ...t.runtime,
        config: { ...t.runtime.config, housekeeping: { ...t.runtime.config.housekeeping, enabled: false } },
      }).map((j) => j.name),
      ["outbox"],
    );
    // The running server drains the outbox on its scheduler: nothing else is asked to send.
    server = await startServer(t.runtime);
    await t.runtime.services.createUser(ADMIN, { username: "ed", email: "ed@example.edu" });
    await t.runtime.services.issueBypassCodes(ADMIN, "ed", { count: 1 });
    const deadline = Date.now() + 15_000;
    while (smtp.received.length === 0) {
      assert.ok(Date.now() < deadline, "the scheduler's outbox job sent the e-mail");
      await sleep(50);
    }
    assert.equal(smtp.received[0]?.subject, "A bypass code was issued for your account");
  } finally {
    await server?.close();
    await t?.close();
    await smtp.stop();
  }
});
