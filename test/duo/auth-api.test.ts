// The Auth API's login decisions on both databases: lockout at completion (A4), replayed requests (K2), fail-closed answers (N2), the v1 BSON shapes duo_unix needs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { sign } from "@duosecurity/duo_api/lib/duo_sig.js";
import { decodeBSON } from "../../src/http/duo/bson.ts";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import {
  ADMIN,
  createTestRuntime,
  enrollTOTPUser,
  type HTTPTestContext,
  wrongCode,
} from "../http/support.ts";
import { dialects } from "../support/stores.ts";
import { TestDevice } from "../support/test-device.ts";

for (const dialect of await dialects()) {
  describe(`Auth API login decisions (${dialect})`, () => {
    let t: HTTPTestContext;
    let server: RunningServer;
    let ikey: string;
    let skey: string;
    let host: string;
    let aliceCode: () => string;
    let device: TestDevice;

    before(async () => {
      t = await createTestRuntime({ dialect });
      server = await startServer(t.runtime);
      host = new URL(server.url).host;
      const created = await t.runtime.services.createApplication(ADMIN, { name: "Portal", type: "auth-api" });
      ikey = created.application.id;
      skey = created.secretKey.reveal();
      aliceCode = (await enrollTOTPUser(t, "alice")).code;
      device = new TestDevice(server.url, () => t.clock.now());
      const ticket = await t.runtime.services.createDeviceActivation(ADMIN, "alice");
      assert.equal((await device.activate(ticket.token.reveal())).status, 200);
    });

    after(async () => {
      await server?.close();
      await t?.close();
    });

    /** A v2-signed request as Duo's Node client builds it, dated by the test clock. */
    function signed(method: "GET" | "POST", path: string, params: Record<string, string>, date?: string) {
      const when = date ?? new Date(t.clock.now()).toUTCString();
      const query = new URLSearchParams(params).toString();
      return {
        url: `${server.url}${path}${method === "GET" && query ? `?${query}` : ""}`,
        init: {
          method,
          headers: {
            date: when,
            authorization: sign(ikey, skey, method, host, path, params, when),
            ...(method === "POST" ? { "content-type": "application/x-www-form-urlencoded" } : {}),
          },
          ...(method === "POST" ? { body: query } : {}),
        } satisfies RequestInit,
      };
    }

    async function duo(method: "GET" | "POST", path: string, params: Record<string, string>) {
      const r = signed(method, path, params);
      const response = await fetch(r.url, r.init);
      // biome-ignore lint/suspicious/noExplicitAny: a client's view of JSON; the tests check each field they use.
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    }

    test("A6: a victim whose passcodes a stranger locked still logs in by push; while locked, a right and a wrong code get the same bytes (A5)", async () => {
      const started = await duo("POST", "/auth/v2/auth", {
        username: "alice",
        factor: "push",
        device: "auto",
        async: "1",
      });
      const txid = started.body.response.txid as string;
      const first = await duo("GET", "/auth/v2/auth_status", { txid });
      const code = /Enter code (\d+)/.exec(first.body.response.status_msg)![1]!;
      // Another login guesses passcodes until the passcode class locks.
      const lockout = t.runtime.config.policy.lockout;
      for (let i = 0; i < lockout.maxFailures; i++) {
        // Past any back-off delay, so each guess is checked and counted.
        t.clock.advance((lockout.delayMaxSeconds + 1) * 1000);
        const guess = await duo("POST", "/auth/v2/auth", {
          username: "alice",
          factor: "passcode",
          passcode: wrongCode(aliceCode()),
        });
        assert.equal(guess.body.response.status_msg, "Incorrect passcode. Please try again.");
      }
      // Locked: the right code and a wrong one get the same bytes, saying when to come back.
      const raw = async (passcode: string) => {
        const r = signed("POST", "/auth/v2/auth", { username: "alice", factor: "passcode", passcode });
        const response = await fetch(r.url, r.init);
        return { status: response.status, text: await response.text() };
      };
      t.clock.advance(1000); // a request signed anew, not the last guess again
      const right = await raw(aliceCode());
      const wrong = await raw(wrongCode(aliceCode()));
      assert.deepEqual(right, wrong);
      assert.equal(right.status, 200);
      assert.deepEqual(JSON.parse(right.text).response, {
        result: "deny",
        status: "deny",
        status_msg: "Too many failed attempts. Try again in 60 minutes.",
      });
      // Preauth still offers the push: only the passcode class is locked.
      const preauth = await duo("POST", "/auth/v2/preauth", { username: "alice" });
      assert.equal(preauth.body.response.result, "auth");
      // The push the victim approves with the right number is a login: failed passcodes do not stop a push.
      const push = await t.runtime.store.getPushTransaction(txid);
      t.clock.set(push!.createdAt + 1000);
      const answered = await device.answer(txid, "approve", code);
      assert.equal(answered.status, 200);
      const final = await duo("GET", "/auth/v2/auth_status", { txid });
      assert.equal(final.body.response.result, "allow");
      await t.runtime.services.unlockUser(ADMIN, "alice");
    });

    test("A4: a user disabled while their push waits is denied when they approve it; the log and last login agree", async () => {
      const started = await duo("POST", "/auth/v2/auth", {
        username: "alice",
        factor: "push",
        device: "auto",
        async: "1",
      });
      const txid = started.body.response.txid as string;
      const first = await duo("GET", "/auth/v2/auth_status", { txid });
      const code = /Enter code (\d+)/.exec(first.body.response.status_msg)![1]!;
      const alice = (await t.runtime.services.findUser("alice"))!;
      const lastLogin = await t.runtime.store.lastLoginAt(alice.id);
      await t.runtime.services.setUserStatus(ADMIN, "alice", "disabled");
      try {
        t.clock.advance(1000);
        assert.equal((await device.answer(txid, "approve", code)).status, 200);
        const final = await duo("GET", "/auth/v2/auth_status", { txid });
        assert.deepEqual(final.body.response, {
          result: "deny",
          status: "deny",
          status_msg: "Your account is disabled. Contact your IT service desk.",
        });
        const entry = await t.runtime.store.findAuthLogByTxid(txid);
        assert.deepEqual([entry?.result, entry?.reason], ["deny", "user_disabled"]);
        assert.equal(await t.runtime.store.lastLoginAt(alice.id), lastLogin, "no new last login");
      } finally {
        await t.runtime.services.setUserStatus(ADMIN, "alice", "active");
      }
    });

    test("a disabled integration is refused like an unknown one; enabled again, it works", async () => {
      await t.runtime.services.setApplicationStatus(ADMIN, ikey, "disabled");
      try {
        const refused = await duo("POST", "/auth/v2/preauth", { username: "alice" });
        assert.equal(refused.status, 401);
        assert.equal(refused.body.stat, "FAIL");
      } finally {
        await t.runtime.services.setApplicationStatus(ADMIN, ikey, "active");
      }
      t.clock.advance(1000);
      assert.equal((await duo("POST", "/auth/v2/preauth", { username: "alice" })).status, 200);
    });

    test("preauth: a user in bypass status is allowed, a disabled one denied, an unenrolled one offered enrolment where the application says so", async () => {
      const { services } = t.runtime;
      await services.createUser(ADMIN, { username: "byron", status: "bypass" });
      await services.createUser(ADMIN, { username: "dora", status: "disabled" });
      await services.createUser(ADMIN, { username: "newbie" });
      const preauth = async (username: string) =>
        (await duo("POST", "/auth/v2/preauth", { username })).body.response as Record<string, string>;
      assert.equal((await preauth("byron")).result, "allow");
      assert.deepEqual(
        [(await preauth("dora")).result, (await preauth("dora")).status_msg],
        ["deny", "Your account is disabled. Contact your IT service desk."],
      );
      assert.equal((await preauth("newbie")).result, "deny");
      const enrolling = await services.createApplication(ADMIN, {
        name: "Self-enrolment portal",
        type: "auth-api",
        policy: { newUserPolicy: "enroll" },
      });
      const date = new Date(t.clock.now()).toUTCString();
      const response = await fetch(`${server.url}/auth/v2/preauth`, {
        method: "POST",
        headers: {
          date,
          authorization: sign(
            enrolling.application.id,
            enrolling.secretKey.reveal(),
            "POST",
            host,
            "/auth/v2/preauth",
            { username: "newbie" },
            date,
          ),
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "username=newbie",
      });
      const enroll = ((await response.json()) as { response: Record<string, string> }).response;
      assert.equal(enroll.result, "enroll");
      assert.match(enroll.enroll_portal_url ?? "", /\/authenticator$/);
      // Each decision is in the authentication log with its reason.
      const log = await t.runtime.store.listAuthLog({ minTime: 0, maxTime: t.clock.now() + 1, limit: 20 });
      const reasons = new Set(log.entries.map((e) => e.reason));
      for (const reason of ["bypass_user", "user_disabled", "not_enrolled", "enroll"])
        assert.ok(reasons.has(reason), reason);
    });

    test("a push first polled after it expired answers timeout at once (no waiting reply)", async () => {
      await t.runtime.services.createUser(ADMIN, { username: "late" });
      const lateDevice = new TestDevice(server.url, () => t.clock.now());
      const ticket = await t.runtime.services.createDeviceActivation(ADMIN, "late");
      assert.equal((await lateDevice.activate(ticket.token.reveal())).status, 200);
      const started = await duo("POST", "/auth/v2/auth", {
        username: "late",
        factor: "push",
        device: "auto",
        async: "1",
      });
      t.clock.advance((t.runtime.config.policy.push.lifetimeSeconds + 1) * 1000);
      const polled = await duo("GET", "/auth/v2/auth_status", { txid: started.body.response.txid });
      assert.deepEqual([polled.body.response.result, polled.body.response.status], ["deny", "timeout"]);
    });

    test("K2: the same signed /auth sent twice within the window is refused, and only one push is sent", async () => {
      await t.runtime.services.createUser(ADMIN, { username: "bob" });
      const bobDevice = new TestDevice(server.url, () => t.clock.now());
      const ticket = await t.runtime.services.createDeviceActivation(ADMIN, "bob");
      assert.equal((await bobDevice.activate(ticket.token.reveal())).status, 200);
      const r = signed("POST", "/auth/v2/auth", {
        username: "bob",
        factor: "push",
        device: "auto",
        async: "1",
      });
      const first = await fetch(r.url, r.init);
      assert.equal(first.status, 200);
      t.clock.advance(30_000);
      const again = await fetch(r.url, r.init);
      assert.equal(again.status, 409);
      assert.equal(((await again.json()) as { code: number }).code, 40901);
      const bob = await t.runtime.services.requireUser("bob");
      assert.equal((await t.runtime.store.listPushTransactions(bob.id, 0)).length, 1);
    });

    test("v1 BSON: preauth carries a string prompt and a factors document; status codes are int32", async () => {
      // duo_unix sends its parameters sorted, so the wire body is also the canonical line.
      const body = "failmode=closed&hostname=web01&user=alice";
      // duo_unix 1.11.3: HMAC-SHA1 over METHOD, host, path, params, no date at all.
      const { createHmac } = await import("node:crypto");
      const canonical = ["POST", host.split(":")[0], "/rest/v1/preauth.bson", body].join("\n");
      const signature = createHmac("sha1", skey).update(canonical).digest("hex");
      const response = await fetch(`${server.url}/rest/v1/preauth.bson`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${ikey}:${signature}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body,
      });
      assert.equal(response.status, 200);
      const doc = decodeBSON(new Uint8Array(await response.arrayBuffer()));
      assert.equal(doc["stat"], "OK");
      const inner = doc["response"] as Record<string, unknown>;
      assert.equal(inner["result"], "auth");
      assert.equal(typeof inner["prompt"], "string");
      assert.deepEqual({ ...(inner["factors"] as object) }, { default: "push1", "1": "push1" });

      // duo_unix 1.12 - 2.1 call the same paths ending in .json: the same answer as JSON.
      const jsonCanonical = ["POST", host.split(":")[0], "/rest/v1/preauth.json", body].join("\n");
      const asJSON = await fetch(`${server.url}/rest/v1/preauth.json`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${ikey}:${createHmac("sha1", skey).update(jsonCanonical).digest("hex")}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body,
      });
      assert.match(asJSON.headers.get("content-type") ?? "", /^application\/json/);
      const json = (await asJSON.json()) as {
        response: { result: string; factors: unknown; prompt: string };
      };
      assert.deepEqual(
        [json.response.result, json.response.factors, json.response.prompt],
        ["auth", { default: "push1", "1": "push1" }, inner["prompt"]],
      );

      const unsigned = await fetch(`${server.url}/rest/v1/preauth.bson`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body,
      });
      assert.equal(unsigned.status, 401);
      const fail = decodeBSON(new Uint8Array(await unsigned.arrayBuffer()));
      assert.deepEqual({ ...fail }, { stat: "FAIL", code: 40101, message: "Missing request credentials" });
      // The raw bytes: `code` is element type 0x10 (int32), which duo_unix requires.
      const bytes = Buffer.from(
        await (await fetch(`${server.url}/rest/v1/preauth.bson`, { method: "POST" })).arrayBuffer(),
      );
      assert.equal(bytes[bytes.indexOf(Buffer.from("code\u0000")) - 1], 0x10);
    });

    test("N2: with the database unreachable, preauth and auth answer a deny (200), never a 5xx that duo_unix lets through", async () => {
      const t2 = await createTestRuntime({ dialect });
      const s2 = await startServer(t2.runtime);
      const created = await t2.runtime.services.createApplication(ADMIN, { name: "Down", type: "unix" });
      const key = created.application.id;
      const secret = created.secretKey.reveal();
      const host2 = new URL(s2.url).host;
      await t2.runtime.store.close();
      try {
        for (const [path, params] of [
          ["/auth/v2/preauth", { username: "alice" }],
          ["/auth/v2/auth", { username: "alice", factor: "passcode", passcode: "123456" }],
        ] as const) {
          const date = new Date(t2.clock.now()).toUTCString();
          const response = await fetch(`${s2.url}${path}`, {
            method: "POST",
            headers: {
              date,
              authorization: sign(key, secret, "POST", host2, path, params, date),
              "content-type": "application/x-www-form-urlencoded",
            },
            body: new URLSearchParams(params).toString(),
          });
          assert.equal(response.status, 200, path);
          const body = (await response.json()) as {
            stat: string;
            response: { result: string; status_msg: string };
          };
          assert.equal(body.response.result, "deny", path);
          assert.match(body.response.status_msg, /temporarily unavailable/);
        }
        // The legacy path too (what Debian's login_duo calls first).
        const v1 = await fetch(`${s2.url}/rest/v1/preauth.bson`, {
          method: "POST",
          headers: {
            authorization: `Basic ${Buffer.from(`${key}:${"0".repeat(40)}`).toString("base64")}`,
            "content-type": "application/x-www-form-urlencoded",
          },
          body: "user=alice",
        });
        assert.equal(v1.status, 200);
        const answer = decodeBSON(new Uint8Array(await v1.arrayBuffer()))["response"] as Record<
          string,
          unknown
        >;
        assert.equal(answer["result"], "deny");
      } finally {
        await s2.close();
        await t2.close();
      }
    });

    test("/auth/v2/logo answers the Twofold Authenticator's icon, as built from web/authenticator", async () => {
      const r = signed("GET", "/auth/v2/logo", {});
      const response = await fetch(r.url, r.init);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "image/png");
      const body = Buffer.from(await response.arrayBuffer());
      assert.deepEqual(body, readFileSync("web/authenticator/icon-512.png"));
    });
  });
}
