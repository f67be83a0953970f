// WebAuthn through the services with a software authenticator, on SQLite and PostgreSQL: the happy path and F1-F7, each refused for its own reason.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { cborHead, encodeCBOR } from "../support/cbor.ts";
import { createTestContext, servicesOfAnotherNode, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP } from "../support/factors.ts";
import { FLAG, SoftAuthenticator, type Tamper } from "../support/soft-authenticator.ts";
import { dialects, PG_URL } from "../support/stores.ts";

const ORIGIN = "https://login.example.edu";
const CONFIG = {
  "webauthn.rpId": "example.edu",
  "webauthn.origins": [ORIGIN],
  "policy.lockout.delayAfter": 100,
  "policy.lockout.maxFailures": 100,
};

for (const dialect of await dialects()) {
  describe(`WebAuthn on ${dialect}`, () => {
    let t: TestContext;
    before(async () => {
      t = await createTestContext(dialect, CONFIG);
    });
    after(() => t.close());

    /** A user with an authenticator app who just logged in with it: the proof adding a key needs (G2). */
    async function loggedInUser(username: string): Promise<{ txid: string }> {
      const app = await enrollActiveTOTP(t, username);
      const r = await t.services.verifyPasscode({ username, passcode: app.codeAt() });
      assert.equal(r.result, "allow");
      return { txid: r.txid };
    }

    /** A user with one registered key on `authenticator`. */
    async function userWithKey(
      username: string,
      authenticator = new SoftAuthenticator({ origin: ORIGIN }),
    ): Promise<SoftAuthenticator> {
      const proof = await loggedInUser(username);
      const start = await t.services.beginWebAuthnRegistration({ username, proof, context: `s-${username}` });
      const r = await t.services.finishWebAuthnRegistration({
        ceremonyId: start.ceremonyId,
        context: `s-${username}`,
        response: authenticator.register(start.options),
        name: "Blue key",
      });
      assert.equal(r.result, "registered", JSON.stringify(r));
      return authenticator;
    }

    async function login(
      username: string | undefined,
      authenticator: SoftAuthenticator,
      tamper: Tamper = {},
      context = "login-1",
    ) {
      const start = await t.services.beginWebAuthnAuthentication({
        ...(username === undefined ? {} : { username }),
        context,
      });
      return t.services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context,
        response: authenticator.assert(start.options, tamper),
      });
    }

    async function failures(username: string): Promise<number> {
      const rows = await t.services.listUserLockouts(username);
      return rows.find((r) => r.factorClass === "webauthn")?.failures ?? 0;
    }

    test("a user adds a key after a second factor, then logs in with it through the completion gate", async () => {
      const key = await userWithKey("ada");
      const [listed] = await t.services.listWebAuthnCredentials("ada");
      assert.equal(listed?.name, "Blue key");
      assert.deepEqual(listed?.transports, ["usb"], "transports are stored as reported");
      assert.equal(listed?.discoverable, true);
      const r = await login("ada", key);
      assert.equal(r.result, "allow", JSON.stringify(r));
      assert.equal(r.factor, "webauthn");
      const log = await t.services.listAuthLog({ minTime: 0, maxTime: Number.MAX_SAFE_INTEGER, limit: 10 });
      const line = log.entries.find((e) => e.txid === r.txid);
      assert.equal(line?.result, "allow");
      assert.equal(line?.factor, "webauthn");
      const after = await t.services.listWebAuthnCredentials("ada");
      assert.equal(after[0]?.lastUsedAt, t.clock.now());
    });

    test("EdDSA and RS256 keys work as ES256 ones do, and a signature by another key is refused", async () => {
      for (const algorithm of ["EdDSA", "RS256"] as const) {
        const key = await userWithKey(
          `alg-${algorithm}`,
          new SoftAuthenticator({ origin: ORIGIN, algorithm }),
        );
        assert.equal((await login(`alg-${algorithm}`, key)).result, "allow", algorithm);
        const flip = (s: Buffer) => Buffer.from(s.map((b, i) => (i === 5 ? b ^ 1 : b)));
        assert.equal(
          (await login(`alg-${algorithm}`, key, { mangleSignature: flip })).reason,
          "bad_signature",
        );
      }
    });

    test("the options name the RP, offer ES256/EdDSA/RS256, exclude existing keys and carry stored transports", async () => {
      const key = await userWithKey(
        "olive",
        new SoftAuthenticator({ origin: ORIGIN, transports: ["hybrid", "internal"] }),
      );
      const proof = await loggedInUser("olive");
      const reg = await t.services.beginWebAuthnRegistration({ username: "olive", proof, context: "c" });
      assert.deepEqual(reg.options["rp"], { id: "example.edu", name: t.config.organization.name });
      assert.deepEqual(
        (reg.options["pubKeyCredParams"] as { alg: number }[]).map((p) => p.alg),
        [-8, -7, -257],
      );
      const excluded = reg.options["excludeCredentials"] as { id: string; transports: string[] }[];
      assert.equal(excluded.length, 1);
      assert.equal(Buffer.from(excluded[0]!.id, "base64url").length, key.credentials[0]!.id.length);
      assert.equal(Buffer.from(reg.options.challenge, "base64url").length, 32, "F1: 32-byte challenges");
      const auth = await t.services.beginWebAuthnAuthentication({
        username: "olive",
        context: "c",
        method: "hybrid",
      });
      const allowed = auth.options["allowCredentials"] as { transports: string[] }[];
      assert.deepEqual(
        allowed[0]?.transports,
        ["hybrid", "internal"],
        "phone-by-QR keeps its hybrid transport",
      );
      assert.deepEqual(auth.options["hints"], ["hybrid"]);
      assert.equal(auth.options["userVerification"], "preferred");
      const platform = await t.services.beginWebAuthnAuthentication({
        username: "olive",
        context: "c",
        method: "platform",
      });
      assert.equal(platform.options["userVerification"], "required", "Windows Hello / Touch ID: UV required");
    });

    test("G2: adding a key needs a fresh second-factor login of the same user; a bypass code is not enough", async () => {
      const proof = await loggedInUser("grace");
      await loggedInUser("henry");
      await assert.rejects(
        t.services.beginWebAuthnRegistration({ username: "henry", proof, context: "c" }),
        { code: "ERR_FORBIDDEN" },
        "another user's login",
      );
      await assert.rejects(
        t.services.beginWebAuthnRegistration({ username: "grace", proof: { txid: "nope" }, context: "c" }),
        { code: "ERR_FORBIDDEN" },
      );
      const bypass = (await t.services.issueBypassCodes(ADMIN, "grace", { uses: 1 })).codes.reveal()[0]!;
      const viaBypass = await t.services.verifyPasscode({ username: "grace", passcode: bypass });
      assert.equal(viaBypass.result, "allow");
      await assert.rejects(
        t.services.beginWebAuthnRegistration({
          username: "grace",
          proof: { txid: viaBypass.txid },
          context: "c",
        }),
        { code: "ERR_FORBIDDEN" },
      );
      t.clock.advance((t.config.webauthn.proofMaxAgeSeconds + 1) * 1000);
      await assert.rejects(t.services.beginWebAuthnRegistration({ username: "grace", proof, context: "c" }), {
        code: "ERR_FORBIDDEN",
      });
    });

    test("F1: an assertion replayed, or a ceremony finished twice, is refused", async () => {
      const key = await userWithKey("replay");
      const start = await t.services.beginWebAuthnAuthentication({ username: "replay", context: "x" });
      const response = key.assert(start.options);
      const first = await t.services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "x",
        response,
      });
      assert.equal(first.result, "allow");
      const again = await t.services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "x",
        response,
      });
      assert.equal(again.result, "deny");
      assert.equal(again.reason, "unknown_ceremony");
      // The same response against a new ceremony: its challenge is the old one.
      const next = await t.services.beginWebAuthnAuthentication({ username: "replay", context: "x" });
      const replayed = await t.services.finishWebAuthnAuthentication({
        ceremonyId: next.ceremonyId,
        context: "x",
        response,
      });
      assert.equal(replayed.reason, "challenge_mismatch");
    });

    test("F1: an expired challenge is refused, and a refused ceremony is gone", async () => {
      const key = await userWithKey("sloth");
      const start = await t.services.beginWebAuthnAuthentication({ username: "sloth", context: "x" });
      t.clock.advance(t.config.webauthn.timeoutSeconds * 1000 + 1);
      const response = key.assert(start.options);
      const r = await t.services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "x",
        response,
      });
      assert.equal(r.reason, "ceremony_expired");
      const bad = await t.services.beginWebAuthnAuthentication({ username: "sloth", context: "x" });
      const wrong = await t.services.finishWebAuthnAuthentication({
        ceremonyId: bad.ceremonyId,
        context: "x",
        response: key.assert(bad.options, { origin: "https://evil.example" }),
      });
      assert.equal(wrong.reason, "origin_mismatch");
      const retry = await t.services.finishWebAuthnAuthentication({
        ceremonyId: bad.ceremonyId,
        context: "x",
        response: key.assert(bad.options),
      });
      assert.equal(retry.reason, "unknown_ceremony", "deleted on failure too");
    });

    test("F1: a challenge of another kind, session or user is refused", async () => {
      const key = await userWithKey("kate");
      const other = await userWithKey("luke");
      // Registration challenge used to log in.
      const proof = await loggedInUser("kate");
      const reg = await t.services.beginWebAuthnRegistration({ username: "kate", proof, context: "k" });
      const asLogin = await t.services.finishWebAuthnAuthentication({
        ceremonyId: reg.ceremonyId,
        context: "k",
        response: key.assert({ challenge: reg.options.challenge, rpId: "example.edu" }),
      });
      assert.equal(asLogin.reason, "ceremony_mismatch");
      // Session X's ceremony finished in session Y.
      const start = await t.services.beginWebAuthnAuthentication({ username: "kate", context: "session-X" });
      const crossSession = await t.services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "session-Y",
        response: key.assert(start.options),
      });
      assert.equal(crossSession.reason, "ceremony_mismatch");
      // Kate's ceremony answered with Luke's (valid) key: F6.
      const kates = await t.services.beginWebAuthnAuthentication({ username: "kate", context: "k" });
      const lukes = await t.services.finishWebAuthnAuthentication({
        ceremonyId: kates.ceremonyId,
        context: "k",
        response: other.assert(kates.options),
      });
      assert.equal(lukes.result, "deny");
      assert.equal(lukes.reason, "credential_not_users");
      assert.equal(
        lukes.userId,
        (await t.services.findUser("kate"))!.id,
        "counted against the ceremony's user",
      );
    });

    test("F2: wrong origins (http, other port, sibling subdomain, trailing slash), cross-origin frames and swapped type are refused", async () => {
      const key = await userWithKey("orin");
      for (const origin of [
        "http://login.example.edu",
        "https://login.example.edu:8443",
        "https://evil.example.edu",
        "https://login.example.edu/",
      ]) {
        const r = await login("orin", key, { origin });
        assert.equal(r.reason, "origin_mismatch", origin);
      }
      assert.equal(
        (await login("orin", key, { crossOrigin: true, topOrigin: "https://evil.example" })).reason,
        "cross_origin",
      );
      assert.equal((await login("orin", key, { type: "webauthn.create" })).reason, "wrong_type");
      assert.equal((await login("orin", key, { type: "payment.get" })).reason, "wrong_type");
    });

    test("F2: an RP ID hash of another domain is refused", async () => {
      const key = await userWithKey("rpid");
      assert.equal((await login("rpid", key, { rpId: "evil.edu" })).reason, "rp_id_mismatch");
      assert.equal((await login("rpid", key, { rpId: "login.example.edu" })).reason, "rp_id_mismatch");
    });

    test("F3: UP missing, UV missing where required, BS without BE and a changed BE are refused", async () => {
      const key = await userWithKey("flags");
      assert.equal((await login("flags", key, { flags: FLAG.UV })).reason, "user_not_present");
      assert.equal(
        (await login("flags", key, { flags: FLAG.UP | FLAG.UV | FLAG.BS })).reason,
        "backup_flags_invalid",
      );
      assert.equal(
        (await login("flags", key, { flags: FLAG.UP | FLAG.UV | FLAG.BE })).reason,
        "backup_eligibility_changed",
      );
      // UV is optional for a security key as a second factor (policy "preferred")…
      assert.equal((await login("flags", key, { flags: FLAG.UP })).result, "allow");
      // …but required with Windows Hello / Touch ID and for passwordless logins.
      const start = await t.services.beginWebAuthnAuthentication({
        username: "flags",
        context: "p",
        method: "platform",
      });
      const r = await t.services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "p",
        response: key.assert(start.options, { flags: FLAG.UP }),
      });
      assert.equal(r.reason, "user_not_verified");
      const pwless = await t.services.beginWebAuthnAuthentication({ context: "p" });
      const r2 = await t.services.finishWebAuthnAuthentication({
        ceremonyId: pwless.ceremonyId,
        context: "p",
        response: key.assert(pwless.options, { flags: FLAG.UP }),
      });
      assert.equal(r2.reason, "user_not_verified");
    });

    test("F4: a counter that goes back denies, flags the key and tells the user; the key is then refused", async () => {
      const key = await userWithKey("clone");
      assert.equal((await login("clone", key, { counter: 10 })).result, "allow");
      const r = await login("clone", key, { counter: 5 });
      assert.equal(r.reason, "counter_regression");
      const [flagged] = await t.services.listWebAuthnCredentials("clone");
      assert.equal(flagged?.status, "suspect");
      const audit = await t.services.listAudit({ limit: 50, order: "desc" });
      assert.ok(audit.some((e) => e.action === "webauthn.clone_suspected"));
      // Refused from now on: not offered for a second-factor login, refused in a passwordless one.
      await assert.rejects(t.services.beginWebAuthnAuthentication({ username: "clone", context: "c" }), {
        code: "ERR_NOT_FOUND",
      });
      assert.equal((await login(undefined, key, { counter: 50 })).reason, "credential_suspect");
    });

    test("F4: an equal counter is a regression; an authenticator without a counter (always 0) is fine", async () => {
      const key = await userWithKey("same");
      assert.equal((await login("same", key, { counter: 7 })).result, "allow");
      assert.equal((await login("same", key, { counter: 7 })).reason, "counter_regression");
      const zero = await userWithKey("zero", new SoftAuthenticator({ origin: ORIGIN, counter: "zero" }));
      assert.equal((await login("zero", zero)).result, "allow");
      assert.equal((await login("zero", zero)).result, "allow");
    });

    test("F4: two assertions in parallel never move the stored counter backwards", async () => {
      const key = await userWithKey("parallel");
      const a = await t.services.beginWebAuthnAuthentication({ username: "parallel", context: "a" });
      const b = await t.services.beginWebAuthnAuthentication({ username: "parallel", context: "b" });
      const ra = key.assert(a.options, { counter: 11 });
      const rb = key.assert(b.options, { counter: 12 });
      const results = await Promise.all([
        t.services.finishWebAuthnAuthentication({ ceremonyId: a.ceremonyId, context: "a", response: ra }),
        t.services.finishWebAuthnAuthentication({ ceremonyId: b.ceremonyId, context: "b", response: rb }),
      ]);
      assert.ok(results.some((r) => r.result === "allow"));
      const row = await t.store.findWebAuthnCredential(
        Buffer.from(key.credentials[0]!.id).toString("base64url"),
      );
      assert.equal(row?.signCount, 12);
    });

    test("F6: a mismatched user handle is refused; a passwordless login finds the user from handle and credential", async () => {
      const key = await userWithKey("handle");
      assert.equal(
        (await login("handle", key, { userHandle: Buffer.from("someone else").toString("base64url") }))
          .reason,
        "user_handle_mismatch",
      );
      const r = await login(undefined, key);
      assert.equal(r.result, "allow");
      assert.equal(r.userId, (await t.services.findUser("handle"))!.id);
      assert.equal((await login(undefined, key, { userHandle: null })).reason, "user_handle_mismatch");
    });

    test("an unknown credential and another user's credential are refused", async () => {
      await userWithKey("owner");
      const stranger = new SoftAuthenticator({ origin: ORIGIN });
      stranger.register({ rp: { id: "example.edu" }, user: { id: "AAAA" }, challenge: "x" });
      assert.equal((await login("owner", stranger)).reason, "unknown_credential");
      assert.equal((await login(undefined, stranger)).reason, "unknown_credential");
    });

    test("F7: a wrong signature, a signature by another key and garbage bytes are refused", async () => {
      const key = await userWithKey("sig");
      const flip = (s: Buffer) => {
        const c = Buffer.from(s);
        c[c.length - 1] = c[c.length - 1]! ^ 1;
        return c;
      };
      assert.equal((await login("sig", key, { mangleSignature: flip })).reason, "bad_signature");
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      assert.equal((await login("sig", key, { signWith: privateKey })).reason, "bad_signature");
      assert.equal(
        (await login("sig", key, { mangleSignature: () => Buffer.from("garbage") })).reason,
        "bad_signature",
      );
      assert.equal(
        (await login("sig", key, { authenticatorData: (a) => a.subarray(0, 20) })).reason,
        "malformed",
        "truncated authenticatorData",
      );
      assert.equal(
        (await login("sig", key, { authenticatorData: (a) => Buffer.concat([a, Buffer.from([0])]) })).reason,
        "malformed",
        "extra bytes",
      );
      assert.equal(
        (await login("sig", key, { clientDataJSON: new TextEncoder().encode("{not json") })).reason,
        "malformed",
      );
      assert.equal(
        (await login("sig", key, { clientDataJSON: new Uint8Array([0xff, 0xfe, 0x7b]) })).reason,
        "malformed",
        "invalid UTF-8",
      );
      assert.equal(await failures("sig"), 7, "each refusal counts towards the webauthn lock");
      // A BOM before the JSON is dropped (UTF-8 decode): the right challenge still verifies.
      const start = await t.services.beginWebAuthnAuthentication({ username: "sig", context: "bom" });
      const json = JSON.stringify({
        type: "webauthn.get",
        challenge: start.options.challenge,
        origin: ORIGIN,
      });
      const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(json)]);
      const r = await t.services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "bom",
        response: key.assert(start.options, { clientDataJSON: bom }),
      });
      assert.equal(r.result, "allow", JSON.stringify(r));
      assert.equal(await failures("sig"), 0, "a success resets the count");
    });

    test("F7: hostile response shapes are denied cleanly, never thrown", async () => {
      const key = await userWithKey("shapes");
      const start = () => t.services.beginWebAuthnAuthentication({ username: "shapes", context: "s" });
      const good = async () => {
        const s = await start();
        return {
          s,
          r: key.assert(s.options) as { response: Record<string, unknown> } & Record<string, unknown>,
        };
      };
      const cases: Array<(r: Record<string, unknown>) => unknown> = [
        () => null,
        () => "string",
        () => [],
        (r) => ({ ...r, type: "password" }),
        (r) => ({ ...r, rawId: "other" }),
        (r) => ({ ...r, response: { ...(r["response"] as object), signature: 12 } }),
        (r) => ({ ...r, response: { ...(r["response"] as object), signature: "not base64url!" } }),
        (r) => ({ ...r, response: { ...(r["response"] as object), authenticatorData: "A".repeat(100_000) } }),
        (r) => ({ ...r, response: { ...(r["response"] as object), clientDataJSON: ["x"] } }),
        (r) => ({ ...r, response: { ...(r["response"] as object), userHandle: { x: 1 } } }),
        (r) => ({ ...r, response: "nope" }),
        (r) =>
          JSON.parse(JSON.stringify({ ...r, type: "x" }).replace("{", '{"__proto__":{"polluted":true},')),
      ];
      for (const [i, mutate] of cases.entries()) {
        const { s, r } = await good();
        const out = await t.services.finishWebAuthnAuthentication({
          ceremonyId: s.ceremonyId,
          context: "s",
          response: mutate(r),
        });
        assert.equal(out.result, "deny", `case ${i}`);
        assert.ok(
          ["malformed", "unknown_credential", "bad_signature"].includes(out.reason),
          `case ${i}: ${out.reason}`,
        );
      }
      assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
    });

    test("registration refuses wrong origin, RP ID, type, UP, long IDs, duplicate IDs, algorithms not offered and garbage CBOR", async () => {
      const proofOf = await loggedInUser("reg");
      const register = async (tamper: Tamper, context = "r") => {
        const start = await t.services.beginWebAuthnRegistration({
          username: "reg",
          proof: proofOf,
          context,
        });
        return t.services.finishWebAuthnRegistration({
          ceremonyId: start.ceremonyId,
          context,
          response: new SoftAuthenticator({ origin: ORIGIN }).register(start.options, tamper),
        });
      };
      const reason = async (tamper: Tamper) => {
        const r = await register(tamper);
        return r.result === "rejected" ? r.reason : "registered";
      };
      assert.equal(await reason({ origin: "https://evil.example" }), "origin_mismatch");
      assert.equal(await reason({ rpId: "evil.edu" }), "rp_id_mismatch");
      assert.equal(await reason({ type: "webauthn.get" }), "wrong_type");
      assert.equal(await reason({ challenge: "AAAA" }), "challenge_mismatch");
      assert.equal(await reason({ flags: FLAG.UV | FLAG.AT }), "user_not_present");
      assert.equal(await reason({ flags: FLAG.UP | FLAG.UV | FLAG.AT | FLAG.BS }), "backup_flags_invalid");
      assert.equal(await reason({ credentialId: new Uint8Array(1024).fill(7) }), "credential_id_too_long");
      assert.equal(await reason({ alg: -36 }), "algorithm_not_allowed");
      assert.equal(await reason({ attestationObject: new Uint8Array([0xa3, 0x01]) }), "malformed");
      assert.equal(
        await reason({ attestationObject: new Uint8Array([...cborHead(2, 0xffffffffn), 1, 2, 3]) }),
        "malformed",
        "a byte string claiming 4 GiB",
      );
      assert.equal(
        await reason({
          attestationObject: encodeCBOR(
            new Map<string, unknown>([
              ["fmt", "packed"],
              ["attStmt", new Map([["alg", -7]])],
              ["authData", new Uint8Array(37)],
            ]) as never,
          ),
        }),
        "rp_id_mismatch",
      );
      // 1023 bytes is the most an ID may have.
      assert.equal(await reason({ credentialId: new Uint8Array(1023).fill(9) }), "registered");
      // A credential ID already registered (to anyone) is refused (F5).
      const dup = new Uint8Array(32).fill(3);
      assert.equal(await reason({ credentialId: dup }), "registered");
      assert.equal(await reason({ credentialId: dup }), "credential_exists");
      const proofOther = await loggedInUser("reg-other");
      const start = await t.services.beginWebAuthnRegistration({
        username: "reg-other",
        proof: proofOther,
        context: "o",
      });
      const other = await t.services.finishWebAuthnRegistration({
        ceremonyId: start.ceremonyId,
        context: "o",
        response: new SoftAuthenticator({ origin: ORIGIN }).register(start.options, { credentialId: dup }),
      });
      assert.equal(other.result === "rejected" && other.reason, "credential_exists");
    });

    test("A1/A4: the webauthn class locks after N failures and a correct assertion is then refused; a disabled user is denied", async () => {
      const lockT = await createTestContext(dialect, {
        ...CONFIG,
        "policy.lockout.maxFailures": 3,
        "policy.lockout.delayAfter": 3,
      });
      try {
        const proofResult = await (async () => {
          const app = await enrollActiveTOTP(lockT, "locky");
          return lockT.services.verifyPasscode({ username: "locky", passcode: app.codeAt() });
        })();
        const reg = await lockT.services.beginWebAuthnRegistration({
          username: "locky",
          proof: { txid: proofResult.txid },
          context: "c",
        });
        const key = new SoftAuthenticator({ origin: ORIGIN });
        await lockT.services.finishWebAuthnRegistration({
          ceremonyId: reg.ceremonyId,
          context: "c",
          response: key.register(reg.options),
        });
        const attempt = async (tamper: Tamper = {}) => {
          const s = await lockT.services.beginWebAuthnAuthentication({ username: "locky", context: "c" });
          return lockT.services.finishWebAuthnAuthentication({
            ceremonyId: s.ceremonyId,
            context: "c",
            response: key.assert(s.options, tamper),
          });
        };
        for (let i = 0; i < 3; i++)
          assert.equal((await attempt({ origin: "https://evil.example" })).result, "deny");
        const locked = await attempt();
        assert.equal(locked.reason, "locked_out");
        assert.ok(locked.retryAt && locked.retryAt > lockT.clock.now());
        // The passcode class is untouched (A6: classes are separate).
        await lockT.services.unlockUser(ADMIN, "locky");
        assert.equal((await attempt()).result, "allow");
        await lockT.services.setUserStatus(ADMIN, "locky", "disabled");
        const s = await lockT.services
          .beginWebAuthnAuthentication({ username: "locky", context: "c" })
          .catch((e) => e);
        assert.equal(s.code, "ERR_FORBIDDEN");
      } finally {
        await lockT.close();
      }
    });

    /** The services of another node over the same database: its own caches, nothing read by this one. */
    const otherNode = () => servicesOfAnotherNode(t, "node-b");

    /** Another node's services whose store records which of its write paths a finish took. */
    const recordingNode = (calls: string[]) =>
      servicesOfAnotherNode(t, "node-c", {
        methods: ["transaction", "commitWebAuthnAllow"],
        call: (method, run) => {
          calls.push(method);
          return run();
        },
      });

    async function loginWith(
      services: ReturnType<typeof otherNode>,
      username: string,
      key: SoftAuthenticator,
    ) {
      const start = await services.beginWebAuthnAuthentication({ username, context: "w" });
      return services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "w",
        response: key.assert(start.options),
      });
    }

    const credentialIdOf = (key: SoftAuthenticator) =>
      Buffer.from(key.credentials[0]!.id).toString("base64url");

    test("a login finished on another node than it began on is decided there, in its transaction", async () => {
      const key = await userWithKey("roaming");
      const start = await t.services.beginWebAuthnAuthentication({ username: "roaming", context: "r" });
      const r = await otherNode().finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "r",
        response: key.assert(start.options),
      });
      assert.equal(r.result, "allow");
      assert.equal((await t.store.findAuthLogByTxid(r.txid))?.reason, "valid_assertion");
    });

    test("what this node read before is not trusted: a key removed, used or flagged on another node counts there", async () => {
      // Each login below begins and ends here, after this node read the key in an earlier login.
      const removed = await userWithKey("gone-elsewhere");
      assert.equal((await login("gone-elsewhere", removed)).result, "allow");
      const start = await t.services.beginWebAuthnAuthentication({
        username: "gone-elsewhere",
        context: "g",
      });
      const [view] = await otherNode().listWebAuthnCredentials("gone-elsewhere");
      await otherNode().removeWebAuthnCredential(ADMIN, {
        username: "gone-elsewhere",
        credentialId: view!.id,
      });
      const r = await t.services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "g",
        response: removed.assert(start.options),
      });
      assert.deepEqual([r.result, r.reason], ["deny", "unknown_credential"]);
      assert.equal(await failures("gone-elsewhere"), 1);

      // The other node's login moved the counter past what this node saw: this assertion's counter went back.
      const cloned = await userWithKey("used-elsewhere");
      assert.equal((await login("used-elsewhere", cloned, { counter: 3 })).result, "allow");
      const here = await t.services.beginWebAuthnAuthentication({ username: "used-elsewhere", context: "u" });
      const there = await otherNode().beginWebAuthnAuthentication({
        username: "used-elsewhere",
        context: "u",
      });
      const b = otherNode();
      assert.equal(
        (
          await b.finishWebAuthnAuthentication({
            ceremonyId: there.ceremonyId,
            context: "u",
            response: cloned.assert(there.options, { counter: 9 }),
          })
        ).result,
        "allow",
      );
      const late = await t.services.finishWebAuthnAuthentication({
        ceremonyId: here.ceremonyId,
        context: "u",
        response: cloned.assert(here.options, { counter: 5 }),
      });
      assert.equal(late.reason, "counter_regression");
      assert.equal((await t.store.findWebAuthnCredential(credentialIdOf(cloned)))?.status, "suspect");

      // Flagged on another node: refused here although this node last saw it active.
      const flagged = await userWithKey("flagged-elsewhere");
      assert.equal((await login("flagged-elsewhere", flagged)).result, "allow");
      const next = await t.services.beginWebAuthnAuthentication({
        username: "flagged-elsewhere",
        context: "f",
      });
      const row = await t.store.findWebAuthnCredential(credentialIdOf(flagged));
      assert.ok(await t.store.markWebAuthnCredentialSuspect(row!.id));
      const refused = await t.services.finishWebAuthnAuthentication({
        ceremonyId: next.ceremonyId,
        context: "f",
        response: flagged.assert(next.options),
      });
      assert.deepEqual([refused.result, refused.reason], ["deny", "credential_suspect"]);
    });

    test("an assertion for a prompt login that has ended writes nothing: the ceremony, the counter and the log stay as they were", async () => {
      const key = await userWithKey("ended-login");
      for (const finisher of [t.services, otherNode()]) {
        const start = await t.services.beginWebAuthnAuthentication({ username: "ended-login", context: "e" });
        const response = key.assert(start.options);
        const before = await t.store.findWebAuthnCredential(credentialIdOf(key));
        await assert.rejects(
          finisher.finishWebAuthnAuthentication({
            ceremonyId: start.ceremonyId,
            context: "e",
            response,
            loginSessionId: "LS00000000000000000",
            txid: `ended-${finisher === t.services ? "here" : "there"}`,
          }),
          { code: "ERR_LOGIN_SESSION_ENDED" },
        );
        assert.equal(
          (await t.store.findWebAuthnCredential(credentialIdOf(key)))?.signCount,
          before?.signCount,
        );
        assert.equal(
          await t.store.findAuthLogByTxid(`ended-${finisher === t.services ? "here" : "there"}`),
          undefined,
        );
        // The ceremony was not used: the same answer completes a login without one.
        const again = await t.services.finishWebAuthnAuthentication({
          ceremonyId: start.ceremonyId,
          context: "e",
          response,
        });
        assert.equal(again.result, "allow");
      }
    });

    if (dialect === "postgres")
      test("PostgreSQL: of two finishes racing for one key's counter, the higher wins; the other is a concurrent attempt, logged under the user", async () => {
        const key = await userWithKey("racer");
        assert.equal((await login("racer", key, { counter: 10 })).result, "allow");
        const row = await t.store.findWebAuthnCredential(credentialIdOf(key));
        const a = await t.services.beginWebAuthnAuthentication({ username: "racer", context: "r" });
        const b = await t.services.beginWebAuthnAuthentication({ username: "racer", context: "r" });
        // Another connection holds the key's row: both statements pass their checks, then queue for it.
        const other = new pg.Client({ connectionString: PG_URL });
        await other.connect();
        try {
          await other.query("begin");
          await other.query(`select 1 from ${t.db.schema}.webauthn_credentials where id = $1 for update`, [
            row!.id,
          ]);
          const higher = t.services.finishWebAuthnAuthentication({
            ceremonyId: b.ceremonyId,
            context: "r",
            response: key.assert(b.options, { counter: 12 }),
          });
          await new Promise((resolve) => setTimeout(resolve, 300));
          const lower = t.services.finishWebAuthnAuthentication({
            ceremonyId: a.ceremonyId,
            context: "r",
            response: key.assert(a.options, { counter: 11 }),
          });
          await new Promise((resolve) => setTimeout(resolve, 300));
          await other.query("commit");
          const [won, lost] = await Promise.all([higher, lower]);
          assert.equal(won.result, "allow");
          assert.deepEqual(
            [lost.result, lost.reason, lost.factor, lost.userId],
            ["deny", "concurrent_attempt", "webauthn", won.userId],
          );
          const line = await t.store.findAuthLogByTxid(lost.txid);
          assert.deepEqual(
            [line?.result, line?.reason, line?.userId],
            ["deny", "concurrent_attempt", won.userId],
          );
          assert.equal((await t.store.findWebAuthnCredential(credentialIdOf(key)))?.signCount, 12);
        } finally {
          await other.end();
        }
      });

    test("F1: one ceremony finished twice at once allows once; the counter and the log agree", async () => {
      const key = await userWithKey("twice-at-once");
      const start = await t.services.beginWebAuthnAuthentication({ username: "twice-at-once", context: "t" });
      const response = key.assert(start.options);
      const finish = () =>
        t.services.finishWebAuthnAuthentication({ ceremonyId: start.ceremonyId, context: "t", response });
      const results = await Promise.all([
        finish(),
        finish(),
        otherNode().finishWebAuthnAuthentication({ ceremonyId: start.ceremonyId, context: "t", response }),
      ]);
      assert.deepEqual(results.map((r) => r.result).sort(), ["allow", "deny", "deny"]);
      for (const r of results.filter((x) => x.result === "deny")) assert.equal(r.reason, "unknown_ceremony");
      const allowed = results.find((r) => r.result === "allow")!;
      const user = (await t.services.findUser("twice-at-once"))!;
      const { entries } = await t.store.listAuthLog({
        minTime: t.clock.now(),
        maxTime: t.clock.now(),
        limit: 50,
        userIds: [user.id],
      });
      assert.deepEqual(
        entries.filter((e) => e.result === "allow" && e.factor === "webauthn").map((e) => e.txid),
        [allowed.txid],
      );
    });

    test("the completion gate re-reads at completion: a user disabled after the ceremony began is denied", async () => {
      const key = await userWithKey("late");
      const start = await t.services.beginWebAuthnAuthentication({ username: "late", context: "c" });
      await t.services.setUserStatus(ADMIN, "late", "disabled");
      const r = await t.services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "c",
        response: key.assert(start.options),
      });
      assert.equal(r.result, "deny");
      assert.equal(r.reason, "user_disabled");
    });

    test("keys are renamed and removed by their owner only; removal is audited and takes effect at once", async () => {
      const key = await userWithKey("manage");
      await userWithKey("intruder");
      const [cred] = await t.services.listWebAuthnCredentials("manage");
      await assert.rejects(
        t.services.renameWebAuthnCredential(ADMIN, {
          username: "intruder",
          credentialId: cred!.id,
          name: "mine",
        }),
        { code: "ERR_NOT_FOUND" },
      );
      const renamed = await t.services.renameWebAuthnCredential(ADMIN, {
        username: "manage",
        credentialId: cred!.id,
        name: "  Work laptop\u0007 ",
      });
      assert.equal(renamed.name, "Work laptop");
      await assert.rejects(
        t.services.removeWebAuthnCredential(ADMIN, { username: "intruder", credentialId: cred!.id }),
        { code: "ERR_NOT_FOUND" },
      );
      await t.services.removeWebAuthnCredential(ADMIN, { username: "manage", credentialId: cred!.id });
      assert.deepEqual(await t.services.listWebAuthnCredentials("manage"), []);
      await assert.rejects(t.services.beginWebAuthnAuthentication({ username: "manage", context: "c" }), {
        code: "ERR_NOT_FOUND",
      });
      assert.equal((await login(undefined, key)).reason, "unknown_credential");
    });

    test("a used ceremony is gone: a user who logs in more often than the cap allows live ceremonies is never refused", async () => {
      const key = await userWithKey("frequent");
      const cap = t.config.webauthn.maxCeremoniesPerUser;
      for (let i = 0; i <= cap; i++) assert.equal((await login("frequent", key)).result, "allow");
      await t.services.pruneExpiredRows();
      t.clock.advance(t.config.webauthn.timeoutSeconds * 1000 + 1);
      const after = await t.services.pruneExpiredRows();
      // Nothing of those logins was left to prune.
      assert.equal(after.steps.find((s) => s.name === "WebAuthn ceremonies")?.deleted, 0);
    });

    test("A1: with failures on record when the login began, the finish reads the lock before any check", async () => {
      const key = await userWithKey("failed-once");
      assert.equal((await login("failed-once", key, { origin: "https://evil.example" })).result, "deny");
      const calls: string[] = [];
      const services = recordingNode(calls);
      const start = await services.beginWebAuthnAuthentication({ username: "failed-once", context: "f" });
      const r = await services.finishWebAuthnAuthentication({
        ceremonyId: start.ceremonyId,
        context: "f",
        response: key.assert(start.options),
      });
      assert.equal(r.result, "allow");
      assert.deepEqual(calls, ["transaction"], "decided in the transaction, with no write tried before it");
      assert.equal(await failures("failed-once"), 0, "the allow clears the class");
      // Clear again: the next login is decided on what the node read.
      calls.length = 0;
      assert.equal((await loginWith(services, "failed-once", key)).result, "allow");
      assert.deepEqual(calls, ["commitWebAuthnAllow"]);
    });

    test("ceremonies are capped per user and per source, and housekeeping prunes expired ones", async () => {
      await userWithKey("spam");
      const cap = t.config.webauthn.maxCeremoniesPerUser;
      for (let i = 0; i < cap; i++)
        await t.services.beginWebAuthnAuthentication({ username: "spam", context: "c" });
      await assert.rejects(t.services.beginWebAuthnAuthentication({ username: "spam", context: "c" }), {
        code: "ERR_RATE_LIMITED",
      });
      const sourceCap = t.config.webauthn.maxCeremoniesPerSource;
      for (let i = 0; i < sourceCap; i++)
        await t.services.beginWebAuthnAuthentication({ context: "c", ip: "192.0.2.7" });
      await assert.rejects(t.services.beginWebAuthnAuthentication({ context: "c", ip: "192.0.2.7" }), {
        code: "ERR_RATE_LIMITED",
      });
      // An IPv6 /64 is one source, as for every other limit per source: a new address in it changes nothing.
      for (let i = 0; i < sourceCap; i++)
        await t.services.beginWebAuthnAuthentication({
          context: "c",
          ip: `2001:db8:1:2::${(i + 1).toString(16)}`,
        });
      await assert.rejects(
        t.services.beginWebAuthnAuthentication({ context: "c", ip: "2001:db8:1:2:ffff:ffff:ffff:ffff" }),
        { code: "ERR_RATE_LIMITED" },
      );
      await t.services.beginWebAuthnAuthentication({ context: "c", ip: "2001:db8:1:3::1" });
      t.clock.advance(t.config.webauthn.timeoutSeconds * 1000 + 1);
      const report = await t.services.pruneExpiredRows();
      const step = report.steps.find((s) => s.name === "WebAuthn ceremonies");
      assert.ok(step && step.deleted >= cap + 2 * sourceCap + 1, JSON.stringify(step));
      await t.services.beginWebAuthnAuthentication({ username: "spam", context: "c" });
    });
  });
}
