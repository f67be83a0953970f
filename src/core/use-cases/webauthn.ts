// WebAuthn use cases: add a key after a second factor, log in with it through the completion gate, list, rename, remove.

import {
  completeAuthentication,
  completeAuthenticationOnPresumedState,
  type GateDenyReason,
} from "../completion-gate.ts";
import {
  constantTimeEqual,
  randomBytes,
  randomHex,
  randomId,
  sha256Hex,
  timeOrderedId,
} from "../crypto/index.ts";
import type { VerifiedAssertion, VerifiedAttestation } from "../crypto/webauthn.ts";
import {
  credentialIdOf,
  OFFERED_ALGORITHMS,
  WebAuthnRejected,
  type WebAuthnRejection,
} from "../crypto/webauthn-rejection.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { mayEnrollAsNewUser } from "../enrollment-rule.ts";
import { TwofoldError } from "../errors.ts";
import { evaluateLockout } from "../lockout.ts";
import type { Application, User, WebAuthnCeremony, WebAuthnCredential } from "../model.ts";
import type { WebAuthnSettings } from "../policy.ts";
import type { WebAuthnAllowResult } from "../ports.ts";
import { throttleAddress } from "../throttle.ts";
import { recordFactorAdded, recordFactorRemoved } from "./factor-changes.ts";
import { type LoginCache, loginCacheOf } from "./login-cache.ts";
import { notify } from "./notify.ts";
import { findUser } from "./users.ts";
import { recordAuthAttempt } from "./verify-passcode.ts";

/** Which authenticator the user picked on the login page (it shapes the options, never the checks). */
export type WebAuthnMethod = "platform" | "security-key" | "hybrid";

/** The credential as interfaces show it: no key material. */
export interface WebAuthnCredentialView {
  id: string;
  name: string;
  transports: string[];
  aaguid: string;
  deviceType: WebAuthnCredential["deviceType"];
  backedUp: boolean;
  discoverable: boolean | null;
  status: WebAuthnCredential["status"];
  createdAt: number;
  lastUsedAt: number | null;
}

/** What the browser is handed (`PublicKeyCredentialCreationOptionsJSON` / `…RequestOptionsJSON`). */
export type CreationOptionsJSON = Record<string, unknown> & { challenge: string };
export type RequestOptionsJSON = Record<string, unknown> & { challenge: string };

export interface CeremonyStart<O> {
  /** Handed back to finish: the ceremony row (the challenge itself is in `options`). */
  ceremonyId: string;
  options: O;
  expiresAt: number;
}

/**
 * Proof that the user passed a second factor moments ago (G2): the transaction id of a login the completion gate
 * allowed. Adding a key needs it; a bypass or rescue code is not enough.
 */
export type SecondFactorProof =
  | { txid: string }
  /** Enrolment in the prompt: a user the enrolment rule allows (no factor now, never one; CISA AA22-074A). */
  | { newUser: true };

const SECOND = 1000;
/** §5.4.3: user handles carry no personal data; 16 random bytes each. */
const USER_HANDLE_BYTES = 16;
/** F1 / security.md §6: 32-byte challenges. */
const CHALLENGE_BYTES = 32;
const NAME_MAX = 64;
/** Factors that prove possession of an enrolled authenticator, so may be used to add another (G2). */
const PROVING_FACTORS = new Set(["totp", "hotp", "token", "push", "sms", "webauthn"]);

/**
 * The verifier and its certificate libraries (about 1 MB of JavaScript) load on the first ceremony, not at start:
 * every begin starts loading it, so the finish that follows finds it ready.
 */
let verifier: Promise<typeof import("../crypto/webauthn.ts")> | undefined;
function loadVerifier(): Promise<typeof import("../crypto/webauthn.ts")> {
  if (!verifier) {
    verifier = import("../crypto/webauthn.ts");
    // Awaited where it is used; a failed load is reported there.
    verifier.catch(() => undefined);
  }
  return verifier;
}

function settings(deps: Deps): WebAuthnSettings {
  if (!deps.webauthn) throw new TwofoldError("ERR_POLICY", "WebAuthn is not configured");
  loadVerifier();
  return deps.webauthn;
}

