// WebAuthn in the prompt: the entries (Windows Hello / Touch ID / This device, Security key, Passkey on your phone), "Before WebAuthn", and "Add a key".
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { AddKeyPage, WebAuthnPage } from "../../../web/prompt/pages/webauthn.tsx";
import type { Language } from "../../../web/shared/i18n/catalogue.ts";
import { type WebAuthnMessages, webAuthnMessages } from "../../../web/shared/i18n/webauthn-messages.ts";
import { TwofoldError } from "../../core/errors.ts";
import { minutesUntil } from "../../core/lockout.ts";
import type { WebAuthnMethod } from "../../core/use-cases/webauthn.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { requireSameOrigin } from "../same-origin.ts";
import { webAssetURL } from "../web-assets.ts";
import {
  baseOf,
  HandleParams,
  HTML,
  KEY_OFFER_COOKIE,
  loadPrompt,
  type PromptContext,
  type PromptMethodModule,
  rememberMethod,
} from "./context.ts";
import { pageContext, sendPage } from "./render.ts";

const METHODS: readonly WebAuthnMethod[] = ["platform", "security-key", "hybrid"];
const Method = T.Union(METHODS.map((m) => T.Literal(m)));

const WebAuthnQuery = T.Object(
  { lang: T.Optional(T.String({ maxLength: 16 })), method: T.Optional(Method) },
  { additionalProperties: false },
);

/** What the behaviour sends: the form's fields, then the ceremony and the browser's answer (checked by the core, F7). */
export const BeginBody = T.Object(
  { method: T.Optional(T.String({ maxLength: 16 })), keyName: T.Optional(T.String({ maxLength: 200 })) },
  { additionalProperties: false },
);
export const FinishBody = T.Object(
  {
    method: T.Optional(T.String({ maxLength: 16 })),
    keyName: T.Optional(T.String({ maxLength: 200 })),
    ceremonyId: T.String({ minLength: 1, maxLength: 64 }),
    response: T.Record(T.String({ maxLength: 64 }), T.Unknown(), { maxProperties: 16 }),
  },
  { additionalProperties: false },
);
export type BeginBody = { method?: string; keyName?: string };
export type FinishBody = BeginBody & { ceremonyId: string; response: Record<string, unknown> };

/** A registration's attestation may carry certificate chains: its routes take more than the 64 kB default (H-1). */
export const ATTESTATION_BODY_LIMIT = 131_072;

const OFFER_SECONDS = 30 * 86_400;

/** `{ ceremonyId, options, expiresAt }`: the options are the JSON @simplewebauthn/browser takes, passed through. */
export const CeremonyStart = T.Object(
  { ceremonyId: T.String(), options: T.Unknown(), expiresAt: T.Number() },
  { additionalProperties: false },
);

export const JSONAnswer = T.Object(
  {
    ok: T.Boolean(),
    message: T.Optional(T.String()),
    redirect: T.Optional(T.String()),
    next: T.Optional(T.Boolean()),
  },
  { additionalProperties: false },
);

export function methodOf(value: unknown): WebAuthnMethod | undefined {
  return METHODS.find((m) => m === value);
}

/** The platform authenticator by the name this computer's users know it by (ux.md §2.1). */
function platformLabel(ua: string, m: WebAuthnMessages): { label: string; hint: string } {
  if (/Windows/.test(ua)) return { label: m.windowsHello, hint: m.hintWindowsHello };
  if (/Macintosh|Mac OS X/.test(ua) && !/iPhone|iPad/.test(ua))
    return { label: m.touchID, hint: m.hintTouchID };
  return { label: m.thisDevice, hint: m.hintThisDevice };
}

function describe(ua: string, m: WebAuthnMessages, method: WebAuthnMethod): { label: string; hint: string } {
  if (method === "platform") return platformLabel(ua, m);
  if (method === "hybrid") return { label: m.phonePasskey, hint: m.hintPhone };
  return { label: m.securityKey, hint: m.hintSecurityKey };
}

