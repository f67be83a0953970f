// bench/startup: how long `twofold --version` and `twofold serve` (to its first /health answer) take to start, built and through tsx, beside bare Node and bare Fastify.
// Usage: npm run bench:startup [-- --rounds 15 --built-only]   (builds dist/ and dist/web/ first)
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "15" },
    // Leave out the two tsx scenarios (the slowest), e.g. to compare builds quickly.
    "built-only": { type: "boolean", default: false },
  },
});
const ROUNDS = Number(values.rounds);
const ROOT = resolve(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "twofold.js");
/** A start that takes longer than this has hung (the tsx launcher sometimes did). */
const TIMEOUT_MS = 30_000;

interface Scenario {
  label: string;
  /** node's arguments. */
  args: string[];
  /** Exit: time until the process exits (code 0). Serve: time until its first GET /health is answered. */
  kind: "exit" | "serve";
  /** The scenario this one is compared with, and the most it may take as a multiple of it. */
  baseline?: { label: string; target?: number };
}

const dir = mkdtempSync(join(os.tmpdir(), "twofold-startup-"));
// Both halves of `npm run build`: the server (dist/) and the browser code (dist/web/, which serve requires).
for (const script of ["build.mjs", "build-web.mjs"]) {
  const build = spawnSync(process.execPath, [join(ROOT, "scripts", script)], { stdio: "inherit" });
  if (build.status !== 0) throw new Error(`scripts/${script} failed`);
}

// What bin/twofold.js did before the build: load the TypeScript sources through tsx.
const tsxLauncher = join(dir, "twofold-tsx.mjs");
writeFileSync(
  tsxLauncher,
  [
    `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))};`,
    "register();",
    `const { main } = await import(${JSON.stringify(pathToFileURL(join(ROOT, "src", "cli", "main.ts")).href)});`,
    "process.exitCode = await main(process.argv.slice(2));",
  ].join("\n"),
);
// The floor for a server: Fastify with one route and nothing else, from the same node_modules.
const bareFastify = join(dir, "bare-fastify.mjs");
writeFileSync(
  bareFastify,
  [
    `import Fastify from ${JSON.stringify(import.meta.resolve("fastify"))};`,
    "const app = Fastify();",
    'app.get("/health", async () => ({ status: "ok" }));',
    'const url = await app.listen({ host: "127.0.0.1", port: 0 });',
    'console.log("listening on " + url);',
    'process.on("SIGTERM", () => app.close().then(() => process.exit(0)));',
  ].join("\n"),
);
// Production mode on SQLite in the temporary folder; the first (unmeasured) round creates and migrates the database.
const configFile = join(dir, "twofold.yaml");
writeFileSync(
  configFile,
  [
    "database:",
    `  sqlitePath: ${JSON.stringify(join(dir, "twofold.db"))}`,
    "keys:",
    `  encryption: [{id: k1, key: ${randomBytes(32).toString("base64")}}]`,
    "logging:",
    "  level: silent",
  ].join("\n"),
);
const serveArgs = ["serve", "--config", configFile, "--host", "127.0.0.1", "--port", "0"];

const NODE = "node -e 0 (baseline)";
const FASTIFY = "bare Fastify → first /health answer (baseline)";
const ALL_SCENARIOS: Scenario[] = [
  { label: NODE, args: ["-e", "0"], kind: "exit" },
  {
    label: "twofold --version (built)",
    args: [BIN, "--version"],
    kind: "exit",
    baseline: { label: NODE, target: 2 },
  },
  {
    label: "twofold --version through tsx (before)",
    args: [tsxLauncher, "--version"],
    kind: "exit",
    baseline: { label: NODE },
  },
  { label: FASTIFY, args: [bareFastify], kind: "serve" },
  {
    label: "twofold serve (built, SQLite) → first /health answer",
    args: [BIN, ...serveArgs],
    kind: "serve",
    baseline: { label: FASTIFY, target: 2 },
  },
  {
    label: "twofold serve through tsx (before) → first /health answer",
    args: [tsxLauncher, ...serveArgs],
    kind: "serve",
    baseline: { label: FASTIFY },
  },
];

const SCENARIOS = values["built-only"]
  ? ALL_SCENARIOS.filter((s) => !s.label.includes("through tsx"))
  : ALL_SCENARIOS;

/** The environment without anything that would change how Twofold starts. */
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith("TWOFOLD_") && k !== "NODE_OPTIONS"),
);

function start(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, args, { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    output += d.toString();
  });
  return { child, output: () => output };
}

/** A start that never finished: counted, not timed. */
class Hung extends Error {}

