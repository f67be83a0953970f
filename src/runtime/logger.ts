// Structured JSON logs (pino) with every field that could hold a secret redacted (N1).
import { type Logger, pino } from "pino";
import { maskPhone, PHONE_FIELDS } from "../core/mask-phone.ts";

export type { Logger } from "pino";

/** Field names whose values are never written, wherever they appear (two levels deep). */
const SECRET_FIELDS = [
  "passcode",
  "code",
  "codes",
  "password",
  "secret",
  "seed",
  "key",
  "skey",
  "secretKey",
  "token",
  "authorization",
  "cookie",
  "uri",
];

export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  'req.headers["authorization"]',
  'req.headers["cookie"]',
  'res.headers["set-cookie"]',
  // Phone numbers are masked to their last four digits rather than removed: an operator can still tell them apart.
  ...PHONE_FIELDS,
  ...PHONE_FIELDS.map((f) => `*.${f}`),
  ...PHONE_FIELDS.map((f) => `*.*.${f}`),
];

const PHONE_FIELD_SET = new Set(PHONE_FIELDS);

/** What a redacted field is written as: a phone keeps its last four digits, anything else is gone. */
function censor(value: unknown, path: string[]): unknown {
  const field = path.at(-1) ?? "";
  if (PHONE_FIELD_SET.has(field)) return typeof value === "string" ? maskPhone(value) : value;
  return "[redacted]";
}

let isoSecond = Number.NaN;
let isoPrefix = "";

/**
 * pino's `isoTime` (`,"time":"2026-12-04T21:57:34.123Z"`), with the date and time up to the second formatted once a
 * second rather than on every line.
 */
export function isoTime(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    // "YYYY-MM-DDTHH:MM:SS." (years 0–9999).
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const ms = now - second * 1000;
  return `,"time":"${isoPrefix}${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}Z"`;
}

export interface LoggerOptions {
  level: string;
  node: string;
  destination?: NodeJS.WritableStream | { write(msg: string): void };
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { node: options.node },
      redact: { paths: REDACT_PATHS, censor },
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    (options.destination as pino.DestinationStream | undefined) ?? logDestination(2),
  );
}

/** Lines wait in memory at most this long before they are written. */
const LOG_FLUSH_MS = 250;
/** A write is made once this much is waiting (or at the flush above): one system call for many lines under load. */
const LOG_BATCH_BYTES = 4096;

/**
 * Where log lines go (a file descriptor or path), written off the request path: lines gather in memory and go out
 * in one write once 4 KiB wait or a quarter second has passed (pino writes what is left when the process exits, on a
 * crash too). The write itself is synchronous, as pino's default destination's: one `write(2)` of a few KiB costs
 * a few microseconds, where handing it to libuv's thread pool cost tens.
 */
export function logDestination(dest: number | string): pino.DestinationStream {
  const stream = pino.destination({
    dest,
    sync: true,
    minLength: LOG_BATCH_BYTES,
    periodicFlush: LOG_FLUSH_MS,
  });
  // pino writes what waits at exit only for asynchronous destinations: this one is written here.
  if (!exitHooked) {
    exitHooked = true;
    process.once("exit", writeWaitingLines);
  }
  const ref = new WeakRef(stream);
  batched.add(ref);
  stream.once("close", () => batched.delete(ref));
  return stream;
}

/** The batched destinations still open (weakly held: a runtime dropped without closing its logger goes). */
const batched = new Set<WeakRef<ReturnType<typeof pino.destination>>>();
let exitHooked = false;

function writeWaitingLines(): void {
  for (const ref of batched) {
    try {
      ref.deref()?.flushSync();
    } catch {
      // Closed, or its file is gone: nothing can be written there.
    }
  }
}
