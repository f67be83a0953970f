// Usage text for the whole CLI, a command group and a single command, built from the command table.
import { type Command, commandName, GLOBAL_OPTIONS, type OptionSpec } from "./command.ts";

function argumentWords(command: Command): string[] {
  const args = (command.args ?? []).map((a) => (a.optional ? `[${a.name}]` : a.name));
  return command.synopsis ? [...args, command.synopsis] : args;
}

export function usageLine(command: Command): string {
  return [commandName(command), ...argumentWords(command), "[options]"].join(" ");
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const left = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.value ? ` ${o.value}` : ""}`;
    return [flag, o.description] as const;
  });
  const width = Math.max(...left.map(([f]) => f.length));
  return left.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`);
}

function commandLines(commands: readonly Command[]): string[] {
  const rows = commands.map((c) => [[...c.path, ...argumentWords(c)].join(" "), c.summary] as const);
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, s]) => `  ${l.padEnd(width)}  ${s}`);
}

export function renderMainHelp(commands: readonly Command[], version: string): string {
  return [
    `twofold ${version}: self-hosted two-factor authentication`,
    "",
    "Usage: twofold <command> [arguments] [options]",
    "",
    "Commands:",
    ...commandLines(commands),
    "",
    "Global options:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Run `twofold <command> --help` for a command's options. Exit codes: 0 ok, 1 failed, 2 usage error.",
  ].join("\n");
}

export function renderGroupHelp(group: string, summary: string, commands: readonly Command[]): string {
  return [
    `twofold ${group}: ${summary}`,
    "",
    `Usage: twofold ${group} <command> [arguments] [options]`,
    "",
    "Commands:",
    ...commandLines(commands),
    "",
    `Run \`twofold ${group} <command> --help\` for a command's options.`,
  ].join("\n");
}

export function renderCommandHelp(command: Command): string {
  const lines = [`Usage: ${usageLine(command)}`, "", command.summary];
  if (command.details) lines.push("", command.details);
  if (command.options && Object.keys(command.options).length > 0)
    lines.push("", "Options:", ...optionLines(command.options));
  lines.push("", "Global options:", ...optionLines(GLOBAL_OPTIONS));
  return lines.join("\n");
}
