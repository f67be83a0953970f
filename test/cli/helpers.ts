// Test helpers for the CLI: a temp directory with its own config and database, running commands (in this process
// through `main`, or as `bin/twofold.js`), and an independent OTP.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { EventEmitter, once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough, Readable, Writable } from "node:stream";
import { main } from "../../src/cli/main.ts";

export const BIN = resolve(import.meta.dirname, "../../bin/twofold.js");

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Everything a spawned command prints, and its exit code, once it exits (the caller's event loop keeps running). */
export async function collectOutput(child: ChildProcess): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

/** A stream that keeps what is written to it as text. */
class TextSink extends Writable {
  text = "";
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/**
 * Runs `twofold ARGS` in this process through the CLI's `main`, with its own stdin, stdout, stderr, environment
 * and working directory: what a spawned `bin/twofold.js` would print and exit with, without starting node.
 */
export async function runInProcess(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; input?: string },
): Promise<RunResult> {
  const stdout = new TextSink();
  const stderr = new TextSink();
  const code = await main(args, {
    stdout,
    stderr,
    stdin: Readable.from(options.input ? [Buffer.from(options.input)] : []),
    logs: stderr,
    env: options.env,
    cwd: options.cwd,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/**
 * A command running in this process while the test goes on (`push send --wait`, `device watch`): its output
 * arrives on `stdout` and `stderr` as it is printed, and "exit" is emitted with the exit code, as a child's is.
 */
export class InProcessRun extends EventEmitter {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  exitCode: number | null = null;

  constructor(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
    super();
    void main(args, {
      stdout: this.stdout,
      stderr: this.stderr,
      stdin: Readable.from([]),
      env: options.env,
      cwd: options.cwd,
      logs: this.stderr,
    }).then((code) => {
      this.exitCode = code;
      this.emit("exit", code);
    });
  }
}

export interface Sandbox {
  dir: string;
  configFile: string;
  sqlitePath: string;
  env: NodeJS.ProcessEnv;
  /** `twofold ARGS` run in this process (see runInProcess). */
  run(args: string[], options?: { input?: string; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** `twofold ARGS` as its own process, `node bin/twofold.js ARGS`: for what only a real process shows. */
  runProcess(args: string[], options?: { input?: string; env?: NodeJS.ProcessEnv }): RunResult;
  /** Run with --json, expect exit 0, and parse stdout. */
  json<T = unknown>(args: string[], options?: { input?: string }): Promise<T>;
  spawn(args: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  /** `twofold ARGS` started in this process, for a command that runs while the test acts. */
  start(args: string[], env?: NodeJS.ProcessEnv): InProcessRun;
  cleanup(): void;
}

/** The environment of the test process without anything that would change how the CLI behaves. */
export function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("TWOFOLD_") || k.startsWith("NODE_TEST") || k === "NODE_OPTIONS") continue;
    env[k] = v;
  }
  return env;
}

export function createSandbox(extraConfig = ""): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), "twofold-cli-"));
  const sqlitePath = join(dir, "db", "twofold.db");
  const configFile = join(dir, "twofold.yaml");
  writeFileSync(
    configFile,
    [
      "database:",
      `  sqlitePath: ${JSON.stringify(sqlitePath)}`,
      "keys:",
      `  encryption: [{id: k1, key: ${randomBytes(32).toString("base64")}}]`,
      "logging:",
      "  level: silent",
      extraConfig,
    ].join("\n"),
  );
  const env = { ...baseEnv(), TWOFOLD_CONFIG: configFile };
  const run: Sandbox["run"] = (args, options = {}) =>
    runInProcess(args, {
      cwd: dir,
      env: { ...env, ...options.env },
      ...(options.input === undefined ? {} : { input: options.input }),
    });
  const runProcess: Sandbox["runProcess"] = (args, options = {}) => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...env, ...options.env },
      input: options.input ?? "",
      encoding: "utf8",
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    dir,
    configFile,
    sqlitePath,
    env,
    run,
    runProcess,
    async json<T>(args: string[], options: { input?: string } = {}): Promise<T> {
      const r = await run([...args, "--json"], options);
      if (r.code !== 0) throw new Error(`twofold ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
      return JSON.parse(r.stdout) as T;
    },
    spawn: (args, extraEnv = {}) =>
      spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...env, ...extraEnv }, stdio: "pipe" }),
    start: (args, extraEnv = {}) => new InProcessRun(args, { cwd: dir, env: { ...env, ...extraEnv } }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// An OTP implementation of our own (RFC 4226 §5.3, RFC 6238 §4), so the tests do not check the server
// against its own code.
export function hotp(key: Buffer, counter: number, digits = 6, algorithm = "sha1"): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm, key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const value = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(value % 10 ** digits).padStart(digits, "0");
}

export function totp(key: Buffer, atMs: number, period = 30, digits = 6): string {
  return hotp(key, Math.floor(atMs / 1000 / period), digits);
}

/** RFC 4648 §6 base32 without padding. */
export function base32Decode(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of text.replace(/=+$/, "").toUpperCase()) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    bits += v.toString(2).padStart(5, "0");
  }
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(Number.parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
