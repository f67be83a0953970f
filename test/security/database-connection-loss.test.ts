// N2 / F-12: PostgreSQL connections of a running `twofold serve` terminated under load — the process lives, every request is answered, none allows, waiting pushes resolve.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { sign } from "@duosecurity/duo_api/lib/duo_sig.js";
import pg from "pg";
import { loadConfig } from "../../src/config/load.ts";
import { randomBytes, randomHex } from "../../src/core/crypto/index.ts";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { createRuntime, type Runtime } from "../../src/runtime/runtime.ts";
import { BIN, baseEnv } from "../cli/helpers.ts";
import { ADMIN } from "../http/support.ts";
import { createTestDatabase, dialects, PG_URL, type TestDatabase } from "../support/stores.ts";
import { TestDevice } from "../support/test-device.ts";

const ROUNDS = 5;
const CONCURRENT = 16;
/** Without LISTEN, a waiting poll re-reads the store only every 8–12 s (PG_FALLBACK_POLL_MS ± 20 %). */
const WOKEN_WITHIN_MS = 7_000;

// biome-ignore lint/suspicious/noExplicitAny: a client's view of a Duo answer; the test checks the fields it uses.
type DuoBody = Record<string, any>;

if ((await dialects()).includes("postgres")) {
  describe("PostgreSQL connections terminated under load (N2, F-12)", () => {
    let db: TestDatabase;
    let dir: string;
    let child: ChildProcess;
    let childLog = "";
    let url: string;
    let host: string;
    /** A second node on the same data, in this process: sets up users and takes the device's answers. */
    let nodeB: { runtime: Runtime; server: RunningServer };
    let admin: pg.Client;
    let ikey: string;
    let skey: string;
    const nodeName = `conn-loss-${randomHex(4)}`;
    const devices: TestDevice[] = [];

    before(async () => {
      db = await createTestDatabase("postgres");
      dir = mkdtempSync(join(tmpdir(), "twofold-conn-loss-"));
      const configFile = join(dir, "twofold.json");
      const settings = {
        database: { url: `${PG_URL}?options=${encodeURIComponent(`-c search_path=${db.schema}`)}` },
        keys: { encryption: [{ id: "k1", key: Buffer.from(randomBytes(32)).toString("base64") }] },
        server: { port: 0 },
        logging: { level: "warn" },
        policy: { push: { ratePerWindow: 20 } },
      };
      writeFileSync(configFile, JSON.stringify(settings));
      const config = loadConfig({ file: configFile, env: {}, overrides: { "node.name": `${nodeName}-b` } });
      const runtime = await createRuntime(config, {
        logger: createLogger({ level: "silent", node: "b", destination: { write: () => {} } }),
      });
      nodeB = { runtime, server: await startServer(runtime) };
      const app = await runtime.services.createApplication(ADMIN, { name: "VPN", type: "auth-api" });
      ikey = app.application.id;
      skey = app.secretKey.reveal();
      await runtime.services.createUser(ADMIN, { username: "alice" });
      for (let i = 0; i < ROUNDS; i++) {
        const username = `pat${i}`;
        await runtime.services.createUser(ADMIN, { username });
        const device = new TestDevice(nodeB.server.url, () => Date.now());
        const ticket = await runtime.services.createDeviceActivation(ADMIN, username);
        assert.equal((await device.activate(ticket.token.reveal())).status, 200);
        devices.push(device);
      }

      // The node under test: the real command, in a process of its own.
      child = spawn(process.execPath, [BIN, "serve", "--config", configFile], {
        env: { ...baseEnv(), TWOFOLD_NODE_NAME: nodeName },
        stdio: "pipe",
      });
      child.stderr!.on("data", (d: Buffer) => {
        childLog += d.toString();
      });
      url = await new Promise<string>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}${childLog}`)), 30_000);
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${childLog}`)));
      });
      host = new URL(url).host;
      admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
    });

    after(async () => {
      await admin?.end();
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
      await nodeB?.server.close();
      await nodeB?.runtime.close();
      await db?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    async function duo(method: "GET" | "POST", path: string, params: Record<string, string>) {
      const date = new Date().toUTCString();
      const query = new URLSearchParams(params).toString();
      const response = await fetch(`${url}${path}${method === "GET" ? `?${query}` : ""}`, {
        method,
        headers: {
          date,
          authorization: sign(ikey, skey, method, host, path, params, date),
          ...(method === "POST" ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        },
        ...(method === "POST" ? { body: query } : {}),
      });
      return { status: response.status, body: (await response.json()) as DuoBody };
    }

    /** Only this test's node: its pool and its LISTEN connection, by application_name. */
    async function terminateNodeBackends(): Promise<number> {
      const cut = await admin.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = any($1)",
        [[`twofold ${nodeName}`, `twofold-push-events ${nodeName}`]],
      );
      return cut.rowCount ?? 0;
    }

    /** Sixteen login calls at once, half on the Auth API v2, half on REST v1; every passcode is wrong. */
    function faultRequests(round: number): Array<Promise<{ status: number; body: DuoBody } | Error>> {
      return Array.from({ length: CONCURRENT }, (_, i) => {
        // Distinct parameters: a repeated signature would be refused as a replay, which is not the point here.
        const passcode = String(100000 + round * 1000 + i);
        const call =
          i % 4 === 0
            ? duo("POST", "/auth/v2/auth", { username: "alice", factor: "passcode", passcode })
            : i % 4 === 1
              ? duo("POST", "/rest/v1/auth.json", { user: "alice", factor: "auto", auto: passcode })
              : i % 4 === 2
                ? duo("POST", "/auth/v2/preauth", { username: "alice", ipaddr: `192.0.2.${i}` })
                : duo("POST", "/rest/v1/preauth.json", { user: `nobody${round}x${i}` });
        return call.catch((error: Error) => error);
      });
    }

    test("terminating the node's backends 5 times under 16 concurrent requests: the process lives, every request is answered, none allows, waiting pushes resolve", async () => {
      let sent = 0;
      let answered = 0;
      let allowed = 0;
      let unavailable = 0;
      let terminated = 0;
      const noAnswer: string[] = [];
      const pushTimes: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // A push waiting in a status poll on the node under test while its connections are cut.
        const started = await duo("POST", "/auth/v2/auth", {
          username: `pat${round}`,
          factor: "push",
          device: "auto",
          async: "1",
        });
        assert.equal(started.status, 200, JSON.stringify(started.body));
        const txid = started.body.response.txid as string;
        const first = await duo("GET", "/auth/v2/auth_status", { txid });
        const code = /Enter code (\d+)/.exec(first.body.response.status_msg)![1]!;
        const held = duo("GET", "/auth/v2/auth_status", { txid });
        // The poll reads the push, then waits: give it time to be waiting before the cut (on a busy machine 20 ms
        // could cut its read, which then fails closed, a deny this test is not about).
        await new Promise((r) => setTimeout(r, 250));

        // The authentication log held locked meanwhile: the calls that write a line wait for it, so some are certainly
        // in flight when their connections are cut (unlocked, a quick machine could answer all sixteen within the
        // 20 ms).
        await admin.query("begin");
        // Fails loudly rather than queue the node's queries behind a wait of its own.
        await admin.query("set local lock_timeout = '2s'");
        await admin.query(`lock table "${db.schema}".auth_log in access exclusive mode`);
        const requests = faultRequests(round);
        sent += requests.length;
        await new Promise((r) => setTimeout(r, 20));
        const cut = await terminateNodeBackends();
        await admin.query("rollback");
        assert.ok(cut >= 1, `round ${round}: the node had connections to terminate`);
        terminated += cut;
        for (const r of await Promise.all(requests)) {
          if (r instanceof Error) {
            noAnswer.push(String((r.cause as Error | undefined)?.message ?? r.message));
            continue;
          }
          answered++;
          const result = r.body.response?.result;
          if (result === "allow") allowed++;
          const message = String(r.body.response?.status_msg ?? r.body.response?.status ?? "");
          if (/temporarily unavailable/i.test(message)) unavailable++;
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.ok(["deny", "auth"].includes(result), JSON.stringify(r.body));
        }

        // The device answers on the other node; the waiting poll hears it through NOTIFY on a re-opened LISTEN.
        const answeredAt = performance.now();
        assert.equal((await devices[round]!.answer(txid, "approve", code)).status, 200);
        const resolved = await held;
        pushTimes.push(Math.round(performance.now() - answeredAt));
        assert.equal(resolved.status, 200);
        assert.equal(resolved.body.response.result, "allow", "the approved push resolves");
      }
      console.log(
        `database connection loss: ${ROUNDS} rounds, ${terminated} backends terminated; requests sent ${sent}, answered ${answered}, allowed ${allowed}, fail-closed "unavailable" ${unavailable}; waiting pushes resolved ${pushTimes.length}/${ROUNDS} in ${pushTimes.join(", ")} ms after the answer`,
      );
      assert.deepEqual(noAnswer, [], "every request got an HTTP answer");
      assert.equal(answered, sent);
      assert.equal(allowed, 0, "no login call under fault allows");
      assert.ok(unavailable >= 1, "some calls were in flight when their connection was cut");
      for (const ms of pushTimes)
        assert.ok(ms < WOKEN_WITHIN_MS, `woken by NOTIFY, not by polling (${ms} ms)`);
      assert.equal(child.exitCode, null, `the process is still running: ${childLog}`);
      assert.doesNotMatch(childLog, /Unhandled 'error' event/);
      // Later requests open new connections.
      const after = await duo("POST", "/auth/v2/preauth", { username: "pat0" });
      assert.equal(after.body.response.result, "auth");
    });
  });
}
