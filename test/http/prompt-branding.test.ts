// The prompt's branding and help pages as an organisation configures them: accent colour (contrast-checked), help texts.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import { createTestRuntime, type HTTPTestContext } from "./support.ts";

describe("prompt branding and help pages", () => {
  let t: HTTPTestContext;
  let server: RunningServer;
  before(async () => {
    t = await createTestRuntime({
      overrides: {
        "branding.accentColor": "#1A4D2E",
        "branding.help.en": "IT service desk: +852 0000 0000, room G12.",
        "branding.helpPages": {
          "no-phone": { en: "Call the desk.\n\nOr visit room G12 with your ID card." },
        },
      },
    });
    server = await startServer(t.runtime);
  });
  after(async () => {
    await server?.close();
    await t?.close();
  });
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { headers });

  test("the accent colour reaches the page as a stylesheet; colours below 4.5:1 against white are refused", async () => {
    const css = await get("/brand/theme.css");
    assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
    assert.equal(await css.text(), ":root{--tf-accent:#1a4d2e}\n");
    assert.throws(
      () => loadConfig({ env: {}, overrides: { mode: "demo", "branding.accentColor": "#ffcc00" } }),
      (e: Error & { issues?: Array<{ path: string }> }) =>
        e.issues?.some((i) => i.path === "branding.accentColor") === true,
    );
  });

  test("help pages: the organisation's own text where it set one, the shipped text elsewhere, in both languages", async () => {
    const own = await (await get("/help/no-phone")).text();
    assert.match(own, /<p>Call the desk\.<\/p><p>Or visit room G12 with your ID card\.<\/p>/);
    assert.match(
      own,
      /IT service desk: \+852 0000 0000, room G12\./,
      "the service desk's contact under Need help?",
    );
    const zh = await (await get("/help/no-phone", { "accept-language": "zh-HK,zh;q=0.9" })).text();
    assert.match(zh, /<html lang="zh-Hant">/);
    assert.match(zh, /沒有手機時登入/);
    const index = await (await get("/help?lang=zh-Hant")).text();
    assert.match(index, /以 Twofold Authenticator 批准登入/);
    const unknown = await get("/help/nothing-here");
    assert.equal(unknown.status, 404);
    assert.match(
      String((await get("/help")).headers.get("content-security-policy")),
      /frame-ancestors 'none'/,
    );
  });
});
