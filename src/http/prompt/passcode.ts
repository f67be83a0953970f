// "Enter a passcode" in the prompt: one field, the one passcode check, the same lockout words as the APIs.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { PasscodePage } from "../../../web/prompt/pages/passcode.tsx";
import { TwofoldError } from "../../core/errors.ts";
import { minutesUntil } from "../../core/lockout.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { requireSameOrigin } from "../same-origin.ts";
import {
  finishAndRedirect,
  HandleParams,
  HTML,
  loadPrompt,
  type PromptContext,
  type PromptMethodModule,
  PromptQuery,
  rememberMethod,
} from "./context.ts";
import { sendPage } from "./render.ts";

const PasscodeForm = T.Object(
  { passcode: T.Optional(T.String({ maxLength: 256 })) },
  { additionalProperties: false },
);

/**
 * What a person typed, as the server compares it (ux.md §1, security B6 "UIs normalise, APIs stay strict"):
 * full-width digits and letters become ASCII (NFKC), spaces and dashes of any width are dropped.
 */
export function normalizeTypedPasscode(typed: string): string {
  return typed.normalize("NFKC").replace(/[\s\u2010-\u2015\u2212-]/gu, "");
}

function render(ctx: PromptContext, reply: FastifyReply, error: string | null, status = 200) {
  return sendPage(
    reply,
    PasscodePage({
      chrome: ctx.page.chrome,
      view: { action: `${ctx.base}/passcode`, optionsURL: `${ctx.base}/options`, error },
    }),
    { status, formTarget: ctx.formTarget },
  );
}

export const passcodeMethod: PromptMethodModule = {
  id: "passcode",
  entry(ctx, methods) {
    if (!methods.passcode) return null;
    const { t } = ctx.page;
    return { label: t.passcodeEntry, hint: t.passcodeEntryHint, href: `${ctx.base}/passcode` };
  },
  register(app: FastifyInstance, runtime: ServiceRuntime) {
    const publicOrigin = runtime.config.server.publicUrl
      ? new URL(runtime.config.server.publicUrl).origin
      : undefined;
    app.get<{ Params: HandleParams }>(
      "/prompt/:handle/passcode",
      { schema: { params: HandleParams, querystring: PromptQuery, response: { 200: HTML } } },
      async (request, reply) => {
        const loaded = await loadPrompt(runtime, request, reply);
        if (!loaded) return reply;
        return render(loaded.ctx, reply, null);
      },
    );

    app.post<{ Params: HandleParams; Body: { passcode?: string } }>(
      "/prompt/:handle/passcode",
      {
        schema: { params: HandleParams, body: PasscodeForm, response: { 200: HTML } },
        preHandler: requireSameOrigin(publicOrigin),
      },
      async (request: FastifyRequest<{ Params: HandleParams; Body: { passcode?: string } }>, reply) => {
        const loaded = await loadPrompt(runtime, request, reply);
        if (!loaded) return reply;
        const { ctx } = loaded;
        const { t } = ctx.page;
        const typed = normalizeTypedPasscode(request.body.passcode ?? "");
        if (typed === "") return render(ctx, reply, t.emptyPasscode, 400);
        if (!/^[0-9A-Za-z]{1,64}$/.test(typed)) return render(ctx, reply, t.badPasscode, 400);
        let result: Awaited<ReturnType<typeof runtime.services.verifyPromptPasscode>>;
        try {
          result = await runtime.services.verifyPromptPasscode(ctx.handle, {
            passcode: typed,
            ip: request.ip,
          });
        } catch (error) {
          if (error instanceof TwofoldError && error.code === "ERR_LOGIN_SESSION_ENDED") {
            await loadPrompt(runtime, request, reply);
            return reply;
          }
          throw error;
        }
        if (result.result === "allow") {
          rememberMethod(reply, "passcode");
          return finishAndRedirect(runtime, request, reply);
        }
        if (result.result === "throttled")
          return render(
            ctx,
            reply,
            t.tooManyTries(Math.max(1, Math.ceil(result.retryAfterSeconds / 60))),
            429,
          );
        const { outcome } = result;
        switch (outcome.reason) {
          case "locked_out":
          case "rate_delayed":
            return render(
              ctx,
              reply,
              t.locked(outcome.retryAt ? minutesUntil(outcome.retryAt, runtime.clock.now()) : 1),
              400,
            );
          case "user_disabled":
          case "user_deleted":
            // The completion gate refused: the account was disabled meanwhile (A4). The page says so.
            await loadPrompt(runtime, request, reply);
            return reply;
          case "factor_not_allowed":
          case "application_disabled":
          case "application_deleted":
            return render(ctx, reply, t.notAllowedHere(ctx.login.application.name), 400);
          default:
            return render(ctx, reply, t.wrongPasscode, 400);
        }
      },
    );
  },
};
