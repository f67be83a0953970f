// The Duo-compatible Auth API v2 (duo-compat §3.1-§3.8): ping, check, logo, enroll, enroll_status, preauth, auth, auth_status.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { activationLink, publicBaseUrl } from "../../config/load.ts";
import { AUTH_MESSAGES, type AuthOutcome } from "../../core/use-cases/auth-api.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { createActivationBarcodeURL, registerActivationBarcodeRoute } from "../activation-barcode.ts";
import { readWebFile } from "../web-assets.ts";
import { type DuoFailure, DuoRefusal, invalidParameters, rateLimited } from "./envelope.ts";
import {
  type AuthFactorRequest,
  checkIP,
  IPADDR_MAX,
  promptFor,
  pushInfoText,
  requireOneUserReference,
  runAuth,
  runPreauth,
  runStatus,
  TYPED_MAX,
  truthy,
  typedFactor,
} from "./login-steps.ts";
import { AUTH_API_TYPES, Flag, LoginName, registerDuoScope, strict, Text } from "./signed-routes.ts";

const Time = T.Object({ time: T.Integer() }, strict);
const Result = T.Object(
  {
    result: T.Union([T.Literal("allow"), T.Literal("deny"), T.Literal("waiting")]),
    status: T.String(),
    status_msg: T.String(),
  },
  { additionalProperties: true },
);

/** A login decision that could not be reached (database down): a deny, never a 5xx (N2, duo-compat §2.3). */
const UNAVAILABLE = () => ({ result: "deny", status: "deny", status_msg: AUTH_MESSAGES.unavailable });

function resultBody(outcome: AuthOutcome): Record<string, unknown> {
  return {
    result: outcome.result,
    status: outcome.status,
    status_msg: outcome.message,
    ...(outcome.result === "waiting" ? { auth_delayed: false } : {}),
  };
}

/** `/auth/v2/enroll` on an integration whose policy does not allow it: Duo's answer to a call it may not make (§0). */
const ENROLLMENT_OFF: DuoFailure = {
  status: 403,
  code: 40301,
  message: "Access forbidden",
  detail: "Enrolment through the Auth API is not enabled for this integration.",
};

const noCapableDevice = () =>
  new DuoRefusal("ERR_VALIDATION", invalidParameters("no capable device"), "no device can do this factor");

