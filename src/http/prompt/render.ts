// Rendering the prompt's pages: language (?lang=, cookie, Accept-Language), branding, the page's CSP, and the HTML answer.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { PromptChrome } from "../../../web/prompt/pages/frame.tsx";
import { type PromptMessages, promptMessages } from "../../../web/prompt/pages/messages.ts";
import { isLanguage, LANGUAGES, type Language, pickLanguage } from "../../../web/shared/i18n/catalogue.ts";
import { sharedMessages } from "../../../web/shared/i18n/messages.ts";
import { renderDocument, type SafeHTML } from "../../../web/shared/jsx/html.ts";
import type { Config } from "../../config/schema.ts";
import { webAssetURL } from "../web-assets.ts";

/** The remembered language (ux.md §1): `__Host-` so no other host or path can set it. */
export const LANGUAGE_COOKIE = "__Host-twofold-lang";

function cookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

/** Accept-Language tags in order of preference (q-values honoured, `*` ignored). */
function acceptLanguages(header: string | undefined): string[] {
  return (header ?? "")
    .split(",")
    .map((part, i) => {
      const [tag, ...params] = part.trim().split(";");
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((x) => x !== undefined);
      return { tag: (tag ?? "").trim(), q: q === undefined ? 1 : Number(q), i };
    })
    .filter((x) => x.tag && x.tag !== "*" && x.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i)
    .map((x) => x.tag);
}

/**
 * The page's language: `?lang=` (then remembered in a cookie), else the cookie, else Accept-Language; zh-TW, zh-HK,
 * zh-MO and zh read Traditional Chinese.
 */
export function chooseLanguage(request: FastifyRequest, reply: FastifyReply): Language {
  const asked = (request.query as Record<string, unknown> | undefined)?.["lang"];
  if (isLanguage(asked)) {
    reply.header(
      "set-cookie",
      `${LANGUAGE_COOKIE}=${asked}; Path=/; Secure; SameSite=Lax; HttpOnly; Max-Age=31536000`,
    );
    return asked;
  }
  const remembered = cookie(request, LANGUAGE_COOKIE);
  if (isLanguage(remembered)) return remembered;
  return pickLanguage(acceptLanguages(request.headers["accept-language"]));
}

export interface PageContext {
  lang: Language;
  t: PromptMessages;
  chrome: PromptChrome;
}

/** The path of this request without its query, plus `?lang=` for each language. */
function languageLinks(request: FastifyRequest, current: Language): PromptChrome["languageLinks"] {
  const path = request.url.split("?")[0] ?? "/";
  return LANGUAGES.map((lang) => ({
    lang,
    href: `${path}?lang=${encodeURIComponent(lang)}`,
    label: sharedMessages(lang).languageName,
    current: lang === current,
  }));
}

export function pageContext(
  request: FastifyRequest,
  reply: FastifyReply,
  config: Readonly<Config>,
  login: { appName: string; username: string | null; returnAction: string | null } | null,
): PageContext {
  const lang = chooseLanguage(request, reply);
  const t = promptMessages(lang);
  return {
    lang,
    t,
    chrome: {
      lang,
      t,
      brand: { name: config.organization.name, logoURL: config.branding.logo ? brandLogoURL(config) : null },
      stylesheets: [webAssetURL("prompt/styles/prompt.css"), "/brand/theme.css"],
      scripts: [webAssetURL("shared/behaviours/webauthn.ts")],
      appName: login?.appName ?? null,
      username: login?.username ?? null,
      returnAction: login?.returnAction ?? null,
      helpText: config.branding.help[lang],
      languageLinks: languageLinks(request, lang),
    },
  };
}

export function brandLogoURL(config: Readonly<Config>): string {
  return `/brand/logo.${config.branding.logo.toLowerCase().endsWith(".png") ? "png" : "svg"}`;
}

/**
 * The prompt's Content Security Policy (WEB.md): only our own scripts, styles, images and connections; no
 * framing; Trusted Types with no policy (the behaviours use no HTML sinks); forms post to us and to the
 * application's registered redirect origin, or Chromium blocks the final 303 back to it.
 */
export function promptCSP(formTarget: string | null, frameParent: string | null = null): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    `form-action 'self'${formTarget ? ` ${formTarget}` : ""}`,
    // Only the iframe SDK's pages may be framed, by the parent origin the application registered.
    `frame-ancestors ${frameParent ?? "'none'"}`,
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join("; ");
}

export function sendPage(
  reply: FastifyReply,
  page: SafeHTML,
  options: { status?: number; formTarget?: string | null; frameParent?: string | null } = {},
): FastifyReply {
  return reply
    .code(options.status ?? 200)
    .header("content-security-policy", promptCSP(options.formTarget ?? null, options.frameParent ?? null))
    .type("text/html; charset=utf-8")
    .send(renderDocument(page));
}
