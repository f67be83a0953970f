// Web SDK v2 (duo_web's iframe) in Chromium: a frame the browser refuses starts no push; the registered page's frame does.
// Another site may copy a TX from the application's page and frame the prompt (or load it as an image) naming the
// registered parent: frame-ancestors keeps the page from showing, and nothing may reach the user's phone either.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import duoWeb from "@duosecurity/duo_web";
import { haveOpenSSL } from "../support/certificates.ts";
import { chromiumMissing } from "./support/chromium.ts";
import { promptHarness } from "./support/prompt-harness.ts";

const missing = chromiumMissing() ?? (haveOpenSSL("Web SDK v2 frame tests") ? undefined : "openssl missing");

describe("Web SDK v2 in Chromium: no push for a frame the browser refuses", { skip: missing }, () => {
  const h = promptHarness({ devices: ["fay", "gus"] });

  /** The pushes waiting on the user's phone (the command-line authenticator asks the server, as the app does). */
  const pendingOnPhone = async (username: string) => {
    const r = await h.s.duo.device(h.devices.get(username)!, ["pending", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { pushes: unknown[] }).pushes;
  };
  /** The authentication log's lines about this user. */
  const authLogOf = async (username: string) =>
    (
      await h.s.duo.t.runtime.services.listAuthLog({ minTime: 0, maxTime: Date.now() + 1000, limit: 500 })
    ).entries.filter((e) => e.username === username);
  /** The prompt's URL as duo_web builds it for `username`, naming the application's page as the parent. */
  const frameURL = (username: string) => {
    const tx = duoWeb.sign_request(h.s.app.ikey, h.s.app.skey, h.s.app.akey, username).split(":")[0]!;
    return `https://${h.s.duo.host}/frame/web/v1/auth?${new URLSearchParams({ tx, parent: `${h.s.app.origin}/v2` })}`;
  };

  /** Another site's page that frames `src` and loads it as an image; resolves once the browser refused the frame. */
  const frameElsewhere = async (src: string) => {
    const other = https.createServer(
      { cert: readFileSync(h.s.duo.certificates.cert), key: readFileSync(h.s.duo.certificates.key) },
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(
          `<!doctype html><html lang="en"><title>Other site</title><main><h1>Other site</h1><iframe id="f" title="x" src="${src}"></iframe><img id="i" alt="" src="${src}"></main></html>`,
        );
      },
    );
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const { port } = other.address() as AddressInfo;
    const context = await h.browser.newContext({ ignoreHTTPSErrors: true, locale: "en-GB" });
    context.setDefaultTimeout(20_000);
    try {
      const page = await context.newPage();
      const refused = page.waitForEvent("console", (m) => /frame-ancestors/.test(m.text()));
      await page.goto(`https://127.0.0.1:${port}/`);
      await refused;
      // The image is answered too (with no picture): every GET behind the link has been made once it is complete.
      await page.waitForFunction('document.getElementById("i").complete');
      assert.equal(await page.frameLocator("#f").getByRole("heading", { level: 1 }).count(), 0);
    } finally {
      await context.close();
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  };

  test("another site frames the prompt (and loads it as an image): no push reaches the phone, nothing in the auth log", async () => {
    await frameElsewhere(frameURL("fay"));
    assert.deepEqual(await pendingOnPhone("fay"), [], "no push on fay's phone");
    assert.deepEqual(await authLogOf("fay"), [], "nothing about fay in the authentication log");
  });

  test("the prompt opened on its own waits for Send me a push; the button sends it", async () => {
    const { page, prompt } = await h.newPage("en");
    await page.goto(frameURL("fay"));
    assert.equal(await prompt.headingText(), "Twofold Authenticator push");
    assert.deepEqual(await pendingOnPhone("fay"), [], "no push before the button");
    await page.getByRole("button", { name: "Send me a push" }).click();
    await page
      .getByRole("heading", { level: 1, name: "Approve the request in Twofold Authenticator" })
      .waitFor();
    assert.equal((await pendingOnPhone("fay")).length, 1);
    // A reload shows the same push, and sends no other.
    await page.reload();
    await page
      .getByRole("heading", { level: 1, name: "Approve the request in Twofold Authenticator" })
      .waitFor();
    assert.equal((await pendingOnPhone("fay")).length, 1);
    await page.close();
    // The page before the push, in both languages, through axe.
    const link = new URL(frameURL("gus"));
    const frame = await h.s.request("GET", link.pathname + link.search);
    const arrival = await h.s.request("GET", String(frame.headers.location));
    await h.axeBothLanguages(
      `https://${h.s.duo.host}${String(arrival.headers.location)}`,
      "Web SDK v2: before the first push",
      async (p) => {
        assert.match(await p.headingText(), /^(Twofold Authenticator push|Twofold Authenticator 推送通知)$/);
        await p.page.getByRole("button", { name: /^(Send me a push|傳送推送通知給我)$/ }).waitFor();
      },
    );
    assert.deepEqual(await pendingOnPhone("gus"), []);
  });

  test("the application's own page frames it: the push arrives, and duo_web verifies the AUTH response", async () => {
    const { page } = await h.newPage("en");
    await page.goto(`${h.s.app.origin}/v2?user=gus`);
    const frame = page.frameLocator("#duo_iframe");
    await frame
      .getByRole("heading", { level: 1, name: "Approve the request in Twofold Authenticator" })
      .waitFor();
    assert.equal((await pendingOnPhone("gus")).length, 1, "one push on gus's phone");
    const number = ((await frame.locator(".number").textContent()) ?? "").replace(/\D/g, "");
    const answered = await h.answer("gus", "approve", number);
    assert.equal(answered.code, 0, answered.stderr);
    await page.waitForURL(`${h.s.app.origin}/v2-result`);
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Verified: gus");
    assert.deepEqual(h.s.app.v2Results, ["gus"]);
    assert.equal((await authLogOf("gus")).filter((e) => e.result === "allow").length, 1);
    await page.close();
  });

  describe("an application that lets new users in without a second factor", () => {
    before(async () => {
      await h.s.duo.t.runtime.services.updateApplication({ name: "test" }, h.s.app.ikey, {
        policy: { newUserPolicy: "allow" },
      });
    });
    after(async () => {
      await h.s.duo.t.runtime.services.updateApplication({ name: "test" }, h.s.app.ikey, {
        policy: { newUserPolicy: "enroll" },
      });
    });

    test("another site frames the prompt for a new user: no allow, nothing in the auth log", async () => {
      await frameElsewhere(frameURL("hal"));
      assert.deepEqual(await authLogOf("hal"), [], "nothing about hal in the authentication log");
    });

    test("opened on its own, the page waits for Continue; the button lets the user in (both languages, axe)", async () => {
      for (const [username, language, heading, button] of [
        ["ida", "en", "No second factor needed", /^Continue to /],
        ["jon", "zh", "毋須第二步驗證", /^繼續前往 /],
      ] as const) {
        const { page, prompt } = await h.newPage(language);
        await page.goto(frameURL(username));
        assert.equal(await prompt.headingText(), heading);
        assert.deepEqual(await authLogOf(username), [], "nothing before the button");
        await page.getByRole("button", { name: button }).click();
        await page.waitForURL(/\/new-user$/);
        assert.deepEqual(
          (await authLogOf(username)).map((e) => `${e.result} ${e.reason}`),
          ["allow allow_unenrolled_user"],
        );
        await page.close();
      }
      // The prompt's page behind the link's redirects.
      const link = new URL(frameURL("lee"));
      let path = link.pathname + link.search;
      for (let r = await h.s.request("GET", path); r.headers.location; r = await h.s.request("GET", path))
        path = String(r.headers.location);
      await h.axeBothLanguages(
        `https://${h.s.duo.host}${path}`,
        "Web SDK v2: a new user before Continue",
        async (p) => {
          assert.match(await p.headingText(), /^(No second factor needed|毋須第二步驗證)$/);
        },
      );
      assert.deepEqual(await authLogOf("lee"), []);
    });

    test("the application's own page frames it: the user goes in without a factor, and duo_web verifies it", async () => {
      const { page } = await h.newPage("en");
      await page.goto(`${h.s.app.origin}/v2?user=kim`);
      await page.waitForURL(`${h.s.app.origin}/v2-result`);
      assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Verified: kim");
      assert.ok(h.s.app.v2Results.includes("kim"));
      assert.deepEqual(
        (await authLogOf("kim")).map((e) => `${e.result} ${e.reason}`),
        ["allow allow_unenrolled_user"],
      );
      await page.close();
    });
  });

  test("no page logged a console error (CSP violations included)", () => {
    assert.deepEqual(h.problems, []);
  });
});
