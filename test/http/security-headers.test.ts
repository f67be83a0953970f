// I2: every response, errors included, carries the browser security headers; HSTS whenever the service is HTTPS.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { buildServer } from "../../src/http/server.ts";
import { createTestRuntime, DEMO } from "./support.ts";

function assertSecurityHeaders(res: LightMyRequestResponse) {
  const h = res.headers;
  const where = `${res.statusCode} ${res.body.slice(0, 60)}`;
  assert.equal(h["x-content-type-options"], "nosniff", where);
  assert.equal(h["referrer-policy"], "same-origin", where);
  assert.equal(h["x-frame-options"], "DENY", where);
  assert.equal(h["cross-origin-opener-policy"], "same-origin", where);
  assert.ok(h["permissions-policy"], where);
  const csp = String(h["content-security-policy"]);
  for (const directive of [
    "default-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
  ])
    assert.ok(csp.includes(directive), `${where}: CSP lacks ${directive}`);
  assert.match(String(h["x-request-id"]), /^[0-9a-f]{16}$/, where);
}

test("security headers on 200, 404, 400, 413 and 415 answers, and no-store on API answers", async () => {
  const t = await createTestRuntime({ overrides: { "metrics.token": "t".repeat(32) } });
  const app = buildServer(t.runtime, { demo: DEMO });
  try {
    const responses = [
      await app.inject({ method: "GET", url: "/health" }),
      await app.inject({ method: "GET", url: "/" }),
      await app.inject({
        method: "GET",
        url: "/metrics",
        headers: { authorization: `Bearer ${"t".repeat(32)}` },
      }),
      await app.inject({ method: "GET", url: "/missing" }),
      await app.inject({
        method: "POST",
        url: "/demo/passcode",
        headers: { "content-type": "application/json" },
        payload: "{bad",
      }),
      await app.inject({
        method: "POST",
        url: "/demo/passcode",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify({ username: "x".repeat(70_000) }),
      }),
      await app.inject({
        method: "POST",
        url: "/demo/passcode",
        headers: { "content-type": "text/plain" },
        payload: "x",
      }),
    ];
    assert.deepEqual(
      responses.map((r) => r.statusCode),
      [200, 200, 200, 404, 400, 413, 415],
    );
    for (const res of responses) {
      assertSecurityHeaders(res);
      assert.equal(res.headers["cache-control"], "no-store");
      assert.equal(res.headers["strict-transport-security"], undefined, "no HSTS over plain HTTP");
    }
  } finally {
    await app.close();
    await t.close();
  }
});

test("HSTS on every answer when the public URL is https (TLS ends at a proxy)", async () => {
  const t = await createTestRuntime({ overrides: { "server.publicUrl": "https://twofold.example.edu" } });
  const app = buildServer(t.runtime);
  try {
    for (const url of ["/health", "/missing"]) {
      const res = await app.inject({ method: "GET", url });
      assert.equal(res.headers["strict-transport-security"], "max-age=31536000; includeSubDomains");
      assertSecurityHeaders(res);
    }
  } finally {
    await app.close();
    await t.close();
  }
});

test("X-Forwarded-Proto is believed only from a configured proxy", async () => {
  const t = await createTestRuntime({ overrides: { "server.trustProxy": ["127.0.0.1"] } });
  const app = buildServer(t.runtime);
  try {
    const viaProxy = await app.inject({
      method: "GET",
      url: "/health",
      remoteAddress: "127.0.0.1",
      headers: { "x-forwarded-proto": "https" },
    });
    assert.ok(viaProxy.headers["strict-transport-security"]);
    const spoofed = await app.inject({
      method: "GET",
      url: "/health",
      remoteAddress: "203.0.113.9",
      headers: { "x-forwarded-proto": "https" },
    });
    assert.equal(spoofed.headers["strict-transport-security"], undefined);
  } finally {
    await app.close();
    await t.close();
  }
});
