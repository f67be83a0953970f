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

describe("twofold app: a Web SDK application's redirect URIs", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox();
  });
  after(() => box.cleanup());

  test("--redirect-uri at create (repeatable), replaced or removed by app update; http (not loopback) refused", async () => {
    const created = await box.json<{ integrationKey: string; redirectURIs: string[] }>([
      "app",
      "create",
      "--name",
      "Campus Portal",
      "--type",
      "web-sdk",
      "--redirect-uri",
      "https://portal.example.edu/duo-callback",
      "--redirect-uri",
      "http://localhost:3000/duo-callback",
    ]);
    assert.deepEqual(created.redirectURIs, [
      "https://portal.example.edu/duo-callback",
      "http://localhost:3000/duo-callback",
    ]);
    const listed = async () =>
      (await box.json<Array<{ id: string; redirectURIs?: string[] }>>(["app", "list", "--json"])).find(
        (a) => a.id === created.integrationKey,
      )!.redirectURIs;
    const replaced = await box.run([
      "app",
      "update",
      created.integrationKey,
      "--redirect-uri",
      "https://portal.example.edu/new",
    ]);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stdout, /redirect URI: https:\/\/portal\.example\.edu\/new/);
    assert.deepEqual(await listed(), ["https://portal.example.edu/new"]);
    const insecure = await box.run([
      "app",
      "update",
      created.integrationKey,
      "--redirect-uri",
      "http://portal.example.edu/duo",
    ]);
    assert.notEqual(insecure.code, 0);
    assert.match(insecure.stderr, /must be https/);
    const cleared = await box.run(["app", "update", created.integrationKey, "--no-redirect-uris"]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.equal(await listed(), undefined);
    const notWeb = await box.run([
      "app",
      "create",
      "--name",
      "VPN",
      "--type",
      "radius",
      "--redirect-uri",
      "https://x/",
    ]);
    assert.notEqual(notWeb.code, 0);
    assert.match(notWeb.stderr, /only Web SDK applications/);
  });
});
