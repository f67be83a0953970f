// Turns a failure into what the operator sees and the exit code: 1 for a failed operation, 2 for a usage error.
import { isTwofoldError } from "../core/errors.ts";
import { UsageError } from "./command.ts";
import type { Streams } from "./output.ts";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface ReportOptions extends Streams {
  json: boolean;
  /** TWOFOLD_DEBUG=1: add stack traces and private details. */
  debug: boolean;
}

export function reportError(error: unknown, o: ReportOptions): number {
  if (error instanceof UsageError) {
    o.stderr.write(`error: ${error.message}\n`);
    if (error.hint) o.stderr.write(`hint: ${error.hint}\n`);
    return EXIT_USAGE;
  }
  if (isTwofoldError(error)) {
    // The config loader repeats its issues in the message; they are printed once, from `issues`.
    const message = error.issues.length > 0 ? error.message.split("\n")[0]! : error.message;
    if (o.json) {
      const body = { error: { code: error.code, message, issues: error.issues } };
      o.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    } else {
      o.stderr.write(`error: ${message}\n`);
      for (const issue of error.issues) o.stderr.write(`  ${issue.path}: ${issue.message}\n`);
    }
    if (o.debug) writeDebug(error, o);
    else if (error.code === "ERR_STORE" || error.code === "ERR_STORE_UNAVAILABLE")
      o.stderr.write("(run with TWOFOLD_DEBUG=1 for the underlying cause)\n");
    return EXIT_FAILED;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (o.json) {
    o.stdout.write(`${JSON.stringify({ error: { code: "ERR_INTERNAL", message, issues: [] } }, null, 2)}\n`);
  } else {
    o.stderr.write(`error: ${message}\n`);
  }
  if (o.debug) writeDebug(error, o);
  else o.stderr.write("(run with TWOFOLD_DEBUG=1 for a stack trace)\n");
  return EXIT_FAILED;
}

function writeDebug(error: unknown, o: ReportOptions): void {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    if (depth > 0) o.stderr.write("caused by: ");
    if (current instanceof Error) {
      o.stderr.write(`${current.stack ?? current.message}\n`);
      const detail = (current as { detail?: unknown }).detail;
      if (typeof detail === "string") o.stderr.write(`detail: ${detail}\n`);
      current = current.cause;
    } else {
      o.stderr.write(`${String(current)}\n`);
      current = undefined;
    }
  }
}
