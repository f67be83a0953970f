// Text-message passcodes in the prompt: sent only on request (a POST), the passcode screen with P9/P10, Send again after its cooldown, why none went out.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SMSPasscodePage, SMSRefusedPage, SMSStartPage } from "../../../web/prompt/pages/sms.tsx";
import { type SMSPromptMessages, smsPromptMessages } from "../../../web/prompt/pages/sms-messages.ts";
import { minutesUntil } from "../../core/lockout.ts";
import type { PromptSMS } from "../../core/use-cases/prompt-sms.ts";
import type { SMSSendOutcome } from "../../core/use-cases/sms-passcodes.ts";
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
  sendFinished,
} from "./context.ts";
import { checkPromptPasscode } from "./passcode.ts";
import { sendPage } from "./render.ts";

const PasscodeForm = T.Object(
  { passcode: T.Optional(T.String({ maxLength: 256 })) },
  { additionalProperties: false },
);

type Refusal = Extract<SMSSendOutcome, { sent: false }>;

function messagesOf(ctx: PromptContext): SMSPromptMessages {
  return smsPromptMessages(ctx.page.lang);
}

export const smsMethod: PromptMethodModule = {
  id: "sms",
  entry(ctx, methods) {
    if (methods.smsPhone === undefined) return null;
    const m = messagesOf(ctx);
    // A post, not a link: the text goes out when the user asks for it, never on a page view (ux.md §2).
    return { label: m.smsEntry, hint: m.smsEntryTo(methods.smsPhone), post: `${ctx.base}/sms/send` };
  },
  register(app: FastifyInstance, runtime: ServiceRuntime) {
    const { services, config } = runtime;
    const publicOrigin = config.server.publicUrl ? new URL(config.server.publicUrl).origin : undefined;
    const sameOrigin = requireSameOrigin(publicOrigin);
    const minutes = Math.round(config.policy.sms.lifetimeSeconds / 60);

    const showPasscode = (
      ctx: PromptContext,
      reply: FastifyReply,
      state: PromptSMS & { sent: NonNullable<PromptSMS["sent"]> },
      messages: { error?: string; notice?: string } = {},
      status = 200,
    ) =>
      sendPage(
        reply,
        SMSPasscodePage({
          chrome: ctx.page.chrome,
          m: messagesOf(ctx),
          view: {
            phone: state.maskedNumber,
            minutes,
            roaming: state.roaming,
            action: `${ctx.base}/sms/passcode`,
            sendAgainAction: `${ctx.base}/sms/send`,
            optionsURL: `${ctx.base}/options`,
            error: messages.error ?? null,
            notice: messages.notice ?? null,
            sendAgainAt: state.sent.sendAgainAt,
            now: runtime.clock.now(),
            autofocus: ctx.security.frameParent === null,
            scripts: [webAssetURL("prompt/behaviours/sms-resend.ts")],
          },
        }),
        { status, ...ctx.security },
      );

    const showStart = (
      ctx: PromptContext,
      reply: FastifyReply,
      state: PromptSMS,
      notice: string | null = null,
    ) =>
      sendPage(
        reply,
        SMSStartPage({
          chrome: ctx.page.chrome,
          m: messagesOf(ctx),
          view: {
            phone: state.maskedNumber,
            digits: config.policy.sms.codeDigits,
            roaming: state.roaming,
            sendAction: `${ctx.base}/sms/send`,
            optionsURL: `${ctx.base}/options`,
            notice,
          },
        }),
        { status: notice ? 429 : 200, ...ctx.security },
      );

    const showRefused = (ctx: PromptContext, reply: FastifyReply, refusal: Refusal) => {
      const m = messagesOf(ctx);
      const { t } = ctx.page;
      const now = runtime.clock.now();
      const message = (() => {
        switch (refusal.reason) {
          case "quota":
            return m.smsQuota(refusal.retryAt ? minutesUntil(refusal.retryAt, now) : 1);
          case "unavailable":
            return m.smsUnavailable;
          case "locked_out":
            return t.locked(refusal.retryAt ? minutesUntil(refusal.retryAt, now) : 1);
          default:
            // Stopped by the service desk or the guard, no number any more, not allowed here: P13.
            return m.smsStopped;
        }
      })();
      // A refusal is an answer (200), with its way on.
      return sendPage(
        reply,
        SMSRefusedPage({ chrome: ctx.page.chrome, m, view: { message, optionsURL: `${ctx.base}/options` } }),
        ctx.security,
      );
    };

    /** The login's SMS state, or (SMS not offered here) a 303 to Other options. */
    const stateOf = async (
      request: FastifyRequest<{ Params: HandleParams }>,
      reply: FastifyReply,
      ctx: PromptContext,
    ): Promise<PromptSMS | undefined> => {
      const state = await services.readPromptSMS(ctx.handle, { ip: request.ip });
      if (!state) reply.code(303).header("location", `${ctx.base}/options`).send("");
      return state;
    };

    // The start screen: a live code's passcode screen (a reload sends nothing), else "Text me a passcode".
    app.get<{ Params: HandleParams }>(
      "/prompt/:handle/sms",
      { schema: { params: HandleParams, querystring: PromptQuery, response: { 200: HTML } } },
      async (request, reply) => {
        const loaded = await loadPrompt(runtime, request, reply);
        if (!loaded) return reply;
        const state = await stateOf(request, reply, loaded.ctx);
        if (!state) return reply;
        if (state.sent) return showPasscode(loaded.ctx, reply, { ...state, sent: state.sent });
        return showStart(loaded.ctx, reply, state);
      },
    );

    app.get<{ Params: HandleParams }>(
      "/prompt/:handle/sms/passcode",
      { schema: { params: HandleParams, querystring: PromptQuery, response: { 200: HTML } } },
      async (request, reply) => {
        const loaded = await loadPrompt(runtime, request, reply);
        if (!loaded) return reply;
        const state = await stateOf(request, reply, loaded.ctx);
        if (!state) return reply;
        if (!state.sent) return reply.code(303).header("location", `${loaded.ctx.base}/sms`).send("");
        return showPasscode(loaded.ctx, reply, { ...state, sent: state.sent });
      },
    );

    // "Text me a passcode", the entry in Other options, and Send again: the one way a text goes out.
    app.post<{ Params: HandleParams }>(
      "/prompt/:handle/sms/send",
      { schema: { params: HandleParams, body: EmptyForm, response: { 200: HTML } }, preHandler: sameOrigin },
      async (request, reply) => {
        const loaded = await loadPrompt(runtime, request, reply);
        if (!loaded) return reply;
        const { ctx } = loaded;
        const sent = await services.sendPromptSMS(ctx.handle, { ip: request.ip });
        if (sent.sent) return reply.code(303).header("location", `${ctx.base}/sms/passcode`).send("");
        if (sent.reason === "cooldown") {
          // Send again pressed before its time (no script to hide it): the screen again, saying how long is left.
          const state = await stateOf(request, reply, ctx);
          if (!state) return reply;
          const seconds = Math.max(1, Math.ceil(((sent.retryAt ?? 0) - runtime.clock.now()) / 1000));
          const notice = messagesOf(ctx).sendAgainIn(seconds);
          if (state.sent) return showPasscode(ctx, reply, { ...state, sent: state.sent }, { notice }, 429);
          return showStart(ctx, reply, state, notice);
        }
        return showRefused(ctx, reply, sent);
      },
    );

    // The code typed on the text-message screen: the one passcode check, bound to this login.
    app.post<{ Params: HandleParams; Body: { passcode?: string } }>(
      "/prompt/:handle/sms/passcode",
      {
        schema: { params: HandleParams, body: PasscodeForm, response: { 200: HTML } },
        preHandler: sameOrigin,
      },
      async (request, reply) => {
        const loaded = await loadPrompt(runtime, request, reply, { methods: false, touch: false });
        if (!loaded) return reply;
        const { ctx } = loaded;
        const checked = await checkPromptPasscode(runtime, request, reply, ctx, request.body.passcode);
        if (checked.result === "answered") return reply;
        if (checked.result === "allow")
          return checked.finished
            ? sendFinished(runtime, request, reply, checked.finished)
            : completeLogin(runtime, request, reply, checked.login);
        const state = await stateOf(request, reply, ctx);
        if (!state) return reply;
        // A wrong code: P11 and how long codes last (the one just used may have expired or been replaced).
        const error = checked.wrong
          ? `${checked.error} ${messagesOf(ctx).codesLast(minutes)}`
          : checked.error;
        const sent = state.sent ?? { expiresAt: 0, sendAgainAt: 0 };
        return showPasscode(ctx, reply, { ...state, sent }, { error }, checked.status);
      },
    );
  },
};
