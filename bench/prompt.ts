// bench/prompt: complete Universal Prompt flows per second (authorize → passcode in the prompt → token), over HTTPS, as
// Duo's Node SDK makes them, beside bare Fastify in the same run. Usage: npm run bench:prompt [-- --seconds 3]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "@duosecurity/duo_universal";
import fastify from "fastify";
import { randomBytes } from "../src/core/crypto/index.ts";
import { generateHOTP } from "../src/core/otp/hotp.ts";
import { startServer } from "../src/http/server.ts";
import { createTestRuntime } from "../test/http/support.ts";
import { makeCertificates } from "../test/support/certificates.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    users: { type: "string", default: "64" },
    concurrency: { type: "string", default: "1,16" },
  },
});
const SECONDS = Number(values.seconds);
const USERS = Number(values.users);
const CONCURRENCY = String(values.concurrency).split(",").map(Number);
const ADMIN = { name: "bench" };

const dir = mkdtempSync(join(tmpdir(), "twofold-bench-prompt-"));
const certs = makeCertificates(dir, {
  caName: "bench CA",
  commonName: "localhost",
  subjectAltName: "DNS:localhost",
});
const ca = readFileSync(certs.ca);
const agent = new https.Agent({ ca, keepAlive: true, maxSockets: 256 });

interface Reply {
  status: number;
  location: string | undefined;
  body: string;
}

function request(url: string, method: string, form?: Record<string, string>): Promise<Reply> {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        agent,
        headers: body ? { "content-type": "application/x-www-form-urlencoded" } : {},
      },
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

interface Row {
  scenario: string;
  inFlight: number;
  ops: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function drive(
  scenario: string,
  inFlight: number,
  op: (worker: number) => Promise<void>,
): Promise<Row> {
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
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
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return {
    scenario,
    inFlight,
    ops: latencies.length,
    perSecond: latencies.length / seconds,
    p50: at(0.5),
    p99: at(0.99),
  };
}

// Bare Fastify with the same TLS: one small form POST answered with JSON.
const bare = fastify({ https: { cert: readFileSync(certs.cert), key: readFileSync(certs.key) } });
bare.post("/echo", async () => ({ ok: true }));
bare.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_r, b, done) =>
  done(null, b),
);
await bare.listen({ host: "127.0.0.1", port: 0 });
const bareURL = `https://localhost:${(bare.server.address() as AddressInfo).port}/echo`;

// Twofold as deployed: production mode, a fresh SQLite file, TLS, info logs; HOTP tokens for the users.
const t = await createTestRuntime({
  systemClock: true,
  overrides: {
    mode: "production",
    "server.host": "127.0.0.1",
    "server.tls.cert": certs.cert,
    "server.tls.key": certs.key,
    "policy.throttle.enabled": false,
  },
});
const server = await startServer(t.runtime);
const host = `localhost:${new URL(server.url).port}`;
const { services } = t.runtime;
const created = await services.createApplication(ADMIN, {
  name: "Bench Portal",
  type: "web-sdk",
  redirectURIs: ["https://portal.example.edu/callback"],
});
const client = new Client({
  clientId: created.application.id,
  clientSecret: created.secretKey.reveal(),
  apiHost: host,
  redirectUrl: "https://portal.example.edu/callback",
});
(client as unknown as { axios: { defaults: { httpsAgent: unknown } } }).axios.defaults.httpsAgent = agent;
const sdk = client as unknown as { createJwtPayload(aud: string): Promise<string> };
const users: Array<{ name: string; key: Uint8Array; counter: number }> = [];
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
  users.push({ name, key, counter: 0 });
}

/** One login as an application and its user make it: authorize, the prompt's passcode form, the code exchange. */
async function flow(worker: number, inFlight: number, round: { n: number }): Promise<void> {
  // Each worker owns every inFlight-th user, so one user's codes arrive in order.
  const slots = Math.floor(USERS / inFlight);
  const user = users[worker + inFlight * (round.n++ % slots)]!;
  const state = client.generateState();
  const authorize = await request(await client.createAuthUrl(user.name, state), "GET");
  if (authorize.status !== 302 || !authorize.location?.startsWith("/prompt/"))
    throw new Error(`authorize: ${authorize.status}`);
  const code = generateHOTP({ key: user.key, algorithm: "SHA1", digits: 6 }, user.counter++);
  const passcode = await request(`https://${host}${authorize.location}/passcode`, "POST", { passcode: code });
  const back = passcode.location ? new URL(passcode.location) : undefined;
  const duoCode = back?.searchParams.get("duo_code");
  if (passcode.status !== 303 || !duoCode)
    throw new Error(`passcode: ${passcode.status} ${passcode.body.slice(0, 200)}`);
  const token = await request(`https://${host}/oauth/v1/token`, "POST", {
    grant_type: "authorization_code",
    code: duoCode,
    redirect_uri: "https://portal.example.edu/callback",
    client_id: created.application.id,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: await sdk.createJwtPayload(`https://${host}/oauth/v1/token`),
  });
  if (token.status !== 200 || !token.body.includes('"id_token"'))
    throw new Error(`token: ${token.status} ${token.body}`);
}

const rows: Row[] = [];
try {
  for (const inFlight of CONCURRENCY) {
    if (USERS % inFlight !== 0 && USERS < inFlight)
      throw new Error("--users must be at least the concurrency");
    rows.push(
      await drive("bare Fastify: form POST (baseline)", inFlight, () =>
        request(bareURL, "POST", { a: "b" }).then(() => undefined),
      ),
    );
    const workerRounds = Array.from({ length: inFlight }, () => ({ n: 0 }));
    rows.push(
      await drive("prompt flow: authorize → passcode → token", inFlight, (w) =>
        flow(w, inFlight, workerRounds[w]!),
      ),
    );
  }
} finally {
  await server.close();
  await t.close();
  await bare.close();
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `\nbench/prompt — ${SECONDS}s per cell, ${USERS} users with HOTP tokens, HTTPS, node ${process.version}\n`,
);
console.log("| in flight | scenario | operations | per second | p50 ms | p99 ms | ÷ bare |");
console.log("|---:|---|---:|---:|---:|---:|---:|");
for (const r of rows) {
  const base = rows.find((b) => b.inFlight === r.inFlight && b.scenario.startsWith("bare"))!;
  console.log(
    `| ${r.inFlight} | ${r.scenario} | ${r.ops} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.perSecond / base.perSecond).toFixed(3)} |`,
  );
}
