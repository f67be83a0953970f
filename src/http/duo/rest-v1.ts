// The legacy Auth API v1 that login_duo / pam_duo up to 2.1 use (duo-compat §3.9): /rest/v1/{preauth,auth,status}.{bson,json}.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { AUTH_MESSAGES, type AuthOutcome } from "../../core/use-cases/auth-api.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { DuoRefusal, invalidParameters } from "./envelope.ts";
import {
  type AuthFactorRequest,
  checkIP,
  IPADDR_MAX,
  promptFor,
  pushInfoText,
  runAuth,
  runPreauth,
  runStatus,
  TYPED_MAX,
  truthy,
  typedFactor,
} from "./login-steps.ts";
import { AUTH_API_TYPES, registerDuoScope, strict, Text } from "./signed-routes.ts";

/** v1 answers carry the message in `status`; a final answer adds `result` (§3.9). */
function v1Body(outcome: AuthOutcome): Record<string, string> {
  return outcome.result === "waiting"
    ? { status: outcome.message }
    : { result: outcome.result, status: outcome.message };
}

const UNAVAILABLE = () => ({ result: "deny", status: AUTH_MESSAGES.unavailable });

const Final = T.Object(
  { result: T.Union([T.Literal("allow"), T.Literal("deny")]), status: T.String() },
  strict,
);

export function registerRestV1Routes(app: FastifyInstance, runtime: ServiceRuntime): void {
  const pushLifetimeMs = runtime.config.policy.push.lifetimeSeconds * 1000;

  registerDuoScope(app, runtime, (route) => {
    for (const ext of ["bson", "json"]) {
      route({
        method: "POST",
        url: `/rest/v1/preauth.${ext}`,
        integrations: AUTH_API_TYPES,
        failClosed: UNAVAILABLE,
        params: T.Object(
          {
            user: T.String({ minLength: 1, maxLength: 256 }),
            ipaddr: Text(IPADDR_MAX),
            hostname: Text(),
            failmode: T.Optional(T.Union([T.Literal("open"), T.Literal("closed")])),
          },
          strict,
        ),
        response: T.Union([
          T.Object(
            {
              result: T.Literal("auth"),
              prompt: T.String(),
              factors: T.Record(T.String(), T.String()),
            },
            strict,
          ),
          T.Object(
            {
              result: T.Union([T.Literal("allow"), T.Literal("deny"), T.Literal("enroll")]),
              status: T.String(),
            },
            strict,
          ),
        ]),
        handler: async ({ params, application, request }) => {
          const preauth = await runPreauth(
            runtime,
            application,
            { username: params.user },
            checkIP(params.ipaddr),
            request.ip,
          );
          if (preauth.result !== "auth")
            return { response: { result: preauth.result, status: preauth.message } };
          // duo_unix denies when `factors` is missing, so a passcode-only user gets an empty menu.
          const prompt = promptFor(preauth, preauth.user.username);
          return { response: { result: "auth", prompt: prompt.text, factors: prompt.factors } };
        },
      });

      route({
        method: "POST",
        url: `/rest/v1/auth.${ext}`,
        integrations: AUTH_API_TYPES,
        replayProtected: true,
        failClosed: UNAVAILABLE,
        waitMs: pushLifetimeMs,
        params: T.Object(
          {
            user: T.String({ minLength: 1, maxLength: 256 }),
            factor: T.Literal("auto"),
            auto: T.String({ maxLength: TYPED_MAX }),
            async: T.Optional(T.Union([T.Literal("0"), T.Literal("1")])),
            ipaddr: Text(IPADDR_MAX),
            hostname: Text(),
            pushinfo: Text(runtime.config.server.bodyLimit),
          },
          strict,
        ),
        response: T.Union([T.Object({ txid: T.String() }, strict), Final]),
        handler: async (call) => {
          const { params, application, deadline, request } = call;
          const ref = { username: params.user };
          const isAsync = truthy(params.async);
          const factor = v1Factor(runtime, params.auto, params.pushinfo, isAsync);
          const step = await runAuth(runtime, application, {
            ref,
            factor,
            async: isAsync,
            ip: checkIP(params.ipaddr),
            peer: request.ip,
            hangUp: () => call.signal,
            onWait: (ms) => deadline.extend(ms),
          });
          if (step.kind === "no_capable_device")
            throw new DuoRefusal("ERR_VALIDATION", invalidParameters("no capable device"));
          if (step.kind === "async") return { response: { txid: step.txid } };
          return { response: v1Body(step.outcome) };
        },
      });

      route({
        method: "GET",
        url: `/rest/v1/status.${ext}`,
        integrations: AUTH_API_TYPES,
        failClosed: UNAVAILABLE,
        waitMs: runtime.services.statusHoldMs(),
        params: T.Object({ txid: T.String({ minLength: 1, maxLength: 64 }) }, strict),
        response: T.Union([T.Object({ status: T.String() }, strict), Final]),
        handler: async (call) => ({
          response: v1Body(await runStatus(runtime, call)),
        }),
      });
    }
  });
}

/**
 * `auto` is a factor token from the preauth menu (`push1`, `push2`, …) or whatever the user typed, which is
 * a passcode (§3.9). `smsN` sends a text-message passcode to the N-th SMS phone; phone calls are not offered.
 * Interactive logins poll status, where the verification code is shown; headless ones cannot show it.
 */
function v1Factor(
  runtime: ServiceRuntime,
  auto: string,
  pushinfo: string | undefined,
  isAsync: boolean,
): AuthFactorRequest {
  const factor = typedFactor(auto, pushInfoText(runtime, pushinfo), isAsync);
  return factor.kind === "passcode" ? { kind: "passcode", passcode: auto.trim() } : factor;
}
