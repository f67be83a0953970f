// Bad input answers 4xx, never 500 (H-1): control characters in names, slow and cut-off bodies, idle connections,
// and a flood of handler timeouts logged as one warning.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, test } from "node:test";
import * as duoSig from "@duosecurity/duo_api/lib/duo_sig.js";
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { buildServer, listenServer } from "../../src/http/server.ts";
import { dialects } from "../support/stores.ts";
import { TestDevice } from "../support/test-device.ts";
import { ADMIN, createTestRuntime } from "./support.ts";

type Keys = { ikey: string; skey: string };

/** A signed Duo API call (form-encoded, signature v2) through inject; each call gets its own Date. */
function duoCaller(app: FastifyInstance, now: () => number) {
  let n = 0;
  return async (keys: Keys, method: "GET" | "POST", path: string, params: Record<string, string> = {}) => {
    const date = new Date(now() - n++ * 1000).toUTCString();
    const canon = duoSig._canonParams(params);
    const authorization = duoSig.sign(keys.ikey, keys.skey, method, "localhost", path, params, date);
    const headers: Record<string, string> = { date, host: "localhost", authorization };
    if (method === "POST") headers["content-type"] = "application/x-www-form-urlencoded";
    const res = await app.inject({
      method,
      url: method === "GET" && canon ? `${path}?${canon}` : path,
      headers,
      ...(method === "POST" ? { payload: canon } : {}),
    });
    return { status: res.statusCode, body: res.json() as { stat: string; message_detail?: string } };
  };
}

for (const dialect of await dialects()) {
  describe(`control characters on ${dialect}`, () => {
    test("in Admin API user and phone fields and in device names they are 400 naming the field, never 500", async () => {
      const t = await createTestRuntime({ dialect });
      const app = buildServer(t.runtime);
      try {
        const created = await t.runtime.services.createApplication(ADMIN, { name: "a", type: "admin-api" });
        const keys = { ikey: created.application.id, skey: created.secretKey.reveal() };
        const call = duoCaller(app, () => t.clock.now());
        const cases: [string, string, Record<string, string>, string][] = [
          ["POST", "/admin/v1/users", { username: "a\u0000b" }, "username"],
          ["POST", "/admin/v1/users", { username: "ok", realname: "Al\u0000ice" }, "realname"],
          ["POST", "/admin/v1/users", { username: "ok", email: "a\u0000@example.org" }, "email"],
          ["POST", "/admin/v1/users", { username: "ok", notes: "x\u0007" }, "notes"],
          ["POST", "/admin/v1/users", { username: "ok", firstname: "\u001b[31m" }, "firstname"],
          ["GET", "/admin/v1/users", { username: "a\u0000" }, "username"],
          ["POST", "/admin/v1/phones", { number: "+15555550100", name: "ph\u0000one" }, "name"],
          ["POST", "/admin/v1/phones", { number: "+15555550100", platform: "\u0085" }, "platform"],
          ["GET", "/admin/v1/users/DU%00", {}, "user_id"],
        ];
        for (const [method, path, params, field] of cases) {
          const r = await call(keys, method as "GET" | "POST", path, params);
          assert.equal(
            r.status,
            400,
            `${method} ${path} ${JSON.stringify(params)}: ${JSON.stringify(r.body)}`,
          );
          assert.equal(r.body.stat, "FAIL");
          assert.match(r.body.message_detail ?? "", new RegExp(field));
        }
        // A note may span lines: line feeds and tabs are not control characters to refuse.
        const ok = await call(keys, "POST", "/admin/v1/users", {
          username: "carol",
          notes: "line 1\n\tline 2",
        });
        assert.equal(ok.status, 200, JSON.stringify(ok.body));

        await t.runtime.services.createUser(ADMIN, { username: "alice" });
        const ticket = await t.runtime.services.createDeviceActivation(ADMIN, "alice");
        const activate = (name: string) =>
          app.inject({
            method: "POST",
            url: "/device/v1/activate",
            payload: {
              token: ticket.token.reveal(),
              name,
              publicKey: new TestDevice("http://127.0.0.1:9", () => 0).publicKey,
            },
          });
        const refused = await activate("Alice's phone\u0000");
        assert.equal(refused.statusCode, 400, refused.body);
        assert.deepEqual(refused.json().error.issues, [
          { path: "body.name", message: "contains control characters" },
        ]);
        assert.equal(
          (await activate("Alice's phone")).statusCode,
          200,
          "the link was not used up by the refusal",
        );
        assert.ok(!t.logs.some((l) => l.includes('"level":"error"')), "no error was logged");
      } finally {
        await app.close();
        await t.close();
      }
    });

    test("a login with a control character in the username is denied and written to the authentication log", async () => {
      const t = await createTestRuntime({ dialect });
      const app = buildServer(t.runtime);
      try {
        const created = await t.runtime.services.createApplication(ADMIN, { name: "vpn", type: "auth-api" });
        const keys = { ikey: created.application.id, skey: created.secretKey.reveal() };
        const call = duoCaller(app, () => t.clock.now());
        const preauth = await call(keys, "POST", "/auth/v2/preauth", { username: "root\u0000" });
        const auth = await call(keys, "POST", "/auth/v2/auth", {
          username: "ro\u0007ot",
          factor: "passcode",
          passcode: "1234\u000056",
        });
        for (const r of [preauth, auth]) {
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.equal((r.body as unknown as { response: { result: string } }).response.result, "deny");
        }
        const log = await t.runtime.store.listAuthLog({
          minTime: 0,
          maxTime: Number.MAX_SAFE_INTEGER,
          limit: 10,
        });
        assert.deepEqual(
          log.entries.map((e) => e.username).sort(),
          ["ro\\u0007ot", "root\\u0000"],
          "both attempts are in the log, control characters written out",
        );
        assert.ok(!t.logs.some((l) => l.includes('"level":"error"')), "no error was logged");
      } finally {
        await app.close();
        await t.close();
      }
    });
  });
}

