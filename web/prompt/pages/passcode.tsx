// "Enter a passcode": one field for every passcode-like secret (spec/ux.md §1 code fields, §2.1).
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { Actions, type PromptChrome, PromptPage } from "./frame.tsx";

export interface PasscodeView {
  action: string;
  optionsURL: string;
  /** The message for the field (wrong code, locked …), or null. */
  error: string | null;
}

export function PasscodePage({ chrome, view }: { chrome: PromptChrome; view: PasscodeView }): SafeHTML {
  const { t } = chrome;
  const describedBy = view.error ? "passcode-hint passcode-error" : "passcode-hint";
  return (
    <PromptPage chrome={chrome} title={view.error ? t.errorTitle(t.enterPasscode) : t.enterPasscode}>
      <h1>{t.enterPasscode}</h1>
      {view.error ? (
        <div class="error-summary" role="alert" aria-labelledby="error-summary-title">
          <h2 id="error-summary-title">{t.problem}</h2>
          <ul>
            <li>
              <a href="#passcode">{view.error}</a>
            </li>
          </ul>
        </div>
      ) : null}
      <form method="post" action={view.action} novalidate>
        <div class={view.error ? "field invalid" : "field"}>
          <label for="passcode">{t.passcode}</label>
          <p class="hint" id="passcode-hint">
            {t.passcodeHint}
          </p>
          {view.error ? (
            <p class="field-error" id="passcode-error">
              {t.errorTitle(view.error)}
            </p>
          ) : null}
          <input
            id="passcode"
            name="passcode"
            type="text"
            autocomplete="one-time-code"
            spellcheck="false"
            maxlength={64}
            autofocus
            aria-describedby={describedBy}
            aria-invalid={view.error ? "true" : undefined}
          />
        </div>
        <button type="submit" class="button primary">
          {t.logIn}
        </button>
      </form>
      <Actions actions={[{ label: t.otherOptions, href: view.optionsURL }]} />
    </PromptPage>
  );
}
