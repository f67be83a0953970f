// The demo start page in Chromium, as a newcomer uses it after `npm start`: every form on it and on its result
// pages submitted for real (I2's same-origin check must let our own pages through), and a form on another site refused.
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
import { StartPage } from "./support/start-page.ts";
import { TwofoldUnderTest } from "./support/twofold-server.ts";

const missing = chromiumMissing();

/** alice's current passcode, from the otpauth URI the start page's QR code holds (RFC 6238). */
function alicePasscode(uri: string): string {
  const secret = new URL(uri).searchParams.get("secret")!;
  return generateTOTP({ key: decodeBase32(secret)!, algorithm: "SHA1", digits: 6, period: 30 }, Date.now());
}

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

  test("every form on the start page and its result pages works, and shows what happened", async (t) => {
    await t.test("When I open the start page", async () => {
      start = await StartPage.open(context, server.url);
      assert.equal(await start.heading().textContent(), "Twofold is running");
      assert.equal(await start.form("Check a passcode").count(), 1);
    });

    await t.test("And I check a wrong passcode for alice, Then I read that it was denied", async () => {
      assert.equal(await start.checkPasscode("alice", "000000"), 200);
      assert.equal(await start.heading().textContent(), "Passcode result");
      assert.equal(await start.result().textContent(), "Denied: Incorrect passcode. Please try again.");
      await start.backToStartPage();
    });

    await t.test("When I type the passcode alice's authenticator app shows, Then it is allowed", async () => {
      const code = alicePasscode(server.demo!.aliceTOTPURI);
      assert.equal(await start.checkPasscode("alice", code), 200);
      assert.equal(await start.result().textContent(), "Allowed (factor: totp)");
      await start.backToStartPage();
    });

    let link = "";
    await t.test("When I ask for an activation link for alice, Then I see its QR code and link", async () => {
      assert.equal(await start.requestActivationLink("alice"), 200);
      assert.equal(await start.heading().textContent(), "Activate the Twofold Authenticator");
      assert.equal(await start.page.getByRole("img", { name: /Scan this with the Twofold/ }).count(), 1);
      link = await start.activationLink();
      assert.ok(link.startsWith(`${server.url}/authenticator#activate=`), link);
    });

    let app: AuthenticatorPage;
    await t.test(
      "And I open the link in the Twofold Authenticator, Then alice's account is added",
      async () => {
        app = await AuthenticatorPage.open(context, server.url);
        const answer = await app.openActivationLink(link);
        assert.equal(answer.username, "alice");
        await app.account("alice").waitFor();
      },
    );

    let code = "";
    await t.test("When I send alice a push from the start page, Then it shows the code to type", async () => {
      await start.backToStartPage();
      assert.equal(await start.sendPush("alice"), 200);
      assert.equal(await start.heading().textContent(), "Push sent");
      code = await start.pushCode();
      assert.match(code, /^\d{6}$/);
    });

    await t.test("And I approve it in the app with that code, Then the result page says allow", async () => {
      await app.approve(await start.pushTxid(), code);
      assert.equal(await start.showPushResult(), 200);
      assert.equal(await start.heading().textContent(), "Push result");
      assert.equal(await start.result().textContent(), "allow (approved)");
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