export function registerAuthAPIRoutes(app: FastifyInstance, runtime: ServiceRuntime): void {
  const now = () => Math.floor(runtime.clock.now() / 1000);
  const pushLifetimeMs = runtime.config.policy.push.lifetimeSeconds * 1000;

  registerActivationBarcodeRoute(app, runtime);
  registerDuoScope(app, runtime, (route) => {
    route({
      method: "GET",
      url: "/auth/v2/ping",
      integrations: "unsigned",
      params: T.Object({}, strict),
      response: Time,
      handler: async () => ({ response: { time: now() } }),
    });

    route({
      method: "GET",
      url: "/auth/v2/check",
      integrations: AUTH_API_TYPES,
      params: T.Object({}, strict),
      response: Time,
      handler: async () => ({ response: { time: now() } }),
    });

    route({
      method: "GET",
      url: "/auth/v2/logo",
      integrations: AUTH_API_TYPES,
      params: T.Object({}, strict),
      response: T.Unknown({ description: "image/png bytes" }),
      handler: async () => ({ raw: readWebFile("authenticator/icon-512.png"), contentType: "image/png" }),
    });

    route({
      method: "POST",
      url: "/auth/v2/enroll",
      integrations: AUTH_API_TYPES,
      replayProtected: true,
      params: T.Object(
        {
          username: Text(),
          valid_secs: T.Optional(T.String({ pattern: "^[0-9]{1,9}$" })),
          bypass_codes: T.Optional(T.String({ pattern: "^[0-9]{1,2}$" })),
        },
        strict,
      ),
      response: T.Object(
        {
          activation_barcode: T.String(),
          activation_code: T.String(),
          activation_url: T.String(),
          expiration: T.Integer(),
          user_id: T.String(),
          username: T.String(),
        },
        strict,
      ),
      handler: async ({ params, application, request }) => {
        if (params.bypass_codes !== undefined && params.bypass_codes !== "0")
          throw new DuoRefusal(
            "ERR_VALIDATION",
            invalidParameters("bypass_codes (issue bypass codes through the Admin API)"),
          );
        const enrolled = await runtime.services.enrollNewUser(
          { name: `integration:${application.id}`, ip: request.ip },
          { application, username: params.username, validSeconds: Number(params.valid_secs ?? 86_400) },
        );
        if (!enrolled.enrolled) {
          if (enrolled.reason === "not_allowed")
            throw new DuoRefusal("ERR_FORBIDDEN", ENROLLMENT_OFF, "enrolment is off for this integration");
          throw new DuoRefusal(
            "ERR_RATE_LIMITED",
            rateLimited(enrolled.retryAfterSeconds),
            `enrolment ${enrolled.reason} for ${enrolled.retryAfterSeconds} s`,
          );
        }
        const { user, ticket } = enrolled;
        const link = activationLink(runtime.config, ticket.token.reveal());
        return {
          response: {
            activation_barcode: await createActivationBarcodeURL(runtime, ticket),
            activation_code: link,
            activation_url: link,
            expiration: Math.floor(ticket.expiresAt / 1000),
            user_id: user.id,
            username: user.username,
          },
        };
      },
    });

    route({
      method: "POST",
      url: "/auth/v2/enroll_status",
      integrations: AUTH_API_TYPES,
      params: T.Object(
        { user_id: T.String({ maxLength: 64 }), activation_code: T.String({ maxLength: 2048 }) },
        strict,
      ),
      response: T.Union([T.Literal("success"), T.Literal("waiting"), T.Literal("invalid")]),
      handler: async ({ params }) => {
        const code = params.activation_code;
        const token = code.includes("activate=") ? code.slice(code.indexOf("activate=") + 9) : code;
        return { response: await runtime.services.readActivationStatus({ userId: params.user_id, token }) };
      },
    });

    route({
      method: "POST",
      url: "/auth/v2/preauth",
      integrations: AUTH_API_TYPES,
      failClosed: UNAVAILABLE,
      params: T.Object(
        {
          username: LoginName(),
          user_id: Text(64),
          ipaddr: Text(IPADDR_MAX),
          hostname: Text(),
          trusted_device_token: Text(512),
          client_supports_verified_push: Flag,
          text_prompt: Flag,
          failmode: T.Optional(
            T.Union([T.Literal("open"), T.Literal("closed"), T.Literal("safe"), T.Literal("secure")]),
          ),
        },
        strict,
      ),
      response: T.Object(
        {
          result: T.Union([T.Literal("auth"), T.Literal("allow"), T.Literal("deny"), T.Literal("enroll")]),
          status_msg: T.String(),
          devices: T.Optional(T.Array(T.Object({}, { additionalProperties: true }))),
          enroll_portal_url: T.Optional(T.String()),
          prompt: T.Optional(T.Object({}, { additionalProperties: true })),
        },
        strict,
      ),
      handler: async ({ params, application, request }) => {
        const ref = { userId: params.user_id, username: params.username };
        requireOneUserReference(ref);
        const preauth = await runPreauth(runtime, application, ref, checkIP(params.ipaddr), request.ip);
        if (preauth.result !== "auth")
          return {
            response: {
              result: preauth.result,
              status_msg: preauth.message,
              ...(preauth.result === "enroll"
                ? { enroll_portal_url: `${publicBaseUrl(runtime.config)}/authenticator` }
                : {}),
            },
          };
        return {
          response: {
            result: "auth",
            status_msg: preauth.message,
            devices: preauth.devices.map((d) => ({
              device: d.id,
              type: d.type,
              number: d.number ?? "",
              name: d.name,
              display_name: d.capabilities.includes("sms")
                ? `${d.name} (${d.number ?? ""})`
                : d.type === "phone"
                  ? `${d.name} (Twofold Authenticator)`
                  : d.name,
              capabilities: d.capabilities,
            })),
            // duo_unix ≥ 2.2 prints `prompt.text`; menu entries name `push1`… in the order of `devices`.
            ...(truthy(params.text_prompt) ? { prompt: promptFor(preauth, preauth.user.username) } : {}),
          },
        };
      },
    });

    route({
      method: "POST",
      url: "/auth/v2/auth",
      integrations: AUTH_API_TYPES,
      replayProtected: true,
      failClosed: UNAVAILABLE,
      waitMs: pushLifetimeMs,
      params: T.Object(
        {
          factor: T.Union([
            T.Literal("auto"),
            T.Literal("push"),
            T.Literal("passcode"),
            T.Literal("phone"),
            T.Literal("sms"),
            T.Literal("prompt"),
          ]),
          username: LoginName(),
          user_id: Text(64),
          device: Text(64),
          // What the user typed: anything longer than a passcode is simply a wrong one.
          passcode: LoginName(TYPED_MAX),
          async: Flag,
          type: Text(),
          display_username: Text(),
          pushinfo: Text(runtime.config.server.bodyLimit),
          ipaddr: Text(IPADDR_MAX),
          hostname: Text(),
          txid: Text(64),
          prompt: LoginName(TYPED_MAX),
        },
        strict,
      ),
      response: T.Union([T.Object({ txid: T.String() }, strict), Result]),
      handler: async (call) => {
        const { params, application, deadline, request } = call;
        const ref = { userId: params.user_id, username: params.username };
        requireOneUserReference(ref);
        const isAsync = truthy(params.async);
        const factor = chooseFactor(runtime, params, isAsync);
        const step = await runAuth(runtime, application, {
          ref,
          factor,
          async: isAsync,
          ip: checkIP(params.ipaddr),
          peer: request.ip,
          hangUp: () => call.signal,
          onWait: (ms) => deadline.extend(ms),
        });
        if (step.kind === "no_capable_device") throw noCapableDevice();
        if (step.kind === "async") return { response: { txid: step.txid } };
        return { response: resultBody(step.outcome) };
      },
    });

    route({
      method: "GET",
      url: "/auth/v2/auth_status",
      integrations: AUTH_API_TYPES,
      failClosed: UNAVAILABLE,
      waitMs: runtime.services.statusHoldMs(),
      params: T.Object({ txid: T.String({ minLength: 1, maxLength: 64 }) }, strict),
      response: Result,
      handler: async (call) => ({
        response: resultBody(await runStatus(runtime, call)),
      }),
    });
  });
}

