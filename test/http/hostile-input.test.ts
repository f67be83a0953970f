// H-1: malformed and oversized input on every route ends in a 4xx with a generic body, never a 5xx or a stack trace.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { TwofoldError } from "../../src/core/errors.ts";
import { buildServer, listenServer, type RunningServer } from "../../src/http/server.ts";
import { createTestRuntime, DEMO, type HTTPTestContext } from "./support.ts";

let t: HTTPTestContext;
let app: FastifyInstance;
const bodies: string[] = [];

const Echo = T.Object(
  { name: T.String({ maxLength: 20 }), count: T.Optional(T.Integer()) },
  { additionalProperties: false },
);

before(async () => {
  t = await createTestRuntime();
  app = buildServer(t.runtime, { demo: DEMO });
  // Test-only routes that exercise the server-wide parsers, validators and error handler.
  app.post(
    "/test/echo",
    { schema: { body: Echo, response: { 200: Echo } } },
    async (request) => request.body as typeof Echo.static,
  );
  app.get(
    "/test/query",
    {
      schema: {
        querystring: T.Object({ n: T.Integer({ minimum: 1 }) }, { additionalProperties: false }),
        response: { 200: T.Object({ n: T.Integer(), type: T.String() }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { n } = request.query as { n: number };
      return { n, type: typeof n };
    },
  );
  app.get("/test/crash", { schema: { response: { 200: T.Null() } } }, async () => {
    throw new Error("connect ECONNREFUSED at /work/main/src/store/kysely-store.ts:42 password=hunter2");
  });
  app.get("/test/decrypt", { schema: { response: { 200: T.Null() } } }, async () => {
    throw new TwofoldError("ERR_DECRYPT", "seal of row DA123 failed", { detail: "key id t1, aad otp:DA123" });
  });
  app.get("/test/conflict", { schema: { response: { 200: T.Null() } } }, async () => {
    throw new TwofoldError("ERR_USER_EXISTS", "user alice already exists", { detail: "row U123" });
  });
  await app.ready();
});

after(async () => {
  await app.close();
  await t.close();
});

async function send(options: InjectOptions): Promise<LightMyRequestResponse> {
  const res = await app.inject(options);
  bodies.push(res.body);
  return res;
}

function assertError(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers["content-type"]), /^application\/json/);
  const body = res.json();
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, "string");
  assert.deepEqual(Object.keys(body), ["error"]);
}

const JSON_HEADERS = { "content-type": "application/json" };
const FORM = { "content-type": "application/x-www-form-urlencoded" };

test("an unknown route is 404 ERR_ROUTE_NOT_FOUND", async () => {
  const res = await send({ method: "GET", url: "/no/such/page?secret=1" });
  assertError(res, 404, "ERR_ROUTE_NOT_FOUND");
  assert.equal(res.json().error.message, "Not found.");
});

test("a body over server.bodyLimit is 413 ERR_PAYLOAD_TOO_LARGE", async () => {
  const big = "x".repeat(t.runtime.config.server.bodyLimit + 1);
  assertError(
    await send({
      method: "POST",
      url: "/test/echo",
      headers: JSON_HEADERS,
      payload: JSON.stringify({ name: big }),
    }),
    413,
    "ERR_PAYLOAD_TOO_LARGE",
  );
  assertError(
    await send({ method: "POST", url: "/demo/passcode", headers: FORM, payload: `username=${big}` }),
    413,
    "ERR_PAYLOAD_TOO_LARGE",
  );
});

test("a content type the server does not read is 415 ERR_UNSUPPORTED_MEDIA_TYPE", async () => {
  for (const type of ["text/plain", "application/xml", "multipart/form-data; boundary=x"]) {
    assertError(
      await send({
        method: "POST",
        url: "/demo/passcode",
        headers: { "content-type": type },
        payload: "a=b",
      }),
      415,
      "ERR_UNSUPPORTED_MEDIA_TYPE",
    );
  }
});

