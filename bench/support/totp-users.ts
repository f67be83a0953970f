// Bench users with a confirmed authenticator app each, made through the services as an administrator would.
import { decodeBase32 } from "../../src/core/base32.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import type { Services } from "../../src/core/services.ts";

export interface TOTPUser {
  name: string;
  /** The app's code at a time (ms since the epoch). */
  code(ms: number): string;
}

const ADMIN = { name: "bench" };

/** `count` users named `bench-0`, `bench-1`, …, each with an active TOTP credential (SHA-1, 6 digits, 30 s). */
export async function createTOTPUsers(
  services: Pick<Services, "createUser" | "enrollTOTP" | "confirmTOTP">,
  now: () => number,
  count: number,
): Promise<TOTPUser[]> {
  const users: TOTPUser[] = [];
  for (let i = 0; i < count; i++) {
    const name = `bench-${i}`;
    await services.createUser(ADMIN, { username: name });
    const e = await services.enrollTOTP(ADMIN, name);
    const params = {
      key: decodeBase32(e.secret.reveal())!,
      algorithm: "SHA1" as const,
      digits: 6,
      period: 30,
    };
    const code = (ms: number) => generateTOTP(params, ms);
    await services.confirmTOTP(ADMIN, e.credentialId, code(now()));
    users.push({ name, code });
  }
  return users;
}
