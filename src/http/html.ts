// Server-rendered HTML: escaping every dynamic value, and the one page layout (no scripts, one same-origin stylesheet).

/** Escape text for HTML element content and double-quoted attribute values. */
export function escapeHTML(value: unknown): string {
  return String(value)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** A tagged template that escapes every interpolation unless it is already-rendered `SafeHTML`. */
export class SafeHTML {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHTML {
  let out = strings[0] ?? "";
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? "");
  });
  return new SafeHTML(out);
}

function render(value: unknown): string {
  if (value instanceof SafeHTML) return value.html;
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === undefined || value === null || value === false) return "";
  return escapeHTML(value);
}

export const STYLESHEET_PATH = "/assets/twofold.css";

export function renderPage(title: string, body: SafeHTML): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`.html;
}

export const STYLESHEET = `
body { font-family: system-ui, sans-serif; line-height: 1.5; margin: 0; color: #1b1b1b; background: #fafafa; }
main { max-width: 46rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.8rem; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
table { border-collapse: collapse; }
th, td { border: 1px solid #bbb; padding: 0.3rem 0.6rem; text-align: left; }
code { background: #eee; padding: 0 0.2rem; }
figure svg { width: 12rem; height: 12rem; }
form { display: grid; gap: 0.5rem; max-width: 20rem; }
input, button { font: inherit; padding: 0.4rem; }
button { cursor: pointer; }
.warning { border-left: 4px solid #b35900; padding-left: 0.75rem; }
.result { font-size: 1.2rem; font-weight: 600; }
a:focus, input:focus, button:focus { outline: 3px solid #1a5fb4; outline-offset: 2px; }
`;
