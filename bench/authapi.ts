// bench/authapi: signed Auth API passcode verifications per second, HTTPS and HTTP, beside bare Fastify.
// Usage: npm run bench:authapi [-- --seconds 2 --warmup 0.5 --users 256 --concurrency 1,16,64]
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { sign } from "@duosecurity/duo_api/lib/duo_sig.js";
import fastify, { type FastifyInstance } from "fastify";
import { sql } from "kysely";
import { apiHost, loadConfig } from "../src/config/load.ts";
import type { Application } from "../src/core/model.ts";
import { parseDuoAuthorization, verifyDuoSignature } from "../src/core/signed-request.ts";
import { type RunningServer, startServer } from "../src/http/server.ts";
import { createLogger, logDestination } from "../src/runtime/logger.ts";
import { createRuntime, type Runtime } from "../src/runtime/runtime.ts";
import type { KyselyStore } from "../src/store/kysely-store.ts";
import { makeCertificates } from "../test/support/certificates.ts";
import { generateHOTP, send, signedRequest } from "./support/authapi-client.ts";
import { percentile } from "./support/stats.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "2" },
    warmup: { type: "string", default: "0.5" },
    users: { type: "string", default: "256" },
    concurrency: { type: "string", default: "1,16,64" },
    load: { type: "boolean", default: false },
  },
});
const SECONDS = Number(values.seconds);
const WARMUP_SECONDS = Number(values.warmup);
const USERS = Number(values.users);
const CONCURRENCY = values.concurrency.split(",").map(Number);
/** Wrong codes per user before the lock; a deny cell must stay below it, or it would measure locked denies. */
const MAX_FAILURES = 100;
/** The server's HOTP look-ahead (policy.hotp.lookAhead, default 10): wrong codes avoid this window and a bit more. */
const LOOK_AHEAD = 10;
const ADMIN = { name: "bench" };
if (USERS < Math.max(...CONCURRENCY)) throw new Error("--users must be at least the largest --concurrency");

type Scenario = "bare" | "check" | "allow" | "deny";
const SCENARIOS: Record<Scenario, string> = {
  bare: "bare Fastify: JSON POST (baseline)",
  check: "Auth API: signed GET /auth/v2/check (no database write)",
  allow: "Auth API: passcode, valid HOTP (allow)",
  deny: "Auth API: passcode, wrong code (deny)",
};

interface BenchUser {
  username: string;
  secretHex: string;
}

type ToLoad =
  | { kind: "setup"; ca: string | null; ikey: string; skey: string; users: BenchUser[] }
  | { kind: "run"; scenario: Scenario; port: number; concurrency: number }
  | { kind: "close" };

interface CellResult {
  /** Requests answered in the timed part (after the warm-up). */
  requests: number;
  /** Requests answered in the whole cell, warm-up included (for CPU per request). */
  total: number;
  /** The load generator's CPU time over the cell's wall time (1 = one core busy). */
  clientCPU: number;
  seconds: number;
  p50: number;
  p99: number;
  /** Wrong codes sent to one user in this cell, at most (deny cells). */
  maxDeniesPerUser: number;
}

type FromLoad =
  | { kind: "ready" }
  | { kind: "result"; result: CellResult }
  | { kind: "failed"; error: string };

// ---------------------------------------------------------------- the load generator (a child process)

interface LoadUser {
  username: string;
  key: Buffer;
  /** The token's next counter: the server accepts it and moves past it. */
  counter: number;
  denies: number;
}

