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
  /** Focus the field on arrival (not inside another site's frame, where browsers refuse it). */
  autofocus: boolean;
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
      <PasscodeForm
        t={t}
        action={view.action}
        hint={t.passcodeHint}
        error={view.error}
        autofocus={view.autofocus}
        describedBy={describedBy}
      />
      <Actions actions={[{ label: t.otherOptions, href: view.optionsURL }]} />
    </PromptPage>
  );
}

/**
 * The one Passcode field and its Log in button: every screen that takes a typed code (Enter a passcode, a text
 * message's code) shows the same form, so the same code reaches the same check.
 */
export function PasscodeForm(props: {
  t: PromptChrome["t"];
  action: string;
  hint: string;
  error: string | null;
  autofocus: boolean;
  /** The ids that describe the field: its hint and error, and whatever the screen says above it. */
  describedBy: string;
  /** Digits only (a text message's code): phones show the number pad. */
  numeric?: boolean;
}): SafeHTML {
  const { t } = props;
  return (
    <form method="post" action={props.action} novalidate>
      <div class={props.error ? "field invalid" : "field"}>
        <label for="passcode">{t.passcode}</label>
        <p class="hint" id="passcode-hint">
          {props.hint}
        </p>
        {props.error ? (
          <p class="field-error" id="passcode-error">
            {t.errorTitle(props.error)}
          </p>
        ) : null}
        <input
          id="passcode"
          name="passcode"
          type="text"
          inputmode={props.numeric ? "numeric" : undefined}
          autocomplete="one-time-code"
          spellcheck="false"
          maxlength={64}
          autofocus={props.autofocus}
          aria-describedby={props.describedBy}
          aria-invalid={props.error ? "true" : undefined}
        />
      </div>
      <button type="submit" class="button primary">
        {t.logIn}
      </button>
    </form>
  );
}
