// bench/passcode: passcode verifications per second through the core and store, on SQLite and PostgreSQL,
// beside the raw HMAC-SHA1 ceiling measured in the same run. Usage: npm run bench [-- --seconds 3]
import { parseArgs } from "node:util";
import { randomBytes } from "../src/core/crypto/index.ts";
import { generateHOTP } from "../src/core/otp/hotp.ts";
import { createTestContext, type TestContext } from "../test/support/deps.ts";
import { postgresAvailable } from "../test/support/stores.ts";
import { type DriveResult, drive } from "./support/drive.ts";
import { createTOTPUsers, type TOTPUser } from "./support/totp-users.ts";

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

type Row = Omit<DriveResult, "p50ms" | "p99ms"> & { p50ms: number | null; p99ms: number | null };
const run = { seconds: SECONDS, concurrency: CONCURRENCY };

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
    const users: (TOTPUser & { bypass: string })[] = [];
    for (const u of await createTOTPUsers(t.services, () => t.clock.now(), USERS)) {
      const bypass = (await t.services.issueBypassCodes(ADMIN, u.name, { uses: 1000 })).codes.reveal()[0]!;
      users.push({ ...u, bypass });
    }
    // Valid TOTP codes: each user's code is good once per step, so the clock moves a step per pass over the users.
    const validTOTP = await drive(`${dialect}: valid TOTP (allow)`, run, async (i) => {
      const u = users[i % USERS]!;
      const r = await t.services.verifyPasscode({ username: u.name, passcode: u.code(t.clock.now()) });
      if (i % USERS === USERS - 1) t.clock.advance(30_000);
      // Across a step change, a worker may submit an already-used step: that deny is expected.
      return r.result === "allow" || r.reason === "invalid_passcode";
    });
    const wrong = await drive(`${dialect}: wrong TOTP (deny)`, run, async (i) => {
      const u = users[i % USERS]!;
      const r = await t.services.verifyPasscode({ username: u.name, passcode: "000000" });
      return r.result === "deny";
    });
    for (const u of users) await t.services.unlockUser(ADMIN, u.name);
    const unknown = await drive(`${dialect}: unknown user (deny)`, run, async (i) => {
      const r = await t.services.verifyPasscode({ username: `nobody-${i}`, passcode: "123456" });
      return r.result === "deny";
    });
    const bypass = await drive(`${dialect}: bypass code (allow)`, run, async (i) => {
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
