// The server-side JSX runtime (what reaches the browser is escaped text; markup the CSP would block cannot be written) and the shared catalogue.
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Page } from "../../web/shared/components/page.tsx";
import { pickLanguage } from "../../web/shared/i18n/catalogue.ts";
import { SHARED_MESSAGES, sharedMessages } from "../../web/shared/i18n/messages.ts";
import { html, renderDocument, SafeHTML } from "../../web/shared/jsx/html.ts";

const ATTACK = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;

test("text and attribute values from input are escaped, so they stay text", () => {
  const out = (
    <p class={ATTACK} title="it's">
      {ATTACK}
    </p>
  ).html;
  assert.equal(
    out,
    '<p class="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" title="it&#39;s">' +
      "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;</p>",
  );
});

test("booleans, null and lists render as HTML expects; void elements have no end tag", () => {
  const out = (
    <form action="/x" method="post" novalidate>
      <input name="code" required readonly={false} value={undefined} />
      {false}
      {null}
      {2}
      <ul>
        {["<1>", "2"].map((item) => (
          <li>{item}</li>
        ))}
      </ul>
    </form>
  ).html;
  assert.equal(
    out,
    '<form action="/x" method="post" novalidate><input name="code" required>2<ul><li>&lt;1&gt;</li><li>2</li></ul></form>',
  );
});

test("already-rendered markup (the html tag, components) is kept as it is; strings never are", () => {
  const inner = html`<em>${"<i>"}</em>`;
  assert.equal((<div>{inner}</div>).html, "<div><em>&lt;i&gt;</em></div>");
  assert.equal((<div>{"<em>x</em>"}</div>).html, "<div>&lt;em&gt;x&lt;/em&gt;</div>");
  assert.ok(inner instanceof SafeHTML);
});

test("inline handlers, style attributes, inline scripts and javascript: URLs are refused", () => {
  const props = (extra: Record<string, string>) => extra as unknown as { href: string };
  assert.throws(() => <a {...props({ href: "/", onclick: "alert(1)" })} />, /inline code/);
  assert.throws(() => <a {...props({ href: "/", style: "color:red" })} />, /inline code/);
  // Browsers drop leading spaces and tabs or newlines inside the scheme, and read it in any case.
  const scheme = (text: string) => `${text}:alert(1)`;
  assert.throws(() => <a href={scheme(" java\tscript")}>x</a>, /javascript: URL/);
  assert.throws(() => <a href={scheme("JAVA\nSCRIPT")}>x</a>, /javascript: URL/);
  assert.equal((<a href="/javascript-guide">x</a>).html, '<a href="/javascript-guide">x</a>');
  const script = { src: "/a.js", children: "alert(1)" } as unknown as { src: string };
  assert.throws(() => <script {...script} />, /takes only src/);
  assert.equal((<script type="module" src="/a.js" />).html, '<script type="module" src="/a.js"></script>');
});

test("the shared page frame: language, title, same-origin stylesheets and behaviours, nothing inline", () => {
  const page = renderDocument(
    <Page
      title="Enter a passcode <1>"
      lang="zh-Hant"
      stylesheets={["/assets/web/base-X.css"]}
      scripts={["/b.js"]}
    >
      <h1>驗證碼</h1>
    </Page>,
  );
  assert.match(page, /^<!doctype html>\n<html lang="zh-Hant"><head><meta charset="utf-8">/);
  assert.match(page, /<title>Enter a passcode &lt;1&gt;<\/title>/);
  assert.match(
    page,
    /<link rel="stylesheet" href="\/assets\/web\/base-X.css"><script type="module" src="\/b.js"><\/script>/,
  );
  assert.match(page, /<main><h1>驗證碼<\/h1><\/main><\/body><\/html>\n$/);
});

test("the shared catalogue gives every text in both languages, parameters included", () => {
  const en = SHARED_MESSAGES.en;
  const zh = SHARED_MESSAGES["zh-Hant"];
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  for (const [key, value] of Object.entries(zh)) assert.notEqual(value, en[key as keyof typeof en], key);
  assert.equal(zh.errorTitle("驗證碼不正確"), "錯誤：驗證碼不正確");
  assert.equal(en.errorTitle("That passcode didn't work"), "Error: That passcode didn't work");
  assert.equal(sharedMessages(pickLanguage(["zh-HK", "en"])).needHelp, "需要協助？");
  assert.equal(sharedMessages(pickLanguage(["zh-CN", "fr"])).needHelp, "Need help?");
});
