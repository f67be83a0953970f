// The `twofold` command line: finds the command in argv, parses its options, runs it and returns the exit code.
// Everything it prints goes to the streams in `io`, so tests run commands in their own process.
import { type Command, commandName, UsageError } from "./command.ts";
import { buildContext } from "./context.ts";
import { isDebug } from "./environment.ts";
import { type CliIO, processIO } from "./io.ts";
import { EXIT_OK, reportError } from "./report-error.ts";
import { selectCommand } from "./select-command.ts";

export type { CliIO } from "./io.ts";

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const json = argv.includes("--json");
  const debug = isDebug(io.env);
  const streams = { stdout: io.stdout, stderr: io.stderr };
  // `twofold audit tail --follow | head` closes stdout early; that is not a failure worth a stack trace.
  const onStdoutError = (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    io.exit?.(EXIT_OK);
  };
  io.stdout.on("error", onStdoutError);
  let close: (() => Promise<void>) | undefined;
  let running: Command | undefined;
  try {
    const selected = selectCommand(argv);
    if (typeof selected === "string") {
      io.stdout.write(`${selected}\n`);
      return EXIT_OK;
    }
    running = selected.command;
    const ctx = buildContext(selected.command, selected.rest, json, io);
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
    io.stdout.off("error", onStdoutError);
  }
}
