// Sliding-window arithmetic and the address a throttle counts under.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decideThrottle, slidingCount, throttleAddress, windowsToRead } from "./throttle.ts";

const rule = { limit: 20, windowSeconds: 900 };
const W = 900_000;

test("the previous window counts for the part of it the sliding window still covers", () => {
  const start = 10 * W;
  assert.equal(slidingCount(start, rule, 0, 20), 20);
  assert.equal(slidingCount(start + W / 4, rule, 3, 20), 15 + 3);
  assert.deepEqual(windowsToRead(start + 5, rule), { current: start, previous: start - W });
});

test("a source at its limit waits until the sliding count falls below it, never less than a second", () => {
  const start = 10 * W;
  assert.deepEqual(decideThrottle(start, rule, 19, 0), { allowed: true });
  assert.equal(decideThrottle(start, rule, 20, 0).allowed, false);
  // 20 now: allowed again once this window has become the previous one and a little of it has slid out.
  const d = decideThrottle(start, rule, 20, 0);
  assert.ok(!d.allowed && d.retryAfterSeconds === 900 + 1, JSON.stringify(d));
  // 10 in the previous window, 15 in this one: allowed once half of the previous window has slid out.
  const e = decideThrottle(start, rule, 15, 10);
  assert.ok(!e.allowed && e.retryAfterSeconds === 451, JSON.stringify(e));
  assert.equal(decideThrottle(start + 450_000, rule, 15, 10).allowed, false);
  assert.equal(decideThrottle(start + 451_000, rule, 15, 10).allowed, true);
});

test("addresses: IPv4 as is, IPv4-mapped as IPv4, IPv6 by its /64, anything else not an address", () => {
  assert.equal(throttleAddress("203.0.113.7"), "203.0.113.7");
  assert.equal(throttleAddress("::ffff:203.0.113.7"), "203.0.113.7");
  assert.equal(throttleAddress("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(throttleAddress("2001:DB8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
  assert.equal(throttleAddress("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(throttleAddress("::1"), "0:0:0:0::/64");
  assert.equal(throttleAddress("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(throttleAddress("not an address"), null);
  assert.equal(throttleAddress("1:2:3:4:5:6:7:8:9"), null);
});
