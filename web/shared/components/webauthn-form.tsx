// A form that runs one WebAuthn ceremony with the `webauthn` behaviour: the prompt's "Before WebAuthn" and "Add a key", the portal's keys.
// Compiled with our runtime whichever tsconfig the loader finds:
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { Child } from "../jsx/html.ts";
import type { SafeHTML } from "../jsx/jsx-runtime.ts";

export interface WebAuthnFormProps {
  /** `registration` adds a key, `authentication` logs in with one. */
  ceremony: "registration" | "authentication";
  /** Where the behaviour asks for options (POST, JSON: the form's fields) → `{ ceremonyId, options }`. */
  beginUrl: string;
  /**
   * Where it sends the browser's answer (POST, JSON: the form's fields + `ceremonyId` + `response`) →
   * `{ ok, message?, redirect? }`. Also the form's action, for a browser without script (answer: a page saying so).
   */
  finishUrl: string;
  /** What the system window will ask (the "Before WebAuthn" hint). */
  hint?: string;
  submitLabel: string;
  /** Shown while the browser's window is open. */
  workingMessage: string;
  /** P14: shown for every failure, focused. */
  failedMessage: string;
  /** Shown instead of the button where the browser has no WebAuthn. */
  unsupportedMessage: string;
  /** `platform`: offer only where a built-in authenticator (Windows Hello, Touch ID) is available. */
  requires?: "webauthn" | "platform";
  /** Extra fields (a key's name, the method picked), sent with both requests. */
  children?: Child;
  buttonClass?: string;
}

export function WebAuthnForm(p: WebAuthnFormProps): SafeHTML {
  return (
    <form
      method="post"
      action={p.finishUrl}
      data-behaviour="webauthn"
      data-ceremony={p.ceremony}
      data-begin-url={p.beginUrl}
      data-working-message={p.workingMessage}
      data-failed-message={p.failedMessage}
      data-webauthn-requires={p.requires ?? "webauthn"}
    >
      {p.hint ? <p>{p.hint}</p> : ""}
      {p.children ?? ""}
      {/* Shown by the behaviour where the browser can do the ceremony; without script, the other text. */}
      <button type="submit" class={p.buttonClass ?? "button primary"} hidden>
        {p.submitLabel}
      </button>
      <p data-webauthn-unsupported>{p.unsupportedMessage}</p>
      <p data-webauthn-status role="status" tabindex={-1}></p>
    </form>
  );
}
