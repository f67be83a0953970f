// The prompt for a user without a second factor: let in where the application's new-user policy says `allow`; enrol
// with a key where it says `enroll`; after the first login with a new factor, offer a backup of the other kind.

import { effectivePolicy } from "../application-policy.ts";
import { completeAuthentication, type GateDenyReason } from "../completion-gate.ts";
import { randomHex } from "../crypto/index.ts";
import type { Deps } from "../deps.ts";
import { mayEnrollAsNewUser } from "../enrollment-rule.ts";
import { TwofoldError } from "../errors.ts";
import type { LoginSession } from "../model.ts";
import { isFrameLogin } from "./frame-login.ts";
import { countPromptActivation } from "./prompt-activation-limit.ts";
import {
  allowedPromptLogin,
  openPromptLogin,
  type PromptLogin,
  promptEnrollment,
  requireLogin,
} from "./prompt-login.ts";
import { createDeviceActivation, type DeviceActivationTicket } from "./push.ts";
import { isNameSpokenFor } from "./users.ts";
import {
  beginWebAuthnRegistration,
  type CeremonyStart,
  type CreationOptionsJSON,
  finishWebAuthnRegistration,
  type RegistrationOutcome,
  type WebAuthnMethod,
} from "./webauthn.ts";

export type PromptNewUserAllow =
  | { result: "allow" }
  /** Not a new user the application lets in: the prompt shows what applies (enrol, not enrolled). */
  | { result: "none" }
  | { result: "deny"; reason: GateDenyReason };

/**
 * New-user policy `allow` (Duo's "allow access without 2FA"): a user who never had a second factor — or a username
 * Twofold does not know, as the Auth API's preauth lets in — is let in without one, through the completion gate (which checks the policy and the enrolment rule again), logged as
 * `allow_unenrolled_user` with factor `none`; the login session is allowed in the same transaction.
 */
export async function allowPromptNewUser(
  deps: Deps,
  handle: string,
  input: { ip: string | null },
): Promise<PromptNewUserAllow> {
  const login = await newUserLogin(deps, handle);
  if (!login) return { result: "none" };
  const { session, application, user } = login;
  const userId = user?.id ?? null;
  const now = deps.clock.now();
  const txid = randomHex(16);
  return deps.store.transaction(async (store) => {
    const tx: Deps = { ...deps, store };
    const verdict = await completeAuthentication(tx, {
      userId,
      username: session.username,
      applicationId: application.id,
      factor: "none",
      factorClass: null,
      reason: "allow_unenrolled_user",
      ip: input.ip ?? session.ip,
      txid,
      now,
    });
    if (verdict.result === "deny") return { result: "deny", reason: verdict.reason };
    if (!(await store.allowLoginSession(session.id, userId, { factor: "none", txid, at: now })))
      throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended");
    return { result: "allow" };
  });
}

/**
 * Whether allowPromptNewUser would let this login's user in now (its completion gate still decides): for a page that
 * asks first, as the iframe SDK's does, since a GET there may be answered for a frame the browser then refuses.
 */
export async function mayAllowPromptNewUser(deps: Deps, handle: string): Promise<boolean> {
  return (await newUserLogin(deps, handle)) !== undefined;
}

/** The login, when its application lets new users in and its user is one: never had a factor, or nobody's name. */
async function newUserLogin(deps: Deps, handle: string) {
  const login = await requireLogin(deps, handle);
  const { session, application, user } = login;
  const policy = effectivePolicy(deps.policy, application);
  if (policy.newUserPolicy !== "allow" || application.status !== "active") return undefined;
  if (user) {
    if (user.status === "disabled" || session.userId !== user.id) return undefined;
    // A user whose factors were removed waits for an administrator's reset (CISA AA22-074A).
    if (!(await mayEnrollAsNewUser(deps.store, user.id))) return undefined;
  } else if (session.userId !== null || (await isNameSpokenFor(deps, session.username))) {
    // A username nobody had when the login started, and nobody has now (created meanwhile: log in again); not one
    // that names nobody only because two users claim it or share it as their e-mail address.
    return undefined;
  }
  return login;
}

/** A ceremony begun for enrolment is bound to its login (F1), apart from the login's own key ceremonies. */
function enrolContext(session: LoginSession): string {
  return `prompt-enrol:${session.id}`;
}

async function requireEnrolling(deps: Deps, handle: string): Promise<LoginSession> {
  const eligibility = await promptEnrollment(deps, handle);
  const { session } = await requireLogin(deps, handle);
  if (!eligibility.eligible || !session.userId)
    throw new TwofoldError("ERR_POLICY", "this user may not enrol here", {
      detail: JSON.stringify(eligibility),
    });
  return session;
}

/**
 * Enrolment with "This device or a security key": the same registration ceremony as "Add a key", for a user the
 * enrolment rule allows (no factor now, never one) instead of one who passed a factor moments ago.
 */
