// Canonical usernames: every spelling of one identity (case, width, surrounding space, a stripped domain) maps to one key (A3).
import { TwofoldError } from "./errors.ts";

const MAX_LENGTH = 256;

/** Case, width and surrounding space folded away: NFKC, trimmed, lower case. */
export function foldName(raw: string): string {
  return raw.normalize("NFKC").trim().toLowerCase().normalize("NFKC");
}

/** The one form of an e-mail address used to find a user by it (folded, never domain-stripped). */
export function canonicalizeEmail(raw: string): string {
  return foldName(raw);
}

/** The folded, de-duplicated domains of `identity.stripDomains`. */
function foldDomains(stripDomains: readonly string[]): string[] {
  return [...new Set(stripDomains.map((d) => foldName(d).replace(/^@/, "")).filter((d) => d !== ""))];
}

/**
 * The e-mail addresses that are the name `key` under `identity.stripDomains`: `key@d` for each stripped domain
 * `d` (with `corp` stripped, `robert.smith@corp` is the name `robert.smith`).
 */
export function addressesOfName(key: string, stripDomains: readonly string[]): string[] {
  return foldDomains(stripDomains).map((d) => `${key}@${d}`);
}

function stripDomain(name: string, domains: readonly string[]): string {
  let key = name;
  // Repeated (`bob@corp@corp`), so that the canonical form of a canonical form is itself.
  for (;;) {
    const at = key.lastIndexOf("@");
    if (at <= 0 || !domains.includes(key.slice(at + 1))) return key;
    key = key.slice(0, at);
  }
}

/**
 * The one canonical key of a username or alias, used on every write and every lookup: NFKC-normalised,
 * trimmed and lower-cased, then `user@domain` becomes `user` when `domain` is in `identity.stripDomains`.
 * Full-width `ａｌｉｃｅ`, ` Alice `, `ALICE` and (with `corp` listed) `alice@corp` all become `alice`.
 * Control characters, bidi overrides, inner white space and empty names are refused (H-3).
 */
export function canonicalizeUsername(raw: string, stripDomains: readonly string[]): string {
  const folded = foldName(raw);
  if (folded.length === 0) throw new TwofoldError("ERR_USERNAME_INVALID", "username is empty");
  if (folded.length > MAX_LENGTH) throw new TwofoldError("ERR_USERNAME_INVALID", "username is too long");
  // C0/C1 controls, bidi controls, zero-width characters, line/paragraph separators.
  if (/[\p{Cc}\u200B-\u200F\u202A-\u202E\u2028\u2029\u2066-\u2069\uFEFF]/u.test(folded))
    throw new TwofoldError("ERR_USERNAME_INVALID", "username contains control characters");
  if (/\s/u.test(folded)) throw new TwofoldError("ERR_USERNAME_INVALID", "username contains white space");
  const key = stripDomain(folded, foldDomains(stripDomains));
  if (key.length === 0 || foldName(key) !== key)
    throw new TwofoldError("ERR_USERNAME_INVALID", "username has no stable canonical form");
  return key;
}

/** Like canonicalizeUsername, but returns undefined instead of throwing (for lookups of untrusted input). */
export function tryCanonicalizeUsername(raw: string, stripDomains: readonly string[]): string | undefined {
  try {
    return canonicalizeUsername(raw, stripDomains);
  } catch {
    return undefined;
  }
}
