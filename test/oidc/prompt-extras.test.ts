// The prompt beyond push and passcodes, on both databases: Web SDK v2 (TX in, AUTH out, checked by duo_web itself) and
// trusted browsers bound to the login (offer, trust, skip through the gate, rollback when the login has ended).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import duoWeb from "@duosecurity/duo_web";
import { randomHex } from "../../src/core/crypto/index.ts";
import { signHS512, verifyHS512 } from "../../src/core/crypto/jwt.ts";
import { createTestContext, type TestContext } from "../support/deps.ts";
import { ADMIN, enrollActiveTOTP } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

const PAGE = "https://portal.example.edu/login";
const AKEY = "b".repeat(40);

for (const dialect of await dialects()) {
  describe(`prompt: Web SDK v2 and trusted browsers (${dialect})`, () => {
    let t: TestContext;
    let app: { id: string; secret: string };

    before(async () => {
      t = await createTestContext(dialect);
      // duo_web signs with the time of day.
      t.clock.set(Date.now());
      const created = await t.services.createApplication(ADMIN, {
        name: "Portal",
        type: "web-sdk",
        redirectURIs: [PAGE],
      });
      app = { id: created.application.id, secret: created.secretKey.reveal() };
    });
    after(async () => {
      await t?.close();
    });

    test("Web SDK v2: duo_web's TX starts a login; its AUTH answer passes duo_web's verify_response", async () => {
      // The test clock is now one TOTP step past the real time (the enrolment's code is used up).
      const totp = await enrollActiveTOTP(t, "ada");
      const [tx, appSig] = duoWeb.sign_request(app.id, app.secret, AKEY, "ada").split(":") as [
        string,
        string,
      ];
      const started = await t.services.startFrameLogin({ tx, parent: `${PAGE}?next=/home`, ip: null });
      assert.ok(started.ok, JSON.stringify(started));
      const r = await t.services.verifyPromptPasscode(started.handle, {
        passcode: totp.codeAt(),
        ip: null,
      });
      assert.equal(r.result, "allow");
      const finished = await t.services.finishPromptLogin(started.handle);
      assert.equal(finished.frame?.parentOrigin, "https://portal.example.edu");
      assert.match(finished.frame!.message, /^AUTH\|[A-Za-z0-9+/=]+\|[0-9a-f]{40}$/);
      assert.equal(
        duoWeb.verify_response(app.id, app.secret, AKEY, `${finished.frame!.message}:${appSig}`),
        "ada",
      );
      assert.equal(
        await t.services.offerPromptTrust(started.handle),
        null,
        "no trusted browser inside another site's frame",
      );

      const refused = async (txValue: string, parent = PAGE) => {
        const r = await t.services.startFrameLogin({ tx: txValue, parent, ip: null });
        return r.ok ? "started" : r.reason;
      };
      assert.equal(await refused(tx, "https://evil.example/login"), "parent");
      const forged = duoWeb.sign_request(app.id, "f".repeat(40), AKEY, "ada").split(":")[0]!;
      assert.equal(await refused(forged), "signature");
      assert.equal(await refused(`APP|${tx.split("|")[1]}|${tx.split("|")[2]}`), "malformed");
      // A TX starts three logins at most (two pages rendered within one second carry the same TX); the refusals
      // above used none of them.
      assert.equal(await refused(tx), "started");
      assert.equal(await refused(tx), "started");
      for (let i = 0; i < 3; i++) assert.equal(await refused(tx), "used");
      t.clock.advance(301_000);
      assert.equal(await refused(tx), "expired");
      t.clock.set(Date.now());
    });

    test("trusted browser: offered after a factor, the next login skips it through the gate (remembered_device)", async () => {
      const totp = await enrollActiveTOTP(t, "bea");
      const start = async () => {
        const now = t.clock.now() / 1000;
        const r = await t.services.startOIDCLogin({
          params: {
            client_id: app.id,
            request: signHS512(
              {
                response_type: "code",
                scope: "openid",
                exp: now + 300,
                client_id: app.id,
                redirect_uri: PAGE,
                state: randomHex(18),
                duo_uname: "bea",
              },
              new Uint8Array(Buffer.from(app.secret)),
            ),
          },
          audiences: ["https://twofold.test"],
          ip: null,
        });
        assert.ok(r.ok);
        return r.handle;
      };
      const first = await start();
      assert.equal(await t.services.offerPromptTrust(first), null, "nothing to offer before the factor");
      assert.equal(
        (await t.services.verifyPromptPasscode(first, { passcode: totp.codeAt(), ip: null })).result,
        "allow",
      );
      assert.deepEqual(await t.services.offerPromptTrust(first), { days: 30 });
      const grant = await t.services.trustPromptBrowser(first, {
        userAgent: "Mozilla/5.0 (X11; Linux) Chrome/140",
        ip: null,
      });
      await t.services.finishPromptLogin(first);

      // A login that ended cannot be completed by the cookie: everything rolls back, the cookie stays good.
      const ended = await start();
      await t.services.abandonPromptLogin(ended, "cancelled");
      await assert.rejects(
        t.services.skipPromptWithTrustedBrowser(ended, { token: grant.token.reveal(), ip: null }),
        { code: "ERR_LOGIN_SESSION_ENDED" },
      );

      const second = await start();
      const skip = await t.services.skipPromptWithTrustedBrowser(second, {
        token: grant.token.reveal(),
        ip: null,
      });
      assert.equal(skip.result, "allow");
      const login = await t.services.openPromptLogin(second, { touch: false });
      assert.equal(login?.session.status, "allowed");
      assert.equal(login?.session.factor, "remembered_device");
      assert.equal(await t.services.offerPromptTrust(second), null, "a skip is not offered trust again");
      const code = new URL((await t.services.finishPromptLogin(second)).redirectURL).searchParams.get(
        "duo_code",
      )!;
      const token = await t.services.redeemOIDCCode({
        params: {
          grant_type: "authorization_code",
          code,
          redirect_uri: PAGE,
          client_id: app.id,
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: signHS512(
            {
              iss: app.id,
              sub: app.id,
              aud: "https://twofold.test/oauth/v1/token",
              jti: randomHex(18),
              exp: t.clock.now() / 1000 + 60,
            },
            new Uint8Array(Buffer.from(app.secret)),
          ),
        },
        origins: ["https://twofold.test"],
        origin: "https://twofold.test",
      });
      assert.ok(token.ok);
      const claims = verifyHS512(token.body.id_token, new Uint8Array(Buffer.from(app.secret)));
      assert.ok(claims.ok);
      const context = claims.claims["auth_context"] as Record<string, unknown>;
      assert.deepEqual([context["factor"], context["reason"]], ["remembered_device", "remembered_device"]);

      // The presented cookie was rotated at use: the old value no longer skips.
      const third = await start();
      const old = await t.services.skipPromptWithTrustedBrowser(third, {
        token: grant.token.reveal(),
        ip: null,
      });
      assert.equal(old.result, "none");
    });
  });
}
