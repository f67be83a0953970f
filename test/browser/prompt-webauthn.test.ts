// WebAuthn in the login prompt, in Chromium with a virtual authenticator, through Duo's SDK: "Add a key" after a phone
// login, then a login with the key from Other options, and P14 when the key is gone; both languages, axe-clean.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Browser, CDPSession, Page } from "playwright-core";
import { decodeBase32 } from "../../src/core/base32.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import { ADMIN } from "../http/support.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { type PromptTestServer, startPromptServer } from "../support/universal-prompt.ts";
import { chromiumMissing, launchChromium } from "./support/chromium.ts";
import { expectNoAxeViolations, PromptPage } from "./support/prompt-page.ts";

const missing = chromiumMissing() ?? (haveOpenSSL("prompt WebAuthn tests") ? undefined : "openssl missing");

/** A free port: WebAuthn's origin (https://localhost:PORT) is fixed when the server's configuration is loaded. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "localhost", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const TEXT = {
  en: {
    locale: "en-GB",
    addKey: "Add a key",
    addNow: "Add now",
    notNow: "Not now",
    keyName: "Name for this key",
    thisDevice: "This device",
    logInWith: "Log in with This device",
    continue: "Continue",
    failed: "That didn't work: it was cancelled, timed out, or isn't set up for your account.",
    otherOptions: /Other options/,
  },
  "zh-Hant": {
    locale: "zh-HK",
    addKey: "加入密鑰",
    addNow: "立即加入",
    notNow: "暫時不要",
    keyName: "此密鑰的名稱",
    thisDevice: "此裝置",
    logInWith: "使用此裝置登入",
    continue: "繼續",
    failed: "未能完成：操作已取消、逾時，或未有為你的帳戶設定。",
    otherOptions: /其他選項/,
  },
} as const;

describe("WebAuthn in the login prompt, in Chromium", { skip: missing }, () => {
  let s: PromptTestServer;
  let browser: Browser;
  const problems: string[] = [];

  before(async () => {
    s = await startPromptServer({ port: await freePort() });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  async function userWithApp(username: string): Promise<() => string> {
    const { services } = s.duo.t.runtime;
    await services.createUser(ADMIN, { username });
    const e = await services.enrollTOTP(ADMIN, username);
    const params = {
      key: decodeBase32(e.secret.reveal())!,
      algorithm: "SHA1" as const,
      digits: 6,
      period: 30,
    };
    const code = (offset = 0) => generateTOTP(params, Date.now() + offset);
    await services.confirmTOTP(ADMIN, e.credentialId, code());
    // The confirming code is used up: logins use the next step's code (accepted within ±1 step).
    return () => code(30_000);
  }

  async function startLogin(page: Page, username: string) {
    const sdk = s.sdk();
    const state = sdk.generateState();
    await page.goto(await sdk.createAuthUrl(username, state));
    return { sdk, state };
  }

  for (const lang of ["en", "zh-Hant"] as const) {
    test(`${lang}: "Not now" goes on to the application, and the offer is not made again in this browser`, async () => {
      const text = TEXT[lang];
      const username = `later-${lang}`.toLowerCase();
      const code = await userWithApp(username);
      const context = await browser.newContext({
        ignoreHTTPSErrors: true,
        locale: text.locale,
        bypassCSP: true,
      });
      context.setDefaultTimeout(20_000);
      const page = await context.newPage();
      const prompt = new PromptPage(page);
      try {
        const cdp = await context.newCDPSession(page);
        await cdp.send("WebAuthn.enable", { enableUI: false });
        await cdp.send("WebAuthn.addVirtualAuthenticator", {
          options: {
            protocol: "ctap2",
            transport: "internal",
            hasUserVerification: true,
            isUserVerified: true,
          },
        });
        const first = await startLogin(page, username);
        await prompt.submitPasscode(code());
        await page.waitForURL(/\/add-key$/);
        await page.getByRole("button", { name: text.notNow }).click();
        const query = await s.app.callback(first.state);
        await page.waitForURL(/\/callback\?/);
        const result = await first.sdk.exchangeAuthorizationCodeFor2FAResult(
          query.get("duo_code")!,
          username,
        );
        assert.equal(result.auth_result.result, "allow");
        assert.deepEqual(await s.duo.t.runtime.services.listWebAuthnCredentials(username), []);
        // Next login in this browser: straight back to the application after the passcode.
        const second = await startLogin(page, username);
        const { codes } = await s.duo.t.runtime.services.issueBypassCodes(ADMIN, username, { uses: 1 });
        await prompt.submitPasscode(codes.reveal()[0]!);
        await s.app.callback(second.state);
        await page.waitForURL(/\/callback\?/);
      } finally {
        await context.close();
      }
    });

    test(`${lang}: after a passcode from the phone I add this computer's authenticator, then log in with it; P14 and Other options when it is gone`, async (t) => {
      const text = TEXT[lang];
      const username = `key-${lang}`.toLowerCase();
      const code = await userWithApp(username);
      // bypassCSP: axe-core is injected as a script (the CSP itself is checked by the other prompt tests).
      const context = await browser.newContext({
        ignoreHTTPSErrors: true,
        locale: text.locale,
        bypassCSP: true,
      });
      context.setDefaultTimeout(20_000);
      const page = await context.newPage();
      page.on("pageerror", (e) => problems.push(`${page.url()}: ${e.message}`));
      page.on("console", (m) => {
        if (
          m.type() === "error" &&
          !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())
        )
          problems.push(`${page.url()}: ${m.text()}`);
      });
      const prompt = new PromptPage(page);
      let cdp: CDPSession;
      let authenticatorId = "";
      try {
        await t.test("Given my computer has a built-in authenticator (Windows Hello, Touch ID)", async () => {
          cdp = await context.newCDPSession(page);
          await cdp.send("WebAuthn.enable", { enableUI: false });
          ({ authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
            options: {
              protocol: "ctap2",
              ctap2Version: "ctap2_1",
              transport: "internal",
              hasResidentKey: true,
              hasUserVerification: true,
              isUserVerified: true,
              automaticPresenceSimulation: true,
            },
          }));
        });

        await t.test(
          "When I log in with my app's passcode, I am offered to add a key, and I add one",
          async () => {
            const login = await startLogin(page, username);
            await prompt.submitPasscode(code());
            await page.waitForURL(/\/add-key$/);
            assert.equal(await prompt.headingText(), text.addKey);
            await page.locator("form[data-ceremony=registration][data-webauthn-ready=true]").waitFor();
            await expectNoAxeViolations(page, `Add a key (${lang})`);
            await page.getByLabel(text.keyName).fill("Blue key");
            await page.getByRole("button", { name: text.addNow }).click();
            // Added, then on to the application with the login's code.
            const query = await s.app.callback(login.state);
            // The browser lands on the application before the next login starts.
            await page.waitForURL(/\/callback\?/);
            const result = await login.sdk.exchangeAuthorizationCodeFor2FAResult(
              query.get("duo_code")!,
              username,
            );
            assert.equal(result.auth_result.result, "allow");
            assert.equal(result.auth_context.factor, "duo_mobile_passcode");
            const keys = await s.duo.t.runtime.services.listWebAuthnCredentials(username);
            assert.deepEqual(
              keys.map((k) => [k.name, k.transports]),
              [["Blue key", ["internal"]]],
            );
          },
        );

        await t.test(
          "When I log in again, the prompt starts with my key, and Continue logs me in",
          async () => {
            const login = await startLogin(page, username);
            await page.waitForURL(/\/webauthn$/);
            assert.equal(await prompt.headingText(), text.logInWith);
            await page.locator("form[data-ceremony=authentication][data-webauthn-ready=true]").waitFor();
            await expectNoAxeViolations(page, `Before WebAuthn (${lang})`);
            await page.getByRole("button", { name: text.continue, exact: true }).click();
            const query = await s.app.callback(login.state);
            // The browser lands on the application before the next login starts.
            await page.waitForURL(/\/callback\?/);
            const result = await login.sdk.exchangeAuthorizationCodeFor2FAResult(
              query.get("duo_code")!,
              username,
            );
            assert.equal(result.auth_result.result, "allow");
            assert.equal(result.auth_context.factor, "webauthn_security_key");
          },
        );

        await t.test(
          "When the key is gone, I see P14 and can still choose another way from Other options",
          async () => {
            await cdp.send("WebAuthn.clearCredentials", { authenticatorId });
            const login = await startLogin(page, username);
            await page.waitForURL(/\/webauthn$/);
            await page.locator("form[data-ceremony=authentication][data-webauthn-ready=true]").waitFor();
            await page.getByRole("button", { name: text.continue, exact: true }).click();
            await page.getByRole("alert").filter({ hasText: text.failed }).waitFor();
            await expectNoAxeViolations(page, `WebAuthn failed (${lang})`);
            await prompt.openOtherOptions();
            const entry = page.getByRole("link", { name: new RegExp(text.thisDevice) });
            await entry.waitFor();
            await expectNoAxeViolations(page, `Other options with a key (${lang})`);
            await prompt.chooseEnterPasscode();
            // A bypass code from the service desk: the app's next passcode may still be in the step just used.
            const { codes } = await s.duo.t.runtime.services.issueBypassCodes(ADMIN, username, { uses: 1 });
            await prompt.submitPasscode(codes.reveal()[0]!);
            const query = await s.app.callback(login.state);
            // The browser lands on the application before the next login starts.
            await page.waitForURL(/\/callback\?/);
            const result = await login.sdk.exchangeAuthorizationCodeFor2FAResult(
              query.get("duo_code")!,
              username,
            );
            assert.equal(result.auth_result.result, "allow");
          },
        );
      } finally {
        await context.close();
      }
      assert.deepEqual(problems, []);
    });
  }
});
