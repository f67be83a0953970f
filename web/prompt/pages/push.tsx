// Push waiting (number shown large, countdown, live update) and the states a push can end in (spec/ux.md §2.1–2.2).
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { enrollMessages } from "./enroll-messages.ts";
import { type Action, Actions, type PromptChrome, PromptPage } from "./frame.tsx";

export interface PushWaitView {
  /** The number to type in the app, e.g. "482913". */
  code: string;
  /** The device named in P2 (first active device), or null: "your phone". */
  device: string | null;
  /** Seconds left on the push now (server time), and its lifetime (for the no-script countdown text). */
  secondsLeft: number;
  /** When the push expires and when "Send again" is offered (epoch ms), and the server's now. */
  expiresAt: number;
  sendAgainAt: number;
  now: number;
  /** URLs: live events, the poll fallback, this page, the no-script Continue, Send again, Other options. */
  eventsURL: string;
  statusURL: string;
  pageURL: string;
  continueAction: string;
  sendAgainAction: string;
  optionsURL: string;
  /** The Twofold Authenticator app on this server (**Open Twofold Authenticator**, narrow screens). */
  authenticatorURL: string;
  scripts: readonly string[];
}

/** "482913" → "482 913"; read digit by digit. */
function group(code: string): string {
  return code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code;
}

export function mss(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function PushWaitPage({ chrome, view }: { chrome: PromptChrome; view: PushWaitView }): SafeHTML {
  const { t } = chrome;
  const e = enrollMessages(chrome.lang);
  // The countdown's text around the changing m:ss, so the behaviour replaces only the time.
  const [before, after] = t.expiresIn("\u0000").split("\u0000") as [string, string];
  return (
    <PromptPage chrome={chrome} title={t.approveTitle} scripts={view.scripts}>
      <section
        class="push"
        data-behaviour="push-wait"
        data-events={view.eventsURL}
        data-status={view.statusURL}
        data-page={view.pageURL}
        data-expires-at={String(view.expiresAt)}
        data-send-again-at={String(view.sendAgainAt)}
        data-now={String(view.now)}
        data-announce-soon={t.expiresIn("0:15")}
        data-approved={t.approved}
      >
        <h1 tabindex={-1}>{t.approveTitle}</h1>
        <p>{t.enterNumberOn(view.device ?? t.yourDevice)}</p>
        <p class="number" role="img" aria-label={t.numberLabel(view.code.split("").join(" "))}>
          {group(view.code)}
        </p>
        <p class="countdown">
          {before}
          <span data-countdown="">{mss(view.secondsLeft)}</span>
          {after}
        </p>
        {/* On a phone (≤ 40rem): copy the number, open the app on this phone. */}
        <div class="phone-only">
          <button type="button" class="button" data-copy={view.code} data-copied={e.copied} hidden>
            {e.copyNumber}
          </button>
          <p class="visually-hidden" role="status" data-copy-status=""></p>
          <p>
            <a class="button" href={view.authenticatorURL}>
              {e.openAuthenticator}
            </a>
          </p>
        </div>
        <p class="visually-hidden" role="status" aria-live="polite" data-live="">
          {t.expiresIn(mss(view.secondsLeft))}
        </p>
        <p class="hint" data-no-notification="">
          {t.noNotification}
        </p>
        <form method="post" action={view.continueAction} data-continue="">
          <p class="hint" id="continue-hint">
            {t.continueHint}
          </p>
          <button type="submit" class="button primary" aria-describedby="continue-hint">
            {t.continueAfterApproving}
          </button>
        </form>
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

export interface PushEndedView {
  /** The heading and the message of ux.md §2.2 for how the push ended or why none was sent. */
  title: string;
  message: string;
  /** Whether "Send again" is a way forward (not after fraud, a lock, a disabled account). */
  sendAgainAction: string | null;
  optionsURL: string;
}

export function PushEndedPage({ chrome, view }: { chrome: PromptChrome; view: PushEndedView }): SafeHTML {
  const { t } = chrome;
  const actions: Action[] = [];
  if (view.sendAgainAction !== null)
    actions.push({ label: t.sendAgain, post: view.sendAgainAction, primary: true });
  actions.push({ label: t.otherOptions, href: view.optionsURL });
  return (
    <PromptPage chrome={chrome} title={t.errorTitle(view.title)}>
      <h1>{view.title}</h1>
      <div class="error-summary" role="alert">
        <p>{view.message}</p>
      </div>
      <Actions actions={actions} />
    </PromptPage>
  );
}