function withTimeout<T>(promise: Promise<T>, what: string, child: ChildProcess): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Hung(`${what}: no answer in ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Milliseconds from spawning node until it exits. */
async function timeExit(args: string[]): Promise<number> {
  const began = performance.now();
  const { child, output } = start(args);
  const [code] = (await withTimeout(once(child, "exit"), args.join(" "), child)) as [number | null];
  const elapsed = performance.now() - began;
  if (code !== 0) throw new Error(`node ${args.join(" ")} exited ${code}: ${output()}`);
  return elapsed;
}

/** Main-thread CPU time each serve scenario had used when its first /health answer arrived (Linux only). */
const cpuSamples = new Map<string, number[]>();

/** CPU time the process's main thread has run, in ms (/proc/PID/task/PID/schedstat), or undefined off Linux. */
function mainThreadCPU(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    if (!readdirSync(`/proc/${pid}/task`).includes(String(pid))) return undefined;
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
  } catch {
    return undefined;
  }
}

/** Milliseconds from spawning the server until its first GET /health is answered (the address comes from its stdout). */
async function timeFirstAnswer(args: string[], label: string): Promise<number> {
  const began = performance.now();
  const { child, output } = start(args);
  const exited = once(child, "exit");
  try {
    const url = await withTimeout(
      new Promise<string>((resolve, reject) => {
        child.stdout!.on("data", () => {
          const found = /listening on (http:\/\/\S+)/i.exec(output());
          if (found) resolve(found[1]!);
        });
        child.on("exit", (code) => reject(new Error(`exited ${code} before listening: ${output()}`)));
      }),
      args.join(" "),
      child,
    );
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get(`${url}/health`, { agent: false }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        })
        .on("error", reject);
    });
    const elapsed = performance.now() - began;
    const cpu = mainThreadCPU(child.pid);
    if (status !== 200) throw new Error(`/health answered ${status}`);
    if (cpu !== undefined) cpuSamples.set(label, [...(cpuSamples.get(label) ?? []), cpu]);
    return elapsed;
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}

const measure = (s: Scenario) => (s.kind === "exit" ? timeExit(s.args) : timeFirstAnswer(s.args, s.label));

const samples = new Map<string, number[]>(SCENARIOS.map((s) => [s.label, []]));
/** Each round's time over its baseline's time in the same round (load on the machine changes between rounds). */
const ratios = new Map<string, number[]>(SCENARIOS.map((s) => [s.label, []]));
const hung = new Map<string, number>(SCENARIOS.map((s) => [s.label, 0]));
try {
  // One unmeasured round: the database is created and migrated, and the files are in the page cache.
  for (const s of SCENARIOS)
    await measure(s).catch((error: unknown) => {
      if (!(error instanceof Hung)) throw error;
    });
  cpuSamples.clear();
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, starting one further along each round, so a busy moment falls on every scenario alike.
    for (let i = 0; i < SCENARIOS.length; i++) {
      const s = SCENARIOS[(round + i) % SCENARIOS.length]!;
      try {
        samples.get(s.label)!.push(await measure(s));
      } catch (error) {
        if (!(error instanceof Hung)) throw error;
        hung.set(s.label, hung.get(s.label)! + 1);
      }
    }
    for (const s of SCENARIOS) {
      const mine = samples.get(s.label)!;
      const base = s.baseline && samples.get(s.baseline.label)!;
      if (base && mine.length === round + 1 && base.length === round + 1)
        ratios.get(s.label)!.push(mine[round]! / base[round]!);
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const median = (label: string) => quantile(samples.get(label)!, 0.5);
const ms = (x: number) => x.toFixed(0);

console.log(
  `\n${ROUNDS} rounds, interleaved; Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, ` +
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}\n`,
);
console.log(
  "| scenario | median ms | min ms | p90 ms | hung | ÷ baseline (medians) | ÷ baseline (median of rounds) | target |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---|");
for (const s of SCENARIOS) {
  const xs = samples.get(s.label)!;
  const ratio = s.baseline ? median(s.label) / median(s.baseline.label) : undefined;
  const goal = s.baseline?.target;
  const target = goal === undefined ? "–" : `≤ ${goal}× ${ratio! <= goal ? "(met)" : "(missed)"}`;
  console.log(
    `| ${s.label} | ${ms(median(s.label))} | ${ms(Math.min(...xs))} | ${ms(quantile(xs, 0.9))} | ${hung.get(s.label)} | ` +
      `${ratio === undefined ? "1×" : `${ratio.toFixed(2)}×`} | ` +
      `${s.baseline ? `${quantile(ratios.get(s.label)!, 0.5).toFixed(2)}×` : "1×"} | ${target} |`,
  );
}
// CPU is less moved by a busy machine than wall time (a start waiting for a core uses none): the same comparison.
const cpuMedian = (label: string) => {
  const xs = cpuSamples.get(label);
  return xs && xs.length > 0 ? quantile(xs, 0.5) : undefined;
};
const servers = SCENARIOS.filter((s) => s.kind === "serve" && cpuMedian(s.label) !== undefined);
if (servers.length > 0) {
  console.log(
    "\nMain thread's CPU time when the first /health answer arrived (/proc/PID/task/PID/schedstat):\n",
  );
  console.log("| scenario | median ms | min ms | ÷ baseline (medians) |");
  console.log("|---|---:|---:|---:|");
  for (const s of servers) {
    const base = s.baseline ? cpuMedian(s.baseline.label) : undefined;
    console.log(
      `| ${s.label} | ${ms(cpuMedian(s.label)!)} | ${ms(Math.min(...cpuSamples.get(s.label)!))} | ` +
        `${base === undefined ? "1×" : `${(cpuMedian(s.label)! / base).toFixed(2)}×`} |`,
    );
  }
}
