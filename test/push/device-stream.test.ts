// Open apps' live streams are woken by push events (in-process, another process on the SQLite file, NOTIFY between
// nodes) and otherwise read the store only on a slow safety poll: idle apps cost the database almost nothing.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { LocalPushEvents } from "../../src/adapters/events/local-push-events.ts";
import { loadConfig } from "../../src/config/load.ts";
import { Keyring } from "../../src/core/crypto/keyring.ts";
import type { Store } from "../../src/core/ports.ts";
import { createServices } from "../../src/core/services.ts";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { createRuntime, loadMasterKeys, type Runtime } from "../../src/runtime/runtime.ts";
import { openStore } from "../../src/store/open-store.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "../http/support.ts";
import { dialects, PG_URL } from "../support/stores.ts";
import { type EventStream, TestDevice } from "../support/test-device.ts";

/** Far longer than any wait below: a push that arrives in time was woken, not polled. */
const NO_POLL = { "push.streamSafetyPollSeconds": 600 };

async function activate(t: HTTPTestContext, server: RunningServer, username: string): Promise<TestDevice> {
  const ticket = await t.runtime.services.createDeviceActivation(ADMIN, username);
  const device = new TestDevice(server.url, () => t.clock.now());
  const response = await device.activate(ticket.token.reveal());
  assert.equal(response.status, 200, await response.text());
  return device;
}

/** The next stream event, and how long it took to come. */
async function timed(stream: EventStream, ms: number) {
  const t0 = Date.now();
  const event = await stream.next(ms);
  return { ...event, ms: Date.now() - t0 };
}

const DIALECTS = await dialects();

describe("a live stream is woken by push events, not by polling", () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  });

  test("SQLite, one process: a new push and its end reach the app at once", async () => {
    const t = await createTestRuntime({ dialect: "sqlite", overrides: NO_POLL });
    cleanup.push(() => t.close());
    const server = await startServer(t.runtime);
    cleanup.push(() => server.close());
    await t.runtime.services.createUser(ADMIN, { username: "alice" });
    const device = await activate(t, server, "alice");
    const stream = await device.openStream();
    cleanup.push(async () => stream.close());
    const started = await t.runtime.services.startPush({ username: "alice", verified: true });
    assert.ok(started.started);
    const shown = await timed(stream, 1500);
    assert.deepEqual([shown.event, shown.data.txid], ["push", started.txid]);
    await t.runtime.services.cancelPush(started.txid);
    const ended = await timed(stream, 1500);
    assert.deepEqual([ended.event, ended.data], ["resolved", { txid: started.txid, status: "cancelled" }]);
    console.log(`# SQLite in-process: push shown after ${shown.ms} ms, its end after ${ended.ms} ms`);
  });

  test("SQLite, another process's connection on the same file: the push reaches the app within seconds", async () => {
    const t = await createTestRuntime({ dialect: "sqlite", overrides: NO_POLL });
    cleanup.push(() => t.close());
    const server = await startServer(t.runtime);
    cleanup.push(() => server.close());
    await t.runtime.services.createUser(ADMIN, { username: "bea" });
    const device = await activate(t, server, "bea");
    const stream = await device.openStream();
    cleanup.push(async () => stream.close());
    // What `twofold push send` does: its own connection and its own (unconnected) event hub.
    const { store } = await openStore({
      sqlitePath: t.runtime.config.database.sqlitePath,
      backgroundCheckpoints: false,
    });
    cleanup.push(() => store.close());
    const other = createServices({
      store,
      keyring: new Keyring(loadMasterKeys(t.runtime.config)),
      clock: t.clock,
      config: t.runtime.config,
      nodeName: "cli",
      pushEvents: new LocalPushEvents(),
    });
    const started = await other.startPush({ username: "bea", verified: true });
    assert.ok(started.started);
    const shown = await timed(stream, 5000);
    assert.deepEqual([shown.event, shown.data.txid], ["push", started.txid]);
    await other.cancelPush(started.txid);
    const ended = await timed(stream, 5000);
    assert.deepEqual([ended.event, ended.data], ["resolved", { txid: started.txid, status: "cancelled" }]);
    console.log(`# SQLite other process: push shown after ${shown.ms} ms, its end after ${ended.ms} ms`);
  });

  if (DIALECTS.includes("postgres"))
    test("PostgreSQL, two runtimes: a push started on the other node reaches the app through NOTIFY", async () => {
      const t = await createTestRuntime({ dialect: "postgres", overrides: NO_POLL });
      cleanup.push(() => t.close());
      const server = await startServer(t.runtime);
      cleanup.push(() => server.close());
      const nodeB: Runtime = await createRuntime(
        loadConfig({
          env: {},
          overrides: {
            mode: "demo",
            "node.name": "node-b",
            "database.url": PG_URL,
            "keys.encryption": t.runtime.config.keys.encryption,
          },
        }),
        { clock: t.clock, schema: t.schema!, logger: createLogger({ level: "silent", node: "node-b" }) },
      );
      cleanup.push(() => nodeB.close());
      await t.runtime.services.createUser(ADMIN, { username: "cora" });
      const device = await activate(t, server, "cora");
      const stream = await device.openStream();
      cleanup.push(async () => stream.close());
      const started = await nodeB.services.startPush({ username: "cora", verified: true });
      assert.ok(started.started);
      const shown = await timed(stream, 2000);
      assert.deepEqual([shown.event, shown.data.txid], ["push", started.txid]);
      await nodeB.services.cancelPush(started.txid);
      const ended = await timed(stream, 2000);
      assert.deepEqual([ended.event, ended.data], ["resolved", { txid: started.txid, status: "cancelled" }]);
      console.log(`# PostgreSQL NOTIFY: push shown after ${shown.ms} ms, its end after ${ended.ms} ms`);
    });
});

