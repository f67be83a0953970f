// Auth API enrolment (G): /auth/v2/enroll only where the integration's policy allows it, rate-limited and capped per integration, expired enrolments deleted; on both databases.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sign } from "@duosecurity/duo_api/lib/duo_sig.js";
import type { FastifyInstance } from "fastify";
import { buildServer, listenServer, type RunningServer } from "../../src/http/server.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "../http/support.ts";
import { dialects } from "../support/stores.ts";
import { TestDevice } from "../support/test-device.ts";

const HOST = "api.twofold.test";

interface Integration {
  ikey: string;
  skey: string;
}

for (const dialect of await dialects()) {
  describe(`Auth API enrolment: policy, rate limit, pending cap, expiry (${dialect})`, () => {
    let t: HTTPTestContext;
    let app: FastifyInstance;
    let server: RunningServer;

    before(async () => {
      t = await createTestRuntime({
        dialect,
        overrides: { "policy.apiEnrollment.ratePerWindow": 5, "policy.apiEnrollment.maxPending": 3 },
      });
      app = buildServer(t.runtime);
      server = await listenServer(app, t.runtime);
    });

    after(async () => {
      await server?.close();
      await t?.close();
    });

    async function integration(allowEnrollment?: boolean): Promise<Integration> {
      const c = await t.runtime.services.createApplication(ADMIN, {
        name: "Enrolment",
        type: "auth-api",
        ...(allowEnrollment === undefined ? {} : { policy: { allowEnrollment } }),
      });
      return { ikey: c.application.id, skey: c.secretKey.reveal() };
    }

    // biome-ignore lint/suspicious/noExplicitAny: a client's view of the envelope; each test checks what it uses.
    async function enroll(key: Integration, params: Record<string, string> = {}): Promise<any> {
      const date = new Date(t.clock.now()).toUTCString();
      const path = "/auth/v2/enroll";
      const res = await app.inject({
        method: "POST",
        url: path,
        headers: {
          host: HOST,
          date,
          authorization: sign(key.ikey, key.skey, "POST", HOST, path, params, date),
          "content-type": "application/x-www-form-urlencoded",
        },
        payload: new URLSearchParams(params).toString(),
      });
      return { status: res.statusCode, retryAfter: res.headers["retry-after"], ...JSON.parse(res.body) };
    }

    /** The Twofold Authenticator activated with an enrolment's link, as the user would. */
    async function activate(enrolment: { activation_url: string }): Promise<void> {
      const device = new TestDevice(server.url, () => t.clock.now());
      const token = enrolment.activation_url.split("#activate=")[1]!;
      assert.equal((await device.activate(token)).status, 200);
    }

    const userCount = async () => (await t.runtime.store.listUsers({ limit: 1 })).total;

    test("an integration enrols only when its policy allows it: off by default, Duo's 403 40301", async () => {
      const users = await userCount();
      for (const key of [await integration(), await integration(false)]) {
        const r = await enroll(key, { username: "walkin" });
        assert.deepEqual([r.status, r.stat, r.code, r.message], [403, "FAIL", 40301, "Access forbidden"]);
        assert.match(r.message_detail, /not enabled/);
      }
      assert.equal(await userCount(), users);
      const allowed = await enroll(await integration(true), { username: "walkin" });
      assert.equal(allowed.status, 200);
      assert.equal(allowed.response.username, "walkin");
    });

    test("at most maxPending enrolments wait for activation; one activated or expired frees its place", async () => {
      const key = await integration(true);
      const made = [];
      for (let i = 0; i < 3; i++) {
        t.clock.advance(1000);
        const r = await enroll(key);
        assert.equal(r.status, 200);
        made.push(r.response);
      }
      t.clock.advance(1000);
      const capped = await enroll(key);
      assert.deepEqual([capped.status, capped.code, capped.message], [429, 42901, "Too Many Requests"]);
      // Retry-After: when the oldest pending enrolment expires (activation links live at most 10 minutes).
      const retry = Number(capped.retryAfter);
      assert.ok(retry >= 1 && retry <= t.runtime.config.policy.push.activationSeconds, String(retry));
      // Activating one frees a place at once.
      await activate(made[0]);
      t.clock.advance(1000);
      assert.equal((await enroll(key)).status, 200);
      t.clock.advance(1000);
      assert.equal((await enroll(key)).status, 429);
      // Expiry frees the others.
      t.clock.advance(retry * 1000);
      assert.equal((await enroll(key)).status, 200);
    });

    test("at most ratePerWindow enrolments per integration in any window: the 300-in-1.4-s run gets 5", async () => {
      const key = await integration(true);
      const other = await integration(true);
      let created = 0;
      let limited = 0;
      for (let i = 0; i < 300; i++) {
        // 300 in 1.4 s; each enrolment expires in 1 s here, so the pending cap never applies.
        t.clock.advance(Math.round(1400 / 300));
        const r = await enroll(key, { username: `walk-in-${i}`, valid_secs: "1" });
        if (r.status === 200) created++;
        else {
          assert.deepEqual([r.status, r.code], [429, 42901]);
          limited++;
        }
      }
      console.log(
        `[${dialect}] 300 enrolments asked through one key: ${created} created, ${limited} refused`,
      );
      assert.equal(created, t.runtime.config.policy.apiEnrollment.ratePerWindow);
      // Another integration has its own allowance.
      assert.equal((await enroll(other, { valid_secs: "1" })).status, 200);
    });

    test("deleteExpiredEnrollments deletes users whose enrolment expired unused, and keeps the rest", async () => {
      const key = await integration(true);
      t.clock.advance(3600 * 1000);
      // The earlier tests' enrolments have expired by now: clear them first.
      await t.runtime.services.deleteExpiredEnrollments();
      const unused = (await enroll(key, { username: "never-came", valid_secs: "60" })).response;
      const activated = (await enroll(key, { username: "came", valid_secs: "60" })).response;
      const tokened = (await enroll(key, { username: "got-a-token", valid_secs: "60" })).response;
      await activate(activated);
      // An administrator set up an authenticator app for this one instead.
      await t.runtime.services.enrollTOTP(ADMIN, "got-a-token");

      assert.equal(await t.runtime.services.deleteExpiredEnrollments(), 0, "nothing has expired yet");
      t.clock.advance(61_000);
      const deleted = await t.runtime.services.deleteExpiredEnrollments();
      console.log(`[${dialect}] expired enrolments: ${deleted} user deleted`);
      assert.equal(deleted, 1);
      assert.equal(await t.runtime.store.getUser(unused.user_id), undefined);
      assert.ok(await t.runtime.store.getUser(activated.user_id));
      assert.ok(await t.runtime.store.getUser(tokened.user_id));
      assert.equal(await t.runtime.services.deleteExpiredEnrollments(), 0, "a second run finds nothing");
    });
  });
}
