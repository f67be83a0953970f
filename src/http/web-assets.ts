// The browser code built from web/ (scripts/build-web.mjs → dist/web): finding it, and serving its fingerprinted assets.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { sha256Hex } from "../core/crypto/index.ts";

/** dist/web/manifest.json, as scripts/build-web.mjs writes it. */
export interface WebManifest {
  /** The authenticator's files, served at /authenticator/<name>. */
  authenticator: string[];
  /** Source path under web/ → fingerprinted URL under /assets/web/. */
  assets: Record<string, string>;
  /** Every output file and its size in bytes. */
  outputs: Record<string, number>;
}

export interface WebBuild {
  directory: string;
  manifest: WebManifest;
}

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

let cached: WebBuild | undefined;

/**
 * The build next to this package's package.json (found by walking up, so it holds from source and from a bundle).
 * Throws when it is missing: the server does not start without its pages' assets.
 */
export function loadWebBuild(): WebBuild {
  if (cached) return cached;
  let root = import.meta.dirname;
  while (!existsSync(join(root, "package.json"))) {
    const parent = dirname(root);
    if (parent === root) throw new Error("twofold: package.json not found above the server code");
    root = parent;
  }
  const directory = join(root, "dist", "web");
  const manifestPath = join(directory, "manifest.json");
  if (!existsSync(manifestPath))
    throw new Error(`twofold: the web build is missing (${manifestPath}); run \`npm run build:web\``);
  cached = { directory, manifest: JSON.parse(readFileSync(manifestPath, "utf8")) as WebManifest };
  return cached;
}

/** The URL of a built asset by its source path under web/ (e.g. "shared/styles/base.css"). */
export function webAssetURL(source: string): string {
  const url = loadWebBuild().manifest.assets[source];
  if (!url) throw new Error(`twofold: ${source} is not in the web build`);
  return url;
}

const files = new Map<string, Buffer>();

/** A built file's bytes by its path under dist/web (e.g. the app icon the Duo Auth API's /logo answers with). */
export function readWebFile(path: string): Buffer {
  let body = files.get(path);
  if (!body) {
    body = readFileSync(join(loadWebBuild().directory, path));
    files.set(path, body);
  }
  return body;
}

export function readAsset(path: string): Asset {
  const body = readFileSync(path);
  const extension = path.slice(path.lastIndexOf("."));
  const type = CONTENT_TYPES[extension];
  if (!type) throw new Error(`no content type for ${path}`);
  return { body, type, etag: `"${sha256Hex(body).slice(0, 32)}"` };
}

/** Fingerprinted files change name when they change, so browsers may keep them for a year without asking. */
export const IMMUTABLE = "public, max-age=31536000, immutable";

/** GET /assets/web/<name>-<hash>.<ext>: the shared stylesheets and the pages' behaviours. */
export function registerWebAssets(app: FastifyInstance): void {
  const { directory, manifest } = loadWebBuild();
  for (const url of Object.values(manifest.assets)) {
    const asset = readAsset(join(directory, "assets", url.slice("/assets/web/".length)));
    app.get(url, { schema: { response: { 200: T.String() } } }, async (_request, reply) =>
      reply.type(asset.type).header("cache-control", IMMUTABLE).send(asset.body),
    );
  }
}
