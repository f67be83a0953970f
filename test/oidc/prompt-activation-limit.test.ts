// Activation codes shown in the prompt ("Show a new code" while enrolling, the app as a backup) are bounded per login,
// on both databases: each is a stored activation and an audit record, so a script re-posting one login's form cannot
// pile them up without end. A person asking for a new code now and then never meets the limit.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN } from "../support/factors.ts";
import { startPromptLogin } from "../support/prompt-login.ts";
import { dialects } from "../support/stores.ts";

const REDIRECT = "https://portal.example.edu/callback";
const ORIGIN = "https://twofold.example.edu";

for (const dialect of await dialects()) {
  describe(`prompt: activation codes per login (${dialect})`, () => {
    let t: TestContext;
    let client: { id: string; secret: string };

    before(async () => {
      t = await createTestContext(dialect);
      const created = await t.services.createApplication(ADMIN, {
        name: "Portal",
        type: "web-sdk",
        redirectURIs: [REDIRECT],
        policy: { newUserPolicy: "enroll" },
      });
      client = { id: created.application.id, secret: created.secretKey.reveal() };
    });
    after(async () => {
      await t?.close();
    });

    async function start(username: string): Promise<string> {
      return startPromptLogin(
        t.services,
        { ...client, redirect: REDIRECT, audience: ORIGIN },
        username,
        t.clock.now(),
      );
    }

    test("ten codes per login in the throttle window; the eleventh is refused; other logins and later are not", async () => {
      await t.services.createUser(ADMIN, { username: "nia" });
      await t.services.createUser(ADMIN, { username: "ola" });
      const handle = await start("nia");
      const audits = async () =>
        (await t.services.listAudit({ limit: 1000 })).filter((e) => e.action === "device.activation.create")
          .length;
      const before = await audits();
      for (let i = 0; i < 10; i++) await t.services.startPromptEnrollment(handle, { ip: "192.0.2.9" });
      for (let i = 0; i < 5; i++)
        await assert.rejects(
          t.services.startPromptEnrollment(handle, { ip: "192.0.2.9" }),
          (e: Error & { code?: string }) => e.code === "ERR_RATE_LIMITED",
        );
      assert.equal((await audits()) - before, 10);
      // Another user's login is not held to nia's count.
      await t.services.startPromptEnrollment(await start("ola"), { ip: "192.0.2.9" });
      // The window passes (the page kept open): new codes again.
      for (let i = 0; i < 4; i++) {
        t.clock.advance(9 * 60_000);
        assert.equal((await t.services.openPromptLogin(handle))?.expired, false);
      }
      await t.services.startPromptEnrollment(handle, { ip: "192.0.2.9" });
    });
  });
}
