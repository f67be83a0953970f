// the Universal Prompt in Chromium: trusted browsers and enrolment
// Duo's official Node SDK (@duosecurity/duo_universal 3.0.0) over TLS, the prompt driven in Chromium as a user would, pushes
// answered by the command-line authenticator after typing the number shown, axe-core on every page in both languages.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeBase32 } from "../../src/core/base32.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import { ADMIN } from "../http/support.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { chromiumMissing } from "./support/chromium.ts";
import { promptHarness } from "./support/prompt-harness.ts";
import { expectNoAxeViolations, PromptPage } from "./support/prompt-page.ts";

const missing = chromiumMissing() ?? (haveOpenSSL("Universal Prompt tests") ? undefined : "openssl missing");

describe("the Universal Prompt in Chromium: trusted browsers and enrolment", { skip: missing }, () => {
  // Each TOTP code is accepted once: the two logins answered "No, don't trust" are by users of their own, so no
  // login waits for the next 30 s step.
  const h = promptHarness({ totp: ["tess", "tom", "tia"], plain: ["neo", "rex"] });
  const { newPage, startLogin, exchange, answer, axeBothLanguages } = h;

  test("Yes, trust this browser: the next login skips the second factor (remembered_device); after a revoke it asks again", async () => {
    const { services } = h.s.duo.t.runtime;
    const library = await services.createApplication(ADMIN, {
      name: "Library",
      type: "web-sdk",
      redirectURIs: [h.s.app.redirectUri],
    });
    const keys = { clientId: library.application.id, clientSecret: library.secretKey.reveal() };
    // The trust question in both languages through axe: a login answered "No, don't trust" in each.
    for (const [i, ctx] of h.axeContexts.entries()) {
      const user = i === 0 ? "tom" : "tia";
      const page = await ctx.newPage();
      h.watch(page);
      const prompt = new PromptPage(page);
      const login = await startLogin(page, user, undefined, keys);
      await prompt.submitPasscode(h.totps.get(user)!());
      assert.equal(await prompt.headingText(), i === 0 ? "Trust this browser?" : "信任此瀏覽器？");
      assert.match(
        (await page.locator("#trust-text").textContent()) ?? "",
        i === 0 ? /For 30 days you won't need a second step for Library/ : /30 日內/,
      );
      await expectNoAxeViolations(page, `trust this browser (${i === 0 ? "en" : "zh-Hant"})`);
      await prompt.chooseTrust(false);
      await page.waitForURL(`${h.s.app.origin}/callback?**`);
      assert.equal((await exchange(login, user)).auth_context.factor, "duo_mobile_passcode");
      await page.close();
    }
    const { page, prompt } = await newPage("en");
    const first = await startLogin(page, "tess", undefined, keys);
    await prompt.submitPasscode(h.totps.get("tess")!());
    await prompt.chooseTrust(true);
    await page.waitForURL(`${h.s.app.origin}/callback?**`);
    await exchange(first, "tess");
    const cookies = await page.context().cookies();
    assert.ok(
      cookies.some((c) => c.name === `__Host-twofold-trust-${keys.clientId}` && c.httpOnly && c.secure),
    );

    // The next login in this browser goes straight back: no prompt page, and the application is told why.
    const second = await startLogin(page, "tess", undefined, keys);
    await page.waitForURL(`${h.s.app.origin}/callback?**`);
    const skipped = await exchange(second, "tess");
    assert.equal(skipped.auth_context.factor, "remembered_device");
    assert.equal(skipped.auth_context.reason, "remembered_device");
    // Trust is per application: Campus Portal (which remembers no browser) still asks.
    await startLogin(page, "tess");
    assert.equal(await prompt.headingText(), "Enter a passcode");

    // Revoked by an administrator: the browser is asked again, and its cookie is dropped.
    await services.revokeAllTrustedBrowsers(ADMIN, "tess");
    await startLogin(page, "tess", undefined, keys);
    assert.equal(await prompt.headingText(), "Enter a passcode");
    assert.ok(
      !(await page.context().cookies()).some((c) => c.name === `__Host-twofold-trust-${keys.clientId}`),
    );
    await page.close();
  });

  test("enrolment in the prompt: a user who never had a factor activates the authenticator, then logs in with it", async () => {
    const { services } = h.s.duo.t.runtime;
    const enrolling = await services.createApplication(ADMIN, {
      name: "Student Records",
      type: "web-sdk",
      redirectURIs: [h.s.app.redirectUri],
      policy: { newUserPolicy: "enroll", rememberDays: 0 },
    });
    const keys = { clientId: enrolling.application.id, clientSecret: enrolling.secretKey.reveal() };
    // rex had an authenticator app, removed since: he may not enrol here (an administrator resets him first).
    const rexApp = await services.enrollTOTP(ADMIN, "rex");
    const rexKey = decodeBase32(rexApp.secret.reveal())!;
    await services.confirmTOTP(
      ADMIN,
      rexApp.credentialId,
      generateTOTP({ key: rexKey, algorithm: "SHA1", digits: 6, period: 30 }, Date.now()),
    );
    await services.removeOTPCredential(ADMIN, rexApp.credentialId);

    const { page, prompt } = await newPage("en");
    await startLogin(page, "rex", undefined, keys);
    assert.equal(await prompt.headingText(), "You can't log in this way");

    const login = await startLogin(page, "neo", undefined, keys);
    assert.equal(await prompt.headingText(), "Set up two-factor authentication");
    await axeBothLanguages(page.url(), "enrolment start");
    await axeBothLanguages(page.url(), "enrolment QR code", (p) => p.startEnrollment());
    await prompt.startEnrollment();
    assert.equal(await prompt.headingText(), "Scan this code with your phone");
    assert.ok(await page.getByRole("img", { name: /scan this code/i }).isVisible());
    const shown = await page.getByRole("link", { name: /Open the activation link/ }).getAttribute("href");
    const token = new URL(String(shown)).hash.replace(/^#activate=/, "");
    const state = `${h.s.duo.dir}/neo-device.json`;
    const activated = await h.s.duo.device(state, [
      "activate",
      `https://${h.s.duo.host}/authenticator#activate=${token}`,
      "--name",
      "Neo's phone",
    ]);
    assert.equal(activated.code, 0, activated.stderr);
    h.devices.set("neo", state);
    // The QR page moves on by itself once the phone has activated the app.
    await page.locator(".number").waitFor();
    assert.equal((await answer("neo", "approve", await prompt.pushNumber())).code, 0);
    // The first login with the new app: a backup is offered (this device or a security key); skipped here.
    await page.waitForURL(/\/enroll\/backup$/);
    assert.equal(await prompt.headingText(), "Add a backup");
    await page.getByRole("button", { name: "Skip backup" }).click();
    await page.waitForURL(`${h.s.app.origin}/callback?**`);
    assert.equal((await exchange(login, "neo")).auth_context.factor, "duo_push");
    await page.close();
  });

  test("no page logged a console error (CSP violations included)", () => {
    assert.deepEqual(h.problems, []);
  });
});
