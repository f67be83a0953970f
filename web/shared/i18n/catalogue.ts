// Typed message catalogues for every browser UI: English defines the keys, Traditional Chinese must supply each one.

/** The languages every UI offers (docs/web.md § Languages). */
export const LANGUAGES = ["en", "zh-Hant"] as const;
export type Language = (typeof LANGUAGES)[number];

/**
 * The shape of a catalogue, taken from the English one with each text widened to `string` (a message with
 * parameters stays a function of the same parameters). Declaring `zhHant: MessagesOf<typeof en>` makes a
 * missing key, an extra key or a wrong parameter list a compile error.
 */
export type MessagesOf<T> = {
  readonly [K in keyof T]: T[K] extends string
    ? string
    : T[K] extends (...args: infer A) => string
      ? (...args: A) => string
      : MessagesOf<T[K]>;
};

/** One catalogue per language. */
export type Catalogues<M> = { readonly [L in Language]: M };

export function isLanguage(value: unknown): value is Language {
  return (LANGUAGES as readonly unknown[]).includes(value);
}

/**
 * The language offered for one BCP 47 tag, or null. zh-TW, zh-HK, zh-MO and bare zh read Traditional Chinese;
 * Simplified-script Chinese (Hans, CN, SG, MY) is not offered, so it falls through to the next preference.
 */
export function matchLanguage(tag: string): Language | null {
  const parts = String(tag).toLowerCase().split("-");
  if (parts[0] === "en") return "en";
  if (parts[0] !== "zh") return null;
  if (parts.includes("hant")) return "zh-Hant";
  if (parts.includes("hans") || parts.some((p) => p === "cn" || p === "sg" || p === "my")) return null;
  return "zh-Hant";
}

/** The first offered language in order of preference (navigator.languages, or Accept-Language parsed), else English. */
export function pickLanguage(preferred: readonly string[]): Language {
  for (const tag of preferred) {
    const match = matchLanguage(tag);
    if (match) return match;
  }
  return "en";
}

/** Fill `{name}` placeholders: the format the authenticator's texts use (a missing value becomes ""). */
export function fillPlaceholders(
  text: string,
  params: Readonly<Record<string, string | number>> = {},
): string {
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? ""));
}
