// Admin API users' webauthncredentials (duo-compat §5.2): the user's real keys as a signed Duo client (duo_api's
// signature) reads them, on SQLite and PostgreSQL; a key removed leaves the list, and no key material is shown.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as duoSig from "@duosecurity/duo_api/lib/duo_sig.js";
import type { FastifyInstance } from "fastify";
import { buildServer } from "../../src/http/server.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "../http/support.ts";
import { SoftAuthenticator } from "../support/soft-authenticator.ts";
import { dialects } from "../support/stores.ts";

const ORIGIN = "https://login.example.edu";

for (const dialect of await dialects()) {
  describe(`Admin API users' webauthncredentials on ${dialect}`, () => {
    let t: HTTPTestContext;
    let app: FastifyInstance;
    let keys: { ikey: string; skey: string };
    before(async () => {
      t = await createTestRuntime({
        dialect,
        overrides: { "webauthn.rpId": "example.edu", "webauthn.origins": [ORIGIN] },
      });
      app = buildServer(t.runtime);
      const created = await t.runtime.services.createApplication(ADMIN, { name: "Admin", type: "admin-api" });
      keys = { ikey: created.application.id, skey: created.secretKey.reveal() };
    });
    after(async () => {
      await app.close();
      await t.close();
    });

    /** A signed GET as duo_api makes it (each a second later). */
    async function get(path: string, params: Record<string, string> = {}) {
      t.clock.advance(1000);
      const date = new Date(t.clock.now()).toUTCString();
      const qs = duoSig._canonParams(params);
      const res = await app.inject({
        method: "GET",
        url: qs ? `${path}?${qs}` : path,
        headers: {
          date,
          host: "localhost",
          authorization: duoSig.sign(keys.ikey, keys.skey, "GET", "localhost", path, params, date),
        },
      });
      // biome-ignore lint/suspicious/noExplicitAny: the test reads the JSON field by field
      return { status: res.statusCode, body: res.json() as any };
    }

    /** A key for a user who never had a factor (the enrolment rule's proof), as the prompt's enrolment adds one. */
    async function addKey(username: string, name: string, transports: string[]) {
      const { services } = t.runtime;
      const authenticator = new SoftAuthenticator({ origin: ORIGIN, transports });
      const start = await services.beginWebAuthnRegistration({
        username,
        proof: { newUser: true },
        context: `test-${username}-${name}`,
      });
      const r = await services.finishWebAuthnRegistration({
        ceremonyId: start.ceremonyId,
        context: `test-${username}-${name}`,
        response: authenticator.register(start.options),
        name,
      });
      assert.equal(r.result, "registered", JSON.stringify(r));
      return r.result === "registered" ? r.credential : undefined;
    }

    test("a user's keys are listed with Duo's fields; is_enrolled counts them; a removed key is gone", async () => {
      const { services } = t.runtime;
      const user = await services.createUser(ADMIN, { username: "kim" });
      const before = await get(`/admin/v1/users/${user.id}`);
      assert.equal(before.status, 200, JSON.stringify(before.body));
      assert.deepEqual(before.body.response.webauthncredentials, []);
      assert.equal(before.body.response.is_enrolled, false);

      const laptop = await addKey("kim", "Work laptop", ["internal"]);
      const yubikey = await addKey("kim", "Blue key", ["usb", "nfc"]).catch((error: unknown) => error);
      // The rule allows a first factor only: the second key needs a fresh login (G2), not the new-user proof.
      assert.ok(yubikey instanceof Error && /never had a second factor/.test(yubikey.message));

      const read = await get(`/admin/v1/users/${user.id}`);
      assert.equal(read.body.response.is_enrolled, true);
      const listed = read.body.response.webauthncredentials;
      assert.equal(listed.length, 1);
      assert.deepEqual(Object.keys(listed[0]).sort(), [
        "credential_name",
        "date_added",
        "label",
        "webauthnkey",
      ]);
      assert.equal(listed[0].webauthnkey, laptop!.id);
      assert.equal(listed[0].credential_name, "Work laptop");
      assert.equal(listed[0].label, "Platform Authenticator");
      assert.equal(listed[0].date_added, Math.floor(laptop!.createdAt / 1000));
      assert.ok(!JSON.stringify(read.body).includes("publicKey"), "no key material");

      // The users list (by username) says the same.
      const list = await get("/admin/v1/users", { username: "kim" });
      assert.deepEqual(list.body.response[0].webauthncredentials, listed);

      await services.removeWebAuthnCredential(ADMIN, { username: "kim", credentialId: laptop!.id });
      const after = await get(`/admin/v1/users/${user.id}`);
      assert.deepEqual(after.body.response.webauthncredentials, []);
    });
  });
}
