// SQLite's checkpoint thread (WAL_POLICY) is kept running: one that stops is told to the operator and started again,
// the writer never waits for a thread that is gone, and closing the store stops it for good.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { randomId } from "../../src/core/crypto/index.ts";
import type { AuthLogWrite, User } from "../../src/core/model.ts";
import { openStore } from "../../src/store/open-store.ts";

const T = 1_800_000_000_000;
const dir = mkdtempSync(join(tmpdir(), "twofold-checkpoint-thread-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(25);
  }
}

function line(userId: string, reason: string): AuthLogWrite {
  return {
    id: randomId("AL"),
    at: T,
    userId,
    username: "erin",
    applicationId: null,
    factor: "none",
    result: "deny",
    reason,
    ip: null,
    txid: randomId("TX"),
    node: "test",
  };
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
      const erin: User = {
        id: randomId("DU"),
        username: "erin",
        usernameCanonical: "erin",
        realName: null,
        email: null,
        phone: null,
        status: "active",
        passwordHash: null,
        notes: null,
        createdAt: T,
        updatedAt: T,
      };
      await store.insertUser(erin);
      // Commits never checkpoint: the database file grows only when the thread copies the WAL into it.
      const writeMany = (tag: string) =>
        store.transaction(async (tx) => {
          for (let i = 0; i < 2000; i++) await tx.appendAuthLog(line(erin.id, `${tag}-${i}`));
        });
      let size = statSync(file).size;
      await writeMany("first");
      await until("the first thread copied the WAL into the database", () => statSync(file).size > size);

      // The thread stops in the middle of emptying the WAL, with the writer told to wait for it.
      Atomics.store(checkpointer.flag, 0, 1);
      await checkpointer.worker!.terminate();
      const started = performance.now();
      await store.appendAuthLog(line(erin.id, "after the stop"));
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