function contextHash(context: string): string {
  if (typeof context !== "string" || context.length === 0 || context.length > 512)
    throw new TwofoldError("ERR_VALIDATION", "a ceremony needs its caller's context (1-512 characters)");
  return sha256Hex(`twofold-webauthn-context/1\n${context}`);
}

function viewOf(c: WebAuthnCredential): WebAuthnCredentialView {
  return {
    id: c.id,
    name: c.name,
    transports: c.transports,
    aaguid: c.aaguid,
    deviceType: c.deviceType,
    backedUp: c.backupState,
    discoverable: c.discoverable,
    status: c.status,
    createdAt: c.createdAt,
    lastUsedAt: c.lastUsedAt,
  };
}

async function requireLoginUser(deps: Deps, username: string): Promise<User> {
  const user = typeof username === "string" ? await findUser(deps, username) : undefined;
  if (!user) throw new TwofoldError("ERR_USER_NOT_FOUND", "no such user");
  if (user.status === "disabled") throw new TwofoldError("ERR_FORBIDDEN", "the user is disabled");
  return user;
}

async function startCeremony(
  deps: Deps,
  w: WebAuthnSettings,
  c: Omit<WebAuthnCeremony, "id" | "createdAt" | "expiresAt">,
): Promise<{ ceremony: WebAuthnCeremony; failuresOnRecord: boolean }> {
  const now = deps.clock.now();
  const ceremony: WebAuthnCeremony = {
    ...c,
    id: timeOrderedId("WC", now),
    createdAt: now,
    expiresAt: now + w.timeoutSeconds * SECOND,
  };
  const stored = await deps.store.insertWebAuthnCeremony(
    ceremony,
    { perUser: w.maxCeremoniesPerUser, perSource: w.maxCeremoniesPerSource },
    now,
  );
  if (!stored) throw new TwofoldError("ERR_RATE_LIMITED", "too many WebAuthn ceremonies under way");
  return { ceremony, failuresOnRecord: stored.failuresOnRecord };
}

function newChallenge(): string {
  return Buffer.from(randomBytes(CHALLENGE_BYTES)).toString("base64url");
}

const HINTS: Record<WebAuthnMethod, string> = {
  platform: "client-device",
  "security-key": "security-key",
  hybrid: "hybrid",
};

// ---------------------------------------------------------------------------------------------------------------
// Registration

export interface RegistrationStart {
  username: string;
  proof: SecondFactorProof;
  /** The caller's session the ceremony is bound to (a login or account session id); finish must name it again. */
  context: string;
  /** What the user chose to add: shapes the browser's dialog. */
  method?: WebAuthnMethod;
  /** Ask for a discoverable credential (a passkey usable without a username later). Default: preferred. */
  passkey?: boolean;
  ip?: string | null;
}

/**
 * Start adding a key (W3C WebAuthn §5.4 options). Only for a user who passed a second factor within
 * `webauthn.proofMaxAgeSeconds` (G2), and below the per-user credential cap; existing keys are excluded so one
 * authenticator is not added twice.
 */
export async function beginWebAuthnRegistration(
  deps: Deps,
  input: RegistrationStart,
): Promise<CeremonyStart<CreationOptionsJSON>> {
  const w = settings(deps);
  const hash = contextHash(input.context);
  const user = await requireLoginUser(deps, input.username);
  await checkProof(deps, w, user, input.proof);
  const existing = await deps.store.listWebAuthnCredentials(user.id);
  if (existing.length >= w.maxCredentialsPerUser)
    throw new TwofoldError("ERR_POLICY", `at most ${w.maxCredentialsPerUser} keys per user`);
  const userHandle =
    existing[0]?.userHandle ?? Buffer.from(randomBytes(USER_HANDLE_BYTES)).toString("base64url");
  const userVerification =
    input.method === "platform" || input.passkey === true || w.userVerification === "required"
      ? "required"
      : "preferred";
  const { ceremony } = await startCeremony(deps, w, {
    kind: "registration",
    userId: user.id,
    contextHash: hash,
    challenge: newChallenge(),
    userVerification,
    userHandle,
    // The cap per source counts an IPv6 /64 as one address, as every other limit per source does.
    source: input.ip ? (throttleAddress(input.ip) ?? input.ip) : null,
  });
  const options: CreationOptionsJSON = {
    rp: { id: w.rpId, name: w.rpName },
    user: { id: userHandle, name: user.username, displayName: user.realName ?? user.username },
    challenge: ceremony.challenge,
    pubKeyCredParams: OFFERED_ALGORITHMS.map((alg) => ({ type: "public-key", alg })),
    timeout: w.timeoutSeconds * SECOND,
    excludeCredentials: existing.map((c) => ({
      type: "public-key",
      id: c.credentialId,
      transports: c.transports,
    })),
    authenticatorSelection: {
      residentKey: input.passkey ? "required" : "preferred",
      requireResidentKey: input.passkey === true,
      userVerification,
      ...(input.method === "platform" ? { authenticatorAttachment: "platform" } : {}),
      ...(input.method === "security-key" || input.method === "hybrid"
        ? { authenticatorAttachment: "cross-platform" }
        : {}),
    },
    attestation: w.attestation.conveyance,
    extensions: { credProps: true },
    ...(input.method ? { hints: [HINTS[input.method]] } : {}),
  };
  return { ceremonyId: ceremony.id, options, expiresAt: ceremony.expiresAt };
}

