// Builds what a command runs with: its parsed options and arguments, output, actor, and lazily the config and runtime.
import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import type { Config } from "../config/schema.ts";
import type { Runtime } from "../runtime/runtime.ts";
import {
  type Command,
  type CommandContext,
  commandName,
  GLOBAL_OPTIONS,
  type OptionReader,
  UsageError,
} from "./command.ts";
import { commandLineOf, formatCommand } from "./command-line.ts";
import { type CliIO, resolveIn } from "./io.ts";
import { createOutput } from "./output.ts";

export function buildContext(command: Command, rest: string[], json: boolean, io: CliIO): CommandContext {
  const options = { ...GLOBAL_OPTIONS, ...command.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: Object.fromEntries(
        Object.entries(options).map(([k, o]) => [
          k,
          {
            type: o.type,
            ...(o.short ? { short: o.short } : {}),
            ...(o.multiple ? { multiple: true } : {}),
          },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    const message = (error as Error).message.split(/\. /)[0]!.replace(/\.$/, "");
    throw new UsageError(message, `run \`${commandName(command)} --help\` for its options`);
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
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

  const str = (name: string) => values[name] as string | undefined;
  const reader: OptionReader = {
    string: str,
    strings: (name) => {
      const v = values[name];
      return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
    },
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
  // Read now, so a bad value is a usage error before anything is opened.
  const overrides = { ...(values["demo"] ? { mode: "demo" } : {}), ...command.configOverrides?.(reader) };

  const configFile = (values["config"] as string | undefined) ?? io.env["TWOFOLD_CONFIG"];
  let config: Promise<Readonly<Config>> | undefined;
  let runtime: Promise<Runtime> | undefined;
  let closing: Promise<void> | undefined;
  const loadOnce = () => {
    // Loaded on first use: the schema library is slow to load, and help or usage errors never need it.
    config ??= import("../config/load.ts")
      .then(({ loadConfig }) =>
        loadConfig({
          env: io.env,
          ...(configFile ? { file: resolveIn(io, configFile) } : {}),
          overrides,
        }),
      )
      .then((c) => withFilesFrom(io.cwd, c));
    return config;
  };
  const line = commandLineOf(io.env, configFile, values["demo"] === true);
  return {
    command,
    args,
    json,
    out: createOutput(json, { stdout: io.stdout, stderr: io.stderr }),
    actor: { name: `cli:${osUser(io.env)}` },
    configFile,
    stdin: io.stdin,
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    path: (p) => resolveIn(io, p),
    exit: io.exit,
    config: loadOnce,
    runtime: () => {
      runtime ??= Promise.all([import("../runtime/runtime.ts"), loadOnce()]).then(([m, c]) =>
        m.createRuntime(c, {
          ...(io.logs ? { logDestination: io.logs } : {}),
          // `serve --demo` delivers the demo's texts and e-mails to the inbox on its start page.
          demoInbox: command.path[0] === "serve",
        }),
      );
      return runtime;
    },
    closeRuntime: () => {
      // A runtime that failed to open was reported already; only a failure to close is news.
      closing ??= runtime
        ? runtime.then(
            (r) => r.close(),
            () => {},
          )
        : Promise.resolve();
      return closing;
    },
    commandLine: (words) => formatCommand(line, words),
    ...reader,
  };
}

function osUser(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env["USER"] ?? env["USERNAME"] ?? "unknown";
  }
}

/**
 * The configuration with its relative file paths taken from the run's working directory. In the process's own
 * directory they stay as written (the demo banner prints `./data/…`); a run in a test process has another one.
 */
function withFilesFrom(cwd: string, config: Readonly<Config>): Readonly<Config> {
  if (cwd === process.cwd()) return config;
  const at = (path: string) => (path ? resolveIn({ cwd }, path) : path);
  return {
    ...config,
    server: {
      ...config.server,
      tls: { ...config.server.tls, cert: at(config.server.tls.cert), key: at(config.server.tls.key) },
    },
    database: { ...config.database, sqlitePath: at(config.database.sqlitePath) },
    push: { ...config.push, geoipFile: at(config.push.geoipFile) },
  };
}
