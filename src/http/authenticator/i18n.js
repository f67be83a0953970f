// Language choice (from the saved choice or navigator.languages) and the lookup every visible text goes through.
import "./strings.js";

const STRINGS = self.TWOFOLD_STRINGS;
export const LANGUAGES = Object.keys(STRINGS);
const STORAGE_KEY = "twofold-authenticator-language";
/** The service worker cannot read localStorage; it reads the choice from this Cache Storage entry. */
export const WORKER_SETTINGS_CACHE = "twofold-authenticator-settings";
export const WORKER_LANGUAGE_URL = "/authenticator/settings/language";

let current = "en";

/** The supported language for one BCP 47 tag, or null. Simplified-script Chinese is not offered. */
export function matchLanguage(tag) {
  const parts = String(tag).toLowerCase().split("-");
  if (parts[0] === "en") return "en";
  if (parts[0] !== "zh") return null;
  if (parts.includes("hant")) return "zh-Hant";
  if (parts.includes("hans") || parts.some((p) => p === "cn" || p === "sg" || p === "my")) return null;
  return "zh-Hant";
}

export function pickLanguage(preferred) {
  for (const tag of preferred) {
    const match = matchLanguage(tag);
    if (match) return match;
  }
  return "en";
}

export function initialLanguage() {
  const saved = safeLocalStorage()?.getItem(STORAGE_KEY);
  if (saved && LANGUAGES.includes(saved)) return saved;
  return pickLanguage(navigator.languages?.length ? navigator.languages : [navigator.language ?? "en"]);
}

export function currentLanguage() {
  return current;
}

export function setLanguage(language, { remember = false } = {}) {
  current = LANGUAGES.includes(language) ? language : "en";
  document.documentElement.lang = current;
  if (remember) {
    safeLocalStorage()?.setItem(STORAGE_KEY, current);
    caches
      ?.open(WORKER_SETTINGS_CACHE)
      .then((cache) => cache.put(WORKER_LANGUAGE_URL, new Response(current)))
      .catch(() => undefined);
  }
}

/** The text for `key` in the current language, with `{name}` placeholders filled in. */
export function t(key, params = {}) {
  const text = STRINGS[current]?.[key] ?? STRINGS.en[key];
  if (text === undefined) throw new Error(`missing string: ${key}`);
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

/** The name of `language` written in that language (for the switcher). */
export function languageName(language) {
  return STRINGS[language].languageName;
}

export function formatTime(ms) {
  return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "medium" }).format(new Date(ms));
}

/** Fill every element marked data-i18n (text) or data-i18n-label (aria-label) in `root`. */
export function translateElements(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]"))
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

function safeLocalStorage() {
  try {
    return self.localStorage;
  } catch {
    return undefined;
  }
}
