// Test helpers that enrol factors through the real use cases and compute the codes a user's device would show.
import { decodeBase32 } from "../../src/core/base32.ts";
import { generateHOTP } from "../../src/core/otp/hotp.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import type { TestContext } from "./deps.ts";

export const ADMIN = { name: "test-admin" };

export interface EnrolledTOTP {
  credentialId: string;
  /** The code the app shows at `ms` (default: the context clock's now). */
  codeAt(ms?: number): string;
}

/** Create a user (if needed) and an active authenticator app, confirmed with the current code. */
export async function enrollActiveTOTP(t: TestContext, username: string): Promise<EnrolledTOTP> {
  if (!(await t.services.findUser(username))) await t.services.createUser(ADMIN, { username });
  const e = await t.services.enrollTOTP(ADMIN, username);
  const params = {
    key: decodeBase32(e.secret.reveal())!,
    algorithm: t.config.policy.totp.algorithm,
    digits: t.config.policy.totp.digits,
    period: t.config.policy.totp.period,
  };
  const codeAt = (ms = t.clock.now()) => generateTOTP(params, ms);
  await t.services.confirmTOTP(ADMIN, e.credentialId, codeAt());
  // The confirming step is used up; move to the next step so tests start from a fresh code.
  t.clock.advance(t.config.policy.totp.period * 1000);
  return { credentialId: e.credentialId, codeAt };
}

/** Import one HOTP token with a known key, assign it to `username`, and return its code generator. */
export async function assignHOTPToken(t: TestContext, username: string, serial: string, key: Uint8Array) {
  if (!(await t.services.findUser(username))) await t.services.createUser(ADMIN, { username });
  await t.services.importTokens(ADMIN, [
    {
      serial,
      type: "hotp",
      algorithm: "SHA1",
      digits: 6,
      period: null,
      counter: 0,
      secret: key,
      manufacturer: "Test",
      model: null,
    },
  ]);
  await t.services.assignToken(ADMIN, serial, username);
  return { codeAt: (counter: number) => generateHOTP({ key, algorithm: "SHA1", digits: 6 }, counter) };
}

/** A wrong code of the right shape: the correct one with its last digit changed. */
export function wrongCode(code: string): string {
  return code.slice(0, -1) + String((Number(code.at(-1)) + 1) % 10);
}
