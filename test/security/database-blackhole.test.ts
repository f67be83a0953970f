// N2: with PostgreSQL black-holed (connections open, nothing answers) every interface gives its fail-closed answer within server.answerTimeoutSeconds; push waits keep their own deadline.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { sign } from "@duosecurity/duo_api/lib/duo_sig.js";
import { PgPushEvents } from "../../src/adapters/events/pg-push-events.ts";
import { randomBytes, randomHex } from "../../src/core/crypto/index.ts";
import type { PushEvent } from "../../src/core/ports.ts";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import { openStore } from "../../src/store/open-store.ts";
import { BIN, baseEnv, collectOutput } from "../cli/helpers.ts";
import { ADMIN, createTestRuntime, DEMO, type HTTPTestContext } from "../http/support.ts";
import { createTestDatabase, dialects, PG_URL } from "../support/stores.ts";
import { type BlackHoleProxy, startBlackHoleProxy } from "../support/tcp-proxy.ts";
import { TestDevice } from "../support/test-device.ts";

/**
 * Scheduling on a busy test machine, and the request's own work. Without the deadline these calls take the
 * client-side query limit (31 s here) or, before it existed, the 90 s of a push route.
 */
const SLACK_MS = 5_000;

// biome-ignore lint/suspicious/noExplicitAny: a client's view of a Duo answer; the test checks the fields it uses.
type DuoBody = Record<string, any>;

interface Timed<T> {
  ms: number;
  value: T;
}

async function timed<T>(work: () => Promise<T>): Promise<Timed<T>> {
  const t0 = performance.now();
  const value = await work();
  return { ms: Math.round(performance.now() - t0), value };
}

