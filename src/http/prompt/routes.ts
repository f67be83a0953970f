// The login prompt's routes (/prompt/:handle/…) and its branding (/brand/…): services → view model → page.
import { readFileSync } from "node:fs";
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { OptionsPage } from "../../../web/prompt/pages/options.tsx";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { requireSameOrigin } from "../same-origin.ts";
import {
  badLink,
  EmptyForm,
  finishAndRedirect,
  HandleParams,
  HTML,
  loadPrompt,
  PromptQuery,
  rememberedMethod,
} from "./context.ts";
import { PROMPT_METHOD_MODULES } from "./methods.ts";
import { brandLogoURL, sendPage } from "./render.ts";

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
      const usable = PROMPT_METHOD_MODULES.filter((m) => m.entry(ctx, methods) !== null);
      const remembered = rememberedMethod(request);
      const start = usable.find((m) => m.id === remembered) ?? usable[0]!;
      return reply.code(303).header("location", `${ctx.base}/${start.id}`).send("");
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
        formTarget: ctx.formTarget,
      });
    },
  );

  for (const method of PROMPT_METHOD_MODULES) method.register(app, runtime);

  // The login the completion gate allowed goes back to the application with its code.
  app.post<{ Params: HandleParams }>(
    "/prompt/:handle/finish",
    { schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } }, preHandler: sameOrigin },
    async (request, reply) => (await finishAndRedirect(runtime, request, reply)) ?? reply,
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

  registerBranding(app, runtime);
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
