// Server-rendered HTML for the operator pages: the escaping `html` tag and the shared page frame, with the built stylesheet.

import { Page } from "../../web/shared/components/page.tsx";
import { renderDocument, type SafeHTML } from "../../web/shared/jsx/html.ts";
import { webAssetURL } from "./web-assets.ts";

export { escapeHTML, html, SafeHTML } from "../../web/shared/jsx/html.ts";

/** The operator pages (start page, demo) in the shared page frame (web/shared/components/page.tsx), with their behaviours, in `lang`. */
export function renderPage(
  title: string,
  body: SafeHTML,
  scripts: readonly string[] = [],
  lang = "en",
): string {
  return renderDocument(
    Page({
      title,
      lang,
      stylesheets: [webAssetURL("shared/styles/base.css")],
      scripts,
      children: body,
    }),
  );
}
