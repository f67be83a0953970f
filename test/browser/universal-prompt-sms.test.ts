// the Universal Prompt in Chromium: text-message passcodes
// Duo's official Node SDK (@duosecurity/duo_universal 3.0.0) over TLS, the prompt driven in Chromium as a user would, texts
// received by a local SMSC (SMPP), the browser's country from a GeoIP database, axe-core on the pages in both languages.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { ADMIN } from "../http/support.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { buildMMDB } from "../support/mmdb-writer.ts";
import { codeIn, TestSMSC } from "../support/smsc.ts";
import { chromiumMissing } from "./support/chromium.ts";
import { promptHarness } from "./support/prompt-harness.ts";
import { expectNoAxeViolations, PromptPage } from "./support/prompt-page.ts";

const missing = chromiumMissing() ?? (haveOpenSSL("Universal Prompt tests") ? undefined : "openssl missing");

/** Browser addresses the test GeoIP database places: one in Taiwan, one in Hong Kong (the numbers are +852). */
const IN_TAIWAN = "8.8.8.8";
const IN_HONG_KONG = "9.9.9.9";
/** Send again waits this long after a text (the default of policy.sms.resendAfterSeconds). */
const RESEND_AFTER_MS = 30_000;
/** One user per case, each with a Hong Kong mobile number of their own. */
const NUMBERS: Record<string, string> = {
  sam: "+85291230001",
  mei: "+85291230002",
  rex: "+85291230003",
  stan: "+85291230004",
  quinn: "+85291230005",
  gail: "+85291230006",
  gil: "+85291230008",
  kim: "+85291230009",
  pat: "+85291230007",
};

