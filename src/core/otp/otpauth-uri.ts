// Builds otpauth:// provisioning URIs (the Key Uri Format that authenticator apps read from a QR code).
import { encodeBase32 } from "../base32.ts";
import type { OTPAlgorithm } from "./hotp.ts";

export interface OTPAuthURIInput {
  type: "totp" | "hotp";
  issuer: string;
  account: string;
  secret: Uint8Array;
  algorithm: OTPAlgorithm;
  digits: number;
  period?: number;
  counter?: number;
}

/** The URI states algorithm, digits and period explicitly so the app computes what the server checks (B5). */
export function buildOTPAuthURI(input: OTPAuthURIInput): string {
  const label = `${encodeURIComponent(input.issuer)}:${encodeURIComponent(input.account)}`;
  const params = new URLSearchParams({
    secret: encodeBase32(input.secret),
    issuer: input.issuer,
    algorithm: input.algorithm,
    digits: String(input.digits),
  });
  if (input.type === "totp") params.set("period", String(input.period ?? 30));
  else params.set("counter", String(input.counter ?? 0));
  return `otpauth://${input.type}/${label}?${params.toString().replace(/\+/g, "%20")}`;
}
