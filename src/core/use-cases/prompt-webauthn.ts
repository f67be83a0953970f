// WebAuthn in the login prompt: a login with a key completes the prompt's session; after a phone login, "Add a key".

import type { Deps } from "../deps.ts";
import { TwofoldError } from "../errors.ts";
import type { LoginSession } from "../model.ts";
import { checkLoginThrottle, countFailedLogin } from "./login-throttle.ts";
import { allowedPromptLogin, openPromptLogin, type PromptLogin, requireLogin } from "./prompt-login.ts";
import {
  beginWebAuthnAuthentication,
  beginWebAuthnRegistration,
  type CeremonyStart,
  type CreationOptionsJSON,
  finishWebAuthnAuthentication,
  finishWebAuthnRegistration,
  type RegistrationOutcome,
  type RequestOptionsJSON,
  type WebAuthnMethod,
  type WebAuthnOutcome,
} from "./webauthn.ts";

/** A ceremony begun in a prompt login is bound to that login: no other session can finish it (F1). */
function contextOf(session: LoginSession): string {
  return `prompt-login:${session.id}`;
}

/** Start a login with a key for the prompt's user (second factor: the application named the user). */
export async function beginPromptWebAuthn(
  deps: Deps,
  handle: string,
  input: { method?: WebAuthnMethod; ip: string | null },
): Promise<CeremonyStart<RequestOptionsJSON>> {
  const { session } = await requireLogin(deps, handle);
  return beginWebAuthnAuthentication(deps, {
    username: session.username,
    context: contextOf(session),
    ...(input.method ? { method: input.method } : {}),
    ip: input.ip,
  });
}

export type PromptWebAuthnResult =
  | { result: "allow" }
  | { result: "deny"; outcome: Extract<WebAuthnOutcome, { result: "deny" }> }
  | { result: "throttled"; retryAfterSeconds: number };

/**
 * Finish it: the one assertion check (finishWebAuthnAuthentication), whose allow completes this login in its own
 * transaction; the login throttles apply as on every entry point (A6).
 */
export async function finishPromptWebAuthn(
  deps: Deps,
  handle: string,
  input: { ceremonyId: string; response: unknown; ip: string | null },
): Promise<PromptWebAuthnResult> {
  const { session, application } = await requireLogin(deps, handle);
  const source = { application, ip: input.ip, peer: input.ip };
  const throttle = await checkLoginThrottle(deps, source);
  if (!throttle.allowed) return { result: "throttled", retryAfterSeconds: throttle.retryAfterSeconds };
  const outcome = await finishWebAuthnAuthentication(deps, {
    ceremonyId: input.ceremonyId,
    context: contextOf(session),
    response: input.response,
    application,
    ip: input.ip,
    loginSessionId: session.id,
  });
  if (outcome.result === "allow") return { result: "allow" };
  await countFailedLogin(deps, source);
  return { result: "deny", outcome };
}

/** Factors that mean "the phone": the push, the app's passcode, a text message (ux.md §2.1, "Add a key"). */
const PHONE_FACTORS = new Set(["push", "totp", "hotp", "sms"]);

/**
 * Whether to offer "Add a key" now: the login was just completed with the phone, the user has no key yet, and
 * WebAuthn is configured. (At most once a month: the page remembers the offer in the browser.)
 */
export async function shouldOfferPromptKey(
  deps: Deps,
  handle: string,
  allowed?: PromptLogin,
): Promise<boolean> {
  if (!deps.webauthn) return false;
  const login =
    allowedPromptLogin(handle, allowed) ?? (await openPromptLogin(deps, handle, { touch: false }));
  if (!login || login.expired || login.session.status !== "allowed" || !login.user) return false;
  if (!PHONE_FACTORS.has(login.session.factor ?? "")) return false;
  return (await deps.store.listWebAuthnCredentials(login.user.id)).length === 0;
}

async function requireAllowedLogin(deps: Deps, handle: string): Promise<LoginSession> {
  const login = await openPromptLogin(deps, handle, { touch: false });
  if (!login || login.expired || login.session.status !== "allowed" || !login.session.authTxid)
    throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login cannot add a key");
  return login.session;
}

/**
 * "Add now": register a key for the user of a login the completion gate has just allowed; that login is the proof
 * of a fresh second factor (G2), and the ceremony is bound to it.
 */
export async function beginPromptKeyRegistration(
  deps: Deps,
  handle: string,
  input: { ip: string | null },
): Promise<CeremonyStart<CreationOptionsJSON>> {
  const session = await requireAllowedLogin(deps, handle);
  return beginWebAuthnRegistration(deps, {
    username: session.username,
    proof: { txid: session.authTxid! },
    context: contextOf(session),
    ip: input.ip,
  });
}

export async function finishPromptKeyRegistration(
  deps: Deps,
  handle: string,
  input: { ceremonyId: string; response: unknown; name?: string; ip: string | null },
): Promise<RegistrationOutcome> {
  const session = await requireAllowedLogin(deps, handle);
  return finishWebAuthnRegistration(deps, {
    ceremonyId: input.ceremonyId,
    context: contextOf(session),
    response: input.response,
    ...(input.name ? { name: input.name } : {}),
    ip: input.ip,
  });
}