test("invalid or empty JSON is 400 ERR_VALIDATION", async () => {
  for (const payload of ['{"name":', "", "\u0000", '{"name":"a"}garbage', "[1,2"]) {
    assertError(
      await send({ method: "POST", url: "/test/echo", headers: JSON_HEADERS, payload }),
      400,
      "ERR_VALIDATION",
    );
  }
});

test("prototype-pollution keys are refused with 400, in JSON and in forms", async () => {
  for (const payload of [
    '{"__proto__":{"x":1}}',
    '{"name":"a","__proto__":{"isAdmin":true}}',
    '{"constructor":{"prototype":{"x":1}}}',
  ]) {
    assertError(
      await send({ method: "POST", url: "/test/echo", headers: JSON_HEADERS, payload }),
      400,
      "ERR_VALIDATION",
    );
  }
  for (const payload of ["__proto__=1&username=a&passcode=1", "constructor=x&username=a&passcode=1"]) {
    assertError(
      await send({ method: "POST", url: "/demo/passcode", headers: FORM, payload }),
      400,
      "ERR_VALIDATION",
    );
  }
  assert.equal(({} as Record<string, unknown>)["x"], undefined);
  assert.equal(({} as Record<string, unknown>)["isAdmin"], undefined);
});

test("the Web SDK's token and health-check endpoints refuse bad input in their own shapes, never with a 5xx", async () => {
  const cases: InjectOptions[] = [
    { headers: JSON_HEADERS, payload: "{" },
    { headers: JSON_HEADERS, payload: "[]" },
    { headers: JSON_HEADERS, payload: '{"__proto__":{"x":1}}' },
    { headers: FORM, payload: "client_id=a&client_id=b" },
    { headers: FORM, payload: `client_id=DIXXXXXXXXXXXXXXXXXX&client_assertion=${"a".repeat(20_000)}` },
    { headers: FORM, payload: "client_id=x", query: "a=1&a=2" },
  ];
  for (const c of cases) {
    const token = await send({ ...c, method: "POST", url: "/oauth/v1/token" });
    assert.equal(token.statusCode, 400, `token ${c.payload?.toString().slice(0, 30)}: ${token.body}`);
    const t1 = token.json();
    assert.equal(t1.error, "invalid_request");
    assert.equal(typeof t1.error_description, "string");
    assert.ok(t1.error_description.length > 0);
    const health = await send({ ...c, method: "POST", url: "/oauth/v1/health_check" });
    assert.equal(
      health.statusCode,
      400,
      `health_check ${c.payload?.toString().slice(0, 30)}: ${health.body}`,
    );
    const h = health.json();
    assert.deepEqual([h.stat, h.code, h.message], ["FAIL", 40002, "invalid_request"]);
    assert.equal(typeof h.timestamp, "number");
    assert.ok(typeof h.message_detail === "string" && h.message_detail.length > 0);
  }
});

test("a repeated form field is refused rather than resolved one way or another", async () => {
  const res = await send({
    method: "POST",
    url: "/demo/passcode",
    headers: FORM,
    payload: "username=alice&username=bob&passcode=123456",
  });
  assertError(res, 400, "ERR_VALIDATION");
});

test("schema violations are 400 with issues naming the field, and bodies are never coerced", async () => {
  const wrongType = await send({
    method: "POST",
    url: "/test/echo",
    headers: JSON_HEADERS,
    payload: { name: ["a"], count: "5" },
  });
  assertError(wrongType, 400, "ERR_VALIDATION");
  const paths = (wrongType.json().error.issues as { path: string }[]).map((i) => i.path);
  assert.ok(paths.includes("body.name") && paths.includes("body.count"), paths.join());

  const unknown = await send({
    method: "POST",
    url: "/test/echo",
    headers: JSON_HEADERS,
    payload: { name: "a", isAdmin: true },
  });
  assertError(unknown, 400, "ERR_VALIDATION");
  assert.deepEqual(unknown.json().error.issues, [{ path: "body.isAdmin", message: "Unexpected property" }]);

  const ok = await send({
    method: "POST",
    url: "/test/echo",
    headers: JSON_HEADERS,
    payload: { name: "a", count: 5 },
  });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { name: "a", count: 5 });

  assertError(await send({ method: "POST", url: "/test/echo" }), 400, "ERR_VALIDATION");
});

