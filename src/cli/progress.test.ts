// The progress bar: redrawn in place on a terminal, one line per quarter when stderr is a file or pipe.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createProgress } from "./progress.ts";

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { isTTY, written, write: (text: string) => written.push(text) };
}

test("without a terminal, a line at 0, 25, 50, 75 and 100 % and nothing more", () => {
  const s = stream(false);
  const p = createProgress("importing", s);
  for (let done = 0; done <= 200; done++) p.update(done, 200);
  p.finish();
  assert.deepEqual(s.written, [
    "importing: 0%\n",
    "importing: 25%\n",
    "importing: 50%\n",
    "importing: 75%\n",
    "importing: 100%\n",
  ]);
});

test("finish shows 100 % even when the last update fell short", () => {
  const s = stream(false);
  const p = createProgress("x", s);
  p.update(1, 10);
  p.finish();
  assert.equal(s.written.at(-1), "x: 100%\n");
});

test("on a terminal, the bar is redrawn with a carriage return and ends with a newline", () => {
  const s = stream(true);
  const p = createProgress("importing", s);
  p.update(0, 4);
  p.update(2, 4);
  p.finish();
  assert.ok(s.written.slice(0, -1).every((w) => w.startsWith("\r")));
  assert.match(s.written[1]!, /\[#{15}-{15}\] 50% 2\/4$/);
  assert.match(s.written.at(-2)!, /100% 4\/4$/);
  assert.equal(s.written.at(-1), "\n");
});
