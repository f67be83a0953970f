// TOTP (RFC 6238): time steps, code generation and windowed verification with learned drift; pure functions.
import { type CodeAt, generateHOTP, type OTPParameters, otpCodeEqual } from "./hotp.ts";

export interface TOTPParameters extends OTPParameters {
  /** Step length in seconds (RFC 6238 X). */
  period: number;
}

/** RFC 6238 §4.2: T = floor((unix time − T0) / X), with T0 = 0. */
export function totpStep(nowMs: number, period: number): number {
  return Math.floor(nowMs / 1000 / period);
}

export function generateTOTP(params: TOTPParameters, nowMs: number): string {
  return generateHOTP(params, totpStep(nowMs, params.period));
}

export interface TOTPMatch {
  step: number;
  /** Offset of the matched step from the current step (used to learn drift, RFC 6238 §6). */
  offset: number;
}

export interface TOTPWindow {
  /** Steps accepted either side of the expected step (RFC 6238 §5.2 recommends one). */
  window: number;
  /** Drift learned from earlier successes, in steps. */
  drift: number;
  /** Steps at or below this were already used and are refused (B1). */
  lastUsedStep: number | null;
}

/**
 * Look for `code` among the steps around now and around now + learned drift (RFC 6238 §5.2, §6): the
 * ±window allowance always applies to the current step, and a device whose clock was seen to drift is
 * also accepted around where its clock is. Every candidate is compared in constant time. A step at or
 * below the last used one never matches, so each code works at most once (B1).
 */
export function verifyTOTP(
  params: TOTPParameters,
  code: string,
  nowMs: number,
  w: TOTPWindow,
): TOTPMatch | undefined {
  return verifyTOTPWith((step) => generateHOTP(params, step), params.period, code, nowMs, w);
}

/** The first and last step {@link verifyTOTP} looks at. */
export function totpSteps(nowMs: number, period: number, w: Pick<TOTPWindow, "window" | "drift">) {
  const current = totpStep(nowMs, period);
  return {
    current,
    from: current - w.window + Math.min(0, w.drift),
    to: current + w.window + Math.max(0, w.drift),
  };
}

/** {@link verifyTOTP} over codes from `codeAt`. */
export function verifyTOTPWith(
  codeAt: CodeAt,
  period: number,
  code: string,
  nowMs: number,
  w: TOTPWindow,
): TOTPMatch | undefined {
  const { current, from, to } = totpSteps(nowMs, period, w);
  let match: TOTPMatch | undefined;
  for (let step = from; step <= to; step++) {
    const equal = otpCodeEqual(codeAt(step), code);
    if (equal && match === undefined && (w.lastUsedStep === null || step > w.lastUsedStep)) {
      match = { step, offset: step - current };
    }
  }
  return match;
}