async function checkProof(
  deps: Deps,
  w: WebAuthnSettings,
  user: User,
  proof: SecondFactorProof,
): Promise<void> {
  if (proof && "newUser" in proof) {
    if (proof.newUser === true && (await mayEnrollAsNewUser(deps.store, user.id))) return;
    throw new TwofoldError("ERR_FORBIDDEN", "only a user who never had a second factor enrols without one");
  }
  const txid = typeof proof?.txid === "string" ? proof.txid : "";
  const entry = txid ? await deps.store.findAuthLogByTxid(txid) : undefined;
  const proves =
    entry?.result === "allow" &&
    entry.userId === user.id &&
    entry.at >= deps.clock.now() - w.proofMaxAgeSeconds * SECOND &&
    PROVING_FACTORS.has(entry.factor);
  if (!proves)
    throw new TwofoldError("ERR_FORBIDDEN", "adding a key needs a second factor passed moments ago", {
      detail: entry
        ? `proof ${txid}: ${entry.result} ${entry.factor} at ${entry.at}`
        : `no login with txid ${txid.slice(0, 64)}`,
    });
}

export type RegistrationRejection =
  | WebAuthnRejection
  | "unknown_ceremony"
  | "ceremony_mismatch"
  | "ceremony_expired"
  | "user_disabled"
  | "too_many_credentials"
  | "credential_exists";

export type RegistrationOutcome =
  | { result: "registered"; credential: WebAuthnCredentialView }
  | { result: "rejected"; reason: RegistrationRejection; userId: string | null };

export interface RegistrationFinish {
  ceremonyId: string;
  context: string;
  /** `RegistrationResponseJSON` from the browser, as received (checked here, F7). */
  response: unknown;
  /** What the user calls it ("Work laptop"); default from the method. */
  name?: string;
  ip?: string | null;
}

/**
 * Finish adding a key (W3C WebAuthn §7.1): take the ceremony once, check it is this caller's registration and not
 * expired, verify the response and the attestation policy, then store the credential — in one transaction, with an
 * audit record and a notification to the user (G3).
 */
