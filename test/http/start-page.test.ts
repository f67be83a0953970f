// The start page: status for everyone; in demo mode the demo organisation, alice's QR code and a working passcode form.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildServer } from "../../src/http/server.ts";
import { TestDevice } from "../support/test-device.ts";
import { ADMIN, createTestRuntime, DEMO, enrollTOTPUser, wrongCode } from "./support.ts";

const FORM = { "content-type": "application/x-www-form-urlencoded" };
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

test("outside demo mode / shows the status page only, and /demo/passcode does not exist", async () => {
  const t = await createTestRuntime({ overrides: { mode: "production" } });
  const app = buildServer(t.runtime);
  try {
    const res = await app.inject({ method: "GET", url: "/" });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers["content-type"]), /^text\/html; charset=utf-8/);
    assert.match(res.body, /<html lang="en">/);
    assert.match(res.body, /<h1>Twofold is running<\/h1>/);
    assert.match(res.body, /<dt>Mode<\/dt><dd>production<\/dd>/);
    assert.match(res.body, /<dt>Database<\/dt><dd>SQLite<\/dd>/);
    assert.match(res.body, /<dt>Node<\/dt><dd>test-node<\/dd>/);
    for (const link of ["/health", "/ready"]) assert.ok(res.body.includes(`href="${link}"`), link);
    assert.ok(!res.body.includes('href="/metrics"'), "metrics are not on the public listener by default");
    assert.doesNotMatch(res.body, /Demo|<form|<svg|password/i);

    const post = await app.inject({
      method: "POST",
      url: "/demo/passcode",
      headers: FORM,
      payload: form({ username: "alice", passcode: "123456" }),
    });
    assert.equal(post.statusCode, 404);
    assert.equal(post.json().error.code, "ERR_ROUTE_NOT_FOUND");
  } finally {
    await app.close();
    await t.close();
  }
});

