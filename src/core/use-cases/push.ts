// Push approval: device activation, push transactions with number matching, signed answers, fatigue limits (D1-D6, G5).

import { allowsMethod, effectivePolicy } from "../application-policy.ts";
import { encodeBase32 } from "../base32.ts";
import { completeAuthentication } from "../completion-gate.ts";
import { importP256PublicKey, verifyP256Signature } from "../crypto/ecdsa.ts";
import {
  randomBelow,
  randomBytes,
  randomDigits,
  randomHex,
  randomId,
  sha256Hex,
  timeOrderedId,
} from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { pushAnswerText } from "../device-protocol.ts";
import { TwofoldError } from "../errors.ts";
import { evaluateLockout } from "../lockout.ts";
import type {
  Application,
  Device,
  OTPCredential,
  PushContext,
  PushStatus,
  PushTransaction,
  User,
} from "../model.ts";
import type { PushEvent, PushView } from "../ports.ts";
import { Secret } from "../secret.ts";
import { recordFactorAdded } from "./factor-changes.ts";
import { notify } from "./notify.ts";
import { otpSealContext } from "./otp-credentials.ts";
import { revokeTrustedBrowsersForUser } from "./trust-revocation.ts";
import { findUser, requireUser } from "./users.ts";

// ---------------------------------------------------------------- activation (G5, D3)

/** Where a device's sealed delivery data (its Web Push subscription) is bound. */
export function pushCodeSealContext(txid: string) {
  return { table: "push_transactions", column: "code_sealed", row: txid };
}

/** The verified-push code of a push, for the login that started it (Auth API status); null on plain approve. */
export function openPushCode(deps: Pick<Deps, "keyring">, push: PushTransaction): string | null {
  if (!push.codeSealed) return null;
  return Buffer.from(deps.keyring.open(push.codeSealed, pushCodeSealContext(push.id))).toString("utf8");
}

export function deliverySealContext(deviceId: string) {
  return { table: "devices", column: "delivery_sealed", row: deviceId };
}

export interface DeviceActivationTicket {
  activationId: string;
  /** `id.secret`: put in the activation link / QR code, shown once. 160 random bits (G5 asks ≥ 112). */
  token: Secret<string>;
  expiresAt: number;
}

export async function createDeviceActivation(
  deps: Deps,
  actor: Actor,
  identifier: string,
  options: {
    /** The Admin API phone this activation is for: the device is recorded on it once activated. */
    phoneId?: string;
    /** Validity, at most the policy's activation lifetime. */
    validSeconds?: number;
  } = {},
): Promise<DeviceActivationTicket> {
  const user = await requireUser(deps, identifier);
  const now = deps.clock.now();
  const id = randomId("AC");
  const secret = Buffer.from(randomBytes(20)).toString("base64url");
  const seconds = Math.min(
    options.validSeconds ?? Number.POSITIVE_INFINITY,
    deps.policy.push.activationSeconds,
  );
  const expiresAt = now + seconds * 1000;
  await deps.store.transaction(async (tx) => {
    await tx.insertDeviceActivation({
      id,
      userId: user.id,
      secretHash: deps.keyring.hashCode(secret, id),
      createdAt: now,
      expiresAt,
      usedAt: null,
      phoneId: options.phoneId ?? null,
    });
    await audit({ ...deps, store: tx }, actor, {
      action: "device.activation.create",
      targetType: "user",
      targetId: user.id,
      after: { activationId: id, expiresAt, ...(options.phoneId ? { phoneId: options.phoneId } : {}) },
    });
  });
  return { activationId: id, token: new Secret(`${id}.${secret}`), expiresAt };
}

/** The activation QR code is sealed at rest: it holds the activation secret. */
function barcodeSealContext(activationId: string) {
  return { table: "device_activations", column: "barcode_sealed", row: activationId };
}

/**
 * Keep an activation's QR code image, rendered once by the caller, under a new opaque handle: 128 random bits that
 * say nothing of the activation or its secret, so the image's URL carries no secret (only the hash is stored).
 */
export async function attachActivationBarcode(
  deps: Deps,
  activationId: string,
  image: Uint8Array,
): Promise<string> {
  const handle = randomHex(16);
  const sealed = deps.keyring.seal(image, barcodeSealContext(activationId));
  if (!(await deps.store.setDeviceActivationBarcode(activationId, sha256Hex(handle), sealed)))
    throw new TwofoldError("ERR_CONFLICT", "the activation already has a QR code");
  return handle;
}

