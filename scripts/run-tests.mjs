#!/usr/bin/env node
// Builds dist/ (server and browser code), compiles src/, test/ and web/ to JavaScript once, then runs every
// *.test.ts(x) under src/ and test/ with node's test runner (Node 20 has no glob support for --test).
import { spawnSync } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, extname, join, relative, resolve } from "node:path";
import { PassThrough, Transform } from "node:stream";
import { finished } from "node:stream/promises";
import { run } from "node:test";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { buildWeb } from "./build-web.mjs";

const ROOT = resolve(import.meta.dirname, "..");

function collect(dir, test) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "fixtures") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path, test));
    else if (test(name)) out.push(path);
  }
  return out;
}

const isTest = (name) => /\.test\.tsx?$/.test(name);
// --test-reporter=NAME|PATH and --test-reporter-destination=stdout|stderr|PATH, in pairs, as node --test takes
// them; the other arguments filter file paths.
const runnerOptions = process.argv.slice(2).filter((a) => a.startsWith("--"));
for (const option of runnerOptions)
  if (!/^--test-reporter(-destination)?=./.test(option)) {
    console.error(
      `unknown option ${option}: only --test-reporter=… and --test-reporter-destination=… are taken`,
    );
    process.exit(2);
  }
const filters = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const files = ["src", "test"]
  .flatMap((d) => collect(join(ROOT, d), isTest))
  .map((f) => relative(ROOT, f))
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

/**
 * Every test file used to load through tsx, which resolves and transforms the TypeScript it imports in each of the
 * ~130 test processes. Instead, src/, test/ and web/ are transformed once here, file by file (no bundling, so
 * module identity and load order stay as written), into a folder inside the checkout (bare imports still find
 * node_modules). Relative imports of TypeScript point at the compiled files; anything else relative (JSON, data)
 * and `import.meta` point at the sources, so fixture paths, package-root lookups and worker entries resolve as
 * they did. Child processes and workers that tests start with `--import tsx` still load TypeScript themselves.
 */
const OUT = join(ROOT, ".tmp", `tests-${process.pid}`);
const isSource = (name) => /\.tsx?$/.test(name) && !name.endsWith(".d.ts");
const sources = ["src", "test", "web"].flatMap((d) => collect(join(ROOT, d), isSource));
const compiledPath = (source) => join(OUT, relative(ROOT, source)).replace(/\.tsx?$/, ".js");
const JSX_RUNTIME = join(ROOT, "web/shared/jsx/jsx-runtime.ts");

/** Relative specifier from the compiled `importer` to `target`, as an ES module import wants it. */
function specifier(importer, target) {
  const path = relative(dirname(compiledPath(importer)), target)
    .split("\\")
    .join("/");
  return path.startsWith(".") ? path : `./${path}`;
}

const compileOnce = {
  name: "compile-once",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === "entry-point") return undefined;
      if (args.path === "#jsx/jsx-runtime")
        return { path: specifier(args.importer, compiledPath(JSX_RUNTIME)), external: true };
      if (!args.path.startsWith(".")) return { path: args.path, external: true };
      const target = resolve(dirname(args.importer), args.path);
      if (/\.tsx?$/.test(target))
        return { path: specifier(args.importer, compiledPath(target)), external: true };
      return { path: pathToFileURL(target).href, external: true };
    });
    b.onLoad({ filter: /\.tsx?$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      if (!/\bimport\.meta\b/.test(text)) return { contents: text, loader: extname(args.path).slice(1) };
      // The module's own place is its source file's; prepended on the first line, so line numbers stay.
      const url = pathToFileURL(args.path).href;
      const meta =
        `const __sourceMeta = { url: ${JSON.stringify(url)}, filename: ${JSON.stringify(args.path)}, ` +
        `dirname: ${JSON.stringify(dirname(args.path))}, resolve: (s) => import.meta.resolve(s.startsWith(".") ? ` +
        `new URL(s, ${JSON.stringify(url)}).href : s) };`;
      return {
        contents: meta + text.replace(/\bimport\.meta\b/g, "__sourceMeta"),
        loader: extname(args.path).slice(1),
      };
    });
  },
};

// A run that was killed leaves its folder behind: remove those whose process is gone.
for (const name of existsSync(dirname(OUT)) ? readdirSync(dirname(OUT)) : []) {
  const pid = /^tests-(\d+)$/.exec(name)?.[1];
  if (!pid) continue;
  try {
    process.kill(Number(pid), 0);
  } catch (e) {
    if (e.code === "ESRCH") rmSync(join(dirname(OUT), name), { recursive: true, force: true });
  }
}
mkdirSync(OUT, { recursive: true });
const started = performance.now();
await esbuild.build({
  absWorkingDir: ROOT,
  entryPoints: sources,
  outbase: ROOT,
  outdir: OUT,
  bundle: true,
  plugins: [compileOnce],
  format: "esm",
  platform: "node",
  target: "node20",
  tsconfig: join(ROOT, "tsconfig.json"),
  sourcemap: "inline",
  keepNames: true,
  logLevel: "warning",
});
console.error(`compiled ${sources.length} files in ${Math.round(performance.now() - started)} ms`);

/**
 * Started first, longest first (measured on a 2-core machine, four files at a time): a long file started late would
 * otherwise run alone at the end. Every other file follows in path order. A file missing here only runs later;
 * nothing is skipped.
 */
