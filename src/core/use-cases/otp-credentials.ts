// Opening OTP secrets and checking a code against one credential (TOTP with drift, HOTP with look-ahead).
import { Bounded } from "../bounded-map.ts";
import type { Keyring } from "../crypto/keyring.ts";
import type { OTPCredential } from "../model.ts";
import { type CodeAt, findHOTPCounterWith, generateHOTP, type OTPParameters } from "../otp/hotp.ts";
import { type TOTPMatch, totpSteps, verifyTOTPWith } from "../otp/totp.ts";

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
  /** Codes remembered from this node's earlier logins (the login cache's): each is computed once. */
  memo?: OTPCodeMemo,
): OTPMatch | undefined {
  if (code.length !== c.digits) return undefined;
  let params: OTPParameters | undefined;
  const open = () => {
    params ??= openOTPParameters(keyring, c);
    return params;
  };
  if (c.type === "totp") {
    const period = c.period ?? 30;
    const w = { window: windows.totpWindow, drift: c.drift, lastUsedStep: c.lastStep };
    const codeAt: CodeAt = memo
      ? memo.codesOf(c, keyring, open, totpSteps(now, period, w).from)
      : (step) => generateHOTP(open(), step);
    const match = verifyTOTPWith(codeAt, period, code, now, w);
    return match && { type: "totp", match };
  }
  const codeAt: CodeAt = memo
    ? memo.codesOf(c, keyring, open, c.counter)
    : (counter) => generateHOTP(open(), counter);
  const counter = findHOTPCounterWith(codeAt, code, c.counter, windows.hotpLookAhead);
  return counter === undefined ? undefined : { type: "hotp", counter };
}

/** Codes kept per credential: a look-ahead or window that moves by one step computes one new code, not all. */
const CODES_PER_CREDENTIAL = 128;
/** Codes computed at once when one is missing: the secret is opened once per this many logins. */
const CODES_AHEAD = 8;
/** Credentials whose codes are kept: the least recently used go first. */
const CREDENTIALS_KEPT = 10_000;

/**
 * The codes of credentials this node has checked, by counter or time step, tied to the sealed secret, algorithm and
 * digits they were computed from (a credential re-sealed or replaced starts afresh). Candidates below the lowest a
 * check can still accept are dropped. Held in memory only, like the opened secrets they come from; never logged.
 */
export class OTPCodeMemo {
  readonly #entries = new Bounded<{
    sealed: string;
    keyring: Keyring;
    algorithm: string;
    digits: number;
    codes: Map<number, string>;
  }>(CREDENTIALS_KEPT);

  /**
   * The codes of `c` from `floor` on: remembered, or computed with the secret `open` gives (opened only then). Codes
   * are remembered per keyring: a keyring that cannot open the secret never gets codes another one computed.
   */
  codesOf(c: OTPCredential, keyring: Keyring, open: () => OTPParameters, floor: number): CodeAt {
    let entry = this.#entries.get(c.id);
    if (
      !entry ||
      entry.keyring !== keyring ||
      entry.sealed !== c.secretSealed ||
      entry.algorithm !== c.algorithm ||
      entry.digits !== c.digits
    ) {
      entry = { sealed: c.secretSealed, keyring, algorithm: c.algorithm, digits: c.digits, codes: new Map() };
      this.#entries.set(c.id, entry);
    }
    const codes = entry.codes;
    for (const counter of codes.keys()) if (counter < floor) codes.delete(counter);
    if (codes.size > CODES_PER_CREDENTIAL) codes.clear();
    return (counter) => {
      let code = codes.get(counter);
      if (code === undefined) {
        // The secret is opened once for a few codes ahead: the next logins' windows need them.
        const params = open();
        for (let next = counter; next < counter + CODES_AHEAD; next++)
          if (!codes.has(next)) codes.set(next, generateHOTP(params, next));
        code = codes.get(counter) as string;
      }
      return code;
    };
  }

  forget(credentialId: string): void {
    this.#entries.delete(credentialId);
  }
}

export function clampDrift(offset: number, maxDrift: number): number {
  return Math.max(-maxDrift, Math.min(maxDrift, offset));
}
