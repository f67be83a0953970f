// H-6 / F7: mutated registrations and assertions (bits flipped, bytes cut or added, hostile CBOR lengths) are refused cleanly: no throw, no hang, never an allow.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { cborHead } from "../support/cbor.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP } from "../support/factors.ts";
import { SoftAuthenticator } from "../support/soft-authenticator.ts";
import { dialects } from "../support/stores.ts";

const ORIGIN = "https://login.example.edu";

/** A small seeded generator (mulberry32): the same cases every run, so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One mutation of a byte string: flip a bit, cut it short, add bytes, or splice in a CBOR head claiming a huge length. */
function mutate(bytes: Buffer, rnd: () => number): Buffer {
  const at = Math.floor(rnd() * bytes.length);
  switch (Math.floor(rnd() * 5)) {
    case 0: {
      const c = Buffer.from(bytes);
      c[at] = c[at]! ^ (1 << Math.floor(rnd() * 8));
      return c;
    }
    case 1:
      return bytes.subarray(0, at);
    case 2:
      return Buffer.concat([bytes, Buffer.from([Math.floor(rnd() * 256)])]);
    case 3:
      return Buffer.concat([
        bytes.subarray(0, at),
        cborHead(Math.floor(rnd() * 6), 0xfffffff0n),
        bytes.subarray(at),
      ]);
    default: {
      const c = Buffer.from(bytes);
      c.fill(Math.floor(rnd() * 256), at, Math.min(c.length, at + 8));
      return c;
    }
  }
}

const CASES = Number(process.env["TWOFOLD_TEST_FUZZ_CASES"] ?? 150);

for (const dialect of await dialects()) {
  describe(`WebAuthn mutation fuzzing on ${dialect}`, () => {
    let t: TestContext;
    let key: SoftAuthenticator;
    before(async () => {
      t = await createTestContext(dialect, {
        "webauthn.rpId": "example.edu",
        "webauthn.origins": [ORIGIN],
        "policy.lockout.maxFailures": 100,
        "policy.lockout.delayAfter": 100,
      });
      const app = await enrollActiveTOTP(t, "fuzz");
      const login = await t.services.verifyPasscode({ username: "fuzz", passcode: app.codeAt() });
      const start = await t.services.beginWebAuthnRegistration({
        username: "fuzz",
        proof: { txid: login.txid },
        context: "f",
      });
      key = new SoftAuthenticator({ origin: ORIGIN });
      const r = await t.services.finishWebAuthnRegistration({
        ceremonyId: start.ceremonyId,
        context: "f",
        response: key.register(start.options),
      });
      assert.equal(r.result, "registered");
    });
    after(() => t.close());

    test(`${CASES} mutated assertions: each denied, none thrown, each answered within a second`, async () => {
      const rnd = random(0x5eed);
      const fields = ["authenticatorData", "clientDataJSON", "signature"] as const;
      const reasons = new Map<string, number>();
      for (let i = 0; i < CASES; i++) {
        if (i % 50 === 49) await t.services.unlockUser(ADMIN, "fuzz");
        const start = await t.services.beginWebAuthnAuthentication({ username: "fuzz", context: "f" });
        const response = key.assert(start.options) as { response: Record<string, string> };
        const field = fields[i % fields.length]!;
        const mutated = mutate(Buffer.from(response.response[field]!, "base64url"), rnd);
        response.response[field] = mutated.toString("base64url");
        const t0 = performance.now();
        const r = await t.services.finishWebAuthnAuthentication({
          ceremonyId: start.ceremonyId,
          context: "f",
          response,
        });
        assert.ok(performance.now() - t0 < 1000, `case ${i} took too long`);
        assert.equal(r.result, "deny", `case ${i} (${field}) was allowed`);
        reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
      }
      console.log(`assertion mutations: ${JSON.stringify(Object.fromEntries(reasons))}`);
      // The key still works: no mutation moved its counter or flagged it.
      await t.services.unlockUser(ADMIN, "fuzz");
      const start = await t.services.beginWebAuthnAuthentication({ username: "fuzz", context: "f" });
      const ok = await t.services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "f",
        response: key.assert(start.options),
      });
      assert.equal(ok.result, "allow");
    });

    test(`${CASES} mutated registrations: each answered, none thrown`, async () => {
      const rnd = random(0xc0ffee);
      const reasons = new Map<string, number>();
      const app = await enrollActiveTOTP(t, "fuzz-reg");
      for (let i = 0; i < CASES; i++) {
        if (i % 20 === 0) t.clock.advance(60_000);
        const login = await t.services.verifyPasscode({ username: "fuzz-reg", passcode: app.codeAt() });
        const start = await t.services.beginWebAuthnRegistration({
          username: "fuzz-reg",
          proof: { txid: login.txid },
          context: "f",
        });
        t.clock.advance(30_000);
        const response = new SoftAuthenticator({ origin: ORIGIN }).register(start.options) as {
          response: Record<string, string>;
        };
        const field = i % 2 === 0 ? "attestationObject" : "clientDataJSON";
        response.response[field] = mutate(Buffer.from(response.response[field]!, "base64url"), rnd).toString(
          "base64url",
        );
        const r = await t.services.finishWebAuthnRegistration({
          ceremonyId: start.ceremonyId,
          context: "f",
          response,
        });
        const outcome = r.result === "rejected" ? r.reason : "registered";
        reasons.set(outcome, (reasons.get(outcome) ?? 0) + 1);
        // Keep below the per-user cap, so every case reaches verification.
        if (r.result === "registered")
          await t.services.removeWebAuthnCredential(ADMIN, {
            username: "fuzz-reg",
            credentialId: r.credential.id,
          });
      }
      console.log(`registration mutations: ${JSON.stringify(Object.fromEntries(reasons))}`);
      // Format `none` signs nothing at registration: a changed bit in the attested key, AAGUID or counter is a valid
      // registration of that (other) key, and shows up as "registered". What must never happen is a throw or a hang.
      assert.equal(
        [...reasons.values()].reduce((a, b) => a + b, 0),
        CASES,
        "every case reached a verdict",
      );
    });
  });
}
