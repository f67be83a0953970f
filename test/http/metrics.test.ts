// /metrics speaks Prometheus text format 0.0.4 (prom-client), counts requests and passcode checks from any interface,
// and is never open to anyone: a bearer token on the public listener, or a listener of its own.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import type { TwofoldError } from "../../src/core/errors.ts";
import { buildServer, listenServer } from "../../src/http/server.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../../src/runtime/metrics.ts";
import { createTestRuntime, DEMO, enrollTOTPUser, parsePrometheus } from "./support.ts";

const FORM = { "content-type": "application/x-www-form-urlencoded" };
const TOKEN = "metrics-token-0123456789abcdefghijklmnop";
const BEARER = { authorization: `Bearer ${TOKEN}` };

function find(
  samples: ReturnType<typeof parsePrometheus>,
  name: string,
  labels: Record<string, string> = {},
) {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

test("/metrics parses as Prometheus text and counts requests and passcode verifications", async () => {
  const t = await createTestRuntime({ overrides: { "metrics.token": TOKEN } });
  const app = buildServer(t.runtime, { demo: DEMO });
  try {
    const alice = await enrollTOTPUser(t, "alice");
    assert.equal((await app.inject({ method: "GET", url: "/health" })).statusCode, 200);
    const allow = await app.inject({
      method: "POST",
      url: "/demo/passcode",
      headers: FORM,
      payload: new URLSearchParams({ username: "alice", passcode: alice.code() }).toString(),
    });
    assert.match(allow.body, /Allowed/);
    // A verification from outside HTTP (CLI, RADIUS) is counted too.
    await t.runtime.services.verifyPasscode({ username: "nobody", passcode: "123456" });
    for (let i = 0; i < 3; i++) await app.inject({ method: "GET", url: `/random-${i}?q=${i}` });

    const res = await app.inject({ method: "GET", url: "/metrics", headers: BEARER });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["content-type"], PROMETHEUS_CONTENT_TYPE);
    const samples = parsePrometheus(res.body);

    const health = find(samples, "http_requests_total", { method: "GET", route: "/health", status: "200" });
    assert.equal(health[0]?.value, 1);
    const healthCount = find(samples, "http_request_duration_seconds_count", {
      method: "GET",
      route: "/health",
    });
    assert.equal(healthCount[0]?.value, 1);
    const inf = find(samples, "http_request_duration_seconds_bucket", { route: "/health", le: "+Inf" });
    assert.equal(inf[0]?.value, 1);

    assert.equal(
      find(samples, "twofold_passcode_verifications_total", { result: "allow", factor: "totp" })[0]?.value,
      1,
    );
    assert.equal(
      find(samples, "twofold_passcode_verifications_total", { result: "deny", factor: "none" })[0]?.value,
      1,
    );

    // Unmatched URLs share one label: random paths cannot grow the series without bound.
    const unmatched = find(samples, "http_requests_total", { status: "404" });
    assert.deepEqual(
      unmatched.map((s) => s.labels["route"]),
      ["(unmatched)"],
    );
    assert.equal(unmatched[0]?.value, 3);
    assert.ok(!res.body.includes("random-"), "raw URLs never become labels");

    const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
    assert.equal(find(samples, "twofold_build_info", { version })[0]?.value, 1);
    assert.ok((find(samples, "process_resident_memory_bytes")[0]?.value ?? 0) > 1_000_000);
    assert.ok((find(samples, "nodejs_eventloop_lag_seconds")[0]?.value ?? -1) >= 0);
    assert.match(res.body, /# TYPE http_request_duration_seconds histogram/);
    assert.match(res.body, /# TYPE twofold_passcode_verifications_total counter/);
    // prom-client's process metrics come along.
    assert.ok((find(samples, "process_cpu_user_seconds_total")[0]?.value ?? -1) >= 0);
    assert.ok((find(samples, "nodejs_heap_size_used_bytes")[0]?.value ?? 0) > 0);
  } finally {
    await app.close();
    await t.close();
  }
});

test("by default /metrics is not on the public listener", async () => {
  const t = await createTestRuntime();
  const server = await listenServer(buildServer(t.runtime), t.runtime);
  try {
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "ERR_ROUTE_NOT_FOUND");
    assert.equal(server.metricsUrl, undefined, "and no other listener was opened");
    assert.ok(
      t.logs.some((l) => l.includes("metrics are not served")),
      "the log says how to turn them on",
    );
  } finally {
    await server.close();
    await t.close();
  }
});

test("with metrics.token, a scrape without the token or with a wrong one is 401; the right one is 200", async () => {
  const t = await createTestRuntime({ overrides: { "metrics.token": TOKEN } });
  const app = buildServer(t.runtime);
  try {
    for (const authorization of [
      undefined,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Basic ${TOKEN}`,
      TOKEN,
    ]) {
      const res = await app.inject({
        method: "GET",
        url: "/metrics",
        headers: authorization ? { authorization } : {},
      });
      assert.equal(res.statusCode, 401, String(authorization));
      assert.equal(res.json().error.code, "ERR_UNAUTHENTICATED");
      assert.equal(res.headers["www-authenticate"], 'Bearer realm="metrics"');
      assert.ok(!res.body.includes("http_requests_total"));
    }
    const ok = await app.inject({ method: "GET", url: "/metrics", headers: BEARER });
    assert.equal(ok.statusCode, 200);
    assert.match(ok.body, /^# HELP /m);
    assert.ok(!t.logs.some((l) => l.includes(TOKEN)), "the token is never logged");
  } finally {
    await app.close();
    await t.close();
  }
});

test("metrics.listen serves /metrics on its own address and nowhere else", async () => {
  const t = await createTestRuntime({ overrides: { "metrics.listen": "127.0.0.1:0" } });
  const server = await listenServer(buildServer(t.runtime), t.runtime);
  try {
    assert.ok(server.metricsUrl, "a metrics listener was opened");
    assert.notEqual(new URL(server.metricsUrl).port, new URL(server.url).port);
    await fetch(`${server.url}/health`);
    const scrape = await fetch(server.metricsUrl);
    assert.equal(scrape.status, 200);
    assert.equal(scrape.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
    const samples = parsePrometheus(await scrape.text());
    assert.equal(find(samples, "http_requests_total", { route: "/health" })[0]?.value, 1);
    assert.equal((await fetch(`${server.url}/metrics`)).status, 404, "not on the public listener");
    const other = await fetch(new URL("/health", server.metricsUrl));
    assert.equal(other.status, 404, "the metrics listener serves nothing else");
  } finally {
    await server.close();
    await t.close();
  }
  await assert.rejects(fetch(server.metricsUrl ?? ""), "closed with the server");
});

test("metrics.listen with metrics.token asks for the token there too", async () => {
  const t = await createTestRuntime({
    overrides: { "metrics.listen": "127.0.0.1:0", "metrics.token": TOKEN },
  });
  const server = await listenServer(buildServer(t.runtime), t.runtime);
  try {
    assert.equal((await fetch(server.metricsUrl ?? "")).status, 401);
    assert.equal((await fetch(server.metricsUrl ?? "", { headers: BEARER })).status, 200);
  } finally {
    await server.close();
    await t.close();
  }
});

test("/metrics is absent everywhere when metrics.enabled is false", async () => {
  const t = await createTestRuntime({
    overrides: { "metrics.enabled": false, "metrics.token": TOKEN, "metrics.listen": "127.0.0.1:0" },
  });
  const server = await listenServer(buildServer(t.runtime), t.runtime);
  try {
    const res = await fetch(`${server.url}/metrics`, { headers: BEARER });
    assert.equal(res.status, 404);
    assert.equal(server.metricsUrl, undefined);
  } finally {
    await server.close();
    await t.close();
  }
});

test("a short metrics token or a malformed metrics.listen is refused at start", () => {
  assert.throws(
    () => loadConfig({ env: {}, overrides: { mode: "demo", "metrics.token": "short" } }),
    (e: TwofoldError) => e.issues.some((i) => i.path === "metrics.token"),
  );
  for (const listen of ["9464", "localhost", "127.0.0.1:99999", "::1:9464"])
    assert.throws(
      () => loadConfig({ env: {}, overrides: { mode: "demo", "metrics.listen": listen } }),
      (e: TwofoldError) => e.issues.some((i) => i.path === "metrics.listen"),
      listen,
    );
  const ok = loadConfig({ env: {}, overrides: { mode: "demo", "metrics.listen": "[::1]:9464" } });
  assert.equal(ok.metrics.listen, "[::1]:9464");
});
