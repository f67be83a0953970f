// The enrolment rule counts a user's security keys, on both databases: a user whose only factor is a key — or whose
// key was removed — is never a new user, even where the durable marker first_factor_at was never set (keys
// registered before the marker existed: migration 0015 ran before 0014's backfill on upgraded databases).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { randomHex } from "../../src/core/crypto/index.ts";
import type { WebAuthnCredential } from "../../src/core/model.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN } from "../support/factors.ts";
import { startPromptLogin } from "../support/prompt-login.ts";
import { dialects } from "../support/stores.ts";

const REDIRECT = "https://portal.example.edu/callback";
const ORIGIN = "https://twofold.example.edu";

for (const dialect of await dialects()) {
  describe(`prompt: a user with a key is not a new user (${dialect})`, () => {
    let t: TestContext;
    const apps: Record<"allow" | "enroll", { id: string; secret: string }> = {} as never;

    before(async () => {
      t = await createTestContext(dialect);
      for (const newUserPolicy of ["allow", "enroll"] as const) {
        const created = await t.services.createApplication(ADMIN, {
          name: `Portal (${newUserPolicy})`,
          type: "web-sdk",
          redirectURIs: [REDIRECT],
          policy: { newUserPolicy },
        });
        apps[newUserPolicy] = { id: created.application.id, secret: created.secretKey.reveal() };
      }
    });
    after(async () => {
      await t?.close();
    });

    async function start(policy: keyof typeof apps, username: string): Promise<string> {
      const client = { ...apps[policy], redirect: REDIRECT, audience: ORIGIN };
      return startPromptLogin(t.services, client, username, t.clock.now());
    }

    /** A key as a database upgraded from before first_factor_at holds it: the marker never set. */
    async function keyWithoutMarker(username: string, status: WebAuthnCredential["status"]): Promise<string> {
      const user = await t.services.createUser(ADMIN, { username });
      const id = `WK${randomHex(10)}`;
      await t.store.insertWebAuthnCredential({
        id,
        userId: user.id,
        credentialId: randomHex(16),
        publicKey: randomHex(32),
        userHandle: randomHex(16),
        signCount: 0,
        transports: ["usb"],
        aaguid: "00000000-0000-0000-0000-000000000000",
        attestationFormat: "none",
        backupEligible: false,
        backupState: false,
        deviceType: "singleDevice",
        discoverable: null,
        name: "YubiKey",
        status,
        createdAt: t.clock.now(),
        lastUsedAt: null,
      });
      assert.equal(await t.store.getFirstFactorAt(user.id), null);
      return user.id;
    }

    test("new-user allow does not let in a user whose factor is a key, nor enrolment offer them another", async () => {
      await keyWithoutMarker("kay", "active");
      await keyWithoutMarker("lee", "suspect");
      for (const username of ["kay", "lee"]) {
        const handle = await start("allow", username);
        assert.deepEqual(
          await t.services.allowPromptNewUser(handle, { ip: null }),
          { result: "none" },
          username,
        );
        assert.equal((await t.services.openPromptLogin(handle, { touch: false }))?.session.status, "pending");
        const enrolling = await start("enroll", username);
        assert.equal((await t.services.promptEnrollment(enrolling)).eligible, false, username);
        await assert.rejects(t.services.startPromptEnrollment(enrolling, { ip: null }), /may not enrol/);
      }
    });

    test("a name that names nobody only because it is contested, or an e-mail two users share, is not a new user", async () => {
      // Two enrolled users claim the key "sam" (found when usernames were reconciled): it names neither until settled.
      const sam1 = await t.services.createUser(ADMIN, { username: "sam.one" });
      const sam2 = await t.services.createUser(ADMIN, { username: "sam.two" });
      await t.store.replaceUsernameCollisions([
        { canonical: "sam", userIds: [sam1.id, sam2.id], detectedAt: t.clock.now() },
      ]);
      // Two users share an address: it names neither.
      await t.services.createUser(ADMIN, { username: "pat", email: "desk@example.edu" });
      await t.services.createUser(ADMIN, { username: "kim", email: "desk@example.edu" });
      for (const username of ["sam", "desk@example.edu", "DESK@example.edu"]) {
        const handle = await start("allow", username);
        assert.deepEqual(
          await t.services.allowPromptNewUser(handle, { ip: null }),
          { result: "none" },
          username,
        );
        assert.equal((await t.services.openPromptLogin(handle, { touch: false }))?.session.status, "pending");
      }
      // Preauth (Auth API) answers the same: denied, not allowed without a factor.
      const application = (await t.services.getApplication(apps.allow.id))!;
      for (const username of ["sam", "desk@example.edu"]) {
        const r = await t.services.preauthenticate({ user: undefined, username, application, ip: null });
        assert.deepEqual([r.result, "reason" in r ? r.reason : null], ["deny", "not_enrolled"], username);
      }
      const fresh = await t.services.preauthenticate({
        user: undefined,
        username: "nobody-at-all",
        application,
        ip: null,
      });
      assert.equal(fresh.result, "allow");
      // A name really nobody has is still let in (as preauth does).
      assert.deepEqual(
        await t.services.allowPromptNewUser(await start("allow", "nobody-yet"), { ip: null }),
        {
          result: "allow",
        },
      );
    });

    test("a name nobody had when the login looked, taken before its allow is written, is not let in", async () => {
      // The user appears between the caller's look and the gate's transaction (another node, an import).
      const original = t.store.transaction.bind(t.store);
      let injected = false;
      t.store.transaction = (async (work: Parameters<typeof original>[0]) => {
        if (!injected) {
          injected = true;
          await t.services.createUser(ADMIN, { username: "just-created" });
        }
        return original(work);
      }) as typeof t.store.transaction;
      try {
        const application = (await t.services.getApplication(apps.allow.id))!;
        const r = await t.services.preauthenticate({
          user: undefined,
          username: "just-created",
          application,
          ip: null,
        });
        assert.equal(injected, true);
        assert.deepEqual([r.result, "reason" in r ? r.reason : null], ["deny", "enrolled_user"]);
      } finally {
        t.store.transaction = original;
      }
    });
  });
}
