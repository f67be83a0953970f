// The login prompt's routes (/prompt/:handle/…) and its branding (/brand/…): services → view model → page.
import { readFileSync } from "node:fs";
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { EnrollQRPage } from "../../../web/prompt/pages/enroll.tsx";
import { enrollMessages } from "../../../web/prompt/pages/enroll-messages.ts";
import {
  HELP_TEXTS,
  HELP_TOPICS,
  HelpIndexPage,
  HelpPage,
  type HelpText,
  type HelpTopic,
} from "../../../web/prompt/pages/help.tsx";
import { OptionsPage } from "../../../web/prompt/pages/options.tsx";
import { SafeHTML } from "../../../web/shared/jsx/html.ts";
import { activationLink } from "../../config/load.ts";
import { TwofoldError } from "../../core/errors.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { loadQRCode } from "../qr-code.ts";
import { requireSameOrigin } from "../same-origin.ts";
import {
  badLink,
  clearTrustCookie,
  completeLogin,
  EmptyForm,
  finishAndRedirect,
  HandleParams,
  HTML,
  letNewUserIn,
  loadPrompt,
  notice,
  PromptQuery,
  readCookie,
  rememberedMethod,
  setTrustCookie,
  trustCookieName,
} from "./context.ts";
import { activationWait, isCodeLimit, registerEnrollRoutes, sendCodeLimit } from "./enroll.ts";
import { PROMPT_METHOD_MODULES } from "./methods.ts";
import { brandLogoURL, pageContext, sendPage } from "./render.ts";

