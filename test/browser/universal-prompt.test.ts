// The Universal Prompt end to end: Duo's official Node SDK (@duosecurity/duo_universal 3.0.0) over TLS, the prompt driven in
// Chromium as a user would, pushes answered by the command-line authenticator after typing the number shown, and axe-core on
// every page in English and Traditional Chinese.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { decodeBase32 } from "../../src/core/base32.ts";
import { signHS512 } from "../../src/core/crypto/jwt.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import { ADMIN } from "../http/support.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { type PromptTestServer, startPromptServer } from "../support/universal-prompt.ts";
import { chromiumMissing, launchChromium } from "./support/chromium.ts";
import { expectNoAxeViolations, PromptPage } from "./support/prompt-page.ts";

const missing = chromiumMissing() ?? (haveOpenSSL("Universal Prompt tests") ? undefined : "openssl missing");

describe("the Universal Prompt with Duo's Node SDK, in Chromium", { skip: missing }, () => {
  let s: PromptTestServer;
  let browser: Browser;
  let en: BrowserContext;
  let zh: BrowserContext;
  /** axe-core is injected as a script: these two contexts bypass the CSP, the others enforce it. */
  let axeContexts: BrowserContext[];
  const problems: string[] = [];
  const devices = new Map<string, string>();
  const totps = new Map<string, () => string>();

  /**
   * Script errors and console errors (CSP and Trusted Types violations among them) on any prompt page fail the
   * run; the browser's note on a page answered 4xx (expired, bad link, a form with an error) is no problem.
   */
  const watch = (page: Page) => {
    page.on("pageerror", (e) => problems.push(`${page.url()}: ${e.message}`));
    page.on("console", (m) => {
      if (
        m.type() === "error" &&
        !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())
      )
        problems.push(`${page.url()}: ${m.text()}`);
    });
  };
  /** A page in a browser of its own (the prompt remembers the last method per browser). */
  const newPage = async (base: BrowserContext) => {
    const ctx = await browser.newContext({
      ignoreHTTPSErrors: true,
      locale: base === zh ? "zh-HK" : "en-GB",
    });
    ctx.setDefaultTimeout(20_000);
    const page = await ctx.newPage();
    page.on("close", () => void ctx.close());
    watch(page);
    return { page, prompt: new PromptPage(page) };
  };

  before(async () => {
    s = await startPromptServer();
    const { services } = s.duo.t.runtime;
    for (const name of ["pat", "lou", "alice", "wendy", "dan", "fred", "gus", "nora"])
      await services.createUser(ADMIN, { username: name });
    for (const name of ["pat", "lou"]) {
      const e = await services.enrollTOTP(ADMIN, name);
      const params = {
        key: decodeBase32(e.secret.reveal())!,
        algorithm: "SHA1" as const,
        digits: 6,
        period: 30,
      };
      const code = () => generateTOTP(params, Date.now());
      await services.confirmTOTP(ADMIN, e.credentialId, code());
      totps.set(name, code);
    }
    for (const name of ["alice", "wendy", "dan", "fred", "gus", "nora"])
      devices.set(name, await s.duo.activateAuthenticator(name));
    browser = await launchChromium();
    en = await browser.newContext({ ignoreHTTPSErrors: true, locale: "en-GB" });
    zh = await browser.newContext({ ignoreHTTPSErrors: true, locale: "zh-HK" });
    axeContexts = [
      await browser.newContext({ ignoreHTTPSErrors: true, locale: "en-GB", bypassCSP: true }),
      await browser.newContext({ ignoreHTTPSErrors: true, locale: "zh-HK", bypassCSP: true }),
    ];
    for (const ctx of [en, zh, ...axeContexts]) ctx.setDefaultTimeout(20_000);
  });

  after(async () => {
    await browser?.close();
    await s?.close();
  });

  /** The application starts a login: the SDK's health check, state and authorize URL, the browser sent there. */
  const startLogin = async (page: Page, username: string, redirectUrl?: string) => {
    const sdk = s.sdk(redirectUrl ? { redirectUrl } : {});
    assert.equal((await sdk.healthCheck()).stat, "OK");
    const state = sdk.generateState();
    await page.goto(await sdk.createAuthUrl(username, state));
    return { sdk, state };
  };
  /** Back at the application: the SDK exchanges the code and checks the id_token. */
  const exchange = async (login: Awaited<ReturnType<typeof startLogin>>, username: string) => {
    const query = await s.app.callback(login.state);
    assert.equal(query.get("state"), login.state);
    return login.sdk.exchangeAuthorizationCodeFor2FAResult(query.get("duo_code")!, username);
  };
  /** The command-line authenticator: the txid of the pending push, then the answer (typing the number). */
  const answer = async (username: string, decision: "approve" | "deny" | "fraud", code?: string) => {
    const state = devices.get(username)!;
    const pending = await s.duo.device(state, ["pending", "--json"]);
    const txid = (JSON.parse(pending.stdout) as { pushes: Array<{ txid: string }> }).pushes[0]!.txid;
    return s.duo.device(state, [decision, txid, ...(code ? ["--code", code] : [])]);
  };
  /** A GET page in both languages through axe (its URL read again: no state changes), after `then` if given. */
  const axeBothLanguages = async (url: string, what: string, then?: (p: PromptPage) => Promise<void>) => {
    for (const [i, ctx] of axeContexts.entries()) {
      const page = await ctx.newPage();
      await page.goto(url);
      await then?.(new PromptPage(page));
      await expectNoAxeViolations(page, `${what} (${i === 0 ? "en" : "zh-Hant"})`);
      await page.close();
    }
  };

  test("passcode: the SDK's health check, the prompt's one field, and an id_token the SDK accepts", async () => {
    const { page, prompt } = await newPage(en);
    const login = await startLogin(page, "pat");
    assert.match(
      page.url(),
      /\/prompt\/[0-9a-f]{32}\/passcode$/,
      "pat has no phone: the prompt starts with a passcode",
    );
    assert.equal(await prompt.headingText(), "Enter a passcode");
    assert.ok(await page.getByText("Logging in to Campus Portal").isVisible());
    await axeBothLanguages(page.url(), "Enter a passcode");
    await prompt.submitPasscode("");
    assert.equal(await page.title(), "Error: Enter a passcode");
    assert.match(await prompt.alertText(), /Enter your passcode\./);
    await axeBothLanguages(page.url(), "passcode with an error", (p) => p.submitPasscode("12ab!"));
    await prompt.submitPasscode("000000");
    assert.match(await prompt.alertText(), /That passcode didn't work\. Check it and try again\./);
    // Full-width digits and spaces are what people paste: the prompt normalises them (ux.md §1).
    const code = totps.get("pat")!();
    const fullWidth = [...code].map((d) => String.fromCharCode(0xff10 + Number(d))).join("");
    await prompt.submitPasscode(`${fullWidth.slice(0, 3)} ${fullWidth.slice(3)}`);
    await page.waitForURL(`${s.app.origin}/callback?**`);
    const token = await exchange(login, "pat");
    assert.equal(token.preferred_username, "pat");
    assert.deepEqual(token.auth_result, { result: "allow", status: "allow", status_msg: "Login Successful" });
    assert.equal(token.auth_context.factor, "duo_mobile_passcode");
    assert.equal(token.auth_context.application.name, "Campus Portal");
    // The code is single use: the application cannot redeem it twice.
    const query = await s.app.callback(login.state);
    await assert.rejects(
      login.sdk.exchangeAuthorizationCodeFor2FAResult(query.get("duo_code")!, "pat"),
      /invalid_grant/,
    );
    await page.close();
  });

  test("push in Traditional Chinese: the number shown is typed in the authenticator; the page moves on by itself", async () => {
    const { page, prompt } = await newPage(zh);
    const login = await startLogin(page, "alice");
    assert.match(page.url(), /\/push$/);
    assert.equal(await prompt.headingText(), "請在 Twofold Authenticator 批准登入要求");
    const number = await prompt.pushNumber();
    assert.match(number, /^\d{6}$/);
    await axeBothLanguages(page.url(), "push waiting");
    const approved = await answer("alice", "approve", number);
    assert.equal(approved.code, 0, approved.stderr);
    await page.waitForURL(`${s.app.origin}/callback?**`);
    const token = await exchange(login, "alice");
    assert.equal(token.auth_context.factor, "duo_push");
    assert.equal(token.auth_context.reason, "user_approved");
    await page.close();
  });

  test("a wrong number, a denial and a fraud report each say what happened and offer a way on", async () => {
    const cases = [
      {
        user: "wendy",
        decision: "approve" as const,
        wrong: true,
        message: /numbers didn't match/,
        again: true,
      },
      {
        user: "dan",
        decision: "deny" as const,
        wrong: false,
        message: /Request denied in the app\./,
        again: true,
      },
      {
        user: "fred",
        decision: "fraud" as const,
        wrong: false,
        message: /You reported this request\./,
        again: false,
      },
    ];
    for (const c of cases) {
      const { page, prompt } = await newPage(en);
      await startLogin(page, c.user);
      const number = await prompt.pushNumber();
      const shown = page.waitForURL(/\/push$/, { waitUntil: "load" });
      await answer(
        c.user,
        c.decision,
        c.wrong ? number.replace(/^./, (d) => String((Number(d) + 1) % 10)) : undefined,
      );
      await shown;
      await page.getByRole("alert").waitFor();
      assert.match(await prompt.alertText(), c.message, c.user);
      assert.equal(
        await page.getByRole("button", { name: "Send again" }).isVisible(),
        c.again,
        `${c.user}: Send again`,
      );
      assert.ok(await page.getByRole("link", { name: "Other options" }).isVisible());
      if (c.user === "wendy") {
        await axeBothLanguages(page.url(), "push ended");
        // Send again: a new number, the old push cancelled.
        await prompt.sendAgain();
        await page.locator(".number").waitFor();
        assert.notEqual(await prompt.pushNumber(), "");
      }
      if (c.user === "fred") {
        await prompt.openOtherOptions();
        assert.equal(await prompt.headingText(), "Choose a way to log in");
        await axeBothLanguages(page.url(), "Other options");
      }
      await page.close();
    }
  });

  test("an approval after the account was disabled is refused by the completion gate; Return goes back with access_denied", async () => {
    const { page, prompt } = await newPage(en);
    const login = await startLogin(page, "gus");
    const number = await prompt.pushNumber();
    await s.duo.t.runtime.services.setUserStatus(ADMIN, "gus", "disabled");
    const refused = await answer("gus", "approve", number);
    assert.equal(refused.code, 1, "the authenticator is told the login was not approved");
    await page.waitForURL(/\/push$/, { waitUntil: "load" });
    await page.getByRole("alert").waitFor();
    assert.match(await prompt.alertText(), /Your account can't sign in here\./);
    await page.reload();
    assert.equal(await prompt.headingText(), "You can't log in this way");
    await axeBothLanguages(page.url(), "can't log in");
    await prompt.returnToApp("Campus Portal");
    await page.waitForURL(`${s.app.origin}/callback?**`);
    const query = await s.app.callback(login.state);
    assert.equal(query.get("error"), "access_denied");
    assert.equal(query.get("duo_code"), null);
    await page.close();
  });

  test("ten wrong passcodes lock the factor; then the right one gets the same words (A5)", async () => {
    const { page, prompt } = await newPage(en);
    await startLogin(page, "lou");
    const max = s.duo.t.runtime.config.policy.lockout.maxFailures;
    for (let i = 0; i < max; i++) await prompt.submitPasscode(i % 2 ? "123456" : "654321");
    const wrong = await prompt.alertText();
    assert.match(
      wrong,
      /Too many incorrect attempts\. Try again in \d+ minutes?, or contact the IT service desk\./,
    );
    await prompt.submitPasscode(totps.get("lou")!());
    assert.equal(await prompt.alertText(), wrong);
    await page.close();
  });

  test("without script: Continue waits for the answer server-side, then logs in", async () => {
    const noScript = await browser.newContext({
      ignoreHTTPSErrors: true,
      javaScriptEnabled: false,
      locale: "en",
    });
    try {
      const page = await noScript.newPage();
      const prompt = new PromptPage(page);
      const login = await startLogin(page, "nora");
      const number = await prompt.pushNumber();
      const continued = prompt.continueAfterApproving();
      assert.equal((await answer("nora", "approve", number)).code, 0);
      await continued;
      await page.waitForURL(`${s.app.origin}/callback?**`);
      assert.equal((await exchange(login, "nora")).auth_context.factor, "duo_push");
    } finally {
      await noScript.close();
    }
  });

  test("Other options → Enter a passcode, the language switch remembered, Not you? and the expired page", async () => {
    const { page, prompt } = await newPage(en);
    const login = await startLogin(page, "alice");
    await prompt.openOtherOptions();
    await prompt.switchLanguage("繁體中文");
    assert.equal(await prompt.headingText(), "選擇登入方法");
    await prompt.chooseEnterPasscode();
    assert.equal(await prompt.headingText(), "輸入驗證碼", "the choice is remembered on the next page");
    await prompt.switchLanguage("English");
    const passcode = await s.duo.device(devices.get("alice")!, ["passcode", "--json"]);
    const code = (JSON.parse(passcode.stdout) as { passcodes: Array<{ code: string }> }).passcodes[0]!.code;
    await prompt.submitPasscode(code);
    await page.waitForURL(`${s.app.origin}/callback?**`);
    assert.equal((await exchange(login, "alice")).auth_context.factor, "duo_mobile_passcode");

    // Not you?: the login ends at once; its page then says it expired and offers the way back.
    const second = await startLogin(page, "alice");
    await prompt.openOtherOptions();
    await prompt.choosePush();
    const promptURL = page.url();
    await prompt.notMe();
    await page.waitForURL(`${s.app.origin}/callback?**`);
    assert.equal((await s.app.callback(second.state)).get("error"), "access_denied");
    await page.goto(promptURL);
    assert.equal(await prompt.headingText(), "Login page expired");
    assert.match(
      await prompt.alertText(),
      /This login page has expired\. Return to Campus Portal and log in again\./,
    );
    await axeBothLanguages(promptURL, "page expired");
    await prompt.returnToApp("Campus Portal");
    await page.waitForURL(`${s.app.origin}/callback?**`);
    await page.close();
  });

  test("links that cannot be trusted: an unregistered redirect URI, a forged or none-alg request, a bad handle", async () => {
    const { page, prompt } = await newPage(en);
    const hits = s.app.hits.length;
    await startLogin(page, "alice", `${s.app.origin}/other-callback`);
    assert.equal(new URL(page.url()).host, s.duo.host, "no redirect to an unregistered URI");
    assert.equal(await prompt.headingText(), "Link not valid");
    await page.goto(`https://${s.duo.host}/prompt/${"0".repeat(32)}`);
    assert.equal(await prompt.headingText(), "Link not valid");
    await axeBothLanguages(page.url(), "bad link");
    assert.equal(s.app.hits.length, hits);
    await page.close();

    const now = Math.floor(Date.now() / 1000);
    const claims = {
      response_type: "code",
      scope: "openid",
      exp: now + 300,
      client_id: s.app.ikey,
      redirect_uri: s.app.redirectUri,
      state: "x".repeat(36),
      duo_uname: "alice",
    };
    const authorize = (jwt: string) =>
      s.request(
        "GET",
        `/oauth/v1/authorize?${new URLSearchParams({ response_type: "code", client_id: s.app.ikey, request: jwt })}`,
      );
    const forged = await authorize(signHS512(claims, new Uint8Array(Buffer.from("z".repeat(40)))));
    assert.equal(forged.status, 400);
    assert.equal(forged.headers.location, undefined);
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const none = await authorize(`${part({ alg: "none" })}.${part(claims)}.`);
    assert.equal(none.status, 400);
    assert.equal(none.headers.location, undefined);
    const key = new Uint8Array(Buffer.from(s.app.skey));
    const expired = await authorize(signHS512({ ...claims, exp: now - 600 }, key));
    assert.equal(expired.status, 302);
    const back = new URL(String(expired.headers.location));
    assert.equal(`${back.origin}${back.pathname}`, s.app.redirectUri);
    assert.equal(back.searchParams.get("error"), "invalid_request");
    assert.equal(back.searchParams.get("state"), "x".repeat(36));
    // Python's SDK sends the token and health-check parameters in the query string of an empty POST.
    const assertion = signHS512(
      {
        iss: s.app.ikey,
        sub: s.app.ikey,
        aud: `https://${s.duo.host}/oauth/v1/health_check`,
        jti: "j".repeat(36),
        exp: now + 300.25,
      },
      key,
    );
    const python = await s.request(
      "POST",
      `/oauth/v1/health_check?${new URLSearchParams({ client_id: s.app.ikey, client_assertion: assertion })}`,
    );
    assert.equal(python.status, 200, python.body);
    const replayed = await s.request("POST", "/oauth/v1/health_check", {
      form: { client_id: s.app.ikey, client_assertion: assertion },
    });
    assert.equal(replayed.status, 400);
    assert.deepEqual(
      { ...JSON.parse(replayed.body), timestamp: 0 },
      {
        stat: "FAIL",
        code: 40002,
        timestamp: 0,
        message: "invalid_client",
        message_detail: "The provided client_assertion was invalid.",
      },
    );
  });

  test("no page logged a console error (CSP violations included)", () => {
    assert.deepEqual(problems, []);
  });
});
