// The shared page frame every server-rendered page uses: language, title, our own stylesheets and behaviours.
// Compiled with our runtime whichever tsconfig the loader finds (the `twofold` command may start in any directory):
/** @jsxRuntime automatic */
/** @jsxImportSource #jsx */
import type { Child } from "../jsx/html.ts";
import type { SafeHTML } from "../jsx/jsx-runtime.ts";

export interface PageProps {
  title: string;
  /** The page's language (`<html lang>`): en or zh-Hant for the UIs, "en" for the operator pages. */
  lang: string;
  /** Same-origin stylesheet URLs (the CSP allows only 'self'). */
  stylesheets: readonly string[];
  /** Same-origin module scripts: the page's behaviours (never inline code). */
  scripts?: readonly string[];
  children?: Child;
}

export function Page({ title, lang, stylesheets, scripts = [], children }: PageProps): SafeHTML {
  return (
    <html lang={lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{title}</title>
        {stylesheets.map((href) => (
          <link rel="stylesheet" href={href} />
        ))}
        {scripts.map((src) => (
          <script type="module" src={src} />
        ))}
      </head>
      <body>
        <main>{children}</main>
      </body>
    </html>
  );
}
