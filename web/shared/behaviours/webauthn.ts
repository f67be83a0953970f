// Behaviour `webauthn`: runs the ceremony of a WebAuthnForm — options from the server, the browser's window, the answer back.
import {
  browserSupportsWebAuthn,
  platformAuthenticatorIsAvailable,
  startAuthentication,
  startRegistration,
} from "@simplewebauthn/browser";

interface Finished {
  ok: boolean;
  message?: string;
  /** Go here next (GET). */
  redirect?: string;
  /** Submit the page's `form[data-webauthn-next]` (a POST, e.g. on to the application). */
  next?: boolean;
}

async function post<T>(url: string, body: unknown): Promise<T> {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return (await response.json()) as T;
}

function fieldsOf(form: HTMLFormElement): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of new FormData(form)) if (typeof value === "string") fields[name] = value;
  return fields;
}

/** Say something in the form's status line; a failure is announced at once and focused (ux §1: errors). */
function say(form: HTMLFormElement, text: string, failed: boolean): void {
  const status = form.querySelector<HTMLElement>("[data-webauthn-status]");
  if (!status) return;
  status.setAttribute("role", failed ? "alert" : "status");
  status.textContent = text;
  form.dataset["webauthnResult"] = failed ? "failed" : "";
  if (failed) status.focus();
}

async function run(form: HTMLFormElement): Promise<void> {
  const button = form.querySelector<HTMLButtonElement>("button[type=submit]");
  const fields = fieldsOf(form);
  const failed = form.dataset["failedMessage"] ?? "";
  if (button) button.disabled = true;
  form.dataset["webauthnResult"] = "working";
  say(form, form.dataset["workingMessage"] ?? "", false);
  try {
    const begin = await post<{ ceremonyId: string; options: never }>(form.dataset["beginUrl"] ?? "", fields);
    const response =
      form.dataset["ceremony"] === "registration"
        ? await startRegistration({ optionsJSON: begin.options })
        : await startAuthentication({ optionsJSON: begin.options });
    const done = await post<Finished>(form.action, { ...fields, ceremonyId: begin.ceremonyId, response });
    if (!done.ok) {
      if (done.redirect) return window.location.assign(done.redirect);
      return say(form, done.message ?? failed, true);
    }
    say(form, done.message ?? "", false);
    form.dataset["webauthnResult"] = "ok";
    if (done.redirect) window.location.assign(done.redirect);
    else if (done.next) document.querySelector<HTMLFormElement>("form[data-webauthn-next]")?.requestSubmit();
  } catch {
    // Cancelled, timed out, no matching key, or the server refused: one message (P14), never the details.
    say(form, failed, true);
  } finally {
    if (button) button.disabled = false;
  }
}

/** Whether this browser can run a ceremony that needs `requires` (`platform`: a built-in authenticator). */
async function supports(requires: string | undefined): Promise<boolean> {
  if (!browserSupportsWebAuthn()) return false;
  return requires !== "platform" || (await platformAuthenticatorIsAvailable());
}

async function attach(form: HTMLFormElement): Promise<void> {
  if (!(await supports(form.dataset["webauthnRequires"]))) {
    form.dataset["webauthnResult"] = "unsupported";
    return;
  }
  form.querySelector<HTMLElement>("button[type=submit]")?.removeAttribute("hidden");
  form.querySelector<HTMLElement>("[data-webauthn-unsupported]")?.setAttribute("hidden", "");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void run(form);
  });
  form.dataset["webauthnReady"] = "true";
}

for (const form of document.querySelectorAll<HTMLFormElement>("form[data-behaviour~=webauthn]"))
  void attach(form);

// Entries elsewhere (the prompt's Other options) that lead to a ceremony: shown only where it can work.
for (const entry of document.querySelectorAll<HTMLElement>("[data-webauthn-requires]:not(form)"))
  void supports(entry.dataset["webauthnRequires"]).then((ok) => {
    if (ok) entry.removeAttribute("hidden");
  });

// Tell the server whether this browser has a built-in authenticator (Windows Hello, Touch ID): the prompt offers
// "Add a key" after a phone login only where one is (docs/webauthn.md). A hint for an offer, never for a decision.
void platformAuthenticatorIsAvailable().then((available) => {
  // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is missing in Safari; one fixed, non-secret value.
  document.cookie = `__Host-twofold-platform-authenticator=${available ? 1 : 0}; Path=/; Secure; SameSite=Lax; Max-Age=2592000`;
});
