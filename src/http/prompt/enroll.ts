// Enrolment with a key, the backup after the first login with a new factor, and "Keep this page open" (spec/ux.md §1–2).
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import QRCode from "qrcode";
import { BackupPage, EnrollKeyPage, EnrollQRPage } from "../../../web/prompt/pages/enroll.tsx";
import { enrollMessages } from "../../../web/prompt/pages/enroll-messages.ts";
import type { Action } from "../../../web/prompt/pages/frame.tsx";
import { NoticePage } from "../../../web/prompt/pages/notice.tsx";
import { webAuthnMessages } from "../../../web/shared/i18n/webauthn-messages.ts";
import { SafeHTML } from "../../../web/shared/jsx/html.ts";
import { activationLink } from "../../config/load.ts";
import { TwofoldError } from "../../core/errors.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { requireSameOrigin } from "../same-origin.ts";
import { webAssetURL } from "../web-assets.ts";
import {
  baseOf,
  EmptyForm,
  finishAndRedirect,
  HandleParams,
  HTML,
  loadPrompt,
  type PageSecurity,
  PromptQuery,
  rememberMethod,
  securityOf,
  sendFinished,
} from "./context.ts";
import { PromptStreams } from "./event-stream.ts";
import { type PageContext, pageContext, sendPage } from "./render.ts";
import {
  ATTESTATION_BODY_LIMIT,
  BeginBody,
  CeremonyStart,
  FinishBody,
  JSONAnswer,
  methodOf,
} from "./webauthn.ts";

/** The built-in authenticator's name as this computer's users know it: the suggested key name. */
function suggestedKeyName(request: FastifyRequest, lang: "en" | "zh-Hant"): string {
  const ua = String(request.headers["user-agent"] ?? "");
  const m = webAuthnMessages(lang);
  if (/Windows/.test(ua)) return m.windowsHello;
  if (/Macintosh|Mac OS X/.test(ua) && !/iPhone|iPad/.test(ua)) return m.touchID;
  return m.thisDevice;
}

const webauthnScripts = () => [webAssetURL("shared/behaviours/webauthn.ts")];

/** Past the activation codes one login may show (`ERR_RATE_LIMITED`): thrown by the services that make a code. */
export function isCodeLimit(error: unknown): boolean {
  return error instanceof TwofoldError && error.code === "ERR_RATE_LIMITED";
}

/**
 * The page for a login past its codes (429): the codes it showed still work (Activated: continue), and a new login
 * starts a new count. A page, as every answer to the prompt's forms is, never the JSON error.
 */
export function sendCodeLimit(
  reply: FastifyReply,
  page: PageContext,
  appName: string,
  security: PageSecurity,
  actions: readonly Action[],
): FastifyReply {
  const e = enrollMessages(page.lang);
  return sendPage(
    reply,
    NoticePage({
      chrome: page.chrome,
      view: { title: e.codeLimitTitle, message: e.codeLimit(appName), error: true, actions },
    }),
    { status: 429, ...security },
  );
}

/** What an activation QR page needs to move on by itself (the enroll-wait behaviour). */
export function activationWait(base: string, expiresAt: number, now: number) {
  return {
    eventsURL: `${base}/enroll/events`,
    statusURL: `${base}/enroll/status`,
    expiresAt,
    now,
    scripts: [webAssetURL("prompt/behaviours/enroll-wait.ts")],
  };
}