export function registerPromptRoutes(app: FastifyInstance, runtime: ServiceRuntime): void {
  const { services, config } = runtime;
  const publicOrigin = config.server.publicUrl ? new URL(config.server.publicUrl).origin : undefined;
  const sameOrigin = requireSameOrigin(publicOrigin);

  // Arrival: start with the method last used in this browser, else the first this user has (ux.md §2).
  app.get<{ Params: HandleParams }>(
    "/prompt/:handle",
    { schema: { params: HandleParams, querystring: PromptQuery, response: { 200: HTML } } },
    async (request, reply) => {
      const loaded = await loadPrompt(runtime, request, reply);
      if (!loaded) return reply;
      const { ctx, methods } = loaded;
      // A browser the user chose to trust for this application skips the second factor (I5), through the gate.
      const cookie = trustCookieName(ctx.login.application.id);
      const token = readCookie(request, cookie);
      if (token !== undefined) {
        const skip = await services.skipPromptWithTrustedBrowser(ctx.handle, { token, ip: request.ip });
        if (skip.result === "allow") {
          setTrustCookie(
            reply,
            ctx.login.application.id,
            skip.token.reveal(),
            skip.expiresAt,
            runtime.clock.now(),
          );
          return (await finishAndRedirect(runtime, request, reply)) ?? reply;
        }
        // Revoked, expired, another user's, policy off: forget it and ask for a factor.
        if (skip.result === "none") clearTrustCookie(reply, ctx.login.application.id);
        else {
          // The completion gate refused the skip (the account or the application changed since): no login here.
          const { t } = ctx.page;
          return notice(
            runtime,
            request,
            reply,
            { title: t.cantLogInTitle, message: t.accountDisabled, error: true, actions: [] },
            { status: 403, login: ctx.login, handle: ctx.handle },
          );
        }
      }
      const usable = PROMPT_METHOD_MODULES.filter((m) => m.entry(ctx, methods) !== null);
      // The cookie names a method, or a method and its kind (`webauthn-security-key`): that kind's entry when this
      // user still has it and it is not the method's own first (its start page then), else the method's start page.
      const remembered = rememberedMethod(request) ?? "";
      const start =
        usable.find((m) => m.id === remembered || remembered.startsWith(`${m.id}-`)) ?? usable[0]!;
      const kind = remembered.startsWith(`${start.id}-`) ? remembered.slice(start.id.length + 1) : "";
      const kindURL = `${ctx.base}/${start.id}?method=${kind}`;
      const at = [start.entry(ctx, methods) ?? []].flat().findIndex((e) => e.href === kindURL);
      return reply
        .code(303)
        .header("location", kind && at > 0 ? kindURL : `${ctx.base}/${start.id}`)
        .send("");
    },
  );

  app.get<{ Params: HandleParams }>(
    "/prompt/:handle/options",
    { schema: { params: HandleParams, querystring: PromptQuery, response: { 200: HTML } } },
    async (request, reply) => {
      const loaded = await loadPrompt(runtime, request, reply);
      if (!loaded) return reply;
      const { ctx, methods } = loaded;
      const entries = PROMPT_METHOD_MODULES.flatMap((m) => m.entry(ctx, methods) ?? []);
      // WebAuthn entries are shown by their behaviour (every prompt page loads it), where the browser supports them.
      return sendPage(reply, OptionsPage({ chrome: ctx.page.chrome, entries }), {
        ...ctx.security,
      });
    },
  );

  for (const method of PROMPT_METHOD_MODULES) method.register(app, runtime);

  // The login the completion gate allowed goes back to the application with its code (after the trust question).
  app.post<{ Params: HandleParams }>(
    "/prompt/:handle/finish",
    { schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } }, preHandler: sameOrigin },
    async (request, reply) => (await completeLogin(runtime, request, reply)) ?? reply,
  );

  // New-user policy `allow` in the iframe SDK's frame: the page shown lets the user in (a GET there does not). Anything
  // else the login needs now is on its page.
  app.post<{ Params: HandleParams }>(
    "/prompt/:handle/new-user",
    { schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } }, preHandler: sameOrigin },
    async (request, reply) => {
      if (await letNewUserIn(runtime, request, reply)) return reply;
      return reply.code(303).header("location", `/prompt/${request.params.handle}`).send("");
    },
  );

  // "Yes, trust browser" / "No, don't trust" (T3), then back to the application.
  app.post<{ Params: HandleParams; Body: { choice: "yes" | "no" } }>(
    "/prompt/:handle/trust",
    {
      schema: {
        params: HandleParams,
        body: T.Object(
          { choice: T.Union([T.Literal("yes"), T.Literal("no")]) },
          { additionalProperties: false },
        ),
        response: { 200: HTML },
      },
      preHandler: sameOrigin,
    },
    async (request, reply) => {
      if (request.body.choice === "yes") {
        try {
          const grant = await services.trustPromptBrowser(request.params.handle, {
            userAgent: request.headers["user-agent"] ?? null,
            ip: request.ip,
          });
          const login = await services.openPromptLogin(request.params.handle, { touch: false });
          if (login)
            setTrustCookie(
              reply,
              login.application.id,
              grant.token.reveal(),
              grant.expiresAt,
              runtime.clock.now(),
            );
        } catch (error) {
          // Not trustable after all (the login changed meanwhile): it still finishes, without the cookie.
          if (
            !(error instanceof TwofoldError) ||
            !["ERR_POLICY", "ERR_CONFLICT", "ERR_LOGIN_SESSION_ENDED"].includes(error.code)
          )
            throw error;
        }
      }
      return (await finishAndRedirect(runtime, request, reply)) ?? reply;
    },
  );

  // "Return to {app}" / "Not you?": the login ends; the application gets access_denied at its registered URI.
  app.post<{ Params: HandleParams }>(
    "/prompt/:handle/return",
    { schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } }, preHandler: sameOrigin },
    async (request, reply) => {
      const login = await services.openPromptLogin(request.params.handle, { touch: false });
      const ended = login
        ? await services.abandonPromptLogin(request.params.handle, login.expired ? "expired" : "cancelled")
        : undefined;
      if (!ended) return badLink(runtime, request, reply);
      return reply.code(303).header("location", ended.redirectURL).send("");
    },
  );

  // Enrolment (a user who never had a factor, where the application offers it): the activation QR code, then on.
  app.post<{ Params: HandleParams }>(
    "/prompt/:handle/enroll",
    { schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } }, preHandler: sameOrigin },
    async (request, reply) => {
      const loaded = await loadPrompt(runtime, request, reply, { enrolling: true });
      if (!loaded) return reply;
      const { ctx } = loaded;
      let ticket: Awaited<ReturnType<typeof services.startPromptEnrollment>>;
      try {
        ticket = await services.startPromptEnrollment(ctx.handle, { ip: request.ip });
      } catch (error) {
        if (!isCodeLimit(error)) throw error;
        return sendCodeLimit(reply, ctx.page, ctx.login.application.name, ctx.security, [
          { label: ctx.page.t.enrollDone, href: `${ctx.base}/enroll/activated`, primary: true },
          { label: enrollMessages(ctx.page.lang).enrollOtherWay, href: ctx.base },
        ]);
      }
      const link = activationLink(config, ticket.token.reveal());
      const svg = (
        await (await loadQRCode()).toString(link, { type: "svg", margin: 2, errorCorrectionLevel: "M" })
      ).replace(/^<svg /, '<svg role="img" aria-labelledby="activation-caption" ');
      return sendPage(
        reply,
        EnrollQRPage({
          chrome: ctx.page.chrome,
          // The SVG comes from the QR generator (paths only, nothing of the link as text).
          view: {
            qrSVG: new SafeHTML(svg),
            link,
            continueURL: `${ctx.base}/enroll/activated`,
            newCodeAction: `${ctx.base}/enroll`,
            ...activationWait(ctx.base, ticket.expiresAt, runtime.clock.now()),
          },
        }),
        ctx.security,
      );
    },
  );

  registerEnrollRoutes(app, runtime);
  registerBranding(app, runtime);
  registerHelp(app, runtime);
}

