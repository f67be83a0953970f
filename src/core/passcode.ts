// Tells what kind of passcode was typed into the one "Enter a passcode" field, from its shape alone.

export type PasscodeShape =
  | { kind: "otp"; value: string }
  | { kind: "bypass"; value: string }
  | { kind: "rescue"; value: string }
  | { kind: "malformed" };

/** Crockford base32: no I, L, O, U, so codes read aloud or handwritten are not misread. */
export const RESCUE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const RESCUE_LENGTH = 16;

const MAX_INPUT = 64;

/**
 * OTP codes are 6 or 8 ASCII digits; bypass codes `bypassDigits` digits; rescue codes 16 Crockford
 * base32 characters (spaces and hyphens ignored; I/L read as 1, O as 0). Anything else — empty, over-long,
 * non-ASCII digits such as `１２３４５６` — is malformed and still counts as a failed attempt (B6).
 */
export function classifyPasscode(raw: unknown, bypassDigits: number): PasscodeShape {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > MAX_INPUT) return { kind: "malformed" };
  const compact = raw.replace(/[ -]/g, "");
  if (/^[0-9]+$/.test(compact)) {
    if (compact.length === 6 || compact.length === 8) return { kind: "otp", value: compact };
    if (compact.length === bypassDigits) return { kind: "bypass", value: compact };
  }
  const rescue = normalizeRescueCode(compact);
  if (rescue) return { kind: "rescue", value: rescue };
  return { kind: "malformed" };
}

export function normalizeRescueCode(text: string): string | undefined {
  const upper = text.replace(/[ -]/g, "").toUpperCase().replace(/[IL]/g, "1").replace(/O/g, "0");
  if (upper.length !== RESCUE_LENGTH) return undefined;
  for (const ch of upper) if (!RESCUE_ALPHABET.includes(ch)) return undefined;
  return upper;
}

/** `ABCD-EFGH-JKMN-PQRS`: groups of four for reading and typing. */
export function formatRescueCode(code: string): string {
  return code.match(/.{1,4}/g)!.join("-");
}
