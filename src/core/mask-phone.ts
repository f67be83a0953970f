// Phone numbers outside their own row: only the last four digits, so audit rows and logs identify without disclosing (N1).

/** Field names that hold a phone number wherever they appear in audit details or log fields. */
export const PHONE_FIELDS: readonly string[] = ["phone", "number", "phoneNumber"];

/**
 * `+886912345678` → `+********5678`: every digit but the last four becomes `*`, other characters stay, so
 * the shape (country prefix, length) still helps a service desk match it to what the user says. Four digits or
 * fewer are masked whole: a short number's last four are the number.
 */
export function maskPhone(number: string): string {
  const digits = number.replace(/[^0-9]/g, "").length;
  let keep = digits > 4 ? 4 : 0;
  let out = "";
  for (let i = number.length - 1; i >= 0; i--) {
    const c = number[i]!;
    if (c >= "0" && c <= "9") {
      if (keep > 0) {
        keep--;
        out = c + out;
      } else out = `*${out}`;
    } else out = c + out;
  }
  return out;
}

/**
 * A copy of `value` with every string under a phone field masked, at any depth (audit before/after details).
 * Anything else is returned as it is.
 */
export function maskPhoneFields<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => maskPhoneFields(v)) as T;
  // Only plain objects are copied: class instances (secrets with their own toJSON, dates) stay as they are.
  if (value === null || typeof value !== "object") return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>))
    out[k] = PHONE_FIELDS.includes(k) && typeof v === "string" ? maskPhone(v) : maskPhoneFields(v);
  return out as T;
}
