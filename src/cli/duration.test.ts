// Durations typed on the command line: units, combinations, plain seconds, and what is refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDuration, parseDuration } from "./duration.ts";

test("parseDuration reads s, m, h, d, combinations and plain seconds", () => {
  assert.equal(parseDuration("12h"), 43200);
  assert.equal(parseDuration("90m"), 5400);
  assert.equal(parseDuration("30s"), 30);
  assert.equal(parseDuration("2d"), 172800);
  assert.equal(parseDuration("1h30m"), 5400);
  assert.equal(parseDuration("3600"), 3600);
  assert.equal(parseDuration(" 1H "), 3600);
  assert.equal(parseDuration("0"), 0);
});

test("parseDuration refuses anything else", () => {
  for (const text of ["", "h", "1.5h", "-1h", "12 h", "1w", "soon", "1h-30m"])
    assert.equal(parseDuration(text), undefined, text);
});

test("formatDuration writes the shortest form", () => {
  assert.equal(formatDuration(43200), "12h");
  assert.equal(formatDuration(5400), "1h30m");
  assert.equal(formatDuration(90061), "1d1h1m1s");
  assert.equal(formatDuration(0), "0s");
});
