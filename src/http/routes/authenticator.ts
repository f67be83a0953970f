// /authenticator: the Twofold Authenticator web app's files (served as they are), its service worker and its page policy.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, join } from "node:path";
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { sha256Hex } from "../../core/crypto/index.ts";
import { packagePath } from "../../runtime/package-root.ts";

export interface AuthenticatorRouteOptions {
  /** Where the app's files are (tests); defaults to src/http/authenticator. */
  directory?: string;
}

/** The app's own files; each is served at /authenticator/<name>. */
const FILES = [
  "index.html",
  "app.js",
  "app.css",
  "accounts.js",
  "crypto.js",
  "device-client.js",
  "i18n.js",
  "push-feed.js",
  "scanner.js",
  "strings.js",
  "sw.js",
  "manifest.webmanifest",
  "icon.svg",
  "icon-192.png",
  "icon-512.png",
  "icon-maskable-512.png",
];

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

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

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export function registerAuthenticatorRoutes(
  app: FastifyInstance,
  options: AuthenticatorRouteOptions = {},
): void {
  const directory = options.directory ?? packagePath("src", "http", "authenticator");
  const asset = (path: string): Asset => {
    const body = readFileSync(path);
    const type = CONTENT_TYPES[extname(path)];
    if (!type) throw new Error(`no content type for ${path}`);
    return { body, type, etag: `"${sha256Hex(body).slice(0, 32)}"` };
  };
  const schema = { response: { 200: T.String(), 304: T.Null() } };

  const index = asset(join(directory, "index.html"));
  // The link in the activation QR code is /authenticator#activate=…: same page, and the worker's scope
  // (/authenticator, allowed by Service-Worker-Allowed) covers both spellings so both work offline.
  for (const url of ["/authenticator", "/authenticator/"])
    app.get(url, { schema }, async (request, reply) => send(request, reply, index));

  for (const name of FILES.filter((f) => f !== "index.html")) {
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
