// bench/sms-guard: SMS send decisions per second (every check: stops, country, breaker, six quotas, spend) beside passcode
// verifications in the same run, on SQLite and PostgreSQL. Usage: npm run bench:sms-guard [-- --seconds 3 --concurrency 16]
import { parseArgs } from "node:util";
import { createGuardContext, hkNumber } from "../test/sms/support.ts";
import { postgresAvailable } from "../test/support/stores.ts";
import { type DriveResult, drive } from "./support/drive.ts";
import { createTOTPUsers } from "./support/totp-users.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "16" },
    users: { type: "string", default: "200" },
  },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const USERS = Number(values.users);

type Row = DriveResult;
const run = { seconds: SECONDS, concurrency: CONCURRENCY };

async function benchDialect(dialect: "sqlite" | "postgres"): Promise<Row[]> {
  // Wide limits, so that every decision runs every check and the allowed ones are allowed.
  const g = await createGuardContext(dialect, {
    "sms.guard.perApplication.perWindow": 1_000_000,
    "sms.guard.perApplication.perDay": 10_000_000,
    "sms.guard.perCountry.perWindow": 1_000_000,
    "sms.guard.perCountry.perDay": 10_000_000,
    "sms.guard.perPrefix.perWindow": 1_000_000,
    "sms.guard.perPrefix.perDay": 10_000_000,
    "sms.guard.perAddress.perWindow": 1_000_000,
    "sms.guard.perAddress.perDay": 10_000_000,
    "sms.guard.spend.dailyCap": 1_000_000,
  });
  try {
    const users = await createTOTPUsers(g.services, () => g.t.clock.now(), USERS);
    g.t.clock.advance(30_000);
    const prefixes = Array.from({ length: 90 }, (_, k) => String(6100 + k));
    // Each decision a new user and number: the quotas are read and the text is reserved (6 statements).
    const allowed = await drive(`${dialect}: SMS send decision, allowed`, run, async (i) => {
      const d = await g.send({
        userId: `U-${i}`,
        phoneE164: hkNumber(prefixes[i % prefixes.length]!, i % 10_000),
        ip: `198.51.${100 + (i % 100)}.${i % 250}`,
      });
      return d.allow;
    });
    // One user asking again and again: refused at the user quota (the refusal is counted). Their first 3 go out.
    const flood = { userId: "U-flood", phoneE164: hkNumber("9200", 1), ip: "203.0.113.9" };
    for (let k = 0; k < 3; k++) await g.send(flood);
    const refused = await drive(`${dialect}: SMS send decision, refused (user quota)`, run, async () => {
      const d = await g.send(flood);
      return !d.allow;
    });
    const passcode = await drive(`${dialect}: passcode verification (valid TOTP)`, run, async (i) => {
      const u = users[i % USERS]!;
      const r = await g.services.verifyPasscode({ username: u.name, passcode: u.code(g.t.clock.now()) });
      if (i % USERS === USERS - 1) g.t.clock.advance(30_000);
      return r.result === "allow" || r.reason === "invalid_passcode";
    });
    return [allowed, refused, passcode];
  } finally {
    await g.close();
  }
}

const rows: Row[] = [...(await benchDialect("sqlite"))];
if (await postgresAvailable()) rows.push(...(await benchDialect("postgres")));
console.log(`${SECONDS} s per scenario, ${CONCURRENCY} in flight, Node ${process.version}`);
console.log("| scenario | ops | per second | p50 ms | p99 ms |");
console.log("|---|---:|---:|---:|---:|");
for (const r of rows)
  console.log(
    `| ${r.scenario} | ${r.ops} | ${Math.round(r.perSecond)} | ${r.p50ms.toFixed(2)} | ${r.p99ms.toFixed(2)} |`,
  );
