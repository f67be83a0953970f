// How printed commands are written: launcher, options, shell quoting.
import assert from "node:assert/strict";
import { test } from "node:test";
import { commandLineOf, formatCommand, shellWord } from "./command-line.ts";

test("a printed command keeps the launcher and the options that chose the database", () => {
  const viaNpm = commandLineOf({ npm_command: "run-script" }, undefined, true);
  assert.equal(formatCommand(viaNpm, "user list"), "npx twofold user list --demo");
  const installed = commandLineOf({}, "/etc/twofold/twofold.yaml", false);
  assert.equal(
    formatCommand(installed, "audit tail"),
    "twofold audit tail --config /etc/twofold/twofold.yaml",
  );
  // Demo mode from the environment: another terminal may not have the variable, so --demo is spelt out.
  assert.equal(
    formatCommand(commandLineOf({ TWOFOLD_MODE: "demo" }, undefined, false), "user list"),
    "twofold user list --demo",
  );
});

test("shell words: plain when safe, single-quoted otherwise", () => {
  assert.equal(shellWord("data/certs/server.pem"), "data/certs/server.pem");
  assert.equal(shellWord("My Config.yaml"), "'My Config.yaml'");
  assert.equal(shellWord("it's"), "'it'\\''s'");
  assert.equal(shellWord("$(rm -rf ~)"), "'$(rm -rf ~)'");
});
