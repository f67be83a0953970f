// bench/prompt: complete Universal Prompt flows per second (authorize → passcode in the prompt → token), over HTTPS, as
// Duo's Node SDK makes them, beside bare Fastify in the same run. The load (the SDK signing its JWTs, the HTTPS client)
// runs in a child process by default, so the server's own cost is what is measured; `--load in-process` runs it in
// the server's process as before, and `--load child,in-process` shows both. Per flow: the requests the server
// answered, SQLite statements and commits, and the server process's CPU time and the load process's (child load only).
// The SDK signs each flow's request JWT and client assertion before the timed window by default (`--sign before`: a
// real application signs on its own machine, and the bare baseline's client signs nothing); `--sign during` signs
// them inside each flow, as before.
// Usage: npm run bench:prompt [-- --seconds 3 --warmup 2 --users 64 --concurrency 1,16 --load child,in-process --repeat 1
//        --sign before --statements --profile /tmp/prompt]
import { type ChildProcess, fork } from "node:child_process";
import diagnostics from "node:diagnostics_channel";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { Session } from "node:inspector/promises";
import type { AddressInfo } from "node:net";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@duosecurity/duo_universal";
import fastify from "fastify";
import { randomBytes } from "../src/core/crypto/index.ts";
import { generateHOTP } from "../src/core/otp/hotp.ts";
import { startServer } from "../src/http/server.ts";
import { logDestination } from "../src/runtime/logger.ts";
import { createTestRuntime } from "../test/http/support.ts";
import { makeCertificates } from "../test/support/certificates.ts";
import { countSqliteStatements, type SqliteCounts } from "./support/sqlite-count.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    warmup: { type: "string", default: "2" },
    users: { type: "string", default: "64" },
    concurrency: { type: "string", default: "1,16" },
    load: { type: "string", default: "child,in-process" },
    repeat: { type: "string", default: "1" },
    statements: { type: "boolean", default: false },
    profile: { type: "string" },
    sign: { type: "string", default: "before" },
    health: { type: "boolean", default: false },
    "load-child": { type: "boolean", default: false },
  },
});
const SECONDS = Number(values.seconds);
/** Seconds of each load's baseline and flows before the cells, not reported. */
const WARMUP = Number(values.warmup);
const USERS = Number(values.users);
const CONCURRENCY = String(values.concurrency).split(",").map(Number);
const LOADS = String(values.load).split(",") as Array<"child" | "in-process">;
const REPEAT = Number(values.repeat);
/** When the SDK signs a flow's two JWTs: "before" the timed window (the default), or "during" each flow. */
const SIGN = String(values.sign) as "before" | "during";
if (SIGN !== "before" && SIGN !== "during") throw new Error("--sign is before or during");
const ADMIN = { name: "bench" };
const REDIRECT = "https://portal.example.edu/callback";

type Scenario = "bare" | "health" | "flow";
type Step = "sdk" | "authorize" | "passcode" | "token";

interface Setup {
  ca: string;
  bareURL: string;
  host: string;
  clientId: string;
  clientSecret: string;
  users: Array<{ name: string; keyHex: string; counter: number }>;
}

interface Cell {
  ops: number;
  seconds: number;
  p50: number;
  p99: number;
  /** Median ms of each step of a flow. */
  steps: Record<Step, number>;
  /** Each user's next HOTP counter, handed back so the other load mode goes on from there. */
  counters: number[];
  /** CPU time of the process that ran the load, per operation (ms): the client's own cost. */
  loadCpuMs: number;
  /** --sign before: flows whose JWTs the SDK had to sign in the timed window (none signed in advance was left). */
  signedLate: number;
}

type ToLoad =
  | { kind: "setup"; setup: Setup }
  | { kind: "run"; scenario: Scenario; inFlight: number; counters: number[]; seconds: number }
  | { kind: "close" };
type FromLoad = { kind: "ready" } | { kind: "result"; cell: Cell } | { kind: "failed"; error: string };

// ---------------------------------------------------------------- the load: the SDK and the HTTPS client

interface Reply {
  status: number;
  location: string | undefined;
  body: string;
}

