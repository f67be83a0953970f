// The CLI's help, usage errors and exit codes, and `config validate` on good and bad configurations.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSandbox, type Sandbox } from "./helpers.ts";

describe("twofold CLI: help and usage errors", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox();
  });
  after(() => box.cleanup());

  test("help lists every command group and exits 0 at each level", async () => {
    const main = await box.run(["--help"]);
    assert.equal(main.code, 0);
    for (const c of ["serve", "config validate", "db migrate", "user add", "user import", "totp enroll"])
      assert.match(main.stdout, new RegExp(`\\b${c}\\b`));
    for (const c of [
      "token import",
      "bypass issue",
      "rescue generate",
      "app create",
      "audit tail",
      "auth log",
    ])
      assert.match(main.stdout, new RegExp(`\\b${c}\\b`));
    assert.match(main.stdout, /--config FILE/);

    const group = await box.run(["help", "user"]);
    assert.equal(group.code, 0);
    assert.match(group.stdout, /user import FILE\.csv/);
    assert.doesNotMatch(group.stdout, /bypass issue/);

    const command = await box.run(["bypass", "issue", "-h"]);
    assert.equal(command.code, 0);
    assert.match(command.stdout, /Usage: twofold bypass issue USER/);
    assert.match(command.stdout, /--valid DURATION/);
    assert.match(command.stdout, /--json/);

    const version = await box.run(["--version"]);
    assert.equal(version.code, 0);
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8"));
    assert.equal(version.stdout.trim(), pkg.version);
  });

  test("usage errors exit 2 with a hint and no stack trace", async () => {
    const cases: [string[], RegExp][] = [
      [[], /no command given/],
      [["frobnicate"], /unknown command `frobnicate`/],
      [["usr", "list"], /did you mean `twofold user`/],
      [["user"], /needs a command/],
      [["user", "add"], /missing USERNAME/],
      [["user", "list", "--bogus"], /Unknown option '--bogus'/],
      [["bypass", "issue", "bob", "--valid", "soon"], /--valid must be a duration/],
      [["user", "delete", "bob"], /cannot be undone/],
    ];
    for (const [args, message] of cases) {
      const r = await box.run(args);
      assert.equal(r.code, 2, `twofold ${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^hint: /m);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
  });
});

// The tests above run commands through `main` in this process; these start `node bin/twofold.js` to check that
// the installed command prints and exits the same way.
describe("bin/twofold.js as its own process", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox();
  });
  after(() => box.cleanup());

  test("--version prints the package version and exits 0", () => {
    const r = box.runProcess(["--version"]);
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8"));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });

  test("a usage error sets exit code 2 and prints what the same run in process prints", async () => {
    const args = ["user", "add"];
    const spawned = box.runProcess(args);
    assert.equal(spawned.code, 2);
    assert.match(spawned.stderr, /^error: missing USERNAME\nhint: usage: twofold user add USERNAME/);
    assert.deepEqual(await box.run(args), spawned);
  });

  test("a failed operation sets exit code 1, with its message on stderr", async () => {
    const args = ["user", "show", "nobody"];
    const spawned = box.runProcess(args);
    assert.equal(spawned.code, 1, spawned.stderr);
    assert.match(spawned.stderr, /^error: .*nobody/);
    assert.deepEqual(await box.run(args), spawned);
  });
});

describe("twofold config validate and db migrate", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox();
  });
  after(() => box.cleanup());

  test("a good configuration is valid; --json shows it with key material redacted", async () => {
    const r = await box.run(["config", "validate"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /configuration is valid/);

    const key = /key: (\S+)\}/.exec(readFileSync(box.configFile, "utf8"))![1]!;
    const shown = await box.run(["config", "validate", box.configFile, "--json"]);
    assert.equal(shown.code, 0);
    const config = JSON.parse(shown.stdout);
    assert.deepEqual(config.keys.encryption, [{ id: "k1", key: "[redacted]" }]);
    assert.equal(config.database.sqlitePath, box.sqlitePath);
    assert.equal(config.policy.totp.period, 30);
    assert.ok(!shown.stdout.includes(key));
  });

  test("db migrate applies the migrations once and reports the schema version", async () => {
    const first = await box.json<{ applied: string[]; schemaVersion: string }>(["db", "migrate"]);
    assert.ok(first.applied.length > 0);
    assert.equal(first.schemaVersion, first.applied.at(-1));
    const again = await box.run(["db", "migrate"]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /the database is up to date\nschema version: \S+ \(sqlite\)/);
  });

  test("a bad configuration lists every problem with its path and exits 1", async () => {
    const bad = join(box.dir, "bad.yaml");
    writeFileSync(
      bad,
      "server:\n  port: 99999\npolicy:\n  totp:\n    period: 5\nkeys:\n  encryption: [{id: k1, key: c2hvcnQ=}]\nbogus: 1\n",
    );
    const r = await box.run(["config", "validate", bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: configuration is invalid/);
    for (const path of ["server.port", "policy.totp.period", "keys.encryption.0.key", "bogus"])
      assert.match(r.stderr, new RegExp(`^  ${path.replaceAll(".", "\\.")}: `, "m"), path);
    assert.doesNotMatch(r.stderr, /\n\s+at /);

    const json = await box.run(["config", "validate", bad, "--json"]);
    assert.equal(json.code, 1);
    const { error } = JSON.parse(json.stdout);
    assert.equal(error.code, "ERR_CONFIG_INVALID");
    assert.deepEqual(error.issues.map((i: { path: string }) => i.path).sort(), [
      "bogus",
      "keys.encryption.0.key",
      "policy.totp.period",
      "server.port",
    ]);
  });
});
