// The demo inbox in Chromium, as a newcomer uses it after `npm start`: the demo users' texts and e-mails land on the start
// page (recipients masked, newest first, live with script, Refresh without), and a texted passcode logs in. English and
// Traditional Chinese messages, the inbox itself in both languages, axe-clean.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext } from "playwright-core";
import { chromiumMissing, launchChromium } from "./support/chromium.ts";
import { expectNoAxeViolations } from "./support/prompt-page.ts";
import { StartPage } from "./support/start-page.ts";
import { TwofoldUnderTest } from "./support/twofold-server.ts";

const missing = chromiumMissing();

describe("the demo inbox in Chromium", { skip: missing }, () => {
  let server: TwofoldUnderTest;
  let browser: Browser;
  let context: BrowserContext;
  let axeContext: BrowserContext;

  before(async () => {
    server = await TwofoldUnderTest.start("Demo University", { demo: true, inbox: true });
    browser = await launchChromium();
    context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    // axe-core is injected as a script: this context bypasses the CSP; the other enforces it.
    axeContext = await browser.newContext({ bypassCSP: true });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("a texted passcode: sent from the start page, read in its inbox, typed back, allowed", async () => {
    const start = await StartPage.open(context, server.url);
    // The demo users have a verified phone, each shown masked.
    const users = start.page.getByRole("table", { name: "Demo users" });
    await users.getByText("text message to +*******0156").waitFor();
    await users.getByText("text message to +*******0157").waitFor();
    assert.equal(await start.page.getByRole("heading", { name: "Demo inbox" }).count(), 1);

    assert.equal(await start.textMe("alice"), 200);
    assert.equal(await start.heading().textContent(), "Text message sent");
    assert.match((await start.result().textContent()) ?? "", /A passcode was texted to \+\*{7}0156\./);
    const newest = start.inboxEntries().first();
    assert.match((await newest.textContent()) ?? "", /Text message to \+\*{7}0156/);
    const text = (await newest.locator("pre").textContent()) ?? "";
    const code = /passcode: (\d{6})\./.exec(text)?.[1];
    assert.ok(code, `a passcode in ${JSON.stringify(text)}`);
    assert.equal(await newest.locator("pre").getAttribute("lang"), "en");

    await start.backToStartPage();
    assert.equal(await start.checkPasscode("alice", code), 200);
    assert.match((await start.result().textContent()) ?? "", /^Allowed/);
    // Used once: the same code again is refused.
    await start.backToStartPage();
    await start.checkPasscode("alice", code);
    assert.match((await start.result().textContent()) ?? "", /^Denied/);
    assert.deepEqual(start.problems, []);
  });

  test("the inbox stays live: a text sent from another window appears at once, in Traditional Chinese, announced", async () => {
    const watching = await StartPage.open(context, server.url);
    const bobsTexts = watching.inboxEntries().filter({ hasText: "登入驗證碼" });
    assert.equal(await bobsTexts.count(), 0);
    const other = await StartPage.open(context, server.url);
    assert.equal(await other.textMe("bob"), 200);
    // No reload in the watching window: the text appears by itself.
    await bobsTexts.first().waitFor({ timeout: 10_000 });
    const text = bobsTexts.first();
    assert.match((await text.textContent()) ?? "", /Text message to \+\*{7}0157/);
    assert.match((await text.locator("pre").textContent()) ?? "", /登入驗證碼：\d{6}，5 分鐘內有效/);
    assert.equal(await text.locator("pre").getAttribute("lang"), "zh-Hant");
    assert.match(
      (await watching.page.locator("#demo-inbox [data-live]").textContent()) ?? "",
      /^New (text message|e-mail) to /,
    );
    // Newest first, and the e-mails the demo sent are there too, addressed masked.
    const times = await watching
      .inboxEntries()
      .locator("time")
      .evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime") ?? ""));
    assert.deepEqual([...times].sort().reverse(), times);
    assert.deepEqual(watching.problems, []);
    assert.deepEqual(other.problems, []);
  });

  test("without script the Refresh link shows what arrived; e-mails appear with their subject", async () => {
    const noScript = await browser.newContext({ javaScriptEnabled: false });
    try {
      const start = await StartPage.open(noScript, server.url);
      const before = await start.inboxEntries().count();
      // The demo's set-up queued e-mails (a sign-in method added); the outbox sends them within seconds.
      const deadline = Date.now() + 20_000;
      let mail = 0;
      while (mail === 0) {
        assert.ok(Date.now() < deadline, "an e-mail reached the inbox");
        await start.refreshInbox();
        assert.equal(new URL(start.page.url()).pathname, "/");
        mail = await start.inboxEntries().filter({ hasText: "E-mail to" }).count();
        if (mail === 0) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok((await start.inboxEntries().count()) >= before);
      const email = start.inboxEntries().filter({ hasText: "E-mail to" }).first();
      assert.match((await email.textContent()) ?? "", /E-mail to [ab]\*+@demo\.twofold\.test/);
      assert.ok((await email.locator(".subject").count()) === 1);
    } finally {
      await noScript.close();
    }
  });

  test("the start page with its inbox and the text-message page are axe-clean, English and Chinese messages alike", async () => {
    const page = await axeContext.newPage();
    await page.goto(server.url);
    assert.ok(
      (await page.locator('#demo-inbox pre[lang="zh-Hant"]').count()) > 0,
      "a Chinese message is shown",
    );
    await expectNoAxeViolations(page, "start page with the demo inbox");
    const form = page.getByRole("form", { name: "Text me a passcode" });
    await form.getByLabel("Username").fill("nobody");
    await form.getByRole("button", { name: "Text me a passcode" }).click();
    await page.getByRole("heading", { name: "No text message sent" }).waitFor();
    await expectNoAxeViolations(page, "text-message result page");
    await page.close();
  });

  test("zh-Hant: the inbox in Traditional Chinese: a text sent, shown live and announced, a second one refused for now, axe-clean", async () => {
    const watchingContext = await browser.newContext({ locale: "zh-HK" });
    const sendingContext = await browser.newContext({ locale: "zh-HK", bypassCSP: true });
    for (const c of [watchingContext, sendingContext]) c.setDefaultTimeout(15_000);
    try {
      const watching = await StartPage.open(watchingContext, server.url, "zh-Hant");
      assert.equal(await watching.page.getByRole("heading", { name: "示範收件匣" }).count(), 1);
      const users = watching.page.getByRole("table", { name: "示範使用者" });
      await users.getByText("短訊至 +*******0156（可在下方的示範收件匣閱讀）").waitFor();
      // alice was texted by an earlier test: wait out the 30 s before another text may go to her.
      const last = await watching
        .inboxEntries()
        .filter({ hasText: "+*******0156" })
        .locator("time")
        .evaluateAll((ts) => ts.map((t) => Date.parse(t.getAttribute("datetime") ?? "")));
      const wait = Math.max(0, ...last.map((at) => at + 31_000 - Date.now()));
      await new Promise((r) => setTimeout(r, wait));
      const before = await watching.inboxEntries().count();

      const sender = await StartPage.open(sendingContext, server.url, "zh-Hant");
      await expectNoAxeViolations(sender.page, "start page with the demo inbox (zh-Hant)");
      assert.equal(await sender.textMe("alice"), 200);
      assert.equal(await sender.heading().textContent(), "已傳送短訊");
      assert.match(
        (await sender.result().textContent()) ?? "",
        /^驗證碼已以短訊傳送至 \+\*{7}0156。請在下方的示範收件匣閱讀/,
      );
      assert.match((await sender.inboxEntries().first().textContent()) ?? "", /短訊至 \+\*{7}0156，\d{4}-/);
      await expectNoAxeViolations(sender.page, "text-message sent page (zh-Hant)");

      // The watching window shows it by itself, in its words, and says so.
      await watching.inboxEntries().nth(before).waitFor({ timeout: 10_000 });
      assert.match((await watching.inboxEntries().first().textContent()) ?? "", /^\s*短訊至 \+\*{7}0156，/);
      assert.match(
        (await watching.page.locator("#demo-inbox [data-live]").textContent()) ?? "",
        /^新(短訊|電郵)至 /,
      );

      // At once again: refused for now, in Chinese.
      await sender.backToStartPage();
      assert.equal(await sender.textMe("alice"), 200);
      assert.equal(await sender.heading().textContent(), "未有傳送短訊");
      assert.match((await sender.result().textContent()) ?? "", /^請於 \d+ 秒後再試。$/);
      await expectNoAxeViolations(sender.page, "text-message refused page (zh-Hant)");
      assert.deepEqual(watching.problems, []);
    } finally {
      await watchingContext.close();
      await sendingContext.close();
    }
  });
});
