#!/usr/bin/env node
// Builds the browser code under web/ into dist/web (git-ignored), which the server serves: `npm run build:web`.
// Also imported by scripts/run-tests.mjs, so tests always run against the current web/ sources.
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const FINAL_DIR = join(ROOT, "dist", "web");
/** Built beside the final directory, then swapped in: a server reading dist/web never sees a half-written build. */
const OUT_DIR = join(ROOT, "dist", `web.building-${process.pid}`);

/** Options every bundle shares: browsers from 2022 on (the app needs WebCrypto, IndexedDB, <dialog>, Trusted Types). */
const COMMON = {
  bundle: true,
  minify: true,
  target: "es2022",
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  absWorkingDir: ROOT,
};

/**
 * The authenticator keeps fixed URLs (/authenticator/app.js, sw.js, app.css): the installed app and its service
 * worker name them, so they are revalidated (no-cache + ETag) rather than fingerprinted. One bundle, no chunks:
 * the worker's offline shell is exactly these files.
 */
async function buildAuthenticator(metafiles) {
  const source = join(ROOT, "web", "authenticator");
  const out = join(OUT_DIR, "authenticator");
  const app = await build({
    ...COMMON,
    entryPoints: { app: join(source, "app.ts") },
    outdir: out,
    format: "esm",
    // The QR decoder is served from the jsqr package as it is, and loaded only without BarcodeDetector.
    external: ["/authenticator/vendor/jsqr.js"],
  });
  // A classic worker script: the browser registers it without `type: "module"`, as before.
  const worker = await build({
    ...COMMON,
    entryPoints: { sw: join(source, "sw.ts") },
    outdir: out,
    format: "iife",
    tsconfig: join(source, "tsconfig.worker.json"),
  });
  const styles = await build({ ...COMMON, entryPoints: { app: join(source, "app.css") }, outdir: out });
  metafiles.push(app.metafile, worker.metafile, styles.metafile);
  const files = ["index.html", "manifest.webmanifest", "icon.svg", "icon-192.png", "icon-512.png"];
  for (const name of [...files, "icon-maskable-512.png"]) copyFileSync(join(source, name), join(out, name));
  return ["app.js", "sw.js", "app.css", ...files, "icon-maskable-512.png"];
}

/**
 * Shared stylesheets and, later, the prompt/portal/console behaviours: fingerprinted names under /assets/web/,
 * served immutable; pages find them through the manifest.
 */
async function buildShared(metafiles) {
  const result = await build({
    ...COMMON,
    entryPoints: {
      base: join(ROOT, "web", "shared", "styles", "base.css"),
      // WebAuthn ceremonies (prompt, portal): bundles @simplewebauthn/browser.
      webauthn: join(ROOT, "web", "shared", "behaviours", "webauthn.ts"),
      prompt: join(ROOT, "web", "prompt", "styles", "prompt.css"),
      "push-wait": join(ROOT, "web", "prompt", "behaviours", "push-wait.ts"),
      "enroll-wait": join(ROOT, "web", "prompt", "behaviours", "enroll-wait.ts"),
      "frame-result": join(ROOT, "web", "prompt", "behaviours", "frame-result.ts"),
      "frame-start": join(ROOT, "web", "prompt", "behaviours", "frame-start.ts"),
      "sms-resend": join(ROOT, "web", "prompt", "behaviours", "sms-resend.ts"),
      // The demo start page's inbox, kept live.
      "demo-inbox": join(ROOT, "web", "shared", "behaviours", "demo-inbox.ts"),
      "keep-alive": join(ROOT, "web", "prompt", "behaviours", "keep-alive.ts"),
      "copy-number": join(ROOT, "web", "prompt", "behaviours", "copy-number.ts"),
    },
    outdir: join(OUT_DIR, "assets"),
    entryNames: "[name]-[hash]",
    format: "esm",
    splitting: false,
    tsconfig: join(ROOT, "web", "tsconfig.json"),
  });
  metafiles.push(result.metafile);
  const assets = {};
  for (const [output, info] of Object.entries(result.metafile.outputs)) {
    if (!info.entryPoint) continue;
    assets[relative(join(ROOT, "web"), join(ROOT, info.entryPoint))] = `/assets/web/${basename(output)}`;
  }
  return assets;
}

/** Build everything; returns the manifest it wrote to dist/web/manifest.json. */
export async function buildWeb() {
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  const metafiles = [];
  const authenticator = await buildAuthenticator(metafiles);
  const assets = await buildShared(metafiles);
  const outputs = {};
  for (const metafile of metafiles)
    for (const [path, info] of Object.entries(metafile.outputs))
      outputs[relative(OUT_DIR, join(ROOT, path))] = info.bytes;
  const manifest = { authenticator, assets, outputs };
  writeFileSync(join(OUT_DIR, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  rmSync(FINAL_DIR, { recursive: true, force: true });
  renameSync(OUT_DIR, FINAL_DIR);
  return manifest;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const manifest = await buildWeb();
  const total = Object.values(manifest.outputs).reduce((a, b) => a + b, 0);
  console.log(
    `web: ${Object.keys(manifest.outputs).length} files, ${total} bytes in ${relative(ROOT, FINAL_DIR)} ` +
      `(${Math.round(performance.now() - started)} ms)`,
  );
}
