// The `twofold` command line: finds the command in argv, parses its options, runs it and returns the exit code.
import { type Command, commandName, UsageError } from "./command.ts";
import { buildContext } from "./context.ts";
import { isDebug } from "./environment.ts";
import { EXIT_OK, reportError } from "./report-error.ts";
import { selectCommand } from "./select-command.ts";

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const debug = isDebug();
  const streams = { stdout: process.stdout, stderr: process.stderr };
  // `twofold audit tail --follow | head` closes stdout early; that is not a failure worth a stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    process.exit(EXIT_OK);
  });
  let close: (() => Promise<void>) | undefined;
  let running: Command | undefined;
  try {
    const selected = selectCommand(argv);
    if (typeof selected === "string") {
      process.stdout.write(`${selected}\n`);
      return EXIT_OK;
    }
    running = selected.command;
    const ctx = buildContext(selected.command, selected.rest, json);
    close = ctx.closeRuntime;
    return (await selected.command.run(ctx)) ?? EXIT_OK;
  } catch (error) {
    const report =
      error instanceof UsageError && !error.hint && running
        ? new UsageError(error.message, `run \`${commandName(running)} --help\` for its usage`)
        : error;
    return reportError(report, { ...streams, json, debug });
  } finally {
    try {
      await close?.();
    } catch (error) {
      reportError(error, { ...streams, json: false, debug });
    }
  }
}
