// HTML text that is safe by construction: every value is escaped unless it is already-rendered SafeHTML.

/** Escape text for HTML element content and double-quoted attribute values. */
export function escapeHTML(value: unknown): string {
  return String(value)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Markup produced by this module, the JSX runtime or a vetted generator (the QR code SVG); never from input. */
export class SafeHTML {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

/** What a JSX element or an `html` interpolation may contain. Booleans and null render nothing. */
export type Child = SafeHTML | string | number | boolean | null | undefined | readonly Child[];

export function renderChild(value: Child): string {
  if (value instanceof SafeHTML) return value.html;
  if (Array.isArray(value)) return value.map(renderChild).join("");
  if (value === undefined || value === null || value === false || value === true) return "";
  return escapeHTML(value);
}

/** A tagged template that escapes every interpolation unless it is already-rendered `SafeHTML`. */
export function html(strings: TemplateStringsArray, ...values: Child[]): SafeHTML {
  let out = strings[0] ?? "";
  values.forEach((v, i) => {
    out += renderChild(v) + (strings[i + 1] ?? "");
  });
  return new SafeHTML(out);
}

/** A whole document: the doctype, then the page (the `<html>` element). */
export function renderDocument(page: SafeHTML): string {
  return `<!doctype html>\n${page.html}\n`;
}
