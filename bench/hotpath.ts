// bench/hotpath: the verification hot path against its floors, as same-run ratios: signed Auth API passcode
// verifications on SQLite beside bare Fastify (closed loop and open loop), the WAL after sustained load, the passcode
// use case on PostgreSQL beside a raw `pg` compare-and-set, with statements, round trips and commits counted, and the
// authentication log checked against the requests answered (no lost writes).
// Usage: npm run bench:hotpath [-- --sections closed,open,wal,pg --seconds 3 --connections 64 --rate 1000
//        --rates 250,500,1000,1500,2000,3000 --wal-seconds 20 --pg-seconds 3 --pg-connections 8]
import { type ChildProcess, fork } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import { Session } from "node:inspector/promises";
import os from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { sign } from "@duosecurity/duo_api/lib/duo_sig.js";
import fastify, { type FastifyInstance } from "fastify";
import { sql } from "kysely";
import pg from "pg";
import { loadConfig } from "../src/config/load.ts";
import type { Application } from "../src/core/model.ts";
import { type RunningServer, startServer } from "../src/http/server.ts";
import { createLogger, logDestination } from "../src/runtime/logger.ts";
import { createRuntime, type Runtime } from "../src/runtime/runtime.ts";
import type { KyselyStore } from "../src/store/kysely-store.ts";
import { createTestDatabase, PG_URL, postgresAvailable } from "../test/support/stores.ts";
import { countSqliteStatements } from "./support/sqlite-count.ts";

const { values } = parseArgs({
  options: {
    sections: { type: "string", default: "closed,open,wal,pg" },
    seconds: { type: "string", default: "3" },
    warmup: { type: "string", default: "1" },
    connections: { type: "string", default: "64" },
    rate: { type: "string", default: "1000" },
    rates: { type: "string", default: "100,200,300,500,750,1000,1500,2000,3000,4000" },
    "open-seconds": { type: "string", default: "4" },
    "wal-seconds": { type: "string", default: "20" },
    "pg-seconds": { type: "string", default: "3" },
    "pg-connections": { type: "string", default: "8" },
    users: { type: "string", default: "1024" },
    repeat: { type: "string", default: "3" },
    profile: { type: "string" },
    "heap-profile": { type: "string" },
    "statement-times": { type: "boolean", default: false },
    load: { type: "boolean", default: false },
  },
});
const SECTIONS = new Set(values.sections.split(","));
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const CONNECTIONS = Number(values.connections);
const RATE = Number(values.rate);
const RATES = values.rates.split(",").map(Number);
const OPEN_SECONDS = Number(values["open-seconds"]);
const WAL_SECONDS = Number(values["wal-seconds"]);
const PG_SECONDS = Number(values["pg-seconds"]);
const PG_CONNECTIONS = Number(values["pg-connections"]);
const USERS = Number(values.users);
const REPEAT = Number(values.repeat);
const ADMIN = { name: "bench" };
/** An open-loop rate "passes" while its p99 stays at or below this. */
const CAPACITY_P99_MS = 100;

type Scenario = "bare" | "allow";

interface BenchUser {
  username: string;
  secretHex: string;
}

type ToLoad =
  | { kind: "setup"; ikey: string; skey: string; users: BenchUser[] }
  | { kind: "closed"; scenario: Scenario; port: number; connections: number; seconds: number; warmup: number }
  | { kind: "open"; scenario: Scenario; port: number; rate: number; seconds: number }
  | { kind: "close" };

interface LoadResult {
  /** Answers in the timed part. */
  timed: number;
  /** Every answer, warm-up included: each allow wrote one authentication-log row. */
  answered: number;
  seconds: number;
  p50: number;
  p99: number;
  /** Open loop: requests that could not be sent on time because every user had one in flight. */
  late?: number;
}

type FromLoad =
  | { kind: "ready" }
  | { kind: "result"; result: LoadResult }
  | { kind: "failed"; error: string };

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function generateHOTP(key: Buffer, counter: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

// ---------------------------------------------------------------- the load generator (a child process)

function send(
  agent: http.Agent,
  o: { port: number; method: string; path: string; headers: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { agent, host: "127.0.0.1", port: o.port, method: o.method, path: o.path },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    for (const [name, value] of Object.entries(o.headers)) request.setHeader(name, value);
    request.end(o.body);
  });
}

interface LoadUser {
  username: string;
  key: Buffer;
  counter: number;
}