/** The QR code image behind a handle, while its activation can still be used; undefined otherwise. */
export async function readActivationBarcode(deps: Deps, handle: string): Promise<Uint8Array | undefined> {
  const found = await deps.store.findDeviceActivationBarcode(sha256Hex(handle));
  if (!found) return undefined;
  const { activation, barcodeSealed } = found;
  if (activation.usedAt !== null || activation.expiresAt <= deps.clock.now()) return undefined;
  return deps.keyring.open(barcodeSealed, barcodeSealContext(activation.id));
}

export interface DeviceRegistration {
  token: string;
  name: string;
  /** base64url of the 65-byte uncompressed P-256 public key (WebCrypto `exportKey("raw")`). */
  publicKey: string;
  /** Opaque delivery data (a Web Push subscription), sealed at rest. */
  delivery?: unknown;
}

/** The offline passcode seed given to a device once, at activation. */
export interface ProvisionedTOTP {
  secret: Secret<string>;
  algorithm: OTPCredential["algorithm"];
  digits: number;
  period: number;
  issuer: string;
  account: string;
}

/**
 * Bind a device with a single-use activation: refused when unknown, used, expired or the key is not P-256.
 * The same activation provisions the device's offline passcodes: an active TOTP credential of the user,
 * whose seed is returned once and removed with the device.
 */
export async function activateDevice(
  deps: Deps,
  registration: DeviceRegistration,
): Promise<{ device: Device; user: User; totp: ProvisionedTOTP }> {
  const invalid = () =>
    new TwofoldError("ERR_ACTIVATION_INVALID", "this activation link is not valid (used or expired?)");
  const [id, secret] = registration.token.split(".");
  if (!id || !secret) throw invalid();
  const now = deps.clock.now();
  const activation = await deps.store.getDeviceActivation(id);
  if (!activation || !deps.keyring.verifyCodeHash(secret, id, activation.secretHash)) throw invalid();
  const publicKey = Buffer.from(registration.publicKey, "base64url");
  if (!importP256PublicKey(publicKey))
    throw new TwofoldError("ERR_VALIDATION", "publicKey must be an uncompressed P-256 point", {
      issues: [{ path: "publicKey", message: "not an uncompressed P-256 point (base64url)" }],
    });
  const name = registration.name.trim().slice(0, 100) || "Twofold Authenticator";
  const deviceId = randomId("DP");
  const t = deps.policy.totp;
  const seed = randomBytes(t.secretBytes);
  const credential: OTPCredential = {
    id: randomId("DA"),
    kind: "app",
    serial: null,
    userId: activation.userId,
    type: "totp",
    algorithm: t.algorithm,
    digits: t.digits,
    period: t.period,
    secretSealed: "",
    counter: 0,
    lastStep: null,
    drift: 0,
    status: "active",
    label: `Twofold Authenticator: ${name}`,
    manufacturer: null,
    model: null,
    createdAt: now,
    activatedAt: now,
    pendingExpiresAt: null,
    assignedAt: null,
  };
  credential.secretSealed = deps.keyring.seal(seed, otpSealContext(credential.id));
  const device: Device = {
    id: deviceId,
    userId: activation.userId,
    name,
    publicKey: Buffer.from(publicKey).toString("base64url"),
    deliverySealed:
      registration.delivery === undefined
        ? null
        : deps.keyring.seal(
            Buffer.from(JSON.stringify(registration.delivery)),
            deliverySealContext(deviceId),
          ),
    status: "active",
    otpCredentialId: credential.id,
    createdAt: now,
    lastSeenAt: now,
  };
  await deps.store.transaction(async (tx) => {
    if (!(await tx.consumeDeviceActivation(id, now))) throw invalid();
    await tx.insertOTPCredentials([credential]);
    await tx.insertDevice(device);
    if (activation.phoneId) {
      // Re-activating a phone (a new handset, a reinstalled app) replaces the authenticator it had.
      const previous = (await tx.getPhone(activation.phoneId))?.deviceId;
      const old = previous ? await tx.getDevice(previous) : undefined;
      if (old?.status === "active") {
        await tx.setDeviceStatus(old.id, "revoked");
        await tx.setDeviceDelivery(old.id, null);
        if (old.otpCredentialId) await tx.deleteOTPCredential(old.otpCredentialId);
        await audit(
          { ...deps, store: tx },
          { name: `device:${deviceId}` },
          {
            action: "factor.remove",
            targetType: "user",
            targetId: old.userId,
            before: { deviceId: old.id, kind: "authenticator", name: old.name, replacedBy: deviceId },
          },
        );
      }
      await tx.setPhoneDevice(activation.phoneId, deviceId);
    }
    await recordFactorAdded({ ...deps, store: tx }, activation.userId);
    await audit(
      { ...deps, store: tx },
      { name: `device:${deviceId}` },
      {
        action: "factor.add",
        targetType: "user",
        targetId: activation.userId,
        after: { deviceId, kind: "authenticator", name, credentialId: credential.id },
      },
    );
    await notify({ ...deps, store: tx }, activation.userId, "factor-added", {
      factor: "Twofold Authenticator",
      name,
    });
  });
  // An enrolment page showing this activation's QR code moves on (on any node).
  await publishQuietly(deps, { kind: "activated", userId: activation.userId });
  const user = (await deps.store.getUser(activation.userId))!;
  return {
    device,
    user,
    totp: {
      secret: new Secret(encodeBase32(seed)),
      algorithm: t.algorithm,
      digits: t.digits,
      period: t.period,
      issuer: deps.issuer,
      account: user.username,
    },
  };
}

