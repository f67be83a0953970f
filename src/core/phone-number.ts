// Phone numbers for text messages: parsed and checked with libphonenumber-js, stored as E.164; costly and unassigned ranges refused.
import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { TwofoldError } from "./errors.ts";

export interface ParsedPhoneNumber {
  /** E.164, e.g. `+85291234567`. */
  e164: string;
  /** ISO 3166-1 alpha-2 country of the number (`HK`), or null for non-geographic ranges. */
  country: string | null;
  callingCode: string;
}

/** Number types that can receive a text; anything else is refused (SMS pumping targets the costly ones). */
const TEXTABLE = new Set(["MOBILE", "FIXED_LINE_OR_MOBILE", "PERSONAL_NUMBER", "VOIP"]);

/**
 * Parse a number given in international form (`+852 9123 4567`, `+85291234567`) or, with `defaultCountry`, in
 * national form. Refused with a code saying why: `ERR_PHONE_INVALID` (not a number, or a range no operator was
 * assigned), `ERR_PHONE_PREMIUM_RATE`, `ERR_PHONE_SHARED_COST` (each text costs the sender: the pumping
 * fraudster's payout), `ERR_PHONE_NOT_MOBILE` (fixed lines, toll-free, pagers cannot receive texts).
 */
export function parseTextableNumber(input: string, defaultCountry?: string): ParsedPhoneNumber {
  const refuse = (code: ConstructorParameters<typeof TwofoldError>[0], message: string) =>
    new TwofoldError(code, message, { issues: [{ path: "number", message }] });
  if (typeof input !== "string" || input.length > 40) throw refuse("ERR_PHONE_INVALID", "not a phone number");
  const parsed = parsePhoneNumberFromString(
    input,
    // biome-ignore lint/suspicious/noExplicitAny: libphonenumber's CountryCode union; an unknown code parses nothing.
    defaultCountry ? { defaultCountry: defaultCountry as any } : undefined,
  );
  if (!parsed?.isValid())
    throw refuse("ERR_PHONE_INVALID", "not a valid phone number, or in an unassigned range");
  const type = parsed.getType();
  if (type === "PREMIUM_RATE") throw refuse("ERR_PHONE_PREMIUM_RATE", "premium-rate numbers are refused");
  if (type === "SHARED_COST") throw refuse("ERR_PHONE_SHARED_COST", "shared-cost numbers are refused");
  if (type !== undefined && !TEXTABLE.has(type))
    throw refuse("ERR_PHONE_NOT_MOBILE", "this number cannot receive text messages");
  return { e164: parsed.number, country: parsed.country ?? null, callingCode: parsed.countryCallingCode };
}

/** The country of an E.164 number (`HK`), or null when it has none or cannot be parsed. */
export function countryOfNumber(e164: string): string | null {
  return parsePhoneNumberFromString(e164)?.country ?? null;
}

/** Whether a number is one `parseTextableNumber` accepts (and already in E.164). */
export function isTextableNumber(e164: string): boolean {
  try {
    return parseTextableNumber(e164).e164 === e164;
  } catch {
    return false;
  }
}

/**
 * `+85291235678` → `+852 •••• 5678`: the calling code and the last four digits, as the prompt shows the number a
 * code goes to (ux.md §2.1); the rest is never shown.
 */
export function displayMaskedNumber(e164: string): string {
  const parsed = parsePhoneNumberFromString(e164);
  const digits = e164.replace(/[^0-9]/g, "");
  const last = digits.length > 4 ? digits.slice(-4) : "";
  return parsed ? `+${parsed.countryCallingCode} •••• ${last}` : `•••• ${last}`;
}
