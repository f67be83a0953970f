// Opening OTP secrets and checking a code against one credential (TOTP with drift, HOTP with look-ahead).
import type { Keyring } from "../crypto/keyring.ts";
import type { OTPCredential } from "../model.ts";
import { findHOTPCounter, type OTPParameters } from "../otp/hotp.ts";
import { type TOTPMatch, verifyTOTP } from "../otp/totp.ts";

export function otpSealContext(id: string) {
  return { table: "otp_credentials", column: "secret_sealed", row: id };
}

export function openOTPParameters(keyring: Keyring, c: OTPCredential): OTPParameters {
  return {
    key: keyring.open(c.secretSealed, otpSealContext(c.id)),
    algorithm: c.algorithm,
    digits: c.digits,
  };
}

export type OTPMatch = { type: "totp"; match: TOTPMatch } | { type: "hotp"; counter: number };

/** Check `code` against one credential without changing anything; the caller consumes the match. */
export function matchOTP(
  keyring: Keyring,
  c: OTPCredential,
  code: string,
  now: number,
  windows: { totpWindow: number; hotpLookAhead: number },
): OTPMatch | undefined {
  if (code.length !== c.digits) return undefined;
  const params = openOTPParameters(keyring, c);
  if (c.type === "totp") {
    const match = verifyTOTP({ ...params, period: c.period ?? 30 }, code, now, {
      window: windows.totpWindow,
      drift: c.drift,
      lastUsedStep: c.lastStep,
    });
    return match && { type: "totp", match };
  }
  const counter = findHOTPCounter(params, code, c.counter, windows.hotpLookAhead);
  return counter === undefined ? undefined : { type: "hotp", counter };
}

export function clampDrift(offset: number, maxDrift: number): number {
  return Math.max(-maxDrift, Math.min(maxDrift, offset));
}
