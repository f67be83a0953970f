// Lockout threats (A1, A3, A5, A6, B6): failure limits, growing delays, identical answers, bounded guessing.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import type { PasscodeOutcome } from "../../src/core/use-cases/verify-passcode.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP, wrongCode } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

/** What a client sees of an outcome: the result alone (interfaces print PASSCODE_MESSAGES[result]). */
const seen = (o: PasscodeOutcome) => o.result;

for (const dialect of await dialects()) {
  describe(`lockout on ${dialect}`, () => {
    let t: TestContext;
    before(async () => {
      t = await createTestContext(dialect);
    });
    after(() => t.close());

    test("defaults: delays from the 5th failure, lock at 10, the correct code is then refused", async () => {
      const app = await enrollActiveTOTP(t, "lock-default");
      const attempt = (code: string) =>
        t.services.verifyPasscode({ username: "lock-default", passcode: code });
      for (let i = 0; i < 5; i++)
        assert.equal((await attempt(wrongCode(app.codeAt()))).reason, "invalid_passcode");
      // Fifth failure recorded: the next attempt waits 30 s, even with the right code.
      const delayed = await attempt(app.codeAt());
      assert.equal(delayed.reason, "rate_delayed");
      assert.equal(seen(delayed), "deny");
      // Delays double: 30, 60, 120, 240, 480 s before failures 6..10.
      for (const wait of [30, 60, 120, 240, 480]) {
        t.clock.advance(wait * 1000);
        assert.equal((await attempt(wrongCode(app.codeAt()))).reason, "invalid_passcode", `after ${wait}s`);
      }
      t.clock.advance(600_000);
      const locked = await attempt(app.codeAt());
      assert.equal(locked.reason, "locked_out");
      const events = await t.store.listAudit({ limit: 1000 });
      assert.ok(events.some((e) => e.action === "user.locked_out" && e.targetId === locked.userId));
      const outbox = await t.store.listPendingNotifications(1000);
      assert.ok(outbox.some((n) => n.kind === "locked-out" && n.userId === locked.userId));
    });

    test("A1: with N=100, the 101st attempt with the correct code is refused", async () => {
      const strict = await createTestContext(dialect, {
        "policy.lockout.maxFailures": 100,
        "policy.lockout.delayAfter": 100,
      });
      try {
        const app = await enrollActiveTOTP(strict, "hundred");
        for (let i = 0; i < 100; i++) {
          const r = await strict.services.verifyPasscode({
            username: "hundred",
            passcode: wrongCode(app.codeAt()),
          });
          assert.equal(r.reason, "invalid_passcode", `attempt ${i + 1}`);
        }
        const r = await strict.services.verifyPasscode({ username: "hundred", passcode: app.codeAt() });
        assert.equal(r.result, "deny");
        assert.equal(r.reason, "locked_out");
        assert.ok(
          (await strict.store.listAudit({ limit: 1000 })).some((e) => e.action === "user.locked_out"),
        );
      } finally {
        await strict.close();
      }
    });

    test("A1: a limit above 100 is a configuration error", () => {
      assert.throws(
        () => loadConfig({ env: {}, overrides: { mode: "demo", "policy.lockout.maxFailures": 101 } }),
        {
          code: "ERR_CONFIG_INVALID",
        },
      );
    });

    test("A2: 200 parallel wrong guesses check at most N codes; the counter equals the attempts checked", async () => {
      const app = await enrollActiveTOTP(t, "parallel-guesser");
      const rs = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          t.services.verifyPasscode({
            username: "parallel-guesser",
            passcode: String((Number(app.codeAt()) + 1 + i) % 1_000_000).padStart(6, "0"),
          }),
        ),
      );
      const checked = rs.filter((r) => r.reason === "invalid_passcode").length;
      // Delays begin at the 5th failure: parallel guesses are checked one at a time, so exactly 5 are.
      assert.equal(checked, t.config.policy.lockout.delayAfter);
      const user = await t.services.findUser("parallel-guesser");
      assert.equal((await t.store.getLockout(user!.id, "otp"))?.failures, checked);
      assert.equal(rs.filter((r) => r.result === "allow").length, 0);
    });

    test("A3: every spelling of one identity shares one counter", async () => {
      const app = await enrollActiveTOTP(t, "alice");
      await t.services.addUserAlias(ADMIN, "alice", "alice.example");
      const spellings = ["Alice", " alice", "ALICE ", "ａｌｉｃｅ", "alice.example"];
      for (const username of spellings) {
        const r = await t.services.verifyPasscode({ username, passcode: wrongCode(app.codeAt()) });
        assert.equal(r.reason, "invalid_passcode", username);
        assert.notEqual(r.userId, null, `${username} is the enrolled user, not an unknown one`);
      }
      const user = await t.services.findUser("alice");
      assert.equal((await t.store.getLockout(user!.id, "otp"))?.failures, spellings.length);
    });

    test("A5: unknown user and wrong code read the same; while locked, a right and a wrong code get the same answer", async () => {
      const app = await enrollActiveTOTP(t, "locked-one");
      for (let i = 0; i < 10; i++) {
        await t.services.verifyPasscode({ username: "locked-one", passcode: "000000" });
        t.clock.advance(600_000);
      }
      t.clock.advance(60_000); // within the lock that began with the 10th failure
      const outcomes = [
        await t.services.verifyPasscode({ username: "nobody-here", passcode: app.codeAt() }),
        await t.services.verifyPasscode({ username: "alice", passcode: "123456" }),
        await t.services.verifyPasscode({ username: "locked-one", passcode: app.codeAt() }),
        await t.services.verifyPasscode({ username: "locked-one", passcode: wrongCode(app.codeAt()) }),
      ];
      assert.deepEqual(
        outcomes.map((o) => o.reason),
        ["unknown_user", "invalid_passcode", "locked_out", "locked_out"],
      );
      assert.deepEqual(new Set(outcomes.map(seen)), new Set(["deny"]));
      const [unknown, wrong, lockedRight, lockedWrong] = outcomes.map(({ txid: _txid, ...o }) => o);
      assert.deepEqual(Object.keys(unknown!).sort(), Object.keys(wrong!).sort());
      // The lock is decided before the code is looked at: nothing in the answer depends on it.
      assert.deepEqual(lockedRight, lockedWrong);
      assert.equal(lockedRight?.result === "deny" && typeof lockedRight.retryAt, "number");
    });

    test("A6: over 72 h, an attacker guessing at the fastest accepted rate gets 16 guesses; no lock outlasts 24 h", async () => {
      const app = await enrollActiveTOTP(t, "patient-attacker");
      const start = t.clock.now();
      const end = start + 72 * 3_600_000;
      const guessedAt: number[] = [];
      while (t.clock.now() < end) {
        const r = await t.services.verifyPasscode({
          username: "patient-attacker",
          passcode: wrongCode(app.codeAt()),
        });
        if (r.reason === "invalid_passcode") guessedAt.push(t.clock.now());
        else {
          // Refused without a check: come back exactly when told, not a millisecond later.
          assert.ok(r.result === "deny" && r.retryAt !== undefined, `refused with a time (${r.reason})`);
          t.clock.set(r.retryAt);
        }
      }
      const hours = guessedAt.map((at) => Math.round(((at - start) / 3_600_000) * 100) / 100);
      console.log(`guesses checked in 72 h: ${guessedAt.length}, at hours ${hours.join(", ")}`);
      // The documented budget (docs/security.md §4, README): 10 before the lock (5 at once, then after 30, 60,
      // 120, 240, 480 s), then one per lock period of 1, 2, 4, 8, 16, 24, 24 … hours.
      assert.equal(guessedAt.length, 16);
      assert.ok(guessedAt.length <= 100);
      // Guessing never locks for good: 24 h after the last guess the user's right code works again.
      const user = await t.services.findUser("patient-attacker");
      const state = await t.store.getLockout(user!.id, "otp");
      t.clock.set(state!.lastFailureAt! + 24 * 3_600_000);
      assert.equal(
        (await t.services.verifyPasscode({ username: "patient-attacker", passcode: app.codeAt() })).result,
        "allow",
      );
    });

    test("a success resets only the factor class used", async () => {
      const app = await enrollActiveTOTP(t, "mixed");
      const code = (await t.services.issueBypassCodes(ADMIN, "mixed", { uses: 5 })).codes.reveal()[0]!;
      for (let i = 0; i < 3; i++)
        await t.services.verifyPasscode({ username: "mixed", passcode: wrongCode(app.codeAt()) });
      await t.services.verifyPasscode({ username: "mixed", passcode: "9999999999" });
      assert.equal((await t.services.verifyPasscode({ username: "mixed", passcode: code })).result, "allow");
      const user = await t.services.findUser("mixed");
      assert.equal((await t.store.getLockout(user!.id, "bypass"))?.failures, 0);
      assert.equal((await t.store.getLockout(user!.id, "otp"))?.failures, 3);
      assert.equal(
        (await t.services.verifyPasscode({ username: "mixed", passcode: app.codeAt() })).result,
        "allow",
      );
      assert.equal((await t.store.getLockout(user!.id, "otp"))?.failures, 0);
    });

    test("B6: empty, short, long, non-ASCII-digit and non-string passcodes are refused and counted", async () => {
      await enrollActiveTOTP(t, "sloppy");
      const bad: unknown[] = [
        "",
        "12345",
        "1234567",
        "１２３４５６",
        "x".repeat(10_000),
        ["123456"],
        123456,
        null,
      ];
      for (const passcode of bad) {
        const r = await t.services.verifyPasscode({ username: "sloppy", passcode });
        assert.equal(r.result, "deny");
        t.clock.advance(3_600_000);
      }
      const user = await t.services.findUser("sloppy");
      const state = await t.store.getLockout(user!.id, "otp");
      // Eight malformed attempts, an hour apart (past every delay): all counted.
      assert.equal(state?.failures, bad.length);
    });

    test("a disabled user is refused even with a valid code", async () => {
      const app = await enrollActiveTOTP(t, "gone");
      await t.services.setUserStatus(ADMIN, "gone", "disabled");
      const r = await t.services.verifyPasscode({ username: "gone", passcode: app.codeAt() });
      assert.equal(r.result, "deny");
      assert.equal(r.reason, "user_disabled");
    });
  });
}
