// /authenticator: the Twofold Authenticator web app as built from web/authenticator, its service worker and its page policy.
import { createRequire } from "node:module";
import { join } from "node:path";
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type Asset, loadWebBuild, readAsset } from "../web-assets.ts";

export interface AuthenticatorRouteOptions {
  /** Where the built app is (tests); defaults to dist/web/authenticator (scripts/build-web.mjs). */
  directory?: string;
}

/**
 * The app's pages run only our own scripts and styles, talk only to this server (the device API), and take
 * camera frames as blob:/data: images for QR decoding. Trusted Types make every HTML sink (innerHTML and the
 * like) throw, so text from a push can only ever be text.
 */
const BASE_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "worker-src 'self'",
  "manifest-src 'self'",
  "style-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
];
export const AUTHENTICATOR_CSP = [
  ...BASE_POLICY,
  "require-trusted-types-for 'script'",
  // One policy, which only vouches for the service worker's URL (app.js); nothing may create HTML.
  "trusted-types twofold-authenticator",
].join("; ");
/** The service worker has no DOM to protect, and its importScripts would count as a Trusted Types sink. */
const WORKER_CSP = BASE_POLICY.join("; ");

/** The global policy turns the camera off; the app needs it (same origin only) to scan activation QR codes. */
export const AUTHENTICATOR_PERMISSIONS_POLICY =
  "camera=(self), microphone=(), geolocation=(), payment=(), usb=()";

export function registerAuthenticatorRoutes(
  app: FastifyInstance,
  options: AuthenticatorRouteOptions = {},
): void {
  const build = loadWebBuild();
  const directory = options.directory ?? join(build.directory, "authenticator");
  const asset = (path: string): Asset => readAsset(path);
  const schema = { response: { 200: T.String(), 304: T.Null() } };

  const index = asset(join(directory, "index.html"));
  // The link in the activation QR code is /authenticator#activate=…: same page, and the worker's scope
  // (/authenticator, allowed by Service-Worker-Allowed) covers both spellings so both work offline.
  for (const url of ["/authenticator", "/authenticator/"])
    app.get(url, { schema }, async (request, reply) => send(request, reply, index));

  for (const name of build.manifest.authenticator.filter((f) => f !== "index.html")) {
    const file = asset(join(directory, name));
    const worker = name === "sw.js";
    app.get(`/authenticator/${name}`, { schema }, async (request, reply) => {
      if (worker) reply.header("service-worker-allowed", "/authenticator");
      return send(request, reply, file, worker ? WORKER_CSP : AUTHENTICATOR_CSP);
    });
  }

  // The QR decoder for browsers without BarcodeDetector, served from the installed package as it is.
  const jsQR = asset(createRequire(import.meta.url).resolve("jsqr"));
  app.get("/authenticator/vendor/jsqr.js", { schema }, async (request, reply) => send(request, reply, jsQR));
}

/**
 * Files are not fingerprinted, so browsers revalidate each time (no-cache + ETag; the service worker's copy is
 * what makes the app fast and offline).
 */
function send(
  request: FastifyRequest,
  reply: FastifyReply,
  file: Asset,
  policy = AUTHENTICATOR_CSP,
): FastifyReply {
  reply
    .header("content-security-policy", policy)
    .header("permissions-policy", AUTHENTICATOR_PERMISSIONS_POLICY)
    .header("cache-control", "no-cache")
    .header("etag", file.etag)
    .header("x-content-type-options", "nosniff");
  const match = request.headers["if-none-match"];
  if (match?.split(",").some((tag) => tag.trim().replace(/^W\//, "") === file.etag))
    return reply.code(304).send();
  return reply.type(file.type).send(file.body);
}
