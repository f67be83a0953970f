// The login prompt as a user sees it: found by role and visible text (the user's words), plus axe-core for each page.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Page } from "playwright-core";
import { ACTIVATIONS_PER_LOGIN } from "../../../src/core/use-cases/prompt-activation-limit.ts";

const AXE_SOURCE = readFileSync(
  resolve(import.meta.dirname, "../../../node_modules/axe-core/axe.min.js"),
  "utf8",
);

/**
 * axe-core on the page as it is now: WCAG 2.0–2.2 A and AA plus best practices, failing on any violation of any
 * impact. The page must come from a context with `bypassCSP` (axe is injected as a script).
 */
export async function expectNoAxeViolations(page: Page, what: string): Promise<void> {
  await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run(o: unknown): Promise<{
            violations: Array<{ id: string; impact: string; nodes: Array<{ target: unknown }> }>;
          }>;
        };
      }
    ).axe;
    const result = await axe.run({
      runOnly: {
        type: "tag",
        values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
      },
    });
    return result.violations.map(
      (v) => `${v.id} (${v.impact}): ${JSON.stringify(v.nodes.map((n) => n.target))}`,
    );
  });
  assert.deepEqual(violations, [], `axe on ${what} (${page.url()})`);
}

/**
 * On an activation QR page: "Show a new code" until the login has shown as many codes as it may, then once more;
 * that one is refused (429) with a page saying what to do next.
 */
export async function showNewCodesPastTheLimit(page: Page, names: { newCode: string; scanTitle: string }) {
  for (let shown = 1; shown < ACTIVATIONS_PER_LOGIN; shown++) {
    await page.getByRole("button", { name: names.newCode }).click();
    await page.getByRole("heading", { level: 1, name: names.scanTitle }).waitFor();
  }
  const refused = page.waitForResponse((r) => r.request().method() === "POST");
  await page.getByRole("button", { name: names.newCode }).click();
  assert.equal((await refused).status(), 429);
}

export class PromptPage {
  constructor(readonly page: Page) {}

  heading() {
    return this.page.getByRole("heading", { level: 1 });
  }

  async headingText(): Promise<string> {
    return ((await this.heading().textContent()) ?? "").trim();
  }

  /** The number to type into the app, as shown (grouped "482 913"), digits only. */
  async pushNumber(): Promise<string> {
    const text = (await this.page.locator(".number").textContent()) ?? "";
    return text.replace(/\D/g, "");
  }

  async alertText(): Promise<string> {
    return ((await this.page.getByRole("alert").first().textContent()) ?? "").trim();
  }

  /** "Enter a passcode": type into the one field and press Log in. */
  async submitPasscode(code: string, button = /^(Log in|登入)$/): Promise<void> {
    await this.page.getByLabel(/^(Passcode|驗證碼)$/).fill(code);
    await this.page.getByRole("button", { name: button }).click();
  }

  async openOtherOptions(): Promise<void> {
    await this.page.getByRole("link", { name: /Other options|其他選項/ }).click();
  }

  async chooseEnterPasscode(): Promise<void> {
    await this.page.getByRole("link", { name: /Enter a passcode|輸入驗證碼/ }).click();
  }

  async choosePush(): Promise<void> {
    await this.page.getByRole("button", { name: /Twofold Authenticator push|推送通知/ }).click();
  }

  async sendAgain(): Promise<void> {
    await this.page.getByRole("button", { name: /^(Send again|重新傳送)$/ }).click();
  }

  /** The no-script way on: Continue waits server-side for the answer. */
  async continueAfterApproving(): Promise<void> {
    await this.page.getByRole("button", { name: /^(Continue|繼續)$/ }).click();
  }

  async returnToApp(app: string): Promise<void> {
    await this.page.getByRole("button", { name: new RegExp(`^(Return to ${app}|返回 ${app})$`) }).click();
  }

  async notMe(): Promise<void> {
    await this.page.getByRole("button", { name: /^(Not you\?|不是你？)$/ }).click();
  }

  async continueToApp(app: string): Promise<void> {
    await this.page
      .getByRole("button", { name: new RegExp(`^(Continue to ${app}|繼續前往 ${app})$`) })
      .click();
  }

  /** Enrolment: "Twofold Authenticator app (recommended)" (shows the activation QR code). */
  async startEnrollment(): Promise<void> {
    await this.page
      .getByRole("button", {
        name: /^(Twofold Authenticator app \(recommended\)|Twofold Authenticator App（建議）)/,
      })
      .click();
  }

  /** T3: "Yes, trust browser" or "No, don't trust" (neither is preselected). */
  async chooseTrust(yes: boolean): Promise<void> {
    const name = yes ? /^(Yes, trust browser|是，信任此瀏覽器)$/ : /^(No, don't trust|否，不信任)$/;
    await this.page.getByRole("button", { name }).click();
  }

  async switchLanguage(label: "English" | "繁體中文"): Promise<void> {
    await this.page.getByRole("link", { name: label }).click();
  }
}
