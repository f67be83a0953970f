// Users: create, find by any spelling of their name, update status, aliases, delete, unlock, import.
import { hashPassword, randomId } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { type ErrorIssue, TwofoldError } from "../errors.ts";
import type { User, UserStatus } from "../model.ts";
import { canonicalizeUsername, tryCanonicalizeUsername } from "../username.ts";

export interface NewUser {
  username: string;
  realName?: string | null;
  email?: string | null;
  phone?: string | null;
  status?: UserStatus;
  password?: string | null;
  notes?: string | null;
}

/** What an admin sees of a user: never the password hash. */
export type PublicUser = Omit<User, "passwordHash"> & { hasPassword: boolean };

export function toPublicUser(user: User): PublicUser {
  const { passwordHash, ...rest } = user;
  return { ...rest, hasPassword: passwordHash !== null };
}

/** The canonical key for a typed identifier: canonical form, with configured domains stripped (A3). */
export function resolveIdentifier(deps: Pick<Deps, "stripDomains">, raw: string): string | undefined {
  const canonical = tryCanonicalizeUsername(raw);
  if (!canonical) return undefined;
  const at = canonical.lastIndexOf("@");
  if (at > 0) {
    const domain = canonical.slice(at + 1);
    if (deps.stripDomains.some((d) => d.toLowerCase() === domain)) return canonical.slice(0, at);
  }
  return canonical;
}

export async function findUser(deps: Deps, identifier: string): Promise<User | undefined> {
  const key = resolveIdentifier(deps, identifier);
  return key === undefined ? undefined : deps.store.findUserByIdentifier(key);
}

export async function requireUser(deps: Deps, identifier: string): Promise<User> {
  const user = (await deps.store.getUser(identifier)) ?? (await findUser(deps, identifier));
  if (!user) throw new TwofoldError("ERR_USER_NOT_FOUND", `no user ${JSON.stringify(identifier)}`);
  return user;
}

function validateNewUser(input: NewUser): ErrorIssue[] {
  const issues: ErrorIssue[] = [];
  try {
    canonicalizeUsername(input.username);
  } catch (e) {
    issues.push({ path: "username", message: (e as Error).message });
  }
  if (input.email && !/^[^\s@]+@[^\s@]+$/.test(input.email))
    issues.push({ path: "email", message: "not an e-mail address" });
  if (input.phone && !/^\+[1-9][0-9]{6,14}$/.test(input.phone))
    issues.push({ path: "phone", message: "must be E.164, e.g. +886912345678" });
  if (input.realName && input.realName.length > 200)
    issues.push({ path: "realName", message: "longer than 200" });
  return issues;
}

async function buildUser(deps: Deps, input: NewUser): Promise<User> {
  const now = deps.clock.now();
  return {
    id: randomId("DU"),
    username: input.username.trim(),
    usernameCanonical: canonicalizeUsername(input.username),
    realName: input.realName ?? null,
    email: input.email ?? null,
    phone: input.phone ?? null,
    status: input.status ?? "active",
    passwordHash: input.password ? await hashPassword(input.password) : null,
    notes: input.notes ?? null,
    createdAt: now,
    updatedAt: now,
  };
}

export async function createUser(deps: Deps, actor: Actor, input: NewUser): Promise<PublicUser> {
  const issues = validateNewUser(input);
  if (issues.length > 0) throw new TwofoldError("ERR_VALIDATION", "invalid user", { issues });
  const user = await buildUser(deps, input);
  // One identity, one record: a new username may not equal an existing alias or e-mail (A3).
  if (await deps.store.findUserByIdentifier(user.usernameCanonical))
    throw new TwofoldError("ERR_USER_EXISTS", `user ${user.username} already exists`);
  await deps.store.transaction(async (tx) => {
    await tx.insertUser(user);
    await audit({ ...deps, store: tx }, actor, {
      action: "user.create",
      targetType: "user",
      targetId: user.id,
      after: toPublicUser(user),
    });
  });
  return toPublicUser(user);
}