/** Which entries a user's keys call for, by the transports reported at registration (none reported: a key). */
function methodsFor(keys: readonly string[][]): WebAuthnMethod[] {
  const has = (t: string) => keys.some((k) => k.includes(t));
  const out: WebAuthnMethod[] = [];
  if (has("internal")) out.push("platform");
  if (keys.some((k) => k.length === 0 || k.some((t) => ["usb", "nfc", "ble", "smart-card"].includes(t))))
    out.push("security-key");
  if (has("hybrid") || has("cable")) out.push("hybrid");
  return out;
}

function scripts(): string[] {
  return [webAssetURL("shared/behaviours/webauthn.ts")];
}

function messagesOf(ctx: PromptContext): WebAuthnMessages {
  return webAuthnMessages(ctx.page.lang as Language);
}

export const webauthnMethod: PromptMethodModule = {
  id: "webauthn",
  entry(ctx, methods) {
    if (methods.webauthnKeys.length === 0) return null;
    const m = messagesOf(ctx);
    return methodsFor(methods.webauthnKeys).map((method) => ({
      ...describe(ctx.userAgent, m, method),
      href: `${ctx.base}/webauthn?method=${method}`,
      // Shown by the webauthn behaviour where the browser supports it; never without script.
      hidden: true,
      data: { "webauthn-requires": method === "platform" ? "platform" : "webauthn" },
    }));
  },
  register(app: FastifyInstance, runtime: ServiceRuntime) {
    const { services } = runtime;
    const publicOrigin = runtime.config.server.publicUrl
      ? new URL(runtime.config.server.publicUrl).origin
      : undefined;
    const sameOrigin = requireSameOrigin(publicOrigin);

    // "Before WebAuthn": what the system window will ask, Continue, Other options.
    app.get<{ Params: HandleParams; Querystring: { method?: WebAuthnMethod } }>(
      "/prompt/:handle/webauthn",
      { schema: { params: HandleParams, querystring: WebAuthnQuery, response: { 200: HTML } } },
      async (request, reply) => {
        const loaded = await loadPrompt(runtime, request, reply);
        if (!loaded) return reply;
        const { ctx, methods } = loaded;
        const offered = methodsFor(methods.webauthnKeys);
        const method = methodOf(request.query.method) ?? offered[0];
        if (!method) return reply.code(303).header("location", `${ctx.base}/options`).send("");
        const m = messagesOf(ctx);
        return sendPage(
          reply,
          WebAuthnPage({
            chrome: ctx.page.chrome,
            m,
            scripts: scripts(),
            view: {
              ...describe(ctx.userAgent, m, method),
              method,
              beginURL: `${ctx.base}/webauthn/options`,
              finishURL: `${ctx.base}/webauthn`,
              nextURL: `${ctx.base}/finish`,
              optionsURL: `${ctx.base}/options`,
              appName: ctx.login.application.name,
            },
          }),
          ctx.security,
        );
      },
    );

    app.post<{ Params: HandleParams; Body: BeginBody }>(
      "/prompt/:handle/webauthn/options",
      {
        schema: { params: HandleParams, body: BeginBody, response: { 200: CeremonyStart } },
        preHandler: sameOrigin,
      },
      async (request) => {
        const method = methodOf(request.body.method);
        return services.beginPromptWebAuthn(request.params.handle, {
          ...(method ? { method } : {}),
          ip: request.ip,
        });
      },
    );

    app.post<{ Params: HandleParams; Body: FinishBody }>(
      "/prompt/:handle/webauthn",
      {
        schema: { params: HandleParams, body: FinishBody, response: { 200: JSONAnswer } },
        preHandler: sameOrigin,
      },
      async (request, reply) => {
        const { handle } = request.params;
        const page = pageContext(request, reply, runtime.config, null);
        const m = webAuthnMessages(page.lang);
        const base = baseOf(handle);
        let result: Awaited<ReturnType<typeof services.finishPromptWebAuthn>>;
        try {
          result = await services.finishPromptWebAuthn(handle, {
            ceremonyId: request.body.ceremonyId,
            response: request.body.response,
            ip: request.ip,
          });
        } catch (error) {
          // The login ended meanwhile (expired, Not you?): its page says what is left to do.
          if (error instanceof TwofoldError && error.code === "ERR_LOGIN_SESSION_ENDED")
            return { ok: false, redirect: base };
          throw error;
        }
        if (result.result === "allow") {
          // The kind too (Windows Hello, a security key, a phone): the next login here starts with that entry.
          const kind = methodOf(request.body.method);
          rememberMethod(reply, kind ? `webauthn-${kind}` : "webauthn");
          return { ok: true, message: m.loggedIn, next: true };
        }
        if (result.result === "throttled")
          return {
            ok: false,
            message: page.t.tooManyTries(Math.max(1, Math.ceil(result.retryAfterSeconds / 60))),
          };
        const { outcome } = result;
        switch (outcome.reason) {
          case "locked_out":
          case "rate_delayed":
            return {
              ok: false,
              message: page.t.locked(
                outcome.retryAt ? minutesUntil(outcome.retryAt, runtime.clock.now()) : 1,
              ),
            };
          case "user_disabled":
          case "user_deleted":
          case "application_disabled":
          case "application_deleted":
          case "factor_not_allowed":
            // The completion gate refused (A4): the login's own page explains.
            return { ok: false, redirect: base };
          default:
            // P14 whatever the reason: operators read it in the authentication log.
            return { ok: false, message: m.failed };
        }
      },
    );

    // "Add a key" after a phone login, at most once a month in this browser (the offer cookie).
    app.get<{ Params: HandleParams }>(
      "/prompt/:handle/add-key",
      { schema: { params: HandleParams, querystring: WebAuthnQuery, response: { 200: HTML } } },
      async (request, reply) => {
        const { handle } = request.params;
        if (!(await services.shouldOfferPromptKey(handle)))
          return reply.code(303).header("location", baseOf(handle)).send("");
        const login = await services.openPromptLogin(handle, { touch: false });
        const ctx = pageContext(request, reply, runtime.config, {
          appName: login!.application.name,
          username: login!.session.username,
          returnAction: null,
        });
        const m = webAuthnMessages(ctx.lang);
        reply.header(
          "set-cookie",
          `${KEY_OFFER_COOKIE}=1; Path=/; Secure; SameSite=Lax; HttpOnly; Max-Age=${OFFER_SECONDS}`,
        );
        const base = baseOf(handle);
        return sendPage(
          reply,
          AddKeyPage({
            chrome: ctx.chrome,
            m,
            scripts: scripts(),
            view: {
              beginURL: `${base}/add-key/options`,
              finishURL: `${base}/add-key`,
              nextURL: `${base}/finish`,
              suggestedName: platformLabel(String(request.headers["user-agent"] ?? ""), m).label,
            },
          }),
          { formTarget: new URL(login!.session.redirectURI).origin },
        );
      },
    );

    app.post<{ Params: HandleParams; Body: BeginBody }>(
      "/prompt/:handle/add-key/options",
      {
        schema: { params: HandleParams, body: BeginBody, response: { 200: CeremonyStart } },
        preHandler: sameOrigin,
      },
      async (request) => services.beginPromptKeyRegistration(request.params.handle, { ip: request.ip }),
    );

    app.post<{ Params: HandleParams; Body: FinishBody }>(
      "/prompt/:handle/add-key",
      {
        schema: { params: HandleParams, body: FinishBody, response: { 200: JSONAnswer } },
        preHandler: sameOrigin,
        bodyLimit: ATTESTATION_BODY_LIMIT,
      },
      async (request, reply) => {
        const page = pageContext(request, reply, runtime.config, null);
        const m = webAuthnMessages(page.lang);
        const r = await services.finishPromptKeyRegistration(request.params.handle, {
          ceremonyId: request.body.ceremonyId,
          response: request.body.response,
          ...(request.body.keyName ? { name: request.body.keyName } : {}),
          ip: request.ip,
        });
        if (r.result !== "registered") return { ok: false, message: m.failed };
        rememberMethod(reply, "webauthn");
        return { ok: true, message: m.keyAdded(r.credential.name), next: true };
      },
    );
  },
};
