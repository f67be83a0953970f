// `twofold config validate`: checks a configuration and reports every problem, or prints the effective settings.
import type { Config } from "../../config/schema.ts";
import type { Command } from "../command.ts";

const REDACTED = "[redacted]";

export const configCommands: Command[] = [
  {
    path: ["config", "validate"],
    summary: "check a configuration file (and TWOFOLD_* variables); report every problem",
    args: [{ name: "FILE", optional: true }],
    details:
      "FILE defaults to --config, then $TWOFOLD_CONFIG. With --json, prints the effective configuration.",
    async run(ctx) {
      const file = ctx.args[0] ?? ctx.configFile;
      const { loadConfig } = await import("../../config/load.ts");
      const config = loadConfig({
        env: ctx.env,
        ...(file ? { file: ctx.path(file) } : {}),
        ...(ctx.flag("demo") ? { overrides: { mode: "demo" } } : {}),
      });
      ctx.out.data(redactConfig(config), () => {
        ctx.out.line(`configuration is valid${file ? ` (${file})` : ""}: mode ${config.mode}`);
      });
      return 0;
    },
  },
];

/** The configuration with key material and database passwords replaced, safe to print or paste. */
export function redactConfig(config: Readonly<Config>): unknown {
  const copy = structuredClone(config) as Config;
  copy.keys.encryption = copy.keys.encryption.map((k) => ({ id: k.id, key: REDACTED }));
  if (copy.metrics.token) copy.metrics.token = REDACTED;
  if (copy.database.url) {
    try {
      const url = new URL(copy.database.url);
      if (url.password) url.password = REDACTED;
      copy.database.url = url.toString();
    } catch {
      copy.database.url = REDACTED;
    }
  }
  return copy;
}
