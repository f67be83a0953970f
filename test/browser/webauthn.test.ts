// Real WebAuthn ceremonies in Debian Chromium with CDP virtual authenticators (built-in with UV, USB key, phone over hybrid), both languages, axe-clean.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { Browser, CDPSession, Page } from "playwright-core";
import { enrollActiveTOTP } from "../support/factors.ts";
import { startWebAuthnHarness, type WebAuthnHarness } from "../support/webauthn-harness.tsx";
import { chromiumMissing, launchChromium } from "./support/chromium.ts";

const missing = chromiumMissing();
const AXE = readFileSync("node_modules/axe-core/axe.min.js", "utf8");

/** What a user picks, and the authenticator Chromium simulates for it. */
const KINDS = [
  {
    method: "platform",
    // Windows Hello / Touch ID: a built-in authenticator that verifies the user (face, fingerprint, PIN).
    authenticator: { transport: "internal", hasUserVerification: true, isUserVerified: true },
    label: { en: "This device", "zh-Hant": "此裝置" },
  },
  {
    method: "security-key",
    // A plain USB key: presence (touch) only, no PIN, so no discoverable credentials (a key without a PIN cannot
    // store one; Chromium would ask for a PIN to be set).
    authenticator: {
      transport: "usb",
      hasUserVerification: false,
      isUserVerified: false,
      hasResidentKey: false,
    },
    label: { en: "Security key", "zh-Hant": "安全密鑰" },
  },
  {
    method: "hybrid",
    // A passkey on a phone reached over the hybrid (caBLE, QR code) transport; phones verify the user.
    authenticator: { transport: "cable", hasUserVerification: true, isUserVerified: true },
    label: { en: "Passkey on your phone", "zh-Hant": "手機上的通行密鑰" },
  },
] as const;

const TEXT = {
  en: {
    addNow: "Add now",
    continue: "Continue",
    loggedIn: "Success. Logging you in...",
    failed: "That didn't work: it was cancelled, timed out, or isn't set up for your account.",
    added: (name: string) => `Added "${name}". Next time you can log in with it.`,
    keyName: "Name for this key",
    locale: "en-GB",
  },
  "zh-Hant": {
    addNow: "立即加入",
    continue: "繼續",
    loggedIn: "成功，正在登入⋯⋯",
    failed: "未能完成：操作已取消、逾時，或未有為你的帳戶設定。",
    added: (name: string) => `已加入「${name}」。下次可用它登入。`,
    keyName: "此密鑰的名稱",
    locale: "zh-HK",
  },
} as const;

async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's CSP (script-src 'self') does not apply to it.
  await page.evaluate(AXE);
  const result = (await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")) as {
    violations: { id: string; nodes: { target: string[] }[] }[];
  };
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

describe("WebAuthn ceremonies in Chromium", { skip: missing }, () => {
  let harness: WebAuthnHarness;
  let browser: Browser;
  before(async () => {
    harness = await startWebAuthnHarness();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await harness?.close();
  });

  for (const lang of ["en", "zh-Hant"] as const) {
    for (const kind of KINDS.filter((k) => !process.env["ONLY"] || k.method === process.env["ONLY"])) {
      test(`${lang}: with ${kind.method} (${kind.authenticator.transport}), I add a key after my passcode and log in with it`, async (t) => {
        const text = TEXT[lang];
        const username = `${lang}-${kind.method}`.toLowerCase();
        const context = await browser.newContext({ locale: text.locale });
        context.setDefaultTimeout(20_000);
        const page = await context.newPage();
        const problems: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error") problems.push(m.text());
        });
        page.on("pageerror", (e) => problems.push(e.message));
        let cdp: CDPSession | undefined;
        let authenticatorId = "";
        try {
          await t.test(
            "Given I passed my passcode moments ago and my device has an authenticator",
            async () => {
              const app = await enrollActiveTOTP(harness.t, username);
              const login = await harness.t.services.verifyPasscode({ username, passcode: app.codeAt() });
              assert.equal(login.result, "allow");
              harness.setProof(username, login.txid);
              cdp = await context.newCDPSession(page);
              await cdp.send("WebAuthn.enable", { enableUI: false });
              ({ authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
                options: {
                  protocol: "ctap2",
                  hasResidentKey: true,
                  ctap2Version: "ctap2_1",
                  automaticPresenceSimulation: true,
                  ...kind.authenticator,
                },
              }));
              await page.goto(`${harness.url}/?user=${username}&method=${kind.method}&lang=${lang}`);
              await page.locator("form[data-ceremony=authentication][data-webauthn-ready=true]").waitFor();
            },
          );

          await t.test("When I name the key and choose Add now, it is added", async () => {
            const name = `${kind.label[lang]} 1`;
            await page.getByLabel(text.keyName).fill(name);
            await page.getByRole("button", { name: text.addNow }).click();
            const form = page.locator("form[data-ceremony=registration]");
            await form.locator("[data-webauthn-status]", { hasText: text.added(name) }).waitFor();
            const outcome = harness.outcomes.at(-1);
            assert.equal(outcome?.kind, "registration");
            assert.equal(outcome?.result, "registered", JSON.stringify(outcome));
            const keys = await harness.t.services.listWebAuthnCredentials(username);
            assert.equal(keys.length, 1);
            assert.equal(keys[0]?.name, name);
            // Stored as the browser reported them: what allowCredentials will offer next time.
            assert.ok(keys[0]!.transports.length > 0, JSON.stringify(keys[0]));
            console.log(
              `${kind.authenticator.transport}: transports reported ${JSON.stringify(keys[0]!.transports)}`,
            );
          });

          await t.test("When I choose Continue, the key logs me in", async () => {
            await page.getByRole("button", { name: text.continue }).click();
            await page
              .locator("form[data-ceremony=authentication] [data-webauthn-status]", {
                hasText: text.loggedIn,
              })
              .waitFor();
            const outcome = harness.outcomes.at(-1);
            assert.deepEqual(
              { kind: outcome?.kind, result: outcome?.result, factor: outcome?.factor },
              { kind: "authentication", result: "allow", factor: "webauthn" },
              JSON.stringify(outcome),
            );
            const [key] = await harness.t.services.listWebAuthnCredentials(username);
            assert.ok(key?.lastUsedAt, "the key's last use is recorded");
            assert.deepEqual(await axeViolations(page), []);
          });

          await t.test(
            "When the key is gone from my device, I am told plainly and can try again",
            async () => {
              await cdp!.send("WebAuthn.clearCredentials", { authenticatorId });
              await page.getByRole("button", { name: text.continue }).click();
              const status = page.locator("form[data-ceremony=authentication] [data-webauthn-status]");
              await status.and(page.locator("[role=alert]")).filter({ hasText: text.failed }).waitFor();
              assert.equal(
                await status.evaluate((el) => el === el.ownerDocument.activeElement),
                true,
                "the message is focused",
              );
              assert.equal(await page.getByRole("button", { name: text.continue }).isEnabled(), true);
              assert.deepEqual(await axeViolations(page), []);
            },
          );
          assert.deepEqual(
            problems.filter((p) => !/Failed to load resource/.test(p)),
            [],
            "no CSP violations or script errors",
          );
        } finally {
          await context.close();
        }
      });
    }
  }
});