export async function finishWebAuthnRegistration(
  deps: Deps,
  input: RegistrationFinish,
): Promise<RegistrationOutcome> {
  const w = settings(deps);
  const hash = contextHash(input.context);
  const name = cleanName(input.name) ?? "Security key";
  const now = deps.clock.now();
  try {
    return await deps.store.transaction(async (store) => {
      const tx: Deps = { ...deps, store };
      const ceremony =
        typeof input.ceremonyId === "string"
          ? await store.consumeWebAuthnCeremony(input.ceremonyId)
          : undefined;
      const reject = (reason: RegistrationRejection): RegistrationOutcome => ({
        result: "rejected",
        reason,
        userId: ceremony?.userId ?? null,
      });
      if (!ceremony) return reject("unknown_ceremony");
      if (
        ceremony.kind !== "registration" ||
        !constantTimeEqual(ceremony.contextHash, hash) ||
        !ceremony.userId
      )
        return reject("ceremony_mismatch");
      if (ceremony.expiresAt <= now) return reject("ceremony_expired");
      const user = await store.getUser(ceremony.userId);
      if (!user || user.status === "disabled") return reject("user_disabled");
      const existing = await store.listWebAuthnCredentials(user.id);
      if (existing.length >= w.maxCredentialsPerUser) return reject("too_many_credentials");
      let attested: VerifiedAttestation;
      try {
        attested = await (await loadVerifier()).verifyAttestation({
          response: input.response,
          expected: { challenge: ceremony.challenge, origins: w.origins, topOrigins: w.topOrigins },
          rpId: w.rpId,
          requireUserVerification: ceremony.userVerification === "required",
          allowedAAGUIDs: w.attestation.allowedAAGUIDs.map((a) => a.toLowerCase()),
          rootCertificates: w.attestation.rootCertificates,
        });
      } catch (error) {
        if (error instanceof WebAuthnRejected) return reject(error.reason);
        throw error;
      }
      if (await store.findWebAuthnCredential(attested.credentialId)) return reject("credential_exists");
      const credential: WebAuthnCredential = {
        id: randomId("WK"),
        userId: user.id,
        credentialId: attested.credentialId,
        publicKey: attested.publicKey,
        userHandle: ceremony.userHandle ?? "",
        signCount: attested.signCount,
        transports: attested.transports,
        aaguid: attested.aaguid,
        attestationFormat: attested.format,
        backupEligible: attested.backupEligible,
        backupState: attested.backupState,
        deviceType: attested.deviceType,
        discoverable: attested.discoverable,
        name,
        status: "active",
        createdAt: now,
        lastUsedAt: null,
      };
      await store.insertWebAuthnCredential(credential);
      await audit(
        tx,
        { name: user.usernameCanonical, ip: input.ip ?? null },
        {
          action: "webauthn.register",
          targetType: "user",
          targetId: user.id,
          after: {
            credential: credential.id,
            name,
            aaguid: credential.aaguid,
            format: credential.attestationFormat,
            transports: credential.transports,
            deviceType: credential.deviceType,
            userVerified: attested.userVerified,
          },
        },
      );
      await notify(tx, user.id, "factor-added", { factor: "security key", name });
      // The user has had a second factor from now on, and the browsers they trusted stop skipping (I5).
      await recordFactorAdded(tx, user.id);
      return { result: "registered", credential: viewOf(credential) };
    });
  } catch (error) {
    // Two registrations of one authenticator racing: the unique credential ID lets one in (F5).
    if (error instanceof TwofoldError && error.code === "ERR_CONFLICT")
      return { result: "rejected", reason: "credential_exists", userId: null };
    throw error;
  }
}