// ---------------------------------------------------------------- starting a push (D1, D4, D5, D6)

export interface PushRequest {
  username: string;
  application?: Application | null;
  ip?: string | null;
  place?: string | null;
  /** Application-supplied text (Duo `pushinfo`), shown as text. */
  info?: string | null;
  /** Verified push: the login screen shows a code the user types into the app (D1). */
  verified: boolean;
}

export type PushStart =
  | {
      started: true;
      txid: string;
      userId: string;
      expiresAt: number;
      code: Secret<string> | null;
      devices: Device[];
    }
  | {
      started: false;
      reason:
        | "no_devices"
        | "push_suspended"
        | "push_pending"
        | "rate_limited"
        | "too_many_since_success"
        | "locked_out"
        | "unknown_user"
        | "application_disabled"
        | "verified_push_required"
        | "push_not_allowed";
    };

export async function startPush(deps: Deps, request: PushRequest): Promise<PushStart> {
  const p = deps.policy.push;
  if (request.info && Buffer.byteLength(request.info, "utf8") > p.infoMaxBytes)
    throw new TwofoldError("ERR_VALIDATION", `push text is limited to ${p.infoMaxBytes} bytes`, {
      issues: [{ path: "info", message: `longer than ${p.infoMaxBytes} bytes` }],
    });
  if (request.application?.status === "disabled") return { started: false, reason: "application_disabled" };
  const policy = request.application && effectivePolicy(deps.policy, request.application);
  // The application's policy may leave push out (the completion gate would deny the approval anyway).
  if (policy && !allowsMethod(policy, "push")) return { started: false, reason: "push_not_allowed" };
  // D1: an application gets pushes without number matching only when its policy says it has no screen.
  if (!request.verified && policy && policy.allowPlainPush !== true)
    return { started: false, reason: "verified_push_required" };
  const user = await findUser(deps, request.username);
  if (!user || user.status === "disabled") return { started: false, reason: "unknown_user" };
  const now = deps.clock.now();
  const devices = (await deps.store.listDevices(user.id)).filter((d) => d.status === "active");
  if (devices.length === 0) return { started: false, reason: "no_devices" };
  if ((await deps.store.getPushSuspendedAt(user.id)) !== null)
    return { started: false, reason: "push_suspended" };

  const place = request.place ?? (request.ip ? (deps.places?.lookup(request.ip) ?? null) : null);
  const started = await deps.store.transaction(async (tx) => {
    // Serialise push starts per user, so limits hold when logins race on several nodes.
    const lock = await tx.lockAttemptState(user.id, "push");
    if (!evaluateLockout(lock, now, deps.policy.lockout).allowed)
      return { started: false, reason: "locked_out" } as const;
    await tx.expirePushTransactions(now);
    const recent = await tx.listPushTransactions(user.id, now - Math.max(p.rateWindowSeconds, 86_400) * 1000);
    if (recent.filter((t) => t.status === "pending").length >= p.maxPending)
      return { started: false, reason: "push_pending" } as const;
    const windowStart = now - p.rateWindowSeconds * 1000;
    if (recent.filter((t) => t.createdAt >= windowStart).length >= p.ratePerWindow)
      return { started: false, reason: "rate_limited" } as const;
    const lastApproval = recent.findIndex((t) => t.status === "approved");
    const sinceSuccess = lastApproval === -1 ? recent.length : lastApproval;
    if (sinceSuccess >= p.maxSinceSuccess)
      return { started: false, reason: "too_many_since_success" } as const;

    const txid = randomHex(16);
    const code = request.verified ? randomDigits(p.codeDigits) : null;
    const context: PushContext = {
      application: request.application?.name ?? "Twofold",
      time: now,
      ip: request.ip ?? null,
      place,
      info: request.info ?? null,
      ...(code === null ? {} : { codeDigits: p.codeDigits }),
    };
    const push: PushTransaction = {
      id: txid,
      userId: user.id,
      applicationId: request.application?.id ?? null,
      status: "pending",
      codeHash: code === null ? null : deps.keyring.hashCode(code, txid),
      codeSealed: code === null ? null : deps.keyring.seal(Buffer.from(code), pushCodeSealContext(txid)),
      context,
      createdAt: now,
      expiresAt: now + p.lifetimeSeconds * 1000,
      answeredAt: null,
      deviceId: null,
    };
    await tx.insertPushTransaction(push);
    return {
      started: true,
      txid,
      userId: user.id,
      expiresAt: push.expiresAt,
      code: code === null ? null : new Secret(code),
      devices,
      push,
    } as const;
  });
  if (!started.started) return started;
  // Committed: now wake open apps (any node) and send Web Push. Neither decides anything, so neither may
  // fail the login: the app also polls, and the waiting login re-reads the store.
  await publishQuietly(deps, { kind: "created", txid: started.txid, userId: user.id });
  deps.pushDelivery?.deliver(pushView(started.push), devices);
  const { push: _push, ...result } = started;
  return result;
}

