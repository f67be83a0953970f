// HOTP (RFC 4226): code generation and look-ahead verification, pure functions over key bytes and counters.
import { equalBytesSameLength, type HashAlgorithm, hmac } from "../crypto/index.ts";

export type OTPAlgorithm = HashAlgorithm;

export interface OTPParameters {
  key: Uint8Array;
  algorithm: OTPAlgorithm;
  digits: number;
}

/** RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, modulo 10^digits. */
export function generateHOTP(params: OTPParameters, counter: number): string {
  const message = new Uint8Array(8);
  let c = BigInt(counter);
  for (let i = 7; i >= 0; i--) {
    message[i] = Number(c & 0xffn);
    c >>= 8n;
  }
  const mac = hmac(params.algorithm, params.key, message);
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary =
    ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 10 ** params.digits).padStart(params.digits, "0");
}

/**
 * Whether a generated code equals the typed one, in time independent of their contents. A generated code always
 * has `digits` characters; a typed code of another length is compared with itself (the same work) and is not equal.
 * Cheaper than crypto's constantTimeEqual (two keyed hashes and fresh random bytes per call), which hides lengths:
 * a look-ahead compares up to a dozen candidates per attempt.
 */
export function otpCodeEqual(generated: string, typed: string): boolean {
  const a = Buffer.from(generated, "utf8");
  const b = Buffer.from(typed, "utf8");
  if (a.length !== b.length) {
    equalBytesSameLength(b, b);
    return false;
  }
  return equalBytesSameLength(a, b);
}

/**
 * Find the counter in [from, from + lookAhead] whose code equals `code` (RFC 4226 §7.2, §7.4).
 * Every candidate is computed and compared in constant time; the first match is returned.
 */
export function findHOTPCounter(
  params: OTPParameters,
  code: string,
  from: number,
  lookAhead: number,
): number | undefined {
  return findHOTPCounterWith((counter) => generateHOTP(params, counter), code, from, lookAhead);
}

/** The code of each counter (or time step), however it is had: computed, or remembered from an earlier login. */
export type CodeAt = (counter: number) => string;

/** {@link findHOTPCounter} over codes from `codeAt`. */
export function findHOTPCounterWith(
  codeAt: CodeAt,
  code: string,
  from: number,
  lookAhead: number,
): number | undefined {
  let found: number | undefined;
  for (let c = from; c <= from + lookAhead; c++) {
    if (otpCodeEqual(codeAt(c), code) && found === undefined) found = c;
  }
  return found;
}
