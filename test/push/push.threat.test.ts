// Push approval threats (D1-D6, G5, A4): activation, number matching, signed answers, races, flooding, fraud reports.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { generateP256Signer } from "../../src/core/crypto/ecdsa.ts";
import { canonicalPushAnswer, type PushDecision } from "../../src/core/use-cases/push.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

interface TestDevice {
  id: string;
  answer(
    txid: string,
    decision: PushDecision,
    code?: string,
    timestamp?: number,
  ): {
    txid: string;
    deviceId: string;
    decision: PushDecision;
    code?: string;
    timestamp: number;
    signature: string;
  };
}

async function activate(t: TestContext, username: string): Promise<TestDevice> {
  if (!(await t.services.findUser(username))) await t.services.createUser(ADMIN, { username });
  const ticket = await t.services.createDeviceActivation(ADMIN, username);
  const signer = generateP256Signer();
  const { device } = await t.services.activateDevice({
    token: ticket.token.reveal(),
    name: "Test phone",
    publicKey: Buffer.from(signer.publicKeyRaw).toString("base64url"),
  });
  return {
    id: device.id,
    answer(txid, decision, code, timestamp = t.clock.now()) {
      const fields = { txid, decision, timestamp, ...(code === undefined ? {} : { code }) };
      return {
        ...fields,
        deviceId: device.id,
        signature: Buffer.from(signer.sign(canonicalPushAnswer(fields))).toString("base64url"),
      };
    },
  };
}

async function started(t: TestContext, username: string, verified = true) {
  const s = await t.services.startPush({ username, verified, ip: "198.51.100.7" });
  assert.ok(s.started, `push for ${username} started (${s.started ? "" : s.reason})`);
  return s;
}

