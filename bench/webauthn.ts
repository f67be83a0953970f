// bench/webauthn: WebAuthn assertions verified per second beside passcode verifications, same run, SQLite and PostgreSQL.
// Usage: npm run bench:webauthn [-- --seconds 6 --rounds 6 --users 1000 --concurrency 16 --dialect sqlite|postgres|both]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { RunningClock } from "../test/support/clock.ts";
import { createTestContext, type TestContext } from "../test/support/deps.ts";
import { enrollActiveTOTP } from "../test/support/factors.ts";
import { SoftAuthenticator } from "../test/support/soft-authenticator.ts";
import { postgresAvailable } from "../test/support/stores.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "6" },
    rounds: { type: "string", default: "6" },
    // Each user's key signs with a counter that must grow (F4), and one check may finish a few milliseconds after
    // a later one on the thread pool: a user's turns are as far apart as 1,000 logins (about 0.1 s here; a person
    // needs seconds between two touches of a key).
    users: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "16" },
    dialect: { type: "string", default: "both" },
  },
});
const SECONDS = Number(values.seconds);
const USERS = Number(values.users);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
const ORIGIN = "https://login.example.edu";

interface Row {
  scenario: string;
  ops: number;
  seconds: number;
  latencies: number[];
  perSecond?: number;
  /** CPU of the event loop's thread (the main thread), in µs; undefined where /proc is not there to read it. */
  mainCpuMicros: number | undefined;
}

/** The main thread's CPU time so far (Linux: /proc/self/task/<pid>/stat, in clock ticks of 10 ms), in µs. */
function mainThreadCpu(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Run `op` from CONCURRENCY workers for `ms`, or until `limit` operations have started. */
async function drive(
  scenario: string,
  op: () => Promise<boolean>,
  ms: number,
  limit = Infinity,
): Promise<Row> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const cpu = mainThreadCpu();
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline && next < limit) {
        next++;
        const t0 = performance.now();
        if (!(await op())) failures++;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpuAfter = mainThreadCpu();
  if (failures > 0) throw new Error(`${scenario}: ${failures} operations gave an unexpected result`);
  return {
    scenario,
    ops: latencies.length,
    seconds,
    latencies,
    mainCpuMicros: cpu === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpu,
  };
}

/** One scenario's slices as one row. */
function merge(rows: Row[]): Row & { perSecond: number; p50ms: number; p99ms: number } {
  const latencies = rows.flatMap((r) => r.latencies).sort((x, y) => x - y);
  const seconds = rows.reduce((sum, r) => sum + r.seconds, 0);
  const cpu = rows.every((r) => r.mainCpuMicros !== undefined)
    ? rows.reduce((sum, r) => sum + (r.mainCpuMicros as number), 0)
    : undefined;
  return {
    scenario: rows[0]!.scenario,
    ops: latencies.length,
    seconds,
    latencies,
    mainCpuMicros: cpu,
    perSecond: latencies.length / seconds,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
  };
}

type Result = ReturnType<typeof merge>;

