// K1–K3 and duo-compat §1.7/§2.1 over HTTP: signed requests to /auth/v2, /rest/v1 and /admin/v1 through fastify.inject — refusals, replay, parameter ambiguity, hostile input, envelopes.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import type { FastifyInstance, InjectOptions } from "fastify";
import { decodeBSON } from "../../src/http/duo/bson.ts";
import { buildServer } from "../../src/http/server.ts";
import { createTestRuntime, enrollTOTPUser, type HTTPTestContext } from "../http/support.ts";

// SQLite only: the one store call these tests depend on (the replay claim) is a single ON CONFLICT statement that
// Kysely writes the same for both databases; what is under test here is the HTTP layer in front of it.

interface Integration {
  ikey: string;
  skey: string;
}

/** The API hostname the clients are configured with (§1.4); sent as the Host header too. */
const HOST = "api.twofold.test";

let t: HTTPTestContext;
let app: FastifyInstance;
let authAPI: Integration;
let adminAPI: Integration;

before(async () => {
  t = await createTestRuntime();
  app = buildServer(t.runtime);
  await app.ready();
  const create = async (type: string): Promise<Integration> => {
    const c = await t.runtime.services.createApplication({ name: "t" }, { name: `x ${type}`, type });
    return { ikey: c.application.id, skey: c.secretKey.reveal() };
  };
  authAPI = await create("auth-api");
  adminAPI = await create("admin-api");
  // alice and `bob|x` have an authenticator app, so their preauth answers `auth`.
  await enrollTOTPUser(t, "alice");
  await enrollTOTPUser(t, "bob|x");
});

after(async () => {
  await app?.close();
  await t?.close();
});

// ---------------------------------------------------------------------------------------------------------
// An independent signer (duo-compat §1.1–§1.5), nothing imported from src/core.
// ---------------------------------------------------------------------------------------------------------

function percentEncode(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8"))
    out +=
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte)) && byte < 0x80
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}

