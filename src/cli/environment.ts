// Environment switches that belong to the CLI itself rather than to the configuration.

/** TWOFOLD_DEBUG=1 prints stack traces with errors (the configuration loader ignores the variable). */
export function isDebug(env: NodeJS.ProcessEnv): boolean {
  return env["TWOFOLD_DEBUG"] === "1";
}
