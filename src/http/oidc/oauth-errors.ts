// The Web SDK's JSON endpoints answer every refusal in their own shapes, also the ones no handler of theirs sees
// (a body that does not parse, a parameter that fails its schema, a body too large): the token endpoint as OAuth
// does (RFC 6749 §5.2), the health check in Duo's envelope (duo-compat §4.3). Duo's SDKs read only those.
import type { FastifyReply, FastifyRequest } from "fastify";
import { type ErrorReply, issueSummary } from "../error-reply.ts";

type Shape = "token" | "health_check";

function shapeOf(url: string): Shape | undefined {
  const path = url.split("?", 1)[0];
  if (path === "/oauth/v1/token") return "token";
  if (path === "/oauth/v1/health_check") return "health_check";
  return undefined;
}

export function isOAuthJSONPath(url: string): boolean {
  return shapeOf(url) !== undefined;
}

function oauthError(status: number): string {
  if (status === 429 || status === 503) return "temporarily_unavailable";
  if (status >= 500) return "server_error";
  return "invalid_request";
}

export function sendOAuthError(
  request: FastifyRequest,
  reply: FastifyReply,
  described: ErrorReply,
  now: number,
): FastifyReply {
  const status = described.status;
  const text = issueSummary(described);
  const body =
    shapeOf(request.url) === "token"
      ? { error: oauthError(status), error_description: text }
      : {
          stat: "FAIL",
          code: status * 100 + (status === 400 ? 2 : 1),
          timestamp: Math.floor(now / 1000),
          message: oauthError(status),
          message_detail: text,
        };
  if (status === 400 || status === 401) reply.header("cache-control", "no-store");
  // Serialised here, not by the route's response schema (which describes its own refusals only).
  return reply.code(status).type("application/json; charset=utf-8").send(JSON.stringify(body));
}
