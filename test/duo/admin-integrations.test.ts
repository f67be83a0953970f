// Admin API integrations with their policy (Duo's enroll_policy and trusted_device_days, Twofold's methods and plain_push) and users' trusted browsers, as a signed Duo client sees them.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as duoSig from "@duosecurity/duo_api/lib/duo_sig.js";
import type { FastifyInstance } from "fastify";
import { buildServer } from "../../src/http/server.ts";
import { ADMIN, createTestRuntime, enrollTOTPUser, type HTTPTestContext } from "../http/support.ts";
import { dialects } from "../support/stores.ts";

for (const dialect of await dialects()) {
  describe(`Admin API integrations and trusted browsers on ${dialect}`, () => {
    let t: HTTPTestContext;
    let app: FastifyInstance;
    let keys: { ikey: string; skey: string };
    before(async () => {
      t = await createTestRuntime({ dialect });
      app = buildServer(t.runtime);
      const created = await t.runtime.services.createApplication(ADMIN, { name: "Admin", type: "admin-api" });
      keys = { ikey: created.application.id, skey: created.secretKey.reveal() };
    });
    after(async () => {
      await app.close();
      await t.close();
    });

    /** A signed call as duo_api makes it; each one a second later (the server refuses a signed change twice). */
    async function call(
      method: "GET" | "POST" | "DELETE",
      path: string,
      params: Record<string, string> = {},
    ) {
      t.clock.advance(1000);
      const date = new Date(t.clock.now()).toUTCString();
      const qs = duoSig._canonParams(params);
      const res = await app.inject({
        method,
        url: method === "POST" || !qs ? path : `${path}?${qs}`,
        headers: {
          date,
          host: "localhost",
          authorization: duoSig.sign(keys.ikey, keys.skey, method, "localhost", path, params, date),
          ...(method === "POST" ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        },
        ...(method === "POST" ? { payload: qs } : {}),
      });
      // biome-ignore lint/suspicious/noExplicitAny: the test reads the JSON field by field
      return { status: res.statusCode, body: res.json() as any };
    }

    test("create an integration with a policy, read it, change it, list it, delete it", async () => {
      const created = await call("POST", "/admin/v1/integrations", {
        name: "Campus Portal",
        type: "websdk",
        enroll_policy: "enroll",
        trusted_device_days: "7",
        methods: "push,webauthn,passcode-app",
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const i = created.body.response;
      assert.match(i.integration_key, /^DI[A-Z0-9]{18}$/);
      assert.match(i.secret_key, /^[A-Za-z0-9]{40}$/);
      assert.deepEqual(
        [i.name, i.type, i.enroll_policy, i.trusted_device_days, i.methods, i.plain_push],
        ["Campus Portal", "websdk", "enroll", 7, ["push", "passcode-app", "webauthn"], 0],
      );
      const read = await call("GET", `/admin/v1/integrations/${i.integration_key}`);
      assert.equal(read.body.response.secret_key, undefined, "the secret is shown once");
      assert.equal(read.body.response.trusted_device_days, 7);

      const changed = await call("POST", `/admin/v1/integrations/${i.integration_key}`, {
        trusted_device_days: "0",
        plain_push: "1",
        enroll_policy: "allow",
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.deepEqual(
        [
          changed.body.response.trusted_device_days,
          changed.body.response.plain_push,
          changed.body.response.enroll_policy,
        ],
        [0, 1, "allow"],
      );
      const stored = await t.runtime.services.requireApplication(i.integration_key);
      assert.deepEqual([stored.policy.rememberDays, stored.policy.allowPlainPush], [0, true]);

      const list = await call("GET", "/admin/v1/integrations", { limit: "10" });
      assert.ok(
        list.body.response.some((x: { integration_key: string }) => x.integration_key === i.integration_key),
      );
      assert.ok(list.body.response.every((x: { secret_key?: string }) => x.secret_key === undefined));

      assert.equal((await call("DELETE", `/admin/v1/integrations/${i.integration_key}`)).status, 200);
      assert.equal((await call("GET", `/admin/v1/integrations/${i.integration_key}`)).status, 404);
    });

    test("bad policy values are a 400 40002 naming the parameter, never a 5xx; the key and type cannot change", async () => {
      const { integration_key } = (
        await call("POST", "/admin/v1/integrations", { name: "X", type: "authapi" })
      ).body.response;
      for (const params of <Array<Record<string, string>>>[
        { trusted_device_days: "91" },
        { trusted_device_days: "-1" },
        { trusted_device_days: "thirty" },
        { methods: "push,carrier-pigeon" },
        { methods: "" },
        { enroll_policy: "maybe" },
        { plain_push: "yes" },
        { integration_key: "DIAAAAAAAAAAAAAAAAAA" },
        { type: "adminapi" },
        { secret_key: "x".repeat(40) },
      ]) {
        const r = await call("POST", `/admin/v1/integrations/${integration_key}`, params);
        assert.equal(r.status, 400, `${JSON.stringify(params)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.code, 40002);
      }
      assert.equal((await call("POST", "/admin/v1/integrations", { name: "Y", type: "fax" })).status, 400);
      assert.equal((await call("DELETE", `/admin/v1/integrations/${keys.ikey}`)).status, 400, "not itself");
    });

    test("a user's trusted browsers are listed and revoked, one or all", async () => {
      const { code } = await enrollTOTPUser(t, "dora");
      const s = t.runtime.services;
      const portal = (await s.createApplication(ADMIN, { name: "Portal", type: "web-sdk" })).application;
      const user = (await s.findUser("dora"))!;
      const trust = async () => {
        const login = await s.verifyPasscode({ username: "dora", passcode: code(), application: portal });
        assert.equal(login.result, "allow");
        t.clock.advance(30_000);
        return s.trustBrowser({
          userId: user.id,
          applicationId: portal.id,
          txid: login.txid,
          userAgent: "Firefox/133.0 (X11; Linux x86_64)",
        });
      };
      const first = await trust();
      const second = await trust();
      const listed = await call("GET", `/admin/v1/users/${user.id}/trusted_browsers`);
      assert.equal(listed.status, 200);
      assert.deepEqual(
        listed.body.response.map((b: { trusted_browser_id: string; status: string }) => b.status),
        ["active", "active"],
      );
      assert.equal(listed.body.response[0].integration_key, portal.id);
      assert.ok(!JSON.stringify(listed.body).includes(first.token.reveal().split(".")[1]!), "no secret");

      assert.equal(
        (await call("DELETE", `/admin/v1/users/${user.id}/trusted_browsers/${first.browserId}`)).status,
        200,
      );
      assert.equal(
        (await call("DELETE", `/admin/v1/users/${user.id}/trusted_browsers/${first.browserId}`)).status,
        404,
        "already revoked",
      );
      const all = await call("DELETE", `/admin/v1/users/${user.id}/trusted_browsers`);
      assert.deepEqual(all.body.response, { revoked: 1 });
      const check = await s.checkTrustedBrowser({
        token: second.token.reveal(),
        user,
        username: "dora",
        application: portal,
      });
      assert.deepEqual(check, { result: "none", reason: "revoked" });
      assert.equal((await call("GET", "/admin/v1/users/DUNOSUCHUSER0000000/trusted_browsers")).status, 404);
    });
  });
}
