// Reading from stdin: a piped secret (--password-stdin) or an answer typed at a terminal prompt.
import { readFileSync, statSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { TwofoldError } from "../core/errors.ts";

const MAX_STDIN_BYTES = 1024 * 1024;

/** All of stdin as text (refusing more than 1 MiB), without one trailing line break. */
export async function readStdinText(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_STDIN_BYTES) throw new Error("stdin is larger than 1 MiB");
    chunks.push(buffer);
  }
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/** Ask one question on the terminal; undefined when stdin ends (Ctrl-D). */
export async function prompt(
  question: string,
  stdin: NodeJS.ReadableStream,
  stdout: NodeJS.WritableStream,
): Promise<string | undefined> {
  const rl = createInterface({ input: stdin, output: stdout, terminal: true });
  try {
    const closed = new Promise<undefined>((resolve) => rl.once("close", () => resolve(undefined)));
    return await Promise.race([rl.question(question), closed]);
  } finally {
    rl.close();
  }
}

/** A file named on the command line, refused before reading when larger than `maxBytes`. */
export function readInputFile(path: string, maxBytes: number): Buffer {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : "cannot be read";
    throw new TwofoldError("ERR_VALIDATION", `${path} ${reason}`, { cause });
  }
  if (size > maxBytes)
    throw new TwofoldError(
      "ERR_PAYLOAD_TOO_LARGE",
      `${path} is larger than ${Math.floor(maxBytes / 1048576)} MiB`,
    );
  return readFileSync(path);
}
