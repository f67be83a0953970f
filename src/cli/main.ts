// The `twofold` command line: finds the command in argv, parses its options, runs it and returns the exit code.
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { type Command, type CommandContext, commandName, GLOBAL_OPTIONS, UsageError } from "./command.ts";
import { COMMANDS, GROUPS } from "./commands/index.ts";
import { renderCommandHelp, renderGroupHelp, renderMainHelp } from "./help.ts";
import { createOutput } from "./output.ts";
import { EXIT_OK, EXIT_USAGE, reportError } from "./report-error.ts";

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const debug = process.env["TWOFOLD_DEBUG"] === "1";
  const streams = { stdout: process.stdout, stderr: process.stderr };
  // `twofold audit tail --follow | head` closes stdout early; that is not a failure worth a stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(EXIT_OK);
  });
  let close: (() => Promise<void>) | undefined;
  try {
    const selected = selectCommand(argv);
    if (typeof selected === "string") {
      process.stdout.write(`${selected}\n`);
      return EXIT_OK;
    }
    const ctx = buildContext(selected.command, selected.rest, json);
    close = ctx.closeRuntime;
    return (await selected.command.run(ctx)) ?? EXIT_OK;
  } catch (error) {
    return reportError(error, { ...streams, json, debug });
  } finally {
    try {
      await close?.();
    } catch (error) {
      reportError(error, { ...streams, json: false, debug });
    }
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** Indexes of the first two words in argv that are not options (skipping the value of --config). */
function commandWordIndexes(argv: string[]): number[] {
  const found: number[] = [];
  for (let i = 0; i < argv.length && found.length < 2; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (a === "--config") i++;
    else if (!a.startsWith("-")) found.push(i);
  }
  return found;
}

const wantsHelp = (args: string[]) => {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h");
};

/** The command to run with its remaining arguments, or help/version text to print. */
function selectCommand(argv: string[]): { command: Command; rest: string[] } | string {
  const at = commandWordIndexes(argv);
  const words = at.map((i) => argv[i]!);
  const [first, second] = words;
  if (first === undefined) {
    if (argv.includes("--version")) return version();
    if (wantsHelp(argv)) return renderMainHelp(COMMANDS, version());
    throw new UsageError("no command given", "run `twofold help` to list the commands");
  }
  if (first === "help") return helpFor(words.slice(1), argv.slice((at[1] ?? at[0]!) + 1));
  if (first === "version") return version();

  const two = second === undefined ? undefined : COMMANDS.find((c) => c.path.join(" ") === `${first} ${second}`);
  const one = COMMANDS.find((c) => c.path.length === 1 && c.path[0] === first);
  const command = two ?? one;
  if (!command) {
    if (first in GROUPS) {
      const sub = COMMANDS.filter((c) => c.path[0] === first);
      if (wantsHelp(argv) && second === undefined) return renderGroupHelp(first, GROUPS[first]!, sub);
      const names = sub.map((c) => c.path[1]!);
      throw new UsageError(
        second === undefined
          ? `\`twofold ${first}\` needs a command: ${names.join(", ")}`
          : `unknown command \`twofold ${first} ${second}\``,
        `${suggest(second, names, `twofold ${first} `)}run \`twofold ${first} --help\` to list its commands`,
      );
    }
    const names = [...new Set(COMMANDS.map((c) => c.path[0]!))];
    throw new UsageError(
      `unknown command \`${first}\``,
      `${suggest(first, names, "twofold ")}run \`twofold help\` to list the commands`,
    );
  }
  const used = new Set(at.slice(0, command.path.length));
  const rest = argv.filter((_, i) => !used.has(i));
  if (wantsHelp(rest)) return renderCommandHelp(command);
  return { command, rest };
}

function helpFor(words: string[], rest: string[]): string {
  const topic = [...words, ...rest.filter((a) => !a.startsWith("-"))].slice(0, 2);
  if (topic.length === 0) return renderMainHelp(COMMANDS, version());
  const command =
    COMMANDS.find((c) => c.path.join(" ") === topic.join(" ")) ??
    COMMANDS.find((c) => c.path.length === 1 && c.path[0] === topic[0]);
  if (command) return renderCommandHelp(command);
  const group = topic[0]!;
  if (group in GROUPS && topic.length === 1)
    return renderGroupHelp(
      group,
      GROUPS[group]!,
      COMMANDS.filter((c) => c.path[0] === group),
    );
  throw new UsageError(`no help on \`${topic.join(" ")}\`: no such command`, "run `twofold help`");
}

/** "did you mean …?" for a near miss (edit distance ≤ 2). */
function suggest(word: string | undefined, names: string[], prefix: string): string {
  if (word === undefined) return "";
  const best = names
    .map((n) => [n, editDistance(word, n)] as const)
    .sort((a, b) => a[1] - b[1])
    .find(([, d]) => d <= 2);
  return best ? `did you mean \`${prefix}${best[0]}\`? ` : "";
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

function buildContext(command: Command, rest: string[], json: boolean): CommandContext {
  const options = { ...GLOBAL_OPTIONS, ...command.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: Object.fromEntries(
        Object.entries(options).map(([k, o]) => [k, o.short ? { type: o.type, short: o.short } : { type: o.type }]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    const message = (error as Error).message.split(/\. /)[0]!.replace(/\.$/, "");
    throw new UsageError(message, `run \`${commandName(command)} --help\` for its options`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const args = parsed.positionals;
  const specs = command.args ?? [];
  const required = specs.filter((a) => !a.optional);
  if (args.length < required.length)
    throw new UsageError(
      `missing ${required
        .slice(args.length)
        .map((a) => a.name)
        .join(" ")}`,
      `usage: ${commandName(command)} ${specs.map((a) => (a.optional ? `[${a.name}]` : a.name)).join(" ")}`,
    );
  if (args.length > specs.length)
    throw new UsageError(
      `unexpected argument \`${args[specs.length]}\``,
      `run \`${commandName(command)} --help\` for its usage`,
    );

  const configFile = (values["config"] as string | undefined) ?? process.env["TWOFOLD_CONFIG"];
  let config: Readonly<Config> | undefined;
  let runtime: Promise<Runtime> | undefined;
  let closing: Promise<void> | undefined;
  const loadOnce = () => {
    config ??= loadConfig({
      ...(configFile ? { file: configFile } : {}),
      ...(values["demo"] ? { overrides: { mode: "demo" } } : {}),
    });
    return config;
  };
  const str = (name: string) => values[name] as string | undefined;
  return {
    command,
    args,
    json,
    out: createOutput(json, { stdout: process.stdout, stderr: process.stderr }),
    actor: { name: `cli:${osUser()}` },
    configFile,
    stdin: process.stdin,
    config: loadOnce,
    runtime: () => {
      runtime ??= import("../runtime/runtime.ts").then((m) => m.createRuntime(loadOnce()));
      return runtime;
    },
    closeRuntime: () => {
      closing ??= runtime ? runtime.then((r) => r.close()).catch(() => {}) : Promise.resolve();
      return closing;
    },
    string: str,
    flag: (name) => values[name] === true,
    integer(name, min, max) {
      const raw = str(name);
      if (raw === undefined) return undefined;
      if (!/^-?\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max)
        throw new UsageError(
          `--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`,
        );
      return Number(raw);
    },
  };
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env["USER"] ?? process.env["USERNAME"] ?? "unknown";
  }
}
