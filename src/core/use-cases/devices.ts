// The Twofold Authenticator's own requests (signed with its key), and administrators' device management.
import { verifyP256Signature } from "../crypto/ecdsa.ts";
import { sha256 } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { deviceRequestText } from "../device-protocol.ts";
import { TwofoldError } from "../errors.ts";
import type { Device } from "../model.ts";
import type { PushEvent, PushView } from "../ports.ts";
import { recordFactorRemoved } from "./factor-changes.ts";
import { notify } from "./notify.ts";
import { deliverySealContext, pushView } from "./push.ts";
import { requireUser } from "./users.ts";

/** A device request's signature is accepted within this distance of the server clock. */
export const DEVICE_REQUEST_MAX_AGE_MS = 60_000;

export interface DeviceRequest {
  /** The `Authorization` header as sent. */
  authorization: string | undefined;
  method: string;
  /** Path and query exactly as sent. */
  path: string;
  /** The raw body (empty for GET). */
  body: Uint8Array;
}

const AUTHORIZATION = /^Twofold-Device ([A-Za-z0-9]{1,64}):(\d{1,16}):([A-Za-z0-9_-]{1,128})$/;

/** The exact bytes a device signs for a request: fixed fields, one per line. */
export function canonicalDeviceRequest(r: {
  method: string;
  path: string;
  timestamp: number;
  body: Uint8Array;
}): Uint8Array {
  const bodyHash = Buffer.from(sha256(r.body)).toString("base64url");
  return new Uint8Array(Buffer.from(deviceRequestText(r.method, r.path, r.timestamp, bodyHash), "utf8"));
}

/**
 * The device that signed this request, or ERR_UNAUTHENTICATED for a missing, malformed, stale or wrong
 * signature and for unknown or revoked devices (one answer for all, so the cause is not disclosed).
 */
export async function authenticateDevice(deps: Deps, request: DeviceRequest): Promise<Device> {
  const refuse = (detail: string) =>
    new TwofoldError("ERR_UNAUTHENTICATED", "device signature required", { detail });
  const m = AUTHORIZATION.exec(request.authorization ?? "");
  if (!m) throw refuse("malformed Authorization");
  const [, deviceId, ts, signature] = m as unknown as [string, string, string, string];
  const timestamp = Number(ts);
  if (Math.abs(deps.clock.now() - timestamp) > DEVICE_REQUEST_MAX_AGE_MS) throw refuse("stale timestamp");
  const device = await deps.store.getDevice(deviceId);
  if (device?.status !== "active") throw refuse("unknown or revoked device");
  const ok = verifyP256Signature(
    Buffer.from(device.publicKey, "base64url"),
    canonicalDeviceRequest({ method: request.method, path: request.path, timestamp, body: request.body }),
    Buffer.from(signature, "base64url"),
  );
  if (!ok) throw refuse("bad signature");
  return device;
}

/**
 * The pushes waiting for this device's user, as the app shows them; records the device as seen unless told
 * not to (an open live stream re-reads often and records it once a minute).
 */
export async function listDevicePushes(
  deps: Deps,
  device: Device,
  options: { touch?: boolean } = {},
): Promise<PushView[]> {
  const pushes = await deps.store.listPendingPushes(device.userId, deps.clock.now());
  if (options.touch ?? true) await deps.store.touchDevice(device.id, deps.clock.now());
  return pushes.map(pushView);
}

/**
 * A device's live stream: `listener` hears every push event of the device's user (a hint to re-read, never an
 * outcome). Returns the unsubscribe.
 */
export function watchDevicePushes(
  deps: Pick<Deps, "pushEvents">,
  device: Device,
  listener: (event: PushEvent) => void,
): () => void {
  return deps.pushEvents.subscribe(`user:${device.userId}`, listener);
}

/** Replace how the device is reached (a renewed Web Push subscription), or stop Web Push for it. */
export async function updateDeviceDelivery(
  deps: Deps,
  device: Device,
  delivery: unknown | null,
): Promise<void> {
  const sealed =
    delivery === null
      ? null
      : deps.keyring.seal(Buffer.from(JSON.stringify(delivery)), deliverySealContext(device.id));
  await deps.store.setDeviceDelivery(device.id, sealed);
}

export interface DeviceSummary {
  id: string;
  name: string;
  status: Device["status"];
  webPush: boolean;
  createdAt: number;
  lastSeenAt: number | null;
}

export async function listUserDevices(deps: Deps, identifier: string): Promise<DeviceSummary[]> {
  const user = await requireUser(deps, identifier);
  return (await deps.store.listDevices(user.id)).map((d) => ({
    id: d.id,
    name: d.name,
    status: d.status,
    webPush: d.deliverySealed !== null,
    createdAt: d.createdAt,
    lastSeenAt: d.lastSeenAt,
  }));
}

/** Revoke a device (lost phone): its answers and requests are refused and its passcodes stop working. */
export async function revokeDevice(deps: Deps, actor: Actor, deviceId: string): Promise<void> {
  const device = await deps.store.getDevice(deviceId);
  if (!device) throw new TwofoldError("ERR_DEVICE_NOT_FOUND", "no such device");
  await deps.store.transaction(async (tx) => {
    if (!(await tx.setDeviceStatus(device.id, "revoked")))
      throw new TwofoldError("ERR_DEVICE_NOT_FOUND", "no such device");
    await tx.setDeviceDelivery(device.id, null);
    if (device.otpCredentialId) await tx.deleteOTPCredential(device.otpCredentialId);
    const txDeps = { ...deps, store: tx };
    await recordFactorRemoved(txDeps, device.userId);
    await audit(txDeps, actor, {
      action: "factor.remove",
      targetType: "user",
      targetId: device.userId,
      before: { deviceId: device.id, kind: "authenticator", name: device.name },
    });
    await notify(txDeps, device.userId, "factor-removed", {
      factor: "Twofold Authenticator",
      name: device.name,
    });
  });
}
