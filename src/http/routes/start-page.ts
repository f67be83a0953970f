// GET / : the start page (status; in demo mode the demo organisation, alice's QR code and a passcode form).
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { StartMessages } from "../../../web/shared/i18n/start-messages.ts";
import { activationLink } from "../../config/load.ts";
import { DEMO_CLI_COMMANDS, type DemoInfo } from "../../runtime/demo-info.ts";
import { readPackageVersion } from "../../runtime/package-root.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { html, renderPage, SafeHTML } from "../html.ts";
import { loadQRCode } from "../qr-code.ts";
import { requireSameOrigin } from "../same-origin.ts";
import { webAssetURL } from "../web-assets.ts";
import { registerDemoInboxRoutes, renderDemoInbox } from "./demo-inbox.ts";
import { fillHTML, languageSwitch, startLanguage } from "./start-language.ts";

const HTML_TYPE = "text/html; charset=utf-8";

const PasscodeForm = T.Object(
  {
    username: T.String({ minLength: 1, maxLength: 256 }),
    passcode: T.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);

/** A demo command as `npx twofold … --demo`: what works pasted in the directory `npm start` ran in. */
const DEMO_COMMAND_LINE = (words: string) => `npx twofold ${words} --demo`;

/**
 * @param commandLine how to write a command so it reaches this server's database when pasted (the CLI passes
 *   how `serve` itself was started)
 */
export function registerStartPage(
  app: FastifyInstance,
  runtime: ServiceRuntime,
  demo: DemoInfo | undefined,
  commandLine: (words: string) => string = DEMO_COMMAND_LINE,
  demoPortal: () => string | undefined = () => undefined,
): void {
  // The demo's inbox (serve --demo): shown on the start page, kept live by its behaviour.
  const inbox = demo ? runtime.demoInbox : undefined;
  const inboxScripts = () => [webAssetURL("shared/behaviours/demo-inbox.ts")];
  // A push ends by its lifetime at the latest.
  const pushWaitMs = runtime.config.policy.push.lifetimeSeconds * 1000 + 1000;
  let qr: Promise<string> | undefined;
  const aliceQR = () => {
    qr ??= demo
      ? loadQRCode().then((q) =>
          q.toString(demo.aliceTOTPURI, { type: "svg", margin: 2, errorCorrectionLevel: "M" }),
        )
      : Promise.resolve("");
    return qr;
  };

  app.get("/", { schema: { response: { 200: T.String() } } }, async (request, reply) => {
    const { lang, t } = startLanguage(request, reply);
    const portal = demo ? demoPortal() : undefined;
    const body = html`${languageSwitch("/", lang)}${renderStatus(runtime, t)}${
      portal
        ? html`<h2>${t.portalTitle}</h2>
<p>${fillHTML(t.portalText, {
            portal: html`<a href="${portal}" id="campus-portal">Campus Portal</a>`,
            user: html`<code>alice</code>`,
            password: html`<code>alice-demo</code>`,
          })}</p>`
        : ""
    }${demo ? renderDemo(demo, await aliceQR(), commandLine, inbox ? renderDemoInbox(inbox, t) : "", t) : ""}`;
    return reply.type(HTML_TYPE).send(renderPage(t.pageTitle, body, inbox ? inboxScripts() : [], lang));
  });

  if (!demo) return;
  if (inbox) registerDemoInboxRoutes(app, runtime, inbox, inboxScripts);
  const publicOrigin = runtime.config.server.publicUrl
    ? new URL(runtime.config.server.publicUrl).origin
    : undefined;
  const UserForm = T.Object(
    { username: T.String({ minLength: 1, maxLength: 256 }) },
    { additionalProperties: false },
  );

  // Demo: a fresh activation link (QR) for a demo user's Twofold Authenticator.
  app.post<{ Body: { username: string } }>(
    "/demo/activate",
    {
      schema: { body: UserForm, response: { 200: T.String() } },
      preHandler: requireSameOrigin(publicOrigin),
    },
    async (request, reply) => {
      const { lang, t } = startLanguage(request, reply);
      const ticket = await runtime.services.createDeviceActivation(
        { name: "demo-start-page", ip: request.ip },
        request.body.username,
      );
      const link = activationLink(runtime.config, ticket.token.reveal());
      const svg = (
        await (await loadQRCode()).toString(link, { type: "svg", margin: 2, errorCorrectionLevel: "M" })
      ).replace(/^<svg /, '<svg role="img" aria-labelledby="activation-caption" ');
      const body = html`<h1>${t.activateTitle}</h1>
<figure>${rawSVG(svg)}<figcaption id="activation-caption">${t.activateCaption}</figcaption></figure>
<p><a href="${link}">${link}</a></p>
<p><a href="/">${t.backToStart}</a></p>`;
      return reply.type(HTML_TYPE).send(renderPage(t.activatePageTitle, body, [], lang));
    },
  );

  // Demo: a push as a login would send it. The page shows the code to type in the app; "Show the result"
  // waits (server side, no script) until the user answers or the push expires.
  app.post<{ Body: { username: string } }>(
    "/demo/push",
    {
      schema: { body: UserForm, response: { 200: T.String() } },
      preHandler: requireSameOrigin(publicOrigin),
    },
    async (request, reply) => {
      const { lang, t } = startLanguage(request, reply);
      const started = await runtime.services.startPush({
        username: request.body.username,
        application: null,
        ip: request.ip,
        info: "Demo login from the start page",
        verified: true,
      });
      const body = started.started
        ? html`<h1>${t.pushSent}</h1>
<p>${t.pushTypeCode}</p>
<p class="result" role="status" aria-live="polite"><strong id="push-code">${started.code!.reveal()}</strong></p>
<form method="get" action="/demo/push/${started.txid}" aria-label="${t.pushResultForm}"><button type="submit">${t.showResult}</button></form>`
        : html`<h1>${t.noPush}</h1><p class="result" role="status">${refusal(t.pushRefusals, started.reason)}</p>`;
      return reply
        .type(HTML_TYPE)
        .send(renderPage(t.pushPageTitle, html`${body}<p><a href="/">${t.backToStart}</a></p>`, [], lang));
    },
  );

  app.get<{ Params: { txid: string } }>(
    "/demo/push/:txid",
    {
      // Waits for the push (up to its lifetime), then has the usual answer time to read the result.
      handlerTimeout: pushWaitMs + runtime.config.server.answerTimeoutSeconds * 1000,
      schema: {
        params: T.Object(
          { txid: T.String({ pattern: "^[0-9a-f]{1,64}$" }) },
          { additionalProperties: false },
        ),
        response: { 200: T.String() },
      },
    },
    async (request, reply) => {
      const { lang, t } = startLanguage(request, reply);
      const controller = new AbortController();
      reply.raw.on("close", () => controller.abort());
      const status = await runtime.services.waitForPush(request.params.txid, {
        timeoutMs: pushWaitMs,
        signal: controller.signal,
      });
      const verdict = status === "approved" ? t.allow : t.deny;
      const line =
        lang === "en" ? `${verdict} (${t.pushStatus[status]})` : `${verdict}（${t.pushStatus[status]}）`;
      const body = html`<h1>${t.pushResultTitle}</h1>
<p class="result" role="status" id="push-result">${line}</p>
<p><a href="/">${t.backToStart}</a></p>`;
      return reply.type(HTML_TYPE).send(renderPage(t.pushResultPageTitle, body, [], lang));
    },
  );

  app.post<{ Body: { username: string; passcode: string } }>(
    "/demo/passcode",
    {
      schema: { body: PasscodeForm, response: { 200: T.String() } },
      preHandler: requireSameOrigin(publicOrigin),
    },
    async (request, reply) => {
      const { lang, t } = startLanguage(request, reply);
      const outcome = await runtime.services.verifyPasscode({
        username: request.body.username,
        passcode: request.body.passcode,
        ip: request.ip,
      });
      // Unknown user, wrong code and lockout read the same (A5): the page shows only the generic words.
      const result =
        outcome.result === "allow"
          ? html`<p class="result" role="status">${t.allowed(outcome.factor)}</p><p>${t.allowedText}</p>`
          : html`<p class="result" role="status">${t.denied(
              outcome.retryAt == null
                ? t.wrongPasscode
                : t.tooManyAttempts(Math.max(1, Math.ceil((outcome.retryAt - runtime.clock.now()) / 60_000))),
            )}</p>`;
      const body = html`<h1>${t.passcodeResultTitle}</h1>${result}<p><a href="/">${t.backToStart}</a></p>`;
      return reply.type(HTML_TYPE).send(renderPage(t.passcodeResultPageTitle, body, [], lang));
    },
  );
}

/** A refusal's words, or its reason code where the catalogue has none. */
function refusal(words: Readonly<Record<string, string>>, reason: string): string {
  return words[reason] ?? reason;
}

function renderStatus(runtime: ServiceRuntime, t: StartMessages): SafeHTML {
  const { config } = runtime;
  const database = config.database.url ? "PostgreSQL" : "SQLite";
  return html`<h1>${t.running}</h1>
<dl>
<dt>${t.version}</dt><dd>${readPackageVersion()}</dd>
<dt>${t.mode}</dt><dd>${config.mode}</dd>
<dt>${t.database}</dt><dd>${database}</dd>
<dt>${t.node}</dt><dd>${runtime.nodeName}</dd>
</dl>
<h2>${t.endpoints}</h2>
<ul>
<li><a href="/health">/health</a> – ${t.health}</li>
<li><a href="/ready">/ready</a> – ${t.ready}</li>
${config.metrics.enabled && config.metrics.token ? html`<li><a href="/metrics">/metrics</a> – ${t.metrics}</li>` : ""}
</ul>
`;
}

function renderDemo(
  demo: DemoInfo,
  qrSVG: string,
  commandLine: (words: string) => string,
  inbox: SafeHTML | "",
  t: StartMessages,
): SafeHTML {
  // The SVG comes from the qrcode library (paths only, no text from the URI); it is labelled for screen readers.
  const svg = qrSVG.replace(/^<svg /, '<svg role="img" aria-labelledby="alice-qr-caption" ');
  return html`<h2>${t.demoOrganization(demo.organization)}</h2>
<p class="warning">${t.demoWarning}</p>
<table>
<caption>${t.demoUsers}</caption>
<thead><tr><th scope="col">${t.username}</th><th scope="col">${t.password}</th><th scope="col">${t.factors}</th></tr></thead>
<tbody>
${demo.users.map(
  (
    u,
  ) => html`<tr><td>${u.username}</td><td><code>${u.password}</code></td><td>${u.factors.map((f) => factorWords(f, t)).join(", ")}</td></tr>
`,
)}</tbody>
</table>
<h3>${t.demoApplication}</h3>
<dl>
<dt>${t.name}</dt><dd>${demo.application.name}</dd>
<dt>${t.type}</dt><dd>${demo.application.type}</dd>
<dt>${t.integrationKey}</dt><dd><code>${demo.application.integrationKey}</code></dd>
</dl>
<h3>${t.aliceApp}</h3>
<figure>
${rawSVG(svg)}
<figcaption id="alice-qr-caption">${t.aliceQR}</figcaption>
</figure>
<h3>${t.tryPasscode}</h3>
<form method="post" action="/demo/passcode" aria-label="${t.checkPasscodeForm}">
<label for="username">${t.username}</label>
<input id="username" name="username" autocomplete="username" required maxlength="256" value="alice">
<label for="passcode">${t.passcode}</label>
<input id="passcode" name="passcode" autocomplete="one-time-code" inputmode="numeric" required maxlength="64">
<button type="submit">${t.checkPasscode}</button>
</form>
${inbox}
<h3>${t.tryPush}</h3>
<p>${t.tryPushText}</p>
<form method="post" action="/demo/activate" aria-label="${t.activateForm}">
<label for="activate-user">${t.username}</label>
<input id="activate-user" name="username" required maxlength="256" value="alice">
<button type="submit">${t.activationLink}</button>
</form>
<form method="post" action="/demo/push" aria-label="${t.sendPush}">
<label for="push-user">${t.username}</label>
<input id="push-user" name="username" required maxlength="256" value="alice">
<button type="submit">${t.sendPush}</button>
</form>
<h3>${t.cliTitle}</h3>
<p>${fillHTML(t.cliText, { data: html`<code>./data</code>` })}</p>
<ul>
${DEMO_CLI_COMMANDS.map((c) => html`<li><code>${commandLine(c)}</code></li>`)}
</ul>
`;
}

/** A demo user's factor (as the demo set it up) in the page's language; an unknown description stays as it is. */
function factorWords(factor: string, t: StartMessages): string {
  if (factor === "authenticator app (TOTP): scan the QR code") return t.factorTOTP;
  const token = /^hardware token (\S+) \(HOTP, RFC 4226 test secret: codes (.*)\)$/.exec(factor);
  if (token) return t.factorToken(token[1]!, token[2]!);
  const sms = /^text message to (\S+) \(read it in the demo inbox below\)$/.exec(factor);
  if (sms) return t.factorSMS(sms[1]!);
  return factor;
}

/** Mark generated SVG markup as already safe (it never contains request data). */
function rawSVG(svg: string): SafeHTML {
  return new SafeHTML(svg);
}