/** The client side of the bench, wherever it runs: the bare POST and one complete flow, timed step by step. */
function makeLoad(setup: Setup) {
  const agent = new https.Agent({ ca: setup.ca, keepAlive: true, maxSockets: 256 });
  const client = new Client({
    clientId: setup.clientId,
    clientSecret: setup.clientSecret,
    apiHost: setup.host,
    redirectUrl: REDIRECT,
  });
  (client as unknown as { axios: { defaults: { httpsAgent: unknown } } }).axios.defaults.httpsAgent = agent;
  const sdk = client as unknown as { createJwtPayload(aud: string): Promise<string> };
  const users = setup.users.map((u) => ({ ...u, key: Buffer.from(u.keyHex, "hex") }));

  function request(url: string, method: string, form?: Record<string, string>): Promise<Reply> {
    const body = form ? new URLSearchParams(form).toString() : undefined;
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { method, agent, headers: body ? { "content-type": "application/x-www-form-urlencoded" } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              location: res.headers.location,
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  const steps: Record<Step, number[]> = { sdk: [], authorize: [], passcode: [], token: [] };
  const timed = async <T>(step: Step, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      steps[step].push(performance.now() - t0);
    }
  };

  const tokenURL = `https://${setup.host}/oauth/v1/token`;
  /** What the SDK signs for one flow: the authorization URL with its request JWT, and the client assertion. */
  interface Signed {
    url: string;
    assertion: string;
  }
  const sign = async (user: { name: string }): Promise<Signed> => ({
    url: await client.createAuthUrl(user.name, client.generateState()),
    assertion: await sdk.createJwtPayload(tokenURL),
  });
  /** --sign before: each worker's flows signed before the timed window, in the order the worker makes them. */
  let presigned: Signed[][] = [];
  /** Flows that found nothing signed in advance and had the SDK sign in the timed window. */
  let signedLate = 0;
  const userOf = (worker: number, inFlight: number, n: number) =>
    // Each worker owns every inFlight-th user, so one user's codes arrive in order.
    users[worker + inFlight * (n % Math.floor(users.length / inFlight))]!;

  /** One login as an application and its user make it: authorize, the prompt's passcode form, the code exchange. */
  async function flow(worker: number, inFlight: number, round: { n: number }): Promise<void> {
    const n = round.n++;
    const user = userOf(worker, inFlight, n);
    let signed = presigned[worker]?.[n];
    if (!signed) {
      if (SIGN === "before") signedLate++;
      signed = await timed("sdk", () => sign(user));
    }
    const authorize = await timed("authorize", () => request(signed.url, "GET"));
    if (authorize.status !== 302 || !authorize.location?.startsWith("/prompt/"))
      throw new Error(`authorize: ${authorize.status}`);
    const code = generateHOTP({ key: user.key, algorithm: "SHA1", digits: 6 }, user.counter++);
    const passcode = await timed("passcode", () =>
      request(`https://${setup.host}${authorize.location}/passcode`, "POST", { passcode: code }),
    );
    const back = passcode.location ? new URL(passcode.location) : undefined;
    const duoCode = back?.searchParams.get("duo_code");
    if (passcode.status !== 303 || !duoCode)
      throw new Error(`passcode: ${passcode.status} ${passcode.body.slice(0, 200)}`);
    const token = await timed("token", () =>
      request(tokenURL, "POST", {
        grant_type: "authorization_code",
        code: duoCode,
        redirect_uri: REDIRECT,
        client_id: setup.clientId,
        client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion: signed.assertion,
      }),
    );
    if (token.status !== 200 || !token.body.includes('"id_token"'))
      throw new Error(`token: ${token.status} ${token.body}`);
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

  /** Closed loop: `inFlight` workers, each sending its next operation as soon as the last one is answered. */
  async function run(
    scenario: Scenario,
    inFlight: number,
    counters: number[],
    duration = SECONDS,
  ): Promise<Cell> {
    if (users.length < inFlight) throw new Error("--users must be at least the concurrency");
    users.forEach((u, i) => {
      u.counter = counters[i]!;
    });
    for (const list of Object.values(steps)) list.length = 0;
    const rounds = Array.from({ length: inFlight }, () => ({ n: 0 }));
    // The SDK's JWTs live 300 s; a cell lasts seconds. Enough for about 1,000 flows per second per worker, up to
    // 3,000 in all; a worker that runs out signs the rest in the window, and the table says how many.
    presigned = [];
    signedLate = 0;
    if (scenario === "flow" && SIGN === "before") {
      const each = Math.ceil((duration * 1000 * Math.min(inFlight, 3)) / inFlight);
      for (let w = 0; w < inFlight; w++) {
        const list: Signed[] = [];
        for (let n = 0; n < each; n++) list.push(await sign(userOf(w, inFlight, n)));
        presigned.push(list);
      }
    }
    const op =
      scenario === "bare"
        ? () => request(setup.bareURL, "POST", { a: "b" }).then(() => undefined)
        : scenario === "health"
          ? () => request(`https://${setup.host}/health`, "GET").then(() => undefined)
          : (w: number) => flow(w, inFlight, rounds[w]!);
    const latencies: number[] = [];
    const cpu = process.cpuUsage();
    const start = performance.now();
    const deadline = start + duration * 1000;
    await Promise.all(
      Array.from({ length: inFlight }, async (_, worker) => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          await op(worker);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    latencies.sort((a, b) => a - b);
    const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
    return {
      ops: latencies.length,
      seconds,
      p50: at(0.5),
      p99: at(0.99),
      steps: {
        sdk: median(steps.sdk),
        authorize: median(steps.authorize),
        passcode: median(steps.passcode),
        token: median(steps.token),
      },
      counters: users.map((u) => u.counter),
      loadCpuMs: (used.user + used.system) / 1000 / Math.max(1, latencies.length),
      signedLate,
    };
  }

  return { run, close: () => agent.destroy() };
}

/** The child process: waits for the setup, then runs each cell it is asked for. */
async function childMain(): Promise<void> {
  let load: ReturnType<typeof makeLoad> | undefined;
  const reply = (m: FromLoad) => process.send!(m);
  process.on("message", async (m: ToLoad) => {
    try {
      if (m.kind === "setup") {
        load = makeLoad(m.setup);
        reply({ kind: "ready" });
      } else if (m.kind === "run")
        reply({ kind: "result", cell: await load!.run(m.scenario, m.inFlight, m.counters, m.seconds) });
      else {
        load?.close();
        process.disconnect();
      }
    } catch (error) {
      reply({ kind: "failed", error: error instanceof Error ? error.message : String(error) });
    }
  });
}

class LoadChild {
  private constructor(private readonly child: ChildProcess) {}

  static start(): LoadChild {
    return new LoadChild(
      fork(fileURLToPath(import.meta.url), [...process.argv.slice(2), "--load-child"], {
        // The server's process may be profiled (--cpu-prof); the load's is not.
        execArgv: process.execArgv.filter((a) => !a.startsWith("--cpu-prof")),
      }),
    );
  }

  async ask(m: ToLoad): Promise<Cell | undefined> {
    const answer = once(this.child, "message") as Promise<[FromLoad]>;
    this.child.send(m);
    const [reply] = await answer;
    if (reply.kind === "failed") throw new Error(`load: ${reply.error}`);
    return reply.kind === "result" ? reply.cell : undefined;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.connected) return;
    const exited = once(this.child, "exit");
    this.child.send({ kind: "close" } satisfies ToLoad);
    await exited;
  }
}

// ---------------------------------------------------------------- what the server does (this process)

/** Requests this process's HTTP servers began answering. */
const requests = { started: 0 };
/** Statements SQLite ran and commits among them (counted once countServerWork has run). */
let sqlite: SqliteCounts = { statements: 0, commits: 0 };
/** --statements: how often each statement ran, by its text (reset before each flow cell). */
const bySource = new Map<string, { n: number; ms: number }>();
function countServerWork(): void {
  diagnostics.subscribe("http.server.request.start", () => {
    requests.started++;
  });
  sqlite = countSqliteStatements(
    values.statements
      ? (source, ms) => {
          const seen = bySource.get(source);
          if (seen) {
            seen.n++;
            seen.ms += ms;
          } else bySource.set(source, { n: 1, ms });
        }
      : undefined,
  );
}

interface Row {
  load: "child" | "in-process";
  scenario: Scenario;
  inFlight: number;
  cell: Cell;
  /** Per operation, in this process (the server's, plus the client's when the load is in-process). */
  requests: number;
  statements: number;
  commits: number;
  cpuMs: number;
  /** Of cpuMs, the time in the kernel (socket and WAL writes). */
  systemMs: number;
}

async function main(): Promise<void> {
  countServerWork();
  const dir = mkdtempSync(join(tmpdir(), "twofold-bench-prompt-"));
  const certs = makeCertificates(dir, {
    caName: "bench CA",
    commonName: "localhost",
    subjectAltName: "DNS:localhost",
  });

  // Bare Fastify with the same TLS: one small form POST answered with JSON.
  const bare = fastify({ https: { cert: readFileSync(certs.cert), key: readFileSync(certs.key) } });
  bare.post("/echo", async () => ({ ok: true }));
  bare.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_r, b, done) =>
    done(null, b),
  );
  await bare.listen({ host: "127.0.0.1", port: 0 });

  // Twofold as deployed: production mode, a fresh SQLite file, TLS, info logs; HOTP tokens for the users.
  const t = await createTestRuntime({
    systemClock: true,
    // Info logs through the server's own destination, as deployed (bench/authapi does the same).
    logDestination: logDestination("/dev/null"),
    overrides: {
      mode: "production",
      "server.host": "127.0.0.1",
      "server.tls.cert": certs.cert,
      "server.tls.key": certs.key,
      "policy.throttle.enabled": false,
    },
  });
  const server = await startServer(t.runtime);
  const { services } = t.runtime;
  const created = await services.createApplication(ADMIN, {
    name: "Bench Portal",
    type: "web-sdk",
    redirectURIs: [REDIRECT],
    // No "Trust this browser?" step: the flow measured is authorize → passcode → token.
    policy: { rememberDays: 0 },
  });
  const setup: Setup = {
    ca: readFileSync(certs.ca, "utf8"),
    bareURL: `https://localhost:${(bare.server.address() as AddressInfo).port}/echo`,
    host: `localhost:${new URL(server.url).port}`,
    clientId: created.application.id,
    clientSecret: created.secretKey.reveal(),
    users: [],
  };
  for (let i = 0; i < USERS; i++) {
    const name = `bench-${i}`;
    const key = randomBytes(20);
    await services.createUser(ADMIN, { username: name });
    await services.importTokens(ADMIN, [
      {
        serial: `B-${i}`,
        type: "hotp",
        algorithm: "SHA1",
        digits: 6,
        period: null,
        counter: 0,
        secret: key,
        manufacturer: null,
        model: null,
      },
    ]);
    await services.assignToken(ADMIN, `B-${i}`, name);
    setup.users.push({ name, keyHex: Buffer.from(key).toString("hex"), counter: 0 });
  }

  let counters = setup.users.map(() => 0);
  const rows: Row[] = [];
  const loadavg: number[][] = [os.loadavg()];
  const child = LoadChild.start();
  const inProcess = makeLoad(setup);
  // --profile: the server's CPU profile during each flow cell with the load in the child (open in Chrome DevTools).
  const profiler = new Session();
  if (values.profile) {
    profiler.connect();
    await profiler.post("Profiler.enable");
  }
  try {
    await child.ask({ kind: "setup", setup });
    // Warm-up, not reported: every cell then runs on code the JIT has compiled (the first cell was slower, whichever
    // it was), for the baseline and the flows alike.
    const warmInFlight = Math.max(...CONCURRENCY);
    if (WARMUP > 0)
      for (const load of LOADS)
        for (const scenario of ["bare", "flow"] as const) {
          const cell =
            load === "child"
              ? (await child.ask({
                  kind: "run",
                  scenario,
                  inFlight: warmInFlight,
                  counters,
                  seconds: WARMUP,
                }))!
              : await inProcess.run(scenario, warmInFlight, counters, WARMUP);
          counters = cell.counters;
        }
    for (let round = 0; round < REPEAT; round++)
      for (const inFlight of CONCURRENCY)
        for (const load of LOADS)
          for (const scenario of ["bare", ...(values.health ? (["health"] as const) : []), "flow"] as const) {
            const before = { requests: requests.started, ...sqlite };
            bySource.clear();
            const profiling = values.profile && load === "child" && scenario === "flow";
            if (profiling) await profiler.post("Profiler.start");
            const cpu = process.cpuUsage();
            const cell =
              load === "child"
                ? (await child.ask({ kind: "run", scenario, inFlight, counters, seconds: SECONDS }))!
                : await inProcess.run(scenario, inFlight, counters);
            const used = process.cpuUsage(cpu);
            if (profiling) {
              const { profile } = await profiler.post("Profiler.stop");
              const file = `${values.profile}-${inFlight}-${round}.cpuprofile`;
              writeFileSync(file, JSON.stringify(profile));
              console.log(`server profile of the flows (${inFlight} in flight): ${file}`);
            }
            counters = cell.counters;
            const per = (n: number) => n / cell.ops;
            rows.push({
              load,
              scenario,
              inFlight,
              cell,
              requests: per(requests.started - before.requests),
              statements: per(sqlite.statements - before.statements),
              commits: per(sqlite.commits - before.commits),
              cpuMs: per((used.user + used.system) / 1000),
              systemMs: per(used.system / 1000),
            });
            loadavg.push(os.loadavg());
            if (values.statements && scenario === "flow") {
              console.log(`\nstatements per flow (${load}, ${inFlight} in flight):`);
              console.log("  runs  µs each  statement");
              for (const [source, { n, ms }] of [...bySource].sort((a, b) => b[1].n - a[1].n))
                console.log(
                  `${(n / cell.ops).toFixed(2).padStart(6)}  ${((ms * 1000) / n).toFixed(1).padStart(7)}  ${source.replace(/\s+/g, " ").slice(0, 150)}`,
                );
            }
          }
  } finally {
    await child.close();
    inProcess.close();
    await server.close();
    await t.close();
    await bare.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const load1 = loadavg.map((l) => l[0]!);
  console.log(
    `\nbench/prompt — ${SECONDS}s per cell, ${USERS} users with HOTP tokens, HTTPS, node ${process.version}, ` +
      `${os.cpus().length} CPUs, the SDK's JWTs signed ${SIGN === "before" ? "before the timed window" : "in each flow"}, ${new Date().toISOString()}, load average (1 min) ${Math.min(...load1).toFixed(1)}–${Math.max(...load1).toFixed(1)}\n`,
  );
  console.log(
    "| load | in flight | scenario | operations | per second | p50 ms | p99 ms | ÷ bare | requests/op | SQL/op | commits/op | server CPU ms/op | load CPU ms/op |",
  );
  console.log("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  rows.forEach((r, i) => {
    // The bare cell run just before this one, same load and concurrency.
    const base = rows
      .slice(0, i + 1)
      .findLast((b) => b.load === r.load && b.inFlight === r.inFlight && b.scenario === "bare")!;
    const perSecond = r.cell.ops / r.cell.seconds;
    const ratio = perSecond / (base.cell.ops / base.cell.seconds);
    const name =
      r.scenario === "bare"
        ? "bare Fastify: form POST (baseline)"
        : r.scenario === "health"
          ? "Twofold GET /health (the HTTP layer alone)"
          : "prompt flow: authorize → passcode → token";
    const cpu =
      r.load === "child"
        ? `${r.cpuMs.toFixed(2)} (kernel ${r.systemMs.toFixed(2)})`
        : `(${r.cpuMs.toFixed(2)} with client)`;
    // The child's own CPU: when it nears 1 / (operations per second), the load, not the server, sets the rate.
    const loadCpu = r.load === "child" ? r.cell.loadCpuMs.toFixed(2) : "–";
    console.log(
      `| ${r.load} | ${r.inFlight} | ${name} | ${r.cell.ops} | ${perSecond.toFixed(0)} | ${r.cell.p50.toFixed(2)} | ${r.cell.p99.toFixed(2)} | ${ratio.toFixed(3)} | ${r.requests.toFixed(2)} | ${r.statements.toFixed(1)} | ${r.commits.toFixed(2)} | ${cpu} | ${loadCpu} |`,
    );
  });
  console.log("");
  for (const r of rows.filter((x) => x.scenario === "flow")) {
    const shown = Object.entries(r.cell.steps).filter(([k]) => k !== "sdk" || SIGN === "during");
    console.log(
      `${r.load}, ${r.inFlight} in flight, median ms per step: ${shown
        .map(([k, ms]) => `${k} ${ms.toFixed(2)}`)
        .join(", ")}${SIGN === "during" ? " (sdk: the SDK signing its two JWTs)" : ""}` +
        (r.cell.signedLate
          ? `; ${r.cell.signedLate} flows signed in the window (none left from before)`
          : ""),
    );
  }
}

if (values["load-child"]) await childMain();
else await main();
