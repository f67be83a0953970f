// Enrolment in the prompt (spec/ux.md §2.1): a user who never had a second factor sets up the app (QR code) or this
// device / a security key (WebAuthn), logs in with it, and is offered a backup of the other kind.
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import { WebAuthnForm } from "../../shared/components/webauthn-form.tsx";
import type { WebAuthnMessages } from "../../shared/i18n/webauthn-messages.ts";
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { enrollMessages } from "./enroll-messages.ts";
import { type Action, Actions, type PromptChrome, PromptPage } from "./frame.tsx";

export interface EnrollChoiceView {
  /** "Twofold Authenticator app (recommended)": posts here for the activation QR code. */
  appAction: string;
  /** "This device or a security key" (shown where the browser has WebAuthn), or null where it is not set up. */
  keyURL: string | null;
  scripts: readonly string[];
}

export function EnrollStartPage({
  chrome,
  view,
}: {
  chrome: PromptChrome;
  view: EnrollChoiceView;
}): SafeHTML {
  const { t } = chrome;
  const e = enrollMessages(chrome.lang);
  const actions: Action[] = [
    { label: e.enrollApp, hint: e.enrollAppHint, post: view.appAction, primary: true },
  ];
  if (view.keyURL !== null)
    actions.push({
      label: e.enrollKey,
      hint: e.enrollKeyHint,
      href: view.keyURL,
      // Shown by the webauthn behaviour where the browser can register a key; never without script.
      hidden: true,
      data: { "webauthn-requires": "webauthn" },
    });
  return (
    <PromptPage chrome={chrome} title={t.enrollTitle} scripts={view.scripts}>
      <h1>{t.enrollTitle}</h1>
      <p>{t.enrollText}</p>
      <Actions actions={actions} label={e.chooseEnrollLabel} />
    </PromptPage>
  );
}

export interface EnrollQRView {
  /** The activation QR code, an SVG from the QR generator (paths only), labelled by the caption. */
  qrSVG: SafeHTML;
  link: string;
  /** "Activated: continue": a link (enrolment: on to the first login) or a form posting there (a backup). */
  continueURL: string;
  continuePost?: boolean;
  newCodeAction: string;
  /** The live wait (the enroll-wait behaviour): one `activated` event as soon as the app is activated … */
  eventsURL: string;
  /** … or, where events fail, a poll of this JSON. */
  statusURL: string;
  /** When the QR code stops working (ms): the page stops waiting then. */
  expiresAt: number;
  now: number;
  scripts: readonly string[];
}

export function EnrollQRPage({ chrome, view }: { chrome: PromptChrome; view: EnrollQRView }): SafeHTML {
  const { t } = chrome;
  const e = enrollMessages(chrome.lang);
  // The behaviour follows this entry once the app is activated; without script the user chooses it.
  const data = { "enroll-continue": "" };
  const go: Action = view.continuePost
    ? { label: t.enrollDone, post: view.continueURL, primary: true, data }
    : { label: t.enrollDone, href: view.continueURL, primary: true, data };
  return (
    <PromptPage chrome={chrome} title={t.enrollScanTitle} scripts={view.scripts}>
      <section
        data-behaviour="enroll-wait"
        data-events={view.eventsURL}
        data-status={view.statusURL}
        data-expires-at={String(view.expiresAt)}
        data-now={String(view.now)}
        data-activated={e.enrollActivated}
      >
        <h1>{t.enrollScanTitle}</h1>
        <figure class="qr">
          {view.qrSVG}
          <figcaption id="activation-caption">{t.enrollScan}</figcaption>
        </figure>
        <p>
          <a href={view.link}>{t.enrollOnPhone}</a>
        </p>
        <p class="visually-hidden" role="status" aria-live="polite" data-live=""></p>
        <Actions actions={[go, { label: t.enrollNewCode, post: view.newCodeAction }]} />
      </section>
    </PromptPage>
  );
}

export interface EnrollKeyView {
  beginURL: string;
  finishURL: string;
  /** Suggested name for the key ("Windows Hello", "Touch ID", "This device"). */
  suggestedName: string;
  /** Back to the choice. */
  backURL: string;
}

/** "This device or a security key": the registration ceremony, then on to the first login with the key. */
export function EnrollKeyPage(p: {
  chrome: PromptChrome;
  m: WebAuthnMessages;
  view: EnrollKeyView;
  scripts: readonly string[];
}): SafeHTML {
  const { m, view } = p;
  const e = enrollMessages(p.chrome.lang);
  return (
    <PromptPage chrome={p.chrome} title={e.enrollKeyTitle} scripts={p.scripts}>
      <h1>{e.enrollKeyTitle}</h1>
      <WebAuthnForm
        ceremony="registration"
        beginUrl={view.beginURL}
        finishUrl={view.finishURL}
        hint={e.enrollKeyText}
        submitLabel={m.continue}
        workingMessage={m.working}
        failedMessage={m.failed}
        unsupportedMessage={m.unsupported}
      >
        <div class="field">
          <label for="key-name">{m.keyName}</label>
          <input id="key-name" name="keyName" type="text" maxlength={64} value={view.suggestedName} />
        </div>
      </WebAuthnForm>
      <Actions actions={[{ label: e.enrollBack, href: view.backURL }]} />
    </PromptPage>
  );
}

export type BackupView =
  | {
      /** After the app: add this device or a security key (the "Add a key" ceremony). */
      kind: "key";
      beginURL: string;
      finishURL: string;
      suggestedName: string;
      skipAction: string;
    }
  | {
      /** After a key: the app's activation QR code. */
      kind: "app";
      appAction: string;
      skipAction: string;
    };

/** "Add a backup" after the first login with a new factor: the other kind, or **Skip backup** (warned). */
export function BackupPage(p: {
  chrome: PromptChrome;
  m: WebAuthnMessages;
  view: BackupView;
  scripts: readonly string[];
}): SafeHTML {
  const { m, view } = p;
  const e = enrollMessages(p.chrome.lang);
  return (
    <PromptPage chrome={p.chrome} title={e.backupTitle} scripts={p.scripts}>
      <h1>{e.backupTitle}</h1>
      {view.kind === "key" ? (
        <>
          <p>{e.backupKeyText}</p>
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
        </>
      ) : (
        <>
          <p>{e.backupAppText}</p>
          <form method="post" action={view.appAction}>
            <button type="submit" class="button primary">
              {e.backupAddApp}
            </button>
          </form>
        </>
      )}
      <p class="hint" id="skip-warning">
        {e.skipBackupWarning}
      </p>
      {/* After a key is added the behaviour submits this form too: on to the application. */}
      <form method="post" action={view.skipAction} data-webauthn-next>
        <button type="submit" class="button" aria-describedby="skip-warning">
          {e.skipBackup}
        </button>
      </form>
    </PromptPage>
  );
}
