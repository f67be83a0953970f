// A6: the attack as reported (3,660 requests at 20 users in 16 minutes from one key), from one address, on both databases.
import assert from "node:assert/strict";
import { test } from "node:test";
import { report, suite } from "../support/login-attack.ts";
import { dialects } from "../support/stores.ts";

for (const dialect of await dialects()) {
  suite(
    `A6: the reported attack, 3,660 requests at 20 users in 16 minutes (${dialect})`,
    dialect,
    (h) => {
      test("from one address: none of the 20 locks, and other users still log in", async () => {
        const key = await h.integration("Kiosk");
        const targets = h.victims.slice(0, 20);
        const result = await h.attack({ key, targets, ipaddr: () => "203.0.113.9", peer: "198.51.100.30" });
        const locked = await h.lockedUsers(targets);
        report(dialect, "one address, 20 users", result, locked);
        assert.equal(locked, 0);
        assert.ok(
          result.legitimate.every((r) => r === "allow/allow"),
          result.legitimate.join(" "),
        );
      });
    },
    40,
  );
}
