// The outbox under faults: a gateway down tells the user at once and is retried, a second gateway takes over, late passcodes are not sent, and two nodes (one killed mid-send) never send a message twice; an SMPP session that goes deaf, falls silent or never binds is replaced.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { after, describe, type TestContext, test } from "node:test";
import { SMPPSMSSender } from "../../src/adapters/sms/smpp-gateway.ts";
import type { Deps } from "../../src/core/deps.ts";
import { enqueueMessage } from "../../src/core/use-cases/outbox.ts";
import { ADMIN, createTestRuntime, enrollTOTPUser, type HTTPTestContext } from "../http/support.ts";
import { codeIn, TestHTTPProvider, TestSMSC } from "../support/smsc.ts";
import { dialects } from "../support/stores.ts";

const SMPP = (smsc: TestSMSC) => ({
  type: "smpp",
  name: "smsc",
  url: smsc.url,
  systemId: "twofold",
  password: "secret",
  reconnectMaxSeconds: 1,
  submitTimeoutMs: 1000,
});

/** Wait for `check` to hold, polling; fails after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Stop the SMSC and wait until the node has seen its session drop (as a node would before its next send). */
async function stopSMSC(t: HTTPTestContext, smsc: TestSMSC): Promise<void> {
  const seen = t.logs.filter((l) => l.includes("SMPP session closed")).length;
  await smsc.stop();
  await eventually(
    () => t.logs.filter((l) => l.includes("SMPP session closed")).length > seen,
    20_000,
    "the node sees the SMSC go",
  );
}

/** alice with an authenticator app and a verified phone; returns her phone id. */
async function userWithPhone(t: HTTPTestContext, smsc: TestSMSC): Promise<string> {
  await enrollTOTPUser(t, "alice");
  const before = smsc.submitted.length;
  const { phone } = await t.runtime.services.addSMSPhone(ADMIN, { user: "alice", number: "+85291234567" });
  const [verify] = (await smsc.waitForSubmits(before + 1)).slice(before);
  await t.runtime.services.confirmPhoneVerification(ADMIN, { phoneId: phone.id, code: codeIn(verify!.text) });
  return phone.id;
}

async function textAlice(t: HTTPTestContext) {
  const app = (await t.runtime.services.listApplications())[0]!;
  const user = await t.runtime.services.findUser("alice");
  t.clock.advance(31_000); // past the "send again" wait
  const started = Date.now();
  const r = await t.runtime.services.requestLoginSMS({
    user,
    username: "alice",
    application: app,
    ip: "192.0.2.1",
    device: "auto",
  });
  assert.equal(r.noCapableDevice, false);
  return { ...(r as Extract<typeof r, { noCapableDevice: false }>), elapsed: Date.now() - started };
}

async function latestMessage(t: HTTPTestContext) {
  const counts = await t.runtime.services.countMessages(0);
  assert.ok(counts.length > 0);
  const store = t.runtime.store;
  const ids = await store.listDueOutboxMessages(Number.MAX_SAFE_INTEGER, 100);
  return { counts, ids };
}