if ((await dialects()).includes("postgres")) {
  describe("PostgreSQL black-holed: bounded waits (N2)", () => {
    let proxy: BlackHoleProxy;
    let proxyURL: string;
    let t: HTTPTestContext;
    let server: RunningServer;
    let host: string;
    let ikey: string;
    let skey: string;
    let answerMs: number;
    const devices: Record<string, TestDevice> = {};
    const encryptionKey = Buffer.from(randomBytes(32)).toString("base64");

    before(async () => {
      const target = new URL(PG_URL);
      proxy = await startBlackHoleProxy(target.hostname, Number(target.port || 5432));
      const viaProxy = new URL(PG_URL);
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      proxyURL = viaProxy.toString();
      t = await createTestRuntime({
        dialect: "postgres",
        systemClock: true,
        overrides: {
          "database.url": proxyURL,
          "node.name": `blackhole-${randomHex(4)}`,
          "keys.encryption": [{ id: "k1", key: encryptionKey }],
          "policy.push.lifetimeSeconds": 15,
          // Far past the answer deadline: what answers here is the deadline, not the database's own limits
          // (test/store/database-limits.test.ts shows those).
          "database.statementTimeoutSeconds": 30,
        },
      });
      answerMs = t.runtime.config.server.answerTimeoutSeconds * 1000;
      server = await startServer(t.runtime, { demo: DEMO });
      host = new URL(server.url).host;
      const { services } = t.runtime;
      const app = await services.createApplication(ADMIN, { name: "VPN", type: "auth-api" });
      ikey = app.application.id;
      skey = app.secretKey.reveal();
      await services.createUser(ADMIN, { username: "alice" });
      for (const username of ["pat", "quinn"]) {
        await services.createUser(ADMIN, { username });
        const device = new TestDevice(server.url, () => Date.now());
        const ticket = await services.createDeviceActivation(ADMIN, username);
        assert.equal((await device.activate(ticket.token.reveal())).status, 200);
        devices[username] = device;
      }
    });

    after(async () => {
      // The runtime's connections go through the proxy: close them first, then the proxy, then the schema.
      await server?.close();
      await proxy?.close();
      await t?.close();
    });

    async function duo(method: "GET" | "POST", path: string, params: Record<string, string>) {
      const date = new Date().toUTCString();
      const query = new URLSearchParams(params).toString();
      const response = await fetch(`${server.url}${path}${method === "GET" ? `?${query}` : ""}`, {
        method,
        headers: {
          date,
          authorization: sign(ikey, skey, method, host, path, params, date),
          ...(method === "POST" ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        },
        ...(method === "POST" ? { body: query } : {}),
        // Far beyond any bound asserted below: a hang fails the test instead of stalling it.
        signal: AbortSignal.timeout(120_000),
      });
      return { status: response.status, body: (await response.json()) as DuoBody };
    }

    /** Start a verified push and make the status poll that waits for it (the first poll carries the code). */
    async function waitingPush(username: string) {
      const started = await duo("POST", "/auth/v2/auth", {
        username,
        factor: "push",
        device: "auto",
        async: "1",
      });
      const txid = started.body.response.txid as string;
      const first = await duo("GET", "/auth/v2/auth_status", { txid });
      const code = /Enter code (\d+)/.exec(first.body.response.status_msg)![1]!;
      return { txid, code, held: timed(() => duo("GET", "/auth/v2/auth_status", { txid })) };
    }

    test("a push wait is not cut by the answer deadline: approved after it has passed, the waiting poll allows", async () => {
      const push = await waitingPush("pat");
      await new Promise((r) => setTimeout(r, answerMs + 1_000));
      assert.equal((await devices["pat"]!.answer(push.txid, "approve", push.code)).status, 200);
      const held = await push.held;
      assert.equal(held.value.body.response.result, "allow");
      assert.ok(held.ms > answerMs, `the poll waited ${held.ms} ms, past the ${answerMs} ms deadline`);
    });

    test("black-holed: Auth API v2, REST v1, device API, start page and CLI give their fail-closed answers within the deadline; a waiting push ends by its own", async () => {
      const push = await waitingPush("quinn");
      const holdMs = t.runtime.services.statusHoldMs();
      // Let the status poll reach its wait for the push before the database goes away.
      await new Promise((r) => setTimeout(r, 1_500));
      proxy.blackHole();

      const pushesPath = "/device/v1/pushes";
      const [authV2, preauthV2, authV1, deviceAPI, startPage, cli] = await Promise.all([
        timed(() =>
          duo("POST", "/auth/v2/auth", { username: "alice", factor: "passcode", passcode: "123456" }),
        ),
        timed(() => duo("POST", "/auth/v2/preauth", { username: "alice" })),
        timed(() => duo("POST", "/rest/v1/auth.json", { user: "alice", factor: "auto", auto: "654321" })),
        timed(async () => {
          const r = await devices["pat"]!.signedFetch("GET", pushesPath, undefined, {
            signal: AbortSignal.timeout(120_000),
          });
          return { status: r.status, text: await r.text() };
        }),
        timed(async () => {
          const r = await fetch(`${server.url}/demo/passcode`, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: "username=alice&passcode=123456",
            signal: AbortSignal.timeout(120_000),
          });
          return { status: r.status, text: await r.text() };
        }),
        timed(async () => {
          const child = spawn(process.execPath, [BIN, "passcode", "check", "alice", "123456"], {
            env: {
              ...baseEnv(),
              TWOFOLD_DATABASE_URL: proxyURL,
              TWOFOLD_ENCRYPTION_KEY: encryptionKey,
              TWOFOLD_LOGGING_LEVEL: "silent",
            },
            stdio: "pipe",
          });
          child.stdin.end();
          const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
          try {
            return await collectOutput(child);
          } finally {
            clearTimeout(timer);
          }
        }),
      ]);
      const held = await push.held;
      const connectMs = t.runtime.config.database.connectTimeoutSeconds * 1000;

      console.log(
        `database black-holed, answer deadline ${answerMs} ms: Auth API v2 auth ${authV2.ms} ms (${authV2.value.body.response?.result}), v2 preauth ${preauthV2.ms} ms (${preauthV2.value.body.response?.result}), REST v1 auth ${authV1.ms} ms (${authV1.value.body.response?.result}), device API ${deviceAPI.ms} ms (HTTP ${deviceAPI.value.status}), start page passcode ${startPage.ms} ms (HTTP ${startPage.value.status}), CLI passcode check ${cli.ms} ms (exit ${cli.value.code}); waiting push poll ended after ${held.ms} ms (${held.value.body.response?.result}; status hold ${holdMs} ms)`,
      );

      for (const [name, call] of [
        ["Auth API v2 auth", authV2],
        ["Auth API v2 preauth", preauthV2],
        ["REST v1 auth", authV1],
      ] as const) {
        assert.equal(call.value.status, 200, `${name}: a deny is an answer, not an HTTP error`);
        assert.equal(call.value.body.response.result, "deny", name);
        assert.ok(call.ms <= answerMs + SLACK_MS, `${name} answered in ${call.ms} ms`);
      }
      assert.equal(deviceAPI.value.status, 503);
      assert.ok(deviceAPI.ms <= answerMs + SLACK_MS, `device API answered in ${deviceAPI.ms} ms`);
      assert.equal(startPage.value.status, 503);
      assert.doesNotMatch(startPage.value.text, /Allowed/);
      assert.ok(startPage.ms <= answerMs + SLACK_MS, `start page answered in ${startPage.ms} ms`);
      assert.notEqual(
        cli.value.code,
        0,
        `the CLI does not report allow: ${cli.value.stdout}${cli.value.stderr}`,
      );
      assert.doesNotMatch(cli.value.stdout, /allow/);
      // The command starts a Node process (seconds on a busy machine), then gives up connecting.
      assert.ok(cli.ms <= connectMs + 25_000, `CLI ended in ${cli.ms} ms`);
      // The poll waits for the push up to its hold; a re-read of the store that gets no answer ends it sooner.
      assert.equal(held.value.status, 200);
      assert.equal(held.value.body.response.result, "deny");
      assert.ok(held.ms <= holdMs + answerMs + SLACK_MS, `the waiting poll ended after ${held.ms} ms`);
    });
  });

  describe("PostgreSQL black-holed: the LISTEN connection (N2)", () => {
    test("a silent LISTEN connection is given up by its heartbeat and re-opened when the database answers again", async () => {
      const db = await createTestDatabase("postgres");
      const target = new URL(PG_URL);
      const proxy = await startBlackHoleProxy(target.hostname, Number(target.port || 5432));
      const viaProxy = new URL(PG_URL);
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      const a = await openStore({ url: PG_URL, schema: db.schema!, poolSize: 2 });
      const b = await openStore({
        url: viaProxy.toString(),
        schema: db.schema!,
        poolSize: 2,
        migrate: false,
      });
      const nodeA = await PgPushEvents.start({ url: PG_URL, kysely: a.kysely });
      const nodeB = await PgPushEvents.start({
        url: viaProxy.toString(),
        kysely: b.kysely,
        heartbeatMs: 200,
        connectTimeoutMs: 500,
        reconnectMs: 50,
      });
      const until = async (condition: () => boolean, ms: number) => {
        const t0 = performance.now();
        while (!condition() && performance.now() - t0 < ms) await new Promise((r) => setTimeout(r, 20));
        return Math.round(performance.now() - t0);
      };
      try {
        const seen: PushEvent[] = [];
        nodeB.subscribe("user:U1", (e) => seen.push(e));
        assert.ok(nodeB.listening);
        proxy.blackHole();
        const noticed = await until(() => !nodeB.listening, 10_000);
        assert.equal(nodeB.listening, false, "the black-holed LISTEN connection was noticed");
        proxy.heal();
        const reopened = await until(() => nodeB.listening, 10_000);
        assert.equal(nodeB.listening, true, "the LISTEN connection was re-opened");
        assert.ok(
          seen.some((e) => e.kind === "resync"),
          "waiters were told to re-read",
        );
        const arrived = nodeB.waitFor("tx:T9", 5_000);
        await nodeA.publish({ kind: "resolved", txid: "T9", userId: "U1", status: "approved" });
        await arrived;
        assert.ok(
          seen.some((e) => "txid" in e && e.txid === "T9"),
          "events flow again",
        );
        console.log(
          `LISTEN connection black-holed: noticed after ${noticed} ms (heartbeat 200 ms, timeout 500 ms), re-opened ${reopened} ms after the database answered again`,
        );
      } finally {
        await nodeB.close();
        await nodeA.close();
        await proxy.close();
        await b.store.close();
        await a.store.close();
        await db.drop();
      }
    });
  });
}