/** What a device is shown about a push. */
export function pushView(push: PushTransaction): PushView {
  return {
    txid: push.id,
    application: push.context.application,
    time: push.context.time,
    ip: push.context.ip,
    place: push.context.place,
    info: push.context.info,
    expiresAt: push.expiresAt,
    verified: push.codeHash !== null,
    codeDigits: push.codeHash === null ? null : (push.context.codeDigits ?? null),
  };
}

async function publishQuietly(deps: Deps, event: PushEvent): Promise<void> {
  try {
    await deps.pushEvents.publish(event);
  } catch {
    // Wake-ups are hints; waiters re-read the store on a timer.
  }
}

// ---------------------------------------------------------------- answering (D1, D2, D3, D5, A4)

export type PushDecision = "approve" | "deny" | "fraud";

export interface PushAnswer {
  txid: string;
  deviceId: string;
  decision: PushDecision;
  /** Verified push: the code the user typed. */
  code?: string;
  /** When the device signed the answer (ms since epoch). */
  timestamp: number;
  /** base64url ES256 signature (raw r‖s) over canonicalPushAnswer(...). */
  signature: string;
}

/** The exact bytes a device signs: fixed fields, one per line, so no field can bleed into another (D3). */
export function canonicalPushAnswer(a: Omit<PushAnswer, "signature" | "deviceId">): Uint8Array {
  return new Uint8Array(Buffer.from(pushAnswerText(a.txid, a.decision, a.code, a.timestamp), "utf8"));
}

/**
 * Apply a device's answer. Refused (ERR_PUSH_ANSWER_INVALID) when the device is not the user's, the
 * signature does not verify, or the timestamp is stale. The terminal state is one conditional write, so
 * racing answers end in exactly one state (D2). A wrong typed code denies the login and counts as a
 * failure (D1); an approval is a login only through the completion gate, which re-reads user, application,
 * the push lock and policy in the same transaction (A4); "fraud" suspends pushes (D5).
 */
