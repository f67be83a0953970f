// The demo start page in Chromium, as a newcomer uses it after `npm start`: every form on it and on its result
// pages submitted for real (I2's same-origin check must let our own pages through) in English and Traditional Chinese
// (the browser's language, or the switch, remembered), each page axe-clean, and a form on another site refused.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext } from "playwright-core";
import { decodeBase32 } from "../../src/core/base32.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import { AuthenticatorPage } from "./support/authenticator-page.ts";
import { chromiumMissing, launchChromium } from "./support/chromium.ts";
import { expectNoAxeViolations } from "./support/prompt-page.ts";
import { StartPage } from "./support/start-page.ts";
import { TwofoldUnderTest } from "./support/twofold-server.ts";

const missing = chromiumMissing();

/** alice's passcode at `at` (now unless given), from the otpauth URI the start page's QR code holds (RFC 6238). */
function alicePasscode(uri: string, at = Date.now()): string {
  const secret = new URL(uri).searchParams.get("secret")!;
  return generateTOTP({ key: decodeBase32(secret)!, algorithm: "SHA1", digits: 6, period: 30 }, at);
}

/** What a user reads on the start page and its result pages, in each language. */
const TEXT = {
  en: {
    locale: "en-GB",
    running: "Twofold is running",
    passcodeResult: "Passcode result",
    denied: "Denied: Incorrect passcode. Please try again.",
    allowed: "Allowed (factor: totp)",
    activateTitle: "Activate the Twofold Authenticator",
    qrCaption: /Scan this with the Twofold/,
    pushSent: "Push sent",
    noPush: "No push sent",
    noSuchUser: "No such user.",
    pushResult: "Push result",
    allow: "allow (approved)",
    switchTo: "繁體中文",
  },
  "zh-Hant": {
    locale: "zh-HK",
    running: "Twofold 正在運行",
    passcodeResult: "驗證碼結果",
    denied: "已拒絕：驗證碼不正確，請再試一次。",
    allowed: "已允許（驗證方法：totp）",
    activateTitle: "啟用 Twofold Authenticator",
    qrCaption: /請用 Twofold Authenticator（或手機相機）掃描此代碼/,
    pushSent: "已傳送推送通知",
    noPush: "未有傳送推送通知",
    noSuchUser: "沒有此使用者。",
    pushResult: "推送結果",
    allow: "允許（已批准）",
    switchTo: "English",
  },
} as const;

/** Another site: one page whose form posts to the demo, sent with the given Referrer-Policy. */
async function startOtherSite(target: string): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const policy = new URL(request.url ?? "/", "http://x").searchParams.get("policy") ?? "origin";
    response.writeHead(200, { "content-type": "text/html; charset=utf-8", "referrer-policy": policy });
    response.end(`<!doctype html><html lang="en"><title>Prize</title>
<form method="post" action="${target}/demo/activate"><input name="username" value="alice">
<button type="submit">Claim your prize</button></form></html>`);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  // localhost and 127.0.0.1 are different sites to the browser.
  return { url: `http://localhost:${(server.address() as AddressInfo).port}`, server };
}