async function loadMain(): Promise<void> {
  const reply = (m: FromLoad) => process.send!(m);
  let setup: Extract<ToLoad, { kind: "setup" }> | undefined;
  let users: LoadUser[] = [];

  type Request = {
    port: number;
    method: string;
    path: string;
    headers: Record<string, string>;
    body?: string;
  };
  const request = (scenario: Scenario, port: number, u: LoadUser): Request => {
    if (scenario === "bare")
      return {
        port,
        method: "POST",
        path: "/echo",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: u.username, passcode: "123456" }),
      };
    const host = `127.0.0.1:${port}`;
    const date = new Date().toUTCString();
    const params = { username: u.username, factor: "passcode", passcode: generateHOTP(u.key, u.counter) };
    const path = "/auth/v2/auth";
    return {
      port,
      method: "POST",
      path,
      headers: {
        Host: host,
        Date: date,
        Authorization: sign(setup!.ikey, setup!.skey, "POST", host, path, params, date),
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams(params).toString(),
    };
  };

  /** One request for `u`, checked: 200 and the expected answer, or the bench stops. */
  const one = async (agent: http.Agent, scenario: Scenario, port: number, u: LoadUser) => {
    const { status, body } = await send(agent, request(scenario, port, u));
    let parsed: { stat?: string; ok?: boolean; response?: { result?: string } };
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = {};
    }
    const expected = scenario === "bare" ? parsed.ok === true : parsed.response?.result === "allow";
    if (status !== 200 || !expected) throw new Error(`${scenario} (${u.username}): got ${status} ${body}`);
    if (scenario === "allow") u.counter++;
  };

  const closed = async (m: Extract<ToLoad, { kind: "closed" }>): Promise<LoadResult> => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: m.connections });
    const latencies: number[] = [];
    let answered = 0;
    const start = performance.now();
    const measureFrom = start + m.warmup * 1000;
    const deadline = measureFrom + m.seconds * 1000;
    try {
      // Loop j owns users j, j + connections, …: one request in flight per user, so HOTP codes arrive in order.
      await Promise.all(
        Array.from({ length: m.connections }, async (_, j) => {
          const mine = users.filter((_, i) => i % m.connections === j);
          for (let turn = 0; performance.now() < deadline; turn++) {
            const t0 = performance.now();
            await one(agent, m.scenario, m.port, mine[turn % mine.length]!);
            const t1 = performance.now();
            answered++;
            if (t0 >= measureFrom && t1 <= deadline) latencies.push(t1 - t0);
          }
        }),
      );
    } finally {
      agent.destroy();
    }
    latencies.sort((a, b) => a - b);
    return {
      timed: latencies.length,
      answered,
      seconds: m.seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  };

  /**
   * Open loop: request i is due at start + i / rate, whatever the answers do. Latency counts from when it was due
   * (no coordinated omission), or from when it was sent if that was a little earlier. A user has one request in flight at most; a due request waits for a free user.
   */
  const open = async (m: Extract<ToLoad, { kind: "open" }>): Promise<LoadResult> => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
    const free = [...users];
    const waiting: Array<() => void> = [];
    const latencies: number[] = [];
    const inFlight = new Set<Promise<void>>();
    let late = 0;
    let failure: Error | undefined;
    const total = Math.round(m.rate * m.seconds);
    const start = performance.now();
    try {
      for (let i = 0; i < total && !failure; i++) {
        const due = start + (i * 1000) / m.rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        if (free.length === 0) {
          late++;
          await new Promise<void>((r) => waiting.push(r));
        }
        const u = free.shift()!;
        // Sent up to 1 ms early (a timer that short is not worth setting): then timed from when it was sent.
        const from = Math.max(due, performance.now());
        const p = one(agent, m.scenario, m.port, u)
          .then(
            () => {
              latencies.push(performance.now() - from);
            },
            (error: Error) => {
              failure ??= error;
            },
          )
          .finally(() => {
            free.push(u);
            waiting.shift()?.();
            inFlight.delete(p);
          });
        inFlight.add(p);
      }
      await Promise.all(inFlight);
    } finally {
      agent.destroy();
    }
    if (failure) throw failure;
    latencies.sort((a, b) => a - b);
    return {
      timed: latencies.length,
      answered: latencies.length,
      seconds: (performance.now() - start) / 1000,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      late,
    };
  };

  process.on("message", async (m: ToLoad) => {
    try {
      if (m.kind === "setup") {
        setup = m;
        users = m.users.map((u) => ({
          username: u.username,
          key: Buffer.from(u.secretHex, "hex"),
          counter: 0,
        }));
        reply({ kind: "ready" });
      } else if (m.kind === "closed") reply({ kind: "result", result: await closed(m) });
      else if (m.kind === "open") reply({ kind: "result", result: await open(m) });
      else process.disconnect();
    } catch (error) {
      reply({ kind: "failed", error: error instanceof Error ? error.message : String(error) });
    }
  });
}

