// bench/webauthn: WebAuthn assertions verified per second beside passcode verifications, same run, SQLite and PostgreSQL.
// Usage: npm run bench:webauthn [-- --seconds 3 --users 200 --concurrency 16]
import { parseArgs } from "node:util";
import { createTestContext, type TestContext } from "../test/support/deps.ts";
import { enrollActiveTOTP } from "../test/support/factors.ts";
import { SoftAuthenticator } from "../test/support/soft-authenticator.ts";
import { postgresAvailable } from "../test/support/stores.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    users: { type: "string", default: "200" },
    concurrency: { type: "string", default: "16" },
  },
});
const SECONDS = Number(values.seconds);
const USERS = Number(values.users);
const CONCURRENCY = Number(values.concurrency);
const ORIGIN = "https://login.example.edu";

interface Row {
  scenario: string;
  ops: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Run `op` from CONCURRENCY workers until the time is up or `limit` operations have started. */
async function drive(scenario: string, op: (i: number) => Promise<boolean>, limit = Infinity): Promise<Row> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline && next < limit) {
        const i = next++;
        const t0 = performance.now();
        if (!(await op(i))) failures++;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  if (failures > 0) throw new Error(`${scenario}: ${failures} operations gave an unexpected result`);
  latencies.sort((a, b) => a - b);
  return {
    scenario,
    ops: latencies.length,
    perSecond: latencies.length / seconds,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
  };
}

async function benchDialect(dialect: "sqlite" | "postgres"): Promise<Row[]> {
  const t: TestContext = await createTestContext(dialect, {
    "webauthn.rpId": "example.edu",
    "webauthn.origins": [ORIGIN],
    "webauthn.maxCeremoniesPerUser": 1000,
    "webauthn.maxCeremoniesPerSource": 100_000,
    "policy.lockout.maxFailures": 100,
    "policy.lockout.delayAfter": 100,
  });
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
    const passcode = await drive(`${dialect}: passcode verification, valid TOTP (allow)`, async (i) => {
      const u = users[i % USERS]!;
      const r = await t.services.verifyPasscode({ username: u.name, passcode: u.code(t.clock.now()) });
      if (i % USERS === USERS - 1) t.clock.advance(30_000);
      return r.result === "allow" || r.reason === "invalid_passcode";
    });

    // Assertions verified: ceremonies begun and signed beforehand (the browser's and the authenticator's part), so
    // the timed part is finishWebAuthnAuthentication alone — the server's verification, as a passcode check is.
    const prepared: { ceremonyId: string; response: unknown }[] = [];
    const want = Math.ceil(passcode.perSecond * SECONDS * 1.5);
    for (let i = 0; i < want; i++) {
      const u = users[i % USERS]!;
      const s = await t.services.beginWebAuthnAuthentication({ username: u.name, context: "bench" });
      prepared.push({ ceremonyId: s.ceremonyId, response: u.key.assert(s.options) });
    }
    const assertion = await drive(
      `${dialect}: WebAuthn assertion verification (allow)`,
      async (i) => {
        const p = prepared[i]!;
        const r = await t.services.finishWebAuthnAuthentication({ ...p, context: "bench" });
        return r.result === "allow";
      },
      prepared.length,
    );

    // The whole server side of a login with a key: begin (a ceremony row) and finish, the signing in between.
    const ceremony = await drive(`${dialect}: WebAuthn login, begin + finish (allow)`, async (i) => {
      const u = users[i % USERS]!;
      const s = await t.services.beginWebAuthnAuthentication({ username: u.name, context: "bench" });
      const r = await t.services.finishWebAuthnAuthentication({
        ceremonyId: s.ceremonyId,
        context: "bench",
        response: u.key.assert(s.options),
      });
      return r.result === "allow";
    });
    return [passcode, assertion, ceremony];
  } finally {
    await t.close();
  }
}

const results: Row[][] = [await benchDialect("sqlite")];
if (await postgresAvailable()) results.push(await benchDialect("postgres"));
else console.error("PostgreSQL unreachable: its rows are missing");

const fmt = (n: number, d = 0) => n.toFixed(d);
console.log(
  `\nbench/webauthn — ${SECONDS}s per scenario, ${USERS} users, ${CONCURRENCY} in flight, node ${process.version}\n`,
);
console.log("| scenario | ops | ops/s | ÷ passcode | p50 ms | p99 ms |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const rows of results) {
  const base = rows[0]!.perSecond;
  for (const r of rows)
    console.log(
      `| ${r.scenario} | ${r.ops} | ${fmt(r.perSecond)} | ${(r.perSecond / base).toFixed(2)}× | ${fmt(r.p50ms, 2)} | ${fmt(r.p99ms, 2)} |`,
    );
}