async function loadMain(): Promise<void> {
  const reply = (m: FromLoad) => process.send!(m);
  let setup: Extract<ToLoad, { kind: "setup" }> | undefined;
  let users: LoadUser[] = [];

  /** A freshly signed Auth API call (signature v2 over the real Date, duo-compat §1.2–§1.3). */
  const signed = (method: "GET" | "POST", port: number, path: string, params: Record<string, string>) =>
    signedRequest(setup!, method, port, path, params);

  /** A wrong code of the right shape, outside the user's look-ahead window, different each time (K2). */
  const wrongCode = (u: LoadUser, index: number) => {
    const window = new Set(
      Array.from({ length: LOOK_AHEAD + 2 }, (_, k) => generateHOTP(u.key, u.counter + k)),
    );
    let n = (index * 7919 + u.denies * 104_729) % 1_000_000;
    let code = String(n).padStart(6, "0");
    while (window.has(code)) code = String(++n % 1_000_000).padStart(6, "0");
    u.denies++;
    return code;
  };

  const run = async (scenario: Scenario, port: number, concurrency: number): Promise<CellResult> => {
    const tls = setup!.ca !== null;
    const agent = new (tls ? https : http).Agent({
      keepAlive: true,
      maxSockets: concurrency,
      ...(tls ? { ca: setup!.ca! } : {}),
    });
    for (const u of users) u.denies = 0;
    const latencies: number[] = [];
    let total = 0;
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const measureFrom = start + WARMUP_SECONDS * 1000;
    const deadline = measureFrom + SECONDS * 1000;
    try {
      // Loop j owns users j, j + concurrency, …: one request in flight per user, so HOTP codes arrive in order.
      await Promise.all(
        Array.from({ length: concurrency }, async (_, j) => {
          const mine = users.filter((_, i) => i % concurrency === j);
          for (let turn = 0; performance.now() < deadline; turn++) {
            const index = (turn * concurrency + j) % users.length;
            const u = mine[turn % mine.length]!;
            const request =
              scenario === "bare"
                ? {
                    port,
                    method: "POST",
                    path: "/echo",
                    headers: { "Content-Type": "application/json" },
                    body: JSON.stringify({ username: u.username, passcode: "123456" }),
                  }
                : scenario === "check"
                  ? signed("GET", port, "/auth/v2/check", {})
                  : signed("POST", port, "/auth/v2/auth", {
                      username: u.username,
                      factor: "passcode",
                      passcode: scenario === "allow" ? generateHOTP(u.key, u.counter) : wrongCode(u, index),
                    });
            const t0 = performance.now();
            const { status, body } = await send(agent, tls, request);
            const t1 = performance.now();
            let parsed: { stat?: string; ok?: boolean; response?: { result?: string; time?: number } };
            try {
              parsed = JSON.parse(body);
            } catch {
              parsed = {};
            }
            const expected =
              scenario === "bare"
                ? parsed.ok === true
                : scenario === "check"
                  ? parsed.stat === "OK" && typeof parsed.response?.time === "number"
                  : parsed.stat === "OK" && parsed.response?.result === scenario;
            if (status !== 200 || !expected)
              throw new Error(
                `${scenario} (${u.username}): expected 200 and ${scenario === "allow" || scenario === "deny" ? `result ${scenario}` : "OK"}, got ${status} ${body}`,
              );
            if (scenario === "allow") u.counter++;
            total++;
            if (t0 >= measureFrom && t1 <= deadline) latencies.push(t1 - t0);
          }
        }),
      );
    } finally {
      agent.destroy();
    }
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - start;
    latencies.sort((a, b) => a - b);
    return {
      requests: latencies.length,
      total,
      clientCPU: (cpu.user + cpu.system) / 1000 / wallMs,
      seconds: SECONDS,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      maxDeniesPerUser: Math.max(...users.map((u) => u.denies)),
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
          denies: 0,
        }));
        reply({ kind: "ready" });
      } else if (m.kind === "run") {
        reply({ kind: "result", result: await run(m.scenario, m.port, m.concurrency) });
      } else {
        process.disconnect();
      }
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

  async ask(m: ToLoad): Promise<FromLoad> {
    const answer = once(this.child, "message") as Promise<[FromLoad]>;
    this.child.send(m);
    const [reply] = await answer;
    if (reply.kind === "failed") throw new Error(`load generator: ${reply.error}`);
    return reply;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.connected) return;
    const exited = once(this.child, "exit");
    this.child.send({ kind: "close" } satisfies ToLoad);
    await exited;
  }
}

// ---------------------------------------------------------------- the servers (this process)

