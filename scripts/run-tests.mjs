#!/usr/bin/env node
// Builds dist/ (server and browser code), then runs every *.test.ts(x) under src/ and test/ with node's test runner (Node 20 has no glob support for --test).
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildWeb } from "./build-web.mjs";

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "fixtures") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (/\.test\.tsx?$/.test(name)) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = ["src", "test"]
  .flatMap((d) => collect(d))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
// Tests that start the real `twofold` command run the build: make it first, so none of them runs a stale one.
const build = spawnSync(process.execPath, [join(import.meta.dirname, "build.mjs")], {
  stdio: "inherit",
  env: process.env,
});
if (build.status !== 0) process.exit(build.status ?? 1);
// The server serves the browser code from dist/web: build it from the current web/ sources too.
await buildWeb();
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=300000", ...files],
  { stdio: "inherit", env: process.env },
);
process.exit(result.status ?? 1);
