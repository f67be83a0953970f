// Printing for the CLI: aligned tables and plain lines for people, JSON for scripts, times as ISO-8601 UTC.

export interface Column<T> {
  header: string;
  value(row: T): string | number | boolean | null | undefined;
}

export interface Output {
  readonly json: boolean;
  /** A line of text on stdout (human mode only; ignored under --json). */
  line(text?: string): void;
  /** Data: JSON under --json, otherwise whatever `human` prints. */
  data(value: unknown, human: () => void): void;
  table<T>(rows: readonly T[], columns: Column<T>[], empty?: string): void;
  /** Progress, hints and warnings on stderr, in both modes. */
  note(text: string): void;
}

export interface Streams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export function createOutput(json: boolean, streams: Streams): Output {
  const line = (text = "") => {
    if (!json) streams.stdout.write(`${text}\n`);
  };
  return {
    json,
    line,
    data(value, human) {
      if (json) streams.stdout.write(`${JSON.stringify(toJSONValue(value), null, 2)}\n`);
      else human();
    },
    table(rows, columns, empty = "(none)") {
      if (rows.length === 0) line(empty);
      else for (const l of formatTable(rows, columns)) line(l);
    },
    note(text) {
      streams.stderr.write(`${text}\n`);
    },
  };
}

export function formatTable<T>(rows: readonly T[], columns: Column<T>[]): string[] {
  const cells = rows.map((r) => columns.map((c) => formatCell(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const render = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [render(columns.map((c) => c.header)), ...cells.map(render)];
}

function formatCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined || value === "") return "-";
  // Control characters from stored data (usernames, labels) must not drive the terminal.
  return String(value).replace(/[\p{Cc}]/gu, "?");
}

/** Epoch milliseconds as ISO-8601 UTC; null stays null. */
export function isoTime(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/** Time fields are named `at` or `…At` throughout the model; in output they are ISO-8601 strings. */
const TIME_KEY = /^(at|.*At)$/;

/** A JSON-ready copy of `value` with every epoch-millisecond time field converted to ISO-8601. */
export function toJSONValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toJSONValue);
  if (value === null || typeof value !== "object") return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = TIME_KEY.test(k) && typeof v === "number" ? isoTime(v) : toJSONValue(v);
  }
  return out;
}
