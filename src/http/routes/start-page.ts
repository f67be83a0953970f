// GET / : the start page (status; in demo mode the demo organisation, alice's QR code and a passcode form).
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { activationLink } from "../../config/load.ts";
import { PASSCODE_MESSAGES, passcodeDenyMessage } from "../../core/use-cases/verify-passcode.ts";
import { DEMO_CLI_COMMANDS, type DemoInfo } from "../../runtime/demo-info.ts";
import { readPackageVersion } from "../../runtime/package-root.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { html, renderPage, SafeHTML } from "../html.ts";
import { loadQRCode } from "../qr-code.ts";
import { requireSameOrigin } from "../same-origin.ts";
import { webAssetURL } from "../web-assets.ts";
import { registerDemoInboxRoutes, renderDemoInbox } from "./demo-inbox.ts";

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

  app.get("/", { schema: { response: { 200: T.String() } } }, async (_request, reply) => {
    const portal = demo ? demoPortal() : undefined;
    const body = html`${renderStatus(runtime)}${
      portal
        ? html`<h2>Log in to a web application</h2>
<p><a href="${portal}" id="campus-portal">Campus Portal</a> is the demo's web application: it checks a password, then sends you to the Twofold login prompt through Duo's Web SDK. Log in as <code>alice</code> / <code>alice-demo</code> and use her authenticator app's passcode (or a push, once her Twofold Authenticator is activated).</p>`
        : ""
    }${demo ? renderDemo(demo, await aliceQR(), commandLine, inbox ? renderDemoInbox(inbox) : "") : ""}`;
    return reply.type(HTML_TYPE).send(renderPage("Twofold", body, inbox ? inboxScripts() : []));
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
      const ticket = await runtime.services.createDeviceActivation(
        { name: "demo-start-page", ip: request.ip },
        request.body.username,
      );
      const link = activationLink(runtime.config, ticket.token.reveal());
      const svg = (
        await (await loadQRCode()).toString(link, { type: "svg", margin: 2, errorCorrectionLevel: "M" })
      ).replace(/^<svg /, '<svg role="img" aria-labelledby="activation-caption" ');
      const body = html`<h1>Activate the Twofold Authenticator</h1>
<figure>${rawSVG(svg)}<figcaption id="activation-caption">Scan this with the Twofold Authenticator (or the phone's camera), or open the link below. It works once, for 10 minutes.</figcaption></figure>
<p><a href="${link}">${link}</a></p>
<p><a href="/">Back to the start page</a></p>`;
      return reply.type(HTML_TYPE).send(renderPage("Activate – Twofold", body));
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
      const started = await runtime.services.startPush({
        username: request.body.username,
        application: null,
        ip: request.ip,
        info: "Demo login from the start page",
        verified: true,
      });
      const body = started.started
        ? html`<h1>Push sent</h1>
<p>Open the Twofold Authenticator and type this code to approve:</p>
<p class="result" role="status" aria-live="polite"><strong id="push-code">${started.code!.reveal()}</strong></p>
<form method="get" action="/demo/push/${started.txid}" aria-label="Push result"><button type="submit">Show the result</button></form>`
        : html`<h1>No push sent</h1><p class="result" role="status">${PUSH_REFUSALS[started.reason] ?? started.reason}</p>`;
      return reply
        .type(HTML_TYPE)
        .send(renderPage("Push – Twofold", html`${body}<p><a href="/">Back to the start page</a></p>`));
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
      const controller = new AbortController();
      reply.raw.on("close", () => controller.abort());
      const status = await runtime.services.waitForPush(request.params.txid, {
        timeoutMs: pushWaitMs,
        signal: controller.signal,
      });
      const body = html`<h1>Push result</h1>
<p class="result" role="status" id="push-result">${status === "approved" ? "allow" : "deny"} (${status})</p>
<p><a href="/">Back to the start page</a></p>`;
      return reply.type(HTML_TYPE).send(renderPage("Push result – Twofold", body));
    },
  );

  app.post<{ Body: { username: string; passcode: string } }>(
    "/demo/passcode",
    {
      schema: { body: PasscodeForm, response: { 200: T.String() } },
      preHandler: requireSameOrigin(publicOrigin),
    },
    async (request, reply) => {
      const outcome = await runtime.services.verifyPasscode({
        username: request.body.username,
        passcode: request.body.passcode,
        ip: request.ip,
      });
      // Unknown user, wrong code and lockout read the same (A5): the page shows only the generic words.
      const result =
        outcome.result === "allow"
          ? html`<p class="result" role="status">Allowed (factor: ${outcome.factor})</p><p>${PASSCODE_MESSAGES.allow}</p>`
          : html`<p class="result" role="status">Denied: ${passcodeDenyMessage(outcome.retryAt, runtime.clock.now())}</p>`;
      const body = html`<h1>Passcode result</h1>${result}<p><a href="/">Back to the start page</a></p>`;
      return reply.type(HTML_TYPE).send(renderPage("Passcode result – Twofold", body));
    },
  );
}

const PUSH_REFUSALS: Record<string, string> = {
  no_devices: "This user has no activated Twofold Authenticator yet.",
  push_suspended: "This user reported a push as fraud; pushes stay off until the service desk clears it.",
  push_pending: "A push for this user is still waiting for an answer.",
  rate_limited: "Too many pushes in the last minutes; try again later.",
  too_many_since_success: "Too many pushes since the last approved one.",
  locked_out: "This user is locked out.",
  unknown_user: "No such user.",
  application_disabled: "This application is disabled.",
  verified_push_required: "This application must show a code to type in the app.",
};

function renderStatus(runtime: ServiceRuntime): SafeHTML {
  const { config } = runtime;
  const database = config.database.url ? "PostgreSQL" : "SQLite";
  return html`<h1>Twofold is running</h1>
<dl>
<dt>Version</dt><dd>${readPackageVersion()}</dd>
<dt>Mode</dt><dd>${config.mode}</dd>
<dt>Database</dt><dd>${database}</dd>
<dt>Node</dt><dd>${runtime.nodeName}</dd>
</dl>
<h2>Service endpoints</h2>
<ul>
<li><a href="/health">/health</a> – liveness</li>
<li><a href="/ready">/ready</a> – readiness (database reachable)</li>
${config.metrics.enabled && config.metrics.token ? html`<li><a href="/metrics">/metrics</a> – Prometheus metrics (bearer token)</li>` : ""}
</ul>
`;
}

function renderDemo(
  demo: DemoInfo,
  qrSVG: string,
  commandLine: (words: string) => string,
  inbox: SafeHTML | "",
): SafeHTML {
  // The SVG comes from the qrcode library (paths only, no text from the URI); it is labelled for screen readers.
  const svg = qrSVG.replace(/^<svg /, '<svg role="img" aria-labelledby="alice-qr-caption" ');
  return html`<h2>Demo organisation: ${demo.organization}</h2>
<p class="warning">Demo mode: generated keys and well-known passwords. Never use it for real users.</p>
<table>
<caption>Demo users</caption>
<thead><tr><th scope="col">Username</th><th scope="col">Password</th><th scope="col">Factors</th></tr></thead>
<tbody>
${demo.users.map(
  (
    u,
  ) => html`<tr><td>${u.username}</td><td><code>${u.password}</code></td><td>${u.factors.join(", ")}</td></tr>
`,
)}</tbody>
</table>
<h3>Demo application</h3>
<dl>
<dt>Name</dt><dd>${demo.application.name}</dd>
<dt>Type</dt><dd>${demo.application.type}</dd>
<dt>Integration key</dt><dd><code>${demo.application.integrationKey}</code></dd>
</dl>
<h3>Alice's authenticator app</h3>
<figure>
${rawSVG(svg)}
<figcaption id="alice-qr-caption">QR code for alice's account: scan it with an authenticator app, then try one of its passcodes below.</figcaption>
</figure>
<h3>Try a passcode</h3>
<form method="post" action="/demo/passcode" aria-label="Check a passcode">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required maxlength="256" value="alice">
<label for="passcode">Passcode</label>
<input id="passcode" name="passcode" autocomplete="one-time-code" inputmode="numeric" required maxlength="64">
<button type="submit">Check passcode</button>
</form>
${inbox}
<h3>Try push approval</h3>
<p>Activate the Twofold Authenticator for a demo user (open the link on a phone, or in another browser window), then send that user a push.</p>
<form method="post" action="/demo/activate" aria-label="Activate the Twofold Authenticator">
<label for="activate-user">Username</label>
<input id="activate-user" name="username" required maxlength="256" value="alice">
<button type="submit">Activation link</button>
</form>
<form method="post" action="/demo/push" aria-label="Send a push">
<label for="push-user">Username</label>
<input id="push-user" name="username" required maxlength="256" value="alice">
<button type="submit">Send a push</button>
</form>
<h3>Next, try the command line</h3>
<p>In the directory the demo runs in (its database is <code>./data</code> there):</p>
<ul>
${DEMO_CLI_COMMANDS.map((c) => html`<li><code>${commandLine(c)}</code></li>`)}
</ul>
`;
}

/** Mark generated SVG markup as already safe (it never contains request data). */
function rawSVG(svg: string): SafeHTML {
  return new SafeHTML(svg);
}
