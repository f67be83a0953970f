// /metrics speaks Prometheus text format 0.0.4 and counts requests and passcode checks from any interface.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { buildServer } from "../../src/http/server.ts";
import { Counter, Histogram, MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from "../../src/runtime/metrics.ts";
import { createTestRuntime, DEMO, enrollTOTPUser, parsePrometheus } from "./support.ts";

const FORM = { "content-type": "application/x-www-form-urlencoded" };

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
  const t = await createTestRuntime();
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

    const res = await app.inject({ method: "GET", url: "/metrics" });
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
  } finally {
    await app.close();
    await t.close();
  }
});

test("/metrics is absent when metrics.enabled is false", async () => {
  const t = await createTestRuntime({ overrides: { "metrics.enabled": false } });
  const app = buildServer(t.runtime);
  try {
    const res = await app.inject({ method: "GET", url: "/metrics" });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, "ERR_ROUTE_NOT_FOUND");
  } finally {
    await app.close();
    await t.close();
  }
});

test("label values with quotes, backslashes and line feeds are escaped and read back intact", () => {
  const registry = new MetricsRegistry();
  const c = registry.register(new Counter("test_total", "A help text\nwith a line feed", ["who"]));
  const nasty = 'a"b\\c\nd} e="f"';
  c.inc({ who: nasty });
  c.inc({ who: nasty }, 2);
  const text = registry.render();
  assert.equal(text.split("\n").length, 4, "HELP, TYPE, one sample and the final line feed");
  const [sample] = parsePrometheus(text);
  assert.deepEqual(sample, { name: "test_total", labels: { who: nasty }, value: 3 });
  assert.throws(() => c.inc({ other: "x" }), /unknown label/);
  assert.throws(() => c.inc({}, -1), /only goes up/);
  assert.throws(() => new Counter("bad-name", "x"), /invalid metric name/);
});

test("histogram buckets are cumulative and end with +Inf, _sum and _count", () => {
  const registry = new MetricsRegistry();
  const h = registry.register(new Histogram("op_seconds", "x", ["op"], [0.1, 1]));
  for (const v of [0.05, 0.1, 0.5, 5]) h.observe({ op: "a" }, v);
  const samples = parsePrometheus(registry.render());
  const buckets = samples.filter((s) => s.name === "op_seconds_bucket").map((s) => [s.labels["le"], s.value]);
  assert.deepEqual(buckets, [
    ["0.1", 2],
    ["1", 3],
    ["+Inf", 4],
  ]);
  assert.equal(samples.find((s) => s.name === "op_seconds_sum")?.value, 5.65);
  assert.equal(samples.find((s) => s.name === "op_seconds_count")?.value, 4);
});
