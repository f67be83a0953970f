// the Universal Prompt with Duo's Node SDK, in Chromium: passcode, push and how a push ends
// Duo's official Node SDK (@duosecurity/duo_universal 3.0.0) over TLS, the prompt driven in Chromium as a user would, pushes
// answered by the command-line authenticator after typing the number shown, axe-core on every page in both languages.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ADMIN } from "../http/support.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { chromiumMissing } from "./support/chromium.ts";
import { promptHarness } from "./support/prompt-harness.ts";

const missing = chromiumMissing() ?? (haveOpenSSL("Universal Prompt tests") ? undefined : "openssl missing");

describe("the Universal Prompt with Duo's Node SDK, in Chromium: passcode, push and how a push ends", {
  skip: missing,
}, () => {
  const h = promptHarness({ totp: ["pat"], devices: ["alice", "wendy", "dan", "fred", "gus"] });
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
    await page.waitForURL(`${h.s.app.origin}/callback?**`);
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

  test("a wrong number, a denial and a fraud report each say what happened and offer a way on", async () => {
    const cases = [
      {
        user: "wendy",
        decision: "approve" as const,
        wrong: true,
        message: /numbers didn't match/,
        again: true,
      },
      {
        user: "dan",
        decision: "deny" as const,
        wrong: false,
        message: /Request denied in the app\./,
        again: true,
      },
      {
        user: "fred",
        decision: "fraud" as const,
        wrong: false,
        message: /You reported this request\./,
        again: false,
      },
    ];
    for (const c of cases) {
      const { page, prompt } = await newPage("en");
      await startLogin(page, c.user);
      const number = await prompt.pushNumber();
      const shown = page.waitForURL(/\/push$/, { waitUntil: "load" });
      await answer(
        c.user,
        c.decision,
        c.wrong ? number.replace(/^./, (d) => String((Number(d) + 1) % 10)) : undefined,
      );
      await shown;
      await page.getByRole("alert").waitFor();
      assert.match(await prompt.alertText(), c.message, c.user);
      assert.equal(
        await page.getByRole("button", { name: "Send again" }).isVisible(),
        c.again,
        `${c.user}: Send again`,
      );
      assert.ok(await page.getByRole("link", { name: "Other options" }).isVisible());
      if (c.user === "wendy") {
        await axeBothLanguages(page.url(), "push ended");
        // Send again: a new number, the old push cancelled.
        await prompt.sendAgain();
        await page.locator(".number").waitFor();
        assert.notEqual(await prompt.pushNumber(), "");
      }
      if (c.user === "fred") {
        await prompt.openOtherOptions();
        assert.equal(await prompt.headingText(), "Choose a way to log in");
        await axeBothLanguages(page.url(), "Other options");
      }
      await page.close();
    }
  });

  test("an approval after the account was disabled is refused by the completion gate; Return goes back with access_denied", async () => {
    const { page, prompt } = await newPage("en");
    const login = await startLogin(page, "gus");
    const number = await prompt.pushNumber();
    await h.s.duo.t.runtime.services.setUserStatus(ADMIN, "gus", "disabled");
    const refused = await answer("gus", "approve", number);
    assert.equal(refused.code, 1, "the authenticator is told the login was not approved");
    await page.waitForURL(/\/push$/, { waitUntil: "load" });
    await page.getByRole("alert").waitFor();
    assert.match(await prompt.alertText(), /Your account can't sign in here\./);
    await page.reload();
    assert.equal(await prompt.headingText(), "You can't log in this way");
    await axeBothLanguages(page.url(), "can't log in");
    await prompt.returnToApp("Campus Portal");
    await page.waitForURL(`${h.s.app.origin}/callback?**`);
    const query = await h.s.app.callback(login.state);
    assert.equal(query.get("error"), "access_denied");
    assert.equal(query.get("duo_code"), null);
    await page.close();
  });

  test("no page logged a console error (CSP violations included)", () => {
    assert.deepEqual(h.problems, []);
  });
});
