// Parses Twofold's token CSV, for vendors that ship hardware-token seeds as a spreadsheet instead of PSKC.
//
// One token per line:
//
//   serial,secret,type,digits,counter_or_period[,algorithm][,manufacturer][,model]
//
// - serial: printed on the token; at most 128 printable ASCII characters, unique within the file.
// - secret: the seed, at least 128 bits. Written `hex:…` or `base32:…` to be explicit; `0x…` is hex.
//   Without a prefix, a value of only hex digits and even length is read as hex, anything else as
//   base32 (RFC 4648; lower case, spaces and `=` padding are tolerated). A base32 seed that happens to
//   look like hex must therefore carry the `base32:` prefix.
// - type: `hotp` or `totp`, any case; empty means hotp.
// - digits: 6 or 8; empty means 6.
// - counter_or_period: for HOTP the start counter (empty means 0); for TOTP the time step in seconds,
//   15–300 (empty means 30).
// - algorithm: SHA1, SHA256 or SHA512 (`SHA-256` and `HMAC-SHA256` also accepted); empty means SHA1.
// - manufacturer, model: free text, optional.
//
// Columns after counter_or_period may be left out. Fields are separated by commas and may be quoted
// with `"` (a quote inside is doubled, RFC 4180 §2); a quoted field cannot span lines, so that every
// problem can name its physical line. A UTF-8 BOM, CRLF line ends, blank lines and lines starting with
// `#` are ignored. If the first data line's first field is `serial` it is taken as a header and skipped.
//
// Either every token is returned or ERR_IMPORT_INVALID is thrown with an issue per problem, each
// with the path `line N` (1-based physical line).

import { decodeBase32 } from "../base32.ts";
import type { ErrorIssue } from "../errors.ts";
import {
  checkImportedToken,
  createImportError,
  findDuplicateSerials,
  type ImportedToken,
  MAX_IMPORT_BYTES,
} from "./imported-token.ts";

const MIN_COLUMNS = 2;
const MAX_COLUMNS = 8;
/** RFC 6238 §4.1: X defaults to 30 seconds. */
const DEFAULT_TOTP_PERIOD = 30;

