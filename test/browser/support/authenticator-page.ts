// Page object for the Twofold Authenticator web app: what a user sees and does, in their words.
import type { BrowserContext, Locator, Page } from "playwright-core";

export interface ActivationAnswer {
  deviceId: string;
  username: string;
  organization: string;
  totp: { secret: string; algorithm: string; digits: number; period: number };
}

export interface StoredKeys {
  username: string;
  signingKey: { type: string; algorithm: string; extractable: boolean; usages: string[] };
  totpKey: { type: string; algorithm: string; extractable: boolean; usages: string[] };
  exportRefused: boolean;
  /** The stored record as JSON (CryptoKeys serialise to {}), to look for a leaked seed. */
  record: string;
}

export interface ShownNotification {
  title: string;
  body: string;
  tag: string;
  data: unknown;
  lang: string;
}

export class AuthenticatorPage {
  /** Content-Security-Policy / Trusted Types violations, uncaught errors and the app's own warnings. */
  readonly problems: string[] = [];

  private constructor(
    readonly page: Page,
    readonly baseUrl: string,
  ) {
    page.on("console", (message) => {
      const text = message.text();
      // A stopped server's refused connections are expected; everything else the console says is a problem.
      if (message.type() === "error" && /^Failed to load resource/.test(text)) return;
      // Headless contexts are incognito: Chromium refuses push subscriptions there, and says so.
      if (/does not support the Push API in incognito mode/.test(text)) return;
      if (message.type() === "error" || message.type() === "warning") this.problems.push(`console: ${text}`);
    });
    page.on("pageerror", (error) => this.problems.push(`page error: ${error.message}`));
  }

  static async open(context: BrowserContext, baseUrl: string): Promise<AuthenticatorPage> {
    const app = new AuthenticatorPage(await context.newPage(), baseUrl);
    await app.goto();
    return app;
  }

  async goto(path = "/authenticator/"): Promise<void> {
    await this.page.goto(new URL(path, this.baseUrl).href);
    await this.ready();
  }

  async ready(): Promise<void> {
    await this.page.locator("body[data-ready=true]").waitFor();
  }

  /** Open an activation link as a phone's camera app would; returns what the server answered the app. */
  async openActivationLink(link: string): Promise<ActivationAnswer> {
    const answer = this.page.waitForResponse((r) => r.url().endsWith("/device/v1/activate"));
    await this.page.goto(link);
    const response = await answer;
    await this.ready();
    return (await response.json()) as ActivationAnswer;
  }

  async pasteActivationLink(link: string): Promise<void> {
    await this.page.getByLabel("Activation link").fill(link);
    await this.page.getByRole("button", { name: "Activate" }).click();
  }

  async scanQRCode(): Promise<void> {
    await this.page.getByRole("button", { name: "Scan QR code" }).click();
  }

  activationStatus(): Locator {
    return this.page.locator("#activation-status");
  }

  account(username: string): Locator {
    return this.page.locator(`li[data-username="${username}"]`);
  }

  /** The passcode shown for `username`, digits only. */
  async passcode(username: string): Promise<string> {
    const digits = this.account(username).locator("[data-passcode]");
    await digits.filter({ hasText: /\d/ }).waitFor();
    return (await digits.textContent())!.replace(/\s/g, "");
  }

  request(txid: string): Locator {
    return this.page.locator(`li[data-txid="${txid}"]`);
  }

  codeField(txid: string): Locator {
    return this.request(txid).getByLabel(/Code shown on the login screen/);
  }

  async approve(txid: string, code: string): Promise<void> {
    await this.codeField(txid).fill(code);
    await this.request(txid).getByRole("button", { name: "Approve" }).click();
  }

  async deny(txid: string): Promise<void> {
    await this.request(txid).getByRole("button", { name: "Deny" }).click();
  }

