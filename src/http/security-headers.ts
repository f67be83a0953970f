// Security headers on every response, errors and 404s included (I2; OWASP HTTP Headers Cheat Sheet).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** No scripts, styles or images from elsewhere; no framing; forms post only to us. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join("; ");

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  // Our own pages get a real `Origin` (and Referer) on their form posts, for the same-origin check; other sites
  // get nothing (W3C Referrer Policy §3.4).
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "cross-origin-opener-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
};

/** Headers a route may set itself, tighter or looser for its own pages; every other one is always ours. */
const ROUTE_OVERRIDABLE = new Set(["content-security-policy", "permissions-policy"]);

export const HSTS = "max-age=31536000; includeSubDomains";

/**
 * @param alwaysHTTPS true when this server speaks TLS itself or its public URL is https (behind a proxy):
 *   then HSTS is sent on every response; otherwise only on requests that arrived over HTTPS.
 */
export function registerSecurityHeaders(app: FastifyInstance, alwaysHTTPS: boolean): void {
  // A callback hook: no promise per response for work that never waits.
  app.addHook("onSend", (request, reply, payload, done) => {
    setSecurityHeaders(request, reply, alwaysHTTPS);
    done(null, payload);
  });
}

/** SECURITY_HEADERS as pairs, with whether a route may have set the header itself. */
const HEADER_LIST = Object.entries(SECURITY_HEADERS).map(
  ([name, value]) => [name, value, ROUTE_OVERRIDABLE.has(name)] as const,
);

/** For the few answers Fastify sends without running hooks (malformed URLs). */
export function setSecurityHeaders(request: FastifyRequest, reply: FastifyReply, alwaysHTTPS: boolean): void {
  // A route may set its own policy (the authenticator app needs the camera and a worker); the rest are ours.
  for (const [name, value, overridable] of HEADER_LIST)
    if (!overridable || !reply.hasHeader(name)) reply.header(name, value);
  reply.header("x-request-id", request.id);
  if (alwaysHTTPS || request.protocol === "https") reply.header("strict-transport-security", HSTS);
  // Answers here are about one user at one moment (and the demo page shows passwords): never cache them,
  // unless a route chose otherwise (static assets).
  if (!reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
}
