// SMS abuse controls (E3): placeholder that allows every send; the real guard (quotas, spend cap, stop switch, breaker) replaces it.
import { randomId } from "../crypto/index.ts";
import type { Deps } from "../deps.ts";

export interface SmsSendRequest {
  userId: string;
  phoneE164: string;
  ip: string | null;
  applicationId: string | null;
  purpose: "passcode" | "phone_verification";
  now: number;
}

export type SmsSendDecision =
  | { allow: true; reservationId: string }
  | {
      allow: false;
      reason: string;
      retryAt: number | null;
      /** what the user is told: P13 / "Too many codes…" / "We couldn't send a text just now." */
      userMessage: "stopped" | "quota" | "unavailable";
    };

export async function decideSmsSend(_deps: Deps, _req: SmsSendRequest): Promise<SmsSendDecision> {
  return { allow: true, reservationId: randomId("SR") };
}

/** A code sent for this reservation was typed correctly (feeds the conversion breaker). */
export async function recordSmsConverted(_deps: Deps, _reservationId: string, _now: number): Promise<void> {}

/** The gateway finally failed for this reservation (refund quota/spend). */
export async function recordSmsFailed(_deps: Deps, _reservationId: string, _now: number): Promise<void> {}
