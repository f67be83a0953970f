// Applications (integrations): Duo-format integration keys and secrets, sealed at rest, with a per-application policy.

import {
  configuredOverride,
  defaultPolicySettings,
  effectivePolicy,
  validatePolicyPatch,
} from "../application-policy.ts";
import { randomId, randomString } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { TwofoldError } from "../errors.ts";
import {
  APPLICATION_TYPES,
  type Application,
  type ApplicationPolicy,
  type ApplicationStatus,
  type ApplicationType,
} from "../model.ts";
import { Secret } from "../secret.ts";

const SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export function defaultApplicationPolicy(deps: Pick<Deps, "policy">): ApplicationPolicy {
  return { ...defaultPolicySettings(deps.policy), refuseUndatedSignatures: false };
}

export function applicationSealContext(id: string) {
  return { table: "applications", column: "secret_sealed", row: id };
}

export interface CreatedApplication {
  application: Application;
  /** The secret key (Duo `skey`, OIDC `client_secret`): 40 characters, shown when created. */
  secretKey: Secret<string>;
}

export async function createApplication(
  deps: Deps,
  actor: Actor,
  input: {
    name: string;
    type: string;
    policy?: Partial<ApplicationPolicy>;
    redirectURIs?: readonly string[];
  },
): Promise<CreatedApplication> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 100)
    throw new TwofoldError("ERR_VALIDATION", "application name must be 1-100 characters", {
      issues: [{ path: "name", message: "must be 1-100 characters" }],
    });
  if (!APPLICATION_TYPES.includes(input.type as ApplicationType))
    throw new TwofoldError(
      "ERR_VALIDATION",
      `application type must be one of ${APPLICATION_TYPES.join(", ")}`,
      {
        issues: [{ path: "type", message: `must be one of ${APPLICATION_TYPES.join(", ")}` }],
      },
    );
  const redirectURIs = checkRedirectURIs(input.type, input.redirectURIs ?? []);
  const policy = validatePolicyPatch(input.policy ?? {});
  const id = randomId("DI");
  const secret = randomString(SECRET_ALPHABET, 40);
  const now = deps.clock.now();
  const application: Application = {
    id,
    name,
    type: input.type as ApplicationType,
    secretSealed: deps.keyring.seal(Buffer.from(secret, "utf8"), applicationSealContext(id)),
    policy: { ...defaultApplicationPolicy(deps), ...policy },
    status: "active",
    createdAt: now,
    updatedAt: now,
    ...(redirectURIs.length > 0 ? { redirectURIs } : {}),
  };
  await deps.store.transaction(async (tx) => {
    await tx.insertApplication(application);
    await audit({ ...deps, store: tx }, actor, {
      action: "application.create",
      targetType: "application",
      targetId: id,
      after: publicApplication(application),
    });
  });
  return { application, secretKey: new Secret(secret) };
}

/** At most this many redirect URIs per application. */
export const MAX_REDIRECT_URIS = 20;

/**
 * The redirect URIs a Web SDK application registers: absolute `https:` URLs (plain `http:` only on a loopback
 * host, for development), no fragment, no credentials, at most 2048 characters; compared later as exact strings (J1).
 */
export function checkRedirectURIs(type: string, uris: readonly string[]): string[] {
  const issue = (message: string) =>
    new TwofoldError("ERR_VALIDATION", `redirect URI: ${message}`, {
      issues: [{ path: "redirectURIs", message }],
    });
  if (uris.length === 0) return [];
  if (type !== "web-sdk") throw issue("only Web SDK applications (--type web-sdk) have redirect URIs");
  if (uris.length > MAX_REDIRECT_URIS) throw issue(`at most ${MAX_REDIRECT_URIS}`);
  const unique = [...new Set(uris)];
  for (const uri of unique) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw issue(`${JSON.stringify(uri)} is not an absolute URL`);
    }
    if (uri.length > 2048) throw issue("longer than 2048 characters");
    const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
    if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback))
      throw issue(`${uri} must be https (http only on localhost)`);
    if (url.hash || uri.includes("#")) throw issue(`${uri} must not have a fragment`);
    if (url.username || url.password) throw issue(`${uri} must not carry credentials`);
  }
  return unique;
}

export function publicApplication(a: Application): Omit<Application, "secretSealed"> {
  const { secretSealed, ...rest } = a;
  return rest;
}

export async function requireApplication(deps: Deps, id: string): Promise<Application> {
  const app = await deps.store.getApplication(id);
  if (!app) throw new TwofoldError("ERR_APPLICATION_NOT_FOUND", `no application ${id}`);
  return app;
}

/**
 * Secret keys already opened, per keyring and Application object. The store hands out the same object while the
 * application's row is unchanged (a new one once its sealed key, policy or status changes), so each key is opened
 * (AES-GCM) once per node and version of the row, and an opened key lives no longer than the object it came from.
 */
const opened = new WeakMap<object, WeakMap<Application, Secret<string>>>();

