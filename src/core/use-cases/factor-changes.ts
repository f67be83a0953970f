// What follows a second factor being bound to or taken from a user: the enrolment marker, and trusted browsers revoked (I5).
import type { Deps } from "../deps.ts";
import type { TrustRevocationReason } from "../model.ts";
import { revokeTrustedBrowsersForUser } from "./trust-revocation.ts";

/**
 * A factor was bound to the user (an authenticator app confirmed, a device activated, a token lent, a security
 * key or phone added): the user now has had a second factor (never again a "new user", CISA AA22-074A), and the
 * browsers they trusted stop skipping. Call inside the transaction that binds the factor.
 */
export async function recordFactorAdded(deps: Pick<Deps, "store" | "clock">, userId: string): Promise<void> {
  await deps.store.markFirstFactor(userId, deps.clock.now());
  await revokeTrustedBrowsersForUser(deps, userId, "factor_added");
}

/** A factor was taken from the user (removed, revoked, token returned, phone changed): trusted browsers stop skipping. */
export async function recordFactorRemoved(
  deps: Pick<Deps, "store" | "clock">,
  userId: string,
  reason: Extract<TrustRevocationReason, "factor_removed" | "phone_changed"> = "factor_removed",
): Promise<void> {
  await revokeTrustedBrowsersForUser(deps, userId, reason);
}
