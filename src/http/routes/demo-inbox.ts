// The demo inbox on the start page (`serve --demo` only): the texts and e-mails the demo sent, newest first, each recipient masked; "Text me a passcode" for a demo user; the JSON the live view polls.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { StartMessages } from "../../../web/shared/i18n/start-messages.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { html, renderPage, type SafeHTML } from "../html.ts";
import { requireSameOrigin } from "../same-origin.ts";
import { fillHTML, startLanguage } from "./start-language.ts";

const HTML_TYPE = "text/html; charset=utf-8";

type Inbox = NonNullable<ServiceRuntime["demoInbox"]>;
type Entry = ReturnType<Inbox["list"]>[number];

/** Han characters: the message is in Traditional Chinese (a user's language), so the page says so (WCAG 3.1.2). */
const CJK = /[\u3400-\u9fff]/;

export function entryLanguage(text: string): "en" | "zh-Hant" {
  return CJK.test(text) ? "zh-Hant" : "en";
}

/** `2026-11-22 12:00:05 UTC`. */
function shownTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

function renderEntry(e: Entry, t: StartMessages): SafeHTML {
  const lang = entryLanguage(`${e.subject ?? ""}${e.text}`);
  return html`<li class="inbox-entry">
<p>${fillHTML(t.entryLine, {
    kind: html`<strong>${e.channel === "sms" ? t.textMessage : t.email}</strong>`,
    to: html`<span class="recipient">${e.to}</span>`,
    time: html`<time datetime="${new Date(e.at).toISOString()}">${shownTime(e.at)}</time>`,
  })}</p>
${e.subject ? html`<p class="subject" lang="${lang}">${e.subject}</p>` : ""}<pre class="message" lang="${lang}">${e.text}</pre>
</li>`;
}

/**
 * The inbox section: works without script (the Refresh link reloads); the demo-inbox behaviour keeps it live, with
 * the words it needs in the page's language from the section's data attributes.
 */
export function renderDemoInbox(inbox: Inbox, t: StartMessages): SafeHTML {
  const entries = inbox.list();
  return html`<section id="demo-inbox" aria-labelledby="demo-inbox-heading" data-behaviour="demo-inbox" data-version="${inbox.version}" data-source="/demo/inbox" data-text-message="${t.textMessage}" data-email="${t.email}" data-entry-line="${t.entryLine}" data-new-text-message="${t.newTextMessage}" data-new-email="${t.newEmail}">
<h2 id="demo-inbox-heading">${t.inboxTitle}</h2>
<p>${t.inboxText(inbox.capacity)}</p>
<form method="post" action="/demo/sms" aria-label="${t.textMe}">
<label for="sms-user">${t.username}</label>
<input id="sms-user" name="username" required maxlength="256" value="alice">
<button type="submit">${t.textMe}</button>
</form>
<p><a href="/demo/inbox/refresh" data-refresh>${t.refreshInbox}</a></p>
<p class="visually-hidden" aria-live="polite" data-live></p>
<p data-empty${entries.length > 0 ? html` hidden` : ""}>${t.noMessages}</p>
<ol class="inbox" data-entries>
${entries.map((e) => renderEntry(e, t))}</ol>
</section>`;
}

/** Why no text was sent, in the page's language. */
function smsRefusal(
  t: StartMessages,
  outcome: { reason: string; message: string; retryAt: number | null },
  now: number,
): string {
  const words = (t.smsRefusals as Readonly<Record<string, string>>)[outcome.reason];
  if (words) return words;
  if (outcome.retryAt !== null && (outcome.reason === "cooldown" || outcome.reason === "quota")) {
    const seconds = Math.max(1, Math.ceil((outcome.retryAt - now) / 1000));
    return seconds > 90 ? t.smsTryAgainInMinutes(Math.ceil(seconds / 60)) : t.smsTryAgainIn(seconds);
  }
  return outcome.message;
}

export function registerDemoInboxRoutes(
  app: FastifyInstance,
  runtime: ServiceRuntime,
  inbox: Inbox,
  scripts: () => readonly string[],
): void {
  const publicOrigin = runtime.config.server.publicUrl
    ? new URL(runtime.config.server.publicUrl).origin
    : undefined;

  // What the live view polls: the entries as the page shows them (recipients masked).
  app.get(
    "/demo/inbox",
    {
      schema: {
        response: {
          200: T.Object(
            {
              version: T.Integer(),
              entries: T.Array(
                T.Object(
                  {
                    id: T.String(),
                    channel: T.Union([T.Literal("sms"), T.Literal("email")]),
                    to: T.String(),
                    subject: T.Union([T.String(), T.Null()]),
                    text: T.String(),
                    at: T.String(),
                    shownAt: T.String(),
                    lang: T.String(),
                  },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
        },
      },
    },
    async () => ({
      version: inbox.version,
      entries: inbox.list().map((e) => ({
        id: e.id,
        channel: e.channel,
        to: e.to,
        subject: e.subject,
        text: e.text,
        at: new Date(e.at).toISOString(),
        shownAt: shownTime(e.at),
        lang: entryLanguage(`${e.subject ?? ""}${e.text}`),
      })),
    }),
  );

  // Without script: a real request every time (a link to "/#demo-inbox" from the start page would only scroll).
  app.get("/demo/inbox/refresh", { schema: { response: { 303: T.Null() } } }, async (_request, reply) =>
    reply.redirect("/#demo-inbox", 303),
  );

  // "Text me a passcode", as a login would ask for one: the code lands in the inbox, to be typed as a passcode.
  app.post<{ Body: { username: string } }>(
    "/demo/sms",
    {
      schema: {
        body: T.Object(
          { username: T.String({ minLength: 1, maxLength: 256 }) },
          { additionalProperties: false },
        ),
        response: { 200: T.String() },
      },
      preHandler: requireSameOrigin(publicOrigin),
    },
    async (request, reply) => {
      const { lang, t } = startLanguage(request, reply);
      const user = await runtime.services.findUser(request.body.username);
      const outcome = user
        ? await runtime.services.sendLoginPasscode({ user, application: null, ip: request.ip })
        : undefined;
      const line = !outcome
        ? t.noSuchUser
        : outcome.sent
          ? t.smsSentTo(outcome.maskedNumber)
          : smsRefusal(t, outcome, runtime.clock.now());
      const body = html`<h1>${outcome?.sent ? t.smsSent : t.smsNotSent}</h1>
<p class="result" role="status">${line}</p>
<p><a href="/">${t.backToStart}</a></p>
${renderDemoInbox(inbox, t)}`;
      return reply.type(HTML_TYPE).send(renderPage(t.smsPageTitle, body, scripts(), lang));
    },
  );
}