/** The application's secret key, for verifying its signed requests. */
export function openApplicationSecret(deps: Pick<Deps, "keyring">, app: Application): Secret<string> {
  let byApp = opened.get(deps.keyring);
  if (!byApp) {
    byApp = new WeakMap();
    opened.set(deps.keyring, byApp);
  }
  const known = byApp.get(app);
  if (known) return known;
  const secret = new Secret(
    Buffer.from(deps.keyring.open(app.secretSealed, applicationSealContext(app.id))).toString("utf8"),
  );
  byApp.set(app, secret);
  return secret;
}

/** Rename an application or change its policy (the fields given); returns the application as stored. */
export async function updateApplication(
  deps: Deps,
  actor: Actor,
  id: string,
  patch: { name?: string; policy?: Partial<ApplicationPolicy>; redirectURIs?: readonly string[] },
): Promise<Application> {
  const before = await requireApplication(deps, id);
  const redirectURIs =
    patch.redirectURIs === undefined ? undefined : checkRedirectURIs(before.type, patch.redirectURIs);
  const policy = patch.policy && validatePolicyPatch(patch.policy);
  const fixed = policy && configuredOverride(deps.policy, id);
  const clash = fixed && Object.keys(policy).filter((k) => k in fixed);
  if (clash && clash.length > 0)
    throw new TwofoldError(
      "ERR_POLICY_CONFIGURED",
      `the configuration file sets ${clash.join(", ")} for application ${id}; change it there`,
      { issues: clash.map((path) => ({ path, message: "set by policy.applications.overrides" })) },
    );
  const name = patch.name?.trim();
  if (name !== undefined && (name.length === 0 || name.length > 100))
    throw new TwofoldError("ERR_VALIDATION", "application name must be 1-100 characters", {
      issues: [{ path: "name", message: "must be 1-100 characters" }],
    });
  return deps.store.transaction(async (tx) => {
    const updated = await tx.updateApplication(
      id,
      {
        ...(name !== undefined ? { name } : {}),
        ...(redirectURIs !== undefined ? { redirectURIs } : {}),
        ...(policy ? { policy: { ...before.policy, ...policy } } : {}),
      },
      deps.clock.now(),
    );
    if (!updated) throw new TwofoldError("ERR_APPLICATION_NOT_FOUND", `no application ${id}`);
    await audit({ ...deps, store: tx }, actor, {
      action: "application.update",
      targetType: "application",
      targetId: id,
      before: publicApplication(before),
      after: publicApplication(updated),
    });
    return updated;
  });
}

/**
 * An application's policy for `app show` and the Admin API: as stored, as in force (configuration overrides on
 * top), and which fields the configuration file sets.
 */
export async function describeApplicationPolicy(
  deps: Deps,
  id: string,
): Promise<{ stored: ApplicationPolicy; effective: ApplicationPolicy; configured: string[] }> {
  const app = await requireApplication(deps, id);
  return {
    stored: app.policy,
    effective: effectivePolicy(deps.policy, app),
    configured: Object.keys(configuredOverride(deps.policy, id) ?? {}),
  };
}

export async function rotateApplicationSecret(deps: Deps, actor: Actor, id: string): Promise<Secret<string>> {
  await requireApplication(deps, id);
  const secret = randomString(SECRET_ALPHABET, 40);
  await deps.store.transaction(async (tx) => {
    await tx.updateApplication(
      id,
      { secretSealed: deps.keyring.seal(Buffer.from(secret, "utf8"), applicationSealContext(id)) },
      deps.clock.now(),
    );
    await audit({ ...deps, store: tx }, actor, {
      action: "application.rotate_secret",
      targetType: "application",
      targetId: id,
    });
  });
  return new Secret(secret);
}

/**
 * Disable or re-enable an application. A disabled application's signed requests are refused, and the completion
 * gate denies its logins already under way (a pending push approved later, A4).
 */
export async function setApplicationStatus(
  deps: Deps,
  actor: Actor,
  id: string,
  status: ApplicationStatus,
): Promise<Application> {
  const before = await requireApplication(deps, id);
  return deps.store.transaction(async (tx) => {
    const after = await tx.updateApplication(id, { status }, deps.clock.now());
    if (!after) throw new TwofoldError("ERR_APPLICATION_NOT_FOUND", `no application ${id}`);
    await audit({ ...deps, store: tx }, actor, {
      action: status === "disabled" ? "application.disable" : "application.enable",
      targetType: "application",
      targetId: id,
      before: { status: before.status },
      after: { status },
    });
    return after;
  });
}

export async function deleteApplication(deps: Deps, actor: Actor, id: string): Promise<void> {
  const app = await requireApplication(deps, id);
  await deps.store.transaction(async (tx) => {
    await tx.deleteApplication(id);
    await audit({ ...deps, store: tx }, actor, {
      action: "application.delete",
      targetType: "application",
      targetId: id,
      before: publicApplication(app),
    });
  });
}
