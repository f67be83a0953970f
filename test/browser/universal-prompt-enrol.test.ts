// The login prompt for a user without a factor, and the push page on a phone, in Chromium through Duo's Node SDK: enrolment
// with this device / a security key (virtual authenticator) then a backup (the app, activated by the command-line
// authenticator) or Skip backup; new-user policy allow; Copy number and Open Twofold Authenticator on a narrow screen;
// "after 15 s" No notification? + Send again; "Keep this page open" at 9 minutes (page clock), which keeps the login alive.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import duoWeb from "@duosecurity/duo_web";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { decodeBase32 } from "../../src/core/base32.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import { ADMIN } from "../http/support.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { type PromptTestServer, startPromptServer } from "../support/universal-prompt.ts";
import { chromiumMissing, launchChromium } from "./support/chromium.ts";
import { expectNoAxeViolations, PromptPage, showNewCodesPastTheLimit } from "./support/prompt-page.ts";

const missing = chromiumMissing() ?? (haveOpenSSL("prompt enrolment tests") ? undefined : "openssl missing");

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
    enrollTitle: "Set up two-factor authentication",
    app: /^Twofold Authenticator app \(recommended\)/,
    key: /^This device or a security key/,
    keyTitle: "Set up this device or a security key",
    continue: "Continue",
    logInWith: "Log in with This device",
    backupTitle: "Add a backup",
    addApp: "Add Twofold Authenticator",
    skip: "Skip backup",
    warning: /Without a backup, losing your only method means you can't log in/,
    activated: "Activated: continue",
    scanTitle: "Scan this code with your phone",
    notActivatedTitle: "Not activated yet",
    notActivated: /isn't set up yet\. Scan the code with your phone/,
    newCode: "Show a new code",
    openLink: /Open the activation link/,
    addNow: "Add now",
    copy: "Copy number",
    copied: "Copied",
    open: "Open Twofold Authenticator",
    keepOpen: "Keep this page open",
    kept: "Done: the page stays open for another 10 minutes.",
    sendAgain: "Send again",
    noNotification: /No notification\? Open Twofold Authenticator/,
    expiredTitle: "Login page expired",
    limitTitle: "No more codes for this login",
  },
  "zh-Hant": {
    locale: "zh-HK",
    enrollTitle: "設定雙重驗證",
    app: /^Twofold Authenticator App（建議）/,
    key: /^此裝置或安全密鑰/,
    keyTitle: "設定此裝置或安全密鑰",
    continue: "繼續",
    logInWith: "使用此裝置登入",
    backupTitle: "加入後備方法",
    addApp: "加入 Twofold Authenticator",
    skip: "略過後備方法",
    warning: /沒有後備方法的話/,
    activated: "已啟用：繼續",
    scanTitle: "用手機掃描此代碼",
    notActivatedTitle: "尚未啟用",
    notActivated: /尚未設定 Twofold Authenticator。請用手機掃描代碼/,
    newCode: "顯示新代碼",
    openLink: /開啟啟用連結/,
    addNow: "立即加入",
    copy: "複製號碼",
    copied: "已複製",
    open: "開啟 Twofold Authenticator",
    keepOpen: "保持此頁面開啟",
    kept: "完成：此頁面會再保持開啟 10 分鐘。",
    sendAgain: "重新傳送",
    noNotification: /收不到通知？/,
    expiredTitle: "登入頁面已失效",
    limitTitle: "此登入無法再顯示代碼",
  },
} as const;
type Lang = keyof typeof TEXT;