function cleanName(name: unknown): string | undefined {
  if (typeof name !== "string") return undefined;
  const clean = name
    .normalize("NFC")
    .replace(/\p{Cc}/gu, "")
    .trim()
    .slice(0, NAME_MAX);
  return clean.length > 0 ? clean : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Authentication

export interface AuthenticationStart {
  /**
   * The user who passed primary authentication (second-factor login). Absent: a passwordless login, where the
   * user is found from the credential and its user handle (F6) and user verification is required (F3).
   */
  username?: string;
  context: string;
  method?: WebAuthnMethod;
  ip?: string | null;
}

/**
 * Start a login with a key (W3C WebAuthn §5.5 options): the user's credentials with their transports as stored
 * (so a phone reached by QR is offered the hybrid transport), or none for a passwordless login.
 */
export async function beginWebAuthnAuthentication(
  deps: Deps,
  input: AuthenticationStart,
): Promise<CeremonyStart<RequestOptionsJSON>> {
  const w = settings(deps);
  const hash = contextHash(input.context);
  const passwordless = input.username === undefined;
  let user: User | undefined;
  let credentials: WebAuthnCredential[] = [];
  if (!passwordless) {
    user = await requireLoginUser(deps, input.username as string);
    credentials = (await deps.store.listWebAuthnCredentials(user.id)).filter((c) => c.status === "active");
    if (credentials.length === 0) throw new TwofoldError("ERR_NOT_FOUND", "the user has no usable keys");
  }
  const userVerification =
    passwordless || input.method === "platform" || w.userVerification === "required"
      ? "required"
      : "preferred";
  const { ceremony, failuresOnRecord } = await startCeremony(deps, w, {
    kind: "authentication",
    userId: user?.id ?? null,
    contextHash: hash,
    challenge: newChallenge(),
    userVerification,
    userHandle: null,
    // The cap per source counts an IPv6 /64 as one address, as every other limit per source does.
    source: input.ip ? (throttleAddress(input.ip) ?? input.ip) : null,
  });
  // The finish that comes back to this node decides an allow without a transaction (allowOnReadState), unless the
  // user's `webauthn` class had failures on record: then the transaction reads the lock before any check (A1).
  if (user && !failuresOnRecord) loginCacheOf(deps.store).ceremonies.set(ceremony.id, { ceremony, user });
  const options: RequestOptionsJSON = {
    challenge: ceremony.challenge,
    timeout: w.timeoutSeconds * SECOND,
    rpId: w.rpId,
    allowCredentials: credentials.map((c) => ({
      type: "public-key",
      id: c.credentialId,
      transports: c.transports,
    })),
    userVerification,
    ...(input.method ? { hints: [HINTS[input.method]] } : {}),
  };
  return { ceremonyId: ceremony.id, options, expiresAt: ceremony.expiresAt };
}

export type WebAuthnDenyReason =
  | WebAuthnRejection
  | "unknown_ceremony"
  | "ceremony_mismatch"
  | "ceremony_expired"
  | "unknown_credential"
  | "credential_not_users"
  | "credential_suspect"
  | "user_handle_mismatch"
  | "counter_regression"
  | "concurrent_attempt"
  | "user_disabled"
  | "locked_out"
  | "rate_delayed"
  | GateDenyReason;

export type WebAuthnOutcome =
  | {
      result: "allow";
      factor: "webauthn";
      userId: string;
      txid: string;
      reason: "valid_assertion";
      /** Twofold's id of the credential used. */
      credentialId: string;
      /** UV flag: with it the key alone is multi-factor (SP 800-63B-4 App. B). */
      userVerified: boolean;
    }
  | {
      result: "deny";
      factor: "webauthn" | "none";
      userId: string | null;
      txid: string;
      reason: WebAuthnDenyReason;
      /** Locked or delayed: when the factor takes attempts again. */
      retryAt?: number;
    };

export interface AuthenticationFinish {
  ceremonyId: string;
  context: string;
  /** `AuthenticationResponseJSON` from the browser, as received (checked here, F7). */
  response: unknown;
  application?: Application | null;
  ip?: string | null;
  txid?: string;
  /**
   * A prompt login this assertion completes: on an allow it becomes `allowed` in the same transaction. A login that
   * has ended (or is another user's) rolls the whole attempt back with ERR_LOGIN_SESSION_ENDED: the ceremony and
   * the counter stay as they were.
   */
  loginSessionId?: string;
}

/**
 * Finish a login with a key — the one path every caller (prompt, portal step-up, passwordless) takes (F7). In one
 * transaction: take the ceremony once (F1), find the user (the ceremony's, or for a passwordless login the
 * credential's, confirmed by its user handle, F6), take the user's `webauthn` lockout row and refuse while locked
 * (A1), verify the assertion (F2, F3), accept the signature counter only forward by a conditional write (F4; a
 * regression denies, flags the credential and tells the user), then complete through the completion gate (A4).
 * Failures after the user is known count towards the `webauthn` lock.
 */
export async function finishWebAuthnAuthentication(
  deps: Deps,
  input: AuthenticationFinish,
): Promise<WebAuthnOutcome> {
  const w = settings(deps);
  const hash = contextHash(input.context);
  const txid = input.txid ?? randomHex(16);
  const now = deps.clock.now();
  const app = input.application ?? null;
  const credentialId = credentialIdOf(input.response);
  const cache = loginCacheOf(deps.store);
  const begun = typeof input.ceremonyId === "string" ? cache.ceremonies.get(input.ceremonyId) : undefined;
  if (begun) {
    cache.ceremonies.delete(begun.ceremony.id);
    if (credentialId) {
      const outcome = await allowOnReadState(deps, cache, {
        ...begun,
        input,
        w,
        hash,
        credentialId,
        app,
        txid,
        now,
      });
      if (outcome) return outcome;
      cache.keys.delete(credentialId);
    }
  }

  return deps.store.transaction(async (store) => {
    const tx: Deps = { ...deps, store };
    let user: User | undefined;
    const deny = async (
      reason: WebAuthnDenyReason,
      factor: "webauthn" | "none" = "webauthn",
      retryAt?: number | null,
    ): Promise<WebAuthnOutcome> => {
      await recordAuthAttempt(tx, {
        user,
        username: user?.usernameCanonical ?? "",
        application: app,
        ip: input.ip ?? null,
        txid,
        now,
        factor,
        result: "deny",
        reason,
      });
      return {
        result: "deny",
        factor,
        userId: user?.id ?? null,
        txid,
        reason,
        ...(retryAt ? { retryAt } : {}),
      };
    };
    const fail = async (reason: WebAuthnDenyReason): Promise<WebAuthnOutcome> => {
      const u = user as User;
      const failures = await store.recordFailure(u.id, "webauthn", now);
      if (failures === deps.policy.lockout.maxFailures) {
        await audit(
          tx,
          { name: "system" },
          {
            action: "user.locked_out",
            targetType: "user",
            targetId: u.id,
            after: { factorClass: "webauthn", failures },
          },
        );
        await notify(tx, u.id, "locked-out", { factorClass: "webauthn" });
      }
      return deny(reason);
    };

    const ceremony =
      typeof input.ceremonyId === "string"
        ? await store.consumeWebAuthnCeremony(input.ceremonyId)
        : undefined;
    if (!ceremony) return deny("unknown_ceremony", "none");
    if (ceremony.kind !== "authentication" || !constantTimeEqual(ceremony.contextHash, hash))
      return deny("ceremony_mismatch", "none");
    if (ceremony.expiresAt <= now) return deny("ceremony_expired", "none");
    const credential = credentialId ? await store.findWebAuthnCredential(credentialId) : undefined;
    const userId = ceremony.userId ?? credential?.userId;
    if (!userId) return deny("unknown_credential", "none");
    user = await store.getUser(userId);
    if (!user) return deny("user_deleted", "none");
    if (user.status === "disabled") return deny("user_disabled", "none");

    // Attempts for one user are checked one at a time on every node (A2); a locked class checks nothing (A1).
    const decision = evaluateLockout(
      await store.lockAttemptState(user.id, "webauthn"),
      now,
      deps.policy.lockout,
    );
    if (!decision.allowed)
      return deny(decision.locked ? "locked_out" : "rate_delayed", "none", decision.retryAt);

    if (!credential) return fail("unknown_credential");
    if (credential.userId !== user.id) return fail("credential_not_users");
    if (credential.status !== "active") return fail("credential_suspect");
    let verified: VerifiedAssertion;
    try {
      verified = await (await loadVerifier()).verifyAssertion({
        response: input.response,
        credential,
        expected: { challenge: ceremony.challenge, origins: w.origins, topOrigins: w.topOrigins },
        rpId: w.rpId,
        requireUserVerification: ceremony.userVerification === "required",
      });
    } catch (error) {
      if (error instanceof WebAuthnRejected) return fail(error.reason);
      throw error;
    }
    // §7.2 step 6: a user handle, when sent, must be the credential's; a passwordless login needs one (F6).
    if (
      (verified.userHandle !== null && !constantTimeEqual(verified.userHandle, credential.userHandle)) ||
      (ceremony.userId === null && verified.userHandle === null)
    )
      return fail("user_handle_mismatch");

    // §6.1.1: a counter that does not grow (unless both are 0) means two authenticators hold the key (F4).
    const regressed =
      (verified.signCount > 0 || credential.signCount > 0) && verified.signCount <= credential.signCount;
    if (regressed) {
      await store.markWebAuthnCredentialSuspect(credential.id);
      await audit(
        tx,
        { name: "system", ip: input.ip ?? null },
        {
          action: "webauthn.clone_suspected",
          targetType: "user",
          targetId: user.id,
          after: { credential: credential.id, stored: credential.signCount, received: verified.signCount },
        },
      );
      await notify(tx, user.id, "webauthn-clone-suspected", { name: credential.name });
      return fail("counter_regression");
    }
    if (!(await store.advanceWebAuthnCounter(credential.id, verified.signCount, verified.backupState, now)))
      return deny("concurrent_attempt");

    const verdict = await completeAuthentication(tx, {
      userId: user.id,
      username: user.usernameCanonical,
      applicationId: app?.id ?? null,
      factor: "webauthn",
      factorClass: "webauthn",
      reason: "valid_assertion",
      ip: input.ip ?? null,
      txid,
      now,
    });
    if (verdict.result === "deny")
      return {
        result: "deny",
        factor: "webauthn",
        userId: user.id,
        txid,
        reason: verdict.reason,
        ...(verdict.retryAt ? { retryAt: verdict.retryAt } : {}),
      };
    if (
      input.loginSessionId !== undefined &&
      !(await store.allowLoginSession(input.loginSessionId, user.id, { factor: "webauthn", txid, at: now }))
    )
      throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended", {
        detail: "the prompt login was no longer pending when its assertion checked out",
      });
    return {
      result: "allow",
      factor: "webauthn",
      userId: user.id,
      txid,
      reason: "valid_assertion",
      credentialId: credential.id,
      userVerified: verified.userVerified,
    };
  });
}