async function benchDialect(dialect: "sqlite" | "postgres"): Promise<Result[]> {
  // The clock runs as time does (and leaps a TOTP step for each pass over the users): the rows of a slice do not
  // all carry one millisecond.
  const t: TestContext = await createTestContext(
    dialect,
    {
      "webauthn.rpId": "example.edu",
      "webauthn.origins": [ORIGIN],
      "webauthn.maxCeremoniesPerUser": 1000,
      "webauthn.maxCeremoniesPerSource": 100_000,
      "policy.lockout.maxFailures": 100,
      "policy.lockout.delayAfter": 100,
    },
    new RunningClock(),
  );
  try {
    const users: { name: string; code: (ms?: number) => string; key: SoftAuthenticator }[] = [];
    for (let i = 0; i < USERS; i++) {
      const name = `bench-${i}`;
      const app = await enrollActiveTOTP(t, name);
      const login = await t.services.verifyPasscode({ username: name, passcode: app.codeAt() });
      const key = new SoftAuthenticator({ origin: ORIGIN });
      const reg = await t.services.beginWebAuthnRegistration({
        username: name,
        proof: { txid: login.txid },
        context: "bench",
      });
      const done = await t.services.finishWebAuthnRegistration({
        ceremonyId: reg.ceremonyId,
        context: "bench",
        response: key.register(reg.options),
      });
      if (done.result !== "registered") throw new Error(`registration failed: ${done.reason}`);
      users.push({ name, code: app.codeAt, key });
    }
    t.clock.advance(30_000);

    // The passcode baseline: valid TOTP codes, each user's once per step (the clock moves a step per pass).
    let p = 0;
    const passcodeOp = async () => {
      const i = p++;
      const u = users[i % USERS]!;
      const r = await t.services.verifyPasscode({ username: u.name, passcode: u.code(t.clock.now()) });
      if (i % USERS === USERS - 1) t.clock.advance(30_000);
      return r.result === "allow" || r.reason === "invalid_passcode";
    };

    // Assertions verified: ceremonies begun and signed beforehand (the browser's and the authenticator's part), so
    // the timed part is finishWebAuthnAuthentication alone — the server's verification, as a passcode check is.
    // At most 9,000 per slice: a node remembers the last 10,000 logins with a key it began (a browser answers within
    // seconds), and a finish that comes back to it is decided without a transaction. A slice that uses them all up
    // ends early; its rate is what counts.
    let a = 0;
    const prepared: { ceremonyId: string; response: unknown }[] = [];
    const prepare = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const u = users[(a + prepared.length) % USERS]!;
        const s = await t.services.beginWebAuthnAuthentication({ username: u.name, context: "bench" });
        prepared.push({ ceremonyId: s.ceremonyId, response: u.key.assert(s.options) });
      }
    };
    const assertionOp = async () => {
      const next = prepared[a++];
      if (!next) throw new Error("not enough prepared assertions");
      const r = await t.services.finishWebAuthnAuthentication({ ...next, context: "bench" });
      return r.result === "allow";
    };

    // The whole server side of a login with a key: begin (a ceremony row) and finish, the signing in between.
    let c = 0;
    const ceremonyOp = async () => {
      const u = users[c++ % USERS]!;
      const s = await t.services.beginWebAuthnAuthentication({ username: u.name, context: "bench" });
      const r = await t.services.finishWebAuthnAuthentication({
        ceremonyId: s.ceremonyId,
        context: "bench",
        response: u.key.assert(s.options),
      });
      return r.result === "allow";
    };

    // The scenarios take turns in short slices, so a load that comes and goes on a shared machine falls on
    // each of them alike: the ratios are what this bench is for.
    const totals = new Map<string, Row[]>();
    let rate = 1000;
    for (let round = 0; round < ROUNDS; round++) {
      const slice = (SECONDS * 1000) / ROUNDS;
      const pass = await drive(`${dialect}: passcode verification, valid TOTP (allow)`, passcodeOp, slice);
      rate = Math.max(rate, pass.ops / pass.seconds);
      // Leftovers were signed before the last slice's logins: their counters are behind now.
      prepared.length = 0;
      a = 0;
      await prepare(Math.min(9_000, Math.ceil((rate * slice * 2) / 1000) + CONCURRENCY));
      const assertion = await drive(
        `${dialect}: WebAuthn assertion verification (allow)`,
        assertionOp,
        slice,
        prepared.length,
      );
      const ceremony = await drive(`${dialect}: WebAuthn login, begin + finish (allow)`, ceremonyOp, slice);
      for (const row of [pass, assertion, ceremony])
        totals.set(row.scenario, [...(totals.get(row.scenario) ?? []), row]);
    }
    return [...totals.values()].map(merge);
  } finally {
    await t.close();
  }
}

const results: Result[][] = [];
if (values.dialect !== "postgres") results.push(await benchDialect("sqlite"));
if (values.dialect !== "sqlite") {
  if (await postgresAvailable()) results.push(await benchDialect("postgres"));
  else console.error("PostgreSQL unreachable: its rows are missing");
}

const fmt = (n: number, d = 0) => n.toFixed(d);
console.log(
  `\nbench/webauthn — ${SECONDS}s per scenario in ${ROUNDS} alternating slices, ${USERS} users, ${CONCURRENCY} in flight, node ${process.version}\n`,
);
// The event loop's CPU per operation: the bound on one node while the other core runs the P-256 checks.
console.log("| scenario | ops | ops/s | ÷ passcode | p50 ms | p99 ms | event loop µs/op |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const rows of results) {
  const base = rows[0]!.perSecond;
  for (const r of rows)
    console.log(
      `| ${r.scenario} | ${r.ops} | ${fmt(r.perSecond)} | ${(r.perSecond / base).toFixed(2)}× | ${fmt(r.p50ms, 2)} | ${fmt(r.p99ms, 2)} | ${r.mainCpuMicros === undefined ? "–" : fmt(r.mainCpuMicros / r.ops)} |`,
    );
}
