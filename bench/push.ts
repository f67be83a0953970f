// bench/push: push approval latency — from a device's answer until the waiting login wakes — with 1,000 and 10,000
// logins waiting, on SQLite and PostgreSQL (one process and two), beside a bare in-memory wake-up floor.
// Usage: npm run bench:push [-- --sample 400 --sizes 1000,10000 --idle 2 --databases sqlite,postgres]
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import BetterSqlite3 from "better-sqlite3";
import { sql } from "kysely";
import pg from "pg";
import { loadConfig } from "../src/config/load.ts";
import { generateP256Signer } from "../src/core/crypto/ecdsa.ts";
import { randomBytes, randomHex, randomId } from "../src/core/crypto/index.ts";
import type { PushStatus } from "../src/core/model.ts";
import { canonicalPushAnswer, type PushAnswer } from "../src/core/use-cases/push.ts";
import { createRuntime, type Runtime } from "../src/runtime/runtime.ts";
import type { KyselyStore } from "../src/store/kysely-store.ts";
import { createTestDatabase, type DialectName, PG_URL, postgresAvailable } from "../test/support/stores.ts";
import { type Latency, summarize } from "./support/stats.ts";

const { values } = parseArgs({
  options: {
    sample: { type: "string", default: "400" },
    sizes: { type: "string", default: "1000,10000" },
    idle: { type: "string", default: "2" },
    databases: { type: "string", default: "sqlite,postgres" },
    answerer: { type: "boolean", default: false },
  },
});
const SAMPLE = Number(values.sample);
const SIZES = values.sizes.split(",").map(Number);
const LARGEST = Math.max(...SIZES);
const IDLE_SECONDS = Number(values.idle);
const DATABASES = values.databases.split(",") as DialectName[];
/** Waiters re-read the store this rarely, so what is measured is the wake-up, not the poll. */
const LONG_POLL_MS = 600_000;
/** Pushes started at once while setting up (the pool queues the rest). */
const SETUP_CONCURRENCY = 16;
/** Waiters started (or stopped) together. */
const WAITER_BATCH = 500;
/** Answers under the default poll stop after this long: each may wait behind thousands of store reads. */
const DEFAULT_POLL_BUDGET_MS = 15_000;

// ---------------------------------------------------------------- time, statistics, the machine

/** CLOCK_MONOTONIC on Linux: one clock for every process on the machine, so a child's t0 compares with ours. */
const hr = () => process.hrtime.bigint();
const msBetween = (from: bigint, to: bigint) => Number(to - from) / 1e6;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fixed shuffle of 0..n-1 (mulberry32), so samples are spread over the waiting logins the same way each run. */
function permutation(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Busy and total jiffies of the whole machine (every process, postgres included); undefined off Linux. */
function machineJiffies(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync("/proc/stat", "utf8")
      .split("\n")[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - fields[3]! - fields[4]!, total };
  } catch {
    return undefined;
  }
}

function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return false;
  gc();
  gc();
  return true;
}

// ---------------------------------------------------------------- runtimes

function benchConfig(dialect: DialectName, location: string, key: string, node: string) {
  return loadConfig({
    env: {},
    overrides: {
      "node.name": node,
      "logging.level": "warn",
      "keys.encryption": [{ id: "bench", key }],
      ...(dialect === "sqlite" ? { "database.sqlitePath": location } : { "database.url": location }),
      // Every login stays pending for the whole run, and each user is pushed a few times in it.
      "policy.push.lifetimeSeconds": 600,
      "policy.push.ratePerWindow": 100,
      "policy.push.maxSinceSuccess": 1000,
    },
  });
}

type ChildMessage =
  | { kind: "ready" }
  | { kind: "answered"; t0: string; t1: string; status: PushStatus }
  | { kind: "failed"; error: string };
type ParentMessage =
  | { kind: "init"; schema: string; key: string }
  | { kind: "answer"; answer: PushAnswer }
  | { kind: "close" };