export async function answerPush(deps: Deps, answer: PushAnswer): Promise<{ status: PushStatus }> {
  const now = deps.clock.now();
  const refuse = (detail: string) =>
    new TwofoldError("ERR_PUSH_ANSWER_INVALID", "this answer was refused", { detail });
  const push = await deps.store.getPushTransaction(answer.txid);
  if (!push) throw new TwofoldError("ERR_PUSH_NOT_FOUND", "no such push");
  const device = await deps.store.getDevice(answer.deviceId);
  if (device?.status !== "active" || device.userId !== push.userId) throw refuse("device not the user's");
  if (!["approve", "deny", "fraud"].includes(answer.decision)) throw refuse("unknown decision");
  if (Math.abs(now - answer.timestamp) > deps.policy.push.answerMaxAgeSeconds * 1000)
    throw refuse("stale timestamp");
  const signed = verifyP256Signature(
    Buffer.from(device.publicKey, "base64url"),
    canonicalPushAnswer(answer),
    Buffer.from(answer.signature, "base64url"),
  );
  if (!signed) throw refuse("bad signature");
  if (push.status !== "pending")
    throw new TwofoldError("ERR_PUSH_ALREADY_ANSWERED", "this push already has an answer");
  if (push.expiresAt <= now) {
    await deps.store.expirePushTransactions(now);
    throw new TwofoldError("ERR_PUSH_EXPIRED", "this push has expired");
  }

  const codeMatches =
    push.codeHash === null ||
    Boolean(answer.code && deps.keyring.verifyCodeHash(answer.code, push.id, push.codeHash));

  const result = await deps.store.transaction(async (tx) => {
    // The user's push lockout row first, as startPush takes it: answers and starts for one user queue up,
    // and what the completion gate reads below cannot change before this answer commits (A4).
    await tx.lockAttemptState(push.userId, "push");
    const txDeps = { ...deps, store: tx };
    const username = (await tx.getUser(push.userId))?.usernameCanonical ?? "";
    let status: Exclude<PushStatus, "pending" | "expired">;
    let failure = false;
    let gated = false;
    if (answer.decision === "fraud") status = "fraud";
    else if (answer.decision === "deny") status = "denied";
    else if (!codeMatches) {
      status = "denied";
      failure = true;
    } else {
      // An approval with the right number is a login only if the gate says so now: user, application, the
      // push class's lock (only push's: failed passcodes do not stop a push, A6) and the application's policy.
      const verdict = await completeAuthentication(txDeps, {
        userId: push.userId,
        username,
        applicationId: push.applicationId,
        factor: "push",
        factorClass: "push",
        verifiedPush: push.codeHash !== null,
        reason: "push_approved",
        ip: push.context.ip,
        txid: push.id,
        now,
      });
      gated = true;
      status = verdict.result === "allow" ? "approved" : "denied";
      // A prompt login waiting on this push becomes allowed in the same transaction (none waiting: no row).
      if (status === "approved")
        await tx.allowLoginSessionByPush(push.id, { factor: "push", txid: push.id, at: now });
    }
    if (!(await tx.resolvePushTransaction(push.id, status, device.id, now)))
      throw new TwofoldError("ERR_PUSH_ALREADY_ANSWERED", "this push already has an answer");
    await tx.touchDevice(device.id, now);
    if (failure) await tx.recordFailure(push.userId, "push", now);
    if (status === "fraud") {
      await tx.setPushSuspendedAt(push.userId, now);
      // Someone else may be holding the password: no browser of this user skips the second factor any more (I5).
      await revokeTrustedBrowsersForUser(txDeps, push.userId, "fraud_reported");
      await audit(
        txDeps,
        { name: `device:${device.id}` },
        {
          action: "push.fraud_reported",
          targetType: "user",
          targetId: push.userId,
          after: { txid: push.id, application: push.context.application, ip: push.context.ip },
        },
      );
      await notify(txDeps, push.userId, "push-fraud-reported", {
        application: push.context.application,
        ip: push.context.ip,
      });
    }
    // The gate wrote this answer's outcome; the other answers are denials, logged here.
    if (!gated)
      await tx.appendAuthLog({
        id: timeOrderedId("AL", now),
        at: now,
        userId: push.userId,
        username,
        applicationId: push.applicationId,
        factor: "push",
        result: "deny",
        reason: failure ? "wrong_push_code" : `push_${status}`,
        ip: push.context.ip,
        txid: push.id,
        node: deps.nodeName,
      });
    return { status };
  });
  await publishQuietly(deps, { kind: "resolved", txid: push.id, userId: push.userId, status: result.status });
  return result;
}

