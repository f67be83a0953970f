// May this user enrol in the prompt for this application? Only a user who never had a second factor, where the application's policy offers enrolment (CISA AA22-074A).
import { effectivePolicy } from "../application-policy.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { mayEnrollAsNewUser } from "../enrollment-rule.ts";
import { TwofoldError } from "../errors.ts";
import type { Application } from "../model.ts";
import { findUser, requireUser } from "./users.ts";

export type EnrollmentEligibility =
  | { eligible: true; userId: string | null }
  | {
      eligible: false;
      /**
       * `policy`: the application does not offer enrolment; `enrolled`: the user has a second factor (log in with
       * it); `reset_required`: the user had one that was removed, expired or went dormant, and an administrator
       * must reset them first; `disabled`: the account may not log in.
       */
      reason: "policy" | "enrolled" | "reset_required" | "disabled";
    };

/**
 * Whether the prompt may guide this user through enrolment for this application: the application's new-user
 * policy is `enroll`, and the user (unknown so far, or known) has no second factor and never had one. Anyone
 * else gets "contact your IT service desk".
 */
export async function checkEnrollmentEligibility(
  deps: Deps,
  input: { username: string; application: Application },
): Promise<EnrollmentEligibility> {
  const policy = effectivePolicy(deps.policy, input.application);
  if (input.application.status !== "active" || policy.newUserPolicy !== "enroll")
    return { eligible: false, reason: "policy" };
  const user = await findUser(deps, input.username);
  if (!user) return { eligible: true, userId: null };
  if (user.status === "disabled") return { eligible: false, reason: "disabled" };
  if (await mayEnrollAsNewUser(deps.store, user.id)) return { eligible: true, userId: user.id };
  const [credentials, devices] = await Promise.all([
    deps.store.listUsableOTPCredentials(user.id),
    deps.store.listDevices(user.id),
  ]);
  const hasFactor = credentials.length > 0 || devices.some((d) => d.status === "active");
  return { eligible: false, reason: hasFactor ? "enrolled" : "reset_required" };
}

/**
 * Let a user whose factors are gone enrol again as a new user (prompt enrolment, a new-user policy `allow`):
 * forgets that they ever had a second factor. Refused while they still have one (remove it first), so a reset
 * cannot be used to bind a second factor beside the first. Audited; returns whether anything changed.
 */
export async function resetEnrollment(deps: Deps, actor: Actor, identifier: string): Promise<boolean> {
  const user = await requireUser(deps, identifier);
  const [credentials, devices] = await Promise.all([
    deps.store.listUsableOTPCredentials(user.id),
    deps.store.listDevices(user.id),
  ]);
  if (credentials.length > 0 || devices.some((d) => d.status === "active"))
    throw new TwofoldError(
      "ERR_CONFLICT",
      `${user.username} still has a second factor; remove it before resetting the enrolment`,
    );
  return deps.store.transaction(async (tx) => {
    const before = await tx.getFirstFactorAt(user.id);
    const changed = await tx.clearFirstFactor(user.id);
    await audit({ ...deps, store: tx }, actor, {
      action: "user.enrollment_reset",
      targetType: "user",
      targetId: user.id,
      before: { firstFactorAt: before ?? null },
      after: { firstFactorAt: null },
    });
    return changed;
  });
}

/** When a user first had a second factor (null: never, or reset since), for `twofold user show`. */
export async function getFirstFactorAt(deps: Deps, identifier: string): Promise<number | null> {
  const user = await requireUser(deps, identifier);
  return (await deps.store.getFirstFactorAt(user.id)) ?? null;
}