export function registerEnrollRoutes(app: FastifyInstance, runtime: ServiceRuntime): void {
  const { services, config } = runtime;
  const publicOrigin = config.server.publicUrl ? new URL(config.server.publicUrl).origin : undefined;
  const sameOrigin = requireSameOrigin(publicOrigin);
  /** A QR code works this long: no page waits for its activation longer. */
  const activationMs = config.policy.push.activationSeconds * 1000;
  const streams = new PromptStreams();

  // The QR page's poll (where events fail): is the app activated yet? A login that is over answers 410.
  app.get<{ Params: HandleParams }>(
    "/prompt/:handle/enroll/status",
    {
      schema: {
        params: HandleParams,
        response: { 200: T.Object({ activated: T.Boolean() }, { additionalProperties: false }) },
      },
    },
    async (request, reply) => {
      const state = await services.waitPromptActivation(request.params.handle, { timeoutMs: 0 });
      if (state === "ended") throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended");
      reply.header("cache-control", "no-store");
      return { activated: state === "activated" };
    },
  );

  // Live: one event, `activated`, as soon as any node records the app's activation; the page then moves on. The
  // stream ends after the QR code's lifetime at the latest.
  app.get<{ Params: HandleParams }>(
    "/prompt/:handle/enroll/events",
    { schema: { params: HandleParams, response: { 200: T.String() } } },
    async (request, reply) => {
      const { handle } = request.params;
      const first = await services.waitPromptActivation(handle, { timeoutMs: 0 });
      if (first === "ended") throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended");
      const { raw, signal } = streams.open(reply, handle);
      void (async () => {
        try {
          const state =
            first === "activated"
              ? first
              : await services.waitPromptActivation(handle, {
                  timeoutMs: activationMs,
                  signal,
                });
          if (signal.aborted) return;
          if (state === "activated") raw.write("event: activated\ndata: {}\n\n");
        } catch (err) {
          request.log.warn({ err }, "enrolment activation stream ended with an error");
        } finally {
          raw.end();
        }
      })();
      return reply;
    },
  );

  // "Activated: continue" after the app's QR code: on to the first push once the app is there; if not yet, say so.
  app.get<{ Params: HandleParams }>(
    "/prompt/:handle/enroll/activated",
    { schema: { params: HandleParams, querystring: PromptQuery, response: { 200: HTML } } },
    async (request, reply) => {
      const loaded = await loadPrompt(runtime, request, reply, { enrolling: true });
      if (!loaded) return reply;
      const { ctx, methods } = loaded;
      if (methods.pushDevices.length > 0 || methods.passcode || methods.webauthnKeys.length > 0)
        return reply.code(303).header("location", ctx.base).send("");
      const e = enrollMessages(ctx.page.lang);
      return sendPage(
        reply,
        NoticePage({
          chrome: ctx.page.chrome,
          view: {
            title: e.notActivatedTitle,
            message: e.notActivated,
            error: true,
            actions: [
              { label: ctx.page.t.enrollNewCode, post: `${ctx.base}/enroll`, primary: true },
              { label: e.enrollOtherWay, href: ctx.base },
            ],
          },
        }),
        ctx.security,
      );
    },
  );

  // "This device or a security key": the registration page (only while the user may still enrol).
  app.get<{ Params: HandleParams }>(
    "/prompt/:handle/enroll/key",
    { schema: { params: HandleParams, querystring: PromptQuery, response: { 200: HTML } } },
    async (request, reply) => {
      const loaded = await loadPrompt(runtime, request, reply, { enrolling: true });
      if (!loaded) return reply;
      const { ctx, methods } = loaded;
      if (methods.pushDevices.length > 0 || methods.passcode || methods.webauthnKeys.length > 0)
        return reply.code(303).header("location", ctx.base).send("");
      const m = webAuthnMessages(ctx.page.lang);
      return sendPage(
        reply,
        EnrollKeyPage({
          chrome: ctx.page.chrome,
          m,
          scripts: webauthnScripts(),
          view: {
            beginURL: `${ctx.base}/enroll/key/options`,
            finishURL: `${ctx.base}/enroll/key`,
            suggestedName: suggestedKeyName(request, ctx.page.lang),
            backURL: ctx.base,
          },
        }),
        ctx.security,
      );
    },
  );

  app.post<{ Params: HandleParams; Body: BeginBody }>(
    "/prompt/:handle/enroll/key/options",
    {
      schema: { params: HandleParams, body: BeginBody, response: { 200: CeremonyStart } },
      preHandler: sameOrigin,
    },
    async (request) => {
      // A page that names the kind of key (this device, a security key, a phone) gets the browser's dialog for it.
      const method = methodOf(request.body?.method);
      return services.beginPromptEnrollmentKey(request.params.handle, {
        ip: request.ip,
        ...(method ? { method } : {}),
      });
    },
  );

  app.post<{ Params: HandleParams; Body: FinishBody }>(
    "/prompt/:handle/enroll/key",
    {
      schema: { params: HandleParams, body: FinishBody, response: { 200: JSONAnswer } },
      preHandler: sameOrigin,
      bodyLimit: ATTESTATION_BODY_LIMIT,
    },
    async (request, reply) => {
      const { handle } = request.params;
      const page = pageContext(request, reply, config, null);
      const m = webAuthnMessages(page.lang);
      let r: Awaited<ReturnType<typeof services.finishPromptEnrollmentKey>>;
      try {
        r = await services.finishPromptEnrollmentKey(handle, {
          ceremonyId: request.body.ceremonyId,
          response: request.body.response,
          ...(request.body.keyName ? { name: request.body.keyName } : {}),
          ip: request.ip,
        });
      } catch (error) {
        // The login ended or the user may no longer enrol: the login's own page says what is left.
        if (error instanceof TwofoldError && ["ERR_LOGIN_SESSION_ENDED", "ERR_POLICY"].includes(error.code))
          return { ok: false, redirect: baseOf(handle) };
        throw error;
      }
      if (r.result !== "registered") return { ok: false, message: m.failed };
      rememberMethod(reply, "webauthn");
      // On to the first login with the key (its "Before WebAuthn" page), through the completion gate as always.
      return {
        ok: true,
        message: enrollMessages(page.lang).enrollKeyAdded(r.credential.name),
        redirect: baseOf(handle),
      };
    },
  );

  // "Add a backup" after the first login with a factor set up in this login: the other kind, or Skip backup.
  app.get<{ Params: HandleParams }>(
    "/prompt/:handle/enroll/backup",
    { schema: { params: HandleParams, querystring: PromptQuery, response: { 200: HTML } } },
    async (request, reply) => {
      const { handle } = request.params;
      const offer = await services.offerPromptBackup(handle);
      const login = offer ? await services.openPromptLogin(handle, { touch: true }) : undefined;
      if (!offer || !login) return reply.code(303).header("location", baseOf(handle)).send("");
      const ctx = pageContext(request, reply, config, {
        appName: login.application.name,
        username: login.session.username,
        returnAction: null,
      });
      const base = baseOf(handle);
      return sendPage(
        reply,
        BackupPage({
          chrome: ctx.chrome,
          m: webAuthnMessages(ctx.lang),
          scripts: webauthnScripts(),
          view:
            offer.kind === "key"
              ? {
                  kind: "key",
                  beginURL: `${base}/add-key/options`,
                  finishURL: `${base}/add-key`,
                  suggestedName: suggestedKeyName(request, ctx.lang),
                  skipAction: `${base}/enroll/backup/skip`,
                }
              : {
                  kind: "app",
                  appAction: `${base}/enroll/backup/app`,
                  skipAction: `${base}/enroll/backup/skip`,
                },
        }),
        securityOf(login),
      );
    },
  );

  // The app as a backup: its activation QR code; "Activated: continue" comes back to the offer (none left: on).
  app.post<{ Params: HandleParams }>(
    "/prompt/:handle/enroll/backup/app",
    { schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } }, preHandler: sameOrigin },
    async (request, reply) => {
      const { handle } = request.params;
      const login = await services.openPromptLogin(handle, { touch: true });
      let ticket: Awaited<ReturnType<typeof services.startPromptBackupActivation>> | undefined;
      try {
        ticket = await services.startPromptBackupActivation(handle, { ip: request.ip });
      } catch (error) {
        if (error instanceof TwofoldError && error.code === "ERR_POLICY")
          return reply.code(303).header("location", baseOf(handle)).send("");
        if (!isCodeLimit(error)) throw error;
        ticket = undefined;
      }
      const ctx = pageContext(request, reply, config, {
        appName: login!.application.name,
        username: login!.session.username,
        returnAction: null,
      });
      if (!ticket) {
        const base = baseOf(handle);
        return sendCodeLimit(reply, ctx, login!.application.name, securityOf(login!), [
          { label: ctx.t.enrollDone, post: `${base}/enroll/backup/done`, primary: true },
          { label: enrollMessages(ctx.lang).skipBackup, post: `${base}/enroll/backup/skip` },
        ]);
      }
      const link = activationLink(config, ticket.token.reveal());
      const svg = (
        await QRCode.toString(link, { type: "svg", margin: 2, errorCorrectionLevel: "M" })
      ).replace(/^<svg /, '<svg role="img" aria-labelledby="activation-caption" ');
      const base = baseOf(handle);
      return sendPage(
        reply,
        EnrollQRPage({
          chrome: ctx.chrome,
          view: {
            qrSVG: new SafeHTML(svg),
            link,
            continueURL: `${base}/enroll/backup/done`,
            continuePost: true,
            newCodeAction: `${base}/enroll/backup/app`,
            ...activationWait(base, ticket.expiresAt, runtime.clock.now()),
          },
        }),
        securityOf(login!),
      );
    },
  );

  // After the backup's QR code: on to the application (the offer again if the app was not activated after all).
  app.post<{ Params: HandleParams }>(
    "/prompt/:handle/enroll/backup/done",
    { schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } }, preHandler: sameOrigin },
    async (request, reply) => (await finishAndRedirect(runtime, request, reply)) ?? reply,
  );

  // Skip backup (warned on the page), or a key just added: on to the application with the login's code.
  app.post<{ Params: HandleParams }>(
    "/prompt/:handle/enroll/backup/skip",
    { schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } }, preHandler: sameOrigin },
    async (request, reply) => {
      try {
        const finished = await services.finishPromptLogin(request.params.handle);
        return sendFinished(runtime, request, reply, finished);
      } catch (error) {
        if (error instanceof TwofoldError && error.code === "ERR_LOGIN_SESSION_ENDED") {
          // Ended: its page says so. Not allowed yet: back to the login, which asks for a factor.
          if (await loadPrompt(runtime, request, reply))
            return reply.code(303).header("location", baseOf(request.params.handle)).send("");
          return reply;
        }
        throw error;
      }
    },
  );

  // "Keep this page open" (WCAG 2.2.1): the login's idle expiry moves on another 10 minutes.
  app.post<{ Params: HandleParams }>(
    "/prompt/:handle/keep-alive",
    {
      schema: {
        params: HandleParams,
        body: EmptyForm,
        response: { 200: T.Object({ expiresAt: T.Number() }, { additionalProperties: false }) },
      },
      preHandler: sameOrigin,
    },
    async (request, reply: FastifyReply) => {
      const login = await services.openPromptLogin(request.params.handle, { touch: true });
      if (!login || login.expired || !["pending", "allowed"].includes(login.session.status))
        throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended");
      reply.header("cache-control", "no-store");
      const fresh = await services.openPromptLogin(request.params.handle, { touch: false });
      return { expiresAt: fresh?.session.expiresAt ?? login.session.expiresAt };
    },
  );
}