for (const dialect of await dialects()) {
  describe(`push approval on ${dialect}`, () => {
    let t: TestContext;
    before(async () => {
      t = await createTestContext(dialect, {
        "policy.push.ratePerWindow": 100,
        "policy.push.maxSinceSuccess": 1000,
      });
    });
    after(() => t.close());

    test("G5: activation links are single use, expire after 10 minutes, and need a P-256 key", async () => {
      await t.services.createUser(ADMIN, { username: "act-user" });
      const key = Buffer.from(generateP256Signer().publicKeyRaw).toString("base64url");
      const ticket = await t.services.createDeviceActivation(ADMIN, "act-user");
      assert.match(ticket.token.reveal(), /^AC[A-Z0-9]{18}\.[A-Za-z0-9_-]{27}$/);
      await assert.rejects(
        t.services.activateDevice({ token: ticket.token.reveal(), name: "x", publicKey: "AAAA" }),
        {
          code: "ERR_VALIDATION",
        },
      );
      await t.services.activateDevice({ token: ticket.token.reveal(), name: "Phone", publicKey: key });
      await assert.rejects(
        t.services.activateDevice({ token: ticket.token.reveal(), name: "Again", publicKey: key }),
        {
          code: "ERR_ACTIVATION_INVALID",
        },
      );
      const late = await t.services.createDeviceActivation(ADMIN, "act-user");
      t.clock.advance(600_001);
      await assert.rejects(
        t.services.activateDevice({ token: late.token.reveal(), name: "Late", publicKey: key }),
        {
          code: "ERR_ACTIVATION_INVALID",
        },
      );
      const [id] = late.token.reveal().split(".");
      await assert.rejects(
        t.services.activateDevice({ token: `${id}.forged`, name: "Forged", publicKey: key }),
        {
          code: "ERR_ACTIVATION_INVALID",
        },
      );
    });

    test("D1: the verified-push code must be typed; a wrong code denies and counts, a new push does not reset it", async () => {
      const phone = await activate(t, "matcher");
      const first = await started(t, "matcher");
      assert.match(first.code!.reveal(), /^[0-9]{6}$/);
      const wrong = String((Number(first.code!.reveal()) + 1) % 1_000_000).padStart(6, "0");
      assert.deepEqual(await t.services.answerPush(phone.answer(first.txid, "approve", wrong)), {
        status: "denied",
      });
      const user = await t.services.findUser("matcher");
      assert.equal((await t.store.getLockout(user!.id, "push"))?.failures, 1);
      const second = await started(t, "matcher");
      assert.equal(
        (await t.store.getLockout(user!.id, "push"))?.failures,
        1,
        "a new push does not reset the count",
      );
      assert.deepEqual(
        await t.services.answerPush(phone.answer(second.txid, "approve")),
        { status: "denied" },
        "no code",
      );
      const third = await started(t, "matcher");
      assert.deepEqual(
        await t.services.answerPush(phone.answer(third.txid, "approve", third.code!.reveal())),
        {
          status: "approved",
        },
      );
      assert.equal(await t.services.getPushStatus(third.txid), "approved");
      assert.equal((await t.store.getLockout(user!.id, "push"))?.failures, 0);
    });

    test("plain approve works where the application has no screen for a code", async () => {
      const phone = await activate(t, "plain");
      const s = await started(t, "plain", false);
      assert.equal(s.code, null);
      assert.deepEqual(await t.services.answerPush(phone.answer(s.txid, "approve")), { status: "approved" });
    });

    test("D1: plain approve only for applications whose policy allows it (no screen for a code)", async () => {
      await activate(t, "plain-app");
      const withScreen = await t.services.createApplication(ADMIN, { name: "Portal", type: "web-sdk" });
      const noScreen = await t.services.createApplication(ADMIN, {
        name: "VPN",
        type: "radius",
        policy: { allowPlainPush: true },
      });
      assert.deepEqual(
        await t.services.startPush({
          username: "plain-app",
          application: withScreen.application,
          verified: false,
        }),
        { started: false, reason: "verified_push_required" },
      );
      const plain = await t.services.startPush({
        username: "plain-app",
        application: noScreen.application,
        verified: false,
      });
      assert.ok(plain.started);
      assert.equal(plain.code, null);
    });

    test("D3: replayed, tampered, stale, foreign and other-device answers are refused", async () => {
      const phone = await activate(t, "signer");
      const stranger = await activate(t, "stranger");
      const a = await started(t, "signer");
      const approval = phone.answer(a.txid, "approve", a.code!.reveal());
      const flipped = Buffer.from(approval.signature, "base64url");
      flipped[10]! ^= 1;
      await assert.rejects(t.services.answerPush({ ...approval, signature: flipped.toString("base64url") }), {
        code: "ERR_PUSH_ANSWER_INVALID",
      });
      await assert.rejects(t.services.answerPush({ ...approval, decision: "deny" }), {
        code: "ERR_PUSH_ANSWER_INVALID",
      });
      await assert.rejects(
        t.services.answerPush(phone.answer(a.txid, "approve", a.code!.reveal(), t.clock.now() - 600_000)),
        {
          code: "ERR_PUSH_ANSWER_INVALID",
        },
      );
      await assert.rejects(t.services.answerPush(stranger.answer(a.txid, "approve", a.code!.reveal())), {
        code: "ERR_PUSH_ANSWER_INVALID",
      });
      assert.deepEqual(await t.services.answerPush(approval), { status: "approved" });
      await assert.rejects(t.services.answerPush(approval), { code: "ERR_PUSH_ALREADY_ANSWERED" });
      // An answer signed for one transaction, presented for another.
      const b = await started(t, "signer");
      await assert.rejects(
        t.services.answerPush({ ...phone.answer(a.txid, "approve", b.code!.reveal()), txid: b.txid }),
        {
          code: "ERR_PUSH_ANSWER_INVALID",
        },
      );
    });

    test("D2: an answer one second after expiry is refused and the login is denied", async () => {
      const phone = await activate(t, "slow-answer");
      const s = await started(t, "slow-answer");
      t.clock.set(s.expiresAt + 1000);
      await assert.rejects(t.services.answerPush(phone.answer(s.txid, "approve", s.code!.reveal())), {
        code: "ERR_PUSH_EXPIRED",
      });
      assert.equal(await t.services.getPushStatus(s.txid), "expired");
    });

    test("D2: approve and deny racing end in exactly one terminal state, every time", async () => {
      const phone = await activate(t, "racer");
      for (let round = 0; round < 25; round++) {
        const s = await started(t, "racer");
        const results = await Promise.allSettled([
          t.services.answerPush(phone.answer(s.txid, "approve", s.code!.reveal())),
          t.services.answerPush(phone.answer(s.txid, "deny")),
          t.services.answerPush(phone.answer(s.txid, "approve", s.code!.reveal())),
          t.services.answerPush(phone.answer(s.txid, "deny")),
        ]);
        const won = results.filter((r) => r.status === "fulfilled");
        assert.equal(won.length, 1, `round ${round}`);
        const final = await t.services.getPushStatus(s.txid);
        assert.equal((won[0] as PromiseFulfilledResult<{ status: string }>).value.status, final);
      }
    });

    test("A6: a victim whose passcode counter an attacker filled still passes by push", async () => {
      const quick = await createTestContext(dialect, {
        "policy.lockout.maxFailures": 3,
        "policy.lockout.delayAfter": 3,
      });
      try {
        const phone = await activate(quick, "victim-of-guesses");
        const app = await enrollActiveTOTP(quick, "victim-of-guesses");
        // A stranger who knows the username guesses passcodes until the passcode class locks.
        const wrong = app.codeAt() === "000000" ? "111111" : "000000";
        for (let i = 0; i < 3; i++)
          await quick.services.verifyPasscode({ username: "victim-of-guesses", passcode: wrong });
        assert.equal(
          (await quick.services.verifyPasscode({ username: "victim-of-guesses", passcode: app.codeAt() }))
            .reason,
          "locked_out",
        );
        // The victim logs in by push, before and after a pending push sees the lock: both approved.
        const s = await started(quick, "victim-of-guesses");
        assert.deepEqual(await quick.services.answerPush(phone.answer(s.txid, "approve", s.code!.reveal())), {
          status: "approved",
        });
        const entry = await quick.store.findAuthLogByTxid(s.txid);
        assert.deepEqual([entry?.result, entry?.reason], ["allow", "push_approved"]);
        const user = await quick.services.findUser("victim-of-guesses");
        assert.equal(await quick.store.lastLoginAt(user!.id), quick.clock.now());
        // The push success resets the push class only: the passcode lock stays until it runs out.
        assert.equal((await quick.store.getLockout(user!.id, "otp"))?.failures, 3);
      } finally {
        await quick.close();
      }
    });

    test("D4: one pending push per user, and a rate limit per window", async () => {
      const strict = await createTestContext(dialect);
      try {
        await activate(strict, "flooded");
        const first = await strict.services.startPush({ username: "flooded", verified: true });
        assert.ok(first.started);
        assert.deepEqual(await strict.services.startPush({ username: "flooded", verified: true }), {
          started: false,
          reason: "push_pending",
        });
        let delivered = 1;
        for (let i = 0; i < 20; i++) {
          strict.clock.advance(61_000); // the pending one expires
          const s = await strict.services.startPush({ username: "flooded", verified: true });
          if (s.started) delivered++;
        }
        // 21 attempts over about 21 minutes: at most 3 per 5 minutes.
        assert.ok(delivered <= 3 * Math.ceil((21 * 61) / 300), `delivered ${delivered}`);
        const parallel = await Promise.all(
          Array.from({ length: 10 }, () => {
            strict.clock.advance(0);
            return strict.services.startPush({ username: "flooded", verified: true });
          }),
        );
        assert.ok(parallel.filter((s) => s.started).length <= 1, "racing logins start at most one push");
      } finally {
        await strict.close();
      }
    });

    test("D5: 'this wasn't me' marks fraud, stops pushes, is audited and notified; clearing restores", async () => {
      const phone = await activate(t, "victim");
      const s = await started(t, "victim");
      assert.deepEqual(await t.services.answerPush(phone.answer(s.txid, "fraud")), { status: "fraud" });
      assert.deepEqual(await t.services.startPush({ username: "victim", verified: true }), {
        started: false,
        reason: "push_suspended",
      });
      const user = await t.services.findUser("victim");
      assert.ok(
        (await t.store.listAudit({ limit: 10_000 })).some(
          (e) => e.action === "push.fraud_reported" && e.targetId === user!.id,
        ),
      );
      assert.ok(
        (await t.store.listPendingNotifications(10_000)).some(
          (n) => n.kind === "push-fraud-reported" && n.userId === user!.id,
        ),
      );
      await t.services.clearPushSuspension(ADMIN, "victim");
      assert.ok((await t.services.startPush({ username: "victim", verified: true })).started);
    });

    test("D6: application text is limited to 20 000 bytes and kept as text", async () => {
      await activate(t, "context-user");
      await assert.rejects(
        t.services.startPush({ username: "context-user", verified: true, info: "x".repeat(20_001) }),
        {
          code: "ERR_VALIDATION",
        },
      );
      const markup = '<img src=x onerror="alert(1)">\u0007';
      const s = await t.services.startPush({
        username: "context-user",
        verified: true,
        info: markup,
        ip: "192.0.2.9",
      });
      assert.ok(s.started);
      const stored = await t.store.getPushTransaction(s.txid);
      assert.equal(stored?.context.info, markup);
      assert.equal(stored?.context.ip, "192.0.2.9");
    });

    test("users without a device, and unknown users, get no push", async () => {
      await t.services.createUser(ADMIN, { username: "no-phone" });
      assert.deepEqual(await t.services.startPush({ username: "no-phone", verified: true }), {
        started: false,
        reason: "no_devices",
      });
      assert.deepEqual(await t.services.startPush({ username: "ghost", verified: true }), {
        started: false,
        reason: "unknown_user",
      });
    });
  });
}