describe("the SMPP session under faults", () => {
  /** A gateway on its own (no database): keep-alive every 300 ms, answers and binds within 500 ms, retries within 1 s. */
  async function gateway(t: TestContext, smsc: TestSMSC, options: { bindTimeoutMs?: number } = {}) {
    const logs: string[] = [];
    const gw = new SMPPSMSSender({
      name: "smsc",
      url: smsc.url,
      systemId: "twofold",
      password: "secret",
      systemType: "",
      sender: "Twofold",
      sourceAddrTon: 5,
      sourceAddrNpi: 0,
      enquireLinkMs: 300,
      submitTimeoutMs: 500,
      bindTimeoutMs: options.bindTimeoutMs ?? 500,
      reconnectMaxMs: 1000,
      deliveryReceipts: false,
      log: { info: (_f, m) => logs.push(m), warn: (_f, m) => logs.push(m) },
    });
    t.after(async () => {
      await gw.close();
      await smsc.stop();
    });
    return { gw, logs };
  }
  const text = { to: "+85291234567", text: "passcode: 123456." } as never;
  const send = (gw: SMPPSMSSender) => gw.send(text, new AbortController().signal);

  test("a PDU the SMSC garbles: the gateway drops the deaf session, binds again and sends the next text", async (t) => {
    const smsc = new TestSMSC();
    await smsc.start();
    const { gw } = await gateway(t, smsc);
    await eventually(() => gw.up, 5000, "the gateway binds");
    assert.deepEqual(await send(gw), { gatewayMessageId: "M1" });
    smsc.sendMalformedPDU();
    await eventually(() => smsc.binds.length >= 2, 5000, "the gateway binds again");
    assert.deepEqual(await send(gw), { gatewayMessageId: "M2" });
    assert.equal(smsc.submitted.length, 2);
  });

  test("an SMSC that falls silent (enquire_link unanswered): the gateway reports it down and binds afresh", async (t) => {
    const smsc = new TestSMSC();
    await smsc.start();
    const { gw, logs } = await gateway(t, smsc);
    await eventually(() => gw.up, 5000, "the gateway binds");
    smsc.silence();
    // Two keep-alive periods without a word, checked every period: down within about a second (3 s for a busy machine).
    await eventually(() => !gw.up, 3000, "the gateway reports the link down");
    assert.ok(logs.includes("SMPP link silent; dropping"), logs.join("\n"));
    await eventually(() => smsc.binds.length >= 2 && gw.up, 5000, "the gateway binds a new session");
    assert.deepEqual(await send(gw), { gatewayMessageId: "M1" });
  });

  test("an SMSC that answers its keep-alives but not its texts: three unanswered in a row, and the gateway binds afresh", async (t) => {
    const smsc = new TestSMSC();
    await smsc.start();
    const { gw, logs } = await gateway(t, smsc);
    await eventually(() => gw.up, 5000, "the gateway binds");
    const unanswered = () => assert.rejects(send(gw), /no submit_sm_resp within 500 ms/);
    // Two unanswered, then one answered: the count starts again.
    smsc.holdAnswers = true;
    await unanswered();
    await unanswered();
    smsc.holdAnswers = false;
    assert.equal(typeof (await send(gw)).gatewayMessageId, "string");
    smsc.holdAnswers = true;
    await unanswered();
    await unanswered();
    assert.ok(gw.up, "two unanswered since the last answer: the same session");
    assert.equal(smsc.binds.length, 1);
    // The third in a row: the session is dropped (the outbox meanwhile tries the next gateway) and bound again.
    await unanswered();
    assert.ok(logs.includes("SMPP submits unanswered; dropping"), logs.join("\n"));
    smsc.holdAnswers = false;
    await eventually(() => smsc.binds.length >= 2 && gw.up, 5000, "the gateway binds a new session");
    assert.equal(typeof (await send(gw)).gatewayMessageId, "string");
    assert.equal(smsc.submitted.length, 2);
  });

  test("an SMSC slower to bind than a submit's answer may take is still bound: the bind has its own deadline", async (t) => {
    const smsc = new TestSMSC();
    smsc.bindDelayMs = 800;
    await smsc.start();
    const { gw } = await gateway(t, smsc, { bindTimeoutMs: 3000 });
    await eventually(() => gw.up, 5000, "the gateway binds");
    assert.equal(smsc.bindRequests, 1, "bound at the first attempt");
    assert.deepEqual(await send(gw), { gatewayMessageId: "M1" });
  });

  test("an SMSC that takes the connection but never answers the bind: the gateway tries again until it binds", async (t) => {
    const smsc = new TestSMSC();
    smsc.answerBinds = false;
    await smsc.start();
    const { gw } = await gateway(t, smsc);
    await eventually(() => smsc.bindRequests >= 2, 5000, "the gateway tries a second bind");
    assert.equal(gw.up, false);
    await assert.rejects(send(gw), { message: "the SMPP session is not bound", definite: true });
    smsc.answerBinds = true;
    await eventually(() => gw.up, 5000, "the gateway binds once the SMSC answers");
    assert.deepEqual(await send(gw), { gatewayMessageId: "M1" });
  });
});

