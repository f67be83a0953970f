// Authenticator-app enrolment: a pending TOTP secret shown once as an otpauth:// URI, active only after a valid code (B5).
import { encodeBase32 } from "../base32.ts";
import { randomBytes, randomId } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { TwofoldError } from "../errors.ts";
import type { OTPCredential } from "../model.ts";
import { buildOTPAuthURI } from "../otp/otpauth-uri.ts";
import { Secret } from "../secret.ts";
import { recordFactorAdded, recordFactorRemoved } from "./factor-changes.ts";
import { notify } from "./notify.ts";
import { clampDrift, matchOTP, otpSealContext } from "./otp-credentials.ts";
import { requireUser } from "./users.ts";

export interface TOTPEnrollment {
  credentialId: string;
  /** otpauth:// URI with the secret: show once (QR code), never store or log. */
  uri: Secret<string>;
  /** The base32 secret, for typing into an app by hand. */
  secret: Secret<string>;
  expiresAt: number;
}

export async function enrollTOTP(
  deps: Deps,
  actor: Actor,
  identifier: string,
  options: { label?: string } = {},
): Promise<TOTPEnrollment> {
  const user = await requireUser(deps, identifier);
  const p = deps.policy.totp;
  const now = deps.clock.now();
  const id = randomId("DA");
  const secret = randomBytes(p.secretBytes);
  const expiresAt = now + p.enrollmentTtlSeconds * 1000;
  const credential: OTPCredential = {
    id,
    kind: "app",
    serial: null,
    userId: user.id,
    type: "totp",
    algorithm: p.algorithm,
    digits: p.digits,
    period: p.period,
    secretSealed: deps.keyring.seal(secret, otpSealContext(id)),
    counter: 0,
    lastStep: null,
    drift: 0,
    status: "pending",
    label: options.label ?? "Authenticator app",
    manufacturer: null,
    model: null,
    createdAt: now,
    activatedAt: null,
    pendingExpiresAt: expiresAt,
    assignedAt: null,
  };
  await deps.store.transaction(async (tx) => {
    await tx.deleteExpiredPendingOTP(now);
    await tx.insertOTPCredentials([credential]);
    await audit({ ...deps, store: tx }, actor, {
      action: "totp.enroll.start",
      targetType: "user",
      targetId: user.id,
      after: { credentialId: id, algorithm: p.algorithm, digits: p.digits, period: p.period },
    });
  });
  const uri = buildOTPAuthURI({
    type: "totp",
    issuer: deps.issuer,
    account: user.username,
    secret,
    algorithm: p.algorithm,
    digits: p.digits,
    period: p.period,
  });
  return { credentialId: id, uri: new Secret(uri), secret: new Secret(encodeBase32(secret)), expiresAt };
}

/**
 * Activate a pending enrolment with a code from the app. The confirming step is recorded as used, so
 * the same code cannot also be used to log in (B1).
 */
export async function confirmTOTP(
  deps: Deps,
  actor: Actor,
  credentialId: string,
  code: string,
): Promise<void> {
  const now = deps.clock.now();
  const c = await deps.store.getOTPCredential(credentialId);
  if (c?.kind !== "app" || c.status !== "pending")
    throw new TwofoldError("ERR_ENROLLMENT_NOT_FOUND", "no pending enrolment with that id");
  if (c.pendingExpiresAt !== null && c.pendingExpiresAt <= now)
    throw new TwofoldError("ERR_ENROLLMENT_EXPIRED", "the enrolment expired; start again");
  const m = matchOTP(deps.keyring, c, code.trim(), now, {
    totpWindow: deps.policy.totp.window,
    hotpLookAhead: deps.policy.hotp.lookAhead,
  });
  if (m?.type !== "totp")
    throw new TwofoldError("ERR_TOTP_INVALID", "that code is not right; check the app and try again");
  await deps.store.transaction(async (tx) => {
    const ok = await tx.activateOTPCredential(
      c.id,
      { step: m.match.step, drift: clampDrift(m.match.offset, deps.policy.totp.maxDrift) },
      now,
    );
    if (!ok)
      throw new TwofoldError("ERR_ENROLLMENT_NOT_FOUND", "the enrolment was already confirmed or expired");
    if (c.userId) await recordFactorAdded({ ...deps, store: tx }, c.userId);
    await audit({ ...deps, store: tx }, actor, {
      action: "factor.add",
      targetType: "user",
      targetId: c.userId,
      after: { credentialId: c.id, kind: "app", type: "totp" },
    });
    await notify({ ...deps, store: tx }, c.userId!, "factor-added", { factor: "authenticator app" });
  });
}

export async function removeOTPCredential(deps: Deps, actor: Actor, credentialId: string): Promise<void> {
  const c = await deps.store.getOTPCredential(credentialId);
  if (c?.kind !== "app") throw new TwofoldError("ERR_NOT_FOUND", "no such authenticator-app enrolment");
  await deps.store.transaction(async (tx) => {
    await tx.deleteOTPCredential(c.id);
    await audit({ ...deps, store: tx }, actor, {
      action: "factor.remove",
      targetType: "user",
      targetId: c.userId,
      before: { credentialId: c.id, kind: c.kind, type: c.type },
    });
    if (c.userId) {
      await recordFactorRemoved({ ...deps, store: tx }, c.userId);
      await notify({ ...deps, store: tx }, c.userId, "factor-removed", { factor: "authenticator app" });
    }
  });
}
