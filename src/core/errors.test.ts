// docs/errors.md must list exactly the codes the code can raise.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ERROR_CODES, TwofoldError } from "./errors.ts";

test("docs/errors.md lists every error code and no other", () => {
  const documented = [...readFileSync("docs/errors.md", "utf8").matchAll(/^\| `(ERR_[A-Z0-9_]+)` \|/gm)].map(
    (m) => m[1],
  );
  assert.deepEqual([...documented].sort(), [...ERROR_CODES].sort());
});

test("the public message never carries the private detail", () => {
  const e = new TwofoldError("ERR_STORE_UNAVAILABLE", "connection to 10.0.0.5 refused", {
    detail: "password=x",
  });
  assert.equal(e.publicMessage, "The service is temporarily unavailable.");
  assert.ok(!e.publicMessage.includes("10.0.0.5"));
});
