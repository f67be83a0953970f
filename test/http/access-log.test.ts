// N1: one structured line per response with the route pattern; never a query string, body, passcode or credential header.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildServer } from "../../src/http/server.ts";
import { createTestRuntime, DEMO } from "./support.ts";

test("each response is logged once with method, route pattern, status, duration and request id — and nothing secret", async () => {
  const t = await createTestRuntime();
  const app = buildServer(t.runtime, { demo: DEMO });
  try {
    const health = await app.inject({
      method: "GET",
      url: "/health?token=QUERYSECRET",
      headers: { authorization: "Basic QVVUSFNFQ1JFVA==", cookie: "session=COOKIESECRET" },
    });
    await app.inject({
      method: "POST",
      url: "/demo/passcode",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "username=alice%0Aforged&passcode=987654",
    });
    await app.inject({ method: "GET", url: "/nowhere/QUERYSECRET2" });

    const lines = t.logs.filter((l) => l.includes('"request completed"')).map((l) => JSON.parse(l));
    assert.equal(lines.length, 3, "one line per response");
    assert.deepEqual(
      lines.map((l) => [l.method, l.route, l.status]),
      [
        ["GET", "/health", 200],
        ["POST", "/demo/passcode", 200],
        ["GET", "(unmatched)", 404],
      ],
    );
    assert.equal(lines[0].reqId, health.headers["x-request-id"]);
    assert.equal(lines[0].component, "http");
    assert.equal(typeof lines[0].ms, "number");
    assert.equal(lines[2].errorCode, "ERR_ROUTE_NOT_FOUND");

    const all = t.logs.join("");
    for (const secret of ["QUERYSECRET", "QVVUSFNFQ1JFVA", "COOKIESECRET", "987654", "forged"])
      assert.ok(!all.includes(secret), `${secret} leaked into the logs`);
    for (const line of t.logs) assert.equal(line.trimEnd().split("\n").length, 1, "one line each");
  } finally {
    await app.close();
    await t.close();
  }
});

test("a line a request logs itself carries its request id and the server's bindings, and is redacted", async () => {
  const t = await createTestRuntime();
  const app = buildServer(t.runtime, { demo: DEMO });
  try {
    const refused = await app.inject({
      method: "POST",
      url: "/oauth/v1/health_check",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "client_id=DIUNKNOWNCLIENT0000000&client_assertion=NOT.A.JWT",
    });
    assert.equal(refused.statusCode, 400);
    const own = t.logs
      .map((l) => JSON.parse(l))
      .filter((l) => typeof l.msg === "string" && l.msg.endsWith("refused"));
    assert.equal(own.length, 1, t.logs.join(""));
    assert.equal(own[0].reqId, refused.headers["x-request-id"]);
    assert.equal(own[0].component, "http");
    assert.ok(!t.logs.join("").includes("NOT.A.JWT"));
  } finally {
    await app.close();
    await t.close();
  }
});
