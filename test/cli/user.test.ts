// `twofold user …` end to end: add, list, show, alias, disable, and CSV import that is all or nothing.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSandbox, type Sandbox } from "./helpers.ts";

interface ListedUser {
  username: string;
  status: string;
  email: string | null;
  realName: string | null;
  createdAt: string;
}

describe("twofold user", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox();
  });
  after(() => box.cleanup());

  test("user add creates users once; the password never comes back", async () => {
    const alice = await box.json<Record<string, unknown>>([
      "user",
      "add",
      "alice",
      "--email",
      "alice@example.edu",
      "--name",
      "Alice Example",
      "--phone",
      "+886912345678",
    ]);
    assert.equal(alice["username"], "alice");
    assert.equal(alice["hasPassword"], false);
    assert.match(String(alice["createdAt"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const bob = await box.run(["user", "add", "bob", "--password-stdin"], { input: "correct horse\n" });
    assert.equal(bob.code, 0, bob.stderr);
    assert.match(bob.stdout, /created user bob/);

    const again = await box.run(["user", "add", "ALICE"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: user ALICE already exists/);
  });

  test("user import: a good file is imported with progress; a file with bad lines imports nothing", async () => {
    const good = join(box.dir, "good.csv");
    // Columns are found by header name, in any order.
    writeFileSync(
      good,
      'email,username,name,phone\ncarol@example.edu,carol,Carol,\n,dave,,+886900000001\n"e@example.edu",erin,"Erin, E.",\n',
    );
    const ok = await box.run(["user", "import", good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /imported 3 users/);
    assert.match(ok.stderr, /importing users: 0%/);
    assert.match(ok.stderr, /importing users: 100%/);

    const bad = join(box.dir, "bad.csv");
    writeFileSync(
      bad,
      "username,email,name,phone\nfrank,frank@example.edu,Frank,\ngrace,not-an-email,Grace,\nheidi,,Heidi,\nivan,,Ivan,0912\n",
    );
    const refused = await box.run(["user", "import", bad]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /nothing was imported/);
    assert.match(refused.stderr, /^ {2}line 3: email: /m);
    assert.match(refused.stderr, /^ {2}line 5: phone: /m);
    assert.doesNotMatch(refused.stderr, /line [24]:/);
  });

  test("user alias, disable, list and show", async () => {
    assert.equal((await box.run(["user", "alias", "carol", "carol.c@example.edu"])).code, 0);
    assert.equal((await box.run(["user", "disable", "erin"])).code, 0);

    const { users, total } = await box.json<{ users: ListedUser[]; total: number }>(["user", "list"]);
    assert.deepEqual(
      users.map((u) => u.username),
      ["alice", "bob", "carol", "dave", "erin"],
      "nothing from the refused file",
    );
    assert.equal(total, 5);
    assert.equal(users.find((u) => u.username === "erin")?.status, "disabled");
    assert.equal(users.find((u) => u.username === "erin")?.realName, "Erin, E.");
    assert.ok(users.every((u) => !("passwordHash" in u)));

    const table = await box.run(["user", "list", "--search", "example.edu", "--limit", "2"]);
    assert.equal(table.code, 0);
    const lines = table.stdout.trim().split("\n");
    assert.match(lines[0]!, /^USERNAME\s+STATUS\s+NAME\s+EMAIL/);
    assert.equal(lines.length, 3);
    assert.match(table.stderr, /showing 2 of 3/);

    const shown = await box.run(["user", "show", "carol.c@example.edu"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^carol \(DU[A-Z0-9]{18}\)/);
    assert.match(shown.stdout, /aliases:\s+carol\.c@example\.edu/);
    assert.match(shown.stdout, /unused rescue codes: 0/);

    const json = await box.json<{ user: ListedUser; aliases: string[]; lockouts: unknown[] }>([
      "user",
      "show",
      "carol",
    ]);
    assert.equal(json.user.username, "carol");
    assert.deepEqual(json.aliases, ["carol.c@example.edu"]);
    assert.deepEqual(json.lockouts, []);

    const missing = await box.run(["user", "show", "nobody", "--json"]);
    assert.equal(missing.code, 1);
    assert.equal(JSON.parse(missing.stdout).error.code, "ERR_USER_NOT_FOUND");
  });
});

describe("twofold user show: why and until when a user is locked (A6)", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox(["policy:", "  lockout:", "    maxFailures: 2", "    delayAfter: 2"].join("\n"));
  });
  after(() => box.cleanup());

  test("after two wrong passcodes the passcode class is locked for an hour; the service desk sees it, unlock clears it", async () => {
    await box.json(["user", "add", "frank"]);
    await box.json(["app", "create", "--name", "VPN", "--type", "radius"]);
    for (let i = 0; i < 2; i++)
      assert.equal((await box.run(["passcode", "check", "frank", "000000"])).code, 1);
    const refused = await box.run(["passcode", "check", "frank", "000000", "--json"]);
    assert.equal(refused.code, 1);
    assert.equal(JSON.parse(refused.stdout).reason, "locked_out");
    assert.match(JSON.parse(refused.stdout).retryAt, /^\d{4}-\d\d-\d\dT/, "when to try again");
    const before = Date.now();
    const shown = await box.run(["user", "show", "frank"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      shown.stdout,
      /otp: locked after too many failed attempts until \d{4}-\d\d-\d\dT[\d:.]+Z \(2 consecutive failures/,
    );
    const json = await box.json<{ lockouts: Array<{ factorClass: string; state: string; retryAt: string }> }>(
      ["user", "show", "frank"],
    );
    assert.equal(json.lockouts.length, 1);
    assert.equal(json.lockouts[0]!.factorClass, "otp");
    assert.equal(json.lockouts[0]!.state, "locked");
    const until = Date.parse(json.lockouts[0]!.retryAt);
    assert.ok(until > before + 3_590_000 && until <= Date.now() + 3_600_000, json.lockouts[0]!.retryAt);
    await box.json(["user", "unlock", "frank"]);
    assert.deepEqual((await box.json<{ lockouts: unknown[] }>(["user", "show", "frank"])).lockouts, []);
  });

  test("app disable refuses the application's logins; app enable restores them", async () => {
    const app = await box.json<{ integrationKey: string }>([
      "app",
      "create",
      "--name",
      "Portal",
      "--type",
      "auth-api",
    ]);
    assert.deepEqual(await box.json(["app", "disable", app.integrationKey]), {
      integrationKey: app.integrationKey,
      status: "disabled",
    });
    const listed = await box.json<Array<{ id: string; status: string }>>(["app", "list"]);
    assert.equal(listed.find((a) => a.id === app.integrationKey)?.status, "disabled");
    await box.json(["user", "add", "gina"]);
    const push = await box.run([
      "push",
      "send",
      "gina",
      "--app",
      app.integrationKey,
      "--wait",
      "0",
      "--json",
    ]);
    assert.equal(push.code, 3, push.stderr);
    assert.deepEqual(JSON.parse(push.stdout), { started: false, reason: "application_disabled" });
    assert.deepEqual(await box.json(["app", "enable", app.integrationKey]), {
      integrationKey: app.integrationKey,
      status: "active",
    });
    assert.equal(
      (await box.json<Array<{ id: string; status: string }>>(["app", "list"])).find(
        (a) => a.id === app.integrationKey,
      )?.status,
      "active",
    );
  });
});
