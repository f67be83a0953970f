// Route serializers and validators compiled on first use or during the warm-up after listening: answers and refusals are those of compiling them at start.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Type as T } from "@sinclair/typebox";
import fastify from "fastify";
import { DeferredCompiles, deferredSerializers } from "../../src/http/deferred-compilers.ts";
import { createValidatorCompiler } from "../../src/http/validation.ts";

function server() {
  const compiles = new DeferredCompiles();
  const app = fastify({
    schemaController: { compilersFactory: { buildSerializer: deferredSerializers(compiles) } },
  });
  app.setValidatorCompiler(createValidatorCompiler((compile) => compiles.defer(compile)));
  const Answer = T.Object({ name: T.String(), count: T.Integer() }, { additionalProperties: false });
  for (const path of ["/a", "/b"])
    app.post(
      path,
      {
        schema: {
          body: T.Object({ name: T.String({ maxLength: 8 }) }, { additionalProperties: false }),
          response: { 200: Answer },
        },
      },
      // A field the schema does not name never reaches the client.
      async (request) => ({ ...(request.body as { name: string }), count: 1, secret: "not for the client" }),
    );
  return { app, compiles };
}

test("before any compile: answers keep to the response schema, and bad bodies are refused", async () => {
  const { app, compiles } = server();
  await app.ready();
  const waiting = compiles.pending;
  // Two body validators, and one serializer for the response schema both routes share.
  assert.equal(waiting, 3);
  const ok = await app.inject({ method: "POST", url: "/a", payload: { name: "alice" } });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { name: "alice", count: 1 });
  const bad = await app.inject({ method: "POST", url: "/a", payload: { name: "far too long a name" } });
  assert.equal(bad.statusCode, 400);
  const unknown = await app.inject({ method: "POST", url: "/a", payload: { name: "bob", admin: true } });
  assert.equal(unknown.statusCode, 400);
  assert.ok(compiles.pending < waiting, "what a request needed was compiled then");
  await app.close();
});

test("the warm-up compiles the rest; the routes answer the same after it", async () => {
  const { app, compiles } = server();
  await app.ready();
  await compiles.warmUp();
  assert.equal(compiles.pending, 0);
  const ok = await app.inject({ method: "POST", url: "/b", payload: { name: "carol" } });
  assert.deepEqual(ok.json(), { name: "carol", count: 1 });
  const bad = await app.inject({ method: "POST", url: "/b", payload: { name: 7 } });
  assert.equal(bad.statusCode, 400);
  await app.close();
});

test("a schema that is not TypeBox's, or an open object, still stops the server at start", async () => {
  for (const body of [
    { type: "object", properties: { name: { type: "string" } }, additionalProperties: false },
    T.Object({ name: T.String() }),
  ]) {
    const { app } = server();
    app.post(
      "/c",
      { schema: { body, response: { 200: T.Object({}, { additionalProperties: false }) } } },
      async () => ({}),
    );
    await assert.rejects(async () => {
      await app.ready();
    }, /not a TypeBox schema|without additionalProperties/);
  }
});

test("the Duo routes' parameter checks wait too; a bad signed request before the warm-up gets Duo's 400", async () => {
  const { buildServer } = await import("../../src/http/server.ts");
  const { deferredCompilesOf } = await import("../../src/http/deferred-compilers.ts");
  const { createTestRuntime, ADMIN } = await import("./support.ts");
  const { sign } = await import("@duosecurity/duo_api/lib/duo_sig.js");
  const { TypeCompiler } = await import("@sinclair/typebox/compiler");
  const t = await createTestRuntime();
  const app = buildServer(t.runtime);
  // Count the TypeBox compiles start-up runs (the Duo routes' parameter checks are theirs).
  const compile = TypeCompiler.Compile;
  let compiledAtStart = 0;
  (TypeCompiler as { Compile: typeof compile }).Compile = ((...args: Parameters<typeof compile>) => {
    compiledAtStart++;
    return compile(...args);
  }) as typeof compile;
  try {
    await app.ready();
    (TypeCompiler as { Compile: typeof compile }).Compile = compile;
    assert.equal(compiledAtStart, 0, "no TypeBox compile at start");
    const compiles = deferredCompilesOf(app)!;
    const before = compiles.pending;
    const created = await t.runtime.services.createApplication(ADMIN, { name: "VPN", type: "auth-api" });
    const [ikey, skey] = [created.application.id, created.secretKey.reveal()];
    const when = new Date(t.clock.now()).toUTCString();
    // A username longer than the parameter's schema allows.
    const params = { username: "x".repeat(5000), factor: "passcode", passcode: "123456" };
    const res = await app.inject({
      method: "POST",
      url: "/auth/v2/auth",
      headers: {
        host: "localhost",
        date: when,
        authorization: sign(ikey, skey, "POST", "localhost", "/auth/v2/auth", params, when),
        "content-type": "application/x-www-form-urlencoded",
      },
      payload: new URLSearchParams(params).toString(),
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, 40002);
    assert.ok(compiles.pending < before, "the route's check was compiled when its first request needed it");
    await compiles.warmUp();
    assert.equal(compiles.pending, 0);
  } finally {
    (TypeCompiler as { Compile: typeof compile }).Compile = compile;
    await app.close();
    await t.close();
  }
});