/** The second Twofold process: its own runtime (pool, LISTEN connection) on the same schema; answers on request. */
async function answererMain(): Promise<void> {
  const send = (m: ChildMessage) => process.send!(m);
  const [init] = (await once(process, "message")) as [ParentMessage];
  if (init.kind !== "init") throw new Error("answerer: expected init");
  const runtime = await createRuntime(benchConfig("postgres", PG_URL, init.key, "bench-answerer"), {
    schema: init.schema,
  });
  process.on("message", async (m: ParentMessage) => {
    if (m.kind === "answer") {
      const t0 = hr();
      try {
        const { status } = await runtime.services.answerPush(m.answer);
        send({ kind: "answered", t0: String(t0), t1: String(hr()), status });
      } catch (error) {
        send({ kind: "failed", error: String(error) });
      }
    } else if (m.kind === "close") {
      process.disconnect();
    }
  });
  // The bench process is gone (it failed or was stopped): do not linger on its database.
  process.on("disconnect", () => {
    runtime.close().finally(() => process.exit(0));
  });
  send({ kind: "ready" });
}

class RemoteAnswerer {
  private constructor(private readonly child: ChildProcess) {}

  static async start(schema: string, key: string): Promise<RemoteAnswerer> {
    const child = fork(fileURLToPath(import.meta.url), ["--answerer"], { execArgv: process.execArgv });
    child.send({ kind: "init", schema, key } satisfies ParentMessage);
    const [m] = (await once(child, "message")) as [ChildMessage];
    if (m.kind !== "ready") throw new Error("answerer did not start");
    return new RemoteAnswerer(child);
  }

  async answer(answer: PushAnswer): Promise<{ t0: bigint; t1: bigint; status: PushStatus }> {
    const reply = once(this.child, "message") as Promise<[ChildMessage]>;
    this.child.send({ kind: "answer", answer } satisfies ParentMessage);
    const [m] = await reply;
    if (m.kind !== "answered") throw new Error(`answerer: ${m.kind === "failed" ? m.error : m.kind}`);
    return { t0: BigInt(m.t0), t1: BigInt(m.t1), status: m.status };
  }

  async close(): Promise<void> {
    const exited = once(this.child, "exit");
    this.child.send({ kind: "close" } satisfies ParentMessage);
    await exited;
  }
}

// ---------------------------------------------------------------- the bench process

interface Row {
  scenario: string;
  waiting: number | null;
  /** Answers (or wake-ups, reads, notifications) timed. */
  count: number;
  /** Waiting logins and answers that ended in an error while this row was measured. */
  errors: number;
  latency: Latency;
  floor: Latency;
  answerP50: number | null;
  idle: Idle | null;
  memory: { heapPerPush: number; rssPerPush: number } | null;
}

interface Idle {
  readsPerSecond: number;
  /** This process's CPU time over wall time (1 = one core busy). */
  processCPU: number;
  /** Share of all cores busy, whatever runs there (the bench, PostgreSQL, anything else). */
  machineBusy: number | null;
}

interface Answered {
  answers: number;
  latency: Latency;
  answerP50: number | null;
}

interface Login {
  txid: string;
  code: string | null;
}

interface Waiter {
  controller: AbortController;
  done: Promise<{ status: PushStatus | "failed"; at: bigint }>;
}

type Signer = ReturnType<typeof generateP256Signer>;

/** 1. The floor: N pending promises keyed by id; resolve one, time until its awaiting continuation runs. */
async function measureFloor(n: number, sample: number[]): Promise<Latency> {
  const resolvers = new Map<number, () => void>();
  const woken = new Map<number, Promise<bigint>>();
  for (let i = 0; i < n; i++) {
    const pending = new Promise<void>((resolve) => resolvers.set(i, resolve));
    woken.set(
      i,
      (async () => {
        await pending;
        return hr();
      })(),
    );
  }
  const latencies: number[] = [];
  for (const i of sample) {
    const t0 = hr();
    resolvers.get(i)!();
    latencies.push(msBetween(t0, await woken.get(i)!));
  }
  return summarize(latencies);
}

/**
 * 1b. The store floor: one prepared UPDATE on SQLite (a file in WAL mode, synchronous = NORMAL, as Twofold opens it)
 * of one of N pending rows, then the wake-up of the one of N pending promises waiting for it: what an approval costs
 * at the least when it is a single conditional write on one node.
 */
