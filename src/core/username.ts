// Canonical usernames: every spelling of one identity (case, width, surrounding space) maps to one key (A3).
import { TwofoldError } from "./errors.ts";

const MAX_LENGTH = 256;

/**
 * Trim, NFKC-normalise and case-fold a username. Full-width `ａｌｉｃｅ`, ` Alice ` and `ALICE` all
 * become `alice`. Control characters, bidi overrides and empty names are refused (H-3).
 */
export function canonicalizeUsername(raw: string): string {
  const folded = raw.normalize("NFKC").trim().toLowerCase().normalize("NFKC");
  if (folded.length === 0) throw new TwofoldError("ERR_USERNAME_INVALID", "username is empty");
  if (folded.length > MAX_LENGTH) throw new TwofoldError("ERR_USERNAME_INVALID", "username is too long");
  // C0/C1 controls, bidi controls, zero-width characters, line/paragraph separators.
  if (/[\p{Cc}\u200B-\u200F\u202A-\u202E\u2028\u2029\u2066-\u2069\uFEFF]/u.test(folded))
    throw new TwofoldError("ERR_USERNAME_INVALID", "username contains control characters");
  if (/\s/u.test(folded)) throw new TwofoldError("ERR_USERNAME_INVALID", "username contains white space");
  return folded;
}

/** Like canonicalizeUsername, but returns undefined instead of throwing (for lookups of untrusted input). */
export function tryCanonicalizeUsername(raw: string): string | undefined {
  try {
    return canonicalizeUsername(raw);
  } catch {
    return undefined;
  }
}
