// Text-message passcodes in the prompt (spec/ux.md §2.1–2.2): "Text me a passcode", the passcode screen with P9/P10 and Send again, and why no text went out.
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { Actions, type PromptChrome, PromptPage } from "./frame.tsx";
import { PasscodeForm } from "./passcode.tsx";
import type { SMSPromptMessages } from "./sms-messages.ts";

export interface SMSStartView {
  /** The masked number (`+852 •••• 5678`). */
  phone: string;
  digits: number;
  /** P10 when the number's country is not the login's. */
  roaming: boolean;
  sendAction: string;
  optionsURL: string;
  /** Pressed again before the cooldown ended: how long is left; or null. */
  notice: string | null;
}

/** The first screen when SMS was the last method used in this browser: a text goes out only when asked for. */
export function SMSStartPage({
  chrome,
  m,
  view,
}: {
  chrome: PromptChrome;
  m: SMSPromptMessages;
  view: SMSStartView;
}): SafeHTML {
  const { t } = chrome;
  return (
    <PromptPage chrome={chrome} title={view.notice ? t.errorTitle(m.smsStartTitle) : m.smsStartTitle}>
      <h1>{m.smsStartTitle}</h1>
      {view.notice ? (
        <div class="error-summary" role="alert">
          <p>{view.notice}</p>
        </div>
      ) : null}
      <p>{m.smsStartText(view.phone, view.digits)}</p>
      {view.roaming ? <p class="hint">{m.roaming}</p> : null}
      <Actions
        actions={[
          { label: m.textMe, post: view.sendAction, primary: true },
          { label: t.otherOptions, href: view.optionsURL },
        ]}
      />
    </PromptPage>
  );
}

export interface SMSPasscodeView {
  phone: string;
  /** The code's lifetime (P9, and "Codes last … minutes" after a wrong one). */
  minutes: number;
  roaming: boolean;
  action: string;
  sendAgainAction: string;
  optionsURL: string;
  /** The field's message (empty, bad shape, wrong, locked), or null. */
  error: string | null;
  /** A message about sending (Send again pressed too early), or null. */
  notice: string | null;
  /** When Send again opens and the server's now (epoch ms): the behaviour counts down from these. */
  sendAgainAt: number;
  now: number;
  /** Focus the field on arrival (not inside another site's frame, where browsers refuse it). */
  autofocus: boolean;
  scripts: readonly string[];
}

/** "Enter a passcode" after a text was sent: P9 (+ P10), the one Passcode field, "Didn't get a text?" → Send again. */
export function SMSPasscodePage({
  chrome,
  m,
  view,
}: {
  chrome: PromptChrome;
  m: SMSPromptMessages;
  view: SMSPasscodeView;
}): SafeHTML {
  const { t } = chrome;
  const problem = view.error ?? view.notice;
  const describedBy = [
    "sms-sent",
    view.roaming ? "sms-roaming" : "",
    "passcode-hint",
    view.error ? "passcode-error" : "",
  ]
    .filter(Boolean)
    .join(" ");
  const waitSeconds = Math.max(0, Math.ceil((view.sendAgainAt - view.now) / 1000));
  // The countdown's text around the changing number, so the behaviour replaces only the seconds.
  const [before, after] = m.sendAgainIn(-1).split("-1") as [string, string];
  return (
    <PromptPage
      chrome={chrome}
      title={problem ? t.errorTitle(t.enterPasscode) : t.enterPasscode}
      scripts={view.scripts}
    >
      <h1>{t.enterPasscode}</h1>
      {problem ? (
        <div class="error-summary" role="alert" aria-labelledby="error-summary-title">
          <h2 id="error-summary-title">{t.problem}</h2>
          {view.error ? (
            <ul>
              <li>
                <a href="#passcode">{view.error}</a>
              </li>
            </ul>
          ) : (
            <p>{view.notice}</p>
          )}
        </div>
      ) : null}
      <p id="sms-sent" role="status">
        {m.sentTo(view.phone, view.minutes)}
      </p>
      {view.roaming ? (
        <p class="hint" id="sms-roaming">
          {m.roaming}
        </p>
      ) : null}
      <PasscodeForm
        t={t}
        action={view.action}
        hint={m.smsPasscodeHint}
        error={view.error}
        autofocus={view.autofocus}
        describedBy={describedBy}
        numeric
      />
      <section
        class="resend"
        aria-labelledby="resend-title"
        data-behaviour="sms-resend"
        data-send-again-at={String(view.sendAgainAt)}
        data-now={String(view.now)}
      >
        <h2 id="resend-title">{m.didntGetText}</h2>
        <p class="hint" data-countdown="" hidden>
          {before}
          <span data-seconds="">{String(waitSeconds)}</span>
          {after}
        </p>
        <Actions
          actions={[
            { label: t.sendAgain, post: view.sendAgainAction, data: { "send-again": "" } },
            { label: t.otherOptions, href: view.optionsURL },
          ]}
        />
      </section>
    </PromptPage>
  );
}

export interface SMSRefusedView {
  /** P13, the quota or the gateway message (ux.md §2.2). */
  message: string;
  optionsURL: string;
}

/** No text went out: why, and the way on (Other options). */
export function SMSRefusedPage({
  chrome,
  m,
  view,
}: {
  chrome: PromptChrome;
  m: SMSPromptMessages;
  view: SMSRefusedView;
}): SafeHTML {
  const { t } = chrome;
  return (
    <PromptPage chrome={chrome} title={t.errorTitle(m.smsRefusedTitle)}>
      <h1>{m.smsRefusedTitle}</h1>
      <div class="error-summary" role="alert">
        <p>{view.message}</p>
      </div>
      <p>{m.smsRefusedNext}</p>
      <Actions actions={[{ label: t.otherOptions, href: view.optionsURL, primary: true }]} />
    </PromptPage>
  );
}