/** What a raw socket receives until the server closes it, and how long that took. */
function converse(port: number, send: (write: (s: string) => void, end: () => void) => void) {
  return new Promise<{ text: string; ms: number }>((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      text += d;
    });
    socket.on("error", reject);
    socket.on("close", () => resolve({ text, ms: Math.round(performance.now() - started) }));
    socket.on("connect", () =>
      send(
        (s) => socket.write(s),
        () => socket.end(),
      ),
    );
  });
}

const statusLine = (text: string) => text.split("\r\n")[0] ?? "";
const POST_HEAD =
  "POST /device/v1/activate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n";

test("over real sockets: a slow body is 408, a cut-off body 400, an idle new connection is closed without a word", async () => {
  const t = await createTestRuntime({ overrides: { "server.requestTimeoutSeconds": 2 } });
  const server = await listenServer(buildServer(t.runtime), t.runtime);
  const port = Number(new URL(server.url).port);
  try {
    const [slow, cut, idle, slowHeaders] = await Promise.all([
      converse(port, (write) => write(`${POST_HEAD}{"token":`)),
      converse(port, (write, end) => {
        write(`${POST_HEAD}{"token":`);
        end();
      }),
      converse(port, () => {}),
      converse(port, (write) => write("GET /health HTTP/1.1\r\nHost: localhost\r\n")),
    ]);
    console.log(
      `slow body ${slow.ms} ms, cut-off body ${cut.ms} ms, idle ${idle.ms} ms, slow headers ${slowHeaders.ms} ms`,
    );
    assert.equal(statusLine(slow.text), "HTTP/1.1 408 Request Timeout", slow.text);
    assert.match(slow.text, /"code":"ERR_REQUEST_TIMEOUT"/);
    assert.ok(slow.ms >= 1900 && slow.ms < 4500, `slow body answered after ${slow.ms} ms`);
    assert.equal(statusLine(cut.text), "HTTP/1.1 400 Bad Request", cut.text);
    assert.ok(cut.ms < 1000, `cut-off body answered after ${cut.ms} ms`);
    assert.equal(idle.text, "", "nothing is sent on a connection that sent nothing");
    assert.ok(idle.ms >= 1900 && idle.ms < 4500, `idle connection closed after ${idle.ms} ms`);
    assert.equal(
      statusLine(slowHeaders.text),
      "HTTP/1.1 408 Request Timeout",
      "slow headers still get their 408",
    );
    assert.ok(!t.logs.some((l) => l.includes('"level":"error"')), "no error was logged");
  } finally {
    await server.close();
    await t.close();
  }
});

test("150 handlers running past the timeout are each answered 503 and logged as one warning", async () => {
  const t = await createTestRuntime({ overrides: { "server.requestTimeoutSeconds": 1 } });
  const app = buildServer(t.runtime);
  // A handler stuck on something slow (a database that stopped answering) until its deadline aborts it.
  app.get("/test/stuck", { schema: { response: { 200: T.String() } } }, (request) => {
    return new Promise<string>((_, reject) =>
      request.signal.addEventListener("abort", () => reject(new Error("aborted"))),
    );
  });
  const server = await listenServer(app, t.runtime);
  try {
    const statuses = await Promise.all(
      Array.from({ length: 150 }, () => fetch(`${server.url}/test/stuck`).then((r) => r.status)),
    );
    assert.deepEqual(new Set(statuses), new Set([503]));
    const lines = t.logs.map(
      (l) => JSON.parse(l) as { level: number | string; msg: string; requests?: number },
    );
    const errors = lines.filter((l) => l.level === "error" || l.level === 50);
    const warnings = lines.filter((l) => /handler timeout/.test(l.msg));
    console.log(`150 timeouts: ${errors.length} error lines, ${warnings.length} warning line(s)`);
    assert.equal(errors.length, 0);
    assert.equal(warnings.length, 1);
    assert.equal(
      warnings[0]?.requests,
      1,
      "the first is reported at once; the rest are counted into the next one",
    );
  } finally {
    await server.close();
    await t.close();
  }
});