for (const dialect of await dialects()) {
  describe(`the outbox under faults (${dialect})`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    });

    async function setup(gateways: (smsc: TestSMSC, providerURL: string) => unknown[]) {
      const smsc = new TestSMSC();
      await smsc.start();
      const provider = new TestHTTPProvider();
      const providerURL = await provider.start();
      const t = await createTestRuntime({
        dialect,
        overrides: {
          "organization.country": "HK",
          "sms.gateways": gateways(smsc, providerURL),
          "sms.sendDeadlineMs": 1500,
          "sms.outbox.retryBaseSeconds": 1,
          "sms.outbox.leaseSeconds": 5,
        },
      });
      await t.runtime.services.createApplication(ADMIN, { name: "VPN", type: "auth-api" });
      cleanups.push(
        () => t.close(),
        () => smsc.stop(),
        () => provider.stop(),
      );
      const phoneId = await userWithPhone(t, smsc);
      // The verification text went out: the tests count from here.
      smsc.submitted.length = 0;
      return { t, smsc, provider, phoneId };
    }

    test("gateway down: the user is told at once; the outbox retries and sends when it is back, once", async () => {
      const { t, smsc } = await setup((smsc) => [SMPP(smsc)]);
      await stopSMSC(t, smsc);
      assert.deepEqual(t.runtime.smsGatewayStatus(), [{ name: "smsc", up: false }], "readiness reports it");
      const down = await textAlice(t);
      assert.equal(down.outcome.status, "deny");
      assert.equal(down.outcome.message, "We couldn't send a text just now.");
      // The gateway fails at once (not bound): the answer waits for no timeout, only for the database.
      assert.ok(down.elapsed < 5000, `answered in ${down.elapsed} ms`);
      const waiting = await latestMessage(t);
      assert.ok(waiting.counts.some((c) => c.status === "pending"));
      // Not due yet: nothing happens before its back-off.
      assert.equal((await t.runtime.services.runOutbox()).attempted, 0);
      await smsc.start();
      await eventually(() => smsc.binds.length >= 2, 20_000, "the gateway binds again");
      t.clock.advance(2000);
      const run = await t.runtime.services.runOutbox();
      assert.deepEqual([run.attempted, run.sent], [1, 1]);
      const [late] = await smsc.waitForSubmits(1);
      assert.equal(late!.to, "85291234567");
      // The code it carries still logs in (it is within its 5 minutes).
      const app = (await t.runtime.services.listApplications())[0]!;
      const login = await t.runtime.services.verifyPasscode({
        username: "alice",
        passcode: codeIn(late!.text),
        application: app,
      });
      assert.equal(login.result, "allow");
      assert.equal(login.factor, "sms");
      t.clock.advance(60_000);
      assert.equal((await t.runtime.services.runOutbox()).attempted, 0, "a sent message is never sent again");
      assert.equal(smsc.submitted.length, 1);
    });

    test("a passcode that expired while the gateway was down is not sent late", async () => {
      const { t, smsc } = await setup((smsc) => [SMPP(smsc)]);
      await stopSMSC(t, smsc);
      assert.equal((await textAlice(t)).outcome.message, "We couldn't send a text just now.");
      await smsc.start();
      await eventually(() => smsc.binds.length >= 2, 20_000, "the gateway binds again");
      t.clock.advance(5 * 60_000 + 1000);
      const run = await t.runtime.services.runOutbox();
      assert.equal(run.sent, 0);
      const counts = await t.runtime.services.countMessages(0);
      assert.ok(
        counts.some((c) => c.status === "expired"),
        JSON.stringify(counts),
      );
      assert.equal(smsc.submitted.length, 0);
    });

    test("fail-over: with the SMSC down or refusing, the HTTP provider sends the text (Twilio's REST shape)", async () => {
      const { t, smsc, provider } = await setup((smsc, url) => [
        SMPP(smsc),
        {
          type: "http",
          name: "provider",
          url: `${url}/2010-04-01/Accounts/AC123/Messages.json`,
          headers: { authorization: `Basic ${Buffer.from("AC123:token").toString("base64")}` },
          body: "form",
          fields: { To: "{to}", From: "{from}", Body: "{text}" },
          successStatus: [201],
          messageIdPath: "sid",
        },
      ]);
      smsc.refuseSubmits = true;
      const refused = await textAlice(t);
      assert.equal(refused.outcome.status, "sent");
      await stopSMSC(t, smsc);
      const down = await textAlice(t);
      assert.equal(down.outcome.status, "sent");
      assert.ok(down.elapsed < 5000, `answered in ${down.elapsed} ms`);
      assert.equal(provider.requests.length, 2);
      const last = provider.requests[1]!;
      assert.equal(last.method, "POST");
      assert.equal(last.path, "/2010-04-01/Accounts/AC123/Messages.json");
      assert.equal(last.authorization, `Basic ${Buffer.from("AC123:token").toString("base64")}`);
      assert.equal(last.contentType, "application/x-www-form-urlencoded");
      assert.equal(last.form["To"], "+85291234567");
      assert.equal(last.form["From"], "Twofold");
      const app = (await t.runtime.services.listApplications())[0]!;
      const login = await t.runtime.services.verifyPasscode({
        username: "alice",
        passcode: codeIn(last.form["Body"]!),
        application: app,
      });
      assert.equal(login.result, "allow");
      // The provider's message id is recorded for receipts.
      const sent = await t.runtime.services.countMessages(0);
      assert.ok(sent.some((c) => c.status === "sent" && c.count >= 2));
    });

    test("an SMSC that never answers submit_sm: the text may have gone out, so it is never sent again", async () => {
      const { t, smsc } = await setup((smsc) => [{ ...SMPP(smsc), submitTimeoutMs: 3000 }]);
      smsc.holdAnswers = true;
      const held = await textAlice(t);
      assert.equal(held.outcome.message, "We couldn't send a text just now.");
      // Told when the send deadline (1.5 s) passed, while the gateway still waits for the SMSC (up to 3 s).
      assert.ok(held.elapsed >= 1500 && held.elapsed < 6000, `answered in ${held.elapsed} ms`);
      await eventually(() => smsc.heldCount === 1, 20_000, "the SMSC holds the submit");
      // The submit times out (1 s): the message's fate is unknown, and no node sends it again.
      await eventually(
        async () => (await t.runtime.services.countMessages(0)).some((c) => c.status === "unknown"),
        20_000,
        "the message is marked unknown",
      );
      smsc.holdAnswers = false;
      smsc.releaseHeld();
      t.clock.advance(10 * 60_000);
      await t.runtime.services.runOutbox();
      assert.equal(smsc.submitted.length, 1, "the SMSC saw the text once");
    });

    if (dialect === "postgres")
      test("two nodes on one PostgreSQL: 40 messages each sent exactly once, with one node killed mid-send", async () => {
        const smsc = new TestSMSC();
        await smsc.start();
        cleanups.push(() => smsc.stop());
        const overrides = (t: HTTPTestContext) => ({
          mode: "demo",
          "node.name": "node-a",
          "keys.encryption": t.runtime.config.keys.encryption,
          "database.url": t.runtime.config.database.url,
          "organization.country": "HK",
          "sms.gateways": [SMPP(smsc)],
          "sms.outbox.leaseSeconds": 5,
          "housekeeping.enabled": false,
        });
        const t = await createTestRuntime({
          dialect,
          overrides: {
            "organization.country": "HK",
            "sms.gateways": [SMPP(smsc)],
            "sms.outbox.leaseSeconds": 5,
          },
        });
        cleanups.push(() => t.close());
        // The other node runs on the real clock: ours follows it.
        t.clock.set(Date.now());
        const deps = {
          store: t.runtime.store,
          keyring: t.runtime.keyring,
          clock: t.clock,
        } as unknown as Deps;
        for (let i = 0; i < 40; i++)
          await enqueueMessage(deps, {
            channel: "sms",
            userId: null,
            kind: "test",
            destination: `+8529123${String(i).padStart(4, "0")}`,
            body: `message ${i}`,
          });

        const child: ChildProcessWithoutNullStreams = spawn(
          process.execPath,
          [
            "--import",
            "tsx",
            new URL("../support/outbox-node.ts", import.meta.url).pathname,
            JSON.stringify({ overrides: overrides(t), schema: t.schema }),
          ],
          { stdio: "pipe" },
        );
        cleanups.push(async () => {
          child.kill("SIGKILL");
        });
        const lines = createInterface({ input: child.stdout });
        const answers: string[] = [];
        lines.on("line", (l) => answers.push(l));
        // Starting a process that loads the TypeScript sources is slow on a busy machine: wait for it to say so.
        await eventually(() => answers.length === 1, 120_000, "node A starts");
        // Node A sends a few messages, then holds one mid-send (the SMSC does not answer) and is killed.
        for (let i = 1; i <= 5; i++) {
          child.stdin.write("run\n");
          await eventually(() => answers.length === i + 1, 30_000, `node A's pass ${i}`);
        }
        assert.equal(smsc.submitted.length, 5);
        smsc.holdAnswers = true;
        child.stdin.write("run\n");
        await eventually(() => smsc.heldCount === 1, 30_000, "node A is mid-send");
        child.kill("SIGKILL");
        await once(child, "exit");
        // The SMSC had taken that message before node A died.
        smsc.holdAnswers = false;
        smsc.releaseHeld();
        assert.equal(smsc.submitted.length, 6);

        // Node B (this process) and a pass racing it on a second connection finish the rest.
        t.clock.set(Date.now() + 6000);
        const runs = await Promise.all([
          t.runtime.services.runOutbox(40),
          t.runtime.services.runOutbox(40),
          t.runtime.services.runOutbox(40),
        ]);
        const abandoned = runs.reduce((n, r) => n + r.abandoned, 0);
        assert.equal(abandoned, 1, "node A's message is settled as unknown, once");
        await smsc.waitForSubmits(40, 60_000);
        const texts = smsc.submitted.map((s) => s.text).sort();
        assert.equal(texts.length, 40);
        assert.equal(new Set(texts).size, 40, "no message was sent twice");
        const counts = await t.runtime.services.countMessages(0);
        assert.deepEqual(
          counts.map((c) => [c.status, c.count]),
          [
            ["sent", 39],
            ["unknown", 1],
          ],
        );
      });
  });
}
