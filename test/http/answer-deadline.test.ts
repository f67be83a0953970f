// The answer deadline (server.answerTimeoutSeconds): a route whose work stalls answers with its fail-closed error at
// the deadline; a route with a limit of its own (a push wait) is not cut at it; a quick answer is not followed by one.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { buildServer } from "../../src/http/server.ts";
import { createTestRuntime, type HTTPTestContext } from "./support.ts";

let t: HTTPTestContext;
let app: FastifyInstance;

before(async () => {
  t = await createTestRuntime({ overrides: { "server.answerTimeoutSeconds": 1 } });
  app = buildServer(t.runtime);
  const response = { 200: T.Object({ ok: T.Boolean() }) };
  const stalled: Array<() => void> = [];
  app.get("/test/stall", { schema: { response } }, async () => {
    await new Promise<void>((resolve) => stalled.push(resolve));
    return { ok: true };
  });
  app.get("/test/own-limit", { schema: { response }, handlerTimeout: 4000 }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    return { ok: true };
  });
  app.get("/test/quick", { schema: { response } }, async () => ({ ok: true }));
  app.addHook("onClose", async () => {
    for (const resolve of stalled) resolve();
  });
  await app.ready();
});
after(async () => {
  await app?.close();
  await t?.close();
});

test("work that stalls past the deadline: a 503 with ERR_STORE_UNAVAILABLE, about when the deadline passes", async () => {
  const started = performance.now();
  const res = await app.inject({ method: "GET", url: "/test/stall" });
  const took = performance.now() - started;
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().error?.code ?? res.json().code, "ERR_STORE_UNAVAILABLE");
  assert.ok(took >= 950 && took < 2500, `answered after ${Math.round(took)} ms`);
});

test("a route with a limit of its own (a push wait) is not cut at the deadline", async () => {
  const res = await app.inject({ method: "GET", url: "/test/own-limit" });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { ok: true });
});

const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

test("a quick answer clears its deadline: no timer is left behind per request, and no second answer follows", async () => {
  const before = timers();
  for (let i = 0; i < 20; i++) {
    const res = await app.inject({ method: "GET", url: "/test/quick" });
    assert.deepEqual(res.json(), { ok: true });
  }
  assert.ok(timers() <= before + 2, `${timers() - before} timers left after 20 answers`);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const again = await app.inject({ method: "GET", url: "/test/quick" });
  assert.equal(again.statusCode, 200);
});
