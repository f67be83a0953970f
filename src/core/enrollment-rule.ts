// The enrolment rule (CISA AA22-074A): only a user who never had a second factor may enrol in the prompt or be let in by a new-user policy.
import type { Store } from "./ports.ts";

/**
 * True when the user has no second factor now and never had one (the durable marker `first_factor_at`, set when a
 * factor is first bound and cleared only by an administrator's reset). A user whose factors were removed, expired
 * or went dormant is not a new user: whoever holds their password must not bind a factor of their own.
 */
export async function mayEnrollAsNewUser(store: Store, userId: string): Promise<boolean> {
  // One query at a time: inside a transaction the reads share one connection.
  const first = await store.getFirstFactorAt(userId);
  if (first !== null) return false;
  if ((await store.listUsableOTPCredentials(userId)).length > 0) return false;
  // A key of any status (a suspect one is refused, not gone): keys may predate the marker on upgraded databases.
  if ((await store.listWebAuthnCredentials(userId)).length > 0) return false;
  return !(await store.listDevices(userId)).some((d) => d.status === "active");
}
