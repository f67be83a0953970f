// Reads a user import CSV (header `username,email,name,phone`, columns found by header name) into import rows.
import { type ErrorIssue, TwofoldError } from "../core/errors.ts";
import type { UserStatus } from "../core/model.ts";
import type { UserImportRow } from "../core/use-cases/users.ts";

type Field = "username" | "email" | "realName" | "phone" | "status";

/** Header names accepted (any case), mapped to the field they fill. */
const COLUMNS: Record<string, Field> = {
  username: "username",
  email: "email",
  name: "realName",
  realname: "realName",
  real_name: "realName",
  phone: "phone",
  status: "status",
};

const STATUSES = new Set(["active", "bypass", "disabled"]);

/**
 * Rows with their physical line numbers (1-based), or ERR_IMPORT_INVALID with an issue per line at fault.
 * A UTF-8 BOM, CRLF line ends, blank lines and `#` comment lines are ignored; fields may be quoted
 * (RFC 4180 §2) but may not span lines, so every problem can name its line.
 */
export function parseUserCSV(text: string): UserImportRow[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  const issues: ErrorIssue[] = [];
  const rows: UserImportRow[] = [];
  let header: Field[] | undefined;
  let headerSeen = false;

  lines.forEach((line, index) => {
    const path = `line ${index + 1}`;
    if (line.trim() === "" || line.trim().startsWith("#")) return;
    const fields = splitCSVLine(line);
    if (typeof fields === "string") {
      issues.push({ path, message: fields });
      return;
    }
    if (!headerSeen) {
      headerSeen = true;
      header = readHeader(fields, path, issues);
      return;
    }
    // With a broken header the rows cannot be read; the header's issues say what to fix.
    if (!header) return;
    if (fields.length !== header.length) {
      issues.push({ path, message: `has ${fields.length} fields; the header has ${header.length}` });
      return;
    }
    const row: UserImportRow = { line: index + 1, username: "" };
    header.forEach((field, i) => {
      const value = fields[i]!;
      if (field === "status") {
        if (value === "") return;
        if (STATUSES.has(value)) row.status = value as UserStatus;
        else
          issues.push({
            path,
            message: `status: ${JSON.stringify(value)} must be active, bypass or disabled`,
          });
      } else if (field === "username") row.username = value;
      else row[field] = value === "" ? null : value;
    });
    rows.push(row);
  });

  if (!headerSeen)
    issues.push({
      path: "line 1",
      message: "the file is empty; expected a header username,email,name,phone",
    });
  else if (rows.length === 0 && issues.length === 0) issues.push({ path: "file", message: "has no users" });
  if (issues.length > 0)
    throw new TwofoldError("ERR_IMPORT_INVALID", "the user file has errors; nothing was imported", {
      issues,
    });
  return rows;
}

function readHeader(fields: string[], path: string, issues: ErrorIssue[]): Field[] | undefined {
  const columns: Field[] = [];
  let ok = true;
  for (const name of fields) {
    const column = COLUMNS[name.toLowerCase()];
    if (!column) {
      issues.push({
        path,
        message: `unknown column ${JSON.stringify(name)}; use username, email, name, phone, status`,
      });
      ok = false;
    } else if (columns.includes(column)) {
      issues.push({ path, message: `column ${JSON.stringify(name)} appears twice` });
      ok = false;
    } else columns.push(column);
  }
  if (!columns.includes("username")) {
    issues.push({ path, message: "the header needs a username column" });
    ok = false;
  }
  return ok ? columns : undefined;
}

/** Split one line into trimmed fields, honouring `"` quoting; a string is the reason it cannot be split. */
export function splitCSVLine(line: string): string[] | string {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === " " || line[i] === "\t") i++;
    let value = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return "a quoted field is not closed (a field cannot span lines)";
        if (line[i] === '"' && line[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (line[i] === '"') {
          i++;
          break;
        } else value += line[i++];
      }
      while (line[i] === " " || line[i] === "\t") i++;
      if (i < line.length && line[i] !== ",") return "unexpected text after a closing quote";
    } else {
      const end = line.indexOf(",", i);
      value = end === -1 ? line.slice(i) : line.slice(i, end);
      if (value.includes('"')) return 'a quote (") may only open a field';
      i = end === -1 ? line.length : end;
    }
    fields.push(value.trim());
    if (i >= line.length) return fields;
    i++;
  }
}
