// `twofold user …` and `db migrate` with identity.stripDomains: one canonical name from the command line, and a domain added later reported as collisions, never merged.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSandbox, type Sandbox } from "./helpers.ts";

interface Shown {
  user: { id: string; username: string; usernameCanonical: string };
  aliases: string[];
}

interface Collisions {
  collisions: Array<{ name: string; users: Array<{ id: string; username: string; authenticators: number }> }>;
}

describe("twofold user with identity.stripDomains", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox("identity:\n  stripDomains: [corp]");
  });
  after(() => box.cleanup());

  test("user add, alias, import and show all use the one canonical name", async () => {
    const bob = await box.json<{ id: string; usernameCanonical: string }>(["user", "add", "Bob@CORP"]);
    assert.equal(bob.usernameCanonical, "bob");
    for (const name of ["bob", "ｂｏｂ@corp", " BOB "])
      assert.equal((await box.json<Shown>(["user", "show", name])).user.id, bob.id, `user show ${name}`);
    const twin = await box.run(["user", "add", "bob"]);
    assert.equal(twin.code, 1);
    assert.match(twin.stderr, /already exists/);

    // Commands that take USER find the same user under any spelling.
    const rescue = await box.run(["rescue", "generate", "ＢＯＢ@corp"]);
    assert.equal(rescue.code, 0, rescue.stderr);
    assert.equal((await box.json<{ unused: number }>(["rescue", "status", "bob"])).unused, 10);

    assert.equal((await box.run(["user", "alias", "bob", "R.Smith@corp"])).code, 0);
    assert.equal((await box.json<Shown>(["user", "show", "r.smith"])).user.id, bob.id);
    assert.equal(
      (await box.run(["user", "add", "R.SMITH"])).code,
      1,
      "an alias in another spelling is taken",
    );

    const file = join(box.dir, "users.csv");
    writeFileSync(file, "username\ncarol@corp\nCAROL\n");
    const dup = await box.run(["user", "import", file]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /line 3: duplicate of line 2/);
    writeFileSync(file, "username\ncarol@corp\n");
    assert.equal((await box.run(["user", "import", file])).code, 0);
    assert.equal((await box.json<Shown>(["user", "show", "Carol"])).user.usernameCanonical, "carol");
  });
});

describe("adding a domain to identity.stripDomains later", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox();
  });
  after(() => box.cleanup());

  test("db migrate reports the collision, merges nothing; renaming one user by id settles it", async () => {
    const real = await box.json<{ id: string }>(["user", "add", "dan@corp"]);
    const twin = await box.json<{ id: string }>(["user", "add", "dan"]);
    await box.json(["user", "add", "erin@corp"]);
    writeFileSync(
      box.configFile,
      `${readFileSync(box.configFile, "utf8")}\nidentity:\n  stripDomains: [corp]\n`,
    );

    const migrated = await box.run(["db", "migrate"]);
    assert.equal(migrated.code, 0, migrated.stderr);
    console.log(migrated.stdout);
    assert.match(migrated.stdout, /usernames: 3 checked, 1 re-keyed/);
    assert.match(
      migrated.stdout,
      /COLLISION: "dan" is claimed by 2 users and names none of them; nothing was merged/,
    );
    assert.match(migrated.stdout, new RegExp(`${real.id}\\s+dan@corp`));
    assert.match(migrated.stdout, new RegExp(`${twin.id}\\s+dan\\s`));

    const listed = await box.json<Collisions>(["user", "collisions"]);
    assert.deepEqual(
      listed.collisions.map((c) => [c.name, c.users.map((u) => u.username).sort()]),
      [["dan", ["dan", "dan@corp"]]],
    );
    const ambiguous = await box.run(["user", "show", "dan@corp"]);
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.stderr, /names more than one user/);
    assert.match(ambiguous.stderr, new RegExp(real.id));
    assert.equal(
      (await box.json<Shown>(["user", "show", real.id])).user.usernameCanonical,
      "dan@corp",
      "unmerged",
    );
    assert.equal((await box.json<Shown>(["user", "show", "erin"])).user.usernameCanonical, "erin");

    assert.equal((await box.run(["user", "rename", twin.id, "dan.impostor"])).code, 0);
    assert.deepEqual((await box.json<Collisions>(["user", "collisions"])).collisions, []);
    assert.equal((await box.json<Shown>(["user", "show", "dan"])).user.id, real.id);
  });
});
