// WebAuthn in the prompt (spec/ux.md §2.1): "Before WebAuthn" (what the system window will ask, Continue) and "Add a key" after a phone login.
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import { WebAuthnForm } from "../../shared/components/webauthn-form.tsx";
import type { WebAuthnMessages } from "../../shared/i18n/webauthn-messages.ts";
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { Actions, type PromptChrome, PromptPage } from "./frame.tsx";

export interface WebAuthnView {
  /** What the user picked, as the entry named it ("Windows Hello", "Security key", …) and its hint. */
  label: string;
  hint: string;
  /** `platform`, `security-key` or `hybrid`: sent back with the ceremony. */
  method: string;
  beginURL: string;
  finishURL: string;
  /** Where the page goes once the key checked out (POST: on to the application). */
  nextURL: string;
  optionsURL: string;
  appName: string;
}

/** The behaviour moves on by submitting this form (a POST, as a person would with the Continue button). */
function NextForm({ action, label }: { action: string; label: string }): SafeHTML {
  return (
    <form method="post" action={action} data-webauthn-next hidden>
      <button type="submit" class="button">
        {label}
      </button>
    </form>
  );
}

export function WebAuthnPage(p: {
  chrome: PromptChrome;
  m: WebAuthnMessages;
  view: WebAuthnView;
  scripts: readonly string[];
}): SafeHTML {
  const { t } = p.chrome;
  const { m, view } = p;
  return (
    <PromptPage chrome={p.chrome} title={m.logInWith(view.label)} scripts={p.scripts}>
      <h1>{m.logInWith(view.label)}</h1>
      <WebAuthnForm
        ceremony="authentication"
        beginUrl={view.beginURL}
        finishUrl={view.finishURL}
        hint={view.hint}
        submitLabel={m.continue}
        workingMessage={m.working}
        failedMessage={m.failed}
        unsupportedMessage={m.unsupported}
        requires={view.method === "platform" ? "platform" : "webauthn"}
      >
        <input type="hidden" name="method" value={view.method} />
      </WebAuthnForm>
      <NextForm action={view.nextURL} label={t.continueToApp(view.appName)} />
      <Actions actions={[{ label: t.otherOptions, href: view.optionsURL }]} />
    </PromptPage>
  );
}

export interface AddKeyView {
  beginURL: string;
  finishURL: string;
  /** Not now, and after the key is added: on to the application. */
  nextURL: string;
  /** Suggested name for the key ("Windows Hello", "Touch ID", "Security key"). */
  suggestedName: string;
}

export function AddKeyPage(p: {
  chrome: PromptChrome;
  m: WebAuthnMessages;
  view: AddKeyView;
  scripts: readonly string[];
}): SafeHTML {
  const { m, view } = p;
  return (
    <PromptPage chrome={p.chrome} title={m.addKeyTitle} scripts={p.scripts}>
      <h1>{m.addKeyTitle}</h1>
      <p>{m.addKeyOffer}</p>
      <WebAuthnForm
        ceremony="registration"
        beginUrl={view.beginURL}
        finishUrl={view.finishURL}
        submitLabel={m.addNow}
        workingMessage={m.working}
        failedMessage={m.failed}
        unsupportedMessage={m.unsupported}
      >
        <div class="field">
          <label for="key-name">{m.keyName}</label>
          <input id="key-name" name="keyName" type="text" maxlength={64} value={view.suggestedName} />
        </div>
      </WebAuthnForm>
      <form method="post" action={view.nextURL} data-webauthn-next>
        <button type="submit" class="button">
          {m.notNow}
        </button>
      </form>
    </PromptPage>
  );
}
