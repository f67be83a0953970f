// A6 lockout denial of service: one address, or one key rotating ipaddr, spraying 1,000 users is throttled before any user locks; through the signed Auth API v2 and REST v1 routes on a fake clock, on both databases.
import assert from "node:assert/strict";
import { test } from "node:test";
import { wrongCode } from "../http/support.ts";
import { report, suite, USERS } from "../support/login-attack.ts";
import { dialects } from "../support/stores.ts";

for (const dialect of await dialects()) {
  suite(`A6: a spray over 1,000 users is throttled before any user locks (${dialect})`, dialect, (h) => {
    test("a throttled request gets Duo's rate-limit answer (429, 42901, Retry-After) on v2 and REST v1, and counts against no user", async () => {
      const t = h.t();
      const key = await h.integration("Web app");
      const [address, peer] = ["203.0.113.50", "198.51.100.5"];
      for (let i = 0; i < t.runtime.config.policy.throttle.perAddress; i++)
        assert.equal((await h.guess(key, h.victims[i]!, address, peer)).status, 200);
      const alice = (await t.runtime.services.findUser("alice"))!;
      const lockouts = await t.runtime.store.listLockouts(alice.id);
      const logged = async () =>
        (await t.runtime.store.listAuthLog({ minTime: 0, maxTime: t.clock.now() + 1, limit: 1 })).total;
      const loggedBefore = await logged();

      const v2 = await h.post(
        key,
        "/auth/v2/auth",
        { username: "alice", factor: "passcode", passcode: wrongCode(h.code("alice")), ipaddr: address },
        peer,
      );
      assert.equal(v2.status, 429);
      assert.deepEqual(v2.body, { stat: "FAIL", code: 42901, message: "Too Many Requests" });
      const seconds = Number(v2.retryAfter);
      assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 901, `Retry-After: ${v2.retryAfter}`);
      const pre = await h.post(key, "/auth/v2/preauth", { username: "alice", ipaddr: address }, peer);
      assert.deepEqual([pre.status, pre.body.code, pre.retryAfter], [429, 42901, v2.retryAfter]);
      const v1 = await h.post(
        key,
        "/rest/v1/auth.bson",
        { user: "alice", factor: "auto", auto: "123456", ipaddr: address },
        peer,
      );
      assert.deepEqual(
        [v1.status, v1.body.stat, v1.body.code, v1.retryAfter],
        [429, "FAIL", 42901, v2.retryAfter],
      );
      // Alice's counters and the authentication log are as they were: the throttle answered before any lookup.
      assert.deepEqual(await t.runtime.store.listLockouts(alice.id), lockouts);
      assert.equal(await logged(), loggedBefore);

      // Another address of the same integration gets in; the throttled one does once Retry-After has passed.
      const other = await h.post(
        key,
        "/auth/v2/auth",
        { username: "alice", factor: "passcode", passcode: h.code("alice"), ipaddr: "192.0.2.99" },
        peer,
      );
      assert.equal(other.body.response.result, "allow");
      t.clock.advance((seconds - 1) * 1000);
      assert.equal((await h.guess(key, h.victims[0]!, address, peer)).status, 429);
      t.clock.advance(1000);
      assert.equal((await h.guess(key, h.victims[0]!, address, peer)).status, 200);
    });

    test("one address spraying wrong passcodes at 1,000 users locks none; other users still log in", async () => {
      const t = h.t();
      const key = await h.integration("VPN");
      const result = await h.attack({
        key,
        targets: h.victims,
        ipaddr: () => "203.0.113.7",
        peer: "198.51.100.10",
      });
      const locked = await h.lockedUsers(h.victims);
      report(dialect, `one address, ${USERS} users`, result, locked);
      assert.equal(locked, 0);
      assert.ok(result.accepted <= result.windows * t.runtime.config.policy.throttle.perAddress);
      // Users of another integration, and users behind the same server from other addresses, get in.
      assert.ok(
        result.legitimate.every((r) => r === "allow/allow"),
        result.legitimate.join(" "),
      );
    });
  });
}
