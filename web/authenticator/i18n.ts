// Language choice (from the saved choice or navigator.languages) and the lookup every visible text goes through.
import {
  fillPlaceholders,
  isLanguage,
  type Language,
  LANGUAGES as OFFERED,
  pickLanguage,
} from "../shared/i18n/catalogue.ts";
import { MESSAGES, type MessageKey } from "./messages.ts";

export type { Language, MessageKey };
export const LANGUAGES: readonly Language[] = OFFERED;
const STORAGE_KEY = "twofold-authenticator-language";
/** The service worker cannot read localStorage; it reads the choice from this Cache Storage entry. */
export const WORKER_SETTINGS_CACHE = "twofold-authenticator-settings";
export const WORKER_LANGUAGE_URL = "/authenticator/settings/language";

let current: Language = "en";

export function initialLanguage(): Language {
  const saved = safeLocalStorage()?.getItem(STORAGE_KEY);
  if (isLanguage(saved)) return saved;
  return pickLanguage(navigator.languages?.length ? navigator.languages : [navigator.language ?? "en"]);
}

export function currentLanguage(): Language {
  return current;
}

export function setLanguage(language: string, { remember = false } = {}): void {
  current = isLanguage(language) ? language : "en";
  document.documentElement.lang = current;
  if (remember) {
    safeLocalStorage()?.setItem(STORAGE_KEY, current);
    const saved = current;
    self.caches
      ?.open(WORKER_SETTINGS_CACHE)
      .then((cache) => cache.put(WORKER_LANGUAGE_URL, new Response(saved)))
      .catch(() => undefined);
  }
}

/** The text for `key` in the current language, with `{name}` placeholders filled in. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  return fillPlaceholders(MESSAGES[current][key], params);
}

/** The name of `language` written in that language (for the switcher). */
export function languageName(language: Language): string {
  return MESSAGES[language].languageName;
}

export function formatTime(ms: number): string {
  return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "medium" }).format(new Date(ms));
}

/** Fill every element marked data-i18n (text) or data-i18n-label (aria-label) in `root`. */
export function translateElements(root: ParentNode): void {
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n]"))
    el.textContent = t(el.dataset["i18n"] as MessageKey);
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n-label]"))
    el.setAttribute("aria-label", t(el.dataset["i18nLabel"] as MessageKey));
}

function safeLocalStorage(): Storage | undefined {
  try {
    return self.localStorage;
  } catch {
    return undefined;
  }
}