export interface UserImportRow extends NewUser {
  line: number;
}

export type ImportProgress = (done: number, total: number) => void;

/**
 * Create many users at once. Every row is checked first; any problem (invalid field, duplicate in the
 * file, user already present) refuses the whole import with the lines at fault, and nothing is written.
 */
export async function importUsers(
  deps: Deps,
  actor: Actor,
  rows: UserImportRow[],
  onProgress?: ImportProgress,
): Promise<{ created: number }> {
  const issues: ErrorIssue[] = [];
  const seen = new Map<string, number>();
  for (const row of rows) {
    for (const i of validateNewUser(row))
      issues.push({ path: `line ${row.line}`, message: `${i.path}: ${i.message}` });
    const key = tryCanonicalizeUsername(row.username);
    if (!key) continue;
    const first = seen.get(key);
    if (first !== undefined) issues.push({ path: `line ${row.line}`, message: `duplicate of line ${first}` });
    else seen.set(key, row.line);
    if (await deps.store.findUserByIdentifier(key))
      issues.push({ path: `line ${row.line}`, message: `user ${row.username} already exists` });
  }
  if (issues.length > 0)
    throw new TwofoldError("ERR_IMPORT_INVALID", "the user file has errors; nothing was imported", {
      issues,
    });
  const users: User[] = [];
  for (const row of rows) {
    users.push(await buildUser(deps, row));
    onProgress?.(users.length, rows.length * 2);
  }
  await deps.store.transaction(async (tx) => {
    let done = 0;
    for (const user of users) {
      await tx.insertUser(user);
      onProgress?.(rows.length + ++done, rows.length * 2);
    }
    await audit({ ...deps, store: tx }, actor, {
      action: "user.import",
      targetType: "user",
      targetId: null,
      after: { count: users.length },
    });
  });
  return { created: users.length };
}

export async function setUserStatus(
  deps: Deps,
  actor: Actor,
  identifier: string,
  status: UserStatus,
): Promise<PublicUser> {
  const user = await requireUser(deps, identifier);
  const updated = await deps.store.transaction(async (tx) => {
    const u = await tx.updateUser(user.id, { status }, deps.clock.now());
    await audit({ ...deps, store: tx }, actor, {
      action: "user.status",
      targetType: "user",
      targetId: user.id,
      before: { status: user.status },
      after: { status },
    });
    return u;
  });
  return toPublicUser(updated!);
}

export async function addUserAlias(
  deps: Deps,
  actor: Actor,
  identifier: string,
  alias: string,
): Promise<void> {
  const user = await requireUser(deps, identifier);
  const key = canonicalizeUsername(alias);
  if (await deps.store.findUserByIdentifier(key))
    throw new TwofoldError("ERR_USER_EXISTS", `${alias} already names a user`);
  await deps.store.transaction(async (tx) => {
    await tx.addAlias(user.id, alias.trim(), key);
    await audit({ ...deps, store: tx }, actor, {
      action: "user.alias.add",
      targetType: "user",
      targetId: user.id,
      after: { alias },
    });
  });
}

export async function deleteUser(deps: Deps, actor: Actor, identifier: string): Promise<void> {
  const user = await requireUser(deps, identifier);
  await deps.store.transaction(async (tx) => {
    await tx.deleteUser(user.id);
    await audit({ ...deps, store: tx }, actor, {
      action: "user.delete",
      targetType: "user",
      targetId: user.id,
      before: toPublicUser(user),
    });
  });
}

/** Clear every lockout counter of a user (service desk, after checking identity). */
export async function unlockUser(deps: Deps, actor: Actor, identifier: string): Promise<number> {
  const user = await requireUser(deps, identifier);
  return deps.store.transaction(async (tx) => {
    const n = await tx.clearLockouts(user.id);
    await audit({ ...deps, store: tx }, actor, {
      action: "user.unlock",
      targetType: "user",
      targetId: user.id,
    });
    return n;
  });
}