async function measurePreparedUpdate(n: number, sample: number[]): Promise<Latency> {
  const dir = mkdtempSync(join(os.tmpdir(), "twofold-bench-push-floor-"));
  const db = new BetterSqlite3(join(dir, "floor.db"));
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.exec("create table pushes (id integer primary key, status text not null, answered_at integer)");
    const insert = db.prepare("insert into pushes (id, status) values (?, 'pending')");
    db.transaction(() => {
      for (let i = 0; i < n; i++) insert.run(i);
    })();
    const approve = db.prepare(
      "update pushes set status = 'approved', answered_at = ? where id = ? and status = 'pending'",
    );
    const resolvers = new Map<number, () => void>();
    const woken = new Map<number, Promise<bigint>>();
    for (let i = 0; i < n; i++) {
      const pending = new Promise<void>((resolve) => resolvers.set(i, resolve));
      woken.set(
        i,
        (async () => {
          await pending;
          return hr();
        })(),
      );
    }
    const latencies: number[] = [];
    for (const i of sample) {
      const t0 = hr();
      if (approve.run(Date.now(), i).changes !== 1) throw new Error("the floor's UPDATE changed nothing");
      resolvers.get(i)!();
      latencies.push(msBetween(t0, await woken.get(i)!));
    }
    return summarize(latencies);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A bare PostgreSQL NOTIFY from one connection to a LISTEN on another: the wake-up's own round trip. */
async function measureNotify(count: number): Promise<Latency> {
  const listener = new pg.Client({ connectionString: PG_URL });
  const sender = new pg.Client({ connectionString: PG_URL });
  await listener.connect();
  await sender.connect();
  try {
    const channel = `bench_${randomHex(4)}`;
    await listener.query(`LISTEN ${channel}`);
    let arrive: ((at: bigint) => void) | undefined;
    listener.on("notification", () => arrive?.(hr()));
    const latencies: number[] = [];
    for (let i = 0; i < count; i++) {
      const arrived = new Promise<bigint>((resolve) => {
        arrive = resolve;
      });
      const t0 = hr();
      await sender.query("select pg_notify($1, $2)", [channel, JSON.stringify({ t: randomHex(16) })]);
      latencies.push(msBetween(t0, await arrived));
    }
    return summarize(latencies);
  } finally {
    await listener.end();
    await sender.end();
  }
}

class PushBench {
  /** Times a waiter went to sleep; each follows one store read. */
  sleeps = 0;
  /** Waiting logins that ended in an error instead of a status. */
  readonly waiterErrors: string[] = [];
  /** Answers that ended in an error. */
  readonly answerErrors: string[] = [];
  /** While waiters start: the keys that have gone to sleep once (each after its first store read). */
  firstSleeps: Set<string> | undefined;
  readonly waiters = new Map<number, Waiter>();
  readonly logins = new Map<number, Login>();
  readonly deviceIds: string[] = [];

  constructor(
    readonly dialect: DialectName,
    readonly runtime: Runtime,
    readonly signers: Signer[],
  ) {
    // Count sleeps without changing them: the runtime's own wake-up hub, one counter in front.
    const events = runtime.pushEvents;
    const waitFor = events.waitFor.bind(events);
    events.waitFor = (key, ms, signal) => {
      this.sleeps++;
      this.firstSleeps?.add(key);
      return waitFor(key, ms, signal);
    };
  }

  static username(i: number): string {
    return `bench-${i}`;
  }

  /** Users with one active device each, written straight to the store in a few transactions (seconds, not minutes). */
  async createUsers(count: number): Promise<void> {
    const at = Date.now();
    for (let first = 0; first < count; first += 1000) {
      await this.runtime.store.transaction(async (tx) => {
        for (let i = first; i < Math.min(count, first + 1000); i++) {
          const userId = randomId("DU");
          const name = PushBench.username(i);
          await tx.insertUser({
            id: userId,
            username: name,
            usernameCanonical: name,
            realName: null,
            email: null,
            phone: null,
            status: "active",
            passwordHash: null,
            notes: null,
            createdAt: at,
            updatedAt: at,
          });
          const deviceId = randomId("DP");
          await tx.insertDevice({
            id: deviceId,
            userId,
            name: "Bench phone",
            publicKey: Buffer.from(this.signers[i]!.publicKeyRaw).toString("base64url"),
            deliverySealed: null,
            status: "active",
            otpCredentialId: null,
            createdAt: at,
            lastSeenAt: at,
          });
          this.deviceIds[i] = deviceId;
        }
      });
    }
  }

  /** Start a verified push for each user through startPush, as a login would. */
  async startPushes(users: number[]): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: SETUP_CONCURRENCY }, async () => {
        while (next < users.length) {
          const i = users[next++]!;
          const r = await this.runtime.services.startPush({
            username: PushBench.username(i),
            ip: "198.51.100.7",
            verified: true,
          });
          if (!r.started) throw new Error(`push for user ${i} not started: ${r.reason}`);
          this.logins.set(i, { txid: r.txid, code: r.code?.reveal() ?? null });
        }
      }),
    );
  }

  /** One waiting login per user (as the HTTP route does: its own AbortController); returns once all sleep. */
  async startWaiters(users: number[], pollMs: number | undefined): Promise<void> {
    // Logins arrive over time, in batches here: SQLite's driver wakes every queued query on each release,
    // so thousands of store reads issued at once cost quadratic time (see docs/benchmarks.md).
    // Polling waiters' batches are spread over one poll period, as logins arriving over a second would be.
    const spacing =
      pollMs === undefined
        ? this.runtime.pushEvents.fallbackPollMs / Math.ceil(users.length / WAITER_BATCH)
        : 0;
    for (let first = 0; first < users.length; first += WAITER_BATCH) {
      const batch = users.slice(first, first + WAITER_BATCH);
      const batchStart = hr();
      const asleep = new Set<string>();
      this.firstSleeps = asleep;
      for (const i of batch) {
        const controller = new AbortController();
        const done = this.runtime.services
          .waitForPush(this.logins.get(i)!.txid, {
            timeoutMs: 600_000,
            signal: controller.signal,
            ...(pollMs === undefined ? {} : { pollMs }),
          })
          .then(
            (status) => ({ status, at: hr() }),
            (error: unknown) => {
              // A waiting login that fails (the store's pool timing out) is counted, not fatal to the run.
              this.waiterErrors.push(String(error instanceof Error ? error.message : error));
              asleep.add(`failed:${i}`);
              return { status: "failed" as const, at: hr() };
            },
          );
        this.waiters.set(i, { controller, done });
      }
      while (asleep.size < batch.length || msBetween(batchStart, hr()) < spacing) await delay(2);
    }
    this.firstSleeps = undefined;
  }

  async stopWaiters(): Promise<void> {
    const waiters = [...this.waiters.values()];
    for (let first = 0; first < waiters.length; first += WAITER_BATCH) {
      const batch = waiters.slice(first, first + WAITER_BATCH);
      for (const w of batch) w.controller.abort();
      await Promise.all(batch.map((w) => w.done));
    }
    this.waiters.clear();
  }

  /** The answered users get a new push and a new waiter, so N stay waiting. */
  async topUp(users: number[], pollMs: number | undefined): Promise<void> {
    await this.startPushes(users);
    await this.startWaiters(users, pollMs);
  }

  /** The device's signed approval (signed outside the timed part: the phone does that, not the server). */
  answerFor(i: number): PushAnswer {
    const login = this.logins.get(i)!;
    const timestamp = Date.now();
    const fields = { txid: login.txid, decision: "approve" as const, code: login.code ?? "", timestamp };
    const signature = Buffer.from(this.signers[i]!.sign(canonicalPushAnswer(fields))).toString("base64url");
    return { ...fields, deviceId: this.deviceIds[i]!, signature };
  }

  /** 2. Answer in this process, one at a time: from just before answerPush until that login's waitForPush returns. */
  async answerHere(sample: number[], budgetMs = Number.POSITIVE_INFINITY): Promise<Answered> {
    const total: number[] = [];
    const answering: number[] = [];
    const start = hr();
    for (const i of sample) {
      if (msBetween(start, hr()) > budgetMs) break;
      const answer = this.answerFor(i);
      const t0 = hr();
      let status: PushStatus;
      try {
        ({ status } = await this.runtime.services.answerPush(answer));
      } catch (error) {
        // Under overload an answer can fail too (the pool's connection timeout): counted, not timed.
        this.answerErrors.push(String(error instanceof Error ? error.message : error));
        continue;
      }
      const t1 = hr();
      const woke = await this.waiters.get(i)!.done;
      if (woke.status === "failed") continue;
      if (status !== "approved" || woke.status !== "approved")
        throw new Error(`user ${i}: answered ${status}, login saw ${woke.status}`);
      total.push(msBetween(t0, woke.at));
      answering.push(msBetween(t0, t1));
    }
    return { answers: total.length, latency: summarize(total), answerP50: summarize(answering).p50 };
  }

  /** 3. The same, answered by another process; its t0 is on the same monotonic clock. */
  async answerThere(remote: RemoteAnswerer, sample: number[]): Promise<Answered> {
    const total: number[] = [];
    const answering: number[] = [];
    for (const i of sample) {
      const r = await remote.answer(this.answerFor(i));
      const woke = await this.waiters.get(i)!.done;
      if (r.status !== "approved" || woke.status !== "approved")
        throw new Error(`user ${i}: answered ${r.status}, login saw ${woke.status}`);
      total.push(msBetween(r.t0, woke.at));
      answering.push(msBetween(r.t0, r.t1));
    }
    return { answers: total.length, latency: summarize(total), answerP50: summarize(answering).p50 };
  }

  /** What N waiting logins cost while nothing happens: store reads per second and CPU. */
  async measureIdle(): Promise<Idle> {
    const sleeps0 = this.sleeps;
    const cpu0 = process.cpuUsage();
    const machine0 = machineJiffies();
    const t0 = hr();
    await delay(IDLE_SECONDS * 1000);
    const seconds = msBetween(t0, hr()) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const machine1 = machineJiffies();
    return {
      readsPerSecond: (this.sleeps - sleeps0) / seconds,
      processCPU: (cpu.user + cpu.system) / 1e6 / seconds,
      machineBusy:
        machine0 && machine1 ? (machine1.busy - machine0.busy) / (machine1.total - machine0.total) : null,
    };
  }

  /** One store read of a push, as the waiter does after each wake-up. */
  async measureStoreRead(sample: number[]): Promise<Latency> {
    const latencies: number[] = [];
    for (const i of sample) {
      const t0 = hr();
      await this.runtime.store.getPushTransaction(this.logins.get(i)!.txid);
      latencies.push(msBetween(t0, hr()));
    }
    return summarize(latencies);
  }

  /** Every push still pending ends (a time far ahead is "now" for the sweep), so the next size starts clean. */
  async expireAll(): Promise<void> {
    await this.runtime.store.expirePushTransactions(Date.now() + 3_600_000);
    this.logins.clear();
  }
}

