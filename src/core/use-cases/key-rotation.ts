// Re-seals every stored secret with the keyring's primary key, so an old master key can be retired (M2).
import { type Actor, audit, type Deps } from "../deps.ts";
import { applicationSealContext } from "./applications.ts";
import { otpSealContext } from "./otp-credentials.ts";
import { deliverySealContext } from "./push.ts";

/** Meta values that hold sealed secrets (the VAPID private key). */
export const SEALED_META_KEYS = ["push.vapid.private"] as const;

export function metaSealContext(key: (typeof SEALED_META_KEYS)[number]) {
  return { table: "meta", column: "value", row: key };
}

export interface ResealReport {
  otpCredentials: number;
  applications: number;
  devices: number;
  settings: number;
  alreadyCurrent: number;
}

/**
 * Open each sealed value with whichever configured key sealed it and seal it again with the primary
 * key. Each row is replaced only if it did not change meanwhile. Bypass and rescue code hashes cannot
 * be re-keyed (the codes are not stored): keep an old key configured until the codes hashed with it
 * have expired or been replaced.
 */
export async function resealSecrets(
  deps: Deps,
  actor: Actor,
  onProgress?: (done: number, total: number) => void,
): Promise<ResealReport> {
  const report: ResealReport = {
    otpCredentials: 0,
    applications: 0,
    devices: 0,
    settings: 0,
    alreadyCurrent: 0,
  };
  const { credentials } = await deps.store.listOTPCredentials({ limit: Number.MAX_SAFE_INTEGER });
  const applications = await deps.store.listApplications();
  const devices = await deps.store.listDevicesWithDelivery();
  const total = credentials.length + applications.length + devices.length + SEALED_META_KEYS.length;
  let done = 0;
  for (const c of credentials) {
    onProgress?.(++done, total);
    if (!deps.keyring.needsRotation(c.secretSealed)) {
      report.alreadyCurrent++;
      continue;
    }
    const context = otpSealContext(c.id);
    const fresh = deps.keyring.seal(deps.keyring.open(c.secretSealed, context), context);
    if (await deps.store.resealOTPSecret(c.id, c.secretSealed, fresh)) report.otpCredentials++;
  }
  for (const a of applications) {
    onProgress?.(++done, total);
    if (!deps.keyring.needsRotation(a.secretSealed)) {
      report.alreadyCurrent++;
      continue;
    }
    const context = applicationSealContext(a.id);
    const fresh = deps.keyring.seal(deps.keyring.open(a.secretSealed, context), context);
    await deps.store.updateApplication(a.id, { secretSealed: fresh }, deps.clock.now());
    report.applications++;
  }
  for (const d of devices) {
    onProgress?.(++done, total);
    const sealed = d.deliverySealed!;
    if (!deps.keyring.needsRotation(sealed)) {
      report.alreadyCurrent++;
      continue;
    }
    const context = deliverySealContext(d.id);
    const fresh = deps.keyring.seal(deps.keyring.open(sealed, context), context);
    if (await deps.store.setDeviceDelivery(d.id, fresh, sealed)) report.devices++;
  }
  for (const key of SEALED_META_KEYS) {
    onProgress?.(++done, total);
    const sealed = await deps.store.getMeta(key);
    if (sealed === undefined) continue;
    if (!deps.keyring.needsRotation(sealed)) {
      report.alreadyCurrent++;
      continue;
    }
    const context = metaSealContext(key);
    await deps.store.setMeta(key, deps.keyring.seal(deps.keyring.open(sealed, context), context));
    report.settings++;
  }
  await audit(deps, actor, { action: "keys.reseal", targetType: null, targetId: null, after: { ...report } });
  return report;
}
