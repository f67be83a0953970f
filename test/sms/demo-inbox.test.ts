// The demo inbox behind the SMS and mail ports: only in demo mode with `serve`, bounded, recipients masked; the demo users' phones verified through it, and a texted passcode that logs in.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { DemoInboxMailTransport } from "../../src/adapters/mail/demo-inbox-mail.ts";
import { DemoInbox, DemoInboxSMSGateway, maskAddress } from "../../src/adapters/sms/demo-inbox.ts";
import { loadConfig } from "../../src/config/load.ts";
import { randomBytes } from "../../src/core/crypto/index.ts";
import { DEMO_PHONES, ensureDemoOrganization } from "../../src/runtime/demo.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { createRuntime, type Runtime } from "../../src/runtime/runtime.ts";
import { TestClock } from "../support/clock.ts";
import { createTestDatabase, dialects, PG_URL, type TestDatabase } from "../support/stores.ts";

test("the inbox keeps the last 100 messages, newest first, each recipient masked", async () => {
  const clock = new TestClock();
  const inbox = new DemoInbox(clock);
  const sms = new DemoInboxSMSGateway(inbox);
  const mail = new DemoInboxMailTransport(inbox);
  const signal = AbortSignal.timeout(1000);
  for (let i = 0; i < 104; i++) {
    clock.advance(1000);
    await sms.send({ to: "+61491570156", text: `message ${i}`, reference: `OM-${i}` }, signal);
  }
  const sent = await mail.send(
    { to: "alice@demo.twofold.test", subject: "Hello", text: "body", reference: "OM-mail" },
    signal,
  );
  assert.equal(sent.gatewayMessageId, "OM-mail");
  const list = inbox.list();
  assert.equal(list.length, 100);
  assert.equal(inbox.version, 105);
  assert.deepEqual(
    list.slice(0, 3).map((e) => [e.channel, e.to, e.subject, e.text]),
    [
      ["email", "a****@demo.twofold.test", "Hello", "body"],
      ["sms", "+*******0156", null, "message 103"],
      ["sms", "+*******0156", null, "message 102"],
    ],
  );
  assert.equal(list.at(-1)?.text, "message 5");
  assert.equal(maskAddress("x@y.test"), "x*@y.test");
});

for (const dialect of await dialects()) {
  describe(`the demo inbox in a runtime (${dialect})`, () => {
    const open: Array<{ runtime: Runtime; db: TestDatabase }> = [];

    async function start(mode: "demo" | "production", overrides: Record<string, unknown> = {}) {
      const db = await createTestDatabase(dialect);
      const config = loadConfig({
        env: {},
        overrides: {
          mode,
          "node.name": "test-node",
          "keys.encryption": [{ id: "t1", key: Buffer.from(randomBytes(32)).toString("base64") }],
          ...(dialect === "sqlite" ? { "database.sqlitePath": db.location } : { "database.url": PG_URL }),
          ...overrides,
        },
      });
      const runtime = await createRuntime(config, {
        clock: new TestClock(Date.now()),
        logger: createLogger({ level: "silent", node: "test-node" }),
        ...(db.schema ? { schema: db.schema } : {}),
        demoInbox: true,
      });
      open.push({ runtime, db });
      return runtime;
    }

    after(async () => {
      for (const { runtime, db } of open) {
        await runtime.close();
        await db.drop();
      }
    });

    test("never in production mode: no inbox, no messaging, whatever the runtime is asked", async () => {
      const runtime = await start("production");
      assert.equal(runtime.demoInbox, undefined);
      assert.equal(runtime.messagingEnabled, false);
      assert.equal(runtime.config.organization.country, "");
    });

    test("serve --demo: alice and bob get verified phones through the inbox, and a texted passcode logs in once", async () => {
      const runtime = await start("demo");
      const inbox = runtime.demoInbox!;
      assert.ok(inbox);
      assert.equal(runtime.config.organization.country, "AU");
      const info = await ensureDemoOrganization(runtime);
      for (const u of info.users)
        assert.ok(
          u.factors.some((f) => f.startsWith("text message to +*******015")),
          `${u.username}: ${u.factors.join("; ")}`,
        );
      // The verification texts went to the inbox, bob's in Chinese; the numbers never in clear.
      const texts = inbox.list().filter((e) => e.channel === "sms");
      assert.deepEqual(texts.map((e) => e.to).sort(), ["+*******0156", "+*******0157"]);
      assert.match(texts.find((e) => e.to.endsWith("0157"))!.text, /手機驗證碼：\d{6}/);
      for (const e of inbox.list())
        assert.ok(!Object.values(DEMO_PHONES).some((n) => e.to.includes(n.slice(3))));
      // Seeded once: a second start adds nothing.
      const version = inbox.version;
      await ensureDemoOrganization(runtime);
      assert.equal(inbox.version, version);

      const { services } = runtime;
      const alice = (await services.findUser("alice"))!;
      const sent = await services.sendLoginPasscode({ user: alice, application: null, ip: "192.0.2.1" });
      assert.ok(sent.sent);
      assert.equal(sent.maskedNumber, "+*******0156");
      const code = /passcode: (\d{6})\./.exec(inbox.list()[0]!.text)![1]!;
      assert.equal((await services.verifyPasscode({ username: "alice", passcode: code })).result, "allow");
      assert.equal((await services.verifyPasscode({ username: "alice", passcode: code })).result, "deny");
      // The demo's e-mails (a sign-in method added) go to the inbox through the outbox.
      await services.runOutbox();
      const mail = inbox.list().find((e) => e.channel === "email");
      assert.ok(mail, "an e-mail reached the inbox");
      assert.match(mail.to, /^[ab]\*+@demo\.twofold\.test$/);
    });

    test("a configured gateway wins over the inbox, even in the demo", async () => {
      const runtime = await start("demo", {
        "sms.gateways": [{ type: "http", name: "provider", url: "http://127.0.0.1:9/send" }],
      });
      assert.deepEqual(
        runtime.smsGatewayStatus().map((g) => g.name),
        ["provider"],
      );
    });
  });
}