function paramsLine(params: ReadonlyArray<readonly [string, string]>): string {
  return params
    .map(([k, v]) => [percentEncode(k), percentEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

const sha512Hex = (data: string) => createHash("sha512").update(data, "utf8").digest("hex");

interface Signing {
  method: string;
  path: string;
  /** The parameters as signed (decoded); for a JSON request, the query's. */
  params?: Array<[string, string]>;
  /** null: undated (variant L). */
  date: string | null;
  algorithm?: "SHA1" | "SHA512";
  /** A JSON body: signs v5 over it. */
  json?: string;
  host?: string;
}

function authorization(key: Integration, s: Signing): string {
  const lines = [s.method, (s.host ?? HOST).toLowerCase(), s.path, paramsLine(s.params ?? [])];
  if (s.date !== null) lines.unshift(s.date);
  if (s.json !== undefined) lines.push(sha512Hex(s.json), sha512Hex(""));
  const algorithm = s.algorithm ?? (s.date === null ? "SHA1" : "SHA512");
  const digest = createHmac(algorithm === "SHA1" ? "sha1" : "sha512", key.skey)
    .update(lines.join("\n"), "utf8")
    .digest("hex");
  return `Basic ${Buffer.from(`${key.ikey}:${digest}`).toString("base64")}`;
}

/** Form encoding as a browser or Python writes it: a space becomes `+`, `*-._` stay, the rest is escaped. */
const wire = (params: Array<[string, string]>) => new URLSearchParams(params).toString();

const now = () => new Date(t.clock.now()).toUTCString();

/** A signed form request: the query for GET, the body for POST. */
function signedForm(
  key: Integration,
  method: "GET" | "POST",
  path: string,
  params: Array<[string, string]>,
  options: { date?: string | null; body?: string; query?: string; headers?: Record<string, string> } = {},
): InjectOptions {
  const date = options.date === undefined ? now() : options.date;
  const encoded = wire(params);
  const headers: Record<string, string> = {
    host: HOST,
    authorization: authorization(key, { method, path, params, date }),
    ...(date === null ? {} : { date }),
    ...options.headers,
  };
  if (method === "GET")
    return { method, url: options.query ?? (encoded ? `${path}?${encoded}` : path), headers };
  return {
    method,
    url: options.query ?? path,
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    payload: options.body ?? encoded,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Every answer on a Duo path is a Duo envelope (§2.1): JSON, or BSON on /rest/v1/*.bson; never a 5xx.
// ---------------------------------------------------------------------------------------------------------

interface Envelope {
  stat: "OK" | "FAIL";
  code?: number;
  message?: string;
  message_detail?: string;
  response?: Record<string, unknown>;
}

async function send(options: InjectOptions): Promise<{ status: number; body: Envelope }> {
  const res = await app.inject(options);
  const url = String(options.url ?? "");
  const bson = /^\/rest\/v1\/[^?]*\.bson(?:\?|$)/.test(url);
  const type = String(res.headers["content-type"] ?? "");
  assert.match(type, bson ? /^application\/bson\b/ : /^application\/json\b/, `${url}: content-type ${type}`);
  assert.ok(res.statusCode < 500, `${url}: ${res.statusCode} ${res.body}`);
  const body = (bson ? decodeBSON(res.rawPayload) : JSON.parse(res.body)) as Envelope;
  if (res.statusCode === 200) assert.equal(body.stat, "OK", res.body);
  else {
    assert.ok(res.statusCode >= 400, `${url}: ${res.statusCode}`);
    assert.equal(body.stat, "FAIL");
    assert.ok(Number.isInteger(body.code) && typeof body.message === "string", JSON.stringify(body));
    // §2.1: the code is the HTTP status followed by two digits.
    assert.equal(Math.floor(body.code! / 100), res.statusCode, JSON.stringify(body));
  }
  return { status: res.statusCode, body };
}

async function assertFailure(
  options: InjectOptions,
  status: number,
  code: number,
  message?: string,
): Promise<Envelope> {
  const { status: got, body } = await send(options);
  assert.equal(got, status, JSON.stringify(body));
  assert.equal(body.code, code, JSON.stringify(body));
  if (message !== undefined) assert.equal(body.message, message);
  return body;
}

async function assertStillAnswering(): Promise<void> {
  const { status, body } = await send(signedForm(authAPI, "GET", "/auth/v2/check", []));
  assert.equal(status, 200);
  assert.equal(body.response?.["time"], Math.floor(t.clock.now() / 1000));
}

// ---------------------------------------------------------------------------------------------------------

describe("credentials (§1.7)", () => {
  test("a correctly signed request passes", async () => {
    await assertStillAnswering();
  });

  test("missing Authorization → 401 40101", async () => {
    const { authorization: _, ...headers } = signedForm(authAPI, "GET", "/auth/v2/check", [])
      .headers as Record<string, string>;
    await assertFailure(
      { method: "GET", url: "/auth/v2/check", headers },
      401,
      40101,
      "Missing request credentials",
    );
  });

  test("unknown ikey → 401 40102", async () => {
    const stranger = { ikey: "DIUNKNOWN00000000000", skey: authAPI.skey };
    await assertFailure(
      signedForm(stranger, "GET", "/auth/v2/check", []),
      401,
      40102,
      "Invalid integration key in request credentials",
    );
  });

  test("bad signature → 401 40103", async () => {
    const wrongSecret = { ikey: authAPI.ikey, skey: `${authAPI.skey.slice(0, -1)}#` };
    await assertFailure(
      signedForm(wrongSecret, "GET", "/auth/v2/check", []),
      401,
      40103,
      "Invalid signature in request credentials",
    );
  });

  test("no date on /auth/v2 → 401 40104, even with a valid undated signature", async () => {
    await assertFailure(signedForm(authAPI, "GET", "/auth/v2/check", [], { date: null }), 401, 40104);
  });

  test("a date 6 minutes old → 401 40105; 4 minutes old passes", async () => {
    const old = (ms: number) => new Date(t.clock.now() - ms).toUTCString();
    await assertFailure(
      signedForm(authAPI, "GET", "/auth/v2/check", [], { date: old(6 * 60_000) }),
      401,
      40105,
    );
    const { status } = await send(
      signedForm(authAPI, "GET", "/auth/v2/check", [], { date: old(4 * 60_000) }),
    );
    assert.equal(status, 200);
  });

  test("X-Duo-Date (duo_unix ≥ 2.1) is read before Date (§1.3)", async () => {
    const date = new Date(t.clock.now()).toUTCString().replace("GMT", "+0000");
    const options = signedForm(authAPI, "GET", "/auth/v2/check", [], { date });
    const headers = options.headers as Record<string, string>;
    delete headers["date"];
    // A stale Date beside a current, signed X-Duo-Date: the X-Duo-Date is the one that counts.
    const stale = new Date(t.clock.now() - 3600_000).toUTCString();
    const { status } = await send({ ...options, headers: { ...headers, "x-duo-date": date, date: stale } });
    assert.equal(status, 200);
  });

  test("the host line may be the Host header without its port (duo_unix, §1.4)", async () => {
    const options = signedForm(authAPI, "GET", "/auth/v2/check", []);
    const { status } = await send({ ...options, headers: { ...options.headers, host: `${HOST}:8443` } });
    assert.equal(status, 200);
  });

  test("admin-api keys on /auth/v2/check → 403 40301 Access forbidden (§0)", async () => {
    const body = await assertFailure(
      signedForm(adminAPI, "GET", "/auth/v2/check", []),
      403,
      40301,
      "Access forbidden",
    );
    assert.equal(body.message_detail, "Wrong integration type for this API.");
  });

  test("a bad signature on a .bson path is a BSON failure", async () => {
    const wrongSecret = { ikey: authAPI.ikey, skey: "x".repeat(40) };
    await assertFailure(
      signedForm(wrongSecret, "POST", "/rest/v1/preauth.bson", [["user", "alice"]], { date: null }),
      401,
      40103,
    );
  });
});

describe("replay (K2)", () => {
  const auth: Array<[string, string]> = [
    ["factor", "passcode"],
    ["username", "nobody"],
    ["passcode", "123456"],
  ];

  test("the same signed POST /auth/v2/auth twice → 200 then 409 40901; signed anew it is accepted", async () => {
    const first = signedForm(authAPI, "POST", "/auth/v2/auth", auth);
    assert.equal((await send(first)).status, 200);
    t.clock.advance(20_000);
    await assertFailure(first, 409, 40901);
    // Same content, signed again: a new Date (one second on at least) gives a new signature.
    t.clock.advance(1000);
    const again = await send(signedForm(authAPI, "POST", "/auth/v2/auth", auth));
    assert.equal(again.status, 200);
    assert.equal(again.body.response?.["result"], "deny");
  });

  test("the replay check does not depend on the Authorization header's spelling", async () => {
    t.clock.advance(1000);
    const first = signedForm(authAPI, "POST", "/auth/v2/auth", auth);
    assert.equal((await send(first)).status, 200);
    const headers = first.headers as Record<string, string>;
    const [ikey, digest] = Buffer.from(headers["authorization"]!.slice(6), "base64").toString().split(":");
    const respelled = `basic ${Buffer.from(`${ikey}:${digest!.toUpperCase()}`).toString("base64")}`;
    t.clock.advance(1000);
    await assertFailure({ ...first, headers: { ...headers, authorization: respelled } }, 409, 40901);
  });

  test("undated legacy /rest/v1 requests pass without a Date header; an identical one is refused only for a few seconds", async () => {
    // duo_unix 1.11.3 sends no date at all (§3.9), so these are variant L. With no date there is no window to
    // remember a signature for: refusing repeats for good would mean refusing the user's next identical login,
    // since duo_unix signs the same bytes for every identical request. A short window refuses immediate copies.
    const preauth = signedForm(
      authAPI,
      "POST",
      "/rest/v1/preauth.bson",
      [
        ["failmode", "closed"],
        ["hostname", "web01"],
        ["user", "alice"],
      ],
      { date: null },
    );
    assert.equal((preauth.headers as Record<string, string>)["date"], undefined);
    const p = await send(preauth);
    assert.equal(p.status, 200);
    assert.equal(p.body.response?.["result"], "auth");

    const v1auth = signedForm(
      authAPI,
      "POST",
      "/rest/v1/auth.bson",
      [
        ["user", "nobody"],
        ["factor", "auto"],
        ["auto", "123456"],
        ["async", "0"],
      ],
      { date: null },
    );
    const first = await send(v1auth);
    assert.equal(first.status, 200);
    assert.equal(first.body.response?.["result"], "deny");
    await assertFailure(v1auth, 429, 42901);
    t.clock.advance(1500);
    await assertFailure(v1auth, 409, 40901);
    t.clock.advance(1000);
    const later = await send(v1auth);
    assert.equal(later.status, 200);
    assert.equal(later.body.response?.["result"], "deny");
  });
});

describe("parameters: the handler sees exactly what was signed (K3)", () => {
  const preauth = (params: Array<[string, string]>, options?: Parameters<typeof signedForm>[4]) =>
    signedForm(authAPI, "POST", "/auth/v2/preauth", params, options);

  test("the same parameter in the query and a form body → 400 40002", async () => {
    const params: Array<[string, string]> = [["username", "alice"]];
    await assertFailure(preauth(params, { query: "/auth/v2/preauth?username=bob" }), 400, 40002);
    // Different names in the two places are just as ambiguous (which one was signed?).
    await assertFailure(preauth(params, { query: "/auth/v2/preauth?hostname=h" }), 400, 40002);
  });

  test("a repeated parameter → 400 40002, even when signed", async () => {
    await assertFailure(
      preauth([
        ["username", "alice"],
        ["username", "bob|x"],
      ]),
      400,
      40002,
    );
  });

  test("`+` and `%20` both decode to a space and verify", async () => {
    const params: Array<[string, string]> = [
      ["username", "alice"],
      ["hostname", "my host name"],
    ];
    for (const body of ["username=alice&hostname=my+host+name", "username=alice&hostname=my%20host%20name"]) {
      const r = await send(preauth(params, { body }));
      assert.equal(r.status, 200, body);
      assert.equal(r.body.response?.["result"], "auth");
    }
    // A literal `+` is `%2B` on the wire; signing it as a space does not verify.
    await assertFailure(preauth(params, { body: "username=alice&hostname=my%2Bhost%2Bname" }), 401, 40103);
  });

  test("lowercase percent escapes on the wire verify (the canonical form is uppercase)", async () => {
    const params: Array<[string, string]> = [
      ["username", "alice"],
      ["hostname", "a/b:c?d é"],
    ];
    const r = await send(preauth(params, { body: "username=alice&hostname=a%2fb%3ac%3fd%20%c3%a9" }));
    assert.equal(r.status, 200);
  });

  test("a body that is not UTF-8 percent-encoding → 400 40002", async () => {
    for (const body of [
      "username=%FF",
      "username=alice%E9",
      "username=%C3",
      "username=%",
      "username=%zz",
      "%=x",
    ]) {
      await assertFailure(preauth([["username", "alice"]], { body }), 400, 40002);
    }
  });

  test("usernames with `|`, `:`, newline or NUL reach the handler exactly as signed", async () => {
    const resultFor = async (username: string) => {
      const r = await send(preauth([["username", username]]));
      return r.status === 200 ? r.body.response?.["result"] : r.status;
    };
    assert.equal(await resultFor("alice"), "auth");
    assert.equal(await resultFor("bob|x"), "auth");
    // None of these may answer for alice (DUO-PSA-2015-001), nor `bob` for `bob|x`. (Surrounding white space,
    // a trailing newline included, is trimmed by the username rules (A3), so "alice\n" is alice by design.)
    for (const username of [
      "alice|x",
      "alice:x",
      "alice\nx",
      "alice\u0000x",
      "alice|",
      "|alice",
      ":alice",
      "bob",
    ])
      assert.notEqual(await resultFor(username), "auth", JSON.stringify(username));
    // The same through the legacy BSON path duo_unix 1.x uses.
    const v1 = await send(
      signedForm(authAPI, "POST", "/rest/v1/preauth.bson", [["user", "alice|x"]], { date: null }),
    );
    assert.notEqual(v1.status === 200 ? v1.body.response?.["result"] : v1.status, "auth");
  });

  test("a v5 JSON body (duo_api sigVersion 5) is signed by its hash", async () => {
    const json = JSON.stringify({ username: "alice" });
    const date = now();
    const options: InjectOptions = {
      method: "POST",
      url: "/auth/v2/preauth",
      headers: {
        host: HOST,
        date,
        "content-type": "application/json",
        authorization: authorization(authAPI, { method: "POST", path: "/auth/v2/preauth", date, json }),
      },
      payload: json,
    };
    const r = await send(options);
    assert.equal(r.status, 200);
    assert.equal(r.body.response?.["result"], "auth");
    await assertFailure({ ...options, payload: JSON.stringify({ username: "bob|x" }) }, 401, 40103);
  });

  // K1/K3: the L and v2 lines do not cover a body, so a JSON body must come with a v4 or v5 signature; otherwise
  // a signature over an empty or query-only params line would authorise any JSON body.
  test("a JSON body under a v2 signature (which cannot cover it) is refused", async () => {
    const date = now();
    await assertFailure(
      {
        method: "POST",
        url: "/auth/v2/preauth",
        headers: {
          host: HOST,
          date,
          "content-type": "application/json",
          authorization: authorization(authAPI, { method: "POST", path: "/auth/v2/preauth", date }),
        },
        payload: JSON.stringify({ username: "alice" }),
      },
      401,
      40103,
    );
  });

  test("a JSON body under an undated L signature of the query is refused (/rest/v1)", async () => {
    await assertFailure(
      {
        method: "POST",
        url: "/rest/v1/preauth.json?user=alice",
        headers: {
          host: HOST,
          "content-type": "application/json",
          authorization: authorization(authAPI, {
            method: "POST",
            path: "/rest/v1/preauth.json",
            params: [["user", "alice"]],
            date: null,
          }),
        },
        payload: JSON.stringify({ hostname: "not signed" }),
      },
      401,
      40103,
    );
  });
});

describe("hostile input: a Duo FAIL envelope, a 4xx, and the server keeps answering (H-1, H-5)", () => {
  test("random Authorization headers → 401 FAIL", async () => {
    const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
    const basic = (text: fc.Arbitrary<string>) =>
      text.map((s) => `Basic ${Buffer.from(s, "latin1").toString("base64")}`);
    const headerArb = fc.oneof(
      fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 200 }),
      fc.string({ unit: "grapheme-ascii", maxLength: 200 }).map((s) => `Basic ${s}`),
      fc.uint8Array({ maxLength: 150 }).map((b) => `Basic ${Buffer.from(b).toString("base64")}`),
      // Wrong lengths and non-hex digests under a real ikey.
      basic(
        fc
          .oneof(hex(39), hex(41), hex(64), hex(127), hex(129), fc.stringMatching(/^[0-9a-gz]{40}$/))
          .map((d) => `${authAPI.ikey}:${d}`),
      ),
      // The right shape with a wrong digest, or an ikey of another shape.
      basic(fc.tuple(hex(40), hex(128)).map(([a, b]) => `${authAPI.ikey}:${a.length % 2 ? a : b}`)),
      basic(fc.stringMatching(/^[A-Za-z0-9]{1,30}$/).map((k) => `${k}:${"a".repeat(40)}`)),
    );
    await fc.assert(
      fc.asyncProperty(headerArb, async (authorization) => {
        const { status, body } = await send({
          method: "GET",
          url: "/auth/v2/check",
          headers: { host: HOST, date: now(), authorization },
        });
        assert.equal(status, 401);
        assert.ok([40101, 40102, 40103].includes(body.code!), JSON.stringify(body));
      }),
      { numRuns: 300 },
    );
    await assertStillAnswering();
  });

  test("malformed dates under a valid signature → 401 40104", async () => {
    const dateArb = fc.oneof(
      fc.constantFrom(
        "yesterday",
        "2026-11-22T12:00:00Z",
        String(Math.floor(Date.UTC(2026, 10, 22, 12) / 1000)),
        "Sun, 22 Nov 2026 12:00:00",
        "Sun, 31 Feb 2026 12:00:00 GMT",
        "Sun, 22 Nov 2026 25:00:00 GMT",
        "Sun, 22 Foo 2026 12:00:00 GMT",
        "So, 22 Nov. 2026 12:00:00 MEZ",
      ),
      fc
        .string({ unit: "grapheme-ascii", minLength: 1, maxLength: 60 })
        .filter((s) => s.trim() === s && s !== ""),
    );
    await fc.assert(
      fc.asyncProperty(dateArb, async (date) => {
        await assertFailure(signedForm(authAPI, "GET", "/auth/v2/check", [], { date }), 401, 40104);
      }),
      { numRuns: 150 },
    );
    await assertStillAnswering();
  });

  test("malformed JSON bodies under a valid v5 signature → 400 40002", async () => {
    const many = `{${Array.from({ length: 200 }, (_, i) => `"p${i}":"v"`).join(",")}}`;
    for (const json of [
      "{",
      "[1",
      "[]",
      '["username","alice"]',
      "null",
      '"alice"',
      "42",
      '{"username":{"first":"alice"}}',
      '{"username":["alice","bob|x"]}',
      '{"username":1e999}',
      '{"username":"alice","text_prompt":123456789012345678901234567890}',
      '{"username":"alice","__proto__":{"x":"1"}}',
      '{"username":"alice","constructor":"x"}',
      many,
      "\uFEFF{}",
    ]) {
      const date = now();
      const body = await assertFailure(
        {
          method: "POST",
          url: "/auth/v2/preauth",
          headers: {
            host: HOST,
            date,
            "content-type": "application/json",
            authorization: authorization(authAPI, { method: "POST", path: "/auth/v2/preauth", date, json }),
          },
          payload: json,
        },
        400,
        40002,
      );
      assert.equal(body.message, "Invalid request parameters", json);
    }
    await assertStillAnswering();
  });

  test("200 form parameters → 400 40002", async () => {
    const params = Array.from({ length: 200 }, (_, i) => [`p${i}`, "v"] as [string, string]);
    await assertFailure(signedForm(authAPI, "POST", "/auth/v2/preauth", params), 400, 40002);
    await assertStillAnswering();
  });

  test("a body over server.bodyLimit → 413 41301", async () => {
    const size = t.runtime.config.server.bodyLimit + 1;
    const body = `username=${"a".repeat(size)}`;
    for (const contentType of ["application/x-www-form-urlencoded", "application/json"]) {
      await assertFailure(
        {
          method: "POST",
          url: "/auth/v2/preauth",
          headers: { host: HOST, date: now(), "content-type": contentType, authorization: "Basic AAAA" },
          payload: body,
        },
        413,
        41301,
      );
    }
    await assertStillAnswering();
  });

  test("text/plain → 415 41501", async () => {
    const options = signedForm(authAPI, "POST", "/auth/v2/preauth", [["username", "alice"]]);
    await assertFailure(
      { ...options, headers: { ...options.headers, "content-type": "text/plain" } },
      415,
      41501,
    );
    await assertFailure(
      {
        ...options,
        url: "/rest/v1/preauth.bson",
        headers: { ...options.headers, "content-type": "text/plain" },
      },
      415,
      41501,
    );
    await assertStillAnswering();
  });

  test("unknown paths → 404 40401 in JSON, or in BSON on /rest/v1/*.bson", async () => {
    for (const [method, url] of [
      ["GET", "/auth/v2/nothing"],
      ["POST", "/auth/v2/nothing"],
      ["DELETE", "/auth/v2/check"],
      ["GET", "/admin/v1/nothing"],
      ["GET", "/rest/v1/nothing.json"],
      ["GET", "/rest/v1/nothing.bson"],
      ["POST", "/rest/v1/nothing.bson?x=1"],
    ] as const) {
      const body = await assertFailure(
        { method, url, headers: { host: HOST } },
        404,
        40401,
        "Resource not found",
      );
      assert.equal(body.stat, "FAIL");
    }
    await assertStillAnswering();
  });

  test("a bad escape in a signed GET's query → 400 40002", async () => {
    await assertFailure(
      signedForm(authAPI, "GET", "/auth/v2/check", [], { query: "/auth/v2/check?x=%FF" }),
      400,
      40002,
    );
    await assertStillAnswering();
  });
});