/** Count every call of the store's methods (the runtime and its services share this one object). */
function countStoreCalls(store: Store): { readonly calls: number; reset(): void } {
  let calls = 0;
  const target = store as unknown as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(store))) {
    const method = target[name];
    if (name === "constructor" || typeof method !== "function") continue;
    target[name] = (...args: unknown[]) => {
      calls++;
      return (method as (...a: unknown[]) => unknown).apply(store, args);
    };
  }
  return {
    get calls() {
      return calls;
    },
    reset: () => {
      calls = 0;
    },
  };
}

for (const dialect of DIALECTS) {
  test(`idle open apps on ${dialect}: store reads per stream stay within the safety poll`, async () => {
    // Default configuration: what an operator runs.
    const t = await createTestRuntime({ dialect });
    const server = await startServer(t.runtime);
    const streams: EventStream[] = [];
    try {
      const DEVICES = 10;
      const PER_DEVICE = 4;
      const IDLE_MS = 8000;
      for (let i = 0; i < DEVICES; i++) {
        await t.runtime.services.createUser(ADMIN, { username: `idle${i}` });
        const device = await activate(t, server, `idle${i}`);
        for (let k = 0; k < PER_DEVICE; k++) {
          const stream = await device.openStream();
          assert.equal(stream.response.status, 200);
          streams.push(stream);
        }
      }
      const n = streams.length;
      const counter = countStoreCalls(t.runtime.store);
      // A stream answers 200 before its first read of pending pushes has finished: on a loaded machine the last
      // few are still reading. Idle starts once no store call was made for half a second (at most 10 s).
      for (let waited = 0; waited < 10_000; waited += 500) {
        counter.reset();
        await new Promise((r) => setTimeout(r, 500));
        if (counter.calls === 0) break;
      }
      counter.reset();
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const reads = counter.calls;
      // Each stream reads at most once per safety period, and the first period is at least 80 % of it.
      const safetyMs = t.runtime.config.push.streamSafetyPollSeconds * 1000;
      const bound = n * Math.floor(IDLE_MS / (0.8 * safetyMs));
      const oldPoll = n * Math.floor(IDLE_MS / 2000);
      console.log(
        `# ${dialect}: ${n} idle streams for ${IDLE_MS / 1000} s → ${reads} store calls (bound ${bound}; ` +
          `a 2 s poll makes ${oldPoll}); steady state ${(n / (safetyMs / 1000)).toFixed(2)} reads/s ` +
          `(600 apps: ${(600 / (safetyMs / 1000)).toFixed(1)}/s instead of 300/s)`,
      );
      assert.ok(reads <= bound, `${reads} store calls > ${bound}`);
    } finally {
      for (const s of streams) s.close();
      await server.close();
      await t.close();
    }
  });
}