class LoadGenerator {
  private constructor(private readonly child: ChildProcess) {}

  static start(): LoadGenerator {
    return new LoadGenerator(
      fork(fileURLToPath(import.meta.url), [...process.argv.slice(2), "--load"], {
        execArgv: process.execArgv,
      }),
    );
  }

  async ask(m: ToLoad): Promise<LoadResult | undefined> {
    const answer = once(this.child, "message") as Promise<[FromLoad]>;
    this.child.send(m);
    const [reply] = await answer;
    if (reply.kind === "failed") throw new Error(`load generator: ${reply.error}`);
    return reply.kind === "result" ? reply.result : undefined;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.connected) return;
    const exited = once(this.child, "exit");
    this.child.send({ kind: "close" } satisfies ToLoad);
    await exited;
  }
}

// ---------------------------------------------------------------- counting statements and round trips

/** --statement-times: time spent in each SQLite statement (its text), run by run. */
const statementTimes = new Map<string, { count: number; ms: number; max: number }>();
/** Statements SQLite ran (every better-sqlite3 run/get/all/iterate and exec) and commits among them. */
const sqliteCount = countSqliteStatements(
  values["statement-times"]
    ? (source, ms) => {
        const entry = statementTimes.get(source) ?? { count: 0, ms: 0, max: 0 };
        entry.count++;
        entry.ms += ms;
        entry.max = Math.max(entry.max, ms);
        statementTimes.set(source, entry);
      }
    : undefined,
);

/** Queries sent by every pg client in this process: one round trip each (pg sends one query at a time). */
const pgCount = { queries: 0, commits: 0 };
{
  const proto = pg.Client.prototype as unknown as Record<string, unknown>;
  const query = proto["query"] as (...a: unknown[]) => unknown;
  proto["query"] = function (this: unknown, ...a: unknown[]) {
    pgCount.queries++;
    const text = typeof a[0] === "string" ? a[0] : (a[0] as { text?: string } | undefined)?.text;
    if (text && /^\s*commit\b/i.test(text)) pgCount.commits++;
    return query.apply(this, a);
  };
}

// ---------------------------------------------------------------- the servers (this process)

