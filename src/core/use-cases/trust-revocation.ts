// Revoking a user's trusted browsers (I5), by the user, an administrator or an event: the one write, audited.
import { type Actor, audit, type Deps, SYSTEM_ACTOR } from "../deps.ts";
import type { TrustRevocationReason } from "../model.ts";

/**
 * Revoke every trusted browser of a user, with the reason: called by the user or an administrator, and
 * automatically on a fraud report, a factor added or removed, a phone changed and the user disabled (I5). Works
 * inside the caller's transaction (pass its deps) or on its own; audited when anything was revoked.
 */
export async function revokeTrustedBrowsersForUser(
  deps: Pick<Deps, "store" | "clock">,
  userId: string,
  reason: TrustRevocationReason,
  actor: Actor = SYSTEM_ACTOR,
): Promise<number> {
  const revoked = await deps.store.revokeTrustedBrowsers(userId, reason, deps.clock.now());
  if (revoked > 0)
    await audit(deps, actor, {
      action: "trusted_browser.revoke_all",
      targetType: "user",
      targetId: userId,
      after: { reason, revoked },
    });
  return revoked;
}
