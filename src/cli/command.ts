// The shape of one CLI command and what it is given to run: parsed arguments, output, config and runtime.
import type { Config } from "../config/schema.ts";
import type { Actor } from "../core/deps.ts";
import type { ServiceRuntime } from "../runtime/runtime.ts";
import type { CliIO } from "./io.ts";
import type { Output } from "./output.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** Placeholder shown in help, e.g. `N` for `--limit N`. */
  value?: string;
  /** A string option that may be given more than once (read with `strings`). */
  multiple?: boolean;
  description: string;
}

export interface ArgSpec {
  name: string;
  optional?: boolean;
}

export interface Command {
  /** The words that select it, e.g. ["user", "add"]. */
  path: string[];
  summary: string;
  args?: ArgSpec[];
  /** Required options shown beside the arguments in usage, e.g. `--name N --type T`. */
  synopsis?: string;
  options?: Record<string, OptionSpec>;
  /** Settings this command's options override (they win over the file and the environment), e.g. serve's --port. */
  configOverrides?(options: OptionReader): Record<string, unknown>;
  /** Extra help text (examples, exit codes). */
  details?: string;
  run(ctx: CommandContext): Promise<number | undefined>;
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  config: { type: "string", value: "FILE", description: "configuration file (default: $TWOFOLD_CONFIG)" },
  demo: {
    type: "boolean",
    description: "demo mode: SQLite under ./data, a demo organisation (never for real users)",
  },
  json: { type: "boolean", description: "machine-readable JSON output" },
  help: { type: "boolean", short: "h", description: "show help" },
  version: { type: "boolean", description: "print the version" },
};

/** A mistake in how the command was called (exit code 2), with a hint on what to do instead. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly hint: string | undefined;

  constructor(message: string, hint?: string) {
    super(message);
    this.hint = hint;
  }
}

/** Reads parsed options; `integer` makes a usage error of a value out of range. */
export interface OptionReader {
  string(name: string): string | undefined;
  /** Every value of a `multiple` option, in order (empty when absent). */
  strings(name: string): string[];
  flag(name: string): boolean;
  /** A whole-number option within [min, max], or undefined when absent; a usage error otherwise. */
  integer(name: string, min: number, max: number): number | undefined;
}

export interface CommandContext extends OptionReader {
  command: Command;
  /** Positional arguments after the command words. */
  args: string[];
  json: boolean;
  out: Output;
  actor: Actor;
  /** Loaded (once) from --config / $TWOFOLD_CONFIG, with --demo applied. */
  config(): Promise<Readonly<Config>>;
  /** Opened (once) from the configuration; closed by main when the command returns. */
  runtime(): Promise<ServiceRuntime>;
  /** Close the runtime now (idempotent); for commands that manage their own lifetime. */
  closeRuntime(): Promise<void>;
  /** `words` as a command to paste where this one ran (same launcher, --config, --demo): for hints and next steps. */
  commandLine(words: string): string;
  /** The configuration file given on the command line or in $TWOFOLD_CONFIG. */
  configFile: string | undefined;
  stdin: CliIO["stdin"];
  /** Where output goes; commands print through `out` unless they stream lines (--follow, watch). */
  stdout: CliIO["stdout"];
  stderr: CliIO["stderr"];
  /** The run's environment (never `process.env`: a test passes its own). */
  env: NodeJS.ProcessEnv;
  /** A path from the command line, made absolute against the run's working directory. */
  path(p: string): string;
  /** Ends the process at once, when the run owns one (a second signal while `serve` shuts down). */
  exit: CliIO["exit"];
}

/** The `twofold …` words of a command, for hints and help. */
export function commandName(command: Command): string {
  return ["twofold", ...command.path].join(" ");
}
