// Prompt logins on both databases: authorize → factor (through the completion gate) → single-use code → id_token, and each way it ends.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { generateP256Signer } from "../../src/core/crypto/ecdsa.ts";
import { randomHex } from "../../src/core/crypto/index.ts";
import { signHS512, verifyHS512 } from "../../src/core/crypto/jwt.ts";
import { TwofoldError } from "../../src/core/errors.ts";
import { canonicalPushAnswer, type PushDecision } from "../../src/core/use-cases/push.ts";
import { KyselyStore } from "../../src/store/kysely-store.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP, wrongCode } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

const ORIGIN = "https://twofold.test";
const REDIRECT = "https://portal.example.edu/duo-callback";

for (const dialect of await dialects()) {
  describe(`prompt logins (${dialect})`, () => {
    let t: TestContext;
    let app: { id: string; secret: Uint8Array; name: string };

    before(async () => {
      t = await createTestContext(dialect, {
        "policy.throttle.perAddress": 5,
        "policy.throttle.windowSeconds": 900,
      });
      const created = await t.services.createApplication(ADMIN, {
        name: "Campus Portal",
        type: "web-sdk",
        redirectURIs: [REDIRECT],
      });
      app = {
        id: created.application.id,
        secret: new Uint8Array(Buffer.from(created.secretKey.reveal(), "utf8")),
        name: created.application.name,
      };
    });
    after(async () => {
      await t?.close();
    });

    const seconds = () => t.clock.now() / 1000;
    /** A request JWT as Duo's SDKs build it (claims overridable). */
    const requestJWT = (claims: Record<string, unknown> = {}, key = app.secret) =>
      signHS512(
        {
          response_type: "code",
          scope: "openid",
          exp: seconds() + 300,
          client_id: app.id,
          redirect_uri: REDIRECT,
          state: randomHex(18),
          duo_uname: "alice",
          iss: app.id,
          aud: ORIGIN,
          use_duo_code_attribute: true,
          ...claims,
        },
        key,
      );
    const assertion = (aud: string, claims: Record<string, unknown> = {}, key = app.secret) =>
      signHS512(
        {
          iss: app.id,
          sub: app.id,
          aud,
          jti: randomHex(18),
          iat: seconds(),
          exp: seconds() + 300,
          ...claims,
        },
        key,
      );
    const authorize = (jwt: string, extra: Record<string, string> = {}) =>
      t.services.startOIDCLogin({
        params: {
          response_type: "code",
          client_id: app.id,
          request: jwt,
          redirect_uri: REDIRECT,
          scope: "openid",
          ...extra,
        },
        audiences: [ORIGIN],
        ip: "198.51.100.20",
      });
    const started = async (username = "alice", claims: Record<string, unknown> = {}) => {
      const r = await authorize(requestJWT({ duo_uname: username, ...claims }));
      assert.ok(r.ok, JSON.stringify(r));
      return r;
    };
    const redeem = (code: string, params: Record<string, string> = {}) =>
      t.services.redeemOIDCCode({
        params: {
          grant_type: "authorization_code",
          code,
          redirect_uri: REDIRECT,
          client_id: app.id,
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: assertion(`${ORIGIN}/oauth/v1/token`),
          ...params,
        },
        origins: [ORIGIN],
        origin: ORIGIN,
      });
    const codeFrom = (url: string) => new URL(url).searchParams.get("duo_code")!;

    test("a passcode completes the login; its code is redeemed once for an id_token that says allow", async () => {
      const totp = await enrollActiveTOTP(t, "alice");
      const login = await started("alice", { nonce: "n-123" });
      const r = await t.services.verifyPromptPasscode(login.handle, {
        passcode: totp.codeAt(),
        ip: "198.51.100.20",
      });
      assert.equal(r.result, "allow");
      const { redirectURL } = await t.services.finishPromptLogin(login.handle);
      const back = new URL(redirectURL);
      assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
      assert.equal(back.searchParams.get("state"), login.session.state);
      const token = await redeem(back.searchParams.get("duo_code")!);
      assert.ok(token.ok, JSON.stringify(token));
      const checked = verifyHS512(token.body.id_token, app.secret);
      assert.ok(checked.ok);
      // biome-ignore lint/suspicious/noExplicitAny: the test reads the claims field by field
      const c = checked.claims as Record<string, any>;
      assert.equal(c["iss"], `${ORIGIN}/oauth/v1/token`);
      assert.equal(c["aud"], app.id);
      assert.equal(c["preferred_username"], "alice");
      assert.equal(c["nonce"], "n-123");
      assert.deepEqual(c["auth_result"], {
        result: "allow",
        status: "allow",
        status_msg: "Login Successful",
      });
      assert.equal(c["auth_context"].factor, "duo_mobile_passcode");
      assert.equal(c["auth_context"].application.key, app.id);
      assert.equal(c["auth_context"].access_device.ip, "198.51.100.20");
      for (const key of [
        "txid",
        "timestamp",
        "isotimestamp",
        "event_type",
        "result",
        "reason",
        "alias",
        "email",
        "ood_software",
        "user",
        "auth_device",
      ])
        assert.ok(key in c["auth_context"], `auth_context.${key}`);
      assert.equal(token.body.token_type, "Bearer");
      // Single use: the same code again (and the finish again) is refused.
      const again = await redeem(back.searchParams.get("duo_code")!);
      assert.equal(!again.ok && again.error, "invalid_grant");
      await assert.rejects(t.services.finishPromptLogin(login.handle), { code: "ERR_LOGIN_SESSION_ENDED" });
      // The allow is in the authentication log once, written by the completion gate.
      const log = await t.services.listAuthLog({ minTime: 0, maxTime: t.clock.now() + 1, limit: 50 });
      assert.equal(log.entries.filter((e) => e.result === "allow" && e.applicationId === app.id).length, 1);
    });

    test("codes live 60 s; a code is bound to its client and redirect URI", async () => {
      const totp = await enrollActiveTOTP(t, "bob");
      const finish = async () => {
        const login = await started("bob");
        assert.equal(
          (await t.services.verifyPromptPasscode(login.handle, { passcode: totp.codeAt(), ip: null })).result,
          "allow",
        );
        t.clock.advance(30_000);
        return codeFrom((await t.services.finishPromptLogin(login.handle)).redirectURL);
      };
      const late = await finish();
      t.clock.advance(61_000);
      const expired = await redeem(late);
      assert.equal(!expired.ok && expired.error, "invalid_grant");
      const mismatch = await redeem(await finish(), { redirect_uri: "https://portal.example.edu/other" });
      assert.equal(!mismatch.ok && mismatch.error, "invalid_grant");
    });

    test("a passcode for a login that ended is rolled back: the code stays unused", async () => {
      const totp = await enrollActiveTOTP(t, "carol");
      const first = await started("carol");
      const returned = await t.services.abandonPromptLogin(first.handle, "cancelled");
      const back = new URL(returned!.redirectURL);
      assert.equal(back.searchParams.get("error"), "access_denied");
      assert.equal(back.searchParams.get("state"), first.session.state);
      const code = totp.codeAt();
      await assert.rejects(t.services.verifyPromptPasscode(first.handle, { passcode: code, ip: null }), {
        code: "ERR_LOGIN_SESSION_ENDED",
      });
      const second = await started("carol");
      assert.equal(
        (await t.services.verifyPromptPasscode(second.handle, { passcode: code, ip: null })).result,
        "allow",
      );
    });

    test("with nothing left to ask after a passcode, the allow itself issues the code; otherwise the offers come first", async () => {
      const totp = await enrollActiveTOTP(t, "nina");
      const typed = async (keyOffer: boolean) => {
        const login = await started("nina");
        // As the passcode form reads it: the login with its application and user.
        const read = await t.services.openPromptLogin(login.handle, { touch: false });
        const r = await t.services.verifyPromptPasscode(login.handle, {
          passcode: totp.codeAt(),
          ip: null,
          login: read!,
          keyOffer,
        });
        assert.equal(r.result, "allow");
        t.clock.advance(30_000);
        return { login, r: r.result === "allow" ? r : undefined };
      };
      // The application remembers browsers: "Trust this browser?" may follow, so the login is only allowed.
      const offered = await typed(false);
      assert.equal(offered.r?.finished, undefined);
      assert.equal(offered.r?.login?.session.status, "allowed");
      assert.deepEqual(await t.services.offerPromptTrust(offered.login.handle), {
        days: (await t.services.offerPromptTrust(offered.login.handle, offered.r?.login))?.days,
      });
      const rememberDays = (await t.store.getApplication(app.id))!.policy.rememberDays;
      await t.services.updateApplication(ADMIN, app.id, { policy: { rememberDays: 0 } });
      try {
        const direct = await typed(false);
        const back = new URL(direct.r!.finished!.redirectURL);
        assert.equal(back.searchParams.get("state"), direct.login.session.state);
        const stored = await t.services.openPromptLogin(direct.login.handle, { touch: false });
        assert.equal(stored?.session.status, "code_issued");
        // The code was issued once, by the allow: finishing again issues none.
        await assert.rejects(t.services.finishPromptLogin(direct.login.handle), {
          code: "ERR_LOGIN_SESSION_ENDED",
        });
        const token = await redeem(back.searchParams.get("duo_code")!);
        assert.ok(token.ok, JSON.stringify(token));
        assert.equal((await redeem(back.searchParams.get("duo_code")!)).ok, false, "the code is single use");
      } finally {
        await t.services.updateApplication(ADMIN, app.id, { policy: { rememberDays } });
      }
    });

    test("a login started for a name this node knows binds the user who has that name now", async () => {
      const totp = await enrollActiveTOTP(t, "olga");
      const first = await started("olga");
      const olga = await t.store.findUserByIdentifier("olga");
      assert.equal(first.session.userId, olga?.id);
      // The passcode check keeps the user it found by this name (the node's cache) ...
      const r = await t.services.verifyPromptPasscode(first.handle, { passcode: totp.codeAt(), ip: null });
      assert.equal(r.result, "allow");
      assert.equal((await started("olga")).session.userId, olga?.id);
      // ... but the name moves on (another node renames her, someone else takes it): it binds who has it now.
      await t.services.updateUser(ADMIN, "olga", { username: "olga-old" });
      assert.equal((await started("olga")).session.userId, null);
      await t.services.createUser(ADMIN, { username: "olga" });
      const newOlga = await t.store.findUserByIdentifier("olga");
      assert.notEqual(newOlga?.id, olga?.id);
      assert.equal((await started("olga")).session.userId, newOlga?.id);
      assert.equal((await started("olga-old")).session.userId, olga?.id);
    });

    test("a passcode typed into a login read just before it ended is rolled back: the code stays unused", async () => {
      const totp = await enrollActiveTOTP(t, "carl");
      const first = await started("carl");
      // The form's request read the login while it was pending (the passcode route hands that read on) ...
      const read = await t.services.openPromptLogin(first.handle, { touch: false });
      assert.equal(read?.session.status, "pending");
      // ... and it ended before the code's write: the allow's conditional write on the session finds it ended.
      await t.services.abandonPromptLogin(first.handle, "cancelled");
      const code = totp.codeAt();
      await assert.rejects(
        t.services.verifyPromptPasscode(first.handle, { passcode: code, ip: null, login: read! }),
        { code: "ERR_LOGIN_SESSION_ENDED" },
      );
      const second = await started("carl");
      const allowed = await t.services.verifyPromptPasscode(second.handle, { passcode: code, ip: null });
      assert.equal(allowed.result, "allow");
      assert.equal(
        (await t.services.openPromptLogin(second.handle, { touch: false }))?.session.status,
        "allowed",
      );
      // Used now: the same code for a third login is a replay.
      const third = await started("carl");
      assert.equal(
        (await t.services.verifyPromptPasscode(third.handle, { passcode: code, ip: null })).result,
        "deny",
      );
    });

    test("an idle prompt expires after 10 minutes; housekeeping removes ended logins", async () => {
      await enrollActiveTOTP(t, "dave");
      const login = await started("dave");
      t.clock.advance(9 * 60_000);
      assert.equal(
        (await t.services.openPromptLogin(login.handle))?.expired,
        false,
        "a page view keeps it alive",
      );
      t.clock.advance(9 * 60_000);
      assert.equal((await t.services.openPromptLogin(login.handle, { touch: false }))?.expired, false);
      t.clock.advance(10 * 60_000 + 1);
      assert.equal((await t.services.openPromptLogin(login.handle))?.expired, true);
      t.clock.advance(2 * 3600_000);
      await t.services.pruneExpiredRows();
      assert.equal(await t.services.openPromptLogin(login.handle), undefined);
    });

    describe("push", () => {
      const signer = generateP256Signer();
      let deviceId = "";
      before(async () => {
        await t.services.createUser(ADMIN, { username: "erin" });
        const ticket = await t.services.createDeviceActivation(ADMIN, "erin");
        const { device } = await t.services.activateDevice({
          token: ticket.token.reveal(),
          name: "Erin's phone",
          publicKey: Buffer.from(signer.publicKeyRaw).toString("base64url"),
        });
        deviceId = device.id;
      });
      const answer = (txid: string, decision: PushDecision, code?: string) => {
        const timestamp = t.clock.now();
        const signature = Buffer.from(
          signer.sign(canonicalPushAnswer({ txid, decision, ...(code ? { code } : {}), timestamp })),
        ).toString("base64url");
        return t.services.answerPush({
          txid,
          deviceId,
          decision,
          ...(code ? { code } : {}),
          timestamp,
          signature,
        });
      };
      const pushed = async () => {
        t.clock.advance(301_000); // past the per-user push rate window
        const login = await started("erin");
        const push = await t.services.sendPromptPush(login.handle, { ip: "198.51.100.20" });
        assert.ok(push.sent, JSON.stringify(push));
        return { login, push };
      };

      test("the approval with the right number completes the login in the answer's transaction", async () => {
        const { login, push } = await pushed();
        const reload = await t.services.sendPromptPush(login.handle, { ip: null });
        assert.ok(reload.sent && reload.reused && reload.txid === push.txid, "a reload shows the same push");
        assert.equal((await t.services.readPromptPush(login.handle))?.outcome, "pending");
        await answer(push.txid, "approve", push.code);
        const state = await t.services.readPromptPush(login.handle);
        assert.equal(state?.outcome, "approved");
        assert.equal(state?.loginStatus, "allowed");
        const token = await redeem(codeFrom((await t.services.finishPromptLogin(login.handle)).redirectURL));
        assert.ok(token.ok);
        const c = verifyHS512(token.body.id_token, app.secret);
        assert.ok(c.ok && (c.claims["auth_context"] as Record<string, unknown>)["factor"] === "duo_push");
      });

      test("wrong number, denial and a completion-gate refusal each end the push with their own outcome", async () => {
        const wrong = await pushed();
        await answer(wrong.push.txid, "approve", wrongCode(wrong.push.code));
        assert.equal((await t.services.readPromptPush(wrong.login.handle))?.outcome, "wrong_number");
        const denied = await pushed();
        await answer(denied.push.txid, "deny");
        assert.equal((await t.services.readPromptPush(denied.login.handle))?.outcome, "denied");
        const gated = await pushed();
        await t.services.setUserStatus(ADMIN, "erin", "disabled");
        await answer(gated.push.txid, "approve", gated.push.code);
        const state = await t.services.readPromptPush(gated.login.handle);
        assert.equal(state?.outcome, "account_disabled");
        assert.equal(state?.loginStatus, "pending", "no allow: nothing to finish");
        await assert.rejects(t.services.finishPromptLogin(gated.login.handle), {
          code: "ERR_LOGIN_SESSION_ENDED",
        });
        await t.services.setUserStatus(ADMIN, "erin", "active");
      });
    });

    test("client assertions: HS512 under the client's secret, this endpoint, unexpired, each jti once", async () => {
      const aud = `${ORIGIN}/oauth/v1/health_check`;
      const check = (a: string) =>
        t.services.oidcHealthCheck({ params: { client_id: app.id, client_assertion: a }, origins: [ORIGIN] });
      const good = assertion(aud, { exp: seconds() + 299.5 });
      assert.equal((await check(good)).ok, true, "a float exp is a NumericDate");
      assert.equal((await check(good)).ok, false, "the same jti again is a replay");
      const refused = [
        assertion(aud, {}, new Uint8Array(Buffer.from("x".repeat(40)))),
        assertion(`${ORIGIN}/oauth/v1/token`),
        assertion(aud, { exp: seconds() - 120 }),
        assertion(aud, { exp: seconds() + 3600 }),
        assertion(aud, { iss: "DIOTHERCLIENT0000000" }),
        noneAlg({ iss: app.id, sub: app.id, aud, jti: randomHex(18), exp: seconds() + 60 }),
        swapAlg(assertion(aud), "HS256"),
      ];
      for (const a of refused) {
        const r = await check(a);
        assert.equal(!r.ok && r.error, "invalid_client", a);
      }
    });

    test("authorize: forged, none-alg and unregistered-redirect requests are never redirected; later errors are", async () => {
      await enrollActiveTOTP(t, "frank");
      const noRedirect = [
        requestJWT({ duo_uname: "frank" }, new Uint8Array(Buffer.from("y".repeat(40)))),
        noneAlg({
          response_type: "code",
          scope: "openid",
          exp: seconds() + 300,
          client_id: app.id,
          redirect_uri: REDIRECT,
          state: randomHex(18),
          duo_uname: "frank",
        }),
        requestJWT({ duo_uname: "frank", redirect_uri: "https://portal.example.edu/duo-callback/" }),
        requestJWT({ duo_uname: "frank", redirect_uri: "https://evil.example/duo-callback" }),
      ];
      for (const jwt of noRedirect) {
        const r = await authorize(jwt);
        assert.ok(!r.ok && r.redirect === undefined, JSON.stringify(r));
      }
      const mismatch = await authorize(requestJWT({ duo_uname: "frank" }), {
        redirect_uri: "https://portal.example.edu/x",
      });
      assert.ok(!mismatch.ok && mismatch.redirect === undefined);
      const expired = await authorize(
        requestJWT({ duo_uname: "frank", exp: seconds() - 600, state: "s".repeat(30) }),
      );
      assert.ok(
        !expired.ok && expired.redirect?.uri === REDIRECT && expired.redirect.state === "s".repeat(30),
      );
      assert.equal(!expired.ok && expired.error, "invalid_request");
      const scope = await authorize(requestJWT({ duo_uname: "frank", scope: "profile" }));
      assert.equal(!scope.ok && scope.error, "invalid_scope");
      const unknownClient = await t.services.startOIDCLogin({
        params: { client_id: "DIXXXXXXXXXXXXXXXXXX", request: requestJWT() },
        audiences: [ORIGIN],
        ip: null,
      });
      assert.ok(!unknownClient.ok && unknownClient.redirect === undefined);
    });

    test("authorize: one request starts one login; the same request again starts nothing and goes back as invalid_request", async () => {
      const jwt = requestJWT({ duo_uname: "hugo", state: "h".repeat(30) });
      const first = await authorize(jwt);
      assert.ok(first.ok, JSON.stringify(first));
      for (let i = 0; i < 3; i++) {
        const again = await authorize(jwt);
        assert.ok(!again.ok, "a replayed request starts no second login");
        assert.equal(again.error, "invalid_request");
        assert.equal(again.description, "This sign-in request was already used. Sign in again.");
        assert.deepEqual(again.redirect, { uri: REDIRECT, state: "h".repeat(30) });
      }
      // A new request (a new state, as the SDK makes for each sign-in) starts a new login.
      assert.ok((await authorize(requestJWT({ duo_uname: "hugo" }))).ok);
    });

    test("authorize: a login that could not be written leaves its request unused, so a reload works", async () => {
      const jwt = requestJWT({ duo_uname: "ivy" });
      const proto = KyselyStore.prototype as unknown as {
        insertLoginSession: (...a: unknown[]) => Promise<void>;
      };
      const real = proto.insertLoginSession;
      proto.insertLoginSession = async () => {
        throw new TwofoldError("ERR_STORE_UNAVAILABLE", "the database went away");
      };
      try {
        await assert.rejects(authorize(jwt), { code: "ERR_STORE_UNAVAILABLE" });
      } finally {
        proto.insertLoginSession = real;
      }
      const reload = await authorize(jwt);
      assert.ok(reload.ok, JSON.stringify(reload));
    });

    test("prompt passcodes count toward the login throttles of the address (A6)", async () => {
      const totp = await enrollActiveTOTP(t, "gina");
      const login = await started("gina");
      const ip = "203.0.113.77";
      for (let i = 0; i < 5; i++) {
        const r = await t.services.verifyPromptPasscode(login.handle, {
          passcode: wrongCode(totp.codeAt()),
          ip,
        });
        assert.equal(r.result, "deny");
      }
      const throttled = await t.services.verifyPromptPasscode(login.handle, { passcode: totp.codeAt(), ip });
      assert.equal(throttled.result, "throttled");
    });

    test("a rotated client secret takes effect at once: the old secret signs nothing more, the new one does", async () => {
      const totp = await enrollActiveTOTP(t, "hana");
      const aud = `${ORIGIN}/oauth/v1/health_check`;
      const check = (key: Uint8Array) =>
        t.services.oidcHealthCheck({
          params: { client_id: app.id, client_assertion: assertion(aud, {}, key) },
          origins: [ORIGIN],
        });
      // The old secret in use: its requests and assertions check out.
      assert.equal((await check(app.secret)).ok, true);
      const before = await started("hana");
      const old = app.secret;
      const rotated = await t.services.rotateApplicationSecret(ADMIN, app.id);
      app.secret = new Uint8Array(Buffer.from(rotated.reveal(), "utf8"));

      assert.equal((await check(old)).ok, false);
      const oldRequest = await authorize(requestJWT({ duo_uname: "hana" }, old));
      assert.ok(!oldRequest.ok && oldRequest.error === "invalid_request", JSON.stringify(oldRequest));
      assert.equal((await check(app.secret)).ok, true);

      // A login begun before the rotation finishes; its code is exchanged under the new secret, and the id_token is
      // signed with it.
      assert.equal(
        (await t.services.verifyPromptPasscode(before.handle, { passcode: totp.codeAt(), ip: null })).result,
        "allow",
      );
      const { redirectURL } = await t.services.finishPromptLogin(before.handle);
      const refused = await redeem(codeFrom(redirectURL), {
        client_assertion: assertion(`${ORIGIN}/oauth/v1/token`, {}, old),
      });
      assert.equal(!refused.ok && refused.error, "invalid_client");
      assert.ok((await started("hana")).ok, "a request signed with the new secret starts a login");
      const token = await redeem(codeFrom(redirectURL));
      assert.ok(token.ok, JSON.stringify(token));
      assert.equal(verifyHS512(token.body.id_token, app.secret).ok, true);
      assert.equal(verifyHS512(token.body.id_token, old).ok, false);
    });
  });
}

function noneAlg(claims: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.`;
}

function swapAlg(jwt: string, alg: string): string {
  const [, claims, signature] = jwt.split(".");
  return `${Buffer.from(JSON.stringify({ alg, typ: "JWT" })).toString("base64url")}.${claims}.${signature}`;
}
