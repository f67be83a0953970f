// An activation QR code's link opened in Chromium past its rate limit: a page in the browser's language (English,
// Traditional Chinese) that says how long to wait and offers Try again, axe-clean; not the JSON error.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { BARCODE_RATE, createActivationBarcodeURL } from "../../src/http/activation-barcode.ts";
import { chromiumMissing, launchChromium } from "./support/chromium.ts";
import { expectNoAxeViolations } from "./support/prompt-page.ts";
import { ADMIN, TwofoldUnderTest } from "./support/twofold-server.ts";

const missing = chromiumMissing();

const TEXT = {
  en: {
    locale: "en-GB",
    title: "Too many requests",
    message: "This code was opened too many times from your network. Try again in 1 minute.",
    tryAgain: "Try again",
  },
  "zh-Hant": {
    locale: "zh-HK",
    title: "要求次數過多",
    message: "你的網絡開啟此代碼的次數過多。請於 1 分鐘後再試。",
    tryAgain: "再試一次",
  },
} as const;

describe("an activation QR code's link past its limit, in Chromium", { skip: missing }, () => {
  let twofold: TwofoldUnderTest;
  let browser: Browser;
  let link: string;
  const problems: string[] = [];

  before(async () => {
    twofold = await TwofoldUnderTest.start("Example University");
    await twofold.runtime.services.createUser(ADMIN, { username: "amy" });
    const ticket = await twofold.runtime.services.createDeviceActivation(ADMIN, "amy");
    link = await createActivationBarcodeURL(twofold.runtime, ticket);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await twofold?.close();
  });

  test("the link shows its QR code, then (opened too often) a page with the time to wait and Try again", async () => {
    const context = await browser.newContext({ locale: "en-GB" });
    context.setDefaultTimeout(20_000);
    try {
      const page = await context.newPage();
      const first = await page.goto(link);
      assert.equal(first?.status(), 200);
      assert.equal(first?.headers()["content-type"], "image/png");
      // The rest of the minute's allowance, as a page's images would use it.
      await page.evaluate(
        async ({ url, n }) => {
          for (let i = 0; i < n; i++) await fetch(url);
        },
        { url: link, n: BARCODE_RATE.requests - 1 },
      );
      // From here on (Chromium's own image viewer above styles itself inline, which the CSP refuses).
      page.on("pageerror", (e) => problems.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) problems.push(m.text());
      });
      const limited = await page.goto(link);
      assert.equal(limited?.status(), 429);
      const text = TEXT.en;
      assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), text.title);
      assert.equal((await page.getByRole("alert").textContent())?.trim(), text.message);
      assert.equal(await page.title(), `Error: ${text.title}`);
      const again = page.getByRole("link", { name: text.tryAgain });
      assert.equal(await again.getAttribute("href"), new URL(link).pathname);
      // Try again while still limited: the same page again, never the JSON error.
      await again.click();
      await page.getByRole("heading", { level: 1, name: text.title }).waitFor();
      assert.doesNotMatch((await page.content()) ?? "", /ERR_RATE_LIMITED/);
      assert.deepEqual(problems, [], "no script or CSP error");
    } finally {
      await context.close();
    }
  });

  for (const lang of ["en", "zh-Hant"] as const) {
    test(`${lang}: the limit page in the browser's language passes axe-core`, async () => {
      const text = TEXT[lang];
      // axe is injected as a script: this context bypasses the page's CSP.
      const context = await browser.newContext({ locale: text.locale, bypassCSP: true });
      context.setDefaultTimeout(20_000);
      try {
        const page = await context.newPage();
        assert.equal((await page.goto(link))?.status(), 429);
        assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), text.title);
        assert.equal((await page.getByRole("alert").textContent())?.trim(), text.message);
        await page.getByRole("link", { name: text.tryAgain }).waitFor();
        await expectNoAxeViolations(page, `activation QR code limit (${lang})`);
      } finally {
        await context.close();
      }
    });
  }
});