/**
 * What `factor` (and `device`, `passcode`, `prompt`) ask for (§3.7). A push can show a verification code only
 * when the client polls status (async) or said it can show one; otherwise it is a plain push, which the
 * application's policy must allow (D1).
 */
function chooseFactor(
  runtime: ServiceRuntime,
  params: {
    factor: string;
    device?: string;
    passcode?: string;
    prompt?: string;
    pushinfo?: string;
    client_supports_verified_push?: string;
  },
  isAsync: boolean,
): AuthFactorRequest {
  const verified = isAsync;
  const info = pushInfoText(runtime, params.pushinfo);
  switch (params.factor) {
    case "passcode":
      if (!params.passcode) throw new DuoRefusal("ERR_VALIDATION", invalidParameters("passcode"));
      return { kind: "passcode", passcode: params.passcode };
    case "auto":
    case "push":
      return { kind: "push", device: params.device ?? "auto", info, verified };
    case "prompt":
      return typedFactor(params.prompt ?? "", info, verified);
    case "sms":
      // Duo answers a deny with status `sent`; the code is then typed as a passcode (§3.7).
      return { kind: "sms", device: params.device ?? "auto" };
    default:
      // Voice calls are not offered: no device is capable of them.
      return { kind: "no_capable_device" };
  }
}