test("query strings are converted to the schema's types; unknown or wrong parameters are 400", async () => {
  const ok = await send({ method: "GET", url: "/test/query?n=5" });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { n: 5, type: "number" });
  assertError(await send({ method: "GET", url: "/test/query?n=five" }), 400, "ERR_VALIDATION");
  assertError(await send({ method: "GET", url: "/test/query?n=5&debug=1" }), 400, "ERR_VALIDATION");
  assertError(await send({ method: "GET", url: "/test/query" }), 400, "ERR_VALIDATION");
});

test("a malformed URL is 400 with the same body shape and headers", async () => {
  const res = await send({ method: "GET", url: "/%zz" });
  assertError(res, 400, "ERR_VALIDATION");
  assert.equal(res.headers["x-content-type-options"], "nosniff");
});

test("an unexpected error is 500 ERR_INTERNAL with a generic message; operators get the detail in the log", async () => {
  const res = await send({ method: "GET", url: "/test/crash" });
  assertError(res, 500, "ERR_INTERNAL");
  assert.equal(res.json().error.message, "Internal error.");
  assert.ok(!res.body.includes("ECONNREFUSED") && !res.body.includes("hunter2"));
  const logged = t.logs.find((l) => l.includes('"request failed"'));
  assert.ok(logged?.includes("ECONNREFUSED"), "the log keeps the real error");
  assert.equal(JSON.parse(logged!).level, "error");
});

test("a TwofoldError's private detail never reaches the client; server-side codes collapse to ERR_INTERNAL", async () => {
  const decrypt = await send({ method: "GET", url: "/test/decrypt" });
  assertError(decrypt, 500, "ERR_INTERNAL");
  assert.ok(!decrypt.body.includes("DA123") && !decrypt.body.includes("aad"));

  const conflict = await send({ method: "GET", url: "/test/conflict" });
  assertError(conflict, 409, "ERR_USER_EXISTS");
  assert.equal(conflict.json().error.message, "user alice already exists");
  assert.ok(!conflict.body.includes("row U123"));
});

test("no error body carries a stack trace, a file path or SQL", () => {
  assert.ok(bodies.length > 20);
  for (const body of bodies) {
    assert.doesNotMatch(body, /stack/i);
    assert.doesNotMatch(body, /\/(work|home|tmp|usr|root|src)\/|node_modules|\.[jt]s:\d+/);
    assert.doesNotMatch(body, /\b(select|insert|update)\b.*\b(from|into|set)\b/i);
  }
});

test("over a real socket: 20 kB of headers is 431 and garbage is 400, both in the usual shape", async () => {
  const server = buildServer(t.runtime);
  const running: RunningServer = await listenServer(server, t.runtime);
  const port = Number(new URL(running.url).port);
  const raw = (request: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      let data = "";
      socket.on("data", (d) => {
        data += d.toString();
      });
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
      socket.write(request);
    });
  try {
    const big = await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    assert.match(big, /\r\nx-content-type-options: nosniff\r\n/i);
    assert.match(big, /"code":"ERR_VALIDATION"/);

    const garbage = await raw("NOT HTTP AT ALL\r\n\r\n");
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.doesNotMatch(garbage, /stack|\.ts:/i);
  } finally {
    await running.close();
  }
});

test("a route that accepts input without a schema, or an open object schema, is refused at start-up", async () => {
  const a = buildServer(t.runtime);
  assert.throws(() => a.post("/test/no-schema", async () => "x"), /needs a response schema/);
  assert.throws(
    () => a.post("/test/no-body", { schema: { response: { 200: T.String() } } }, async () => "x"),
    /needs a body schema/,
  );
  await a.close();

  const b = buildServer(t.runtime);
  b.post(
    "/test/open",
    { schema: { body: T.Object({ a: T.String() }), response: { 200: T.String() } } },
    async () => "x",
  );
  await assert.rejects(async () => {
    await b.ready();
  }, /without additionalProperties/);
  await b.close().catch(() => undefined);
});
