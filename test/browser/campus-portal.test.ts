// `npm start` (serve --demo) runs Campus Portal beside Twofold: a newcomer logs in there with a password and passes the
// second factor in the Twofold prompt, reached through Duo's Node SDK exactly as a real application integrates.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { decodeBase32 } from "../../src/core/base32.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import { createSandbox, type Sandbox } from "../cli/helpers.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { chromiumMissing, launchChromium } from "./support/chromium.ts";
import { expectNoAxeViolations, PromptPage } from "./support/prompt-page.ts";

const missing = chromiumMissing() ?? (haveOpenSSL("Campus Portal demo test") ? undefined : "openssl missing");
const DEMO_ENV = { TWOFOLD_CONFIG: undefined, TWOFOLD_SERVER_PORT: "0", TWOFOLD_LOGGING_LEVEL: "silent" };

describe("the demo's Campus Portal, through Duo's Web SDK, in Chromium", { skip: missing }, () => {
  let box: Sandbox;
  let child: ChildProcess;
  let portal: string;
  let aliceURI: string;
  let browser: Browser;
  let context: BrowserContext;
  let axeContext: BrowserContext;

  before(async () => {
    box = createSandbox();
    child = box.spawn(["serve", "--demo"], DEMO_ENV);
    let stdout = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner in 60 s: ${stdout}`)), 60_000);
      child.stdout!.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (/in a browser/.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stdout}`)));
    });
    portal = /Campus Portal \(the demo web application[^)]*\): (http:\/\/\S+)/.exec(stdout)![1]!;
    aliceURI = /(otpauth:\/\/totp\/\S+)/.exec(stdout)![1]!;
    browser = await launchChromium();
    context = await browser.newContext({ locale: "en-GB" });
    axeContext = await browser.newContext({ locale: "en-GB", bypassCSP: true });
    for (const c of [context, axeContext]) c.setDefaultTimeout(20_000);
  });

  after(async () => {
    await browser?.close();
    if (child && child.exitCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
    box?.cleanup();
  });

  const alicePasscode = () => {
    const secret = new URL(aliceURI).searchParams.get("secret")!;
    return generateTOTP({ key: decodeBase32(secret)!, algorithm: "SHA1", digits: 6, period: 30 }, Date.now());
  };
  const logIn = async (page: Page, username: string, password: string) => {
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
  };

  test("a wrong password stays at the portal; alice's password leads to the prompt, her passcode back in", async () => {
    const page = await context.newPage();
    await page.goto(portal);
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Campus Portal");
    await logIn(page, "alice", "not-her-password");
    assert.match((await page.getByRole("alert").textContent()) ?? "", /Wrong username or password/);

    await logIn(page, "alice", "alice-demo");
    await page.waitForURL(/\/prompt\/[0-9a-f]{32}\/passcode$/).catch(async (e) => {
      throw new Error(`${page.url()}: ${await page.content()}`, { cause: e });
    });
    const prompt = new PromptPage(page);
    assert.ok(await page.getByText("Logging in to Campus Portal").isVisible());
    await prompt.submitPasscode(alicePasscode());
    // The demo application remembers browsers (30 days by default): the prompt asks; alice says yes.
    assert.equal(await prompt.headingText(), "Trust this browser?");
    await prompt.chooseTrust(true);
    await page.waitForURL(`${portal}/`);
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Welcome, alice");
    assert.match((await page.getByRole("status").textContent()) ?? "", /duo_mobile_passcode/);
    await page.getByRole("button", { name: "Log out" }).click();
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Campus Portal");
    // Her next login in this browser skips the second factor.
    await logIn(page, "alice", "alice-demo");
    await page.waitForURL(`${portal}/`);
    assert.match((await page.getByRole("status").textContent()) ?? "", /remembered_device/);
  });

  test("the portal's pages and the demo start page's link pass axe", async () => {
    const page = await axeContext.newPage();
    await page.goto(portal);
    await expectNoAxeViolations(page, "Campus Portal login");
    await logIn(page, "alice", "wrong");
    await expectNoAxeViolations(page, "Campus Portal wrong password");
  });
});
