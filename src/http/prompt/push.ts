// Push in the prompt: the number to type in the app, a live answer (events, poll fallback, no-script Continue), Send again.
import type { ServerResponse } from "node:http";
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { FrameStartPage } from "../../../web/prompt/pages/frame-start.tsx";
import { PushEndedPage, PushWaitPage } from "../../../web/prompt/pages/push.tsx";
import { TwofoldError } from "../../core/errors.ts";
import { isFrameLogin } from "../../core/use-cases/frame-login.ts";
import type { PromptPush, PromptPushState, PushOutcome } from "../../core/use-cases/prompt-login.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { requireSameOrigin } from "../same-origin.ts";
import { webAssetURL } from "../web-assets.ts";
import {
  completeLogin,
  EmptyForm,
  HandleParams,
  HTML,
  loadPrompt,
  type PromptContext,
  type PromptMethodModule,
  PromptQuery,
  rememberMethod,
} from "./context.ts";
import { PromptStreams } from "./event-stream.ts";
import { sendPage } from "./render.ts";

/** "Send again" shows after this long (ux.md §2.1). */
const SEND_AGAIN_AFTER_MS = 15_000;
/** The no-script Continue waits at most this long server-side before showing the page again. */
const CONTINUE_WAIT_MS = 25_000;

type Refusal = Extract<PromptPush, { sent: false }>["reason"];

function endedView(ctx: PromptContext, outcome: PushOutcome | Refusal, retryMinutes: number) {
  const { t } = ctx.page;
  const app = ctx.login.application.name;
  const again = `${ctx.base}/push/send`;
  const options = `${ctx.base}/options`;
  const ended = (message: string, sendAgain = true) => ({
    title: t.pushEndedTitle,
    message,
    sendAgainAction: sendAgain ? again : null,
    optionsURL: options,
  });
  const refused = (message: string, sendAgain = false) => ({
    ...ended(message, sendAgain),
    title: t.pushRefusedTitle,
  });
  switch (outcome) {
    case "expired":
      return ended(t.pushExpired);
    case "wrong_number":
      return ended(t.wrongNumber);
    case "fraud":
    case "push_suspended":
      return ended(t.fraudReported, false);
    case "cancelled":
      return ended(t.pushCancelled);
    case "locked":
    case "locked_out":
      return ended(t.locked(retryMinutes), false);
    case "account_disabled":
    case "unknown_user":
      return ended(t.accountDisabled, false);
    case "not_allowed":
    case "application_disabled":
    case "verified_push_required":
    case "push_not_allowed":
      return ended(t.notAllowedHere(app), false);
    case "rate_limited":
    case "too_many_since_success":
      return refused(t.pushLimit(retryMinutes));
    case "push_pending":
      return refused(t.pushPending, true);
    case "no_devices":
      return refused(t.pushUnavailable);
    default:
      return ended(t.pushDenied);
  }
}

