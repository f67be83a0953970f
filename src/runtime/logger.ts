// Structured JSON logs (pino) with every field that could hold a secret redacted (N1).
import { type Logger, pino } from "pino";

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
];

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
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    (options.destination as pino.DestinationStream | undefined) ?? pino.destination({ dest: 2, sync: false }),
  );
}
