// What a CLI run talks to: its streams, environment, working directory and a way to end the process at once.
import { isAbsolute, resolve } from "node:path";

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** TWOFOLD_* settings and the other variables a command reads. */
  env: NodeJS.ProcessEnv;
  /** Relative paths on the command line are taken from here. */
  cwd: string;
  /** Where the runtime's log lines go (default: file descriptor 2); a run in a test process captures them. */
  logs?: { write(msg: string): void };
  /** Ends the process now (a second signal while `serve` shuts down); a run in a test process leaves it out. */
  exit?(code: number): void;
}

/** The real process: what `bin/twofold.js` runs with. */
export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    exit: (code) => process.exit(code),
  };
}

/** `path` as given on the command line, made absolute against the run's working directory. */
export function resolveIn(io: Pick<CliIO, "cwd">, path: string): string {
  return isAbsolute(path) ? path : resolve(io.cwd, path);
}
