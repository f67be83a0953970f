// bench/sms-outbox: how long a login waits for its text (factor=sms through a local SMSC), and how many queued messages the outbox sends per second.
// Usage: npm run bench:sms [-- --logins 100 --messages 1000 --nodes 1]
import { parseArgs } from "node:util";
import type { Deps } from "../src/core/deps.ts";
import { enqueueMessage } from "../src/core/use-cases/outbox.ts";
import { ADMIN, createTestRuntime, enrollTOTPUser, type HTTPTestContext } from "../test/http/support.ts";
import { codeIn, TestSMSC } from "../test/support/smsc.ts";
import { type DialectName, dialects } from "../test/support/stores.ts";

const { values } = parseArgs({
  options: {
    logins: { type: "string", default: "100" },
    messages: { type: "string", default: "1000" },
  },
});
const LOGINS = Number(values.logins);
const MESSAGES = Number(values.messages);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(dialect: DialectName): Promise<void> {
  const smsc = new TestSMSC();
  await smsc.start();
  const t: HTTPTestContext = await createTestRuntime({
    dialect,
    logLevel: "warn",
    overrides: {
      "sms.gateways": [
        { type: "smpp", name: "smsc", url: smsc.url, systemId: "twofold", password: "secret" },
      ],
      "sms.sendDeadlineMs": 20_000,
    },
  });
  try {
    const { services } = t.runtime;
    const app = (await services.createApplication(ADMIN, { name: "VPN", type: "auth-api" })).application;
    const users: string[] = [];
    for (let i = 0; i < LOGINS; i++) {
      const name = `u${i}`;
      await enrollTOTPUser(t, name);
      const { phone } = await services.addSMSPhone(ADMIN, {
        user: name,
        number: `+8529${String(1000000 + i)}`,
      });
      const [verify] = (await smsc.waitForSubmits(i + 1)).slice(i);
      await services.confirmPhoneVerification(ADMIN, { phoneId: phone.id, code: codeIn(verify!.text) });
      users.push(name);
    }
    // A login's text: request → code committed → SMSC accepted → answer (what the user waits for).
    const waits: number[] = [];
    for (const name of users) {
      const user = await services.findUser(name);
      const started = performance.now();
      const r = await services.requestLoginSMS({
        user,
        username: name,
        application: app,
        ip: null,
        device: "auto",
      });
      waits.push(performance.now() - started);
      if (r.noCapableDevice || r.outcome.status !== "sent") throw new Error(`no text for ${name}`);
    }
    waits.sort((a, b) => a - b);
    // The outbox: MESSAGES queued, then sent by outbox passes on this node.
    const deps = { store: t.runtime.store, keyring: t.runtime.keyring, clock: t.clock } as unknown as Deps;
    for (let i = 0; i < MESSAGES; i++)
      await enqueueMessage(deps, {
        channel: "sms",
        userId: null,
        kind: "bench",
        destination: `+8529${String(2000000 + i)}`,
        body: `bench ${i}`,
      });
    const before = smsc.submitted.length;
    const started = performance.now();
    while (smsc.submitted.length < before + MESSAGES) {
      const r = await services.runOutbox(200);
      if (r.attempted === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `| ${dialect} | ${LOGINS} | ${percentile(waits, 50).toFixed(1)} | ${percentile(waits, 95).toFixed(1)} | ${MESSAGES} | ${(MESSAGES / seconds).toFixed(0)} |`,
    );
  } finally {
    await t.close();
    await smsc.stop();
  }
}

console.log("| database | logins | text wait p50 (ms) | p95 (ms) | queued messages | outbox sends/s |");
console.log("|---|---|---|---|---|---|");
for (const dialect of await dialects()) await run(dialect);
