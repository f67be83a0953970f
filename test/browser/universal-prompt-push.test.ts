// the Universal Prompt in Chromium: how a push ends (wrong number, denial, fraud, a completion-gate refusal)
// Duo's official Node SDK (@duosecurity/duo_universal 3.0.0) over TLS, the prompt driven in Chromium as a user would, pushes
// answered by the command-line authenticator after typing the number shown, axe-core on every page in both languages.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ADMIN } from "../http/support.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { chromiumMissing } from "./support/chromium.ts";
import { promptHarness } from "./support/prompt-harness.ts";

const missing = chromiumMissing() ?? (haveOpenSSL("Universal Prompt tests") ? undefined : "openssl missing");

describe("the Universal Prompt in Chromium: how a push ends (wrong number, denial, fraud, a completion-gate refusal)", {
  skip: missing,
}, () => {
  const h = promptHarness({ devices: ["wendy", "dan", "fred", "gus"] });
  const { newPage, startLogin, answer, axeBothLanguages } = h;

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