describe("the login prompt: enrolment with a key and a backup, new-user allow, the push page on a phone, Keep this page open", {
  skip: missing,
}, () => {
  let s: PromptTestServer;
  let browser: Browser;
  const problems: string[] = [];
  let enrolKeys: { clientId: string; clientSecret: string };
  let allowKeys: { clientId: string; clientSecret: string };

  before(async () => {
    s = await startPromptServer({ port: await freePort() });
    browser = await launchChromium();
    const { services } = s.duo.t.runtime;
    const app = async (name: string, newUserPolicy: "enroll" | "allow") => {
      const created = await services.createApplication(ADMIN, {
        name,
        type: "web-sdk",
        redirectURIs: [s.app.redirectUri],
        policy: { newUserPolicy, rememberDays: 0 },
      });
      return { clientId: created.application.id, clientSecret: created.secretKey.reveal() };
    };
    enrolKeys = await app("Student Records", "enroll");
    allowKeys = await app("Library", "allow");
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

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

  async function newContext(lang: Lang, options: { bypassCSP?: boolean; narrow?: boolean } = {}) {
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      locale: TEXT[lang].locale,
      ...(options.bypassCSP ? { bypassCSP: true } : {}),
      ...(options.narrow ? { viewport: { width: 360, height: 740 } } : {}),
    });
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    watch(page);
    return { context, page, prompt: new PromptPage(page) };
  }

  async function virtualAuthenticator(context: BrowserContext, page: Page) {
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable", { enableUI: false });
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
      },
    });
  }

  async function startLogin(page: Page, username: string, keys?: { clientId: string; clientSecret: string }) {
    const sdk = s.sdk(keys ?? {});
    assert.equal((await sdk.healthCheck()).stat, "OK");
    const state = sdk.generateState();
    await page.goto(await sdk.createAuthUrl(username, state));
    return { sdk, state };
  }

  /** Back at the application: its callback's code exchanged by the SDK, whose id_token is checked. */
  async function backAtTheApplication(login: Awaited<ReturnType<typeof startLogin>>, username: string) {
    const query = await s.app.callback(login.state);
    return login.sdk.exchangeAuthorizationCodeFor2FAResult(query.get("duo_code")!, username);
  }

  /** axe-core on a page (read again by its URL in a context that lets axe in), after `then` if given. */
  async function axe(url: string, lang: Lang, what: string, then?: (page: Page) => Promise<void>) {
    const { context, page } = await newContext(lang, { bypassCSP: true });
    try {
      await page.goto(url);
      await then?.(page);
      await expectNoAxeViolations(page, `${what} (${lang})`);
    } finally {
      await context.close();
    }
  }

  function handleOf(page: Page): string {
    return /\/prompt\/([0-9a-f]{32})/.exec(page.url())![1]!;
  }

  for (const lang of ["en", "zh-Hant"] as const) {
    test(`${lang}: a new user sets up this device, logs in with it, then ${lang === "en" ? "adds the app as a backup" : "skips the backup (warned)"}`, async () => {
      const text = TEXT[lang];
      const username = `kim-${lang}`.toLowerCase();
      await s.duo.t.runtime.services.createUser(ADMIN, { username });
      const { context, page, prompt } = await newContext(lang);
      try {
        await virtualAuthenticator(context, page);
        const login = await startLogin(page, username, enrolKeys);
        assert.equal(await prompt.headingText(), text.enrollTitle);
        const keyChoice = page.getByRole("link", { name: text.key });
        await keyChoice.waitFor();
        assert.ok(await page.getByRole("button", { name: text.app }).isVisible());
        await axe(page.url(), lang, "enrolment choice");
        await keyChoice.click();
        assert.equal(await prompt.headingText(), text.keyTitle);
        await axe(page.url(), lang, "enrolment with a key");
        await page.getByRole("button", { name: text.continue, exact: true }).click();
        // Registered: on to the first login with it ("Before WebAuthn"), through the completion gate.
        await page.waitForURL(/\/webauthn(\?|$)/);
        assert.equal(await prompt.headingText(), text.logInWith);
        await page.getByRole("button", { name: text.continue, exact: true }).click();
        await page.waitForURL(/\/enroll\/backup$/);
        assert.equal(await prompt.headingText(), text.backupTitle);
        const handle = handleOf(page);
        assert.match((await page.locator("#skip-warning").textContent()) ?? "", text.warning);
        await axe(page.url(), lang, "add a backup");
        if (lang === "en") {
          await page.getByRole("button", { name: text.addApp }).click();
          const link = await page
            .getByRole("link", { name: /Open the activation link/ })
            .getAttribute("href");
          const token = new URL(String(link)).hash.replace(/^#activate=/, "");
          const activated = await s.duo.device(`${s.duo.dir}/${username}-device.json`, [
            "activate",
            `https://${s.duo.host}/authenticator#activate=${token}`,
            "--name",
            "Kim's phone",
          ]);
          assert.equal(activated.code, 0, activated.stderr);
          // The QR page moves on by itself once the app is activated: "Activated: continue" is not pressed.
        } else {
          await page.getByRole("button", { name: text.skip }).click();
        }
        const result = await backAtTheApplication(login, username);
        assert.equal(result.auth_context.factor, "webauthn_security_key");
        const user = (await s.duo.t.runtime.services.openPromptLogin(handle, { touch: false }))?.user;
        const devices = await s.duo.t.runtime.store.listDevices(user!.id);
        assert.equal(
          devices.filter((d) => d.status === "active").length,
          lang === "en" ? 1 : 0,
          "the app added as the backup",
        );
      } finally {
        await context.close();
      }
    });
  }

  for (const lang of ["en", "zh-Hant"] as const) {
    test(`${lang}: the backup's Show a new code past the login's limit gets a page with the ways on (Activated: continue, Skip backup)`, async () => {
      const text = TEXT[lang];
      const username = `lou-${lang}`.toLowerCase();
      await s.duo.t.runtime.services.createUser(ADMIN, { username });
      // axe is injected into the 429 page itself (a POST's answer cannot be read again): this context lets it in.
      const { context, page, prompt } = await newContext(lang, { bypassCSP: true });
      try {
        await virtualAuthenticator(context, page);
        const login = await startLogin(page, username, enrolKeys);
        await page.getByRole("link", { name: text.key }).click();
        await page.getByRole("button", { name: text.continue, exact: true }).click();
        await page.waitForURL(/\/webauthn(\?|$)/);
        await page.getByRole("button", { name: text.continue, exact: true }).click();
        await page.waitForURL(/\/enroll\/backup$/);
        await page.getByRole("button", { name: text.addApp }).click();
        await page.getByRole("heading", { level: 1, name: text.scanTitle }).waitFor();
        await showNewCodesPastTheLimit(page, text);
        await page.getByRole("heading", { level: 1, name: text.limitTitle }).waitFor();
        assert.match(await prompt.alertText(), /Student Records/, "names the application to log in to again");
        assert.doesNotMatch(await page.content(), /ERR_RATE_LIMITED/);
        await expectNoAxeViolations(page, `the backup's code limit (${lang})`);
        // Activated: continue, with nothing activated: the backup is still offered; then Skip backup goes on.
        await page.getByRole("button", { name: text.activated }).click();
        await page.waitForURL(/\/enroll\/backup/);
        await page.getByRole("button", { name: text.skip }).click();
        const result = await backAtTheApplication(login, username);
        assert.equal(result.auth_context.factor, "webauthn_security_key");
      } finally {
        await context.close();
      }
    });
  }

  for (const lang of ["en", "zh-Hant"] as const) {
    // In Chinese the browser has no EventSource: the page asks /enroll/status every 3 s instead.
    const how = lang === "en" ? "(server-sent events)" : "(a browser without events: the status poll)";
    test(`${lang}: a new user sets up the app (QR code), the page moves on by itself once the phone activates it ${how}, the first push, then this device as the backup`, async () => {
      const text = TEXT[lang];
      const username = `max-${lang}`.toLowerCase();
      const { services, store } = s.duo.t.runtime;
      await services.createUser(ADMIN, { username });
      const { context, page, prompt } = await newContext(lang);
      const asked: string[] = [];
      page.on("request", (r) => {
        const path = new URL(r.url()).pathname;
        if (/\/enroll\/(events|status)$/.test(path)) asked.push(path.replace(/^.*\//, ""));
      });
      if (lang === "zh-Hant") await context.addInitScript("delete globalThis.EventSource;");
      try {
        await virtualAuthenticator(context, page);
        const login = await startLogin(page, username, enrolKeys);
        await prompt.startEnrollment();
        assert.equal(await prompt.headingText(), text.scanTitle);
        await axe(page.url().replace(/\/enroll$/, ""), lang, "enrolment QR code", async (p) => {
          await p.getByRole("button", { name: text.app }).click();
        });
        // "Activated: continue" before the phone scanned anything: it says so; Show a new code gives a fresh one.
        await page.getByRole("link", { name: text.activated }).click();
        assert.equal(await prompt.headingText(), text.notActivatedTitle);
        assert.match(await prompt.alertText(), text.notActivated);
        await axe(page.url(), lang, "not activated yet");
        await page.getByRole("button", { name: text.newCode }).click();
        assert.equal(await prompt.headingText(), text.scanTitle);
        const qrPage = page.url();
        const link = await page.getByRole("link", { name: text.openLink }).getAttribute("href");
        // The page waits a while before the phone activates: it stays on the QR code meanwhile.
        await page.waitForTimeout(1500);
        assert.equal(page.url(), qrPage);
        assert.equal(await prompt.headingText(), text.scanTitle);
        const state = `${s.duo.dir}/${username}-device.json`;
        const activated = await s.duo.device(state, [
          "activate",
          `https://${s.duo.host}/authenticator#activate=${new URL(String(link)).hash.replace(/^#activate=/, "")}`,
          "--name",
          "Max's phone",
        ]);
        assert.equal(activated.code, 0, activated.stderr);
        // No "Activated: continue": the page moves on to the first push by itself.
        const number = await prompt.pushNumber();
        assert.notEqual(page.url(), qrPage);
        assert.ok(asked.includes(lang === "en" ? "events" : "status"), asked.join(", "));
        if (lang === "zh-Hant") assert.ok(!asked.includes("events"), "no event stream without EventSource");
        const pending = await s.duo.device(state, ["pending", "--json"]);
        const txid = (JSON.parse(pending.stdout) as { pushes: Array<{ txid: string }> }).pushes[0]!.txid;
        assert.equal((await s.duo.device(state, ["approve", txid, "--code", number])).code, 0);
        await page.waitForURL(/\/enroll\/backup$/);
        assert.equal(await prompt.headingText(), text.backupTitle);
        const handle = handleOf(page);
        await page.getByRole("button", { name: text.addNow }).click();
        const result = await backAtTheApplication(login, username);
        assert.equal(result.auth_context.factor, "duo_push");
        const user = (await services.openPromptLogin(handle, { touch: false }))!.user!;
        assert.equal((await store.listWebAuthnCredentials(user.id)).length, 1, "the key added as the backup");
      } finally {
        await context.close();
      }
    });
  }

  test("a user the enrolment rule forbids (a factor removed since) still gets the not-enrolled page, with no choice to enrol", async () => {
    const { services } = s.duo.t.runtime;
    await services.createUser(ADMIN, { username: "rex" });
    const e = await services.enrollTOTP(ADMIN, "rex");
    const key = decodeBase32(e.secret.reveal())!;
    await services.confirmTOTP(
      ADMIN,
      e.credentialId,
      generateTOTP({ key, algorithm: "SHA1", digits: 6, period: 30 }, Date.now()),
    );
    await services.removeOTPCredential(ADMIN, e.credentialId);
    for (const keys of [enrolKeys, allowKeys]) {
      const { context, page, prompt } = await newContext("en");
      try {
        await startLogin(page, "rex", keys);
        assert.equal(await prompt.headingText(), "You can't log in this way");
        assert.match(await prompt.alertText(), /ask the IT service desk/);
        assert.equal(await page.getByRole("button", { name: TEXT.en.app }).count(), 0);
      } finally {
        await context.close();
      }
    }
  });

  test("new-user policy allow: a user who never had a factor goes straight back to the application, logged as allow_unenrolled_user", async () => {
    const { services, store } = s.duo.t.runtime;
    await services.createUser(ADMIN, { username: "ada" });
    const { context, page } = await newContext("en");
    try {
      const login = await startLogin(page, "ada", allowKeys);
      await page.waitForURL(`${s.app.origin}/callback?**`);
      const result = await backAtTheApplication(login, "ada");
      assert.equal(result.auth_result.result, "allow");
      assert.equal(result.auth_context.reason, "allow_unenrolled_user");
      assert.equal(result.auth_context.factor, "not_available");
      const line = await store.findAuthLogByTxid(String(result.auth_context.txid));
      assert.equal(line?.result, "allow");
      assert.equal(line?.reason, "allow_unenrolled_user");
      assert.equal(line?.factor, "none");
    } finally {
      await context.close();
    }
    // A username Twofold does not know is let in too (as the Auth API's preauth does); the id_token names it.
    const unknown = await newContext("en");
    try {
      const login = await startLogin(unknown.page, "visitor", allowKeys);
      await unknown.page.waitForURL(`${s.app.origin}/callback?**`);
      const result = await backAtTheApplication(login, "visitor");
      assert.equal(result.preferred_username, "visitor");
      assert.equal(result.auth_context.reason, "allow_unenrolled_user");
      assert.equal(result.auth_context.user.name, "visitor");
    } finally {
      await unknown.context.close();
    }
    // The same user on an application whose policy is enroll is asked to set up a factor instead.
    const other = await newContext("en");
    try {
      await startLogin(other.page, "ada", enrolKeys);
      assert.equal(await other.prompt.headingText(), TEXT.en.enrollTitle);
    } finally {
      await other.context.close();
    }
  });

  for (const lang of ["en", "zh-Hant"] as const) {
    test(`${lang}: push waiting on a narrow screen: Copy number (Copied, announced), Open Twofold Authenticator; after 15 s No notification? and Send again`, async () => {
      const text = TEXT[lang];
      const username = `pat-${lang}`.toLowerCase();
      await s.duo.t.runtime.services.createUser(ADMIN, { username });
      await s.duo.activateAuthenticator(username);
      const { context, page, prompt } = await newContext(lang, { narrow: true });
      try {
        await context.grantPermissions(["clipboard-read", "clipboard-write"], {
          origin: `https://${s.duo.host}`,
        });
        await page.clock.install();
        await startLogin(page, username);
        const number = await prompt.pushNumber();
        assert.match(number, /^\d{6}$/);
        const send = page.getByRole("button", { name: text.sendAgain });
        assert.equal(await send.isVisible(), false, "Send again waits 15 s");
        assert.equal(await page.getByText(text.noNotification).isVisible(), false);
        const open = page.getByRole("link", { name: text.open });
        assert.equal(new URL(String(await open.getAttribute("href")), page.url()).pathname, "/authenticator");
        assert.ok(await open.isVisible());
        await page.getByRole("button", { name: text.copy }).click();
        await page
          .locator("[data-copy-status]")
          .filter({ hasText: text.copied })
          .waitFor({ state: "attached" });
        assert.equal(await page.getByRole("status").filter({ hasText: text.copied }).count(), 1);
        assert.equal(await page.evaluate("navigator.clipboard.readText()"), number);
        await page.clock.runFor(16_000);
        await send.waitFor();
        assert.ok(await page.getByText(text.noNotification).isVisible());
        // A wide screen has neither (the number is typed on another device).
        await page.setViewportSize({ width: 1280, height: 900 });
        assert.equal(await page.getByRole("button", { name: text.copy }).isVisible(), false);
        assert.equal(await open.isVisible(), false);
        await page.setViewportSize({ width: 360, height: 740 });
        const { context: axeContext, page: axePage } = await newContext(lang, {
          bypassCSP: true,
          narrow: true,
        });
        try {
          await axePage.goto(page.url());
          await axePage.locator(".number").waitFor();
          await expectNoAxeViolations(axePage, `push waiting, narrow (${lang})`);
        } finally {
          await axeContext.close();
        }
        // Send again: the old push is cancelled, a new number shows.
        await send.click();
        await page.locator(".number").waitFor();
        assert.match(await prompt.pushNumber(), /^\d{6}$/);
      } finally {
        await context.close();
      }
    });
  }

  for (const lang of ["en", "zh-Hant"] as const) {
    test(`${lang}: at 9 minutes idle "Keep this page open" shows; pressing it keeps the login alive, a page left alone expires (P15)`, async () => {
      const text = TEXT[lang];
      const username = `lee-${lang}`.toLowerCase();
      const { services, store } = s.duo.t.runtime;
      await services.createUser(ADMIN, { username });
      await s.duo.activateAuthenticator(username);
      /** Two logins on their Other options page: one kept open, one not. */
      const open = async () => {
        const c = await newContext(lang, { bypassCSP: true });
        await c.page.clock.install();
        await startLogin(c.page, username);
        await c.page.goto(`${c.page.url().replace(/\/push$/, "")}/options`);
        return { ...c, handle: handleOf(c.page) };
      };
      /** The login's idle expiry 5 s away, as if 9 minutes 55 s had passed on the server too. */
      const almostExpired = async (handle: string) => {
        const login = await services.openPromptLogin(handle, { touch: false });
        assert.ok(await store.touchLoginSession(login!.session.id, Date.now() + 5000, Date.now()));
      };
      const kept = await open();
      const left = await open();
      try {
        const button = kept.page.getByRole("button", { name: text.keepOpen });
        assert.equal(await button.isVisible(), false);
        await kept.page.clock.runFor(8 * 60_000);
        assert.equal(await button.isVisible(), false, "not before 9 minutes");
        await kept.page.clock.runFor(61_000);
        await button.waitFor();
        await expectNoAxeViolations(kept.page, `Keep this page open (${lang})`);
        await left.page.clock.runFor(9 * 60_000 + 1000);
        await left.page.getByRole("button", { name: text.keepOpen }).waitFor();
        await almostExpired(kept.handle);
        await almostExpired(left.handle);
        await button.click();
        await kept.page.getByRole("status").filter({ hasText: text.kept }).waitFor({ state: "attached" });
        assert.equal(await button.isVisible(), false);
        const expiry = (await services.openPromptLogin(kept.handle, { touch: false }))!.session.expiresAt;
        assert.ok(expiry > Date.now() + 9 * 60_000, "the server moved the login's expiry on");
        // Past the old expiry: the kept login's page still works, the other one is gone.
        await new Promise((r) => setTimeout(r, 5500));
        await kept.page.reload();
        assert.notEqual(await kept.prompt.headingText(), text.expiredTitle);
        await left.page.reload();
        assert.equal(await left.prompt.headingText(), text.expiredTitle);
      } finally {
        await kept.context.close();
        await left.context.close();
      }
    });
  }

  test("Web SDK v2: a page on another origin cannot frame the prompt, even naming a registered parent; the application's own page can", async () => {
    const username = "vic";
    await s.duo.t.runtime.services.createUser(ADMIN, { username });
    await s.duo.activateAuthenticator(username);
    const tx = duoWeb.sign_request(s.app.ikey, s.app.skey, s.app.akey, username).split(":")[0]!;
    const src = `https://${s.duo.host}/frame/web/v1/auth?${new URLSearchParams({ tx, parent: `${s.app.origin}/v2` })}`;
    // Another site: its own page with the prompt in an iframe, claiming the application's page as the parent.
    const other = https.createServer(
      { cert: readFileSync(s.duo.certificates.cert), key: readFileSync(s.duo.certificates.key) },
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(
          `<!doctype html><html lang="en"><title>Other site</title><main><h1>Other site</h1><iframe id="f" title="x" src="${src}"></iframe></main></html>`,
        );
      },
    );
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const { port } = other.address() as AddressInfo;
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: "en-GB" });
    context.setDefaultTimeout(20_000);
    try {
      const page = await context.newPage();
      const refused = page.waitForEvent("console", (m) => /frame-ancestors/.test(m.text()));
      await page.goto(`https://127.0.0.1:${port}/`);
      assert.match(
        (await refused).text(),
        new RegExp(`frame-ancestors ${s.app.origin.replace(/[.]/g, "\\.")}`),
      );
      const frame = page.frameLocator("#f");
      assert.equal(
        await frame.getByRole("heading", { level: 1 }).count(),
        0,
        "nothing of the prompt in the other site",
      );
      // The application's own page (its registered origin) frames it. The same user: the blocked frame sent no push
      // (one would still be waiting, and this one refused as "No request sent").
      await page.goto(`${s.app.origin}/v2?user=vic`);
      await page
        .frameLocator("#duo_iframe")
        .getByRole("heading", { level: 1, name: "Approve the request in Twofold Authenticator" })
        .waitFor();
    } finally {
      await context.close();
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  test("no page logged a console error (CSP violations included)", () => {
    assert.deepEqual(problems, []);
  });
});
