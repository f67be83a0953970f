// A real Runtime over a fresh test database (SQLite file or PostgreSQL schema) for HTTP tests, with captured logs.
import { loadConfig } from "../../src/config/load.ts";
import { decodeBase32 } from "../../src/core/base32.ts";
import { randomBytes } from "../../src/core/crypto/index.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import type { DemoInfo } from "../../src/runtime/demo-info.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { createRuntime, type Runtime } from "../../src/runtime/runtime.ts";
import { AdvancingClock, TestClock } from "../support/clock.ts";
import { createTestDatabase, type DialectName, PG_URL } from "../support/stores.ts";

export const ADMIN = { name: "test-admin" };

export interface HTTPTestContext {
  runtime: Runtime;
  /** The PostgreSQL schema (PostgreSQL runs), for a second node on the same data. */
  schema: string | undefined;
  clock: TestClock;
  /** The runtime's clock when it runs on the time of day (`systemClock`): moved forward, never back. */
  wallClock: AdvancingClock;
  /** Every log line the runtime wrote (JSON text). */
  logs: string[];
  close(): Promise<void>;
}

export async function createTestRuntime(
  options: {
    dialect?: DialectName;
    overrides?: Record<string, unknown>;
    webPushAllowHTTP?: boolean;
    /**
     * Run on the time of day (tests with real clients, which sign with the real time): `wallClock`, which a test
     * may move forward to let an interval pass; `clock` is then unused.
     */
    systemClock?: boolean;
    /** Level of the captured log (default info; debug to see every line an operator could turn on). */
    logLevel?: string;
    /** Where the log goes instead of `logs` (benchmarks: the server's own destination, as deployed). */
    logDestination?: { write(line: string): unknown };
  } = {},
): Promise<HTTPTestContext> {
  const dialect = options.dialect ?? "sqlite";
  const db = await createTestDatabase(dialect);
  const config = loadConfig({
    env: {},
    overrides: {
      mode: "demo",
      // The test numbers are Hong Kong's: the SMS guard sends only to the organisation's country (E3).
      "organization.country": "HK",
      "logging.level": "info",
      "node.name": "test-node",
      "server.port": 0,
      "keys.encryption": [{ id: "t1", key: Buffer.from(randomBytes(32)).toString("base64") }],
      ...(dialect === "sqlite" ? { "database.sqlitePath": db.location } : { "database.url": PG_URL }),
      ...options.overrides,
    },
  });
  const logs: string[] = [];
  const logger = createLogger({
    level: options.logLevel ?? "info",
    node: "test-node",
    destination: options.logDestination ?? { write: (m: string) => logs.push(m) },
  });
  const clock = new TestClock();
  const wallClock = new AdvancingClock();
  const runtime = await createRuntime(config, {
    clock: options.systemClock ? wallClock : clock,
    logger,
    ...(db.schema ? { schema: db.schema } : {}),
    // A local push service is plain HTTP on 127.0.0.1: both exceptions, explicitly, for tests only.
    ...(options.webPushAllowHTTP ? { webPushAllowHTTP: true, webPushAllowLoopback: true } : {}),
  });
  let closed = false;
  return {
    runtime,
    schema: db.schema,
    clock,
    wallClock,
    logs,
    close: async () => {
      if (closed) return;
      closed = true;
      await runtime.close().catch(() => undefined);
      await db.drop();
    },
  };
}

/** Create `username` with an active authenticator app; returns the code the app shows now (after confirming). */
export async function enrollTOTPUser(t: HTTPTestContext, username: string): Promise<{ code(): string }> {
  const { services, config } = t.runtime;
  await services.createUser(ADMIN, { username });
  const e = await services.enrollTOTP(ADMIN, username);
  const params = {
    key: decodeBase32(e.secret.reveal())!,
    algorithm: config.policy.totp.algorithm,
    digits: config.policy.totp.digits,
    period: config.policy.totp.period,
  };
  const code = () => generateTOTP(params, t.clock.now());
  await services.confirmTOTP(ADMIN, e.credentialId, code());
  // The confirming step is used up: move on so the next code is fresh.
  t.clock.advance(config.policy.totp.period * 1000);
  return { code };
}

export const DEMO: DemoInfo = {
  organization: "Demo University <Test>",
  users: [
    { username: "alice", password: "alice-pass-1", factors: ["authenticator app", "rescue codes"] },
    { username: "bob", password: "bob-pass-2", factors: [] },
  ],
  application: { name: "Demo VPN", type: "radius", integrationKey: "DIDEMOINTEGRATIONKEY" },
  aliceTOTPURI: "otpauth://totp/Twofold:alice?secret=JBSWY3DPEHPK3PXP&issuer=Twofold",
};

/** A wrong code of the right shape: the correct one with its last digit changed. */
export function wrongCode(code: string): string {
  return code.slice(0, -1) + String((Number(code.at(-1)) + 1) % 10);
}

/** Parse Prometheus text format 0.0.4 strictly; throws on any line that is not a comment or a sample. */
export function parsePrometheus(
  text: string,
): { name: string; labels: Record<string, string>; value: number }[] {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new Error("exposition must end with a line feed");
  for (const line of lines.slice(0, -1)) {
    // Empty lines are ignored (exposition format 0.0.4); prom-client puts one between merged registries.
    if (line === "" || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? "";
    while (rest.length > 0) {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
      if (!l) throw new Error(`bad labels in ${JSON.stringify(line)}`);
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      rest = rest.slice(l[0].length);
    }
    // Values as Go's ParseFloat reads them, which takes NaN in any case (prom-client writes "Nan").
    const value = m[3] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m[3]);
    if (Number.isNaN(value) && m[3]?.toLowerCase() !== "nan")
      throw new Error(`bad value in ${JSON.stringify(line)}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}
