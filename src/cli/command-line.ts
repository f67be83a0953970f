// How to write a `twofold` command so it works when pasted where this one ran: same launcher, same database.

/** What a printed command starts with and ends with, taken from how this process was started. */
export interface CommandLine {
  /** `npx twofold` when started through npm (npm start, npx), where `twofold` is not on the PATH; else `twofold`. */
  prefix: string;
  /** The options that choose the configuration and database: `--config FILE`, `--demo`. */
  options: string[];
}

/**
 * @param configFile --config or $TWOFOLD_CONFIG (another terminal may not have the variable, so it is spelt out)
 * @param demo --demo given, or TWOFOLD_MODE=demo
 */
export function commandLineOf(
  env: NodeJS.ProcessEnv,
  configFile: string | undefined,
  demo: boolean,
): CommandLine {
  const options: string[] = [];
  if (configFile) options.push("--config", shellWord(configFile));
  if (demo || env["TWOFOLD_MODE"] === "demo") options.push("--demo");
  // npm sets npm_command for `npm start` (run-script) and `npx` (exec).
  return { prefix: env["npm_command"] ? "npx twofold" : "twofold", options };
}

/** `words` (e.g. `user list`, `totp confirm ID CODE`) as a whole command line. */
export function formatCommand(line: CommandLine, words: string): string {
  return [line.prefix, words, ...line.options].join(" ");
}

/** A word as a POSIX shell reads it back: bare when safe, else in single quotes. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
