// The loan desk at the command line: a token lent until a date, the date changed or cleared, shown in the list; bad dates refused.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSandbox, type Sandbox } from "./helpers.ts";

describe("twofold token assign --due and token due", () => {
  let box: Sandbox;

  before(async () => {
    box = createSandbox();
    assert.equal((await box.run(["user", "add", "bob", "--email", "bob@example.edu"])).code, 0);
    const file = join(box.dir, "tokens.csv");
    writeFileSync(
      file,
      `serial,secret,type,digits,counter_or_period\nLN-1,${randomBytes(20).toString("hex")},hotp,6,0\n`,
    );
    assert.equal((await box.run(["token", "import", file])).code, 0);
  });

  after(() => box?.cleanup());

  test("lent until a day, moved, cleared; the list shows when it is due", async () => {
    const lent = await box.json<{ serial: string; username: string; loanDueAt: string }>([
      "token",
      "assign",
      "LN-1",
      "bob",
      "--due",
      "2099-12-24",
    ]);
    assert.deepEqual([lent.username, lent.loanDueAt], ["bob", "2099-12-24T00:00:00.000Z"]);
    const listed = await box.run(["token", "list"]);
    assert.match(listed.stdout, /DUE/);
    assert.match(listed.stdout, /2099-12-24T00:00:00\.000Z/);
    const moved = await box.run(["token", "due", "LN-1", "2100-01-08T12:00:00Z"]);
    assert.equal(moved.code, 0);
    assert.match(moved.stdout, /token LN-1 is due back 2100-01-08T12:00:00\.000Z/);
    const cleared = await box.run(["token", "due", "LN-1", "none"]);
    assert.match(cleared.stdout, /token LN-1 has no due date/);
    assert.doesNotMatch((await box.run(["token", "list"])).stdout, /2100-01-08/);
  });

  test("a date that is not one, or in the past, is refused with a message", async () => {
    const notADate = await box.run(["token", "due", "LN-1", "next tuesday"]);
    assert.notEqual(notADate.code, 0);
    assert.match(notADate.stderr, /not a date: "next tuesday"/);
    const past = await box.run(["token", "due", "LN-1", "2001-01-01"]);
    assert.notEqual(past.code, 0);
    assert.match(past.stderr, /must be in the future/);
  });
});
