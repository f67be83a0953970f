// The prompt's page frame (spec/ux.md §1–2): branding, "Logging in to {app} as {user} · Not you?", Need help? and the language switch.
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { Language } from "../../shared/i18n/catalogue.ts";
import type { Child } from "../../shared/jsx/html.ts";
import type { SafeHTML } from "../../shared/jsx/jsx-runtime.ts";
import { enrollMessages } from "./enroll-messages.ts";
import type { PromptMessages } from "./messages.ts";

/** What every prompt page shows around its content: built by the server from the login, config and language. */
export interface PromptChrome {
  lang: Language;
  t: PromptMessages;
  brand: { name: string; logoURL: string | null };
  /** Same-origin stylesheets: the prompt's, then the branding theme (accent colour). */
  stylesheets: readonly string[];
  /** Behaviours every prompt page loads (WebAuthn: entries, ceremonies, the built-in authenticator hint). */
  scripts?: readonly string[];
  /** The application's registered name (P0); null on pages that know no login (bad link). */
  appName: string | null;
  username: string | null;
  /** Where "Not you?" posts (ends the login, back to the application); null when there is no way back. */
  returnAction: string | null;
  /** The service desk's contact (config), shown under Need help?. */
  helpText: string;
  /** This page in each language. */
  languageLinks: ReadonlyArray<{ lang: Language; href: string; label: string; current: boolean }>;
  /**
   * A login's page (WCAG 2.2.1): "Keep this page open" shows after `warnAfterSeconds` without activity and posts to
   * `url`, which moves the login's idle expiry on. Without script the page simply expires (P15).
   */
  keepAlive?: { url: string; warnAfterSeconds: number; script: string };
}

export interface PromptPageProps {
  chrome: PromptChrome;
  /** The document title; error pages start it with "Error: " (ux.md §1). */
  title: string;
  /** Behaviours the page loads (same-origin module scripts). */
  scripts?: readonly string[];
  children?: Child;
}

export function PromptPage({ chrome, title, scripts = [], children }: PromptPageProps): SafeHTML {
  const { t } = chrome;
  return (
    <html lang={chrome.lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{title}</title>
        {chrome.stylesheets.map((href) => (
          <link rel="stylesheet" href={href} />
        ))}
        {[
          ...new Set([
            ...(chrome.scripts ?? []),
            ...scripts,
            ...(chrome.keepAlive ? [chrome.keepAlive.script] : []),
          ]),
        ].map((src) => (
          <script type="module" src={src} />
        ))}
      </head>
      <body>
        <header class="brand">
          {chrome.brand.logoURL ? (
            <img class="logo" src={chrome.brand.logoURL} alt={chrome.brand.name} />
          ) : (
            <p class="org">{chrome.brand.name}</p>
          )}
        </header>
        <main>
          {chrome.appName !== null ? (
            <div class="context">
              <p class="app">{t.loggingInTo(chrome.appName)}</p>
              {chrome.username !== null ? (
                <div class="who">
                  <span>{t.asUser(chrome.username)}</span>
                  {chrome.returnAction !== null ? (
                    <form method="post" action={chrome.returnAction} class="inline">
                      <button type="submit" class="link">
                        {t.notYou}
                      </button>
                    </form>
                  ) : null}
                </div>
              ) : null}
            </div>
          ) : null}
          {children}
          {chrome.keepAlive ? <KeepAlive chrome={chrome} keepAlive={chrome.keepAlive} /> : null}
        </main>
        <footer>
          <details class="help">
            <summary>{t.needHelp}</summary>
            <p>{chrome.helpText || t.help}</p>
            <p>
              <a href="/help">{t.helpPages}</a>
            </p>
          </details>
          <nav aria-label={t.language}>
            <ul class="languages">
              {chrome.languageLinks.map((l) => (
                <li>
                  {l.current ? (
                    <span lang={l.lang} aria-current="true">
                      {l.label}
                    </span>
                  ) : (
                    <a href={l.href} lang={l.lang} hreflang={l.lang}>
                      {l.label}
                    </a>
                  )}
                </li>
              ))}
            </ul>
          </nav>
        </footer>
      </body>
    </html>
  );
}

/** A list of actions (ux.md §1: choices are buttons or links in a `ul`). */
export interface Action {
  label: string;
  /** A link (GET) … */
  href?: string;
  /** … or a form that posts here. */
  post?: string;
  /** Secondary text under the label. */
  hint?: string;
  /** Extra attributes for behaviours (e.g. `data-send-again`). */
  data?: Readonly<Record<string, string>>;
  primary?: boolean;
  /** Not shown until a behaviour finds it usable (WebAuthn entries, ux.md §2.1: "only where supported"). */
  hidden?: boolean;
}

export function Actions({ actions, label }: { actions: readonly Action[]; label?: string }): SafeHTML {
  return (
    <ul class="actions" aria-label={label}>
      {actions.map((a) => {
        const content = (
          <>
            <span class="label">{a.label}</span>
            {a.hint ? <span class="hint">{a.hint}</span> : null}
          </>
        );
        const cls = a.primary ? "button primary" : "button";
        const data = Object.fromEntries(Object.entries(a.data ?? {}).map(([k, v]) => [`data-${k}`, v]));
        return (
          <li {...data} hidden={a.hidden === true}>
            {a.post !== undefined ? (
              <form method="post" action={a.post}>
                <button type="submit" class={cls}>
                  {content}
                </button>
              </form>
            ) : (
              <a href={a.href ?? "#"} class={cls}>
                {content}
              </a>
            )}
          </li>
        );
      })}
    </ul>
  );
}

/** "Keep this page open": hidden until the keep-alive behaviour shows it, 9 minutes into an idle 10. */
function KeepAlive({
  chrome,
  keepAlive,
}: {
  chrome: PromptChrome;
  keepAlive: NonNullable<PromptChrome["keepAlive"]>;
}): SafeHTML {
  const e = enrollMessages(chrome.lang);
  return (
    <div
      data-behaviour="keep-alive"
      data-url={keepAlive.url}
      data-warn-after={String(keepAlive.warnAfterSeconds)}
      data-kept={e.keptOpen}
    >
      <section class="keep-alive" aria-labelledby="keep-alive-title" data-keep-alive-notice="" hidden>
        <h2 id="keep-alive-title" tabindex={-1}>
          {e.keepOpenTitle}
        </h2>
        <p>{e.keepOpenText}</p>
        <button type="button" class="button primary" data-keep-alive-button="">
          {e.keepOpen}
        </button>
      </section>
      <p class="visually-hidden" role="status" data-keep-alive-status=""></p>
    </div>
  );
}
