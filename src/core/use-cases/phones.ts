// Phones an administrator registers (Duo Admin API §5.3): create, change, attach to one user, activate the Twofold Authenticator on it, delete.
import { randomId } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { type ErrorIssue, TwofoldError } from "../errors.ts";
import { PHONE_TYPES, type Phone } from "../model.ts";
import type { PhonePatch } from "../ports.ts";
import { revokeDevice } from "./devices.ts";
import { recordFactorRemoved } from "./factor-changes.ts";
import { createDeviceActivation, type DeviceActivationTicket } from "./push.ts";
import { requireUser } from "./users.ts";

/** The platforms Duo's Admin API names (lowercase, as clients send them). */
export const PHONE_PLATFORMS = [
  "unknown",
  "google android",
  "apple ios",
  "windows phone",
  "rim blackberry",
  "java j2me",
  "palm webos",
  "symbian os",
  "windows mobile",
  "generic smartphone",
] as const;

export interface PhoneInput {
  /** E.164 (`+15555550100`); null or absent for a phone without a number (a tablet). */
  number?: string | null;
  extension?: string | null;
  name?: string | null;
  type?: string;
  platform?: string;
}

function validatePhone(input: PhoneInput): ErrorIssue[] {
  const issues: ErrorIssue[] = [];
  if (input.number && !/^\+[1-9][0-9]{6,14}$/.test(input.number))
    issues.push({ path: "number", message: "must be E.164, e.g. +15555550100" });
  if (input.extension && !/^[0-9]{1,16}$/.test(input.extension))
    issues.push({ path: "extension", message: "up to 16 digits" });
  if (input.name && input.name.length > 100) issues.push({ path: "name", message: "longer than 100" });
  if (input.type !== undefined && !(PHONE_TYPES as readonly string[]).includes(input.type))
    issues.push({ path: "type", message: `one of ${PHONE_TYPES.join(", ")}` });
  if (input.platform !== undefined && !(PHONE_PLATFORMS as readonly string[]).includes(input.platform))
    issues.push({ path: "platform", message: `one of ${PHONE_PLATFORMS.join(", ")}` });
  return issues;
}

export async function requirePhone(deps: Deps, id: string): Promise<Phone> {
  const phone = await deps.store.getPhone(id);
  if (!phone) throw new TwofoldError("ERR_NOT_FOUND", `no phone ${id}`);
  return phone;
}

export async function createPhone(deps: Deps, actor: Actor, input: PhoneInput): Promise<Phone> {
  const issues = validatePhone(input);
  if (issues.length > 0) throw new TwofoldError("ERR_VALIDATION", "invalid phone", { issues });
  const phone: Phone = {
    id: randomId("DP"),
    userId: null,
    number: input.number || null,
    extension: input.extension || null,
    name: input.name || null,
    type: (input.type ?? "unknown") as Phone["type"],
    platform: input.platform ?? "unknown",
    deviceId: null,
    createdAt: deps.clock.now(),
  };
  await deps.store.transaction(async (tx) => {
    await tx.insertPhone(phone);
    await audit({ ...deps, store: tx }, actor, {
      action: "phone.create",
      targetType: "phone",
      targetId: phone.id,
      after: phone,
    });
  });
  return phone;
}

export async function updatePhone(deps: Deps, actor: Actor, id: string, input: PhoneInput): Promise<Phone> {
  const phone = await requirePhone(deps, id);
  const issues = validatePhone(input);
  if (issues.length > 0) throw new TwofoldError("ERR_VALIDATION", "invalid phone", { issues });
  const patch: PhonePatch = {};
  if (input.number !== undefined) {
    patch.number = input.number || null;
    // A new number is a new authenticator (E2): it is verified again before it receives passcodes.
    if (patch.number !== phone.number) patch.smsVerifiedAt = null;
  }
  if (input.extension !== undefined) patch.extension = input.extension || null;
  if (input.name !== undefined) patch.name = input.name || null;
  if (input.type !== undefined) patch.type = input.type as Phone["type"];
  if (input.platform !== undefined) patch.platform = input.platform;
  return deps.store.transaction(async (tx) => {
    const updated = await tx.updatePhone(phone.id, patch);
    if (!updated) throw new TwofoldError("ERR_NOT_FOUND", `no phone ${id}`);
    const before = Object.fromEntries(Object.keys(patch).map((k) => [k, phone[k as keyof PhonePatch]]));
    if (phone.userId && patch.number !== undefined && patch.number !== phone.number)
      await recordFactorRemoved({ ...deps, store: tx }, phone.userId, "phone_changed");
    await audit({ ...deps, store: tx }, actor, {
      action: "phone.update",
      targetType: "phone",
      targetId: phone.id,
      before,
      after: patch,
    });
    return updated;
  });
}

