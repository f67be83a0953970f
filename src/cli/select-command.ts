// Finds the command in argv (its words may come after global options), or the help or version text asked for.
import { readPackageVersion } from "../runtime/package-root.ts";
import { type Command, UsageError } from "./command.ts";
import { COMMANDS, GROUPS } from "./commands/index.ts";
import { renderCommandHelp, renderGroupHelp, renderMainHelp } from "./help.ts";

export function version(): string {
  return readPackageVersion();
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
export function selectCommand(argv: string[]): { command: Command; rest: string[] } | string {
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

  const two =
    second === undefined ? undefined : COMMANDS.find((c) => c.path.join(" ") === `${first} ${second}`);
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
