// The start page's language: chosen as the login prompt's is (?lang=, remembered; else Accept-Language), switchable.
import type { FastifyReply, FastifyRequest } from "fastify";
import { LANGUAGES, type Language } from "../../../web/shared/i18n/catalogue.ts";
import { sharedMessages } from "../../../web/shared/i18n/messages.ts";
import { type StartMessages, startMessages } from "../../../web/shared/i18n/start-messages.ts";
import { escapeHTML, html, SafeHTML } from "../html.ts";
import { chooseLanguage } from "../prompt/render.ts";

export interface StartLanguage {
  lang: Language;
  t: StartMessages;
}

export function startLanguage(request: FastifyRequest, reply: FastifyReply): StartLanguage {
  const lang = chooseLanguage(request, reply);
  return { lang, t: startMessages(lang) };
}

/** A text with `{name}` places filled with markup (links, code); the text itself is escaped. */
export function fillHTML(template: string, parts: Readonly<Record<string, SafeHTML | string>>): SafeHTML {
  return new SafeHTML(
    template
      .split(/(\{\w+\})/)
      .map((piece) => {
        const name = /^\{(\w+)\}$/.exec(piece)?.[1];
        const part = name === undefined ? undefined : parts[name];
        if (part === undefined) return escapeHTML(piece);
        return part instanceof SafeHTML ? String(part) : escapeHTML(part);
      })
      .join(""),
  );
}

/** The language switch: this page in each language (`?lang=` sets the remembered choice). */
export function languageSwitch(path: string, current: Language): SafeHTML {
  return html`<nav aria-label="${sharedMessages(current).languageSwitch}"><ul class="languages">${LANGUAGES.map(
    (lang) =>
      lang === current
        ? html`<li><span lang="${lang}" aria-current="true">${sharedMessages(lang).languageName}</span></li>`
        : html`<li><a href="${path}?lang=${lang}" lang="${lang}" hreflang="${lang}">${sharedMessages(lang).languageName}</a></li>`,
  )}</ul></nav>`;
}
