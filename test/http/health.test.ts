// /health answers while the process lives; /ready follows the database (N3: readiness flips when the DB is stopped).
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildServer } from "../../src/http/server.ts";
import { dialects } from "../support/stores.ts";
import { createTestRuntime } from "./support.ts";

for (const dialect of await dialects()) {
  test(`${dialect}: /health is 200 and /ready turns from 200 to 503 when the database goes away`, async () => {
    const t = await createTestRuntime({ dialect });
    const app = buildServer(t.runtime);
    try {
      const health = await app.inject({ method: "GET", url: "/health" });
      assert.equal(health.statusCode, 200);
      assert.deepEqual(health.json(), { status: "ok" });
      assert.match(String(health.headers["content-type"]), /^application\/json/);

      const ready = await app.inject({ method: "GET", url: "/ready" });
      assert.equal(ready.statusCode, 200);
      assert.deepEqual(ready.json(), { status: "ready", checks: { database: "up" } });

      await t.runtime.store.close();
      const down = await app.inject({ method: "GET", url: "/ready" });
      assert.equal(down.statusCode, 503);
      assert.deepEqual(down.json(), { status: "unavailable", checks: { database: "down" } });
      assert.doesNotMatch(down.body, /select|sql|stack|Error/i);

      // Liveness does not depend on the database: a load balancer must not kill a node for a DB outage.
      assert.equal((await app.inject({ method: "GET", url: "/health" })).statusCode, 200);
      assert.ok(
        t.logs.some((l) => l.includes("readiness check failed")),
        "operators see why the node is not ready",
      );
    } finally {
      await app.close();
      await t.close();
    }
  });
}

test("/ready answers 503 within about 2 s when the database hangs", async () => {
  const t = await createTestRuntime();
  const store = t.runtime.store;
  const originalPing = store.ping.bind(store);
  store.ping = () => new Promise<void>(() => {});
  const app = buildServer(t.runtime);
  try {
    const started = Date.now();
    const res = await app.inject({ method: "GET", url: "/ready" });
    const elapsed = Date.now() - started;
    assert.equal(res.statusCode, 503);
    assert.ok(elapsed >= 1900 && elapsed < 4000, `took ${elapsed} ms`);
  } finally {
    store.ping = originalPing;
    await app.close();
    await t.close();
  }
});
