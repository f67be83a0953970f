// `twofold sms stop | resume | report`: the service desk stops texts to a user or number with a reason, sees it in the report, and resumes them.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createSandbox, type Sandbox } from "./helpers.ts";

let box: Sandbox;
before(() => {
  box = createSandbox("organization: { country: HK }");
});
after(() => box.cleanup());

test("stop texts to a user and a number, see them in the report, resume them", async () => {
  await box.json(["user", "add", "erin"]);
  const stop = await box.run(["sms", "stop", "--user", "Erin", "--reason", "asked for 40 codes overnight"]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /stopped texts to user \S+ \(erin\): asked for 40 codes overnight/);
  const again = await box.run(["sms", "stop", "--user", "erin", "--reason", "again"]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already stopped/);

  const number = await box.json<{ subject: string; id: string }>([
    "sms",
    "stop",
    "--number",
    "+852 9123 4567",
    "--reason",
    "toll fraud",
  ]);
  assert.equal(number.subject, "+*******4567");

  const report = await box.run(["sms", "report"]);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /Today \(\d{4}-\d\d-\d\d\): 0 texts sent, 0\.00 of the 50\.00 USD daily cap/);
  assert.match(report.stdout, /Destination countries: HK/);
  assert.match(report.stdout, /Stopped \(2\):/);
  assert.match(report.stdout, /user \S+ \(erin\): asked for 40 codes overnight/);
  assert.match(report.stdout, /number \+\*{7}4567: toll fraud/);
  assert.doesNotMatch(report.stdout, /91234567/, "the report never shows a whole number");
  assert.match(report.stdout, /Breaker: country enforce, prefix enforce, address enforce/);

  const json = await box.json<{ stops: Array<{ scope: string }>; dailyCap: number }>([
    "sms",
    "report",
    "--days",
    "3",
  ]);
  assert.deepEqual(json.stops.map((s) => s.scope).sort(), ["number", "user"]);
  assert.equal(json.dailyCap, 50);

  const resumed = await box.run(["sms", "resume", "--user", "erin"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /resumed user/);
  assert.equal((await box.run(["sms", "resume", "--id", number.id])).code, 0);
  const empty = await box.json<{ stops: unknown[] }>(["sms", "report"]);
  assert.deepEqual(empty.stops, []);
});

test("usage mistakes are refused with a hint, not a stack trace", async () => {
  const noReason = await box.run(["sms", "stop", "--user", "erin"]);
  assert.equal(noReason.code, 2);
  assert.match(noReason.stderr, /--reason is required/);
  const two = await box.run(["sms", "stop", "--user", "erin", "--number", "+85291234567", "--reason", "x"]);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /exactly one of --user, --number/);
  const badNumber = await box.run(["sms", "stop", "--number", "12345", "--reason", "x"]);
  assert.notEqual(badNumber.code, 0);
  assert.match(badNumber.stderr, /E\.164/);
  const nothing = await box.run(["sms", "resume", "--prefix", "+8525123"]);
  assert.notEqual(nothing.code, 0);
  assert.match(nothing.stderr, /nothing is stopped there/);
  const days = await box.run(["sms", "report", "--days", "0"]);
  assert.equal(days.code, 2);
});