/**
 * The Twofold Authenticator activated through the phone stops working with it: a phone that is deleted or taken
 * from its user must not keep answering that user's pushes or giving passcodes (fail closed).
 */
async function revokePhoneDevice(deps: Deps, actor: Actor, phone: Phone): Promise<void> {
  if (!phone.deviceId) return;
  const device = await deps.store.getDevice(phone.deviceId);
  if (device?.status === "active") await revokeDevice(deps, actor, device.id);
  await deps.store.setPhoneDevice(phone.id, null);
}

/** Delete a phone (and revoke the authenticator activated on it). False when there was no such phone. */
export async function deletePhone(deps: Deps, actor: Actor, id: string): Promise<boolean> {
  const phone = await deps.store.getPhone(id);
  if (!phone) return false;
  return deps.store.transaction(async (tx) => {
    const txDeps = { ...deps, store: tx };
    await revokePhoneDevice(txDeps, actor, phone);
    if (!(await tx.deletePhone(phone.id))) return false;
    if (phone.userId) await recordFactorRemoved(txDeps, phone.userId, "phone_changed");
    await audit(txDeps, actor, {
      action: "phone.delete",
      targetType: "phone",
      targetId: phone.id,
      before: phone,
    });
    return true;
  });
}

/** Attach a phone to a user. A phone belongs to one user: one attached to someone else is refused. */
export async function attachPhone(
  deps: Deps,
  actor: Actor,
  phoneId: string,
  userIdentifier: string,
): Promise<Phone> {
  const phone = await requirePhone(deps, phoneId);
  const user = await requireUser(deps, userIdentifier);
  return deps.store.transaction(async (tx) => {
    if (!(await tx.attachPhone(phone.id, user.id)))
      throw new TwofoldError("ERR_VALIDATION", "the phone belongs to another user", {
        issues: [{ path: "phone_id", message: "already attached to another user; detach it first" }],
      });
    if (phone.userId !== user.id) await recordFactorRemoved({ ...deps, store: tx }, user.id, "phone_changed");
    await audit({ ...deps, store: tx }, actor, {
      action: "phone.attach",
      targetType: "phone",
      targetId: phone.id,
      before: { userId: phone.userId },
      after: { userId: user.id },
    });
    return { ...phone, userId: user.id };
  });
}

/** Take a phone from its user; the authenticator activated on it is revoked. */
export async function detachPhone(
  deps: Deps,
  actor: Actor,
  phoneId: string,
  userIdentifier: string,
): Promise<void> {
  const phone = await requirePhone(deps, phoneId);
  const user = await requireUser(deps, userIdentifier);
  if (phone.userId !== user.id)
    throw new TwofoldError("ERR_NOT_FOUND", "the phone is not attached to this user");
  await deps.store.transaction(async (tx) => {
    const txDeps = { ...deps, store: tx };
    if (!(await tx.detachPhone(phone.id, user.id)))
      throw new TwofoldError("ERR_NOT_FOUND", "the phone is not attached to this user");
    await revokePhoneDevice(txDeps, actor, phone);
    await recordFactorRemoved(txDeps, user.id, "phone_changed");
    await audit(txDeps, actor, {
      action: "phone.detach",
      targetType: "phone",
      targetId: phone.id,
      before: { userId: user.id },
      after: { userId: null },
    });
  });
}

/**
 * An activation link for the Twofold Authenticator on this phone: activating it records the device on the phone.
 * The phone must belong to a user first. Validity is capped by policy (G5); the ticket says what it got.
 */
export async function createPhoneActivation(
  deps: Deps,
  actor: Actor,
  phoneId: string,
  options: { validSeconds?: number } = {},
): Promise<DeviceActivationTicket> {
  const phone = await requirePhone(deps, phoneId);
  if (!phone.userId)
    throw new TwofoldError("ERR_VALIDATION", "attach the phone to a user first", {
      issues: [{ path: "phone_id", message: "the phone is not attached to a user" }],
    });
  return createDeviceActivation(deps, actor, phone.userId, {
    phoneId: phone.id,
    ...(options.validSeconds === undefined ? {} : { validSeconds: options.validSeconds }),
  });
}
