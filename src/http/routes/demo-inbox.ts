// The demo inbox on the start page (`serve --demo` only): the texts and e-mails the demo sent, newest first, each recipient masked; "Text me a passcode" for a demo user; the JSON the live view polls.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { html, renderPage, type SafeHTML } from "../html.ts";
import { requireSameOrigin } from "../same-origin.ts";

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

function renderEntry(e: Entry): SafeHTML {
  const lang = entryLanguage(`${e.subject ?? ""}${e.text}`);
  return html`<li class="inbox-entry">
<p><strong>${e.channel === "sms" ? "Text message" : "E-mail"}</strong> to <span class="recipient">${e.to}</span>, <time datetime="${new Date(e.at).toISOString()}">${shownTime(e.at)}</time></p>
${e.subject ? html`<p class="subject" lang="${lang}">${e.subject}</p>` : ""}<pre class="message" lang="${lang}">${e.text}</pre>
</li>`;
}

/** The inbox section: works without script (the Refresh link reloads); the demo-inbox behaviour keeps it live. */
export function renderDemoInbox(inbox: Inbox): SafeHTML {
  const entries = inbox.list();
  return html`<section id="demo-inbox" aria-labelledby="demo-inbox-heading" data-behaviour="demo-inbox" data-version="${inbox.version}" data-source="/demo/inbox">
<h2 id="demo-inbox-heading">Demo inbox</h2>
<p>The demo has no SMS gateway and no mail server: the texts and e-mails it sends to its users land here instead (the last ${inbox.capacity}, newest first). Codes are readable here because this is the demo's own inbox; a real deployment never shows them.</p>
<form method="post" action="/demo/sms" aria-label="Text me a passcode">
<label for="sms-user">Username</label>
<input id="sms-user" name="username" required maxlength="256" value="alice">
<button type="submit">Text me a passcode</button>
</form>
<p><a href="/demo/inbox/refresh" data-refresh>Refresh the inbox</a></p>
<p class="visually-hidden" aria-live="polite" data-live></p>
<p data-empty${entries.length > 0 ? html` hidden` : ""}>No messages yet.</p>
<ol class="inbox" data-entries>
${entries.map(renderEntry)}</ol>
</section>`;
}

const SMS_REFUSALS: Record<string, string> = {
  no_phone: "This user has no phone for text messages.",
};

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
      const user = await runtime.services.findUser(request.body.username);
      const outcome = user
        ? await runtime.services.sendLoginPasscode({ user, application: null, ip: request.ip })
        : undefined;
      const line = !outcome
        ? "No such user."
        : outcome.sent
          ? `A passcode was texted to ${outcome.maskedNumber}. Read it in the demo inbox below, then type it into "Try a passcode" on the start page.`
          : (SMS_REFUSALS[outcome.reason] ?? outcome.message);
      const body = html`<h1>${outcome?.sent ? "Text message sent" : "No text message sent"}</h1>
<p class="result" role="status">${line}</p>
<p><a href="/">Back to the start page</a></p>
${renderDemoInbox(inbox)}`;
      return reply.type(HTML_TYPE).send(renderPage("Text message – Twofold", body, scripts()));
    },
  );
}
