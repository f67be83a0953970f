// bench/passcode: passcode verifications per second through the core and store, on SQLite and PostgreSQL,
// beside the raw HMAC-SHA1 ceiling measured in the same run. Usage: npm run bench [-- --seconds 3]
import { parseArgs } from "node:util";
import { decodeBase32 } from "../src/core/base32.ts";
import { randomBytes } from "../src/core/crypto/index.ts";
import { generateHOTP } from "../src/core/otp/hotp.ts";
import { generateTOTP } from "../src/core/otp/totp.ts";
import { createTestContext, type TestContext } from "../test/support/deps.ts";
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
const ADMIN = { name: "bench" };

interface Row {
  scenario: string;
  ops: number;
  seconds: number;
  perSecond: number;
  p50ms: number | null;
  p99ms: number | null;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Run `op` from CONCURRENCY workers until the time is up; `op(i)` gets a global sequence number. */
async function drive(scenario: string, op: (i: number) => Promise<boolean>): Promise<Row> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
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
    seconds,
    perSecond: latencies.length / seconds,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
  };
}

function hmacCeiling(): Row {
  const params = { key: randomBytes(20), algorithm: "SHA1" as const, digits: 6 };
  let ops = 0;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) generateHOTP(params, ops++);
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    scenario: "raw HMAC-SHA1 HOTP code (ceiling)",
    ops,
    seconds,
    perSecond: ops / seconds,
    p50ms: null,
    p99ms: null,
  };
}

async function benchDialect(dialect: "sqlite" | "postgres"): Promise<Row[]> {
  const t: TestContext = await createTestContext(dialect, {
    "policy.lockout.maxFailures": 100,
    "policy.lockout.delayAfter": 100,
    "policy.bypass.maxUses": 1000,
    "policy.bypass.maxLivePerUser": 1000,
  });
  try {
    const users: { name: string; code: (ms: number) => string; bypass: string }[] = [];
    for (let i = 0; i < USERS; i++) {
      const name = `bench-${i}`;
      await t.services.createUser(ADMIN, { username: name });
      const e = await t.services.enrollTOTP(ADMIN, name);
      const params = {
        key: decodeBase32(e.secret.reveal())!,
        algorithm: "SHA1" as const,
        digits: 6,
        period: 30,
      };
      const code = (ms: number) => generateTOTP(params, ms);
      await t.services.confirmTOTP(ADMIN, e.credentialId, code(t.clock.now()));
      const bypass = (await t.services.issueBypassCodes(ADMIN, name, { uses: 1000 })).codes.reveal()[0]!;
      users.push({ name, code, bypass });
    }
    // Valid TOTP codes: each user's code is good once per step, so the clock moves a step per pass over the users.
    const validTOTP = await drive(`${dialect}: valid TOTP (allow)`, async (i) => {
      const u = users[i % USERS]!;
      const r = await t.services.verifyPasscode({ username: u.name, passcode: u.code(t.clock.now()) });
      if (i % USERS === USERS - 1) t.clock.advance(30_000);
      // Across a step change, a worker may submit an already-used step: that deny is expected.
      return r.result === "allow" || r.reason === "invalid_passcode";
    });
    const wrong = await drive(`${dialect}: wrong TOTP (deny)`, async (i) => {
      const u = users[i % USERS]!;
      const r = await t.services.verifyPasscode({ username: u.name, passcode: "000000" });
      return r.result === "deny";
    });
    for (const u of users) await t.services.unlockUser(ADMIN, u.name);
    const unknown = await drive(`${dialect}: unknown user (deny)`, async (i) => {
      const r = await t.services.verifyPasscode({ username: `nobody-${i}`, passcode: "123456" });
      return r.result === "deny";
    });
    const bypass = await drive(`${dialect}: bypass code (allow)`, async (i) => {
      const u = users[i % USERS]!;
      const r = await t.services.verifyPasscode({ username: u.name, passcode: u.bypass });
      return r.result === "allow";
    });
    return [validTOTP, wrong, unknown, bypass];
  } finally {
    await t.close();
  }
}

const rows: Row[] = [];
rows.push(hmacCeiling());
rows.push(...(await benchDialect("sqlite")));
if (await postgresAvailable()) rows.push(...(await benchDialect("postgres")));
else console.error("PostgreSQL unreachable: its rows are missing");

const ceiling = rows[0]!.perSecond;
const fmt = (n: number | null, d = 0) => (n === null ? "–" : n.toFixed(d));
console.log(
  `\nbench/passcode — ${SECONDS}s per scenario, ${USERS} users, ${CONCURRENCY} in flight, node ${process.version}\n`,
);
console.log("| scenario | ops | ops/s | share of HMAC ceiling | p50 ms | p99 ms |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.scenario} | ${r.ops} | ${fmt(r.perSecond)} | ${((r.perSecond / ceiling) * 100).toFixed(2)} % | ${fmt(r.p50ms, 2)} | ${fmt(r.p99ms, 2)} |`,
  );
}