/**
 * `/help` and `/help/{topic}`: what each method is, how to add one, what to do without the phone. The texts ship in
 * both languages; an organisation replaces any of them in `branding.helpPages` (plain text, blank-line paragraphs).
 */
function registerHelp(app: FastifyInstance, runtime: ServiceRuntime): void {
  const custom = runtime.config.branding.helpPages as Partial<
    Record<HelpTopic, Partial<Record<"en" | "zh-Hant", string>>>
  >;
  const text = (topic: HelpTopic, lang: "en" | "zh-Hant"): HelpText => {
    const shipped = HELP_TEXTS[lang][topic];
    const own = custom[topic]?.[lang];
    return own
      ? {
          title: shipped.title,
          paragraphs: own
            .split(/\n\s*\n/)
            .map((p) => p.trim())
            .filter(Boolean),
        }
      : shipped;
  };
  app.get(
    "/help",
    { schema: { querystring: PromptQuery, response: { 200: HTML } } },
    async (request, reply) => {
      const page = pageContext(request, reply, runtime.config, null);
      const topics = HELP_TOPICS.map((topic) => ({
        href: `/help/${topic}`,
        title: text(topic, page.lang).title,
      }));
      return sendPage(reply, HelpIndexPage({ chrome: page.chrome, topics }));
    },
  );
  app.get<{ Params: { topic: string } }>(
    "/help/:topic",
    {
      schema: {
        params: T.Object({ topic: T.String({ maxLength: 32 }) }, { additionalProperties: false }),
        querystring: PromptQuery,
        response: { 200: HTML },
      },
    },
    async (request, reply) => {
      const topic = request.params.topic as HelpTopic;
      if (!HELP_TOPICS.includes(topic)) return badLink(runtime, request, reply);
      const page = pageContext(request, reply, runtime.config, null);
      return sendPage(
        reply,
        HelpPage({ chrome: page.chrome, text: text(topic, page.lang), indexURL: "/help" }),
      );
    },
  );
}

/** `/brand/theme.css` (the accent colour as a custom property: no inline style) and the configured logo. */
function registerBranding(app: FastifyInstance, runtime: ServiceRuntime): void {
  const { branding } = runtime.config;
  const theme = `:root{--tf-accent:${branding.accentColor.toLowerCase()}}\n`;
  app.get("/brand/theme.css", { schema: { response: { 200: T.String() } } }, async (_request, reply) =>
    reply.type("text/css; charset=utf-8").header("cache-control", "public, max-age=300").send(theme),
  );
  if (!branding.logo) return;
  const logo = readFileSync(branding.logo);
  const url = brandLogoURL(runtime.config);
  const type = url.endsWith(".png") ? "image/png" : "image/svg+xml";
  app.get(url, { schema: { response: { 200: T.String() } } }, async (_request, reply) =>
    reply
      .type(type)
      .header("cache-control", "public, max-age=300")
      .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
      .send(logo),
  );
}
