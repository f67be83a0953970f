// the Universal Prompt in Chromium: lockout, no script, Other options and language, untrusted links, Web SDK v2
// Duo's official Node SDK (@duosecurity/duo_universal 3.0.0) over TLS, the prompt driven in Chromium as a user would, pushes
// answered by the command-line authenticator after typing the number shown, axe-core on every page in both languages.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { signHS512 } from "../../src/core/crypto/jwt.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { chromiumMissing } from "./support/chromium.ts";
import { promptHarness } from "./support/prompt-harness.ts";
import { PromptPage } from "./support/prompt-page.ts";

const missing = chromiumMissing() ?? (haveOpenSSL("Universal Prompt tests") ? undefined : "openssl missing");

describe("the Universal Prompt in Chromium: lockout, no script, Other options and language, untrusted links, Web SDK v2", {
  skip: missing,
}, () => {
  const h = promptHarness({ totp: ["lou", "vic"], devices: ["alice", "nora"] });
  const { newPage, startLogin, exchange, answer, axeBothLanguages } = h;

  test("ten wrong passcodes lock the factor; then the right one gets the same words (A5)", async () => {
    const { page, prompt } = await newPage("en");
    await startLogin(page, "lou");
    const max = h.s.duo.t.runtime.config.policy.lockout.maxFailures;
    for (let i = 0; i < max; i++) await prompt.submitPasscode(i % 2 ? "123456" : "654321");
    const wrong = await prompt.alertText();
    assert.match(
      wrong,
      /Too many incorrect attempts\. Try again in \d+ minutes?, or contact the IT service desk\./,
    );
    await prompt.submitPasscode(h.totps.get("lou")!());
    assert.equal(await prompt.alertText(), wrong);
    await page.close();
  });

  test("without script: Continue waits for the answer server-side, then logs in", async () => {
    const noScript = await h.browser.newContext({
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
      await page.waitForURL(`${h.s.app.origin}/callback?**`);
      assert.equal((await exchange(login, "nora")).auth_context.factor, "duo_push");
    } finally {
      await noScript.close();
    }
  });

  test("Other options → Enter a passcode, the language switch remembered, Not you? and the expired page", async () => {
    const { page, prompt } = await newPage("en");
    const login = await startLogin(page, "alice");
    await prompt.openOtherOptions();
    await prompt.switchLanguage("繁體中文");
    assert.equal(await prompt.headingText(), "選擇登入方法");
    await prompt.chooseEnterPasscode();
    assert.equal(await prompt.headingText(), "輸入驗證碼", "the choice is remembered on the next page");
    await prompt.switchLanguage("English");
    const passcode = await h.s.duo.device(h.devices.get("alice")!, ["passcode", "--json"]);
    const code = (JSON.parse(passcode.stdout) as { passcodes: Array<{ code: string }> }).passcodes[0]!.code;
    await prompt.submitPasscode(code);
    await page.waitForURL(`${h.s.app.origin}/callback?**`);
    assert.equal((await exchange(login, "alice")).auth_context.factor, "duo_mobile_passcode");

    // Not you?: the login ends at once; its page then says it expired and offers the way back.
    const second = await startLogin(page, "alice");
    await prompt.openOtherOptions();
    await prompt.choosePush();
    const promptURL = page.url();
    await prompt.notMe();
    await page.waitForURL(`${h.s.app.origin}/callback?**`);
    assert.equal((await h.s.app.callback(second.state)).get("error"), "access_denied");
    await page.goto(promptURL);
    assert.equal(await prompt.headingText(), "Login page expired");
    assert.match(
      await prompt.alertText(),
      /This login page has expired\. Return to Campus Portal and log in again\./,
    );
    await axeBothLanguages(promptURL, "page expired");
    await prompt.returnToApp("Campus Portal");
    await page.waitForURL(`${h.s.app.origin}/callback?**`);
    await page.close();
  });

  test("links that cannot be trusted: an unregistered redirect URI, a forged or none-alg request, a bad handle", async () => {
    const { page, prompt } = await newPage("en");
    const hits = h.s.app.hits.length;
    await startLogin(page, "alice", `${h.s.app.origin}/other-callback`);
    assert.equal(new URL(page.url()).host, h.s.duo.host, "no redirect to an unregistered URI");
    assert.equal(await prompt.headingText(), "Link not valid");
    await page.goto(`https://${h.s.duo.host}/prompt/${"0".repeat(32)}`);
    assert.equal(await prompt.headingText(), "Link not valid");
    await axeBothLanguages(page.url(), "bad link");
    assert.equal(h.s.app.hits.length, hits);
    await page.close();

    const now = Math.floor(Date.now() / 1000);
    const claims = {
      response_type: "code",
      scope: "openid",
      exp: now + 300,
      client_id: h.s.app.ikey,
      redirect_uri: h.s.app.redirectUri,
      state: "x".repeat(36),
      duo_uname: "alice",
    };
    const authorize = (jwt: string) =>
      h.s.request(
        "GET",
        `/oauth/v1/authorize?${new URLSearchParams({ response_type: "code", client_id: h.s.app.ikey, request: jwt })}`,
      );
    const forged = await authorize(signHS512(claims, new Uint8Array(Buffer.from("z".repeat(40)))));
    assert.equal(forged.status, 400);
    assert.equal(forged.headers.location, undefined);
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const none = await authorize(`${part({ alg: "none" })}.${part(claims)}.`);
    assert.equal(none.status, 400);
    assert.equal(none.headers.location, undefined);
    const key = new Uint8Array(Buffer.from(h.s.app.skey));
    const expired = await authorize(signHS512({ ...claims, exp: now - 600 }, key));
    assert.equal(expired.status, 302);
    const back = new URL(String(expired.headers.location));
    assert.equal(`${back.origin}${back.pathname}`, h.s.app.redirectUri);
    assert.equal(back.searchParams.get("error"), "invalid_request");
    assert.equal(back.searchParams.get("state"), "x".repeat(36));
    // One request, one login: a HEAD (a link checker) starts none, the GET starts it, the same URL again is sent back.
    const once = signHS512({ ...claims, state: "o".repeat(36) }, key);
    const url = `/oauth/v1/authorize?${new URLSearchParams({ response_type: "code", client_id: h.s.app.ikey, request: once })}`;
    assert.equal((await h.s.request("HEAD", url)).status, 200);
    const first = await authorize(once);
    assert.equal(first.status, 302);
    assert.match(String(first.headers.location), /^\/prompt\/[0-9a-f]{32}$/);
    const again = new URL(String((await authorize(once)).headers.location));
    assert.equal(`${again.origin}${again.pathname}`, h.s.app.redirectUri);
    assert.deepEqual(
      [again.searchParams.get("error"), again.searchParams.get("state")],
      ["invalid_request", "o".repeat(36)],
    );
    // Python's SDK sends the token and health-check parameters in the query string of an empty POST.
    const assertion = signHS512(
      {
        iss: h.s.app.ikey,
        sub: h.s.app.ikey,
        aud: `https://${h.s.duo.host}/oauth/v1/health_check`,
        jti: "j".repeat(36),
        exp: now + 300.25,
      },
      key,
    );
    const python = await h.s.request(
      "POST",
      `/oauth/v1/health_check?${new URLSearchParams({ client_id: h.s.app.ikey, client_assertion: assertion })}`,
    );
    assert.equal(python.status, 200, python.body);
    const replayed = await h.s.request("POST", "/oauth/v1/health_check", {
      form: { client_id: h.s.app.ikey, client_assertion: assertion },
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

  test("Web SDK v2: duo_web's iframe on the application's page; the AUTH response is verified by duo_web", async () => {
    const { page, prompt } = await newPage("en");
    await page.goto(`${h.s.app.origin}/v2?user=vic`);
    const frame = page.frameLocator("#duo_iframe");
    await frame.getByRole("heading", { level: 1, name: "Enter a passcode" }).waitFor();
    assert.equal(
      await frame.getByRole("button", { name: "Not you?" }).count(),
      0,
      "no way out of the frame but the page",
    );
    await frame.getByLabel("Passcode").fill(h.totps.get("vic")!());
    await frame.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${h.s.app.origin}/v2-result`);
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Verified: vic");
    assert.deepEqual(h.s.app.v2Results, ["vic"]);
    assert.ok(prompt);
    // A TX signed with another key, or a parent on an origin the application never registered, starts nothing.
    const sig = (await import("@duosecurity/duo_web")).default.sign_request(
      h.s.app.ikey,
      "s".repeat(40),
      h.s.app.akey,
      "vic",
    );
    const forged = await h.s.request(
      "GET",
      `/frame/web/v1/auth?${new URLSearchParams({ tx: sig.split(":")[0]!, parent: `${h.s.app.origin}/v2` })}`,
    );
    assert.equal(forged.status, 400);
    const good = (await import("@duosecurity/duo_web")).default.sign_request(
      h.s.app.ikey,
      h.s.app.skey,
      h.s.app.akey,
      "vic",
    );
    const elsewhere = await h.s.request(
      "GET",
      `/frame/web/v1/auth?${new URLSearchParams({ tx: good.split(":")[0]!, parent: "https://evil.example/page" })}`,
    );
    assert.equal(elsewhere.status, 400);
    const framed = await h.s.request(
      "GET",
      `/frame/web/v1/auth?${new URLSearchParams({ tx: good.split(":")[0]!, parent: `${h.s.app.origin}/v2` })}`,
    );
    assert.equal(framed.status, 302);
    const promptPage = await h.s.request("GET", String(framed.headers.location));
    const promptCSP = String(
      (await h.s.request("GET", String(promptPage.headers.location))).headers["content-security-policy"],
    );
    assert.match(promptCSP, new RegExp(`frame-ancestors ${h.s.app.origin}(;|$)`));
    await page.close();
  });

  test("no page logged a console error (CSP violations included)", () => {
    assert.deepEqual(h.problems, []);
  });
});