const LONGEST_FIRST = [
  "test/browser/universal-prompt-sms.test.ts",
  "test/sms/sms-pumping.test.ts",
  "test/duo/login-throttle-rotating.lockout.test.ts",
  "test/browser/universal-prompt-enrol.test.ts",
  "test/duo/duo-unix.test.ts",
  "test/sms/sms-guard.test.ts",
  "test/duo/login-throttle.lockout.test.ts",
  "test/push/device-stream.test.ts",
  "test/duo/reported-attack.lockout.test.ts",
  "test/browser/demo-inbox.test.ts",
  "test/duo/reported-attack-rotating.lockout.test.ts",
  "test/browser/start-page.test.ts",
  "test/security/database-blackhole.test.ts",
  "test/browser/universal-prompt-trust.test.ts",
  "test/browser/prompt-webauthn.test.ts",
  "test/duo/duo-api-client.test.ts",
  "test/push/device-api.test.ts",
  "test/browser/universal-prompt.test.ts",
  "test/sms/outbox.test.ts",
  "test/duo/admin-api.test.ts",
];
const rank = (f) => {
  const i = LONGEST_FIRST.indexOf(f);
  return i === -1 ? LONGEST_FIRST.length : i;
};
files.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));

/**
 * Test files run in processes of their own, RUN_AT_ONCE at a time. Most of a file's time is spent waiting (push
 * lifetimes, timers, sockets, Chromium), not computing, so more files than cores keep both cores busy.
 */
const RUN_AT_ONCE = 4;
/** Files that measure wall time against a bound (start-up against bare node): they run last, one at a time. */
const RUN_ALONE = ["test/build/build.test.ts"];

// node --test sorts the files it is given by path; run() keeps the order above.
const reporters = runnerOptions.filter((o) => o.startsWith("--test-reporter=")).map((o) => o.split("=")[1]);
const destinations = runnerOptions
  .filter((o) => o.startsWith("--test-reporter-destination="))
  .map((o) => o.split("=")[1]);
if (reporters.length === 0) reporters.push(process.stdout.isTTY ? "spec" : "tap");
const builtIn = await import("node:test/reporters");
// Failures in the test files point at the TypeScript sources. run() starts each file with this process's
// execArgv; through NODE_OPTIONS every command a test starts (the built CLI too) would read its maps as well.
process.execArgv.push("--enable-source-maps");
for (const signal of ["SIGINT", "SIGTERM"])
  process.once(signal, () => {
    rmSync(OUT, { recursive: true, force: true });
    process.exit(1);
  });

/**
 * Reporters read one stream of events: the files run together, then the files that run alone. Each run() ends with
 * its own plan and totals; those are added up and reported once, and the second run's tests numbered on.
 */
const events = new PassThrough({ objectMode: true });
const done = [];
for (const [i, name] of reporters.entries()) {
  const reporter = Object.hasOwn(builtIn, name)
    ? builtIn[name]
    : (await import(pathToFileURL(resolve(name)).href)).default;
  const where = destinations[i] ?? "stdout";
  const out =
    where === "stdout"
      ? process.stdout
      : where === "stderr"
        ? process.stderr
        : createWriteStream(resolve(where));
  const piped = events.compose(reporter.prototype instanceof Transform ? new reporter() : reporter);
  const toFile = out !== process.stdout && out !== process.stderr;
  piped.pipe(out, { end: toFile });
  // A file is complete once its stream has flushed; stdout and stderr are written synchronously.
  done.push(finished(toFile ? out : piped));
}
const TOTAL = /^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/;
const totals = new Map();
let planned = 0;
let numbered = 0;
let failed = false;
const began = performance.now();
try {
  const together = files.filter((f) => !RUN_ALONE.includes(f));
  const alone = files.filter((f) => RUN_ALONE.includes(f));
  for (const [group, concurrency] of [
    [together, RUN_AT_ONCE],
    [alone, 1],
  ]) {
    if (group.length === 0) continue;
    const offset = numbered;
    const stream = run({
      files: group.map((f) => compiledPath(join(ROOT, f))),
      concurrency,
      // A file that runs past this is stuck; on a loaded 2-core machine a slow browser file took 4–5 minutes.
      timeout: 600_000,
    });
    for await (const event of stream) {
      const { type, data } = event;
      if (type === "test:fail") failed = true;
      if (data?.nesting === 0) {
        if (type === "test:plan") {
          planned += data.count;
          continue;
        }
        const total = type === "test:diagnostic" && TOTAL.exec(data.message);
        if (total) {
          totals.set(total[1], (totals.get(total[1]) ?? 0) + Number(total[2]));
          continue;
        }
        if ((type === "test:pass" || type === "test:fail") && data.testNumber) {
          data.testNumber += offset;
          numbered = Math.max(numbered, data.testNumber);
        }
      }
      events.write(event);
    }
  }
  events.write({ type: "test:plan", data: { nesting: 0, count: planned } });
  totals.set("duration_ms", performance.now() - began);
  for (const [what, n] of totals)
    events.write({ type: "test:diagnostic", data: { nesting: 0, message: `${what} ${n}` } });
  events.end();
  await Promise.all(done);
} finally {
  rmSync(OUT, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
