// Page object for the start page and the demo's result pages: the forms a newcomer fills in, and what they see.
import type { BrowserContext, Locator, Page } from "playwright-core";

/** A form as "METHOD /path", with ids in the path shown as `:id` (one entry per kind of form). */
export type FormKey = string;

export class StartPage {
  /** Every form seen on a page we served, and every form this page object submitted. */
  readonly formsSeen = new Set<FormKey>();
  readonly formsSubmitted = new Set<FormKey>();
  /** Uncaught errors, CSP violations, console errors and failed loads. */
  readonly problems: string[] = [];

  private constructor(
    readonly page: Page,
    readonly baseUrl: string,
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

  static async open(context: BrowserContext, baseUrl: string): Promise<StartPage> {
    const start = new StartPage(await context.newPage(), baseUrl);
    await start.goto();
    return start;
  }

  async goto(): Promise<void> {
    await this.page.goto(new URL("/", this.baseUrl).href);
    await this.noteForms();
  }

  async backToStartPage(): Promise<void> {
    await this.follow(this.page.getByRole("link", { name: "Back to the start page" }));
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
    const form = this.form("Check a passcode");
    await form.getByLabel("Username").fill(username);
    await form.getByLabel("Passcode").fill(passcode);
    return this.submit(form, "Check passcode");
  }

  /** The demo inbox's "Text me a passcode". */
  async textMe(username: string): Promise<number> {
    const form = this.form("Text me a passcode");
    await form.getByLabel("Username").fill(username);
    return this.submit(form, "Text me a passcode");
  }

  /** The demo inbox's entries, newest first, as a reader sees them. */
  inboxEntries(): Locator {
    return this.page.locator("#demo-inbox li");
  }

  async refreshInbox(): Promise<number> {
    return this.follow(this.page.getByRole("link", { name: "Refresh the inbox" }));
  }

  async requestActivationLink(username: string): Promise<number> {
    const form = this.form("Activate the Twofold Authenticator");
    await form.getByLabel("Username").fill(username);
    return this.submit(form, "Activation link");
  }

  /** The activation link the activation page shows. */
  async activationLink(): Promise<string> {
    return (await this.page.getByRole("link", { name: /#activate=/ }).getAttribute("href")) ?? "";
  }

  async sendPush(username: string): Promise<number> {
    const form = this.form("Send a push");
    await form.getByLabel("Username").fill(username);
    return this.submit(form, "Send a push");
  }

  /** The code the push page tells the user to type in the app. */
  async pushCode(): Promise<string> {
    return (await this.result().textContent())?.trim() ?? "";
  }

  /** The push's id, as the "Show the result" form names it. */
  async pushTxid(): Promise<string> {
    const action = (await this.form("Push result").getAttribute("action")) ?? "";
    return action.split("/").at(-1) ?? "";
  }

  async showPushResult(): Promise<number> {
    return this.submit(this.form("Push result"), "Show the result");
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
