// Text-message passcodes in the login prompt: the number a code goes to, whether the login is abroad from it, the live code, sending on request.
import type { Deps } from "../deps.ts";
import { countryOfNumber, displayMaskedNumber } from "../phone-number.ts";
import { requireLogin } from "./prompt-login.ts";
import { listSMSPhones, SMS_MESSAGES, type SMSSendOutcome, sendLoginPasscode } from "./sms-passcodes.ts";

/** What the prompt's text-message screens show for a login. */
export interface PromptSMS {
  /** The number codes go to, masked (`+852 •••• 5678`). */
  maskedNumber: string;
  /**
   * The number's country differs from the country of the browser's address (P10: texts abroad may cost roaming);
   * false when either is unknown (no GeoIP database, a private address, a number without a country).
   */
  roaming: boolean;
  /** The live code this login's application may use, if one was sent: when it expires, when Send again opens. */
  sent: { expiresAt: number; sendAgainAt: number } | null;
}

/**
 * The login's text-message state, or undefined when SMS is not offered to this user here (no verified number, the
 * application's policy, an administrator, SMS their only factor: E2). Reading never sends anything.
 */
export async function readPromptSMS(
  deps: Deps,
  handle: string,
  input: { ip: string | null },
): Promise<PromptSMS | undefined> {
  const { application, user, session } = await requireLogin(deps, handle);
  if (!user) return undefined;
  const [phone] = await listSMSPhones(deps, user, application);
  if (!phone) return undefined;
  const number = (await deps.store.getPhone(phone.id))?.number ?? null;
  if (!number) return undefined;
  const numberCountry = countryOfNumber(number);
  const loginCountry = input.ip ? (deps.places?.country?.(input.ip) ?? null) : null;
  const now = deps.clock.now();
  const latest = await deps.store.latestSMSCode(user.id, "login");
  const live =
    latest &&
    latest.usedAt === null &&
    latest.revokedAt === null &&
    latest.expiresAt > now &&
    (latest.applicationId === null || latest.applicationId === application.id) &&
    latest.loginSessionId === session.id &&
    (await wentOut(deps, latest.messageId));
  return {
    maskedNumber: displayMaskedNumber(number),
    roaming: numberCountry !== null && loginCountry !== null && numberCountry !== loginCountry,
    sent: live
      ? {
          expiresAt: latest.expiresAt,
          sendAgainAt: latest.createdAt + deps.policy.sms.resendAfterSeconds * 1000,
        }
      : null,
  };
}

/**
 * Whether a code's text left for a gateway (taken, delivered, or possibly sent): a text no gateway took is not
 * "sent" on screen, even while the outbox still tries it within the code's life.
 */
async function wentOut(deps: Deps, messageId: string | null): Promise<boolean> {
  if (messageId === null) return true;
  const message = await deps.store.getOutboxMessage(messageId);
  return message !== undefined && ["sent", "delivered", "undelivered", "unknown"].includes(message.status);
}

/**
 * "Text me a passcode" / "Send again" in the prompt: the same send as the Auth API's `factor=sms` (guard, quotas,
 * cooldown, outbox, the gateway deadline), for this login's application. A new code kills the earlier ones; the
 * user's failure count is untouched (E1). The code is then typed into the one passcode check.
 */
export async function sendPromptSMS(
  deps: Deps,
  handle: string,
  input: { ip: string | null },
): Promise<SMSSendOutcome> {
  const { application, user, session } = await requireLogin(deps, handle);
  if (!user) return { sent: false, reason: "no_phone", message: SMS_MESSAGES.notAllowed, retryAt: null };
  return sendLoginPasscode(deps, { user, application, ip: input.ip, loginSessionId: session.id });
}
