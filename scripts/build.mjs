#!/usr/bin/env node
// Compiles src/ into dist/ (ES modules with source maps) for the `twofold` command and `npm start`; `--outdir DIR` writes elsewhere.
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as esbuild from "esbuild";

const root = resolve(import.meta.dirname, "..");
const { values } = parseArgs({ options: { outdir: { type: "string" } } });
const outdir = resolve(root, values.outdir ?? "dist");

const started = performance.now();
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { cli: "src/cli/main.ts" },
  outdir,
  // One file per entry, plus one per dynamic import() (and the code those share): a command loads only
  // the modules its own code imports, not the whole program.
  bundle: true,
  splitting: true,
  // Every output file sits directly in dist/, so a module finds the package root one level up, as from src/.
  entryNames: "[name]",
  chunkNames: "[name]-[hash]",
  format: "esm",
  platform: "node",
  target: "node20",
  // Dependencies written in JavaScript are bundled too: node then reads a few large files instead of resolving
  // and reading several hundred small ones (kysely alone has hundreds), which is most of what start-up cost.
  // These stay in node_modules: native addons (better-sqlite3, pg-native) and pg, which loads pg-native when asked.
  // pino is bundled (otherwise a score of small files, each resolved and read at start): its transports, which
  // start worker threads from pino's own files, are not used. CommonJS dependencies call require(), which the
  // banner provides.
  external: ["better-sqlite3", "pg", "pg-native"],
  banner: {
    js: 'import { createRequire as __twofoldCreateRequire } from "node:module"; const require = __twofoldCreateRequire(import.meta.url);',
  },
  sourcemap: "linked",
  // The maps point at the files under src/, which ship with the package.
  sourcesContent: false,
  // Class and function names as written (pino logs an error's class; esbuild would rename clashes).
  keepNames: true,
  metafile: true,
  logLevel: "warning",
});

// Chunk names carry a content hash: remove the ones this build no longer writes.
const written = new Set(Object.keys(result.metafile.outputs).map((f) => basename(f)));
for (const name of readdirSync(outdir))
  if (/\.js(\.map)?$/.test(name) && !written.has(name)) rmSync(join(outdir, name));
// What each output file imports; test/build checks from it what `twofold --version` loads.
writeFileSync(join(outdir, "meta.json"), JSON.stringify(result.metafile));

const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith(".js")).length;
console.error(`built ${files} files into ${outdir} in ${Math.round(performance.now() - started)} ms`);
