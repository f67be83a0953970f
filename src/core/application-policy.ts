// Per-application policy: which methods a login may use, how long a trusted browser skips the second factor, what happens to new users.
import { TwofoldError } from "./errors.ts";
import {
  type Application,
  type ApplicationPolicy,
  AUTH_METHODS,
  type AuthFactor,
  type AuthMethod,
  MAX_REMEMBER_DAYS,
  NEW_USER_POLICIES,
  type NewUserPolicy,
} from "./model.ts";
import type { Policy } from "./policy.ts";

/**
 * The method each factor of the authentication log belongs to; null for what is not a method (a trusted browser,
 * governed by `rememberDays`, and no factor at all). Keyed by string so that a factor added later (`webauthn`)
 * finds its method here.
 */
const FACTOR_METHODS: Record<AuthFactor | "webauthn", AuthMethod | null> = {
  push: "push",
  totp: "passcode-app",
  hotp: "passcode-app",
  token: "token",
  bypass: "bypass",
  rescue: "rescue",
  sms: "sms",
  webauthn: "webauthn",
  remembered_device: null,
  none: null,
};

export function methodOfFactor(factor: AuthFactor | "webauthn"): AuthMethod | null {
  return FACTOR_METHODS[factor] ?? null;
}

/** Whether the policy allows a method. */
export function allowsMethod(policy: Pick<ApplicationPolicy, "methods">, method: AuthMethod): boolean {
  return policy.methods.includes(method);
}

/** The policy fields an operator sets (configuration, CLI, Admin API); the rest are integration settings. */
export type ApplicationPolicySettings = Pick<
  ApplicationPolicy,
  "methods" | "rememberDays" | "newUserPolicy" | "allowPlainPush"
>;

/** The configured defaults every new application starts from. */
export function defaultPolicySettings(policy: Pick<Policy, "newUserPolicy" | "applications">) {
  return {
    methods: [...policy.applications.methods],
    rememberDays: policy.applications.rememberDays,
    newUserPolicy: policy.newUserPolicy,
    allowPlainPush: policy.applications.allowPlainPush,
  } satisfies ApplicationPolicySettings;
}

/** Methods in the canonical order, each once. */
function orderedMethods(methods: readonly string[]): AuthMethod[] {
  return AUTH_METHODS.filter((m) => methods.includes(m));
}

/**
 * A stored policy as the core uses it. Rows written before the method list existed said `allowBypassCodes` and
 * `allowRescueCodes`; they read as every method except those turned off, remembering browsers for 30 days.
 */
export function normalizeApplicationPolicy(raw: unknown): ApplicationPolicy {
  const r = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const methods = Array.isArray(r["methods"])
    ? orderedMethods(r["methods"].filter((m): m is string => typeof m === "string"))
    : AUTH_METHODS.filter(
        (m) =>
          !(m === "bypass" && r["allowBypassCodes"] === false) &&
          !(m === "rescue" && r["allowRescueCodes"] === false),
      );
  const days = r["rememberDays"];
  const newUser = r["newUserPolicy"];
  return {
    methods,
    rememberDays:
      typeof days === "number" && Number.isInteger(days) && days >= 0 && days <= MAX_REMEMBER_DAYS
        ? days
        : 30,
    newUserPolicy: NEW_USER_POLICIES.includes(newUser as NewUserPolicy) ? (newUser as NewUserPolicy) : "deny",
    allowPlainPush: r["allowPlainPush"] === true,
    refuseUndatedSignatures: r["refuseUndatedSignatures"] === true,
    ...(r["allowEnrollment"] === true ? { allowEnrollment: true } : {}),
  };
}

/**
 * Check a change to an application's policy: known methods, days within 0 … 90, a known new-user policy. Every
 * problem is reported at once (ERR_VALIDATION with issues).
 */
export function validatePolicyPatch(patch: Partial<ApplicationPolicy>): Partial<ApplicationPolicy> {
  const issues: Array<{ path: string; message: string }> = [];
  if (patch.methods !== undefined) {
    const unknown = patch.methods.filter((m) => !AUTH_METHODS.includes(m));
    if (!Array.isArray(patch.methods) || unknown.length > 0)
      issues.push({
        path: "methods",
        message: `unknown method${unknown.length === 1 ? "" : "s"} ${unknown.join(", ")}; use ${AUTH_METHODS.join(", ")}`,
      });
    else if (patch.methods.length === 0)
      issues.push({ path: "methods", message: "at least one method (no method would deny every login)" });
  }
  if (
    patch.rememberDays !== undefined &&
    !(
      Number.isInteger(patch.rememberDays) &&
      patch.rememberDays >= 0 &&
      patch.rememberDays <= MAX_REMEMBER_DAYS
    )
  )
    issues.push({
      path: "rememberDays",
      message: `must be a whole number of days, 0 (off) to ${MAX_REMEMBER_DAYS}`,
    });
  if (patch.newUserPolicy !== undefined && !NEW_USER_POLICIES.includes(patch.newUserPolicy))
    issues.push({ path: "newUserPolicy", message: `must be one of ${NEW_USER_POLICIES.join(", ")}` });
  if (issues.length > 0)
    throw new TwofoldError("ERR_VALIDATION", `invalid application policy: ${issues[0]!.message}`, { issues });
  return patch.methods ? { ...patch, methods: orderedMethods(patch.methods) } : patch;
}

/** The policy fields the configuration sets for this application (`policy.applications.overrides`). */
export function configuredOverride(
  policy: Pick<Policy, "applications">,
  applicationId: string,
): Partial<ApplicationPolicySettings> | undefined {
  const o = policy.applications.overrides.find((x) => x.integrationKey === applicationId);
  if (!o) return undefined;
  const { integrationKey, ...fields } = o;
  return fields;
}

/**
 * The policy in force for an application: what is stored, with the configuration's per-application overrides on
 * top (an organisation that keeps policy in its configuration file wins over changes made through the CLI or the
 * Admin API, which refuse to change a field the file sets).
 */
export function effectivePolicy(policy: Pick<Policy, "applications">, app: Application): ApplicationPolicy {
  const o = configuredOverride(policy, app.id);
  if (!o) return app.policy;
  return { ...app.policy, ...o, ...(o.methods ? { methods: orderedMethods(o.methods) } : {}) };
}