describe("the Universal Prompt in Chromium: text-message passcodes", { skip: missing }, () => {
  const smsc = new TestSMSC();
  const dir = mkdtempSync(join(tmpdir(), "twofold-prompt-sms-"));
  const geoip = join(dir, "country.mmdb");
  before(async () => {
    await smsc.start();
    const place = (iso: string, name: string) => ({ country: { iso_code: iso, names: { en: name } } });
    writeFileSync(
      geoip,
      buildMMDB(
        [
          { cidr: "8.8.8.0/24", record: place("TW", "Taiwan") },
          { cidr: "9.9.9.0/24", record: place("HK", "Hong Kong") },
        ],
        { ipVersion: 4, recordSize: 24 },
      ),
    );
  });
  const h = promptHarness(
    { totp: ["sam", "mei", "rex", "stan", "quinn", "gail", "gil", "kim"], devices: ["pat"] },
    () => ({
      "organization.country": "HK",
      // The browser's address comes through X-Forwarded-For (the test's stand-in for a reverse proxy, H-2).
      "server.trustProxy": ["127.0.0.1", "::1", "::ffff:127.0.0.1"],
      "push.geoipFile": geoip,
      "sms.gateways": [
        { type: "smpp", name: "smsc", url: smsc.url, systemId: "twofold", password: "secret" },
      ],
      // A loaded machine must not turn a send into a refusal (the gateway-down case fails at once regardless).
      "sms.sendDeadlineMs": 15_000,
      // Four texts per user in ten minutes (the quota case fills it); the other quotas stay out of the way.
      "sms.guard.perUser.perWindow": 4,
      "sms.guard.perUser.perDay": 1000,
      "sms.guard.perNumber.perWindow": 1000,
      "sms.guard.perNumber.perDay": 1000,
      "sms.guard.perAddress.perWindow": 1000,
      "sms.guard.perAddress.perDay": 1000,
      "sms.guard.perPrefix.perWindow": 1000,
      "sms.guard.perPrefix.perDay": 1000,
    }),
  );
  const { newPage, startLogin, exchange, axeBothLanguages } = h;
  const services = () => h.s.duo.t.runtime.services;

  before(async () => {
    // Each user's number verified by the code texted to it (E2), as the portal or service desk would.
    for (const [user, number] of Object.entries(NUMBERS)) {
      const seen = smsc.submitted.length;
      const { phone } = await services().addSMSPhone(ADMIN, { user, number });
      const [text] = (await smsc.waitForSubmits(seen + 1)).slice(seen);
      await services().confirmPhoneVerification(ADMIN, { phoneId: phone.id, code: codeIn(text!.text) });
    }
  });
  after(async () => {
    await smsc.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The texts the SMSC received for a user's number since `from`. */
  const textsTo = (user: string, from = 0) =>
    smsc.submitted.slice(from).filter((s) => `+${s.to}` === NUMBERS[user]);
  /** The code in the newest text to a user (waiting for it to arrive). */
  const latestCode = async (user: string, from: number) => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const texts = textsTo(user, from);
      if (texts.length > 0) return codeIn(texts.at(-1)!.text);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no text to ${user}`);
  };
  const backAtApp = (page: Page) => page.waitForURL(`${h.s.app.origin}/callback?**`);
  const chooseText = (page: Page) =>
    page.getByRole("button", { name: /^(Text message passcode|短訊驗證碼)/ }).click();
  const from = (page: Page, ip: string) => page.context().setExtraHTTPHeaders({ "x-forwarded-for": ip });

  test("English: nothing is sent on arrival; Other options → Text message passcode; the code the SMSC received logs in; no roaming note at home", async () => {
    const { page, prompt } = await newPage("en");
    await from(page, IN_HONG_KONG);
    const seen = smsc.submitted.length;
    const login = await startLogin(page, "sam");
    assert.match(page.url(), /\/passcode$/, "an app passcode is stronger: the prompt starts there");
    await prompt.openOtherOptions();
    const entry = page.getByRole("button", { name: /^Text message passcode/ });
    assert.match((await entry.textContent()) ?? "", /Send a code to \+852 •••• 0001/);
    assert.equal(textsTo("sam", seen).length, 0, "Other options sends nothing");
    await axeBothLanguages(page.url(), "Other options with text messages");
    await chooseText(page);
    await page.waitForURL(/\/sms\/passcode$/);
    assert.equal(await prompt.headingText(), "Enter a passcode");
    assert.equal(
      ((await page.locator("#sms-sent").textContent()) ?? "").trim(),
      "Sent to +852 •••• 0001. The code works for 5 minutes.",
    );
    assert.equal(await page.getByText(/^Abroad\?/).count(), 0, "the number is at home: no roaming note");
    // The screen reader hears the send with the field it lands in.
    assert.equal(await page.locator("#passcode:focus").count(), 1, "the field has the focus");
    assert.match((await page.locator("#passcode").getAttribute("aria-describedby")) ?? "", /sms-sent/);
    // Send again waits 30 s, counted down on screen.
    assert.match(
      (await page.getByText(/You can send another text in \d+ seconds?\./).textContent()) ?? "",
      /in (2\d|30) seconds/,
    );
    assert.equal(await page.getByRole("button", { name: "Send again" }).isVisible(), false);
    assert.equal(textsTo("sam", seen).length, 1, "one text");
    const code = await latestCode("sam", seen);
    await axeBothLanguages(page.url(), "the text-message passcode screen");
    // Usable at 320 px: nothing runs off the side, and Log in is still a full-size target.
    await page.setViewportSize({ width: 320, height: 640 });
    assert.equal(
      await page.evaluate(() => {
        const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } })
          .document.documentElement;
        return root.scrollWidth;
      }),
      320,
    );
    const logIn = await page.getByRole("button", { name: "Log in" }).boundingBox();
    assert.ok(logIn && logIn.height >= 44 && logIn.width <= 320, JSON.stringify(logIn));
    assert.equal(textsTo("sam", seen).length, 1, "viewing the screen again sends nothing");
    await prompt.submitPasscode(code);
    await backAtApp(page);
    const token = await exchange(login, "sam");
    assert.equal(token.preferred_username, "sam");
    assert.equal(token.auth_context.factor, "sms_passcode");
    await page.close();
  });

  test("繁體中文: abroad the roaming note shows; a wrong code says so and how long codes last; the right one logs in", async () => {
    const { page, prompt } = await newPage("zh");
    await from(page, IN_TAIWAN);
    const seen = smsc.submitted.length;
    const login = await startLogin(page, "mei");
    await prompt.openOtherOptions();
    await chooseText(page);
    await page.waitForURL(/\/sms\/passcode$/);
    assert.equal(await prompt.headingText(), "輸入驗證碼");
    assert.equal(
      ((await page.locator("#sms-sent").textContent()) ?? "").trim(),
      "已傳送至 +852 •••• 0002，驗證碼 5 分鐘內有效。",
    );
    assert.ok(
      await page.getByText("身處海外？接收短訊或會產生漫遊費用；App 驗證碼無須網絡亦可使用。").isVisible(),
      "P10: the browser is in Taiwan, the number in Hong Kong",
    );
    const code = await latestCode("mei", seen);
    await prompt.submitPasscode(code === "000000" ? "111111" : "000000");
    assert.equal(await page.title(), "錯誤：輸入驗證碼");
    assert.equal(await prompt.alertText(), "出現問題驗證碼不正確，請檢查後再試。 驗證碼只在 5 分鐘內有效。");
    assert.ok(await page.getByRole("link", { name: "其他選項" }).isVisible());
    // The same screens for axe, from Taiwan too (the note included).
    for (const ctx of h.axeContexts) await ctx.setExtraHTTPHeaders({ "x-forwarded-for": IN_TAIWAN });
    await axeBothLanguages(page.url(), "the passcode screen with the roaming note", async (p) => {
      assert.ok(await p.page.getByText(/^(Abroad\?|身處海外？)/).isVisible());
    });
    await axeBothLanguages(page.url(), "a wrong text-message code", (p) => p.submitPasscode("000000x"));
    for (const ctx of h.axeContexts) await ctx.setExtraHTTPHeaders({});
    await prompt.submitPasscode(code);
    await backAtApp(page);
    assert.equal((await exchange(login, "mei")).auth_context.factor, "sms_passcode");
    await page.close();
  });

  /** Other options → Text message passcode in both axe contexts: the refusal page, its message, axe-checked. */
  const refusalInBothLanguages = async (users: [string, string], expected: [RegExp, RegExp]) => {
    let slowest = 0;
    const bases: string[] = [];
    for (const [i, ctx] of h.axeContexts.entries()) {
      const page = await ctx.newPage();
      h.watch(page);
      const prompt = new PromptPage(page);
      const user = users[i]!;
      await startLogin(page, user);
      await prompt.openOtherOptions();
      const started = Date.now();
      await chooseText(page);
      await page.getByRole("alert").waitFor();
      const elapsed = Date.now() - started;
      assert.equal(await prompt.headingText(), i === 0 ? "No text sent" : "未有傳送短訊");
      assert.match(await prompt.alertText(), expected[i]!);
      assert.ok(await page.getByRole("link", { name: /^(Other options|其他選項)$/ }).isVisible());
      await expectNoAxeViolations(page, `${user}: no text sent (${i === 0 ? "en" : "zh-Hant"})`);
      bases.push(new URL(page.url()).pathname.replace(/\/sms\/send$/, ""));
      await page.close();
      slowest = Math.max(slowest, elapsed);
    }
    return { slowest, bases };
  };

  test("stopped by the service desk: P13 and Other options; nothing texted", async () => {
    await services().stopSms(ADMIN, { user: "stan" }, "reported texts he did not ask for");
    const seen = smsc.submitted.length;
    await refusalInBothLanguages(
      ["stan", "stan"],
      [/^Text messages are not available for your account\.$/, /^你的帳戶無法使用短訊驗證碼。$/],
    );
    assert.equal(textsTo("stan", seen).length, 0);
  });

  test("the per-user quota: Too many codes. Try again in {n} minutes.", async () => {
    const user = await services().findUser("quinn");
    // The quota filled by earlier sends (the guard's own reservations: no code, so no Send again cooldown).
    for (let i = 0; i < 10; i++) {
      const decision = await services().decideSmsSend({
        userId: user!.id,
        phoneE164: NUMBERS["quinn"]!,
        ip: "192.0.2.1",
        applicationId: h.s.app.ikey,
        purpose: "passcode",
        now: Date.now(),
      });
      if (!decision.allow) break;
    }
    const seen = smsc.submitted.length;
    await refusalInBothLanguages(
      ["quinn", "quinn"],
      [/^Too many codes\. Try again in \d+ minutes?\.$/, /^驗證碼要求次數過多。請於 \d+ 分鐘後再試。$/],
    );
    assert.equal(textsTo("quinn", seen).length, 0);
  });

  test("the gateway down: We couldn't send a text just now, at once", async () => {
    await smsc.stop();
    try {
      const { slowest, bases } = await refusalInBothLanguages(
        ["gail", "gil"],
        [/^We couldn't send a text just now\.$/, /^暫時未能傳送短訊。$/],
      );
      assert.ok(slowest < 5000, `answered in ${slowest} ms`);
      // The screen does not claim a text was sent: it offers "Text me a passcode" again.
      const again = await h.s.request("GET", `${bases[0]}/sms`);
      assert.match(again.body, /Text me a passcode/);
      assert.doesNotMatch(again.body, /Sent to/);
    } finally {
      await smsc.start();
    }
    // The next test texts again: wait until the gateway's session is bound once more (readiness says so), or a
    // send made during the reconnection's back-off is refused.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await h.s.request("GET", "/ready");
      if (/"sms":"up"/.test(ready.body)) break;
      if (Date.now() > deadline) throw new Error(`the SMS gateway did not come back: ${ready.body}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  test("the prompt starts with the method last used in this browser: push, then app passcode, then SMS (whose first screen sends nothing)", async () => {
    const { page, prompt } = await newPage("en");
    const state = h.devices.get("pat")!;
    // 1. Push (the strongest pat has) on arrival; approved.
    let login = await startLogin(page, "pat");
    assert.match(page.url(), /\/push$/);
    const number = await prompt.pushNumber();
    assert.equal((await h.answer("pat", "approve", number)).code, 0);
    await backAtApp(page);
    await exchange(login, "pat");
    // 2. Push again (remembered); this time an app passcode through Other options.
    login = await startLogin(page, "pat");
    assert.match(page.url(), /\/push$/);
    await prompt.openOtherOptions();
    await prompt.chooseEnterPasscode();
    const generated = await h.s.duo.device(state, ["passcode"]);
    await prompt.submitPasscode(/\b(\d{6})\b/.exec(generated.stdout)?.[1] ?? "");
    await backAtApp(page);
    assert.equal((await exchange(login, "pat")).auth_context.factor, "duo_mobile_passcode");
    // 3. The passcode screen first now; then a text message.
    login = await startLogin(page, "pat");
    assert.match(page.url(), /\/passcode$/);
    const seen = smsc.submitted.length;
    await prompt.openOtherOptions();
    await chooseText(page);
    await page.waitForURL(/\/sms\/passcode$/);
    await prompt.submitPasscode(await latestCode("pat", seen));
    await backAtApp(page);
    assert.equal((await exchange(login, "pat")).auth_context.factor, "sms_passcode");
    // 4. SMS first: its screen offers "Text me a passcode" and sends nothing until asked.
    const before4 = smsc.submitted.length;
    await startLogin(page, "pat");
    assert.match(page.url(), /\/sms$/);
    assert.equal(await prompt.headingText(), "Text message passcode");
    assert.ok(await page.getByText("We'll text a 6-digit code to +852 •••• 0007.").isVisible());
    assert.ok(await page.getByRole("button", { name: "Text me a passcode" }).isVisible());
    await page.reload();
    assert.equal(textsTo("pat", before4).length, 0, "arriving (and reloading) sends nothing");
    await axeBothLanguages(page.url(), "Text me a passcode");
    await page.close();
  });

  test("a text goes out only on a same-origin POST: page views and a cross-site form send nothing; bad input is a 4xx", async () => {
    const { page, prompt } = await newPage("en");
    await startLogin(page, "sam");
    const base = new URL(page.url()).pathname.replace(/\/passcode$/, "");
    const seen = smsc.submitted.length;
    for (const path of ["/sms", "/sms/passcode", "/options"]) {
      const viewed = await h.s.request("GET", `${base}${path}`);
      assert.ok([200, 303].includes(viewed.status), `${path}: ${viewed.status}`);
    }
    const forged = await h.s.request("POST", `${base}/sms/send`, {
      form: {},
      headers: { origin: "https://attacker.example", "sec-fetch-site": "cross-site" },
    });
    assert.equal(forged.status, 403);
    const extra = await h.s.request("POST", `${base}/sms/send`, { form: { to: "+85290000000" } });
    assert.equal(extra.status, 400, "the send takes no fields (no number can be slipped in)");
    const long = await h.s.request("POST", `${base}/sms/passcode`, { form: { passcode: "1".repeat(300) } });
    assert.equal(long.status, 400);
    assert.match(long.body, /"code"/, "a stable error code, not a 5xx");
    assert.equal(textsTo("sam", seen).length, 0, "nothing was texted");
    // The page itself still works: the field refuses an empty code with its message.
    await prompt.openOtherOptions();
    await chooseText(page);
    await page.waitForURL(/\/sms\/passcode$/);
    await prompt.submitPasscode("");
    assert.match(await prompt.alertText(), /Enter your passcode\./);
    await page.close();
  });

  test("an application whose policy leaves text messages out: no entry, no text, and a remembered SMS starts elsewhere", async () => {
    const app = h.s.app.ikey;
    const methods = ["push", "passcode-app", "token", "bypass", "rescue", "webauthn"] as const;
    await services().updateApplication(ADMIN, app, { policy: { methods: [...methods] } });
    try {
      const { page, prompt } = await newPage("en");
      const origin = new URL(`https://${h.s.duo.host}`).origin;
      await page
        .context()
        .addCookies([{ name: "__Host-twofold-method", value: "sms", url: origin, secure: true }]);
      const seen = smsc.submitted.length;
      await startLogin(page, "sam");
      assert.match(page.url(), /\/passcode$/, "SMS is not offered here: the next method");
      await prompt.openOtherOptions();
      assert.equal(await page.getByRole("button", { name: /^Text message passcode/ }).count(), 0);
      const base = new URL(page.url()).pathname.replace(/\/options$/, "");
      const sent = await h.s.request("POST", `${base}/sms/send`, { form: {} });
      assert.equal(sent.status, 200);
      assert.match(sent.body, /Text messages are not available for your account\./);
      const view = await h.s.request("GET", `${base}/sms`);
      assert.equal(view.status, 303);
      assert.match(String(view.headers.location), /\/options$/);
      assert.equal(textsTo("sam", seen).length, 0);
      await page.close();
    } finally {
      await services().updateApplication(ADMIN, app, { policy: { methods: [...methods, "sms"] } });
    }
  });

  test("a remembered WebAuthn kind: the prompt starts with that kind's entry while the user has it", async () => {
    const { runtime } = h.s.duo.t;
    const user = await runtime.services.findUser("kim");
    // Two keys as the browser reported them at registration: a built-in one and a USB security key.
    for (const [i, transports] of [["internal"], ["usb"]].entries())
      await runtime.store.insertWebAuthnCredential({
        id: `WKKIM${i}`,
        userId: user!.id,
        credentialId: `kim-credential-${i}`,
        publicKey: "pQECAyYgASFYIA",
        userHandle: "a2ltLWhhbmRsZQ",
        signCount: 0,
        transports,
        aaguid: "00000000-0000-0000-0000-000000000000",
        attestationFormat: "none",
        backupEligible: false,
        backupState: false,
        deviceType: "singleDevice",
        discoverable: null,
        name: transports[0] === "usb" ? "Blue key" : "This laptop",
        status: "active",
        createdAt: Date.now(),
        lastUsedAt: null,
      });
    const { page, prompt } = await newPage("en");
    const origin = new URL(`https://${h.s.duo.host}`).origin;
    const remember = (value: string) =>
      page.context().addCookies([{ name: "__Host-twofold-method", value, url: origin, secure: true }]);
    await remember("webauthn-security-key");
    await startLogin(page, "kim");
    assert.match(page.url(), /\/webauthn\?method=security-key$/);
    assert.equal(await prompt.headingText(), "Log in with Security key");
    // The first kind is the method's own start page; a kind the user has no key for falls back to it.
    for (const value of ["webauthn-platform", "webauthn-hybrid", "webauthn"]) {
      await remember(value);
      await startLogin(page, "kim");
      assert.match(page.url(), /\/webauthn$/, value);
    }
    await remember("sms");
    await startLogin(page, "kim");
    assert.match(page.url(), /\/sms$/, "SMS remembered: its first screen");
    await page.close();
  });

  // Last: it moves the server's clock 30 s ahead of the clients' (the SDK's tokens, the authenticator's passcodes).
  test("Send again: refused with the seconds left before 30 s (no script), offered after; the old code no longer works; the failure count stays", async () => {
    const { page, prompt } = await newPage("en");
    // The page's clock, to move on with the server's below.
    await page.clock.install();
    const seen = smsc.submitted.length;
    const login = await startLogin(page, "rex");
    await prompt.openOtherOptions();
    await chooseText(page);
    await page.waitForURL(/\/sms\/passcode$/);
    const first = await latestCode("rex", seen);
    assert.equal(await page.getByText(/^Abroad\?/).count(), 0, "no country known for the browser: no note");
    await prompt.submitPasscode(first === "000000" ? "111111" : "000000");
    assert.match(
      await prompt.alertText(),
      /That passcode didn't work\. Check it and try again\. Codes last 5 minutes\./,
    );
    const failures = async () =>
      (await services().listUserLockouts("rex")).find((l) => l.factorClass === "sms")?.failures ?? 0;
    assert.equal(await failures(), 1);

    // Without script the button is there; pressed early, the page says how long to wait, and nothing is sent.
    const noScript = await h.browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
    const plain = await noScript.newPage();
    await plain.goto(page.url());
    await plain.getByRole("button", { name: "Send again" }).click();
    assert.match(
      (await new PromptPage(plain).alertText()) ?? "",
      /^There is a problemYou can send another text in \d+ seconds?\.$/,
    );
    assert.equal(textsTo("rex", seen).length, 1, "an early Send again sends nothing");
    await noScript.close();

    // With script: a countdown where the button would be; it ends and Send again appears by itself 30 s after the
    // first text. Nobody waits those 30 s: the server's clock and the page's move on by them together.
    const again = page.getByRole("button", { name: "Send again" });
    const countdown = page.getByText(/You can send another text in \d+ seconds?\./);
    assert.ok(await countdown.isVisible(), "the countdown shows");
    assert.equal(await again.isVisible(), false, "no Send again before its time");
    h.s.duo.t.wallClock.advance(RESEND_AFTER_MS);
    await page.clock.fastForward(RESEND_AFTER_MS);
    // At once: the page's own countdown ended it, not 30 s of waiting.
    await again.waitFor({ state: "visible", timeout: 10_000 });
    assert.equal(await countdown.isVisible(), false);
    await again.click();
    await page.waitForURL(/\/sms\/passcode$/);
    await smsc.waitForSubmits(seen + 2);
    const second = await latestCode("rex", seen);
    assert.equal(textsTo("rex", seen).length, 2);
    assert.equal(await failures(), 1, "Send again keeps the failure count");
    if (second !== first) {
      await prompt.submitPasscode(first);
      assert.match(
        await prompt.alertText(),
        /That passcode didn't work\./,
        "the first code died with Send again",
      );
      assert.equal(await failures(), 2);
    }
    await prompt.submitPasscode(second);
    await backAtApp(page);
    assert.equal((await exchange(login, "rex")).auth_context.factor, "sms_passcode");
    await page.close();
  });

  test("no page logged a console error (CSP violations included)", () => {
    assert.deepEqual(h.problems, []);
  });
});
