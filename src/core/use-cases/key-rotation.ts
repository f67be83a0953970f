// Re-seals every stored secret with the keyring's primary key, so an old master key can be retired (M2).
import { type Actor, audit, type Deps } from "../deps.ts";
import { applicationSealContext } from "./applications.ts";
import { otpSealContext } from "./otp-credentials.ts";

export interface ResealReport {
  otpCredentials: number;
  applications: number;
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
  const report: ResealReport = { otpCredentials: 0, applications: 0, alreadyCurrent: 0 };
  const { credentials } = await deps.store.listOTPCredentials({ limit: Number.MAX_SAFE_INTEGER });
  const applications = await deps.store.listApplications();
  const total = credentials.length + applications.length;
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
  await audit(deps, actor, { action: "keys.reseal", targetType: null, targetId: null, after: { ...report } });
  return report;
}