async function benchDialect(
  dialect: DialectName,
  signers: Signer[],
  floors: Map<number, Latency>,
): Promise<{ rows: Row[]; version: string }> {
  const db = await createTestDatabase(dialect);
  const key = Buffer.from(randomBytes(32)).toString("base64");
  const runtime = await createRuntime(benchConfig(dialect, db.location, key, "bench"), {
    ...(db.schema ? { schema: db.schema } : {}),
  });
  let remote: RemoteAnswerer | undefined;
  const rows: Row[] = [];
  try {
    const version =
      dialect === "sqlite"
        ? `SQLite ${(await sql<{ v: string }>`select sqlite_version() as v`.execute((runtime.store as KyselyStore).kysely)).rows[0]?.v}`
        : `PostgreSQL ${await pgVersion()}`;
    const bench = new PushBench(dialect, runtime, signers);
    await progress(`${dialect}: ${LARGEST} users with a device each`, () => bench.createUsers(LARGEST));
    if (dialect === "postgres") remote = await RemoteAnswerer.start(db.schema!, key);

    for (const n of SIZES) {
      const parts = remote ? 3 : 2;
      const s = Math.min(SAMPLE, Math.floor(n / parts));
      const order = permutation(n, n);
      // Disjoint samples, in the order they are used: here, there (PostgreSQL only), under the default poll.
      const take = (k: number) => order.slice(k * s, (k + 1) * s);
      const here = take(0);
      const there = remote ? take(1) : [];
      const polled = take(remote ? 2 : 1);
      const all = Array.from({ length: n }, (_, i) => i);
      const floor = floors.get(n)!;
      let errorsSeen = 0;
      const errorsSince = () => {
        const now = bench.waiterErrors.length + bench.answerErrors.length;
        const fresh = now - errorsSeen;
        errorsSeen = now;
        return fresh;
      };
      errorsSince();
      const row = (scenario: string, r: Answered, extra: Partial<Row> = {}): Row => ({
        scenario: `${dialect}: ${scenario}`,
        waiting: n,
        count: r.answers,
        errors: errorsSince(),
        latency: r.latency,
        floor,
        answerP50: r.answerP50,
        idle: null,
        memory: null,
        ...extra,
      });

      await progress(`${dialect}: ${n} pushes started`, () => bench.startPushes(all));
      // 4. Memory per waiting login, at the largest size: after a forced GC, before and after the waiters.
      const measureMemory = n === LARGEST && collectGarbage();
      const before = process.memoryUsage();
      await progress(`${dialect}: ${n} waiters asleep`, () => bench.startWaiters(all, LONG_POLL_MS));
      collectGarbage();
      const after = process.memoryUsage();
      const memory = measureMemory
        ? { heapPerPush: (after.heapUsed - before.heapUsed) / n, rssPerPush: (after.rss - before.rss) / n }
        : null;
      const idle = await bench.measureIdle();
      const local = await progress(`${dialect}: ${s} answers, one process`, () => bench.answerHere(here));
      rows.push(row("answerPush → waitForPush returns, one process", local, { idle, memory }));
      await bench.topUp(here, LONG_POLL_MS);
      if (n === LARGEST) {
        const read = await bench.measureStoreRead(here);
        rows.push(
          row("one store read (getPushTransaction), for comparison", {
            answers: here.length,
            latency: read,
            answerP50: null,
          }),
        );
        if (dialect === "postgres") {
          const notify = { answers: s, latency: await measureNotify(s), answerP50: null };
          rows.push(row("bare NOTIFY → LISTEN on another connection, for comparison", notify));
        }
      }
      if (remote) {
        const r = await progress(`${dialect}: ${s} answers, two processes`, () =>
          bench.answerThere(remote!, there),
        );
        rows.push(row("answerPush → waitForPush returns, two processes", r));
        await bench.topUp(there, LONG_POLL_MS);
      }
      // The waiters as they run by default: a store read per waiter every fallbackPollMs (±20 %) besides wake-ups.
      // Answers queue behind those reads, so this part has a time budget instead of a fixed sample.
      await bench.stopWaiters();
      await progress(`${dialect}: ${n} waiters polling by default`, () => bench.startWaiters(all, undefined));
      const polledIdle = await bench.measureIdle();
      const r = await progress(`${dialect}: answers under the default poll`, () =>
        bench.answerHere(polled, DEFAULT_POLL_BUDGET_MS),
      );
      rows.push(
        row(
          `answerPush → waitForPush returns, one process, default ${bench.runtime.pushEvents.fallbackPollMs / 1000} s poll`,
          r,
          { idle: polledIdle },
        ),
      );
      await progress(`${dialect}: waiters stopped`, () => bench.stopWaiters());
      await bench.expireAll();
    }
    const errors = new Map<string, number>();
    for (const e of [...bench.waiterErrors, ...bench.answerErrors]) errors.set(e, (errors.get(e) ?? 0) + 1);
    for (const [message, count] of errors) console.error(`  ${dialect}: ${count} × ${message}`);
    return { rows, version };
  } finally {
    await remote?.close();
    await runtime.close();
    await db.drop();
  }
}