async function startBareFastify(): Promise<FastifyInstance> {
  const app = fastify();
  app.post("/echo", async (request) => {
    const body = request.body as { username?: unknown };
    return { ok: true, username: body.username };
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return app;
}

interface Phase {
  runtime: Runtime;
  server: RunningServer;
  application: Application;
  skey: string;
  users: BenchUser[];
  dbFile: string;
}

async function enrolHOTPUsers(runtime: Runtime, prefix: string, count: number): Promise<BenchUser[]> {
  const { services } = runtime;
  const users: BenchUser[] = [];
  for (let i = 0; i < count; i++) {
    const username = `${prefix}-${i}`;
    await services.createUser(ADMIN, { username });
    users.push({ username, secretHex: randomBytes(20).toString("hex") });
  }
  for (let i = 0; i < count; i += 500)
    await services.importTokens(
      ADMIN,
      users.slice(i, i + 500).map((u, k) => ({
        serial: `${prefix.toUpperCase()}-${i + k}`,
        type: "hotp" as const,
        secret: Buffer.from(u.secretHex, "hex"),
        digits: 6 as const,
        algorithm: "SHA1" as const,
        period: null,
        counter: 0,
        manufacturer: null,
        model: null,
      })),
    );
  for (let i = 0; i < count; i++)
    await services.assignToken(ADMIN, `${prefix.toUpperCase()}-${i}`, users[i]!.username);
  return users;
}

/** Twofold as deployed on a fresh SQLite file: production mode, info logs (an access line per request) to /dev/null. */
async function startTwofold(dir: string): Promise<Phase> {
  const dbFile = join(dir, "twofold.db");
  const config = loadConfig({
    env: {},
    overrides: {
      "node.name": "bench",
      "logging.level": "info",
      "keys.encryption": [{ id: "bench", key: randomBytes(32).toString("base64") }],
      "database.sqlitePath": dbFile,
      "server.host": "127.0.0.1",
      "server.port": 0,
      "policy.throttle.perAddress": 100_000,
      "policy.throttle.perPeer": 1_000_000,
      "policy.throttle.perIntegration": 1_000_000,
    },
  });
  const logger = createLogger({
    level: "info",
    node: "bench",
    destination: logDestination("/dev/null"),
  });
  const runtime = await createRuntime(config, { logger });
  const created = await runtime.services.createApplication(ADMIN, { name: "bench", type: "auth-api" });
  const users = await enrolHOTPUsers(runtime, "bench", USERS);
  const application = (await runtime.store.getApplication(created.application.id))!;
  const server = await startServer(runtime);
  return { runtime, server, application, skey: created.secretKey.reveal(), users, dbFile };
}

async function countAllows(runtime: Runtime): Promise<number> {
  const r = await sql<{ n: number }>`select count(*) as n from auth_log where result = 'allow'`.execute(
    (runtime.store as KyselyStore).kysely,
  );
  return Number(r.rows[0]?.n ?? 0);
}

interface Row {
  section: string;
  scenario: string;
  requests: number;
  perSecond: number | null;
  p50: number;
  p99: number;
  note: string;
}

const rows: Row[] = [];
const checks: string[] = [];
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const walBytes = (dbFile: string) => (existsSync(`${dbFile}-wal`) ? statSync(`${dbFile}-wal`).size : 0);

/**
 * What stalls the server's event loop while `cell` runs: the loop's delay (p99, max) and the GC pauses. Open-loop
 * latency's tail is mostly these.
 */
async function watchStalls(
  cell: () => Promise<LoadResult | undefined>,
): Promise<{ result: LoadResult; stalls: string }> {
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  const gc = { count: 0, ms: 0, longest: 0 };
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.ms += e.duration;
      gc.longest = Math.max(gc.longest, e.duration);
    }
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  loopDelay.enable();
  try {
    const result = (await cell())!;
    return {
      result,
      stalls:
        `server event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms; ` +
        `GC ${gc.count} pauses, ${gc.ms.toFixed(0)} ms in all, longest ${gc.longest.toFixed(1)} ms`,
    };
  } finally {
    loopDelay.disable();
    gcObserver.disconnect();
  }
}

async function sqliteSections(dir: string, load: LoadGenerator): Promise<void> {
  const bare = await startBareFastify();
  const phase = await startTwofold(dir);
  const barePort = (bare.server.address() as { port: number }).port;
  const port = Number(new URL(phase.server.url).port);
  let allowsExpected = await countAllows(phase.runtime);
  /** Every allow answered must be one authentication-log row (no lost writes). */
  const checkLog = async (what: string, answered: number) => {
    allowsExpected += answered;
    const rowsNow = await countAllows(phase.runtime);
    const ok = rowsNow === allowsExpected;
    checks.push(
      `${what}: ${rowsNow} allow rows in the authentication log for ${allowsExpected} allows answered${ok ? "" : " — MISMATCH"}`,
    );
    if (!ok) throw new Error(checks.at(-1));
  };
  try {
    await load.ask({ kind: "setup", ikey: phase.application.id, skey: phase.skey, users: phase.users });
    if (SECTIONS.has("closed")) {
      const closed = { kind: "closed" as const, connections: CONNECTIONS, seconds: SECONDS, warmup: WARMUP };
      // Bare and Twofold cells alternate, REPEAT pairs: each pair's ratio is same-run; the median pair is reported.
      const pairs: Array<{
        b: LoadResult;
        a: LoadResult;
        statements: number;
        commits: number;
        cpuMs: number;
      }> = [];
      for (let rep = 0; rep < REPEAT; rep++) {
        const b = (await load.ask({ ...closed, scenario: "bare", port: barePort }))!;
        const s0 = { ...sqliteCount };
        const profiler = values.profile && rep === 0 ? new Session() : undefined;
        if (profiler) {
          profiler.connect();
          await profiler.post("Profiler.enable");
          await profiler.post("Profiler.start");
        }
        const heapProfiler = values["heap-profile"] && rep === 0 ? new Session() : undefined;
        if (heapProfiler) {
          heapProfiler.connect();
          await heapProfiler.post("HeapProfiler.enable");
          await heapProfiler.post("HeapProfiler.startSampling", { samplingInterval: 4096 });
        }
        const cpu0 = process.cpuUsage();
        const a = (await load.ask({ ...closed, scenario: "allow", port }))!;
        const cpu = process.cpuUsage(cpu0);
        if (heapProfiler) {
          // What the cell allocated and still holds after a full GC: a leak shows here.
          await heapProfiler.post("HeapProfiler.collectGarbage");
          const { profile } = await heapProfiler.post("HeapProfiler.stopSampling");
          writeFileSync(values["heap-profile"]!, JSON.stringify(profile));
          heapProfiler.disconnect();
        }
        if (profiler) {
          const { profile } = await profiler.post("Profiler.stop");
          writeFileSync(values.profile!, JSON.stringify(profile));
          profiler.disconnect();
        }
        await checkLog(`closed loop, pair ${rep + 1}`, a.answered);
        pairs.push({
          b,
          a,
          statements: (sqliteCount.statements - s0.statements) / a.answered,
          commits: (sqliteCount.commits - s0.commits) / a.answered,
          cpuMs: (cpu.user + cpu.system) / 1000 / a.answered,
        });
        console.error(
          `  closed pair ${rep + 1}: bare ${(b.timed / b.seconds).toFixed(0)}/s, allow ${(a.timed / a.seconds).toFixed(0)}/s, ` +
            `server CPU ${((cpu.user + cpu.system) / 1000 / a.answered).toFixed(3)} ms per verification`,
        );
      }
      const ratioOf = (p: (typeof pairs)[number]) => p.a.timed / p.a.seconds / (p.b.timed / p.b.seconds);
      const sorted = [...pairs].sort((x, y) => ratioOf(x) - ratioOf(y));
      const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
      const { b, a } = median;
      rows.push(
        {
          section: "closed",
          scenario: `bare Fastify JSON POST, ${CONNECTIONS} connections`,
          requests: b.timed,
          perSecond: b.timed / b.seconds,
          p50: b.p50,
          p99: b.p99,
          note: "1.00×",
        },
        {
          section: "closed",
          scenario: `signed Auth API passcode (HOTP allow), SQLite, ${CONNECTIONS} connections`,
          requests: a.timed,
          perSecond: a.timed / a.seconds,
          p50: a.p50,
          p99: a.p99,
          note:
            `${ratioOf(median).toFixed(3)}× bare${pairs.length > 1 ? ` (median of ${pairs.length} pairs: ${sorted.map((p) => ratioOf(p).toFixed(3)).join(", ")})` : ""}; ` +
            `${median.statements.toFixed(1)} statements and ${median.commits.toFixed(2)} commits per verification; ` +
            `server CPU ${median.cpuMs.toFixed(3)} ms per verification`,
        },
      );
    }
    if (SECTIONS.has("open")) {
      // --statement-times: from here on, the open-loop cells only (their longest statements are the stalls).
      statementTimes.clear();
      const b = (await load.ask({
        kind: "open",
        scenario: "bare",
        port: barePort,
        rate: RATE,
        seconds: OPEN_SECONDS,
      }))!;
      const { result: a, stalls } = await watchStalls(() =>
        load.ask({ kind: "open", scenario: "allow", port, rate: RATE, seconds: OPEN_SECONDS }),
      );
      await checkLog(`open loop ${RATE}/s`, a.answered);
      rows.push(
        {
          section: "open",
          scenario: `bare Fastify JSON POST, open loop ${RATE}/s`,
          requests: b.timed,
          perSecond: b.timed / b.seconds,
          p50: b.p50,
          p99: b.p99,
          note: "1.00×",
        },
        {
          section: "open",
          scenario: `signed Auth API passcode, SQLite, open loop ${RATE}/s`,
          requests: a.timed,
          perSecond: a.timed / a.seconds,
          p50: a.p50,
          p99: a.p99,
          note: `p99 ${(a.p99 / b.p99).toFixed(2)}× bare; ${stalls}`,
        },
      );
      console.error(`  open ${RATE}/s: bare p99 ${f2(b.p99)}, allow p99 ${f2(a.p99)}`);
      let capacity = 0;
      for (const rate of RATES) {
        const { result: r, stalls } = await watchStalls(() =>
          load.ask({ kind: "open", scenario: "allow", port, rate, seconds: OPEN_SECONDS }),
        );
        await checkLog(`open loop ${rate}/s`, r.answered);
        const passes = r.p99 <= CAPACITY_P99_MS;
        rows.push({
          section: "capacity",
          scenario: `signed Auth API passcode, SQLite, open loop ${rate}/s`,
          requests: r.timed,
          perSecond: r.timed / r.seconds,
          p50: r.p50,
          p99: r.p99,
          note: `${passes ? "p99 ≤ 100 ms" : "p99 > 100 ms"}; ${stalls}`,
        });
        console.error(`  capacity ${rate}/s: p99 ${f2(r.p99)}`);
        if (!passes) break;
        capacity = rate;
      }
      checks.push(`capacity (highest rate tried with p99 ≤ ${CAPACITY_P99_MS} ms): ${capacity}/s`);
    }
    if (SECTIONS.has("wal")) {
      let largest = 0;
      const sampler = setInterval(() => {
        largest = Math.max(largest, walBytes(phase.dbFile));
      }, 250);
      const a = (await load.ask({
        kind: "closed",
        scenario: "allow",
        port,
        connections: CONNECTIONS,
        seconds: WAL_SECONDS,
        warmup: 0,
      }))!;
      clearInterval(sampler);
      const end = walBytes(phase.dbFile);
      largest = Math.max(largest, end);
      await checkLog(`sustained ${WAL_SECONDS} s`, a.answered);
      rows.push({
        section: "wal",
        scenario: `signed Auth API passcode, SQLite, ${CONNECTIONS} connections for ${WAL_SECONDS} s`,
        requests: a.timed,
        perSecond: a.timed / a.seconds,
        p50: a.p50,
        p99: a.p99,
        note: `WAL at the end ${mib(end)}, largest ${mib(largest)}; ${(largest / Math.max(1, a.answered) / 1024).toFixed(1)} KiB of WAL per verification at its largest`,
      });
      console.error(`  wal: ${mib(end)} (largest ${mib(largest)}) after ${a.answered} verifications`);
    }
  } finally {
    await phase.server.close();
    await phase.runtime.close();
    await bare.close();
  }
}

/** The passcode use case on PostgreSQL (no HTTP), PG_CONNECTIONS in flight over a pool of as many, beside raw pg. */
async function postgresSection(): Promise<void> {
  if (!(await postgresAvailable())) {
    checks.push("PostgreSQL unreachable: no PostgreSQL rows");
    return;
  }
  const db = await createTestDatabase("postgres");
  const config = loadConfig({
    env: {},
    overrides: {
      "node.name": "bench",
      "logging.level": "silent",
      "keys.encryption": [{ id: "bench", key: randomBytes(32).toString("base64") }],
      "database.url": PG_URL,
      "database.poolSize": PG_CONNECTIONS,
    },
  });
  const runtime = await createRuntime(config, { schema: db.schema! });
  const raw = new pg.Pool({
    connectionString: PG_URL,
    max: PG_CONNECTIONS,
    options: `-c search_path=${db.schema}`,
  });
  raw.on("error", () => {});
  try {
    const created = await runtime.services.createApplication(ADMIN, { name: "bench", type: "auth-api" });
    const application = (await runtime.store.getApplication(created.application.id))!;
    const users = await enrolHOTPUsers(runtime, "pgbench", Math.max(64, PG_CONNECTIONS * 8));
    const keys = users.map((u) => Buffer.from(u.secretHex, "hex"));
    const counters = users.map(() => 0);
    await raw.query("create table bench_cas (id integer primary key, counter bigint not null)");
    await raw.query("insert into bench_cas select g, 0 from generate_series(0, $1::int - 1) g", [
      users.length,
    ]);
    const casCounters = users.map(() => 0);

    const loops = async (op: (u: number) => Promise<void>) => {
      const latencies: number[] = [];
      let answered = 0;
      const start = performance.now();
      const measureFrom = start + WARMUP * 1000;
      const deadline = measureFrom + PG_SECONDS * 1000;
      await Promise.all(
        Array.from({ length: PG_CONNECTIONS }, async (_, j) => {
          for (let turn = 0; performance.now() < deadline; turn++) {
            const u = j + PG_CONNECTIONS * (turn % Math.floor(users.length / PG_CONNECTIONS));
            const t0 = performance.now();
            await op(u);
            const t1 = performance.now();
            answered++;
            if (t0 >= measureFrom && t1 <= deadline) latencies.push(t1 - t0);
          }
        }),
      );
      latencies.sort((a, b) => a - b);
      return {
        timed: latencies.length,
        answered,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
      };
    };
    const cas = await loops(async (u) => {
      const r = await raw.query("update bench_cas set counter = $2 where id = $1 and counter = $3", [
        u,
        casCounters[u]! + 1,
        casCounters[u],
      ]);
      if (r.rowCount !== 1) throw new Error("compare-and-set failed");
      casCounters[u]!++;
    });
    const before = await countAllows(runtime);
    const p0 = { ...pgCount };
    const verify = await loops(async (u) => {
      const r = await runtime.services.verifyPasscode({
        username: users[u]!.username,
        passcode: generateHOTP(keys[u]!, counters[u]!),
        application,
        ip: null,
      });
      if (r.result !== "allow") throw new Error(`expected allow, got ${r.result} (${r.reason})`);
      counters[u]!++;
    });
    const roundTrips = (pgCount.queries - p0.queries) / verify.answered;
    const commits = (pgCount.commits - p0.commits) / verify.answered;
    const after = await countAllows(runtime);
    const ok = after - before === verify.answered;
    checks.push(
      `PostgreSQL: ${after - before} allow rows in the authentication log for ${verify.answered} allows answered${ok ? "" : " — MISMATCH"}`,
    );
    const casRate = cas.timed / PG_SECONDS;
    const rate = verify.timed / PG_SECONDS;
    rows.push(
      {
        section: "pg",
        scenario: `raw pg compare-and-set (one UPDATE), ${PG_CONNECTIONS} connections`,
        requests: cas.timed,
        perSecond: casRate,
        p50: cas.p50,
        p99: cas.p99,
        note: "1.00×; 1 round trip",
      },
      {
        section: "pg",
        scenario: `verifyPasscode (HOTP allow), PostgreSQL, ${PG_CONNECTIONS} connections`,
        requests: verify.timed,
        perSecond: rate,
        p50: verify.p50,
        p99: verify.p99,
        note: `${(rate / casRate).toFixed(3)}× raw pg; ${roundTrips.toFixed(1)} round trips and ${commits.toFixed(2)} commits per verification`,
      },
    );
    console.error(
      `  pg: cas ${casRate.toFixed(0)}/s, verify ${rate.toFixed(0)}/s, ${roundTrips.toFixed(1)} round trips`,
    );
    if (!ok) throw new Error(checks.at(-1));
  } finally {
    await raw.end();
    await runtime.close();
    await db.drop();
  }
}

async function benchMain(): Promise<void> {
  const started = performance.now();
  const dir = mkdtempSync(join(os.tmpdir(), "twofold-bench-hotpath-"));
  const load = LoadGenerator.start();
  try {
    if (["closed", "open", "wal"].some((s) => SECTIONS.has(s))) await sqliteSections(dir, load);
    if (SECTIONS.has("pg")) await postgresSection();
  } finally {
    await load.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const cpus = os.cpus();
  console.log(
    `\nbench/hotpath — ${cpus[0]?.model.trim() ?? "?"}, ${cpus.length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}, ` +
      `node ${process.version}; ${USERS} users with an HOTP token; run ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
  );
  console.log("| section | scenario | requests | per s | p50 ms | p99 ms | ratio and counts |");
  console.log("|---|---|---:|---:|---:|---:|---|");
  for (const r of rows)
    console.log(
      `| ${r.section} | ${r.scenario} | ${r.requests} | ${r.perSecond === null ? "–" : r.perSecond.toFixed(0)} | ${f2(r.p50)} | ${f2(r.p99)} | ${r.note} |`,
    );
  console.log("");
  for (const c of checks) console.log(`- ${c}`);
  if (values["statement-times"]) {
    console.log(
      `\nSQLite statements by total time (${SECTIONS.has("open") ? "from the open loop on" : "the whole run, setup included"}):\n`,
    );
    console.log("| statement | runs | total ms | µs each | longest ms |");
    console.log("|---|---:|---:|---:|---:|");
    for (const [source, t] of [...statementTimes].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25))
      console.log(
        `| ${source.replace(/\s+/g, " ").slice(0, 140)} | ${t.count} | ${t.ms.toFixed(0)} | ${((t.ms / t.count) * 1000).toFixed(1)} | ${t.max.toFixed(1)} |`,
      );
  }
}

if (values.load) await loadMain();
else await benchMain();
