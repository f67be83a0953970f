// Page object for the start page and the demo's result pages: the forms a newcomer fills in, and what they see.
import type { BrowserContext, Locator, Page } from "playwright-core";

/** A form as "METHOD /path", with ids in the path shown as `:id` (one entry per kind of form). */
export type FormKey = string;

/** The words a user finds the start page's forms, fields and links by, in each language. */
export const START_WORDS = {
  en: {
    username: "Username",
    passcode: "Passcode",
    checkPasscodeForm: "Check a passcode",
    checkPasscode: "Check passcode",
    textMe: "Text me a passcode",
    refreshInbox: "Refresh the inbox",
    activateForm: "Activate the Twofold Authenticator",
    activationLink: "Activation link",
    sendPush: "Send a push",
    pushResultForm: "Push result",
    showResult: "Show the result",
    backToStart: "Back to the start page",
  },
  "zh-Hant": {
    username: "使用者名稱",
    passcode: "驗證碼",
    checkPasscodeForm: "檢查驗證碼",
    checkPasscode: "檢查驗證碼",
    textMe: "以短訊傳送驗證碼給我",
    refreshInbox: "重新整理收件匣",
    activateForm: "啟用 Twofold Authenticator",
    activationLink: "啟用連結",
    sendPush: "傳送推送通知",
    pushResultForm: "推送結果",
    showResult: "顯示結果",
    backToStart: "返回起始頁",
  },
} as const;
export type StartLanguage = keyof typeof START_WORDS;

export class StartPage {
  /** Every form seen on a page we served, and every form this page object submitted. */
  readonly formsSeen = new Set<FormKey>();
  readonly formsSubmitted = new Set<FormKey>();
  /** Uncaught errors, CSP violations, console errors and failed loads. */
  readonly problems: string[] = [];

  private constructor(
    readonly page: Page,
    readonly baseUrl: string,
    readonly words: (typeof START_WORDS)[StartLanguage] = START_WORDS.en,
  ) {
    page.on("console", (message) => {
      // Failed loads are reported below with their address.
      if (/^Failed to load resource/.test(message.text())) return;
      if (message.type() === "error" || message.type() === "warning")
        this.problems.push(`console: ${message.text()}`);
    });
    page.on("response", (response) => {
      // Chromium asks for /favicon.ico on its own; we have none, and nobody sees that.
      if (response.status() >= 400 && !response.url().endsWith("/favicon.ico"))
        this.problems.push(`${response.status()} ${response.url()}`);
    });
    page.on("pageerror", (error) => this.problems.push(`page error: ${error.message}`));
  }

  /** The start page in a new tab; `lang` is the language its words are found in (the browser's choice). */
  static async open(
    context: BrowserContext,
    baseUrl: string,
    lang: StartLanguage = "en",
  ): Promise<StartPage> {
    const start = new StartPage(await context.newPage(), baseUrl, START_WORDS[lang]);
    await start.goto();
    return start;
  }

  async goto(): Promise<void> {
    await this.page.goto(new URL("/", this.baseUrl).href);
    await this.noteForms();
  }

  async backToStartPage(): Promise<void> {
    await this.follow(this.page.getByRole("link", { name: this.words.backToStart }));
  }

  heading(): Locator {
    return this.page.getByRole("heading", { level: 1 });
  }

  /** The result line of a result page (role=status). */
  result(): Locator {
    return this.page.getByRole("status");
  }

  form(name: string): Locator {
    return this.page.getByRole("form", { name });
  }

  /** "Check a passcode": returns the HTTP status of the page the browser then shows. */
  async checkPasscode(username: string, passcode: string): Promise<number> {
    const form = this.form(this.words.checkPasscodeForm);
    await form.getByLabel(this.words.username).fill(username);
    await form.getByLabel(this.words.passcode, { exact: true }).fill(passcode);
    return this.submit(form, this.words.checkPasscode);
  }

  /** The demo inbox's "Text me a passcode". */
  async textMe(username: string): Promise<number> {
    const form = this.form(this.words.textMe);
    await form.getByLabel(this.words.username).fill(username);
    return this.submit(form, this.words.textMe);
  }

  /** The demo inbox's entries, newest first, as a reader sees them. */
  inboxEntries(): Locator {
    return this.page.locator("#demo-inbox li");
  }

  async refreshInbox(): Promise<number> {
    return this.follow(this.page.getByRole("link", { name: this.words.refreshInbox }));
  }

  async requestActivationLink(username: string): Promise<number> {
    const form = this.form(this.words.activateForm);
    await form.getByLabel(this.words.username).fill(username);
    return this.submit(form, this.words.activationLink);
  }

  /** The activation link the activation page shows. */
  async activationLink(): Promise<string> {
    return (await this.page.getByRole("link", { name: /#activate=/ }).getAttribute("href")) ?? "";
  }

  async sendPush(username: string): Promise<number> {
    const form = this.form(this.words.sendPush);
    await form.getByLabel(this.words.username).fill(username);
    return this.submit(form, this.words.sendPush);
  }

  /** The code the push page tells the user to type in the app. */
  async pushCode(): Promise<string> {
    return (await this.result().textContent())?.trim() ?? "";
  }

  /** The push's id, as the "Show the result" form names it. */
  async pushTxid(): Promise<string> {
    const action = (await this.form(this.words.pushResultForm).getAttribute("action")) ?? "";
    return action.split("/").at(-1) ?? "";
  }

  async showPushResult(): Promise<number> {
    return this.submit(this.form(this.words.pushResultForm), this.words.showResult);
  }

  /** Press a form's button as a user would and wait for the page it leads to; returns that page's status. */
  private async submit(form: Locator, button: string): Promise<number> {
    this.formsSubmitted.add(await formKey(form));
    return this.follow(form.getByRole("button", { name: button }));
  }

  private async follow(target: Locator): Promise<number> {
    const response = this.page.waitForResponse(
      (r) => r.request().isNavigationRequest() && r.request().frame() === this.page.mainFrame(),
    );
    await target.click();
    const status = (await response).status();
    await this.page.waitForLoadState();
    await this.noteForms();
    return status;
  }

  private async noteForms(): Promise<void> {
    for (const form of await this.page.locator("form").all()) this.formsSeen.add(await formKey(form));
  }
}

function formKey(form: Locator): Promise<FormKey> {
  return form.evaluate(
    (f: { method: string; action: string }) =>
      `${f.method.toUpperCase()} ${new URL(f.action).pathname.replace(/\/[0-9a-f]{8,}$/, "/:id")}`,
  );
}