/** Run a setup step, telling stderr how long it took (the table goes to stdout). */
async function progress<T>(what: string, step: () => Promise<T>): Promise<T> {
  const t0 = hr();
  const result = await step();
  console.error(`  ${what}: ${(msBetween(t0, hr()) / 1000).toFixed(1)} s`);
  return result;
}

async function pgVersion(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_URL });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>("show server_version");
    return rows[0]?.server_version.split(" ")[0];
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

async function benchMain(): Promise<void> {
  const started = hr();
  if (!collectGarbage())
    console.error("no --expose-gc: the memory columns are missing (npm run bench:push sets it)");
  // Device keys are generated once and used on both databases (a few seconds for 10,000).
  const signers = Array.from({ length: LARGEST }, () => generateP256Signer());
  const floors = new Map<number, Latency>();
  const floorSample = (n: number) => Math.min(SAMPLE, n);
  for (const n of SIZES) floors.set(n, await measureFloor(n, permutation(n, n).slice(0, floorSample(n))));
  const rows: Row[] = SIZES.map((n) => ({
    scenario: "floor: resolve one of N pending promises in a Map",
    waiting: n,
    count: floorSample(n),
    errors: 0,
    latency: floors.get(n)!,
    floor: floors.get(n)!,
    answerP50: null,
    idle: null,
    memory: null,
  }));
  const updateFloors = new Map<number, Latency>();
  for (const n of SIZES) {
    updateFloors.set(n, await measurePreparedUpdate(n, permutation(n, n).slice(0, floorSample(n))));
    rows.push({
      scenario: "floor: one prepared SQLite UPDATE of N pending rows + wake-up",
      waiting: n,
      count: floorSample(n),
      errors: 0,
      latency: updateFloors.get(n)!,
      floor: floors.get(n)!,
      answerP50: null,
      idle: null,
      memory: null,
    });
  }
  const versions: string[] = [];
  for (const dialect of DATABASES) {
    if (dialect === "postgres" && !(await postgresAvailable())) {
      console.error("PostgreSQL unreachable: its rows are missing");
      continue;
    }
    const r = await benchDialect(dialect, signers, floors);
    rows.push(...r.rows);
    versions.push(r.version);
  }

  const cpus = os.cpus();
  // Sub-0.1 ms figures (the floor) keep four decimals; the rest two.
  const f = (n: number) => n.toFixed(n < 0.1 ? 4 : 2);
  const ratio = (a: number, b: number) => `${Math.round(a / b)}×`;
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
  console.log(
    `\nbench/push — ${cpus[0]?.model.trim() ?? "?"}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
      `node ${process.version}, ${versions.join(", ")}; answers one at a time; ` +
      `run ${(msBetween(started, hr()) / 1000).toFixed(0)} s\n`,
  );
  console.log(
    "| scenario | waiting | timed | errors | p50 ms | p99 ms | p50 ÷ floor | p99 ÷ floor | answerPush p50 ms | idle store reads/s | idle CPU: bench / machine | heap per waiting push | RSS per waiting push |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    const isFloor = r.scenario.startsWith("floor");
    console.log(
      [
        "",
        r.scenario,
        r.waiting === null ? "–" : r.waiting.toLocaleString("en-US"),
        String(r.count),
        String(r.errors),
        f(r.latency.p50),
        f(r.latency.p99),
        isFloor ? "1×" : ratio(r.latency.p50, r.floor.p50),
        isFloor ? "1×" : ratio(r.latency.p99, r.floor.p99),
        r.answerP50 === null ? "–" : f(r.answerP50),
        r.idle ? r.idle.readsPerSecond.toFixed(0) : "–",
        r.idle
          ? `${(r.idle.processCPU * 100).toFixed(0)} % / ${r.idle.machineBusy === null ? "?" : (r.idle.machineBusy * 100).toFixed(0)} %`
          : "–",
        r.memory ? kib(r.memory.heapPerPush) : "–",
        r.memory ? kib(r.memory.rssPerPush) : "–",
        "",
      ]
        .join(" | ")
        .trim(),
    );
  }
  console.log(
    "\nApproval against the store floor (one prepared SQLite UPDATE + wake-up, same N, same run):\n",
  );
  console.log("| scenario | waiting | p99 ms | floor p99 ms | p99 ÷ UPDATE + wake-up |");
  console.log("|---|---:|---:|---:|---:|");
  for (const r of rows) {
    if (!r.scenario.includes("answerPush") || r.waiting === null) continue;
    const floor = updateFloors.get(r.waiting)!;
    console.log(
      `| ${r.scenario} | ${r.waiting.toLocaleString("en-US")} | ${f(r.latency.p99)} | ${f(floor.p99)} | ${(r.latency.p99 / floor.p99).toFixed(1)}× |`,
    );
  }
}

if (values.answerer) await answererMain();
else await benchMain();
