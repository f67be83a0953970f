// Concurrency threats (B1, C4, F-8, F-9): one-time values used by many requests at once, on one node and on two.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Worker } from "node:worker_threads";
import { LocalPushEvents } from "../../src/adapters/events/local-push-events.ts";
import { randomBytes } from "../../src/core/crypto/index.ts";
import { createServices } from "../../src/core/services.ts";
import type { PasscodeOutcome } from "../../src/core/use-cases/verify-passcode.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, assignHOTPToken, enrollActiveTOTP } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

const allows = (rs: PasscodeOutcome[]) => rs.filter((r) => r.result === "allow").length;

for (const dialect of await dialects()) {
  describe(`concurrent passcode use on ${dialect}`, () => {
    let t: TestContext;
    before(async () => {
      t = await createTestContext(dialect);
    });
    after(() => t.close());

    test("the same TOTP code submitted 100 times at once succeeds exactly once", async () => {
      const app = await enrollActiveTOTP(t, "t-race");
      const code = app.codeAt();
      const rs = await Promise.all(
        Array.from({ length: 100 }, () => t.services.verifyPasscode({ username: "t-race", passcode: code })),
      );
      assert.equal(allows(rs), 1);
    });

    test("the same hardware-token HOTP code submitted 50 times at once succeeds exactly once", async () => {
      const token = await assignHOTPToken(t, "h-race", "RACE-1", randomBytes(20));
      const code = token.codeAt(3);
      const rs = await Promise.all(
        Array.from({ length: 50 }, () => t.services.verifyPasscode({ username: "h-race", passcode: code })),
      );
      assert.equal(allows(rs), 1);
      assert.equal(rs.find((r) => r.result === "allow")?.factor, "token");
    });

    for (const [uses, expected] of [
      [20, 20],
      [3, 3],
      [1, 1],
    ] as const) {
      test(`64 concurrent uses of a bypass code with ${uses} uses left give exactly ${expected} successes`, async () => {
        const username = `b-race-${uses}`;
        await t.services.createUser(ADMIN, { username });
        const issued = await t.services.issueBypassCodes(ADMIN, username, { uses });
        const code = issued.codes.reveal()[0]!;
        const rs = await Promise.all(
          Array.from({ length: 64 }, () => t.services.verifyPasscode({ username, passcode: code })),
        );
        assert.equal(allows(rs), expected);
        const left = rs
          .filter((r) => r.result === "allow")
          .map((r) => (r.result === "allow" ? r.usesLeft : -1));
        assert.deepEqual(
          [...left].sort((a, b) => (a ?? 0) - (b ?? 0)),
          Array.from({ length: expected }, (_, i) => i),
        );
        const [record] = await t.services.listBypassCodes(username);
        assert.equal(record?.usesLeft, 0);
      });
    }

    test("the same rescue code submitted 20 times at once succeeds exactly once", async () => {
      await t.services.createUser(ADMIN, { username: "r-race" });
      const { codes } = await t.services.generateRescueCodes(ADMIN, "r-race");
      const code = codes.reveal()[3]!;
      const rs = await Promise.all(
        Array.from({ length: 20 }, () => t.services.verifyPasscode({ username: "r-race", passcode: code })),
      );
      assert.equal(allows(rs), 1);
    });

    test("one user logging in to two applications at once: both succeed (L-5)", async () => {
      await t.services.createUser(ADMIN, { username: "two-apps" });
      const { codes } = await t.services.issueBypassCodes(ADMIN, "two-apps", { count: 2, uses: 1 });
      const [a, b] = codes.reveal();
      const rs = await Promise.all([
        t.services.verifyPasscode({ username: "two-apps", passcode: a }),
        t.services.verifyPasscode({ username: "two-apps", passcode: b }),
      ]);
      assert.equal(allows(rs), 2);
    });

    if (dialect === "postgres") {
      test("two nodes on one PostgreSQL: a 20-use bypass code raced 64 times gives exactly 20", async () => {
        // A second node: its own connection pool and services over the same schema.
        const nodeB = await t.db.open();
        try {
          const servicesB = createServices({
            store: nodeB,
            keyring: t.keyring,
            clock: t.clock,
            config: t.config,
            nodeName: "node-b",
            pushEvents: new LocalPushEvents(),
          });
          for (let round = 0; round < 5; round++) {
            const username = `two-node-${round}`;
            await t.services.createUser(ADMIN, { username });
            const code = (
              await t.services.issueBypassCodes(ADMIN, username, { uses: 20 })
            ).codes.reveal()[0]!;
            const rs = await Promise.all(
              Array.from({ length: 64 }, (_, i) =>
                (i % 2 ? servicesB : t.services).verifyPasscode({ username, passcode: code }),
              ),
            );
            assert.equal(allows(rs), 20, `round ${round}`);
          }
          const app = await enrollActiveTOTP(t, "two-node-totp");
          const code = app.codeAt();
          const rs = await Promise.all(
            Array.from({ length: 100 }, (_, i) =>
              (i % 2 ? servicesB : t.services).verifyPasscode({ username: "two-node-totp", passcode: code }),
            ),
          );
          assert.equal(allows(rs), 1);
        } finally {
          await nodeB.close();
        }
      });
    } else {
      test("three threads with their own connections to one SQLite file: a 20-use bypass code raced 96 times gives exactly 20", async () => {
        const workers = await Promise.all(
          [0, 1, 2].map(
            () =>
              new Promise<Worker>((resolve, reject) => {
                // Workers do not inherit tsx's loader, so the entry registers it, then loads the TypeScript module.
                const entry = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.resolve("../support/sqlite-node-worker.ts"))}); })`;
                const w = new Worker(entry, {
                  eval: true,
                  workerData: { file: t.db.location, key: t.keyringKey, now: t.clock.now() },
                });
                w.once("message", () => resolve(w));
                w.once("error", reject);
              }),
          ),
        );
        try {
          for (let round = 0; round < 3; round++) {
            const username = `threads-${round}`;
            await t.services.createUser(ADMIN, { username });
            const passcode = (
              await t.services.issueBypassCodes(ADMIN, username, { uses: 20 })
            ).codes.reveal()[0]!;
            const answers = await Promise.all(
              workers.map(
                (w) =>
                  new Promise<string[]>((resolve) => {
                    w.once("message", resolve);
                    w.postMessage({ username, passcode, count: 32 });
                  }),
              ),
            );
            assert.equal(answers.flat().filter((r) => r === "allow").length, 20, `round ${round}`);
          }
        } finally {
          for (const w of workers) w.postMessage("close");
          await Promise.all(workers.map((w) => new Promise((r) => w.once("exit", r))));
        }
      });
    }
  });
}
