// A6: the attack as reported (3,660 requests at 20 users in 16 minutes from one key) with ipaddr rotated on every request, on both databases.
import assert from "node:assert/strict";
import { test } from "node:test";
import { report, suite } from "../support/login-attack.ts";
import { dialects } from "../support/stores.ts";

for (const dialect of await dialects()) {
  suite(
    `A6: the reported attack with ipaddr rotated on every request (${dialect})`,
    dialect,
    (h) => {
      test("the peer and integration limits hold it: at most a handful of the 20 lock", async () => {
        const key = await h.integration("Second compromised app");
        const targets = h.victims.slice(0, 20);
        const result = await h.attack({
          key,
          targets,
          ipaddr: (n) => `10.200.${(n >> 8) & 255}.${n & 255}`,
          peer: "198.51.100.40",
        });
        const locked = await h.lockedUsers(targets);
        report(dialect, "rotating ipaddr, 20 users", result, locked);
        assert.ok(locked <= 5, `${locked} users locked`);
      });
    },
    40,
  );
}