/**
 * The common login with a key, decided without a transaction: a ceremony this node began, the credential as this
 * node last read it, the signature checked on the thread pool, the completion gate's decision on the user as found
 * at the ceremony's start, a clear `webauthn` counter and the application as given, then one conditional write
 * (Store.commitWebAuthnAllow: on PostgreSQL one statement) that takes the ceremony, moves the counter forward and
 * logs the allow only if all of that still holds. Undefined for anything else — an assertion that does not check
 * out, a counter that did not grow, a state that changed — and the caller decides in its transaction, where every
 * deny is decided, counted and logged (the ceremony is still there then). A counter race lost on PostgreSQL is the
 * one deny decided here (concurrent_attempt).
 */
async function allowOnReadState(
  deps: Deps,
  cache: LoginCache,
  a: {
    ceremony: WebAuthnCeremony;
    user: User;
    input: AuthenticationFinish;
    w: WebAuthnSettings;
    hash: string;
    credentialId: string;
    app: Application | null;
    txid: string;
    now: number;
  },
): Promise<WebAuthnOutcome | undefined> {
  const { ceremony, app } = a;
  const userId = ceremony.userId;
  if (
    userId === null ||
    ceremony.kind !== "authentication" ||
    ceremony.expiresAt <= a.now ||
    !constantTimeEqual(ceremony.contextHash, a.hash)
  )
    return undefined;
  let credential = cache.keys.get(a.credentialId);
  if (!credential) {
    credential = await deps.store.findWebAuthnCredential(a.credentialId);
    if (!credential) return undefined;
    cache.keys.set(a.credentialId, credential);
  }
  if (credential.userId !== userId || credential.status !== "active") return undefined;
  let verified: VerifiedAssertion;
  try {
    verified = await (await loadVerifier()).verifyAssertion({
      response: a.input.response,
      credential,
      expected: { challenge: ceremony.challenge, origins: a.w.origins, topOrigins: a.w.topOrigins },
      rpId: a.w.rpId,
      requireUserVerification: ceremony.userVerification === "required",
      offThread: true,
    });
  } catch (error) {
    if (error instanceof WebAuthnRejected) return undefined;
    throw error;
  }
  if (verified.userHandle !== null && !constantTimeEqual(verified.userHandle, credential.userHandle))
    return undefined;
  if ((verified.signCount > 0 || credential.signCount > 0) && verified.signCount <= credential.signCount)
    return undefined;
  let written: WebAuthnAllowResult | undefined;
  const verdict = await completeAuthenticationOnPresumedState(
    deps,
    {
      userId,
      username: a.user.usernameCanonical,
      applicationId: app?.id ?? null,
      factor: "webauthn",
      factorClass: "webauthn",
      reason: "valid_assertion",
      ip: a.input.ip ?? null,
      txid: a.txid,
      now: a.now,
    },
    { userStatus: "active", application: app },
    async (line) => {
      written = await deps.store.commitWebAuthnAllow({
        userId,
        canonicalName: a.user.usernameCanonical,
        application: app && { id: app.id, updatedAt: app.updatedAt, policy: app.policy },
        ceremonyId: ceremony.id,
        credential: { id: credential.id, signCount: verified.signCount, backupState: verified.backupState },
        line,
        ...(a.input.loginSessionId === undefined ? {} : { loginSessionId: a.input.loginSessionId }),
      });
      return written === "allowed";
    },
  );
  if (written === "taken") {
    // Another finish with this key moved its counter between this one's check and its write: the ceremony is gone,
    // and the attempt is refused as the transaction refuses a counter that moved under it (concurrent_attempt).
    cache.keys.delete(a.credentialId);
    await recordAuthAttempt(deps, {
      user: a.user,
      username: a.user.usernameCanonical,
      application: app,
      ip: a.input.ip ?? null,
      txid: a.txid,
      now: a.now,
      factor: "webauthn",
      result: "deny",
      reason: "concurrent_attempt",
    });
    return { result: "deny", factor: "webauthn", userId, txid: a.txid, reason: "concurrent_attempt" };
  }
  if (verdict === "stale") return undefined;
  if (cache.keys.get(a.credentialId) === credential)
    cache.keys.set(a.credentialId, {
      ...credential,
      signCount: verified.signCount,
      backupState: verified.backupState,
      lastUsedAt: a.now,
    });
  return {
    result: "allow",
    factor: "webauthn",
    userId,
    txid: a.txid,
    reason: "valid_assertion",
    credentialId: credential.id,
    userVerified: verified.userVerified,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Management

export async function listWebAuthnCredentials(
  deps: Deps,
  username: string,
): Promise<WebAuthnCredentialView[]> {
  const user = await findUser(deps, username);
  if (!user) throw new TwofoldError("ERR_USER_NOT_FOUND", "no such user");
  return (await deps.store.listWebAuthnCredentials(user.id)).map(viewOf);
}

async function ownCredential(deps: Deps, username: string, id: string): Promise<WebAuthnCredential> {
  const user = await findUser(deps, username);
  const credential = typeof id === "string" ? await deps.store.getWebAuthnCredential(id) : undefined;
  // Another user's key reads as no key at all.
  if (!user || !credential || credential.userId !== user.id)
    throw new TwofoldError("ERR_NOT_FOUND", "no such key for this user");
  return credential;
}

export async function renameWebAuthnCredential(
  deps: Deps,
  actor: Actor,
  input: { username: string; credentialId: string; name: string },
): Promise<WebAuthnCredentialView> {
  const name = cleanName(input.name);
  if (!name)
    throw new TwofoldError("ERR_VALIDATION", "a key needs a name", {
      issues: [{ path: "name", message: `1-${NAME_MAX} characters` }],
    });
  const credential = await ownCredential(deps, input.username, input.credentialId);
  await deps.store.transaction(async (tx) => {
    if (!(await tx.renameWebAuthnCredential(credential.id, name)))
      throw new TwofoldError("ERR_NOT_FOUND", "no such key for this user");
    await audit({ ...deps, store: tx }, actor, {
      action: "webauthn.rename",
      targetType: "user",
      targetId: credential.userId,
      before: { credential: credential.id, name: credential.name },
      after: { credential: credential.id, name },
    });
  });
  return viewOf({ ...credential, name });
}

/**
 * Remove a key: audited, the user told (G3), and effective on every node at once (a key read earlier is only used
 * under a write that finds it, G4).
 */
export async function removeWebAuthnCredential(
  deps: Deps,
  actor: Actor,
  input: { username: string; credentialId: string },
): Promise<void> {
  const credential = await ownCredential(deps, input.username, input.credentialId);
  await deps.store.transaction(async (tx) => {
    if (!(await tx.deleteWebAuthnCredential(credential.id)))
      throw new TwofoldError("ERR_NOT_FOUND", "no such key for this user");
    const txDeps = { ...deps, store: tx };
    await audit(txDeps, actor, {
      action: "factor.remove",
      targetType: "user",
      targetId: credential.userId,
      before: {
        credential: credential.id,
        kind: "webauthn",
        name: credential.name,
        aaguid: credential.aaguid,
      },
    });
    await notify(txDeps, credential.userId, "factor-removed", {
      factor: "security key",
      name: credential.name,
    });
    // Trusted browsers stop skipping (I5), in this transaction.
    await recordFactorRemoved(txDeps, credential.userId);
  });
}
