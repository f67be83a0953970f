// `twofold key list|rename|remove`: the service desk sees a user's security keys and passkeys, renames one, removes a lost or suspect one.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { openStore } from "../../src/store/open-store.ts";
import { createSandbox, type Sandbox } from "./helpers.ts";

describe("twofold key", () => {
  let box: Sandbox;
  before(async () => {
    box = createSandbox();
    assert.equal((await box.run(["user", "add", "alice"])).code, 0);
    assert.equal((await box.run(["user", "add", "bob"])).code, 0);
    // A key as a registration in the browser would have stored it (registration needs a browser: test/browser).
    const { store } = await openStore({ sqlitePath: box.sqlitePath, backgroundCheckpoints: false });
    try {
      const alice = await store.findUserByIdentifier("alice");
      await store.insertWebAuthnCredential({
        id: "WKTESTKEY000000000001",
        userId: alice!.id,
        credentialId: "Y3JlZGVudGlhbC1pZA",
        publicKey: "pQECAyYgASFYIA",
        userHandle: "aGFuZGxl",
        signCount: 3,
        transports: ["hybrid", "internal"],
        aaguid: "00000000-0000-0000-0000-000000000000",
        attestationFormat: "none",
        backupEligible: true,
        backupState: true,
        deviceType: "multiDevice",
        discoverable: true,
        name: "Phone",
        status: "suspect",
        createdAt: Date.UTC(2026, 0, 2),
        lastUsedAt: null,
      });
    } finally {
      await store.close();
    }
  });
  after(() => box.cleanup());

  test("key list shows the user's keys with transports, kind and status; another user has none", async () => {
    const listed = await box.run(["key", "list", "alice"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      /^WKTESTKEY000000000001 {2}suspect {2}Phone {2}\(hybrid, internal; passkey; added 2026-01-02T00:00:00\.000Z; last used never\)$/m,
    );
    const json = await box.json<{ keys: { id: string; status: string }[] }>(["key", "list", "alice"]);
    assert.deepEqual(
      json.keys.map((k) => [k.id, k.status]),
      [["WKTESTKEY000000000001", "suspect"]],
    );
    assert.ok(!JSON.stringify(json).includes("pQECAyYgASFYIA"), "no key material is shown");
    assert.match((await box.run(["key", "list", "bob"])).stdout, /bob has no security keys or passkeys/);
  });

  test("key rename and key remove act on the owner's key only, and are audited", async () => {
    const wrong = await box.run(["key", "remove", "bob", "WKTESTKEY000000000001"]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /no such key for this user/);
    assert.equal((await box.run(["key", "rename", "alice", "WKTESTKEY000000000001", "Old phone"])).code, 0);
    assert.match((await box.run(["key", "list", "alice"])).stdout, /Old phone/);
    const removed = await box.run(["key", "remove", "alice", "WKTESTKEY000000000001"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^removed WKTESTKEY000000000001$/m);
    assert.match((await box.run(["key", "list", "alice"])).stdout, /alice has no security keys or passkeys/);
    const audit = await box.run(["audit", "tail", "--json"]);
    assert.match(audit.stdout, /webauthn\.rename/);
    assert.match(audit.stdout, /factor\.remove/);
  });
});
