// What the Universal Prompt browser tests share: Twofold with TLS and a Web SDK application, users and their factors, Chromium
// contexts (CSP enforced; and two that bypass it for axe-core), and the steps of a login as the SDK and a user make them.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { decodeBase32 } from "../../../src/core/base32.ts";
import { generateTOTP } from "../../../src/core/otp/totp.ts";
import { ADMIN } from "../../http/support.ts";
import { type PromptTestServer, startPromptServer } from "../../support/universal-prompt.ts";
import { launchChromium } from "./chromium.ts";
import { expectNoAxeViolations, PromptPage } from "./prompt-page.ts";

export interface HarnessUsers {
  /** Users with an authenticator app (TOTP) only. */
  totp?: string[];
  /** Users with the command-line Twofold Authenticator activated (push, and its passcodes). */
  devices?: string[];
  /** Users with no factor at all. */
  plain?: string[];
}

export class PromptHarness {
  s!: PromptTestServer;
  browser!: Browser;
  /** axe-core is injected as a script: these two contexts (en, zh-Hant) bypass the CSP, the others enforce it. */
  axeContexts: BrowserContext[] = [];
  readonly problems: string[] = [];
  readonly devices = new Map<string, string>();
  readonly totps = new Map<string, () => string>();

  /** Script errors and console errors (CSP, Trusted Types) fail the run; a browser's note on a 4xx answer does not. */
  watch = (page: Page) => {
    page.on("pageerror", (e) => this.problems.push(`${page.url()}: ${e.message}`));
    page.on("console", (m) => {
      if (
        m.type() === "error" &&
        !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())
      )
        this.problems.push(`${page.url()}: ${m.text()}`);
    });
  };

  /** A page in a browser of its own (the prompt remembers the last method per browser). */
  newPage = async (language: "en" | "zh" = "en") => {
    const ctx = await this.browser.newContext({
      ignoreHTTPSErrors: true,
      locale: language === "zh" ? "zh-HK" : "en-GB",
    });
    ctx.setDefaultTimeout(20_000);
    const page = await ctx.newPage();
    page.on("close", () => {
      ctx.close().catch(() => undefined);
    });
    this.watch(page);
    return { page, prompt: new PromptPage(page) };
  };

  /** The application starts a login: the SDK's health check, state and authorize URL, the browser sent there. */
  startLogin = async (
    page: Page,
    username: string,
    redirectUrl?: string,
    keys: { clientId?: string; clientSecret?: string } = {},
  ) => {
    const sdk = this.s.sdk({ ...(redirectUrl ? { redirectUrl } : {}), ...keys });
    assert.equal((await sdk.healthCheck()).stat, "OK");
    const state = sdk.generateState();
    await page.goto(await sdk.createAuthUrl(username, state));
    return { sdk, state };
  };

  /** Back at the application: the SDK exchanges the code and checks the id_token. */
  exchange = async (login: Awaited<ReturnType<PromptHarness["startLogin"]>>, username: string) => {
    const query = await this.s.app.callback(login.state);
    assert.equal(query.get("state"), login.state);
    return login.sdk.exchangeAuthorizationCodeFor2FAResult(query.get("duo_code")!, username);
  };

  /** The command-line authenticator: the txid of the pending push, then the answer (typing the number). */
  answer = async (username: string, decision: "approve" | "deny" | "fraud", code?: string) => {
    const state = this.devices.get(username)!;
    const pending = await this.s.duo.device(state, ["pending", "--json"]);
    const txid = (JSON.parse(pending.stdout) as { pushes: Array<{ txid: string }> }).pushes[0]!.txid;
    return this.s.duo.device(state, [decision, txid, ...(code ? ["--code", code] : [])]);
  };

  /** A page in both languages through axe (its URL read again: no state changes), after `then` if given. */
  axeBothLanguages = async (url: string, what: string, then?: (p: PromptPage) => Promise<void>) => {
    for (const [i, ctx] of this.axeContexts.entries()) {
      const page = await ctx.newPage();
      await page.goto(url);
      await then?.(new PromptPage(page));
      await expectNoAxeViolations(page, `${what} (${i === 0 ? "en" : "zh-Hant"})`);
      await page.close();
    }
  };
}

/** Register the harness's before/after hooks in the calling describe. */
export function promptHarness(
  users: HarnessUsers,
  /** Settings on top of the test server's, read when it starts (after the describe's earlier before hooks). */
  overrides?: () => Record<string, unknown>,
): PromptHarness {
  const h = new PromptHarness();
  before(async () => {
    h.s = await startPromptServer(overrides ? { overrides: overrides() } : {});
    const { services } = h.s.duo.t.runtime;
    for (const name of [...(users.totp ?? []), ...(users.devices ?? []), ...(users.plain ?? [])])
      await services.createUser(ADMIN, { username: name });
    for (const name of users.totp ?? []) {
      const e = await services.enrollTOTP(ADMIN, name);
      const params = {
        key: decodeBase32(e.secret.reveal())!,
        algorithm: "SHA1" as const,
        digits: 6,
        period: 30,
      };
      const confirmedAt = Date.now();
      await services.confirmTOTP(ADMIN, e.credentialId, generateTOTP(params, confirmedAt));
      // The confirmation used its window's code, and a code is good once: a login in that same window types the
      // next window's code (within the accepted drift), never the one already spent.
      const spent = Math.floor(confirmedAt / 30_000);
      const code = () => generateTOTP(params, Math.max(Date.now(), (spent + 1) * 30_000));
      h.totps.set(name, code);
    }
    for (const name of users.devices ?? []) h.devices.set(name, await h.s.duo.activateAuthenticator(name));
    h.browser = await launchChromium();
    h.axeContexts = [
      await h.browser.newContext({ ignoreHTTPSErrors: true, locale: "en-GB", bypassCSP: true }),
      await h.browser.newContext({ ignoreHTTPSErrors: true, locale: "zh-HK", bypassCSP: true }),
    ];
    for (const ctx of h.axeContexts) ctx.setDefaultTimeout(20_000);
  });
  after(async () => {
    await h.browser?.close();
    await h.s?.close();
  });
  return h;
}
