// "Enter a passcode" in the prompt: one field, the one passcode check, the same lockout words as the APIs.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { PasscodePage } from "../../../web/prompt/pages/passcode.tsx";
import { TwofoldError } from "../../core/errors.ts";
import { minutesUntil } from "../../core/lockout.ts";
import type { FinishedLogin, PromptLogin } from "../../core/use-cases/prompt-login.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { requireSameOrigin } from "../same-origin.ts";
import {
  completeLogin,
  HandleParams,
  HTML,
  loadPrompt,
  mayOfferKey,
  type PromptContext,
  type PromptMethodModule,
  PromptQuery,
  rememberMethod,
  sendFinished,
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
      view: {
        action: `${ctx.base}/passcode`,
        optionsURL: `${ctx.base}/options`,
        error,
        autofocus: ctx.security.frameParent === null,
      },
    }),
    { status, ...ctx.security },
  );
}

/** What a typed passcode came to: logged in (the method remembered), a message for the field, or a page already sent. */
export type PasscodeCheck =
  | { result: "allow"; login: PromptLogin | undefined; finished: FinishedLogin | undefined }
  | { result: "error"; error: string; status: number; wrong: boolean }
  | { result: "answered" };

/**
 * The one passcode check for a prompt form (Enter a passcode, the text-message screen): normalise what was typed,
 * verify it bound to this login, and say what the user sees. On an allow, this browser remembers the method the
 * code belonged to (a text-message code: `sms`; any other: `passcode`).
 */
export async function checkPromptPasscode(
  runtime: ServiceRuntime,
  request: FastifyRequest<{ Params: HandleParams }>,
  reply: FastifyReply,
  ctx: PromptContext,
  passcode: string | undefined,
): Promise<PasscodeCheck> {
  // The page's words only when there is a message to show (an allow answers with a redirect, no page).
  const t = () => ctx.page.t;
  const error = (message: string, status: number, wrong = false): PasscodeCheck => ({
    result: "error",
    error: message,
    status,
    wrong,
  });
  const typed = normalizeTypedPasscode(passcode ?? "");
  if (typed === "") return error(t().emptyPasscode, 400);
  if (!/^[0-9A-Za-z]{1,64}$/.test(typed)) return error(t().badPasscode, 400);
  let result: Awaited<ReturnType<typeof runtime.services.verifyPromptPasscode>>;
  try {
    result = await runtime.services.verifyPromptPasscode(ctx.handle, {
      passcode: typed,
      ip: request.ip,
      login: ctx.login,
      // Nothing left to ask after the allow (no trust, backup or key offer): the allow issues the code itself.
      keyOffer: mayOfferKey(request),
    });
  } catch (e) {
    if (e instanceof TwofoldError && e.code === "ERR_LOGIN_SESSION_ENDED") {
      await loadPrompt(runtime, request, reply);
      return { result: "answered" };
    }
    throw e;
  }
  if (result.result === "allow") {
    rememberMethod(reply, result.factor === "sms" ? "sms" : "passcode");
    return { result: "allow", login: result.login, finished: result.finished };
  }
  if (result.result === "throttled")
    return error(t().tooManyTries(Math.max(1, Math.ceil(result.retryAfterSeconds / 60))), 429);
  const { outcome } = result;
  switch (outcome.reason) {
    case "locked_out":
    case "rate_delayed":
      return error(t().locked(outcome.retryAt ? minutesUntil(outcome.retryAt, runtime.clock.now()) : 1), 400);
    case "user_disabled":
    case "user_deleted":
      // The completion gate refused: the account was disabled meanwhile (A4). The page says so.
      await loadPrompt(runtime, request, reply);
      return { result: "answered" };
    case "factor_not_allowed":
    case "application_disabled":
    case "application_deleted":
      return error(t().notAllowedHere(ctx.login.application.name), 400);
    default:
      return error(t().wrongPasscode, 400, true);
  }
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
        const loaded = await loadPrompt(runtime, request, reply, { methods: false, touch: false });
        if (!loaded) return reply;
        const { ctx } = loaded;
        const checked = await checkPromptPasscode(runtime, request, reply, ctx, request.body.passcode);
        if (checked.result === "answered") return reply;
        if (checked.result === "allow")
          return checked.finished
            ? sendFinished(runtime, request, reply, checked.finished)
            : completeLogin(runtime, request, reply, checked.login);
        return render(ctx, reply, checked.error, checked.status);
      },
    );
  },
};
