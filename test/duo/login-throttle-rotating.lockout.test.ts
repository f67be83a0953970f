// A6 lockout denial of service: one key rotating ipaddr on every request while spraying 1,000 users is held by the peer and integration limits; through the signed Auth API routes on a fake clock, on both databases.
import assert from "node:assert/strict";
import { test } from "node:test";
import { report, suite, USERS } from "../support/login-attack.ts";
import { dialects } from "../support/stores.ts";

for (const dialect of await dialects()) {
  suite(`A6: a spray rotating ipaddr is throttled before any user locks (${dialect})`, dialect, (h) => {
    test("a spray from one key rotating ipaddr on every request is held by the peer and integration limits: no user locks", async () => {
      const t = h.t();
      const key = await h.integration("Compromised app");
      const result = await h.attack({
        key,
        targets: h.victims,
        ipaddr: (n) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
        peer: "198.51.100.20",
      });
      const locked = await h.lockedUsers(h.victims);
      report(dialect, `rotating ipaddr, ${USERS} users`, result, locked);
      assert.equal(locked, 0);
      assert.ok(result.accepted <= result.windows * t.runtime.config.policy.throttle.perPeer);
      // Users of other integrations are untouched. Those of the abused integration are throttled with it
      // while the attack lasts (its key is the attacker's), but none of them is locked.
      assert.ok(
        result.legitimate.every((r) => r.startsWith("allow/")),
        result.legitimate.join(" "),
      );
      assert.equal(await h.lockedUsers(["bob"]), 0);
    });
  });
}
