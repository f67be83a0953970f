// Enrolment's activation QR page asked for a new code past the login's limit, in Chromium: a page in the browser's
// language (what to do next: Activated: continue, another way to set up), axe-clean; never the JSON error.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { ACTIVATIONS_PER_LOGIN } from "../../src/core/use-cases/prompt-activation-limit.ts";
import { ADMIN } from "../http/support.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { chromiumMissing } from "./support/chromium.ts";
import { promptHarness } from "./support/prompt-harness.ts";
import { expectNoAxeViolations, PromptPage, showNewCodesPastTheLimit } from "./support/prompt-page.ts";

const missing =
  chromiumMissing() ?? (haveOpenSSL("prompt enrolment limit tests") ? undefined : "openssl missing");

const TEXT = {
  en: {
    app: /^Twofold Authenticator app \(recommended\)/,
    scanTitle: "Scan this code with your phone",
    newCode: "Show a new code",
    title: "No more codes for this login",
    message:
      "This login has shown as many codes as it may. Scanned one already? Choose Activated: continue. If not, log in to Student Records again to get a new code.",
    activated: "Activated: continue",
    otherWay: "Choose another way to set up",
    notActivatedTitle: "Not activated yet",
  },
  "zh-Hant": {
    app: /^Twofold Authenticator App（建議）/,
    scanTitle: "用手機掃描此代碼",
    newCode: "顯示新代碼",
    title: "此登入無法再顯示代碼",
    message:
      "此登入已顯示了可顯示的最多代碼。已掃描代碼？請按「已啟用：繼續」。如未掃描，請重新登入 Student Records 以取得新代碼。",
    activated: "已啟用：繼續",
    otherWay: "選擇其他設定方法",
    notActivatedTitle: "尚未啟用",
  },
} as const;

describe("enrolment's Show a new code past the login's limit, in Chromium", { skip: missing }, () => {
  const h = promptHarness({ plain: ["nell", "ning"] });
  let keys: { clientId: string; clientSecret: string };

  before(async () => {
    const created = await h.s.duo.t.runtime.services.createApplication(ADMIN, {
      name: "Student Records",
      type: "web-sdk",
      redirectURIs: [h.s.app.redirectUri],
      policy: { newUserPolicy: "enroll", rememberDays: 0 },
    });
    keys = { clientId: created.application.id, clientSecret: created.secretKey.reveal() };
  });

  for (const [i, lang] of (["en", "zh-Hant"] as const).entries()) {
    test(`${lang}: the ${ACTIVATIONS_PER_LOGIN + 1}th code gets a page saying what to do next`, async () => {
      const text = TEXT[lang];
      // axe is injected as a script: the harness's contexts for it bypass the page's CSP (en-GB, then zh-HK).
      const page = await h.axeContexts[i]!.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(e.message));
      try {
        const prompt = new PromptPage(page);
        await h.startLogin(page, lang === "en" ? "nell" : "ning", undefined, keys);
        await page.getByRole("button", { name: text.app }).click();
        await page.getByRole("heading", { level: 1, name: text.scanTitle }).waitFor();
        await showNewCodesPastTheLimit(page, text);
        await page.getByRole("heading", { level: 1, name: text.title }).waitFor();
        assert.equal(await prompt.alertText(), text.message);
        assert.doesNotMatch(await page.content(), /ERR_RATE_LIMITED/);
        await page.getByRole("link", { name: text.otherWay }).waitFor();
        await expectNoAxeViolations(page, `enrolment code limit (${lang})`);
        // The way forward: the codes already shown still count (not scanned here: "Not activated yet").
        await page.getByRole("link", { name: text.activated }).click();
        await page.getByRole("heading", { level: 1, name: text.notActivatedTitle }).waitFor();
        assert.deepEqual(problems, []);
      } finally {
        await page.close();
      }
    });
  }
});
