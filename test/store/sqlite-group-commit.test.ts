// SQLite transactions that arrive together commit together: each still commits or rolls back as a whole, none is
// reported committed before it is on disk for every other connection, and the WAL stays bounded under steady writes.
// The checkpoint thread is kept running: one that stops is told and started again, the writer never waits for a
// thread that is gone, and a store left open does not keep the process alive.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { randomId } from "../../src/core/crypto/index.ts";
import type { AuthLogWrite, User } from "../../src/core/model.ts";
import type { KyselyStore } from "../../src/store/kysely-store.ts";
import { openStore, WAL_POLICY } from "../../src/store/open-store.ts";

const T = 1_800_000_000_000;
const dir = mkdtempSync(join(tmpdir(), "twofold-group-commit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function user(name: string): User {
  return {
    id: randomId("DU"),
    username: name,
    usernameCanonical: name,
    realName: null,
    email: null,
    phone: null,
    status: "active",
    passwordHash: null,
    notes: null,
    createdAt: T,
    updatedAt: T,
  };
}

function denial(userId: string, reason: string, username = "x"): AuthLogWrite {
  return {
    id: randomId("AL"),
    at: T,
    userId,
    username,
    applicationId: null,
    factor: "none",
    result: "deny",
    reason,
    ip: null,
    txid: randomId("TX"),
    node: "test",
  };
}

describe("SQLite group commit", () => {
  test("of many transactions started together, the one that fails is undone alone and the rest commit", async () => {
    const file = join(dir, "atomic.db");
    const { store } = await openStore({ sqlitePath: file, backgroundCheckpoints: false });
    try {
      const alice = user("alice");
      await store.insertUser(alice);
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          store.transaction(async (tx) => {
            await tx.appendAuthLog(denial(alice.id, `first-${i}`));
            await tx.appendAuthLog(denial(alice.id, `second-${i}`));
            if (i % 10 === 3) throw new Error(`transaction ${i} gives up`);
            return i;
          }),
        ),
      );
      const failed = results.flatMap((r, i) => (r.status === "rejected" ? [i] : []));
      assert.deepEqual(failed, [3, 13, 23, 33]);
      // Read by another connection: what the store reported committed is there, and only that.
      const other = new BetterSqlite3(file, { readonly: true });
      try {
        const reasons = new Set(
          (other.prepare("select reason from auth_log").all() as Array<{ reason: string }>).map(
            (r) => r.reason,
          ),
        );
        for (let i = 0; i < 40; i++) {
          const expected = !failed.includes(i);
          assert.equal(reasons.has(`first-${i}`), expected, `first write of transaction ${i}`);
          assert.equal(reasons.has(`second-${i}`), expected, `second write of transaction ${i}`);
        }
        assert.equal(reasons.size, 72);
      } finally {
        other.close();
      }
    } finally {
      await store.close();
    }
  });

  test("single writes outside a transaction share the group without savepoints: one that fails takes nothing else with it", async () => {
    const file = join(dir, "single.db");
    const { store } = await openStore({ sqlitePath: file, backgroundCheckpoints: false });
    try {
      const alice = user("alice");
      await store.insertUser(alice);
      const taken = denial(alice.id, "taken");
      await store.appendAuthLog(taken);
      // Forty writes at once: single inserts (every fifth reuses an id already in the log: a constraint error) and
      // two-statement transactions, all in the same groups.
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          i % 2 === 0
            ? store.appendAuthLog(
                i % 5 === 0 ? { ...taken, reason: `dup-${i}` } : denial(alice.id, `single-${i}`),
              )
            : store.transaction(async (tx) => {
                await tx.appendAuthLog(denial(alice.id, `first-${i}`));
                await tx.appendAuthLog(denial(alice.id, `second-${i}`));
              }),
        ),
      );
      const failed = results.flatMap((r, i) => (r.status === "rejected" ? [i] : []));
      assert.deepEqual(failed, [0, 10, 20, 30]);
      const other = new BetterSqlite3(file, { readonly: true });
      try {
        const reasons = (other.prepare("select reason from auth_log").all() as Array<{ reason: string }>).map(
          (r) => r.reason,
        );
        assert.equal(reasons.filter((r) => r.startsWith("dup-")).length, 0);
        assert.equal(reasons.filter((r) => r.startsWith("single-")).length, 16);
        assert.equal(reasons.filter((r) => r.startsWith("first-") || r.startsWith("second-")).length, 40);
        assert.equal(reasons.length, 1 + 16 + 40);
      } finally {
        other.close();
      }
    } finally {
      await store.close();
    }
  });

  test("a transaction without a savepoint that fails after writing takes its whole group with it, and only that group", async () => {
    const file = join(dir, "group-undo.db");
    const { store } = await openStore({ sqlitePath: file, backgroundCheckpoints: false });
    const kysely = store as unknown as KyselyStore;
    try {
      const dave = user("dave");
      await store.insertUser(dave);
      const write = (reason: string, fail = false) =>
        kysely.transaction(async (tx) => {
          await tx.appendAuthLog(denial(dave.id, reason));
          if (fail) throw new Error(`${reason} fails after its write`);
          return reason;
        }, "group");
      // Started together, so grouped together: a savepoint transaction, a lone write and writes without savepoints,
      // one of which fails after its write. Nothing of the group so far may stay, or be reported committed; the
      // write queued after the failure starts the next group.
      const first = await Promise.allSettled([
        store.transaction(async (tx) => {
          await tx.appendAuthLog(denial(dave.id, "savepoint-before"));
        }),
        store.appendAuthLog(denial(dave.id, "lone-before")),
        write("group-before"),
        write("group-fails", true),
        write("group-after"),
      ]);
      assert.deepEqual(
        first.map((r) => r.status),
        ["rejected", "rejected", "rejected", "rejected", "fulfilled"],
      );
      // The failed one hears its own reason; the others that their transaction was undone with the group.
      const reasonOf = (r: PromiseSettledResult<unknown>) => {
        const error = (r as PromiseRejectedResult).reason as { cause?: { message?: string } };
        return String(error.cause?.message ?? error);
      };
      assert.match(reasonOf(first[3]!), /group-fails fails after its write/);
      for (const i of [0, 1, 2])
        assert.match(reasonOf(first[i]!), /rolled back with its group/, `transaction ${i}`);
      // The next group is untouched: a write without a savepoint that wrote nothing and returned is no failure.
      const second = await Promise.all([
        write("group-ok"),
        kysely.transaction(async () => "wrote nothing", "group"),
        store.appendAuthLog(denial(dave.id, "lone-ok")),
      ]);
      assert.deepEqual(second, ["group-ok", "wrote nothing", undefined]);
      const other = new BetterSqlite3(file, { readonly: true });
      try {
        const reasons = (
          other.prepare("select reason from auth_log order by reason").all() as Array<{ reason: string }>
        ).map((r) => r.reason);
        assert.deepEqual(reasons, ["group-after", "group-ok", "lone-ok"]);
      } finally {
        other.close();
      }
    } finally {
      await store.close();
    }
  });

  test("a transaction is reported committed only once another connection can read it", async () => {
    const file = join(dir, "visible.db");
    const { store } = await openStore({ sqlitePath: file, backgroundCheckpoints: false });
    const other = new BetterSqlite3(file, { readonly: true });
    try {
      const bob = user("bob");
      await store.insertUser(bob);
      const count = other.prepare("select count(*) as n from auth_log where user_id = ?").pluck();
      await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          store
            .transaction(async (tx) => {
              await tx.appendAuthLog(denial(bob.id, `seen-${i}`));
            })
            .then(() => {
              // Checked the moment the caller hears of it, before anything else runs.
              const seen = other.prepare("select 1 from auth_log where reason = ?").get(`seen-${i}`);
              assert.ok(seen, `transaction ${i} was reported before another connection could read it`);
            }),
        ),
      );
      assert.equal(count.get(bob.id), 25);
    } finally {
      other.close();
      await store.close();
    }
  });

  test("writes outside a transaction and reads between transactions never land inside another's transaction", async () => {
    const file = join(dir, "interleave.db");
    const { store } = await openStore({ sqlitePath: file, backgroundCheckpoints: false });
    try {
      const carol = user("carol");
      await store.insertUser(carol);
      // A transaction that is rolled back while lone writes (the replay records) and reads run beside it.
      const rolledBack = store.transaction(async (tx) => {
        await tx.appendAuthLog(denial(carol.id, "inside"));
        await new Promise((resolve) => setTimeout(resolve, 30));
        throw new Error("undo");
      });
      const lone = Array.from({ length: 20 }, (_, i) =>
        store.claimSignedRequest(`digest-${i}`, T + 60_000, T),
      );
      const reads = Array.from({ length: 20 }, () => store.getUser(carol.id));
      await assert.rejects(
        rolledBack,
        (error: Error) => (error.cause as Error | undefined)?.message === "undo",
      );
      assert.deepEqual(await Promise.all(lone), Array(20).fill(true));
      assert.ok((await Promise.all(reads)).every((u) => u?.id === carol.id));
      const other = new BetterSqlite3(file, { readonly: true });
      try {
        assert.equal(other.prepare("select count(*) from signed_requests").pluck().get(), 20);
        assert.equal(other.prepare("select count(*) from auth_log where reason = 'inside'").pluck().get(), 0);
      } finally {
        other.close();
      }
    } finally {
      await store.close();
    }
  });

  test("the WAL stays bounded under steady writes, and shrinks back once they stop", async () => {
    const file = join(dir, "wal.db");
    const { store } = await openStore({ sqlitePath: file });
    const walSize = () => statSync(`${file}-wal`).size;
    try {
      const dave = user("dave");
      await store.insertUser(dave);
      const padding = "p".repeat(2000);
      let largest = 0;
      let written = 0;
      // Three times the bound goes through the WAL, for at least a second.
      const until = performance.now() + Math.max(1000, 3 * WAL_POLICY.intervalMs);
      while (performance.now() < until || written < 3 * WAL_POLICY.truncateBytes) {
        await Promise.all(
          Array.from({ length: 50 }, () =>
            store.transaction(async (tx) => {
              await tx.appendAuthLog(denial(dave.id, "padding", padding));
            }),
          ),
        );
        written += 50 * padding.length;
        largest = Math.max(largest, walSize());
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.ok(
        largest <= 64 * 2 ** 20,
        `the WAL reached ${(largest / 2 ** 20).toFixed(1)} MiB while ${(written / 2 ** 20).toFixed(1)} MiB was written`,
      );
      // Once writes stop, the next checkpoints empty it (the deadline: a few intervals).
      const deadline = performance.now() + 5000;
      while (walSize() > WAL_POLICY.truncateBytes && performance.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(
        walSize() <= WAL_POLICY.truncateBytes,
        `the WAL is still ${(walSize() / 2 ** 20).toFixed(1)} MiB after the writes stopped`,
      );
    } finally {
      await store.close();
    }
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(25);
  }
}

describe("SQLite checkpoint thread", () => {
  test("a thread that stops is told and started again, and the writer does not wait for it meanwhile", async () => {
    const file = join(dir, "restart.db");
    const warnings: Array<{ message: string; detail: Record<string, unknown> }> = [];
    const { store, checkpointer } = await openStore({
      sqlitePath: file,
      onWarning: (message, detail) => warnings.push({ message, detail }),
    });
    assert.ok(checkpointer, "a file database has a checkpoint thread");
    try {
      const erin = user("erin");
      await store.insertUser(erin);
      // Commits never checkpoint: the database file grows only when the thread copies the WAL into it.
      const writeMany = (tag: string) =>
        store.transaction(async (tx) => {
          for (let i = 0; i < 2000; i++) await tx.appendAuthLog(denial(erin.id, `${tag}-${i}`));
        });
      let size = statSync(file).size;
      await writeMany("first");
      await until("the first thread copied the WAL into the database", () => statSync(file).size > size);

      // The thread stops in the middle of emptying the WAL, with the writer told to wait for it.
      Atomics.store(checkpointer.flag, 0, 1);
      await checkpointer.worker!.terminate();
      const started = performance.now();
      await store.appendAuthLog(denial(erin.id, "after the stop"));
      const waited = performance.now() - started;
      assert.ok(waited < 1_000, `the writer waited ${Math.round(waited)} ms for a thread that was gone`);
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0]!.message, /checkpoint thread stopped; it starts again/);
      assert.equal(warnings[0]!.detail["restartInMs"], 1_000);

      await until(
        "a new thread started",
        () => checkpointer.starts === 2 && checkpointer.worker !== undefined,
      );
      size = statSync(file).size;
      await writeMany("second");
      await until("the new thread copied the WAL into the database", () => statSync(file).size > size);
    } finally {
      await store.close();
    }
    // Closed: stopped for good, and not reported as a failure.
    await sleep(1_200);
    assert.equal(checkpointer.starts, 2);
    assert.equal(checkpointer.worker, undefined);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
  });

  test("a store left open does not keep the process alive", () => {
    // A program (a script, a maintenance command) that opens the store and ends without closing it.
    const script = join(dir, "left-open.mjs");
    writeFileSync(
      script,
      `import { openStore } from ${JSON.stringify(new URL("../../src/store/open-store.ts", import.meta.url).href)};
const { checkpointer } = await openStore({ sqlitePath: ${JSON.stringify(join(dir, "left-open.db"))} });
console.log(checkpointer ? "thread running" : "no thread");
`,
    );
    const r = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.signal, null, "the process had to be killed: the checkpoint thread kept it alive");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "thread running");
  });
});