/** The baseline: Fastify with nothing added, answering a small JSON POST, with the same TLS setting. */
async function startBareFastify(tls: { cert: string; key: string } | null): Promise<FastifyInstance> {
  const app = (
    tls ? fastify({ https: { cert: readFileSync(tls.cert), key: readFileSync(tls.key) } }) : fastify()
  ) as FastifyInstance;
  app.post("/echo", async (request) => {
    const body = request.body as { username?: unknown };
    return { ok: true, username: body.username };
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return app;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

interface Phase {
  runtime: Runtime;
  server: RunningServer;
  application: Application;
  skey: string;
  users: BenchUser[];
}

/**
 * Twofold as deployed, on a fresh SQLite file: production mode, info logs (one access line per request, written to
 * /dev/null), an Auth API integration and USERS users, each with an HOTP hardware token from counter 0.
 */
async function startTwofold(
  dir: string,
  name: string,
  tls: { cert: string; key: string } | null,
): Promise<Phase> {
  const config = loadConfig({
    env: {},
    overrides: {
      "node.name": "bench",
      "logging.level": "info",
      "keys.encryption": [{ id: "bench", key: randomBytes(32).toString("base64") }],
      "database.sqlitePath": join(dir, `${name}.db`),
      "server.host": "127.0.0.1",
      "server.port": 0,
      ...(tls ? { "server.tls.cert": tls.cert, "server.tls.key": tls.key } : {}),
      // The deny cells send up to a few dozen wrong codes per user between unlocks; below this they are all checked.
      "policy.lockout.maxFailures": MAX_FAILURES,
      "policy.lockout.delayAfter": MAX_FAILURES,
      // Every request comes from one address: the deny cells measure checking codes, not the throttle's 429s.
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
  const { services } = runtime;
  const created = await services.createApplication(ADMIN, { name: "bench", type: "auth-api" });
  const users: BenchUser[] = [];
  for (let i = 0; i < USERS; i++) {
    const username = `bench-${i}`;
    await services.createUser(ADMIN, { username });
    users.push({ username, secretHex: randomBytes(20).toString("hex") });
  }
  await services.importTokens(
    ADMIN,
    users.map((u, i) => ({
      serial: `BENCH-${i}`,
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
  for (let i = 0; i < USERS; i++) await services.assignToken(ADMIN, `BENCH-${i}`, users[i]!.username);
  const application = (await runtime.store.getApplication(created.application.id))!;
  const server = await startServer(runtime);
  return { runtime, server, application, skey: created.secretKey.reveal(), users };
}

interface Row {
  transport: "HTTPS" | "HTTP";
  concurrency: number;
  scenario: Scenario;
  result: CellResult;
  /** This process's CPU time (every thread: Fastify, SQLite, the WAL checkpointer) over the cell's wall time. */
  serverCPU: number;
  serverCPUMsPerRequest: number;
}

interface InProcess {
  what: string;
  ops: number;
  meanMs: number;
  p99: number;
}

/**
 * The parts of one Auth API passcode call, called directly in this process one at a time (nothing else running):
 * the use case (user lookup, lockout row, HOTP check and counter write, lockout reset, auth-log row in one
 * transaction), the K2 replay insert, the route's reads and the signature check. Separate users (`inproc-*`) keep
 * the HTTP users' counters intact.
 */
async function measureInProcess(phase: Phase): Promise<InProcess[]> {
  const { services, store } = phase.runtime;
  const count = 64;
  const keys: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    await services.createUser(ADMIN, { username: `inproc-${i}` });
    keys.push(randomBytes(20));
  }
  await services.importTokens(
    ADMIN,
    keys.map((secret, i) => ({
      serial: `INPROC-${i}`,
      type: "hotp" as const,
      secret,
      digits: 6 as const,
      algorithm: "SHA1" as const,
      period: null,
      counter: 0,
      manufacturer: null,
      model: null,
    })),
  );
  for (let i = 0; i < count; i++) await services.assignToken(ADMIN, `INPROC-${i}`, `inproc-${i}`);
  const counters = new Array<number>(count).fill(0);
  // One auth request as the route sees it, signed once (verifying it again has no state to change).
  const host = new URL(phase.server.url).host;
  const date = new Date().toUTCString();
  const authParams = { username: "inproc-0", factor: "passcode", passcode: "123456" };
  const authorization = sign(
    phase.application.id,
    phase.skey,
    "POST",
    host,
    "/auth/v2/auth",
    authParams,
    date,
  );
  const parsed = parseDuoAuthorization(authorization);
  if (!parsed.ok) throw new Error("could not parse our own Authorization header");
  const { credentials } = parsed;
  const secret = services.openApplicationSecret(phase.application);
  const signedAuth = {
    method: "POST",
    path: "/auth/v2/auth",
    hosts: [apiHost(phase.runtime.config), host, host.replace(/:\d+$/, "")],
    date,
    params: Object.entries(authParams),
    jsonBody: null,
    headers: [
      ["host", host],
      ["date", date],
      ["authorization", authorization],
      ["content-type", "application/x-www-form-urlencoded"],
    ] as Array<[string, string]>,
    allowUndated: false,
  };
  const time = async (
    what: string,
    op: (i: number) => Promise<boolean>,
    maxOps = Number.POSITIVE_INFINITY,
  ): Promise<InProcess> => {
    const latencies: number[] = [];
    const deadline = performance.now() + 1000;
    for (let i = 0; i < maxOps && performance.now() < deadline; i++) {
      const t0 = performance.now();
      if (!(await op(i))) throw new Error(`${what}: unexpected result`);
      latencies.push(performance.now() - t0);
    }
    const total = latencies.reduce((a, b) => a + b, 0);
    latencies.sort((a, b) => a - b);
    return { what, ops: latencies.length, meanMs: total / latencies.length, p99: percentile(latencies, 99) };
  };
  const verify = (i: number, passcode: string) =>
    services.verifyPasscode({
      username: `inproc-${i % count}`,
      passcode,
      application: phase.application,
      ip: null,
    });
  const rows = [
    await time("verifyPasscode, valid HOTP (allow)", async (i) => {
      const u = i % count;
      const r = await verify(u, generateHOTP(keys[u]!, counters[u]!));
      counters[u]!++;
      return r.result === "allow";
    }),
    await time(
      "verifyPasscode, wrong code (deny)",
      async (i) => {
        const u = i % count;
        const window = new Set(
          Array.from({ length: LOOK_AHEAD + 2 }, (_, k) => generateHOTP(keys[u]!, counters[u]! + k)),
        );
        const r = await verify(u, window.has("000000") ? "000001" : "000000");
        return r.result === "deny";
      },
      // At most this many, so each user stays below the lockout limit.
      count * (MAX_FAILURES - 10),
    ),
    await time("claimSignedRequest (K2 replay-table insert)", async () =>
      store.claimSignedRequest(randomBytes(32).toString("hex"), Date.now() + 600_000, Date.now()),
    ),
    await time("findLoginUser (the route's user read)", async (i) =>
      Boolean(await services.findLoginUser({ username: `inproc-${i % count}` })),
    ),
    await time("getApplication + open its secret (every signed route)", async () => {
      const application = await store.getApplication(phase.application.id);
      return application !== undefined && services.openApplicationSecret(application).reveal() === phase.skey;
    }),
    await time("verifyDuoSignature of a signed auth request (every candidate, HMAC-SHA512)", async () => {
      const check = verifyDuoSignature(
        { ...signedAuth, params: [...signedAuth.params] },
        credentials,
        secret,
        Date.now(),
      );
      return check.ok;
    }),
  ];
  return rows;
}

async function benchMain(): Promise<void> {
  const started = performance.now();
  const dir = mkdtempSync(join(os.tmpdir(), "twofold-bench-authapi-"));
  const certificates = makeCertificates(dir, {
    caName: "Twofold bench CA",
    commonName: "127.0.0.1",
    subjectAltName: "IP:127.0.0.1",
  });
  const load = LoadGenerator.start();
  const rows: Row[] = [];
  let inProcess: InProcess[] = [];
  let sqliteVersion = "?";
  try {
    for (const transport of ["HTTPS", "HTTP"] as const) {
      const tls = transport === "HTTPS" ? { cert: certificates.cert, key: certificates.key } : null;
      const bare = await startBareFastify(tls);
      const phase = await startTwofold(dir, transport.toLowerCase(), tls);
      try {
        sqliteVersion =
          (
            await sql<{ v: string }>`select sqlite_version() as v`.execute(
              (phase.runtime.store as KyselyStore).kysely,
            )
          ).rows[0]?.v ?? "?";
        await load.ask({
          kind: "setup",
          ca: tls ? readFileSync(certificates.ca, "utf8") : null,
          ikey: phase.application.id,
          skey: phase.skey,
          users: phase.users,
        });
        const barePort = (bare.server.address() as { port: number }).port;
        const twofoldPort = portOf(phase.server.url);
        for (const concurrency of CONCURRENCY) {
          for (const scenario of Object.keys(SCENARIOS) as Scenario[]) {
            const port = scenario === "bare" ? barePort : twofoldPort;
            const cpu0 = process.cpuUsage();
            const wall0 = performance.now();
            const reply = await load.ask({ kind: "run", scenario, port, concurrency });
            const cpu = process.cpuUsage(cpu0);
            const wallMs = performance.now() - wall0;
            if (reply.kind !== "result") throw new Error(`load generator: ${reply.kind}`);
            const cpuMs = (cpu.user + cpu.system) / 1000;
            if (reply.result.maxDeniesPerUser >= MAX_FAILURES)
              throw new Error(`${transport} ${concurrency}: a user reached the lockout limit`);
            rows.push({
              transport,
              concurrency,
              scenario,
              result: reply.result,
              serverCPU: cpuMs / wallMs,
              serverCPUMsPerRequest: cpuMs / reply.result.total,
            });
            console.error(
              `  ${transport} ×${concurrency} ${scenario}: ${(reply.result.requests / reply.result.seconds).toFixed(0)} req/s`,
            );
            if (scenario === "deny")
              for (const u of phase.users) await phase.runtime.services.unlockUser(ADMIN, u.username);
          }
        }
        if (transport === "HTTPS") inProcess = await measureInProcess(phase);
      } finally {
        await phase.server.close();
        await phase.runtime.close();
        await bare.close();
      }
    }
  } finally {
    await load.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const cpus = os.cpus();
  const f = (n: number) => n.toFixed(2);
  const pct = (share: number) => `${(share * 100).toFixed(0)} %`;
  console.log(
    `\nbench/authapi — ${cpus[0]?.model.trim() ?? "?"}, ${cpus.length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
      `node ${process.version}, SQLite ${sqliteVersion}; ${USERS} users with an HOTP token each; ` +
      `${WARMUP_SECONDS} s warm-up + ${SECONDS} s per cell; run ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  console.log(
    "Server: this process (Twofold in production mode, info logs to /dev/null; bare Fastify beside it). " +
      "Load: a child process, keep-alive agents, one request in flight per user per loop. " +
      "CPU: process time over wall time, 100 % = one core (the server's includes its SQLite checkpointer thread).",
  );
  console.log(
    "Each passcode request is freshly signed (v2, real Date) and writes one replay-check row (K2) and one " +
      "authentication-log row, besides the token counter (allow) or the failure count (deny).\n",
  );
  console.log(
    "| transport | in flight | scenario | requests | req/s | p50 ms | p99 ms | req/s ÷ bare | p99 ÷ bare | server CPU ms/req | CPU/req ÷ bare | CPU server / client |",
  );
  console.log("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    const bareRow = rows.find(
      (b) => b.transport === r.transport && b.concurrency === r.concurrency && b.scenario === "bare",
    )!;
    const base = bareRow.result;
    const perSecond = r.result.requests / r.result.seconds;
    const basePerSecond = base.requests / base.seconds;
    console.log(
      `| ${r.transport} | ${r.concurrency} | ${SCENARIOS[r.scenario]} | ${r.result.requests} | ${perSecond.toFixed(0)} | ` +
        `${f(r.result.p50)} | ${f(r.result.p99)} | ${(perSecond / basePerSecond).toFixed(2)} | ${(r.result.p99 / base.p99).toFixed(2)} | ` +
        `${f(r.serverCPUMsPerRequest)} | ${(r.serverCPUMsPerRequest / bareRow.serverCPUMsPerRequest).toFixed(1)} | ${pct(r.serverCPU)} / ${pct(r.result.clientCPU)} |`,
    );
  }
  console.log(
    "\nIn process, one at a time, 1 s each (wrong codes: at most 90 per user; SQLite, the HTTPS phase's database, no HTTP):\n",
  );
  console.log("| operation | ops | mean ms | p99 ms |");
  console.log("|---|---:|---:|---:|");
  for (const r of inProcess) console.log(`| ${r.what} | ${r.ops} | ${r.meanMs.toFixed(3)} | ${f(r.p99)} |`);
}

if (values.load) await loadMain();
else await benchMain();