export function parseTokenCSV(text: string): ImportedToken[] {
  if (Buffer.byteLength(text, "utf8") > MAX_IMPORT_BYTES)
    throw createImportError("ERR_IMPORT_INVALID", "the token CSV is too large", [
      { path: "file", message: `is larger than ${MAX_IMPORT_BYTES / (1024 * 1024)} MB` },
    ]);

  const issues: ErrorIssue[] = [];
  const tokens: ImportedToken[] = [];
  const serials: { serial: string; path: string }[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  let seenData = false;

  lines.forEach((line, index) => {
    const path = `line ${index + 1}`;
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const fields = splitFields(line);
    if (typeof fields === "string") {
      issues.push({ path, message: fields });
      return;
    }
    const isFirst = !seenData;
    seenData = true;
    if (isFirst && fields[0]?.toLowerCase() === "serial") return;

    const rowIssues: string[] = [];
    const token = readRow(fields, rowIssues);
    for (const message of rowIssues) issues.push({ path, message });
    if (token) {
      issues.push(...checkImportedToken(token, () => path));
      tokens.push(token);
    }
    if (fields[0]) serials.push({ serial: fields[0], path });
  });

  issues.push(...findDuplicateSerials(serials));
  if (issues.length === 0 && tokens.length === 0) issues.push({ path: "file", message: "has no tokens" });
  if (issues.length > 0)
    throw createImportError(
      "ERR_IMPORT_INVALID",
      `the token CSV has ${issues.length} problem${issues.length === 1 ? "" : "s"}; nothing was imported`,
      issues,
    );
  return tokens;
}

/** One data row to a token, or undefined with the reasons pushed to `problems` (never quoting the secret). */
function readRow(fields: string[], problems: string[]): ImportedToken | undefined {
  if (fields.length < MIN_COLUMNS || fields.length > MAX_COLUMNS) {
    problems.push(
      `has ${fields.length} column${fields.length === 1 ? "" : "s"}; expected serial,secret,type,digits,counter_or_period[,algorithm][,manufacturer][,model]`,
    );
    return undefined;
  }
  const [serial = "", rawSecret = "", rawType = "", rawDigits = "", rawNumber = "", rawAlgorithm = ""] =
    fields;

  const secret = decodeSecret(rawSecret);
  if (typeof secret === "string") problems.push(`secret: ${secret}`);

  const typeName = rawType.toLowerCase();
  const type = typeName === "" ? "hotp" : typeName === "hotp" || typeName === "totp" ? typeName : undefined;
  if (!type) problems.push(`type: ${JSON.stringify(rawType)} must be hotp or totp`);

  const digits = rawDigits === "" || rawDigits === "6" ? 6 : rawDigits === "8" ? 8 : undefined;
  if (!digits) problems.push(`digits: ${JSON.stringify(rawDigits)} must be 6 or 8`);

  let number: number | undefined;
  if (rawNumber === "") number = type === "totp" ? DEFAULT_TOTP_PERIOD : 0;
  else if (/^\d+$/.test(rawNumber)) number = Number(rawNumber);
  else problems.push(`counter_or_period: ${JSON.stringify(rawNumber)} is not a whole number`);

  const algorithm = parseAlgorithm(rawAlgorithm);
  if (!algorithm) problems.push(`algorithm: ${JSON.stringify(rawAlgorithm)} must be SHA1, SHA256 or SHA512`);

  if (typeof secret === "string" || !type || !digits || number === undefined || !algorithm) return undefined;
  return {
    serial,
    type,
    algorithm,
    digits,
    period: type === "totp" ? number : null,
    counter: type === "hotp" ? number : 0,
    secret,
    manufacturer: fields[6] || null,
    model: fields[7] || null,
  };
}

/** The seed bytes, or a reason it cannot be read. */
function decodeSecret(raw: string): Uint8Array | string {
  if (raw === "") return "is empty";
  const prefixed = /^(hex|base32):(.*)$/is.exec(raw);
  if (prefixed) {
    const body = prefixed[2]!.trim();
    if (prefixed[1]!.toLowerCase() === "hex")
      return decodeHex(body.replace(/\s+/g, "")) ?? "is not valid hex";
    return decodeBase32(body) ?? "is not valid base32";
  }
  if (/^0x/i.test(raw)) return decodeHex(raw.slice(2)) ?? "is not valid hex";
  const hex = decodeHex(raw);
  if (hex) return hex;
  return decodeBase32(raw) ?? "is neither hex (even length) nor base32";
}

function decodeHex(value: string): Uint8Array | undefined {
  if (value.length === 0 || value.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(value)) return undefined;
  return new Uint8Array(Buffer.from(value, "hex"));
}

function parseAlgorithm(raw: string): ImportedToken["algorithm"] | undefined {
  if (raw === "") return "SHA1";
  const match = /^(?:HMAC-?)?SHA-?(1|256|512)$/i.exec(raw);
  return match ? (`SHA${match[1]}` as ImportedToken["algorithm"]) : undefined;
}

/**
 * Split one physical line into trimmed fields (RFC 4180 §2 quoting), or return why it cannot be split.
 * Whitespace around a quoted field is ignored so `a, "b,c"` reads as two fields.
 */
function splitFields(line: string): string[] | string {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === " " || line[i] === "\t") i++;
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        if (i >= line.length) return "a quoted field is not closed (a field cannot span lines)";
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i];
        i++;
      }
      while (line[i] === " " || line[i] === "\t") i++;
      if (i < line.length && line[i] !== ",") return "unexpected text after a closing quote";
      fields.push(value.trim());
    } else {
      const end = line.indexOf(",", i);
      const raw = end === -1 ? line.slice(i) : line.slice(i, end);
      if (raw.includes('"')) return 'a quote (") may only open a field';
      fields.push(raw.trim());
      i = end === -1 ? line.length : end;
    }
    if (i >= line.length) return fields;
    i++; // the comma
  }
}