describe("the demo start page in Chromium", { skip: missing }, () => {
  let server: TwofoldUnderTest;
  let browser: Browser;
  let context: BrowserContext;
  let start: StartPage;

  before(async () => {
    server = await TwofoldUnderTest.start("Demo University", { demo: true });
    browser = await launchChromium();
    context = await browser.newContext();
    context.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  // alice in English, bob in Chinese: at most three pushes a user in five minutes (D4), two each here.
  for (const [lang, user] of [
    ["en", "alice"],
    ["zh-Hant", "bob"],
  ] as const) {
    test(`${lang}: every form on the start page and its result pages works, shows what happened, and is axe-clean`, async (t) => {
      const text = TEXT[lang];
      // The browser's language picks the page's; the flow runs with the CSP enforced, axe in a context without it.
      const browsing = await browser.newContext({ locale: text.locale });
      const axeing = await browser.newContext({ locale: text.locale, bypassCSP: true });
      // The Twofold Authenticator on "a phone": its own browser, in English.
      const phone = await browser.newContext({ locale: "en-GB" });
      for (const c of [browsing, axeing, phone]) c.setDefaultTimeout(15_000);
      try {
        const axe = await StartPage.open(axeing, server.url, lang);
        await t.test("When I open the start page, Then it is in my browser's language", async () => {
          start = await StartPage.open(browsing, server.url, lang);
          assert.equal(await start.heading().textContent(), text.running);
          assert.equal(await start.page.locator("html").getAttribute("lang"), lang);
          assert.equal(await start.form(start.words.checkPasscodeForm).count(), 1);
          await expectNoAxeViolations(axe.page, `start page (${lang})`);
        });

        await t.test("And I check a wrong passcode for alice, Then I read that it was denied", async () => {
          assert.equal(await start.checkPasscode("alice", "000000"), 200);
          assert.equal(await start.heading().textContent(), text.passcodeResult);
          assert.equal(await start.result().textContent(), text.denied);
          await axe.checkPasscode("alice", "000001");
          await expectNoAxeViolations(axe.page, `passcode result (${lang})`);
          await axe.backToStartPage();
          await start.backToStartPage();
        });

        await t.test(
          "When I type the passcode alice's authenticator app shows, Then it is allowed",
          async () => {
            // Chinese second: the next time step's code, as a code used once is never taken again.
            const code = alicePasscode(server.demo!.aliceTOTPURI, Date.now() + (lang === "en" ? 0 : 30_000));
            assert.equal(await start.checkPasscode("alice", code), 200);
            assert.equal(await start.result().textContent(), text.allowed);
            await start.backToStartPage();
          },
        );

        let link = "";
        await t.test(
          `When I ask for an activation link for ${user}, Then I see its QR code and link`,
          async () => {
            assert.equal(await start.requestActivationLink(user), 200);
            assert.equal(await start.heading().textContent(), text.activateTitle);
            assert.equal(await start.page.getByRole("img", { name: text.qrCaption }).count(), 1);
            link = await start.activationLink();
            assert.ok(link.startsWith(`${server.url}/authenticator#activate=`), link);
            await axe.requestActivationLink(user);
            await expectNoAxeViolations(axe.page, `activation page (${lang})`);
            await axe.backToStartPage();
          },
        );

        let app: AuthenticatorPage;
        await t.test(
          `And I open the link in the Twofold Authenticator, Then ${user}'s account is added`,
          async () => {
            app = await AuthenticatorPage.open(phone, server.url);
            const answer = await app.openActivationLink(link);
            assert.equal(answer.username, user);
            await app.account(user).waitFor();
          },
        );

        let code = "";
        await t.test(
          `When I send ${user} a push from the start page, Then it shows the code to type`,
          async () => {
            await start.backToStartPage();
            assert.equal(await start.sendPush(user), 200);
            assert.equal(await start.heading().textContent(), text.pushSent);
            code = await start.pushCode();
            assert.match(code, /^\d{6}$/);
          },
        );

        await t.test(
          "And I approve it in the app with that code, Then the result page says allow",
          async () => {
            await app.approve(await start.pushTxid(), code);
            assert.equal(await start.showPushResult(), 200);
            assert.equal(await start.heading().textContent(), text.pushResult);
            assert.equal(await start.result().textContent(), text.allow);
          },
        );

        await t.test("And the push pages, sent, refused and answered, are axe-clean", async () => {
          assert.equal(await axe.sendPush("nobody"), 200);
          assert.equal(await axe.heading().textContent(), text.noPush);
          assert.equal(await axe.result().textContent(), text.noSuchUser);
          await expectNoAxeViolations(axe.page, `no push sent (${lang})`);
          await axe.backToStartPage();
          assert.equal(await axe.sendPush(user), 200);
          await expectNoAxeViolations(axe.page, `push sent (${lang})`);
          await app.approve(await axe.pushTxid(), await axe.pushCode());
          assert.equal(await axe.showPushResult(), 200);
          assert.equal(await axe.result().textContent(), text.allow);
          await expectNoAxeViolations(axe.page, `push result (${lang})`);
        });

        await t.test("Then every form these pages showed was submitted by a step above", async () => {
          assert.deepEqual([...start.formsSeen].sort(), [
            "GET /demo/push/:id",
            "POST /demo/activate",
            "POST /demo/passcode",
            "POST /demo/push",
          ]);
          assert.deepEqual([...start.formsSubmitted].sort(), [...start.formsSeen].sort());
          assert.deepEqual(start.problems, []);
        });
      } finally {
        await browsing.close();
        await axeing.close();
        await phone.close();
      }
    });
  }

  test("the language switch: the other language at once, remembered on the next visit and on result pages", async () => {
    const browsing = await browser.newContext({ locale: "en-GB" });
    browsing.setDefaultTimeout(15_000);
    try {
      const start = await StartPage.open(browsing, server.url, "en");
      assert.equal(await start.heading().textContent(), TEXT.en.running);
      const nav = start.page.getByRole("navigation", { name: "Language" });
      assert.equal(await nav.locator('[aria-current="true"]').textContent(), "English");
      await nav.getByRole("link", { name: TEXT.en.switchTo }).click();
      await start.page.waitForLoadState();
      assert.equal(await start.heading().textContent(), TEXT["zh-Hant"].running);
      assert.equal(await start.page.locator("html").getAttribute("lang"), "zh-Hant");
      // Remembered: the plain address, and a form's result page, stay in Chinese.
      const again = await StartPage.open(browsing, server.url, "zh-Hant");
      assert.equal(await again.heading().textContent(), TEXT["zh-Hant"].running);
      assert.equal(await again.checkPasscode("alice", "000000"), 200);
      assert.equal(await again.result().textContent(), TEXT["zh-Hant"].denied);
      await again.backToStartPage();
      const zhNav = again.page.getByRole("navigation", { name: "語言" });
      await zhNav.getByRole("link", { name: TEXT["zh-Hant"].switchTo }).click();
      await again.page.waitForLoadState();
      assert.equal(await again.heading().textContent(), TEXT.en.running);
      assert.deepEqual([...start.problems, ...again.problems], []);
    } finally {
      await browsing.close();
    }
  });

  test("a form on another site that posts to the demo is refused (403), whatever its Referrer-Policy", async (t) => {
    const other = await startOtherSite(server.url);
    try {
      for (const policy of ["origin", "no-referrer", "unsafe-url"]) {
        await t.test(
          `When a page on another site with Referrer-Policy ${policy} makes me submit its form`,
          async () => {
            const page = await context.newPage();
            try {
              await page.goto(`${other.url}/?policy=${policy}`);
              const response = page.waitForResponse((r) => r.request().isNavigationRequest());
              await page.getByRole("button", { name: "Claim your prize" }).click();
              assert.equal((await response).status(), 403);
              await page.waitForLoadState();
              const body = (await page.locator("body").textContent()) ?? "";
              assert.match(body, /Forbidden/);
              assert.doesNotMatch(body, /activate=/, "no activation link reaches the other site's victim");
            } finally {
              await page.close();
            }
          },
        );
      }
    } finally {
      other.server.close();
    }
  });
});
