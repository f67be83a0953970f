// A6 lockout denial of service: throttles per integration, reported address and peer act before per-user locks, through the signed Auth API v2 and REST v1 routes on a fake clock, on both databases.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sign } from "@duosecurity/duo_api/lib/duo_sig.js";
import type { FastifyInstance } from "fastify";
import { decodeBSON } from "../../src/http/duo/bson.ts";
import { buildServer } from "../../src/http/server.ts";
import {
  ADMIN,
  createTestRuntime,
  enrollTOTPUser,
  type HTTPTestContext,
  wrongCode,
} from "../http/support.ts";
import { dialects } from "../support/stores.ts";

const HOST = "api.twofold.test";
const USERS = 1000;
/** The reported attack: 3,660 requests in 16 minutes from one key. */
const REQUESTS = 3660;
const STEP_MS = Math.round((16 * 60 * 1000) / REQUESTS);

interface Integration {
  ikey: string;
  skey: string;
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: a client's view of the envelope; each test checks what it uses.
  body: Record<string, any>;
}

for (const dialect of await dialects()) {
  describe(`A6: throttles before per-user locks (${dialect})`, () => {
    let t: HTTPTestContext;
    let app: FastifyInstance;
    let aliceCode: () => string;
    let bobCode: () => string;
    const victims = Array.from({ length: USERS }, (_, i) => `student${String(i).padStart(4, "0")}`);

    before(async () => {
      t = await createTestRuntime({ dialect });
      app = buildServer(t.runtime);
      await app.ready();
      await t.runtime.services.importUsers(
        ADMIN,
        victims.map((username, i) => ({ line: i + 1, username })),
      );
      aliceCode = (await enrollTOTPUser(t, "alice")).code;
      bobCode = (await enrollTOTPUser(t, "bob")).code;
    });

    after(async () => {
      await app?.close();
      await t?.close();
    });

    async function integration(name: string): Promise<Integration> {
      const c = await t.runtime.services.createApplication(ADMIN, { name, type: "auth-api" });
      return { ikey: c.application.id, skey: c.secretKey.reveal() };
    }

    /** A signed form POST as Duo's Node client builds it, from `peer` (the integration's server). */
    async function post(
      key: Integration,
      path: string,
      params: Record<string, string>,
      peer: string,
    ): Promise<Answer> {
      const date = new Date(t.clock.now()).toUTCString();
      const res = await app.inject({
        method: "POST",
        url: path,
        remoteAddress: peer,
        headers: {
          host: HOST,
          date,
          authorization: sign(key.ikey, key.skey, "POST", HOST, path, params, date),
          "content-type": "application/x-www-form-urlencoded",
        },
        payload: new URLSearchParams(params).toString(),
      });
      const body = path.endsWith(".bson") ? decodeBSON(res.rawPayload) : JSON.parse(res.body);
      const retry = res.headers["retry-after"];
      return { status: res.statusCode, retryAfter: retry === undefined ? undefined : String(retry), body };
    }

    const guess = (key: Integration, username: string, ipaddr: string, peer: string) =>
      post(key, "/auth/v2/auth", { username, factor: "passcode", passcode: "000000", ipaddr }, peer);

    /** Users whose passcode factors are locked (the failure count reached the configured maximum). */
    async function lockedUsers(names: readonly string[]): Promise<number> {
      const max = t.runtime.config.policy.lockout.maxFailures;
      let locked = 0;
      for (const name of names) {
        const user = await t.runtime.services.findUser(name);
        const lockouts = await t.runtime.store.listLockouts(user!.id);
        if (lockouts.some((l) => l.failures >= max)) locked++;
      }
      return locked;
    }

    /**
     * Run an attack of REQUESTS wrong passcodes at the reported rate, round-robin over `targets`; every 200
     * requests alice (and bob through the attacked server) log in with their right codes from their own
     * addresses. Returns what the attacker got.
     */
    async function attack(options: {
      key: Integration;
      targets: readonly string[];
      ipaddr: (n: number) => string;
      peer: string;
    }): Promise<{ accepted: number; throttled: number; legitimate: string[]; windows: number }> {
      const windowMs = t.runtime.config.policy.throttle.windowSeconds * 1000;
      const started = t.clock.now();
      let accepted = 0;
      let throttled = 0;
      const legitimate: string[] = [];
      for (let n = 0; n < REQUESTS; n++) {
        t.clock.advance(STEP_MS);
        const target = options.targets[n % options.targets.length]!;
        const r = await guess(options.key, target, options.ipaddr(n), options.peer);
        if (r.status === 429) throttled++;
        else {
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.equal(r.body.response.result, "deny");
          accepted++;
        }
        if (n % 200 === 199) {
          // A user of another integration, from elsewhere, and one behind the attacked server itself.
          const own = await post(
            portal,
            "/auth/v2/auth",
            { username: "alice", factor: "passcode", passcode: aliceCode(), ipaddr: "192.0.2.10" },
            "198.51.100.77",
          );
          const behind = await post(
            options.key,
            "/auth/v2/auth",
            { username: "bob", factor: "passcode", passcode: bobCode(), ipaddr: "192.0.2.20" },
            options.peer,
          );
          legitimate.push(
            `${own.body.response?.result ?? own.status}/${behind.body.response?.result ?? behind.status}`,
          );
          // Each right code is used once: the next check uses the next step's.
          t.clock.advance(t.runtime.config.policy.totp.period * 1000);
        }
      }
      // How many fixed counting windows the attack touched: each lets at most one limit's worth through.
      const windows = Math.floor(t.clock.now() / windowMs) - Math.floor(started / windowMs) + 1;
      return { accepted, throttled, legitimate, windows };
    }

    let portal: Integration;

    test("a throttled request gets Duo's rate-limit answer (429, 42901, Retry-After) on v2 and REST v1, and counts against no user", async () => {
      portal = await integration("Portal");
      const key = await integration("Web app");
      const limit = t.runtime.config.policy.throttle.perAddress;
      for (let i = 0; i < limit; i++) {
        const r = await guess(key, victims[i]!, "203.0.113.50", "198.51.100.5");
        assert.equal(r.status, 200);
      }
      const alice = (await t.runtime.services.findUser("alice"))!;
      const before = await t.runtime.store.listLockouts(alice.id);
      const logged = (
        await t.runtime.store.listAuthLog({ minTime: 0, maxTime: t.clock.now() + 1, limit: 1000 })
      ).total;
      const v2 = await post(
        key,
        "/auth/v2/auth",
        { username: "alice", factor: "passcode", passcode: wrongCode(aliceCode()), ipaddr: "203.0.113.50" },
        "198.51.100.5",
      );
      assert.equal(v2.status, 429);
      assert.deepEqual(v2.body, { stat: "FAIL", code: 42901, message: "Too Many Requests" });
      const seconds = Number(v2.retryAfter);
      assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 901, `Retry-After: ${v2.retryAfter}`);
      const pre = await post(
        key,
        "/auth/v2/preauth",
        { username: "alice", ipaddr: "203.0.113.50" },
        "198.51.100.5",
      );
      assert.deepEqual([pre.status, pre.body.code], [429, 42901]);
      const v1 = await post(
        key,
        "/rest/v1/auth.bson",
        { user: "alice", factor: "auto", auto: "123456", ipaddr: "203.0.113.50" },
        "198.51.100.5",
      );
      assert.deepEqual([v1.status, v1.body.stat, v1.body.code], [429, "FAIL", 42901]);
      assert.equal(v1.retryAfter, v2.retryAfter);
      // Alice's counters and the authentication log are as they were: the throttle answered before any lookup.
      assert.deepEqual(await t.runtime.store.listLockouts(alice.id), before);
      assert.equal(
        (await t.runtime.store.listAuthLog({ minTime: 0, maxTime: t.clock.now() + 1, limit: 1000 })).total,
        logged,
      );
      // Another address of the same integration, and the same address once the window has slid by, get in.
      const other = await post(
        key,
        "/auth/v2/auth",
        { username: "alice", factor: "passcode", passcode: aliceCode(), ipaddr: "192.0.2.99" },
        "198.51.100.5",
      );
      assert.equal(other.body.response.result, "allow");
      t.clock.advance(seconds * 1000);
      const later = await guess(key, victims[0]!, "203.0.113.50", "198.51.100.5");
      assert.equal(later.status, 200);
    });

    test("one address spraying wrong passcodes at 1,000 users locks none; other users still log in", async () => {
      const key = await integration("VPN");
      const result = await attack({
        key,
        targets: victims,
        ipaddr: () => "203.0.113.7",
        peer: "198.51.100.10",
      });
      const locked = await lockedUsers(victims);
      console.log(
        `[${dialect}] one address, ${USERS} users, ${REQUESTS} requests in 16 min: ${result.accepted} guesses accepted, ${result.throttled} throttled, ${locked} users locked`,
      );
      assert.equal(locked, 0);
      const perAddress = t.runtime.config.policy.throttle.perAddress;
      assert.ok(result.accepted <= result.windows * perAddress, `accepted ${result.accepted}`);
      assert.ok(
        result.legitimate.every((r) => r === "allow/allow"),
        result.legitimate.join(" "),
      );
    });

    test("a spray rotating ipaddr from one key is held by the peer and integration limits: no user locks", async () => {
      const key = await integration("Compromised app");
      const result = await attack({
        key,
        targets: victims,
        ipaddr: (n) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
        peer: "198.51.100.20",
      });
      const locked = await lockedUsers(victims);
      console.log(
        `[${dialect}] rotating ipaddr, ${USERS} users, ${REQUESTS} requests in 16 min: ${result.accepted} guesses accepted, ${result.throttled} throttled, ${locked} users locked`,
      );
      assert.equal(locked, 0);
      const { perPeer } = t.runtime.config.policy.throttle;
      assert.ok(result.accepted <= result.windows * perPeer, `accepted ${result.accepted}`);
      assert.ok(
        result.legitimate.every((r) => r === "allow/allow"),
        result.legitimate.join(" "),
      );
    });

    test("the reported attack, 3,660 requests at 20 users from one address, locks none of them", async () => {
      const key = await integration("Kiosk");
      const targets = victims.slice(500, 520);
      const result = await attack({ key, targets, ipaddr: () => "203.0.113.9", peer: "198.51.100.30" });
      const locked = await lockedUsers(targets);
      console.log(
        `[${dialect}] one address, 20 users, ${REQUESTS} requests in 16 min: ${result.accepted} guesses accepted, ${result.throttled} throttled, ${locked} users locked`,
      );
      assert.equal(locked, 0);
    });

    test("the reported attack on 20 users with ipaddr rotated on every request", async () => {
      const key = await integration("Second compromised app");
      const targets = victims.slice(600, 620);
      const result = await attack({
        key,
        targets,
        ipaddr: (n) => `10.200.${(n >> 8) & 255}.${n & 255}`,
        peer: "198.51.100.40",
      });
      const locked = await lockedUsers(targets);
      console.log(
        `[${dialect}] rotating ipaddr, 20 users, ${REQUESTS} requests in 16 min: ${result.accepted} guesses accepted, ${result.throttled} throttled, ${locked} users locked`,
      );
    });
  });
}