  /** "This wasn't me", then the confirmation dialog: confirmed or cancelled. */
  async reportFraud(txid: string, confirm: boolean): Promise<void> {
    await this.request(txid).getByRole("button", { name: "This wasn't me" }).click();
    const dialog = this.page.getByRole("dialog", { name: "Report this login as fraud?" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: confirm ? "Report fraud" : "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
  }

  outcome(txid: string): Locator {
    return this.request(txid).locator(".outcome");
  }

  announcements(): Locator {
    return this.page.locator("#announcer");
  }

  connectionStatus(): Locator {
    return this.page.locator("#connection");
  }

  async chooseLanguage(name: "English" | "繁體中文"): Promise<void> {
    await this.page.locator("#language").selectOption({ label: name });
  }

  /** Resolves once a service worker is active and controls the page (the shell is then cached). */
  async serviceWorkerReady(): Promise<void> {
    // An active worker, then a page it controls. `controllerchange` can pass unseen (the worker claims the
    // page while the test looks elsewhere), so look for the controller a few times and reload if it never comes:
    // a reload is always controlled by an active worker. Page evaluations have no timeout of their own.
    await this.page.evaluate(`Promise.race([
      navigator.serviceWorker.ready,
      new Promise((_, reject) => setTimeout(() => reject(new Error("no active service worker in 15 s")), 15000)),
    ]).then(() => true)`);
    for (let attempt = 0; attempt < 3; attempt++) {
      const controlled = await this.page.evaluate(`new Promise((resolve) => {
        if (navigator.serviceWorker.controller) return resolve(true);
        navigator.serviceWorker.addEventListener("controllerchange", () => resolve(true), { once: true });
        setTimeout(() => resolve(Boolean(navigator.serviceWorker.controller)), 2000);
      })`);
      if (controlled) return;
      await this.page.reload();
      await this.ready();
    }
    throw new Error("the service worker never controlled the page");
  }

  /**
   * Hand the service worker a Web Push message as the browser's push service would (DevTools protocol), and
   * return the notifications it then shows.
   */
  async deliverWebPush(payload: unknown): Promise<ShownNotification[]> {
    const cdp = await this.page.context().newCDPSession(this.page);
    try {
      const registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] = [];
      const updated = new Promise<void>((resolve) => {
        cdp.on("ServiceWorker.workerRegistrationUpdated", (event) => {
          registrations.push(...event.registrations);
          resolve();
        });
      });
      await cdp.send("ServiceWorker.enable");
      await updated;
      const registration = registrations.find((r) => !r.isDeleted && r.scopeURL.endsWith("/authenticator"));
      if (!registration) throw new Error("no service worker registration for /authenticator");
      await cdp.send("ServiceWorker.deliverPushMessage", {
        origin: new URL(this.baseUrl).origin,
        registrationId: registration.registrationId,
        data: JSON.stringify(payload),
      });
    } finally {
      await cdp.detach();
    }
    return this.page.evaluate(`(async () => {
      const registration = await navigator.serviceWorker.ready;
      for (let i = 0; i < 50; i++) {
        const shown = await registration.getNotifications();
        if (shown.length > 0)
          return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data, lang: n.lang }));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return [];
    })()`) as Promise<ShownNotification[]>;
  }

  /** Is `name` a property of the page's window (an XSS payload would set one)? */
  hasGlobal(name: string): Promise<boolean> {
    return this.page.evaluate(`${JSON.stringify(name)} in window`) as Promise<boolean>;
  }

  /** The keys as IndexedDB holds them, read in the page (plain script text: the page has no TypeScript). */
  storedKeys(): Promise<StoredKeys[]> {
    return this.page.evaluate(`(async () => {
      const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open("twofold-authenticator");
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const records = await new Promise((resolve, reject) => {
        const request = db.transaction("accounts").objectStore("accounts").getAll();
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      db.close();
      const describe = (key) => ({
        type: key.type,
        algorithm: key.algorithm.name,
        extractable: key.extractable,
        usages: [...key.usages],
      });
      const refused = (format, key) => crypto.subtle.exportKey(format, key).then(() => false, () => true);
      return Promise.all(records.map(async (r) => ({
        username: r.username,
        signingKey: describe(r.signingKey),
        totpKey: describe(r.totpKey),
        exportRefused:
          (await refused("pkcs8", r.signingKey)) && (await refused("jwk", r.signingKey)) &&
          (await refused("raw", r.totpKey)) && (await refused("jwk", r.totpKey)),
        record: JSON.stringify(r),
      })));
    })()`) as Promise<StoredKeys[]>;
  }
}
