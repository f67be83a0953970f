// Graceful shutdown: requests in flight finish, new connections are refused, the grace period is enforced, SIGTERM exits 0.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Type as T } from "@sinclair/typebox";
import { buildServer, listenServer } from "../../src/http/server.ts";
import { createTestRuntime } from "./support.ts";

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    }).on("error", reject);
  });
}

const Done = T.Object({ done: T.Boolean() }, { additionalProperties: false });

test("close() lets a request in flight finish with 200 while new connections are refused", async () => {
  const t = await createTestRuntime();
  const app = buildServer(t.runtime);
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => {
    entered = r;
  });
  app.get("/test/slow", { schema: { response: { 200: Done } } }, async () => {
    entered();
    await sleep(500);
    return { done: true };
  });
  const server = await listenServer(app, t.runtime);
  try {
    const slow = fetchText(`${server.url}/test/slow`);
    await inHandler;
    const closing = server.close();
    await sleep(100);
    await assert.rejects(fetchText(`${server.url}/health`), /ECONNREFUSED/);
    const res = await slow;
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { done: true });
    await closing;
    await assert.rejects(fetchText(`${server.url}/health`), /ECONNREFUSED/);
    // The runtime is the caller's to close: the database still answers.
    await t.runtime.store.ping();
  } finally {
    await t.close();
  }
});

test("close() does not wait past server.shutdownGraceSeconds for a request that never ends", async () => {
  const t = await createTestRuntime({ overrides: { "server.shutdownGraceSeconds": 1 } });
  const app = buildServer(t.runtime);
  let release!: () => void;
  const never = new Promise<void>((r) => {
    release = r;
  });
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => {
    entered = r;
  });
  app.get("/test/stuck", { schema: { response: { 200: Done } } }, async () => {
    entered();
    await never;
    return { done: true };
  });
  const server = await listenServer(app, t.runtime);
  try {
    const stuck = fetchText(`${server.url}/test/stuck`);
    stuck.catch(() => undefined);
    await inHandler;
    const started = Date.now();
    await server.close();
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 3000, `closed after ${elapsed} ms`);
    await assert.rejects(stuck, /socket hang up|ECONNRESET/);
  } finally {
    release();
    await t.close();
  }
});

test("SIGTERM closes the server and the database, then exits 0", async () => {
  const dir = mkdtempSync(join(tmpdir(), "twofold-signal-"));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "fixtures", "serve.ts"), join(dir, "twofold.db")],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        if (out.includes("\n")) resolve(out.trim());
      });
      child.on("exit", (code) => reject(new Error(`server exited early with ${code}`)));
    });
    assert.equal((await fetchText(`${url}/health`)).status, 200);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })),
    );
    child.kill("SIGTERM");
    assert.deepEqual(await exited, { code: 0, signal: null });
    await assert.rejects(fetchText(`${url}/health`), /ECONNREFUSED/);
  } finally {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
