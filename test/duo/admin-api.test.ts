// The Duo Admin API (duo-compat §5) as Duo's clients call it: requests signed by @duosecurity/duo_api's own signing code, over HTTPS, on SQLite and PostgreSQL.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as duoSig from "@duosecurity/duo_api/lib/duo_sig.js";
import type { FastifyInstance } from "fastify";
import { buildServer } from "../../src/http/server.ts";
import { hotp } from "../cli/helpers.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "../http/support.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { type DuoTestServer, type Integration, startDuoTestServer } from "../support/duo-server.ts";
import { dialects } from "../support/stores.ts";

type Params = Record<string, string | string[]>;
/** JSON as a client reads it: the tests assert its shape field by field. */
// biome-ignore lint/suspicious/noExplicitAny: see above
type Json = any;

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

interface Received {
  status: number;
  contentType: string;
  text: string;
}

interface DuoReply {
  status: number;
  stat: "OK" | "FAIL";
  response: Json;
  code?: number;
  message?: string;
  message_detail?: string;
  metadata?: { total_objects?: number; next_offset?: unknown; prev_offset?: unknown };
  text: string;
}

/**
 * A Duo Admin API client: signs like duo_api (v2 by default, v5 when asked), sends over `transport`. Each
 * request gets a Date not used before for the same request, since the server refuses a signed change seen again.
 */
function createAdminClient(keys: Integration, transport: (r: Sent) => Promise<Received>, now: () => number) {
  const used = new Set<string>();
  const call = async (
    method: "GET" | "POST" | "DELETE",
    path: string,
    params: Params = {},
    options: { sig?: 2 | 5; rawBody?: string } = {},
  ): Promise<DuoReply> => {
    const request = `${method} ${path} ${JSON.stringify(params)} ${options.rawBody ?? ""} ${options.sig ?? 2}`;
    let at = Math.floor(now() / 1000) * 1000;
    while (used.has(`${at} ${request}`)) at -= 1000;
    used.add(`${at} ${request}`);
    const date = new Date(at).toUTCString();
    const host = "localhost";
    const headers: Record<string, string> = { Date: date };
    let body: string | undefined;
    let url = path;
    if (options.sig === 5 && method === "POST") {
      body = options.rawBody ?? JSON.stringify(params);
      headers["Content-Type"] = "application/json";
      headers.Authorization = duoSig.signV5(keys.ikey, keys.skey, method, host, path, {}, date, body);
    } else if (method === "POST") {
      body = duoSig._canonParams(params);
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      headers.Authorization = duoSig.sign(keys.ikey, keys.skey, method, host, path, params, date);
    } else {
      const qs = duoSig._canonParams(params);
      if (qs) url += `?${qs}`;
      headers.Authorization =
        options.sig === 5
          ? duoSig.signV5(keys.ikey, keys.skey, method, host, path, params, date, "")
          : duoSig.sign(keys.ikey, keys.skey, method, host, path, params, date);
    }
    const r = await transport({ method, path: url, headers, body });
    assert.match(r.contentType, /^application\/json/, `${method} ${path}: ${r.status} ${r.contentType}`);
    const parsed = JSON.parse(r.text);
    return { status: r.status, ...parsed, text: r.text };
  };
  return {
    call,
    /** The `response` of a 200 OK (fails the test with the reply otherwise). */
    async ok(
      method: "GET" | "POST" | "DELETE",
      path: string,
      params: Params = {},
      sig?: 2 | 5,
    ): Promise<Json> {
      const r = await call(method, path, params, sig ? { sig } : {});
      assert.equal(r.status, 200, `${method} ${path}: ${r.text}`);
      assert.equal(r.stat, "OK");
      return r.response;
    },
    /** A Duo failure: status, code, and (when given) a parameter named in message_detail. */
    async fails(
      expected: { status: number; code: number; detail?: RegExp },
      method: "GET" | "POST" | "DELETE",
      path: string,
      params: Params = {},
      options: { sig?: 2 | 5; rawBody?: string } = {},
    ): Promise<DuoReply> {
      const r = await call(method, path, params, options);
      assert.equal(r.status, expected.status, `${method} ${path}: ${r.text}`);
      assert.equal(r.stat, "FAIL");
      assert.equal(r.code, expected.code, r.text);
      assert.equal(typeof r.message, "string");
      if (expected.detail) assert.match(r.message_detail ?? "", expected.detail, r.text);
      return r;
    },
  };
}

type AdminClient = ReturnType<typeof createAdminClient>;

function httpsTransport(port: number, ca: string) {
  return (r: Sent) =>
    new Promise<Received>((resolve, reject) => {
      const headers = {
        ...r.headers,
        Host: `localhost:${port}`,
        ...(r.body !== undefined ? { "Content-Length": String(Buffer.byteLength(r.body)) } : {}),
      };
      const req = httpsRequest(
        { host: "localhost", port, method: r.method, path: r.path, headers, ca },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              contentType: String(res.headers["content-type"] ?? ""),
              text: Buffer.concat(chunks).toString("utf8"),
            }),
          );
        },
      );
      req.on("error", reject);
      req.end(r.body);
    });
}