/** The push's state now (a pending push past its expiry reads as expired). */
export async function getPushStatus(deps: Deps, txid: string): Promise<PushStatus> {
  const push = await deps.store.getPushTransaction(txid);
  if (!push) throw new TwofoldError("ERR_PUSH_NOT_FOUND", "no such push");
  if (push.status === "pending" && push.expiresAt <= deps.clock.now()) {
    await deps.store.expirePushTransactions(deps.clock.now());
    return "expired";
  }
  return push.status;
}

// ---------------------------------------------------------------- waiting and cancelling (for logins)

export interface PushWaitOptions {
  /** Give up after this long and answer `pending` (the caller polls again or cancels). */
  timeoutMs: number;
  /** Stop waiting early (the login's connection closed); answers `pending`. */
  signal?: AbortSignal;
  /** Store re-read interval without wake-ups; the push events' fallbackPollMs (±20 %) unless set. */
  pollMs?: number;
}

/**
 * Wait for a push's outcome: the final status as soon as any node records it, `expired` at its expiry, or
 * `pending` when the deadline passes first. Every answer comes from the store, never from the wake-up.
 */
/** How soon a waiting login reads a push again after the database failed to answer. */
const STORE_RETRY_MS = 250;

export async function waitForPush(deps: Deps, txid: string, options: PushWaitOptions): Promise<PushStatus> {
  const key = `tx:${txid}`;
  let woken = false;
  const unsubscribe = deps.pushEvents.subscribe(key, () => {
    woken = true;
  });
  try {
    const deadline = deps.clock.now() + Math.max(0, options.timeoutMs);
    // Jittered, so logins that started together do not all re-read together.
    const poll =
      options.pollMs ?? Math.round(deps.pushEvents.fallbackPollMs * (0.8 + randomBelow(400) / 1000));
    for (;;) {
      woken = false;
      let push: Awaited<ReturnType<typeof deps.store.getPushTransaction>>;
      try {
        push = await deps.store.getPushTransaction(txid);
      } catch (error) {
        // A connection lost under this read (a database restart or fail-over) is not the push's answer: read
        // again shortly, until the wait's own deadline; only then does the caller give its fail-closed answer.
        const left = deadline - deps.clock.now();
        if (!(error instanceof TwofoldError && error.code === "ERR_STORE_UNAVAILABLE") || left <= 0)
          throw error;
        if (options.signal?.aborted) return "pending";
        await deps.pushEvents.waitFor(key, Math.min(left, STORE_RETRY_MS), options.signal);
        continue;
      }
      if (!push) throw new TwofoldError("ERR_PUSH_NOT_FOUND", "no such push");
      const now = deps.clock.now();
      if (push.status !== "pending") return push.status;
      if (push.expiresAt <= now) {
        await deps.store.expirePushTransactions(now);
        return "expired";
      }
      const remaining = deadline - now;
      if (remaining <= 0 || options.signal?.aborted) return "pending";
      // An event that arrived while we were reading means "read again now".
      if (!woken)
        await deps.pushEvents.waitFor(key, Math.min(remaining, poll, push.expiresAt - now), options.signal);
    }
  } finally {
    unsubscribe();
  }
}

/** The login stopped waiting: a pending push ends as `cancelled` (the app stops showing it). */
export async function cancelPush(deps: Deps, txid: string): Promise<PushStatus> {
  const push = await deps.store.getPushTransaction(txid);
  if (!push) throw new TwofoldError("ERR_PUSH_NOT_FOUND", "no such push");
  const now = deps.clock.now();
  if (await deps.store.resolvePushTransaction(txid, "cancelled", null, now)) {
    await publishQuietly(deps, { kind: "resolved", txid, userId: push.userId, status: "cancelled" });
    return "cancelled";
  }
  return getPushStatus(deps, txid);
}

/** Clear a fraud suspension (service desk, after talking to the user). */
export async function clearPushSuspension(deps: Deps, actor: Actor, identifier: string): Promise<void> {
  const user = await requireUser(deps, identifier);
  await deps.store.transaction(async (tx) => {
    await tx.setPushSuspendedAt(user.id, null);
    await audit({ ...deps, store: tx }, actor, {
      action: "push.suspension_cleared",
      targetType: "user",
      targetId: user.id,
    });
  });
}
