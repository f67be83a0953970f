// No form ships without a browser test that submits it: every <form> under src/http and web/ is listed here with the
// browser test step that submits it, and that step must exist.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";

const ROOT = resolve(import.meta.dirname, "../..");

/** Each form, by the text that opens it in the source, and where a browser test submits it. */
const SUBMITTED_BY: Record<string, { test: string; step: string }> = {
  '<form method="post" action="/demo/passcode"': {
    test: "test/browser/start-page.test.ts",
    step: "checkPasscode(",
  },
  '<form method="post" action="/demo/activate"': {
    test: "test/browser/start-page.test.ts",
    step: "requestActivationLink(",
  },
  '<form method="post" action="/demo/push"': { test: "test/browser/start-page.test.ts", step: "sendPush(" },
  '<form method="post" action="/demo/sms"': { test: "test/browser/demo-inbox.test.ts", step: "textMe(" },
  '<form method="get" action="/demo/push/': {
    test: "test/browser/start-page.test.ts",
    step: "showPushResult(",
  },
  '<form id="activate-form"': { test: "test/browser/authenticator.test.ts", step: "pasteActivationLink(" },
  '<form method="dialog"': { test: "test/browser/authenticator.test.ts", step: "reportFraud(" },
  // The login prompt (web/prompt/pages): Actions' buttons (Send again, Return to {app}, Continue to {app}, a push
  // entry in Other options), Not you?, the no-script Continue, Enter a passcode.
  '<form method="post" action={a.post}': {
    test: "test/browser/universal-prompt-push.test.ts",
    step: "sendAgain(",
  },
  '<form method="post" action={chrome.returnAction}': {
    test: "test/browser/universal-prompt-paths.test.ts",
    step: "notMe(",
  },
  '<form method="post" action={view.continueAction}': {
    test: "test/browser/universal-prompt-paths.test.ts",
    step: "continueAfterApproving(",
  },
  '<form method="post" action={view.action} aria-describedby="trust-text"': {
    test: "test/browser/universal-prompt-trust.test.ts",
    step: "chooseTrust(",
  },
  // The Passcode field's form (Enter a passcode, a text message's code).
  '<form method="post" action={props.action} novalidate': {
    test: "test/browser/universal-prompt.test.ts",
    step: "submitPasscode(",
  },
  // WebAuthn: the ceremony's form (its behaviour posts JSON; Add now, Continue), the form that moves on after it
  // (submitted by the behaviour), and Not now on "Add a key".
  '<form\n      method="post"\n      action={p.finishUrl}': {
    test: "test/browser/webauthn.test.ts",
    step: "name: text.addNow",
  },
  '<form method="post" action={action} data-webauthn-next hidden': {
    test: "test/browser/prompt-webauthn.test.ts",
    step: "name: text.continue, exact: true",
  },
  // Enrolment: "Add Twofold Authenticator" as a backup, and Skip backup (also submitted after a key is added).
  '<form method="post" action={view.appAction}': {
    test: "test/browser/universal-prompt-enrol.test.ts",
    step: "name: text.addApp",
  },
  '<form method="post" action={view.skipAction} data-webauthn-next': {
    test: "test/browser/universal-prompt-enrol.test.ts",
    step: "name: text.skip",
  },
  '<form method="post" action={view.nextURL} data-webauthn-next': {
    test: "test/browser/prompt-webauthn.test.ts",
    step: "name: text.notNow",
  },
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(tsx?|js|html)$/.test(name) && !/\.test\.tsx?$/.test(name) ? [path] : [];
  });
}

test("every form under src/http and web/ is submitted by a browser test", () => {
  const forms = ["src/http", "web"]
    .flatMap((dir) => sources(join(ROOT, dir)))
    .flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/<form[^>]*/g)].map((m) => ({ file, tag: m[0] })),
    );
  const unlisted = forms.filter(
    (f) => !Object.keys(SUBMITTED_BY).some((opening) => f.tag.startsWith(opening)),
  );
  assert.deepEqual(unlisted, [], "a form without a browser test: add one, then list it here");
  for (const [opening, { test: file, step }] of Object.entries(SUBMITTED_BY)) {
    assert.ok(
      forms.some((f) => f.tag.startsWith(opening)),
      `${opening} is listed but no longer exists`,
    );
    assert.ok(readFileSync(join(ROOT, file), "utf8").includes(step), `${file} submits ${opening} (${step})`);
  }
  console.log(`forms: ${forms.length}, each submitted by a browser test`);
});