export const pushMethod: PromptMethodModule = {
  id: "push",
  entry(ctx, methods) {
    const device = methods.pushDevices[0];
    if (device === undefined) return null;
    const { t } = ctx.page;
    return { label: t.pushEntry, hint: t.pushEntryTo(device), post: `${ctx.base}/push/send` };
  },
  register(app: FastifyInstance, runtime: ServiceRuntime) {
    const { services, config } = runtime;
    const publicOrigin = config.server.publicUrl ? new URL(config.server.publicUrl).origin : undefined;
    const sameOrigin = requireSameOrigin(publicOrigin);
    const lifetimeMs = config.policy.push.lifetimeSeconds * 1000;
    const streams = new PromptStreams();

    const showWait = (
      ctx: PromptContext,
      reply: FastifyReply,
      state: { code: string; expiresAt: number },
      device: string | null,
    ) => {
      const now = runtime.clock.now();
      return sendPage(
        reply,
        PushWaitPage({
          chrome: ctx.page.chrome,
          view: {
            code: state.code,
            device,
            secondsLeft: (state.expiresAt - now) / 1000,
            expiresAt: state.expiresAt,
            sendAgainAt: state.expiresAt - lifetimeMs + SEND_AGAIN_AFTER_MS,
            now,
            eventsURL: `${ctx.base}/push/events`,
            statusURL: `${ctx.base}/push/status`,
            pageURL: `${ctx.base}/push`,
            continueAction: `${ctx.base}/push/continue`,
            sendAgainAction: `${ctx.base}/push/send`,
            optionsURL: `${ctx.base}/options`,
            authenticatorURL: "/authenticator",
            scripts: [
              webAssetURL("prompt/behaviours/push-wait.ts"),
              webAssetURL("prompt/behaviours/copy-number.ts"),
            ],
          },
        }),
        { ...ctx.security },
      );
    };
    const showEnded = (ctx: PromptContext, reply: FastifyReply, outcome: PushOutcome | Refusal) =>
      sendPage(
        reply,
        PushEndedPage({
          chrome: ctx.page.chrome,
          view: endedView(ctx, outcome, Math.ceil(config.policy.push.rateWindowSeconds / 60)),
        }),
        { status: 200, ...ctx.security },
      );
    /** A frame login's first push waits for its page: sent by the page's form (or its behaviour), not by a GET. */
    const showStart = (ctx: PromptContext, reply: FastifyReply, device: string | null) => {
      const { t } = ctx.page;
      return sendPage(
        reply,
        FrameStartPage({
          chrome: ctx.page.chrome,
          view: {
            title: t.pushEntry,
            text: t.pushStartText(device ?? t.yourDevice),
            action: `${ctx.base}/push/start`,
            label: t.sendPush,
            optionsURL: `${ctx.base}/options`,
            scripts: [webAssetURL("prompt/behaviours/frame-start.ts")],
          },
        }),
        { ...ctx.security },
      );
    };
    /** `again`: Send again (cancels a waiting push); `redirect`: a form's answer, the wait page behind a 303. */
    const send = async (
      request: FastifyRequest<{ Params: HandleParams }>,
      reply: FastifyReply,
      options: { again: boolean; redirect: boolean },
    ): Promise<FastifyReply> => {
      const loaded = await loadPrompt(runtime, request, reply);
      if (!loaded) return reply;
      const { ctx, methods } = loaded;
      const sent = await services.sendPromptPush(ctx.handle, { ip: request.ip, again: options.again });
      if (!sent.sent) return showEnded(ctx, reply, sent.reason);
      if (options.redirect) return reply.code(303).header("location", `${ctx.base}/push`).send("");
      return showWait(ctx, reply, sent, methods.pushDevices[0] ?? null);
    };

    app.get<{ Params: HandleParams }>(
      "/prompt/:handle/push",
      { schema: { params: HandleParams, querystring: PromptQuery, response: { 200: HTML } } },
      async (request, reply) => {
        const loaded = await loadPrompt(runtime, request, reply);
        if (!loaded) return reply;
        const { ctx, methods } = loaded;
        // A push already under way is shown (a reload reuses it); one that ended says how, and is not re-sent
        // unasked (ux.md §6: a declined push must not re-send endlessly).
        const state = await services.readPromptPush(ctx.handle);
        // The iframe SDK's page may be refused by the browser (frame-ancestors: another site framed it) after this
        // GET is answered, and so may any GET that is no page at all (an image, a prefetch): a push sent here would
        // reach a phone for a page nobody saw. Its push is sent by the page once shown.
        if (!state && isFrameLogin(ctx.login.session))
          return showStart(ctx, reply, methods.pushDevices[0] ?? null);
        if (!state) return send(request, reply, { again: false, redirect: false });
        if (state.outcome === "pending" && state.code)
          return showWait(
            ctx,
            reply,
            { code: state.code, expiresAt: state.expiresAt },
            methods.pushDevices[0] ?? null,
          );
        return showEnded(ctx, reply, state.outcome);
      },
    );

    app.post<{ Params: HandleParams }>(
      "/prompt/:handle/push/send",
      { schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } }, preHandler: sameOrigin },
      async (request, reply) => send(request, reply, { again: true, redirect: true }),
    );

    // The first push from a page that is shown (the iframe SDK's): a push already waiting is kept, not re-sent.
    app.post<{ Params: HandleParams }>(
      "/prompt/:handle/push/start",
      { schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } }, preHandler: sameOrigin },
      async (request, reply) => send(request, reply, { again: false, redirect: true }),
    );

    // Without script: Continue waits here for the answer (at most 25 s), then logs in or shows the push again.
    app.post<{ Params: HandleParams }>(
      "/prompt/:handle/push/continue",
      {
        schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } },
        preHandler: sameOrigin,
        handlerTimeout: CONTINUE_WAIT_MS + config.server.answerTimeoutSeconds * 1000,
      },
      async (request, reply) => {
        const controller = new AbortController();
        reply.raw.on("close", () => controller.abort());
        const state = await services.waitPromptPush(request.params.handle, {
          timeoutMs: CONTINUE_WAIT_MS,
          signal: controller.signal,
        });
        if (state?.loginStatus === "allowed" || state?.outcome === "approved") {
          // Remembered once a login succeeds with it (ux.md §2), not when a push is merely sent.
          rememberMethod(reply, "push");
          return completeLogin(runtime, request, reply);
        }
        return reply.code(303).header("location", `/prompt/${request.params.handle}/push`).send("");
      },
    );

    app.get<{ Params: HandleParams }>(
      "/prompt/:handle/push/status",
      {
        schema: {
          params: HandleParams,
          response: { 200: T.Object({ outcome: T.String() }, { additionalProperties: false }) },
        },
      },
      async (request) => {
        const state = await services.readPromptPush(request.params.handle);
        if (!state) throw new TwofoldError("ERR_NOT_FOUND", "no push for this login");
        return { outcome: state.outcome };
      },
    );

    // Live: one event, `outcome`, as soon as any node records the answer (≤ 1 s); the page then moves on.
    app.get<{ Params: HandleParams }>(
      "/prompt/:handle/push/events",
      { schema: { params: HandleParams, response: { 200: T.String() } } },
      async (request, reply) => {
        const { handle } = request.params;
        const state = await services.readPromptPush(handle);
        if (!state) throw new TwofoldError("ERR_NOT_FOUND", "no push for this login");
        const { raw, signal } = streams.open(reply, handle);
        void streamOutcome(raw, state, {
          wait: () =>
            services.waitPromptPush(handle, {
              // Until the push ends at the latest; the stream then closes and the page reads the outcome.
              timeoutMs: Math.max(0, state.expiresAt - runtime.clock.now()) + 1000,
              signal,
            }),
          signal,
          log: (err) => request.log.warn({ err }, "prompt push stream ended with an error"),
        });
        return reply;
      },
    );
  },
};

async function streamOutcome(
  raw: ServerResponse,
  initial: PromptPushState,
  io: { wait(): Promise<PromptPushState | undefined>; signal: AbortSignal; log(err: unknown): void },
): Promise<void> {
  try {
    const state = initial.outcome === "pending" ? await io.wait() : initial;
    if (io.signal.aborted) return;
    raw.write(`event: outcome\ndata: ${JSON.stringify({ outcome: state?.outcome ?? "expired" })}\n\n`);
  } catch (err) {
    io.log(err);
  } finally {
    raw.end();
  }
}
