// the Universal Prompt with Duo's Node SDK, in Chromium: passcode and push
// Duo's official Node SDK (@duosecurity/duo_universal 3.0.0) over TLS, the prompt driven in Chromium as a user would, pushes
// answered by the command-line authenticator after typing the number shown, axe-core on every page in both languages.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { haveOpenSSL } from "../support/certificates.ts";
import { chromiumMissing } from "./support/chromium.ts";
import { promptHarness } from "./support/prompt-harness.ts";

const missing = chromiumMissing() ?? (haveOpenSSL("Universal Prompt tests") ? undefined : "openssl missing");

describe("the Universal Prompt with Duo's Node SDK, in Chromium: passcode and push", {
  skip: missing,
}, () => {
  const h = promptHarness({ totp: ["pat"], devices: ["alice"] });
  const { newPage, startLogin, exchange, answer, axeBothLanguages } = h;

  test("passcode: the SDK's health check, the prompt's one field, and an id_token the SDK accepts", async () => {
    const { page, prompt } = await newPage("en");
    const login = await startLogin(page, "pat");
    assert.match(
      page.url(),
      /\/prompt\/[0-9a-f]{32}\/passcode$/,
      "pat has no phone: the prompt starts with a passcode",
    );
    assert.equal(await prompt.headingText(), "Enter a passcode");
    assert.ok(await page.getByText("Logging in to Campus Portal").isVisible());
    await axeBothLanguages(page.url(), "Enter a passcode");
    await prompt.submitPasscode("");
    assert.equal(await page.title(), "Error: Enter a passcode");
    assert.match(await prompt.alertText(), /Enter your passcode\./);
    await axeBothLanguages(page.url(), "passcode with an error", (p) => p.submitPasscode("12ab!"));
    await prompt.submitPasscode("000000");
    assert.match(await prompt.alertText(), /That passcode didn't work\. Check it and try again\./);
    // Full-width digits and spaces are what people paste: the prompt normalises them (ux.md §1).
    const code = h.totps.get("pat")!();
    const fullWidth = [...code].map((d) => String.fromCharCode(0xff10 + Number(d))).join("");
    await prompt.submitPasscode(`${fullWidth.slice(0, 3)} ${fullWidth.slice(3)}`);
    await page.waitForURL(`${h.s.app.origin}/callback?**`).catch(async (error: unknown) => {
      // Say where the browser is instead: the page's heading and alert tell why it did not go back.
      const heading = await prompt.headingText().catch(() => "?");
      const alert = await prompt.alertText().catch(() => "");
      throw new Error(`not back at the application: ${page.url()} "${heading}" ${alert}`, { cause: error });
    });
    const token = await exchange(login, "pat");
    assert.equal(token.preferred_username, "pat");
    assert.deepEqual(token.auth_result, { result: "allow", status: "allow", status_msg: "Login Successful" });
    assert.equal(token.auth_context.factor, "duo_mobile_passcode");
    assert.equal(token.auth_context.application.name, "Campus Portal");
    // The code is single use: the application cannot redeem it twice.
    const query = await h.s.app.callback(login.state);
    await assert.rejects(
      login.sdk.exchangeAuthorizationCodeFor2FAResult(query.get("duo_code")!, "pat"),
      /invalid_grant/,
    );
    await page.close();
  });

  test("push in Traditional Chinese: the number shown is typed in the authenticator; the page moves on by itself", async () => {
    const { page, prompt } = await newPage("zh");
    const login = await startLogin(page, "alice");
    assert.match(page.url(), /\/push$/);
    assert.equal(await prompt.headingText(), "請在 Twofold Authenticator 批准登入要求");
    const number = await prompt.pushNumber();
    assert.match(number, /^\d{6}$/);
    await axeBothLanguages(page.url(), "push waiting");
    const approved = await answer("alice", "approve", number);
    assert.equal(approved.code, 0, approved.stderr);
    await page.waitForURL(`${h.s.app.origin}/callback?**`);
    const token = await exchange(login, "alice");
    assert.equal(token.auth_context.factor, "duo_push");
    assert.equal(token.auth_context.reason, "user_approved");
    await page.close();
  });

  test("no page logged a console error (CSP violations included)", () => {
    assert.deepEqual(h.problems, []);
  });
});
