// An activation QR code's link past its rate limit: a person in a browser gets a page (both languages, the time to wait,
// Try again); an image request or a client that asks for JSON keeps the JSON answer and its code.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { BARCODE_RATE, createActivationBarcodeURL } from "../../src/http/activation-barcode.ts";
import { buildServer } from "../../src/http/server.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "./support.ts";

/** What Chromium sends when a person opens a link, and when an <img> loads one. */
const NAVIGATION =
  "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";
const IMAGE = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";

describe("an activation QR code's link past its limit", () => {
  let t: HTTPTestContext;
  let app: FastifyInstance;
  let path: string;
  const ip = "192.0.2.44";
  const get = (headers: Record<string, string>) =>
    app.inject({ method: "GET", url: path, remoteAddress: ip, headers });

  before(async () => {
    t = await createTestRuntime();
    app = buildServer(t.runtime);
    await t.runtime.services.createUser(ADMIN, { username: "amy" });
    const ticket = await t.runtime.services.createDeviceActivation(ADMIN, "amy");
    path = new URL(await createActivationBarcodeURL(t.runtime, ticket)).pathname;
    for (let i = 0; i < BARCODE_RATE.requests; i++)
      assert.equal((await get({ accept: IMAGE })).statusCode, 200);
    // 20 s into the minute: 40 s to wait.
    t.clock.advance(20_000);
  });
  after(async () => {
    await app?.close();
    await t?.close();
  });

  test("an IPv6 /64 is one network: its next address waits too, an address outside it does not", async () => {
    const from = (remoteAddress: string) =>
      app.inject({ method: "GET", url: path, remoteAddress, headers: { accept: IMAGE } });
    for (let i = 0; i < BARCODE_RATE.requests; i++)
      assert.equal((await from(`2001:db8:5:6::${i + 1}`)).statusCode, 200, `request ${i + 1}`);
    assert.equal((await from("2001:db8:5:6:ffff:ffff:ffff:ffff")).statusCode, 429);
    assert.equal((await from("2001:db8:5:7::1")).statusCode, 200);
  });

  test("a browser opening the link gets a page with the time to wait and Try again, in English", async () => {
    const res = await get({ accept: NAVIGATION, "accept-language": "en-GB,en;q=0.9" });
    assert.equal(res.statusCode, 429);
    assert.match(String(res.headers["content-type"]), /^text\/html/);
    assert.equal(res.headers["retry-after"], "40");
    assert.equal(res.headers["cache-control"], "no-store");
    assert.match(res.headers["content-security-policy"] as string, /frame-ancestors 'none'/);
    assert.match(res.body, /<html lang="en"/);
    assert.match(res.body, /<h1>Too many requests<\/h1>/);
    assert.match(res.body, /This code was opened too many times from your network\. Try again in 1 minute\./);
    assert.match(res.body, new RegExp(`<a href="${path.replace(/\./g, "\\.")}" class="button primary">`));
    assert.match(res.body, /Try again/);
    assert.doesNotMatch(res.body, /ERR_RATE_LIMITED/);
  });

  test("…and in Traditional Chinese", async () => {
    const res = await get({ accept: NAVIGATION, "accept-language": "zh-HK,zh;q=0.9" });
    assert.equal(res.statusCode, 429);
    assert.match(res.body, /<html lang="zh-Hant"/);
    assert.match(res.body, /<h1>要求次數過多<\/h1>/);
    assert.match(res.body, /你的網絡開啟此代碼的次數過多。請於 1 分鐘後再試。/);
    assert.match(res.body, /再試一次/);
  });

  test("a client asking for JSON, an image request and a request with no Accept keep the JSON answer", async () => {
    for (const accept of ["application/json", `application/json, ${NAVIGATION}`, IMAGE, "*/*", undefined]) {
      const res = await get(accept === undefined ? {} : { accept });
      assert.equal(res.statusCode, 429, String(accept));
      assert.match(String(res.headers["content-type"]), /^application\/json/, String(accept));
      assert.equal(res.json().error.code, "ERR_RATE_LIMITED", String(accept));
      assert.equal(res.headers["retry-after"], "40", String(accept));
    }
  });

  test("after the minute the link shows the code again", async () => {
    t.clock.advance(40_000);
    const res = await get({ accept: NAVIGATION });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["content-type"], "image/png");
  });
});