function injectTransport(app: FastifyInstance) {
  return async (r: Sent): Promise<Received> => {
    const res = await app.inject({
      method: r.method as "GET",
      url: r.path,
      headers: { ...r.headers, host: "localhost" },
      ...(r.body !== undefined ? { payload: r.body } : {}),
    });
    return { status: res.statusCode, contentType: String(res.headers["content-type"] ?? ""), text: res.body };
  };
}

/** RFC 4226 Appendix D's key ("12345678901234567890"), given to the API as hex as Duo takes it. */
const TOKEN_KEY = Buffer.from("12345678901234567890", "ascii");
const TOKEN_SECRET_HEX = TOKEN_KEY.toString("hex");

const run = haveOpenSSL("Admin API tests");
const DIALECTS = await dialects();

for (const dialect of DIALECTS) {
  describe(`Duo Admin API over HTTPS (${dialect})`, { skip: !run }, () => {
    let s: DuoTestServer;
    let keys: Integration;
    let api: AdminClient;

    before(async () => {
      s = await startDuoTestServer({ dialect });
      keys = await s.createIntegration("admin-api");
      api = createAdminClient(
        keys,
        httpsTransport(s.port, readFileSync(s.certificates.ca, "utf8")),
        Date.now,
      );
    });

    after(async () => {
      await s?.close();
    });

    const createUser = async (username: string, extra: Params = {}) =>
      api.ok("POST", "/admin/v1/users", { username, ...extra });

    test("users: create, read, find by username and alias, modify, refuse user_id, delete", async () => {
      const created = await createUser("alice", {
        realname: "Alice Liddell",
        email: "alice@example.org",
        alias1: "ali",
        notes: "created by the test",
      });
      assert.match(created.user_id, /^\S+$/);
      assert.equal(created.username, "alice");
      assert.equal(created.realname, "Alice Liddell");
      assert.equal(created.email, "alice@example.org");
      assert.equal(created.alias1, "ali");
      assert.equal(created.alias2, null);
      assert.equal(created.status, "active");
      assert.equal(created.notes, "created by the test");
      assert.equal(typeof created.created, "number");
      assert.ok(Math.abs(created.created - Date.now() / 1000) < 120, "created is unix seconds");
      assert.equal(created.is_enrolled, false);
      assert.equal(created.lockout_reason, null);
      assert.equal(created.last_login, null);
      assert.deepEqual(
        [created.phones, created.tokens, created.groups, created.webauthncredentials],
        [[], [], [], []],
      );
      const id = created.user_id as string;

      const read = await api.ok("GET", `/admin/v1/users/${id}`);
      assert.equal(read.user_id, id);
      assert.equal(read.realname, "Alice Liddell");

      for (const name of ["alice", "ALI", " ali "]) {
        const found = await api.call("GET", "/admin/v1/users", { username: name });
        assert.equal(found.status, 200);
        assert.deepEqual(
          found.response.map((u: { user_id: string }) => u.user_id),
          [id],
          `username=${name}`,
        );
        assert.equal(found.metadata?.total_objects, 1);
        assert.equal(found.metadata?.next_offset, null);
      }
      assert.deepEqual(await api.ok("GET", "/admin/v1/users", { username: "nobody" }), []);
      const byEmail = await api.ok("GET", "/admin/v1/users", { email: "Alice@Example.org" });
      assert.deepEqual(
        byEmail.map((u: { user_id: string }) => u.user_id),
        [id],
      );

      await api.fails({ status: 409, code: 40901 }, "POST", "/admin/v1/users", { username: "Alice" });
      await api.fails({ status: 409, code: 40901 }, "POST", "/admin/v1/users", { username: "ali" });

      const modified = await api.ok("POST", `/admin/v1/users/${id}`, {
        realname: "Alice L.",
        status: "disabled",
      });
      assert.equal(modified.user_id, id);
      assert.equal(modified.realname, "Alice L.");
      assert.equal(modified.status, "disabled");
      // duo_client_python ≥ 5 sends JSON bodies signed v5.
      const viaJSON = await api.ok(
        "POST",
        `/admin/v1/users/${id}`,
        { notes: "from Python", alias2: "a.liddell" },
        5,
      );
      assert.equal(viaJSON.notes, "from Python");
      assert.deepEqual([viaJSON.alias1, viaJSON.alias2], ["a.liddell", "ali"]);

      // K4: user_id is not assignable; the whole request is refused and nothing changes.
      await api.fails({ status: 400, code: 40002, detail: /user_id/ }, "POST", `/admin/v1/users/${id}`, {
        user_id: "DUAAAAAAAAAAAAAAAAAA",
        realname: "Mallory",
      });
      const after = await api.ok("GET", `/admin/v1/users/${id}`);
      assert.equal(after.user_id, id);
      assert.equal(after.realname, "Alice L.");

      assert.equal(await api.ok("DELETE", `/admin/v1/users/${id}`), "");
      await api.fails({ status: 404, code: 40401 }, "GET", `/admin/v1/users/${id}`);
      assert.deepEqual(await api.ok("GET", "/admin/v1/users", { username: "alice" }), []);
      // Deleting what is already gone does nothing (duo_client_python's documented behaviour).
      assert.equal(await api.ok("DELETE", `/admin/v1/users/${id}`), "");
    });

    test("users: five users paged two at a time by following next_offset until it is null", async () => {
      const names = ["page-a", "page-b", "page-c", "page-d", "page-e"];
      for (const name of names) await createUser(name);
      const seen: string[] = [];
      let offset: number | null = 0;
      let pages = 0;
      let total = -1;
      while (offset !== null) {
        const r = await api.call("GET", "/admin/v1/users", { limit: "2", offset: String(offset) });
        assert.equal(r.status, 200, r.text);
        assert.ok(r.response.length <= 2);
        total = r.metadata?.total_objects as number;
        seen.push(...r.response.map((u: { username: string }) => u.username));
        assert.equal(r.metadata?.prev_offset, offset === 0 ? null : Math.max(0, offset - 2));
        offset = r.metadata?.next_offset as number | null;
        pages++;
        assert.ok(pages < 50, "paging ends");
      }
      assert.equal(seen.length, total, "every user once");
      assert.equal(new Set(seen).size, total);
      assert.equal(pages, Math.ceil(total / 2));
      for (const name of names) assert.ok(seen.includes(name), name);
    });

    test("hardware token: an h6 token with a hex secret, lent to a user, resynchronised with three codes", async () => {
      const { services } = s.t.runtime;
      const serial = `SN-${dialect}-1`;
      const token = await api.ok("POST", "/admin/v1/tokens", {
        type: "h6",
        serial,
        secret: TOKEN_SECRET_HEX,
      });
      assert.equal(token.type, "h6");
      assert.equal(token.serial, serial);
      assert.equal(token.totp_step, null);
      assert.deepEqual(token.users, []);
      const tokenId = token.token_id as string;

      const user = await createUser("token-user");
      assert.equal(await api.ok("POST", `/admin/v1/users/${user.user_id}/tokens`, { token_id: tokenId }), "");
      const lent = await api.ok("GET", `/admin/v1/users/${user.user_id}/tokens`);
      assert.deepEqual(
        lent.map((t: { token_id: string }) => t.token_id),
        [tokenId],
      );
      const bySerial = await api.ok("GET", "/admin/v1/tokens", { type: "h6", serial });
      assert.equal(bySerial.length, 1);
      assert.deepEqual(
        bySerial[0].users.map((u: { user_id: string }) => u.user_id),
        [user.user_id],
      );
      assert.deepEqual(await api.ok("GET", "/admin/v1/tokens", { type: "h8", serial }), []);
      const withToken = await api.ok("GET", `/admin/v1/users/${user.user_id}`);
      assert.equal(withToken.is_enrolled, true);
      assert.deepEqual(
        withToken.tokens.map((t: { token_id: string }) => t.token_id),
        [tokenId],
      );
      // No answer ever carries the secret.
      for (const r of [token, lent, bySerial, withToken])
        assert.ok(!JSON.stringify(r).includes(TOKEN_SECRET_HEX) && !JSON.stringify(r).includes("secret"));

      // The token's button was pressed 50 times unseen: code 53 is beyond the look-ahead window.
      const login = (passcode: string) => services.verifyPasscode({ username: "token-user", passcode });
      assert.equal((await login(hotp(TOKEN_KEY, 53))).result, "deny");
      await api.fails(
        { status: 400, code: 40002, detail: /code/ },
        "POST",
        `/admin/v1/tokens/${tokenId}/resync`,
        { code1: hotp(TOKEN_KEY, 50), code2: hotp(TOKEN_KEY, 51), code3: hotp(TOKEN_KEY, 53) },
      );
      assert.equal(
        await api.ok("POST", `/admin/v1/tokens/${tokenId}/resync`, {
          code1: hotp(TOKEN_KEY, 50),
          code2: hotp(TOKEN_KEY, 51),
          code3: hotp(TOKEN_KEY, 52),
        }),
        "",
      );
      const next = await login(hotp(TOKEN_KEY, 53));
      assert.equal(next.result, "allow");
      assert.equal(next.factor, "token");

      assert.equal(await api.ok("DELETE", `/admin/v1/users/${user.user_id}/tokens/${tokenId}`), "");
      assert.equal((await login(hotp(TOKEN_KEY, 54))).result, "deny", "a token taken back no longer logs in");
      assert.equal(await api.ok("DELETE", `/admin/v1/tokens/${tokenId}`), "");
      await api.fails({ status: 404, code: 40401 }, "GET", `/admin/v1/tokens/${tokenId}`);

      const t8 = await api.ok("POST", "/admin/v1/tokens", {
        type: "t8",
        serial: `SN-${dialect}-2`,
        secret: TOKEN_SECRET_HEX,
        totp_step: "60",
      });
      assert.deepEqual([t8.type, t8.totp_step], ["t8", 60]);
      await api.fails({ status: 400, code: 40002, detail: /yk/ }, "POST", "/admin/v1/tokens", {
        type: "yk",
        serial: "YK-1",
        private_id: "0123456789ab",
        aes_key: "00112233445566778899aabbccddeeff",
      });
      await api.fails({ status: 400, code: 40002, detail: /secret/ }, "POST", "/admin/v1/tokens", {
        type: "h6",
        serial: "SHORT-1",
        secret: "0011223344556677",
      });
      await api.fails({ status: 400, code: 40002, detail: /secret/ }, "POST", "/admin/v1/tokens", {
        type: "h6",
        serial: "NOTHEX-1",
        secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
      });
    });

    test("bypass codes: count=3 reuse_count=2 valid_secs=3600 gives three codes that each work exactly twice", async () => {
      const { services, config } = s.t.runtime;
      const user = await createUser("bypass-user");
      const path = `/admin/v1/users/${user.user_id}/bypass_codes`;
      const codes = (await api.ok("POST", path, {
        count: "3",
        reuse_count: "2",
        valid_secs: "3600",
      })) as string[];
      assert.equal(codes.length, 3);
      assert.equal(new Set(codes).size, 3, "distinct");
      const digits = config.policy.bypass.digits;
      for (const c of codes) assert.match(c, new RegExp(`^[0-9]{${digits}}$`));

      // Listing shows metadata, never a code.
      const listed = await api.call("GET", path);
      assert.equal(listed.status, 200);
      assert.equal(listed.response.length, 3);
      for (const c of codes) assert.ok(!listed.text.includes(c), "no plaintext code in the list");
      for (const m of listed.response) {
        assert.equal(m.reuse_count, 2);
        assert.equal(m.admin_email, `integration:${keys.ikey}`);
        assert.deepEqual(m.user, { user_id: user.user_id, username: "bypass-user" });
        assert.ok(Math.abs(m.expiration - m.created - 3600) <= 1, "expires 3600 s after creation");
        assert.deepEqual(Object.keys(m).sort(), [
          "admin_email",
          "bypass_code_id",
          "created",
          "expiration",
          "reuse_count",
          "user",
        ]);
      }
      const accountWide = await api.call("GET", "/admin/v1/bypass_codes", { limit: "500" });
      const ids = listed.response.map((m: { bypass_code_id: string }) => m.bypass_code_id);
      for (const id of ids)
        assert.ok(accountWide.response.some((m: { bypass_code_id: string }) => m.bypass_code_id === id));
      for (const c of codes) assert.ok(!accountWide.text.includes(c));
      const one = await api.ok("GET", `/admin/v1/bypass_codes/${ids[0]}`);
      assert.equal(one.bypass_code_id, ids[0]);

      const login = (passcode: string) => services.verifyPasscode({ username: "bypass-user", passcode });
      for (const code of codes) {
        const first = await login(code);
        assert.deepEqual([first.result, first.factor], ["allow", "bypass"]);
        assert.equal((await login(code)).result, "allow", "second use");
        assert.equal((await login(code)).result, "deny", "third use");
      }
    });

    test("bypass codes: a new batch replaces the old unless preserve_existing; a deleted code stops working", async () => {
      const { services } = s.t.runtime;
      const user = await createUser("bypass-replace");
      const path = `/admin/v1/users/${user.user_id}/bypass_codes`;
      const login = (passcode: string) => services.verifyPasscode({ username: "bypass-replace", passcode });
      const [old] = await api.ok("POST", path, { count: "1", valid_secs: "600" });
      const [fresh] = await api.ok("POST", path, { count: "1", valid_secs: "600" });
      const [kept] = await api.ok("POST", path, { count: "2", valid_secs: "600", preserve_existing: "true" });
      assert.equal((await login(old)).result, "deny", "replaced by the next batch (Duo's default)");
      assert.equal((await login(fresh)).result, "allow", "kept with preserve_existing");
      assert.equal((await login(kept)).result, "allow");

      const [gone, other] = await api.ok("POST", path, { count: "2", valid_secs: "600", reuse_count: "3" });
      const listed = (await api.ok("GET", path)) as Array<{ bypass_code_id: string; created: number }>;
      assert.equal(listed.length, 2);
      // Which id is which code is not shown; delete both and check each stops working.
      for (const m of listed)
        assert.equal(await api.ok("DELETE", `/admin/v1/bypass_codes/${m.bypass_code_id}`), "");
      assert.equal((await login(gone)).result, "deny");
      assert.equal((await login(other)).result, "deny");
      await api.fails(
        { status: 404, code: 40401 },
        "GET",
        `/admin/v1/bypass_codes/${listed[0]!.bypass_code_id}`,
      );
      await api.fails(
        { status: 404, code: 40401 },
        "DELETE",
        `/admin/v1/bypass_codes/${listed[0]!.bypass_code_id}`,
      );

      // Policy forbids codes without expiry or unlimited uses (C5): refused, naming the parameter, not altered.
      await api.fails({ status: 400, code: 40002, detail: /valid_secs/ }, "POST", path, { count: "1" });
      await api.fails({ status: 400, code: 40002, detail: /reuse_count/ }, "POST", path, {
        reuse_count: "0",
        valid_secs: "600",
      });
      await api.fails({ status: 400, code: 40002, detail: /codes/ }, "POST", path, {
        codes: "123456789,987654321",
        valid_secs: "600",
      });
      await api.fails({ status: 400, code: 40002, detail: /count/ }, "POST", path, {
        count: "11",
        valid_secs: "600",
      });
      assert.equal((await api.ok("GET", path)).length, 0, "no refused call issued anything");
    });

    test("phones: create, attach, activation link, activate with the command-line authenticator", async () => {
      const { services } = s.t.runtime;
      const phone = await api.ok("POST", "/admin/v1/phones", {
        number: "+15555550100",
        name: "Work phone",
        type: "mobile",
        platform: "generic smartphone",
      });
      assert.equal(phone.number, "+15555550100");
      assert.equal(phone.type, "Mobile");
      assert.equal(phone.platform, "Generic Smartphone");
      assert.equal(phone.activated, false);
      assert.deepEqual(phone.capabilities, []);
      assert.equal(phone.model, "Unknown");
      assert.deepEqual(phone.users, []);
      const phoneId = phone.phone_id as string;

      await api.fails(
        { status: 400, code: 40002, detail: /phone_id/ },
        "POST",
        `/admin/v1/phones/${phoneId}/activation_url`,
      );
      const owner = await createUser("phone-owner");
      const other = await createUser("phone-other");
      assert.equal(
        await api.ok("POST", `/admin/v1/users/${owner.user_id}/phones`, { phone_id: phoneId }),
        "",
      );
      await api.fails(
        { status: 400, code: 40002, detail: /phone_id/ },
        "POST",
        `/admin/v1/users/${other.user_id}/phones`,
        { phone_id: phoneId },
      );
      const owned = await api.ok("GET", `/admin/v1/users/${owner.user_id}/phones`);
      assert.deepEqual(
        owned.map((p: { phone_id: string }) => p.phone_id),
        [phoneId],
      );
      assert.deepEqual(await api.ok("GET", `/admin/v1/users/${other.user_id}/phones`), []);

      const activation = await api.ok("POST", `/admin/v1/phones/${phoneId}/activation_url`, {
        valid_secs: "86400",
        install: "1",
      });
      const limit = s.t.runtime.config.policy.push.activationSeconds;
      assert.ok(activation.valid_secs <= limit && activation.valid_secs >= limit - 5, "capped by policy");
      assert.match(activation.activation_url, /\/authenticator#activate=/);
      // An image URL naming an opaque handle: the activation secret is in no URL (issue item 6).
      assert.match(activation.activation_barcode, /\/frame\/qr\/[0-9a-f]{32}\.png$/);
      const secret = activation.activation_url.slice(activation.activation_url.lastIndexOf(".") + 1);
      assert.ok(!activation.activation_barcode.includes(secret));
      assert.match(activation.installation_url, /\/authenticator$/);
      const token = activation.activation_url.slice(activation.activation_url.indexOf("#activate=") + 10);
      const state = join(s.dir, `phone-${dialect}.json`);
      const activated = await s.device(state, [
        "activate",
        `https://${s.host}/authenticator#activate=${token}`,
        "--name",
        "work phone",
      ]);
      assert.equal(activated.code, 0, activated.stderr + activated.stdout);

      const seen = await api.ok("GET", `/admin/v1/phones/${phoneId}`);
      assert.equal(seen.activated, true);
      assert.ok(seen.capabilities.includes("push"));
      assert.equal(seen.model, "Twofold Authenticator");
      assert.notEqual(seen.last_seen, "");
      assert.deepEqual(
        seen.users.map((u: { user_id: string }) => u.user_id),
        [owner.user_id],
      );
      const ownerNow = await api.ok("GET", `/admin/v1/users/${owner.user_id}`);
      assert.equal(ownerNow.is_enrolled, true);
      assert.deepEqual(
        ownerNow.phones.map((p: { phone_id: string; activated: boolean }) => [p.phone_id, p.activated]),
        [[phoneId, true]],
      );
      const byNumber = await api.ok("GET", "/admin/v1/phones", { number: "+15555550100" });
      assert.ok(byNumber.some((p: { phone_id: string }) => p.phone_id === phoneId));

      // A second activation of the same phone (a new handset) replaces the first authenticator.
      const firstCode = /\b(\d{6})\b/.exec((await s.device(state, ["passcode"])).stdout)?.[1];
      const again = await api.ok("POST", `/admin/v1/phones/${phoneId}/activation_url`, {});
      const newState = join(s.dir, `phone-${dialect}-new.json`);
      const second = await s.device(newState, [
        "activate",
        `https://${s.host}/authenticator#activate=${again.activation_url.slice(again.activation_url.indexOf("#activate=") + 10)}`,
      ]);
      assert.equal(second.code, 0, second.stderr + second.stdout);
      assert.ok(firstCode);
      assert.equal(
        (await services.verifyPasscode({ username: "phone-owner", passcode: firstCode })).result,
        "deny",
        "the replaced handset's passcodes stop working",
      );
      assert.equal((await api.ok("GET", `/admin/v1/phones/${phoneId}`)).activated, true);
      assert.equal(
        (await s.t.runtime.store.listDevices(owner.user_id)).filter((d) => d.status === "active").length,
        1,
      );

      // Taken from its user, the phone's authenticator stops working for that user (fail closed).
      assert.equal(await api.ok("DELETE", `/admin/v1/users/${owner.user_id}/phones/${phoneId}`), "");
      const detached = await api.ok("GET", `/admin/v1/phones/${phoneId}`);
      assert.deepEqual([detached.activated, detached.users], [false, []]);
      const code = /\b(\d{6})\b/.exec((await s.device(newState, ["passcode"])).stdout)?.[1];
      assert.ok(code);
      assert.equal(
        (await services.verifyPasscode({ username: "phone-owner", passcode: code })).result,
        "deny",
      );

      assert.equal(await api.ok("DELETE", `/admin/v1/phones/${phoneId}`), "");
      await api.fails({ status: 404, code: 40401 }, "GET", `/admin/v1/phones/${phoneId}`);
    });

    test("authentication log v2: newest first, paged with next_offset; v1 lists the same attempts", async () => {
      const { services } = s.t.runtime;
      const start = Date.now() - 1000;
      const user = await createUser("log-user");
      const [code] = await api.ok("POST", `/admin/v1/users/${user.user_id}/bypass_codes`, {
        count: "1",
        reuse_count: "2",
        valid_secs: "600",
      });
      const txids: string[] = [];
      for (const passcode of ["000000", code, "111111", code, "22222222"]) {
        const outcome = await services.verifyPasscode({ username: "log-user", passcode, ip: "198.51.100.7" });
        txids.push(outcome.txid);
        await new Promise((r) => setTimeout(r, 5));
      }
      const window = { mintime: String(start), maxtime: String(Date.now() + 1000), users: [user.user_id] };
      const records: Array<Record<string, unknown>> = [];
      let nextOffset: string[] | null = null;
      let pages = 0;
      do {
        const r: DuoReply = await api.call("GET", "/admin/v2/logs/authentication", {
          ...window,
          limit: "2",
          ...(nextOffset ? { next_offset: nextOffset.join(",") } : {}),
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.response.metadata.total_objects, 5);
        records.push(...r.response.authlogs);
        nextOffset = r.response.metadata.next_offset;
        if (nextOffset) {
          assert.equal(nextOffset.length, 2);
          assert.match(nextOffset[0]!, /^[0-9]+$/);
        }
        pages++;
      } while (nextOffset && pages < 10);
      assert.equal(pages, 3);
      assert.deepEqual(
        records.map((r) => r.txid),
        [...txids].reverse(),
        "newest first",
      );
      const times = records.map((r) => r.timestamp as number);
      assert.deepEqual(
        times,
        [...times].sort((a, b) => b - a),
      );
      assert.deepEqual(
        records.map((r) => [r.result, r.factor]),
        [
          ["denied", "not_available"],
          ["success", "bypass_code"],
          ["denied", "not_available"],
          ["success", "bypass_code"],
          ["denied", "not_available"],
        ],
      );
      // The user's last_login is the latest success (records[1]), not the deny after it.
      const logged = await api.ok("GET", `/admin/v1/users/${user.user_id}`);
      assert.equal(logged.last_login, records[1]!.timestamp);
      const first = records[0]!;
      assert.equal(first.event_type, "authentication");
      assert.deepEqual(first.user, { name: "log-user", key: user.user_id });
      assert.equal((first.access_device as { ip: string }).ip, "198.51.100.7");
      assert.equal(typeof first.isotimestamp, "string");

      // duo_client_python sends the two strings back as one repeated parameter; the same page results.
      const page1 = await api.ok("GET", "/admin/v2/logs/authentication", { ...window, limit: "2" });
      const page2 = await api.ok("GET", "/admin/v2/logs/authentication", {
        ...window,
        limit: "2",
        next_offset: page1.metadata.next_offset,
      });
      assert.deepEqual(
        page2.authlogs.map((r: { txid: string }) => r.txid),
        [txids[2], txids[1]],
      );
      const ascending = await api.ok("GET", "/admin/v2/logs/authentication", { ...window, sort: "ts:asc" });
      assert.deepEqual(
        ascending.authlogs.map((r: { txid: string }) => r.txid),
        txids,
      );
      const denied = await api.ok("GET", "/admin/v2/logs/authentication", { ...window, results: ["denied"] });
      assert.equal(denied.authlogs.length, 3);
      const bypass = await api.ok("GET", "/admin/v2/logs/authentication", {
        ...window,
        factors: ["bypass_code"],
      });
      assert.equal(bypass.authlogs.length, 2);

      const v1 = await api.ok("GET", "/admin/v1/logs/authentication", {
        mintime: String(Math.floor(start / 1000)),
      });
      const mine = v1.filter((r: { username: string }) => r.username === "log-user");
      assert.equal(mine.length, 5);
      assert.deepEqual(Object.keys(mine[0]).sort(), [
        "factor",
        "integration",
        "ip",
        "location",
        "new_enrollment",
        "reason",
        "result",
        "timestamp",
        "username",
      ]);
    });

    test("integration types: Auth API keys on the Admin API and Admin API keys on the Auth API get 403 40301", async () => {
      const authKeys = await s.createIntegration("auth-api");
      const authClient = createAdminClient(
        authKeys,
        httpsTransport(s.port, readFileSync(s.certificates.ca, "utf8")),
        Date.now,
      );
      await authClient.fails({ status: 403, code: 40301 }, "GET", "/admin/v1/users");
      await authClient.fails({ status: 403, code: 40301 }, "POST", "/admin/v1/users", {
        username: "via-auth-key",
      });
      assert.deepEqual(await api.ok("GET", "/admin/v1/users", { username: "via-auth-key" }), []);
      await api.fails({ status: 403, code: 40301 }, "GET", "/auth/v2/check");
    });

    test("malformed input gets a 400 JSON FAIL with code 40002, never a 5xx", async () => {
      const bad = { status: 400, code: 40002 };
      await api.fails({ ...bad, detail: /limit/ }, "GET", "/admin/v1/users", { limit: "abc" });
      await api.fails({ ...bad, detail: /limit/ }, "GET", "/admin/v1/users", { limit: "5000" });
      await api.fails({ ...bad, detail: /limit/ }, "GET", "/admin/v1/users", { limit: "0" });
      await api.fails({ ...bad, detail: /colour/ }, "GET", "/admin/v1/users", { colour: "blue" });
      await api.fails({ ...bad, detail: /limit/ }, "GET", "/admin/v1/users", { limit: ["1", "2"] });
      await api.fails(
        { ...bad, detail: /JSON/ },
        "POST",
        "/admin/v1/users",
        {},
        { sig: 5, rawBody: '{"username":' },
      );
      await api.fails({ ...bad, detail: /username/ }, "POST", "/admin/v1/users", {});
      await api.fails({ ...bad, detail: /status/ }, "POST", "/admin/v1/users", {
        username: "x1",
        status: "root",
      });
      await api.fails(bad, "POST", "/admin/v1/users", { username: "" });
      await api.fails({ ...bad, detail: /maxtime/ }, "GET", "/admin/v2/logs/authentication", {
        mintime: "0",
      });
      await api.fails({ ...bad, detail: /next_offset/ }, "GET", "/admin/v2/logs/authentication", {
        mintime: "0",
        maxtime: "1",
        next_offset: "nonsense",
      });
      await api.fails({ ...bad, detail: /limit/ }, "GET", "/admin/v2/logs/authentication", {
        mintime: "0",
        maxtime: "1",
        limit: "1001",
      });
      await api.fails({ ...bad, detail: /number/ }, "POST", "/admin/v1/phones", { number: "555-0100" });
      await api.fails({ ...bad, detail: /platform/ }, "POST", "/admin/v1/phones", { platform: "nokia" });
      await api.fails({ status: 404, code: 40401 }, "GET", "/admin/v1/users/DUNOSUCHUSER0000000");
      await api.fails({ status: 404, code: 40401 }, "GET", "/admin/v1/no_such_endpoint");
    });

    test("a signed change sent again is refused (429 within its second, then 409) and changes nothing (K2)", async () => {
      const user = await createUser("replayed");
      // Issuing codes that keep the existing ones: a replay that got through would issue a second batch.
      const path = `/admin/v1/users/${user.user_id}/bypass_codes`;
      const params = { count: "1", valid_secs: "600", preserve_existing: "true" };
      const at = new Date(Math.floor(Date.now() / 1000) * 1000).toUTCString();
      const headers = {
        Date: at,
        "Content-Type": "application/x-www-form-urlencoded",
        Authorization: duoSig.sign(keys.ikey, keys.skey, "POST", "localhost", path, params, at),
      };
      const body = duoSig._canonParams(params);
      const send = httpsTransport(s.port, readFileSync(s.certificates.ca, "utf8"));
      const first = await send({ method: "POST", path, headers, body });
      const second = await send({ method: "POST", path, headers, body });
      assert.equal(first.status, 200, first.text);
      // Within the second it was signed in: a "retry later" (a client that signs again gets through).
      assert.equal(second.status, 429, second.text);
      assert.equal(JSON.parse(second.text).code, 42901);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const third = await send({ method: "POST", path, headers, body });
      assert.equal(third.status, 409, third.text);
      assert.equal(JSON.parse(third.text).code, 40901);
      assert.equal((await api.ok("GET", path)).length, 1, "one batch issued");
    });

    test("audit: users created and codes issued through the API are recorded with the integration as actor", async () => {
      const user = await createUser("audited");
      await api.ok("POST", `/admin/v1/users/${user.user_id}/bypass_codes`, { count: "1", valid_secs: "600" });
      await api.ok("POST", `/admin/v1/users/${user.user_id}`, { realname: "Audited Person" });
      const events = await s.t.runtime.store.listAudit({ limit: 50, order: "desc" });
      const mine = events.filter((e) => e.targetId === user.user_id);
      const actions = mine.map((e) => e.action);
      for (const action of ["user.create", "bypass.issue", "user.update"])
        assert.ok(actions.includes(action), action);
      for (const e of mine) assert.equal(e.actor, `integration:${keys.ikey}`);
      const update = mine.find((e) => e.action === "user.update")!;
      assert.deepEqual(update.after, { realName: "Audited Person" });
      assert.ok(!JSON.stringify(mine).match(/"codes?"/), "no bypass code in the audit log");
    });
  });

  describe(`Duo Admin API bypass-code expiry on a test clock (${dialect})`, () => {
    let t: HTTPTestContext;
    let app: FastifyInstance;
    let api: AdminClient;

    before(async () => {
      t = await createTestRuntime({ dialect });
      app = buildServer(t.runtime);
      await app.ready();
      const created = await t.runtime.services.createApplication(ADMIN, { name: "admin", type: "admin-api" });
      api = createAdminClient(
        { ikey: created.application.id, skey: created.secretKey.reveal() },
        injectTransport(app),
        () => t.clock.now(),
      );
    });

    after(async () => {
      await app?.close();
      await t?.close();
    });

    test("a code issued with valid_secs=60 works until then and is refused after 60 s", async () => {
      const user = await t.runtime.services.createUser(ADMIN, { username: "expiring" });
      const codes = await api.ok("POST", `/admin/v1/users/${user.id}/bypass_codes`, {
        count: "2",
        valid_secs: "60",
      });
      const login = (passcode: string) =>
        t.runtime.services.verifyPasscode({ username: "expiring", passcode });
      t.clock.advance(59_000);
      assert.equal((await login(codes[0])).result, "allow", "within 60 s");
      t.clock.advance(2_000);
      assert.equal((await login(codes[1])).result, "deny", "after 60 s");
      const listed = await api.ok("GET", `/admin/v1/users/${user.id}/bypass_codes`);
      assert.deepEqual(listed, [], "an expired code is no longer listed");
    });

    test("a user whose passcodes are locked shows lockout_reason Failed Attempts", async () => {
      const { services, config } = t.runtime;
      const user = await services.createUser(ADMIN, { username: "locked" });
      assert.equal((await api.ok("GET", `/admin/v1/users/${user.id}`)).lockout_reason, null);
      // Wrong codes up to the limit, each after the growing delay has passed (A1, A6).
      for (let i = 0; i < config.policy.lockout.maxFailures; i++) {
        if (i > 0) t.clock.advance(config.policy.lockout.delayMaxSeconds * 1000);
        const r = await services.verifyPasscode({ username: "locked", passcode: "000000" });
        assert.equal(r.reason, "invalid_passcode");
      }
      const locked = await api.ok("GET", `/admin/v1/users/${user.id}`);
      assert.equal(locked.lockout_reason, "Failed Attempts");
      // As Duo reports a locked user, with which factor class is locked and until when (A6).
      assert.equal(locked.status, "locked out");
      const until = Math.ceil((t.clock.now() + config.policy.lockout.autoUnlockSeconds * 1000) / 1000);
      assert.deepEqual(locked.lockouts, [
        {
          factor_class: "otp",
          state: "locked",
          failures: config.policy.lockout.maxFailures,
          last_failure: Math.floor(t.clock.now() / 1000),
          until,
        },
      ]);
    });
  });
}
