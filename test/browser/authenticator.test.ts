// The Twofold Authenticator web app in Chromium against a real server: activation by link and by camera,
// offline passcodes, number-matching approve / wrong code / deny / fraud with the CLI's login waiting, languages.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Locator } from "playwright-core";
import { decodeBase32 } from "../../src/core/base32.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import { AuthenticatorPage } from "./support/authenticator-page.ts";
import { chromiumMissing, launchChromium } from "./support/chromium.ts";
import { writeQRCodeVideo } from "./support/qr-video.ts";
import { ADMIN, type PushStarted, TwofoldUnderTest } from "./support/twofold-server.ts";

const ORGANIZATION = "Demo University";

/** The text of an element, as the DOM holds it. */
async function text(locator: Locator): Promise<string> {
  return (await locator.textContent()) ?? "";
}
const missing = chromiumMissing();

/** The code an authenticator shows for `secret` now (or a moment ago, if the step just changed). */
function currentCodes(secret: string): string[] {
  const key = decodeBase32(secret)!;
  const params = { key, algorithm: "SHA1" as const, digits: 6, period: 30 };
  return [generateTOTP(params, Date.now()), generateTOTP(params, Date.now() - 3000)];
}

describe("Twofold Authenticator web app", { skip: missing }, () => {
  let server: TwofoldUnderTest;
  let browser: Browser;
  let context: BrowserContext;
  let app: AuthenticatorPage;
  let aliceSecret = "";
  let aliceLink = "";
  let applicationId = "";

  before(async () => {
    server = await TwofoldUnderTest.start(ORGANIZATION);
    const { services } = server.runtime;
    await services.createUser(ADMIN, { username: "alice" });
    await services.createUser(ADMIN, { username: "bob" });
    applicationId = (await services.createApplication(ADMIN, { name: "Staff VPN", type: "radius" }))
      .application.id;
    // The camera films bob's activation QR code, so it must exist before the browser starts.
    const bob = await server.json<{ link: string }>(["push", "activate", "bob"]);
    const video = join(server.box.dir, "activation-qr.y4m");
    writeQRCodeVideo(video, bob.link);
    browser = await launchChromium({ fakeCamera: video });
    // Notifications allowed: the app then tries Web Push at activation, which a headless (incognito) Chromium
    // refuses; activation must go on without it.
    context = await browser.newContext({ permissions: ["notifications"] });
    context.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("activates from the link `twofold push activate` makes, with a non-extractable key, and shows the passcode the server accepts", async (t) => {
    await t.test("When I open alice's activation link", async () => {
      aliceLink = (await server.json<{ link: string }>(["push", "activate", "alice"])).link;
      app = await AuthenticatorPage.open(context, server.url);
      const answer = await app.openActivationLink(aliceLink);
      aliceSecret = answer.totp.secret;
      assert.equal(answer.username, "alice");
      const [device] = await server.runtime.services.listUserDevices("alice");
      assert.equal(device!.webPush, false, "no push service here: activated without Web Push, not blocked");
    });

    await t.test("Then alice's account is listed and the token is gone from the address bar", async () => {
      await app.account("alice").waitFor();
      assert.match(await text(app.activationStatus()), /Account added: alice \(Demo University\)/);
      assert.doesNotMatch(app.page.url(), /activate/);
      assert.equal(await app.page.locator("html").getAttribute("lang"), "en");
    });

    await t.test("And the passcode shown is the RFC 6238 code, and the server accepts it", async () => {
      const shown = await app.passcode("alice");
      assert.ok(currentCodes(aliceSecret).includes(shown), `shown ${shown}`);
      const outcome = await server.runtime.services.verifyPasscode({
        username: "alice",
        passcode: shown,
        ip: "127.0.0.1",
      });
      assert.equal(outcome.result, "allow");
    });

    await t.test(
      "And the keys are stored as non-extractable CryptoKeys, and the seed is not stored",
      async () => {
        const [alice] = await app.storedKeys();
        assert.deepEqual(alice!.signingKey, {
          type: "private",
          algorithm: "ECDSA",
          extractable: false,
          usages: ["sign"],
        });
        assert.deepEqual(alice!.totpKey, {
          type: "secret",
          algorithm: "HMAC",
          extractable: false,
          usages: ["sign"],
        });
        assert.equal(alice!.exportRefused, true);
        assert.ok(!alice!.record.includes(aliceSecret), "the base32 seed is not kept");
      },
    );

    await t.test("When I open a used link again, Then it is refused", async () => {
      await app.pasteActivationLink(
        `${server.url}/authenticator#activate=AC${"A".repeat(18)}.${"x".repeat(27)}`,
      );
      await app.activationStatus().filter({ hasText: "not valid" }).waitFor();
      assert.equal(await app.page.locator("li[data-username]").count(), 1);
    });
  });

  test("activates a second account by scanning the QR code with the camera", async (t) => {
    await t.test("When I scan bob's activation QR code", async () => {
      await app.scanQRCode();
    });
    await t.test("Then both accounts are listed, each with its passcode", async () => {
      await app.account("bob").waitFor({ timeout: 20_000 });
      assert.match(await text(app.activationStatus()), /Account added: bob/);
      assert.deepEqual(
        await app.page
          .locator("li[data-username]")
          .evaluateAll((els) => els.map((e) => e.getAttribute("data-username"))),
        ["alice", "bob"],
      );
      assert.match(await app.passcode("bob"), /^\d{6}$/);
      assert.equal(
        (await app.storedKeys()).every((k) => !k.signingKey.extractable),
        true,
      );
    });
  });

  test("number matching: `twofold push send` is approved with the right code; a wrong code, deny and fraud deny", async (t) => {
    const info = `<img src=x onerror="window.pwned=1">Sign-in from the <b>library</b>`;

    let push: PushStarted;
    await t.test("When a login sends alice a push, Then I see its context as text", async () => {
      push = await server.sendPush("alice", ["--app", applicationId, "--ip", "203.0.113.9", "--info", info]);
      const card = app.request(push.txid);
      await card.waitFor();
      assert.equal(await text(card.getByRole("heading")), "Login to Staff VPN");
      const details = await text(card.locator("dl"));
      assert.match(details, /alice \(Demo University\)/);
      assert.match(details, /203\.0\.113\.9/);
      assert.equal(await text(card.locator(".info")), info);
      assert.equal(await card.locator("img, b").count(), 0, "no markup from the push");
      assert.equal(await app.hasGlobal("pwned"), false);
      assert.doesNotMatch(await text(card), /\bundefined\b|\bnull\b|\{\w+\}/, "no unfilled text");
      await app.announcements().filter({ hasText: "New login request: Staff VPN." }).waitFor();
      const field = app.codeField(push.txid);
      assert.equal(await field.getAttribute("inputmode"), "numeric");
      assert.equal(await field.getAttribute("maxlength"), "6");
    });

    await t.test("When I type the code shown on the login screen and approve", async () => {
      await app.approve(push.txid, push.code!);
    });

    await t.test("Then the waiting login is approved, and the app says so", async () => {
      assert.deepEqual(await push.outcome, { exitCode: 0, status: "approved" });
      await app.request(push.txid).and(app.page.locator("[data-outcome=approved]")).waitFor();
      assert.match(await text(app.outcome(push.txid)), /^Approved/);
    });

    await t.test("When I type a wrong code, Then the login is denied", async () => {
      const application = await server.runtime.services.requireApplication(applicationId);
      push = await server.startPush({
        username: "alice",
        application,
        ip: "198.51.100.7",
        place: "Taipei, Taiwan",
      });
      await app.request(push.txid).waitFor();
      assert.match(await text(app.request(push.txid).locator("dl")), /Location\s*Taipei, Taiwan/);
      const wrong = push.code!.slice(0, -1) + String((Number(push.code!.at(-1)) + 1) % 10);
      await app.approve(push.txid, wrong);
      assert.equal((await push.outcome).status, "denied");
      await app.outcome(push.txid).filter({ hasText: "the code did not match" }).waitFor();
    });

    await t.test("When I approve without the code, Then the app asks for it and sends nothing", async () => {
      push = await server.startPush({ username: "alice" });
      await app.request(push.txid).waitFor();
      await app.request(push.txid).getByRole("button", { name: "Approve" }).click();
      assert.equal(await app.codeField(push.txid).getAttribute("aria-invalid"), "true");
      await app.request(push.txid).getByText("Type the 6-digit code").waitFor();
      assert.equal(await server.runtime.services.getPushStatus(push.txid), "pending");
    });

    await t.test("When I deny it, Then the login is denied", async () => {
      await app.deny(push.txid);
      assert.equal((await push.outcome).status, "denied");
      await app
        .outcome(push.txid)
        .filter({ hasText: /^Denied\.$/ })
        .waitFor();
    });

    await t.test(
      "When a push arrives by Web Push, Then the service worker shows its context as text",
      async () => {
        push = await server.startPush({ username: "alice", ip: "192.0.2.1", info: "<i>Printer</i> login" });
        const { services, store } = server.runtime;
        const device = await store.getDevice((await services.listUserDevices("alice"))[0]!.id);
        const [pending] = await services.listDevicePushes(device!);
        const shown = await app.deliverWebPush({ type: "push", push: pending });
        assert.deepEqual(
          shown.map((n) => ({ title: n.title, tag: n.tag, data: n.data, lang: n.lang })),
          [
            {
              title: "Login request: Twofold",
              tag: `push-${push.txid}`,
              data: { txid: push.txid },
              lang: "en",
            },
          ],
        );
        assert.match(shown[0]!.body, /192\.0\.2\.1\n<i>Printer<\/i> login$/);
        await app.deny(push.txid);
        assert.equal((await push.outcome).status, "denied");
      },
    );

    await t.test("When I report a push as fraud (after cancelling once), Then it is reported", async () => {
      push = await server.startPush({ username: "alice" });
      await app.request(push.txid).waitFor();
      await app.reportFraud(push.txid, false);
      assert.equal(
        await app.request(push.txid).getAttribute("data-outcome"),
        null,
        "cancel keeps it waiting",
      );
      await app.reportFraud(push.txid, true);
      assert.equal((await push.outcome).status, "fraud");
      await app.outcome(push.txid).filter({ hasText: "Reported as fraud" }).waitFor();
      const next = await server.runtime.services.startPush({ username: "alice", verified: true });
      assert.deepEqual(next, { started: false, reason: "push_suspended" });
    });
  });

  test("switches to Traditional Chinese, by the switcher and from the browser's languages", async (t) => {
    await t.test("Every string has both an English and a Traditional Chinese text", async () => {
      const [english, chinese] = (await app.page.evaluate(
        `[Object.keys(self.TWOFOLD_STRINGS.en).sort(), Object.keys(self.TWOFOLD_STRINGS["zh-Hant"]).sort()]`,
      )) as [string[], string[]];
      assert.ok(english.length > 50);
      assert.deepEqual(chinese, english);
    });

    await t.test("When I choose 繁體中文, Then the page is in Traditional Chinese", async () => {
      await app.chooseLanguage("繁體中文");
      assert.equal(await app.page.locator("html").getAttribute("lang"), "zh-Hant");
      assert.equal(await text(app.page.getByRole("heading", { level: 1 })), "Twofold 驗證器");
      assert.equal(await text(app.page.locator("#accounts-heading")), "帳戶");
      assert.match(await text(app.account("alice")), /驗證碼/);
      assert.equal(await app.page.title(), "Twofold 驗證器");
      await app.chooseLanguage("English");
      assert.equal(await app.page.locator("html").getAttribute("lang"), "en");
    });

    await t.test(
      "When a browser prefers zh-TW opens the app, Then it starts in Traditional Chinese",
      async () => {
        const taiwan = await browser.newContext({ locale: "zh-TW" });
        try {
          const page = await AuthenticatorPage.open(taiwan, server.url);
          assert.equal(await page.page.locator("html").getAttribute("lang"), "zh-Hant");
          assert.equal(await page.page.getByLabel("語言").inputValue(), "zh-Hant");
          assert.equal(
            await text(page.page.locator("#no-accounts")),
            "尚無帳戶。請使用 IT 單位提供的啟用 QR 碼或連結新增帳戶。",
          );
          assert.deepEqual(page.problems, []);
        } finally {
          await taiwan.close();
        }
      },
    );
  });

  test("serves the app with its own policy, and works offline from the service worker", async (t) => {
    await t.test(
      "The pages carry a CSP without inline scripts, and the worker may control /authenticator",
      async () => {
        const page = await fetch(`${server.url}/authenticator/`);
        const csp = page.headers.get("content-security-policy")!;
        assert.match(csp, /script-src 'self'(;|$)/);
        assert.match(csp, /require-trusted-types-for 'script'/);
        assert.match(page.headers.get("permissions-policy")!, /camera=\(self\)/);
        const worker = await fetch(`${server.url}/authenticator/sw.js`);
        assert.equal(worker.headers.get("service-worker-allowed"), "/authenticator");
        assert.match(worker.headers.get("content-type")!, /^text\/javascript/);
        const script = await fetch(`${server.url}/authenticator/app.js`);
        assert.equal(script.headers.get("cache-control"), "no-cache");
        const revalidated = await fetch(`${server.url}/authenticator/app.js`, {
          headers: { "if-none-match": script.headers.get("etag")! },
        });
        assert.equal(revalidated.status, 304);
        const noSlash = await fetch(`${server.url}/authenticator`);
        assert.equal(await noSlash.text(), await page.text(), "the link's /authenticator is the same page");
        const decoder = await fetch(`${server.url}/authenticator/vendor/jsqr.js`);
        assert.match(decoder.headers.get("content-type")!, /^text\/javascript/);
        assert.match(await decoder.text(), /jsQR/);
        const manifest = (await (await fetch(`${server.url}/authenticator/manifest.webmanifest`)).json()) as {
          start_url: string;
          display: string;
        };
        assert.equal(manifest.start_url, "/authenticator/");
        assert.equal(manifest.display, "standalone");
      },
    );

    await t.test("When the server stops and I reload, Then the passcodes still show", async () => {
      await app.serviceWorkerReady();
      await server.stop();
      await app.page.reload();
      await app.ready();
      const shown = await app.passcode("alice");
      assert.ok(currentCodes(aliceSecret).includes(shown), `shown ${shown}`);
      assert.match(await app.passcode("bob"), /^\d{6}$/);
      await app.connectionStatus().filter({ hasText: "Offline" }).waitFor();
    });

    await t.test("And nothing on the page broke the content policy", () => {
      assert.deepEqual(app.problems, []);
    });
  });
});
