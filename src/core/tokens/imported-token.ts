// The neutral shape every hardware-token import format (PSKC, CSV) is parsed into, and the checks all of them share.
import { type ErrorIssue, TwofoldError } from "../errors.ts";

export interface ImportedToken {
  serial: string;
  type: "hotp" | "totp";
  algorithm: "SHA1" | "SHA256" | "SHA512";
  digits: 6 | 8;
  /** TOTP time step in seconds; null for HOTP. */
  period: number | null;
  /** HOTP start counter; 0 for TOTP. */
  counter: number;
  secret: Uint8Array;
  manufacturer: string | null;
  model: string | null;
}

/** The fields an issue can be about, so each format can name the element or line that holds them. */
export type ImportedTokenField = "serial" | "type" | "algorithm" | "digits" | "period" | "counter" | "secret";

/** Where in the source file a field of one token came from, e.g. `KeyPackage[3]/Key/Data/Secret` or `line 7`. */
export type FieldPath = (field: ImportedTokenField) => string;

/** Import files larger than this are refused before parsing: a real vendor file for thousands of tokens is far smaller. */
export const MAX_IMPORT_BYTES = 10 * 1024 * 1024;

export const MAX_SERIAL_LENGTH = 128;
/** B4 / RFC 4226 §4 R6: shared secrets of at least 128 bits. */
export const MIN_SECRET_BYTES = 16;
/** Far above any real seed (RFC 4226 suggests 160 bits); keeps a hostile file from storing megabytes per token. */
export const MAX_SECRET_BYTES = 128;
export const MIN_PERIOD = 15;
export const MAX_PERIOD = 300;

// Printable ASCII: serials appear in the console, logs and the loan desk, where control characters or
// look-alike letters from other scripts would make two tokens hard to tell apart.
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * Every problem with one parsed token. Issue messages never include the secret: issues are shown to
 * the operator who uploaded the file and may be logged.
 */
export function checkImportedToken(token: ImportedToken, pathOf: FieldPath): ErrorIssue[] {
  const issues: ErrorIssue[] = [];
  const add = (field: ImportedTokenField, message: string) => issues.push({ path: pathOf(field), message });

  const serial = token.serial;
  if (serial.length === 0) add("serial", "serial: is empty");
  else if (serial.length > MAX_SERIAL_LENGTH)
    add("serial", `serial: is ${serial.length} characters; at most ${MAX_SERIAL_LENGTH} are allowed`);
  else if (!PRINTABLE_ASCII.test(serial) || serial.trim() !== serial)
    add("serial", "serial: must be printable ASCII without leading or trailing spaces");

  if (token.type !== "hotp" && token.type !== "totp") add("type", "type: must be hotp or totp");
  if (token.algorithm !== "SHA1" && token.algorithm !== "SHA256" && token.algorithm !== "SHA512")
    add("algorithm", "algorithm: must be SHA1, SHA256 or SHA512");
  if (token.digits !== 6 && token.digits !== 8) add("digits", `digits: must be 6 or 8, got ${token.digits}`);

  if (token.type === "totp") {
    if (token.period === null || !Number.isInteger(token.period))
      add("period", "period: a TOTP token needs a whole number of seconds");
    else if (token.period < MIN_PERIOD || token.period > MAX_PERIOD)
      add("period", `period: must be ${MIN_PERIOD}–${MAX_PERIOD} seconds, got ${token.period}`);
    if (token.counter !== 0) add("counter", "counter: must be 0 for a TOTP token");
  } else {
    if (token.period !== null) add("period", "period: must be empty for an HOTP token");
    if (!Number.isSafeInteger(token.counter) || token.counter < 0)
      add("counter", `counter: must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`);
  }

  const bytes = token.secret.length;
  if (bytes < MIN_SECRET_BYTES)
    // B4: an imported seed under 128 bits is refused outright, not imported with a warning.
    add(
      "secret",
      `secret: is ${bytes * 8} bits; seeds under ${MIN_SECRET_BYTES * 8} bits are refused (ERR_OTP_SECRET_TOO_SHORT)`,
    );
  else if (bytes > MAX_SECRET_BYTES)
    add("secret", `secret: is ${bytes} bytes; at most ${MAX_SECRET_BYTES} are allowed`);

  return issues;
}

/**
 * Serials used more than once in one file, each reported at its later occurrence. Callers pass the serial
 * of every entry that has one, including entries with other problems, so all clashes show in one pass.
 */
export function findDuplicateSerials(entries: readonly { serial: string; path: string }[]): ErrorIssue[] {
  const issues: ErrorIssue[] = [];
  const firstSeen = new Map<string, string>();
  for (const { serial, path } of entries) {
    const earlier = firstSeen.get(serial);
    if (earlier === undefined) firstSeen.set(serial, path);
    else issues.push({ path, message: `serial: ${JSON.stringify(serial)} is already used at ${earlier}` });
  }
  return issues;
}

/** At most this many issues are returned; a file with thousands of bad rows needs the first ones, not all. */
export const MAX_IMPORT_ISSUES = 100;

/** The one error an import throws: the file is refused whole, with every problem found (up to the cap). */
export function createImportError(
  code: "ERR_IMPORT_INVALID" | "ERR_IMPORT_DECRYPT",
  message: string,
  issues: readonly ErrorIssue[],
): TwofoldError {
  const kept =
    issues.length <= MAX_IMPORT_ISSUES
      ? issues
      : [
          ...issues.slice(0, MAX_IMPORT_ISSUES - 1),
          { path: "file", message: `…and ${issues.length - MAX_IMPORT_ISSUES + 1} more problems` },
        ];
  return new TwofoldError(code, message, { issues: kept, detail: `${issues.length} issue(s)` });
}
