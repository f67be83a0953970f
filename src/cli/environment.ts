// The environment the CLI reads settings from, minus the variables that belong to the CLI itself.

/**
 * process.env without TWOFOLD_DEBUG: that variable switches on the CLI's stack traces and is not a setting,
 * and the configuration schema refuses TWOFOLD_* names it does not know.
 */
export function cliEnvironment(): Record<string, string | undefined> {
  const { TWOFOLD_DEBUG: _debug, ...env } = process.env;
  return env;
}

export function isDebug(): boolean {
  return process.env["TWOFOLD_DEBUG"] === "1";
}
