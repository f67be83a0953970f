// `twofold app create/update`: the per-application setting that refuses requests signed without a date.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createSandbox, type Sandbox } from "./helpers.ts";

interface ListedApp {
  id: string;
  name: string;
  policy: { refuseUndatedSignatures?: boolean };
}

describe("twofold app: undated signatures", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox();
  });
  after(() => box.cleanup());

  const listed = async (id: string) =>
    (await box.json<ListedApp[]>(["app", "list", "--json"])).find((a) => a.id === id)!;

  test("accepted by default; --refuse-undated-signatures at create, and app update turns it on and off", async () => {
    const plain = await box.json<{ integrationKey: string }>([
      "app",
      "create",
      "--name",
      "Old",
      "--type",
      "unix",
    ]);
    assert.equal((await listed(plain.integrationKey)).policy.refuseUndatedSignatures, false);

    const strict = await box.json<{ integrationKey: string }>([
      "app",
      "create",
      "--name",
      "New",
      "--type",
      "unix",
      "--refuse-undated-signatures",
    ]);
    assert.equal((await listed(strict.integrationKey)).policy.refuseUndatedSignatures, true);

    const on = await box.run(["app", "update", plain.integrationKey, "--refuse-undated-signatures"]);
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /undated signatures: refused/);
    assert.equal((await listed(plain.integrationKey)).policy.refuseUndatedSignatures, true);

    const off = await box.run([
      "app",
      "update",
      plain.integrationKey,
      "--accept-undated-signatures",
      "--name",
      "Legacy",
    ]);
    assert.equal(off.code, 0, off.stderr);
    assert.match(off.stdout, /undated signatures: accepted/);
    const now = await listed(plain.integrationKey);
    assert.deepEqual([now.name, now.policy.refuseUndatedSignatures], ["Legacy", false]);
  });

  test("contradicting or missing flags are usage errors (exit 2)", async () => {
    const app = await box.json<{ integrationKey: string }>([
      "app",
      "create",
      "--name",
      "X",
      "--type",
      "unix",
    ]);
    for (const args of [
      ["app", "update", app.integrationKey, "--refuse-undated-signatures", "--accept-undated-signatures"],
      ["app", "update", app.integrationKey],
    ]) {
      const r = await box.run(args);
      assert.equal(r.code, 2, r.stderr);
    }
    const unknown = await box.run(["app", "update", "DIUNKNOWN00000000000", "--refuse-undated-signatures"]);
    assert.notEqual(unknown.code, 0);
  });
});