test("in demo mode / lists the organisation, users, integration key, QR code, CLI commands and a labelled form", async () => {
  const t = await createTestRuntime();
  const app = buildServer(t.runtime, { demo: DEMO });
  try {
    const res = await app.inject({ method: "GET", url: "/" });
    assert.equal(res.statusCode, 200);
    const page = res.body;
    assert.ok(page.includes("Demo University &lt;Test&gt;"), "dynamic text is escaped");
    assert.ok(!page.includes("<Test>"));
    for (const u of DEMO.users) {
      assert.ok(page.includes(`<td>${u.username}</td>`));
      assert.ok(page.includes(u.password));
    }
    assert.ok(page.includes(DEMO.application.integrationKey));
    assert.match(page, /<svg role="img" aria-labelledby="alice-qr-caption"[^>]*viewBox/);
    assert.match(page, /<figcaption id="alice-qr-caption">/);
    for (const cmd of [
      "npx twofold user list --demo",
      "npx twofold bypass issue alice --demo",
      "npx twofold totp enroll bob --demo",
      "npx twofold rescue generate alice --demo",
      "npx twofold audit tail --demo",
    ])
      assert.ok(page.includes(`<code>${cmd}</code>`), cmd);
    assert.match(page, /<form method="post" action="\/demo\/passcode" aria-label="Check a passcode">/);
    assert.match(page, /<label for="username">[^<]+<\/label>\s*<input id="username" name="username"/);
    assert.match(page, /<label for="passcode">[^<]+<\/label>\s*<input id="passcode" name="passcode"/);
    // The CSP allows no inline script or style: the page must not need any.
    assert.doesNotMatch(page, /<script|\sstyle=|<style|\son[a-z]+=/i);
    assert.doesNotMatch(page, /(src|href)="(https?:)?\/\//, "no external assets");

    // The stylesheet is the fingerprinted build of web/shared/styles/base.css: cached for good, renamed on change.
    const stylesheet = /<link rel="stylesheet" href="(\/assets\/web\/base-[A-Z0-9]+\.css)">/.exec(page)?.[1];
    assert.ok(stylesheet, "the page links the built stylesheet");
    const css = await app.inject({ method: "GET", url: stylesheet });
    assert.equal(css.statusCode, 200);
    assert.match(String(css.headers["content-type"]), /^text\/css/);
    assert.equal(css.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.match(css.body, /outline:3px solid/);
  } finally {
    await app.close();
    await t.close();
  }
});

test("the demo passcode form allows a real TOTP code and denies a wrong one exactly as for an unknown user", async () => {
  const t = await createTestRuntime();
  const app = buildServer(t.runtime, { demo: DEMO });
  try {
    const carol = await enrollTOTPUser(t, "carol");
    const post = (username: string, passcode: string) =>
      app.inject({
        method: "POST",
        url: "/demo/passcode",
        headers: FORM,
        payload: form({ username, passcode }),
      });

    const allowed = await post("carol", carol.code());
    assert.equal(allowed.statusCode, 200);
    assert.match(allowed.body, /Allowed \(factor: totp\)/);

    const replay = await post("carol", carol.code());
    assert.match(replay.body, /Denied: Incorrect passcode\. Please try again\./, "a used code is refused");

    t.clock.advance(30_000);
    const wrong = await post("carol", wrongCode(carol.code()));
    const unknown = await post("nobody-here", "123456");
    assert.equal(wrong.statusCode, 200);
    assert.match(wrong.body, /Denied: Incorrect passcode\. Please try again\./);
    assert.equal(unknown.statusCode, wrong.statusCode);
    assert.equal(unknown.body, wrong.body, "unknown user and wrong code read the same (A5)");
    assert.doesNotMatch(wrong.body, /unknown|invalid_passcode|locked/i);
  } finally {
    await app.close();
    await t.close();
  }
});

test("a cross-site POST to the demo form is refused with 403 (I2)", async () => {
  const t = await createTestRuntime();
  const app = buildServer(t.runtime, { demo: DEMO });
  try {
    const payload = form({ username: "alice", passcode: "123456" });
    for (const headers of [
      { ...FORM, origin: "https://evil.example" },
      { ...FORM, "sec-fetch-site": "cross-site" },
      { ...FORM, origin: "null" },
      // Exact match: another port, another scheme, a sibling subdomain are other origins.
      { ...FORM, host: "localhost:8080", origin: "http://localhost:8081" },
      { ...FORM, host: "localhost:8080", origin: "https://localhost:8080" },
      { ...FORM, host: "twofold.example.edu", origin: "https://evil.twofold.example.edu" },
      { ...FORM, host: "localhost:8080", origin: "http://localhost:8080", "sec-fetch-site": "same-site" },
      { ...FORM, host: "localhost:8080", origin: "null", "sec-fetch-site": "cross-site" },
      { ...FORM, host: "localhost:8080", origin: "null", "sec-fetch-site": "none" },
    ]) {
      const res = await app.inject({ method: "POST", url: "/demo/passcode", headers, payload });
      assert.equal(res.statusCode, 403, JSON.stringify(headers));
      assert.equal(res.json().error.code, "ERR_FORBIDDEN");
    }
    const sameOrigin = await app.inject({
      method: "POST",
      url: "/demo/passcode",
      headers: {
        ...FORM,
        origin: "http://localhost:8080",
        host: "localhost:8080",
        "sec-fetch-site": "same-origin",
      },
      payload,
    });
    assert.equal(sameOrigin.statusCode, 200);
    // What Chromium sends from a page with `Referrer-Policy: no-referrer`: Origin null, vouched for by Fetch Metadata.
    const nullOrigin = await app.inject({
      method: "POST",
      url: "/demo/passcode",
      headers: { ...FORM, origin: "null", "sec-fetch-site": "same-origin" },
      payload,
    });
    assert.equal(nullOrigin.statusCode, 200);
  } finally {
    await app.close();
    await t.close();
  }
});

test("with server.publicUrl set, only that origin may post: not the Host the request names", async () => {
  const t = await createTestRuntime({ overrides: { "server.publicUrl": "https://twofold.example.edu" } });
  const app = buildServer(t.runtime, { demo: DEMO });
  try {
    const payload = form({ username: "alice", passcode: "123456" });
    const post = (origin: string, host: string) =>
      app.inject({
        method: "POST",
        url: "/demo/passcode",
        headers: { ...FORM, origin, host, "sec-fetch-site": "same-origin" },
        payload,
      });
    assert.equal((await post("https://twofold.example.edu", "internal:8080")).statusCode, 200);
    assert.equal((await post("https://twofold.example.edu:443", "internal:8080")).statusCode, 403);
    assert.equal((await post("http://internal:8080", "internal:8080")).statusCode, 403);
  } finally {
    await app.close();
    await t.close();
  }
});

test("in demo mode the start page activates the authenticator and runs a push login to its result", async () => {
  const t = await createTestRuntime();
  const app = buildServer(t.runtime, { demo: DEMO });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  try {
    await t.runtime.services.createUser(ADMIN, { username: "alice" });
    const post = (path: string, fields: Record<string, string>) =>
      fetch(`${base}${path}`, { method: "POST", headers: FORM, body: form(fields) }).then((r) => r.text());

    const page = await post("/demo/activate", { username: "alice" });
    const token = /#activate=([A-Za-z0-9_.-]+)/.exec(page)?.[1];
    assert.ok(token, "the page carries the activation link");
    assert.match(page, /<svg role="img" aria-labelledby="activation-caption"/);
    const device = new TestDevice(base, () => t.clock.now());
    assert.equal((await device.activate(token)).status, 200);

    const pushPage = await post("/demo/push", { username: "alice" });
    const code = /<strong id="push-code">(\d+)<\/strong>/.exec(pushPage)?.[1];
    const txid = /action="\/demo\/push\/([0-9a-f]+)"/.exec(pushPage)?.[1];
    assert.ok(code && txid, pushPage);
    const result = fetch(`${base}/demo/push/${txid}`).then((r) => r.text());
    assert.equal((await device.answer(txid, "approve", code)).status, 200);
    assert.match(await result, /<p class="result" role="status" id="push-result">allow \(approved\)<\/p>/);

    const refused = await post("/demo/push", { username: "nobody" });
    assert.match(refused, /No such user/);
  } finally {
    await app.close();
    await t.close();
  }
});