export async function beginPromptEnrollmentKey(
  deps: Deps,
  handle: string,
  input: { method?: WebAuthnMethod; ip: string | null },
): Promise<CeremonyStart<CreationOptionsJSON>> {
  const session = await requireEnrolling(deps, handle);
  return beginWebAuthnRegistration(deps, {
    username: session.username,
    proof: { newUser: true },
    context: enrolContext(session),
    ...(input.method ? { method: input.method } : {}),
    ip: input.ip,
  });
}

export async function finishPromptEnrollmentKey(
  deps: Deps,
  handle: string,
  input: { ceremonyId: string; response: unknown; name?: string; ip: string | null },
): Promise<RegistrationOutcome> {
  const session = await requireEnrolling(deps, handle);
  return finishWebAuthnRegistration(deps, {
    ceremonyId: input.ceremonyId,
    context: enrolContext(session),
    response: input.response,
    ...(input.name ? { name: input.name } : {}),
    ip: input.ip,
  });
}

export type BackupOffer = { kind: "key" | "app" };

/** A backup is added within this long of the login that proves the new factor (as a key's proof, G2). */
const BACKUP_PROOF_MS = 10 * 60_000;

/**
 * After the first login with a factor the user set up in this very login (its first factor is younger than the
 * login): offer a backup of the other kind — a key after the app, the app after a key — or null. The login itself
 * is the fresh second factor that adding one needs (G2).
 */
export async function offerPromptBackup(
  deps: Deps,
  handle: string,
  allowed?: PromptLogin,
): Promise<BackupOffer | null> {
  // `allowed`: the login the same request has just allowed (allowedPromptLogin), with its user as read then.
  const login =
    allowedPromptLogin(handle, allowed) ?? (await openPromptLogin(deps, handle, { touch: false }));
  const s = login?.session;
  if (!login || !s || login.expired || s.status !== "allowed" || !login.user || !s.authTxid) return null;
  if (isFrameLogin(s) || s.factor === "none" || s.factor === "remembered_device") return null;
  // The login is the proof of a fresh second factor: only while it is fresh.
  if (s.authAt === null || s.authAt < deps.clock.now() - BACKUP_PROOF_MS) return null;
  const first =
    login.firstFactorAt !== undefined
      ? login.firstFactorAt
      : await deps.store.getFirstFactorAt(login.user.id);
  if (first === null || first === undefined || first < s.createdAt) return null;
  const [devices, keys] = await Promise.all([
    deps.store.listDevices(login.user.id),
    deps.store.listWebAuthnCredentials(login.user.id),
  ]);
  const hasApp = devices.some((d) => d.status === "active");
  const hasKey = keys.some((k) => k.status === "active");
  if (hasApp && !hasKey && deps.webauthn) return { kind: "key" };
  if (hasKey && !hasApp) return { kind: "app" };
  return null;
}

/** "Add a backup: Twofold Authenticator app": the activation QR code (10 minutes), for the user of that login. */
export async function startPromptBackupActivation(
  deps: Deps,
  handle: string,
  input: { ip: string | null },
): Promise<DeviceActivationTicket> {
  const offer = await offerPromptBackup(deps, handle);
  const login = await openPromptLogin(deps, handle, { touch: false });
  if (offer?.kind !== "app" || !login) throw new TwofoldError("ERR_POLICY", "no backup to add in this login");
  await countPromptActivation(deps, login.session.id);
  return createDeviceActivation(deps, { name: "prompt-backup", ip: input.ip }, login.session.username);
}

export type PromptActivationWait = "activated" | "pending" | "ended";

/**
 * Wait, on the page that shows an activation QR code (enrolment or a backup), until the login's user has an active
 * Twofold Authenticator: `activated` as soon as any node records one, `pending` when the deadline passes or `signal`
 * aborts first, `ended` when the login is gone or over. Woken by the activation's event; the store decides, re-read
 * on the push events' backstop timer only.
 */
export async function waitPromptActivation(
  deps: Deps,
  handle: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<PromptActivationWait> {
  const login = await openPromptLogin(deps, handle, { touch: false });
  if (!login || login.expired || !login.user || !["pending", "allowed"].includes(login.session.status))
    return "ended";
  const userId = login.user.id;
  const key = `user:${userId}`;
  let woken = false;
  const unsubscribe = deps.pushEvents.subscribe(key, () => {
    woken = true;
  });
  try {
    const deadline = deps.clock.now() + Math.max(0, options.timeoutMs);
    for (;;) {
      woken = false;
      const devices = await deps.store.listDevices(userId);
      if (devices.some((d) => d.status === "active")) return "activated";
      const remaining = deadline - deps.clock.now();
      if (remaining <= 0 || options.signal?.aborted) return "pending";
      // An event that arrived while we were reading means "read again now".
      if (!woken)
        await deps.pushEvents.waitFor(
          key,
          Math.min(remaining, deps.pushEvents.fallbackPollMs),
          options.signal,
        );
    }
  } finally {
    unsubscribe();
  }
}
