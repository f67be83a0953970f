// Users: create, find by any spelling of their name, update status, aliases, delete, unlock, import.
import { hashPassword, randomId, timeOrderedId } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { type ErrorIssue, TwofoldError } from "../errors.ts";
import { describeLockout, type LockoutStatus } from "../lockout.ts";
import { USER_LANGUAGES, type User, type UserLanguage, type UserStatus } from "../model.ts";
import type { UserPatch } from "../ports.ts";
import {
  addressesOfName,
  canonicalizeEmail,
  canonicalizeUsername,
  tryCanonicalizeUsername,
} from "../username.ts";
import { revokeTrustedBrowsersForUser } from "./trust-revocation.ts";
import { reconcileIfContested } from "./username-reconciliation.ts";

export interface NewUser {
  username: string;
  realName?: string | null;
  email?: string | null;
  phone?: string | null;
  status?: UserStatus;
  password?: string | null;
  notes?: string | null;
  /** The language of the user's notifications (`en`, `zh-Hant`). */
  language?: UserLanguage | null;
  /** Other names the user logs in with (Duo `alias1`…); they share the user's counters and factors (A3). */
  aliases?: string[];
}

/** What an admin sees of a user: never the password hash. */
export type PublicUser = Omit<User, "passwordHash"> & { hasPassword: boolean };

export function toPublicUser(user: User): PublicUser {
  const { passwordHash, ...rest } = user;
  return { ...rest, hasPassword: passwordHash !== null };
}

/**
 * The canonical key of a typed username, alias or e-mail under this deployment's `identity.stripDomains`
 * (A3): the one form every write stores and every lookup searches. Undefined when it names nobody.
 */
export function resolveIdentifier(deps: Pick<Deps, "stripDomains">, raw: string): string | undefined {
  return tryCanonicalizeUsername(raw, deps.stripDomains);
}

/**
 * The keys a typed identifier is looked up by (A3): its canonical name, which usernames and aliases are stored
 * under, and for the e-mail branch the address folded but never domain-stripped, as e-mail addresses are stored.
 * With `corp` stripped, `robert.smith@corp` is the name `robert.smith` and the address `robert.smith@corp`.
 * Undefined when it names nobody.
 */
export interface IdentifierKeys {
  name: string;
  email: string;
}

export function identifierKeys(deps: Pick<Deps, "stripDomains">, raw: string): IdentifierKeys | undefined {
  const name = resolveIdentifier(deps, raw);
  return name === undefined ? undefined : { name, email: canonicalizeEmail(raw) };
}

/** The user an identifier's keys name: by username or alias, else by an e-mail address only one user has. */
function findByKeys(deps: Deps, keys: IdentifierKeys | undefined): Promise<User | undefined> {
  return keys === undefined
    ? Promise.resolve(undefined)
    : deps.store.findUserByIdentifier(keys.name, keys.email);
}

/**
 * How many users other than `self` have an e-mail address these keys spell: the address as typed, the name
 * itself, or the name in a stripped domain (`robert.smith` is `robert.smith@corp` with `corp` stripped).
 */
async function othersWithEmail(deps: Deps, keys: IdentifierKeys, self?: User): Promise<number> {
  const own = self?.email ? canonicalizeEmail(self.email) : undefined;
  let n = 0;
  for (const key of new Set([keys.name, keys.email, ...addressesOfName(keys.name, deps.stripDomains)]))
    n += (await deps.store.countUsersWithEmail(key)) - (key === own ? 1 : 0);
  return n;
}

/** The canonical key of a name being written; throws ERR_USERNAME_INVALID for a name that cannot be one. */
function canonicalName(deps: Pick<Deps, "stripDomains">, raw: string): string {
  return canonicalizeUsername(raw, deps.stripDomains);
}

/**
 * Whether a name is spoken for: a user's name, an alias, an e-mail address (one user's or several users'), or a
 * name two users claim that an operator has yet to settle (see reconcileUsernames). A new username or alias may
 * be none of these: a username outranks an address at login, so a new user named after someone's address would
 * take that person's logins by address.
 */
async function isNameTaken(deps: Deps, keys: IdentifierKeys, self?: User): Promise<boolean> {
  const [owner, contesting] = await Promise.all([
    findByKeys(deps, keys),
    deps.store.getUsernameCollision(keys.name),
  ]);
  return (
    (owner !== undefined && owner.id !== self?.id) ||
    contesting.some((id) => id !== self?.id) ||
    (await othersWithEmail(deps, keys, self)) > 0
  );
}

/**
 * Whether any user answers to a typed name, even where it names nobody today: a user's name, an alias, a unique
 * e-mail, a name two users claim (A3) or an address several users share. A login for such a name is not a
 * stranger's, so new-user `allow` must not let it in without a factor, nor `enroll` make it a new user.
 */
export async function isNameSpokenFor(deps: Deps, raw: string): Promise<boolean> {
  const keys = identifierKeys(deps, raw);
  return keys !== undefined && (await isNameTaken(deps, keys));
}

/**
 * The user a typed identifier names, or undefined. A name two users claim (found when usernames were
 * reconciled after a change of `identity.stripDomains`) names neither until an operator settles it: a
 * login must never reach whichever of the two happens to hold the key (A3, G1). The store applies that.
 */
export async function findUser(deps: Deps, identifier: string): Promise<User | undefined> {
  return findByKeys(deps, identifierKeys(deps, identifier));
}

/** The user an operator names by id or by any spelling; a contested name is refused with the ids to use. */
export async function requireUser(deps: Deps, identifier: string): Promise<User> {
  const byId = await deps.store.getUser(identifier);
  if (byId) return byId;
  const key = resolveIdentifier(deps, identifier);
  const contesting = key === undefined ? [] : await deps.store.getUsernameCollision(key);
  if (contesting.length > 0)
    throw new TwofoldError(
      "ERR_USER_AMBIGUOUS",
      `${JSON.stringify(identifier)} names more than one user (${contesting.join(", ")}): use the user id; ` +
        "see `twofold user collisions`",
    );
  const user = await findByKeys(deps, identifierKeys(deps, identifier));
  if (!user) throw new TwofoldError("ERR_USER_NOT_FOUND", `no user ${JSON.stringify(identifier)}`);
  return user;
}

function validateNewUser(deps: Pick<Deps, "stripDomains">, input: NewUser): ErrorIssue[] {
  const issues: ErrorIssue[] = [];
  try {
    canonicalName(deps, input.username);
  } catch (e) {
    issues.push({ path: "username", message: (e as Error).message });
  }
  issues.push(...validateUserFields(input));
  return issues;
}

function validateUserFields(input: Pick<NewUser, "email" | "phone" | "realName" | "language">): ErrorIssue[] {
  const issues: ErrorIssue[] = [];
  if (input.language && !(USER_LANGUAGES as readonly string[]).includes(input.language))
    issues.push({ path: "language", message: `one of ${USER_LANGUAGES.join(", ")}` });
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
    usernameCanonical: canonicalName(deps, input.username),
    realName: input.realName ?? null,
    email: input.email ?? null,
    phone: input.phone ?? null,
    status: input.status ?? "active",
    passwordHash: input.password ? await hashPassword(input.password) : null,
    notes: input.notes ?? null,
    language: input.language ?? null,
    createdAt: now,
    updatedAt: now,
  };
}

export async function createUser(deps: Deps, actor: Actor, input: NewUser): Promise<PublicUser> {
  const issues = validateNewUser(deps, input);
  if (issues.length > 0) throw new TwofoldError("ERR_VALIDATION", "invalid user", { issues });
  const user = await buildUser(deps, input);
  // One identity, one record: a new username may not equal an existing username, alias or e-mail in any
  // spelling (A3). `bob` is refused while `bob@corp` exists and `corp` is stripped: that is the same person.
  if (await isNameTaken(deps, { name: user.usernameCanonical, email: canonicalizeEmail(input.username) }))
    throw new TwofoldError("ERR_USER_EXISTS", `user ${user.username} already exists`);
  const aliases = await checkNewAliases(deps, user, input.aliases ?? [], []);
  await deps.store.transaction(async (tx) => {
    await tx.insertUser(user);
    for (const a of aliases) await tx.addAlias(user.id, a.alias, a.canonical);
    await audit({ ...deps, store: tx }, actor, {
      action: "user.create",
      targetType: "user",
      targetId: user.id,
      after: {
        ...toPublicUser(user),
        ...(aliases.length > 0 ? { aliases: aliases.map((a) => a.alias) } : {}),
      },
    });
  });
  return toPublicUser(user);
}

/** What an administrator may change about a user (never the id, the password hash or the creation time). */
export interface UserChanges {
  username?: string;
  realName?: string | null;
  email?: string | null;
  status?: UserStatus;
  notes?: string | null;
  language?: UserLanguage | null;
  /** The complete new list of aliases: names not in it are removed, new ones added. */
  aliases?: string[];
}

/**
 * Aliases to add for `user`: each a valid name, none repeated, none the user's own username, and none naming
 * another user (one identity, one record, A3). `keep` are the user's aliases that stay; `stored` is the user as
 * stored, when it is (their own address may then be an alias: `robert.smith` for `robert.smith@corp`).
 */
async function checkNewAliases(
  deps: Deps,
  user: Pick<User, "id" | "usernameCanonical">,
  wanted: readonly string[],
  keep: readonly string[],
  stored?: User,
): Promise<Array<{ alias: string; canonical: string }>> {
  const issues: ErrorIssue[] = [];
  const out: Array<{ alias: string; canonical: string }> = [];
  const seen = new Set(keep);
  for (const [i, raw] of wanted.entries()) {
    const canonical = resolveIdentifier(deps, raw);
    const path = `aliases[${i}]`;
    if (!canonical) {
      issues.push({ path, message: "not a valid name" });
      continue;
    }
    if (canonical === user.usernameCanonical || seen.has(canonical)) {
      issues.push({ path, message: "repeats the username or another alias" });
      continue;
    }
    seen.add(canonical);
    if (await isNameTaken(deps, { name: canonical, email: canonicalizeEmail(raw) }, stored))
      throw new TwofoldError("ERR_USER_EXISTS", `${raw} already names a user`);
    out.push({ alias: raw.trim(), canonical });
  }
  if (issues.length > 0) throw new TwofoldError("ERR_VALIDATION", "invalid aliases", { issues });
  return out;
}

/** Change a user's names and details in one transaction, audited with the values before and after. */
export async function updateUser(
  deps: Deps,
  actor: Actor,
  identifier: string,
  changes: UserChanges,
): Promise<PublicUser> {
  const user = await requireUser(deps, identifier);
  const issues = validateUserFields(changes);
  let usernameCanonical: string | undefined;
  if (changes.username !== undefined) {
    usernameCanonical = resolveIdentifier(deps, changes.username);
    if (!usernameCanonical) issues.push({ path: "username", message: "not a valid username" });
  }
  if (issues.length > 0) throw new TwofoldError("ERR_VALIDATION", "invalid user", { issues });
  if (usernameCanonical !== undefined && usernameCanonical !== user.usernameCanonical) {
    const keys = { name: usernameCanonical, email: canonicalizeEmail(changes.username ?? "") };
    const [owner, contesting] = await Promise.all([
      findByKeys(deps, keys),
      deps.store.getUsernameCollision(usernameCanonical),
    ]);
    if (
      (owner && owner.id !== user.id) ||
      contesting.some((id) => id !== user.id) ||
      (await othersWithEmail(deps, keys, user)) > 0
    )
      throw new TwofoldError("ERR_USER_EXISTS", `${changes.username} already names a user`);
  }
  const currentAliases = await deps.store.listAliases(user.id);
  const aliasKey = (a: string) => resolveIdentifier(deps, a) ?? a;
  const currentKeys = new Map(currentAliases.map((a) => [aliasKey(a), a]));
  let removed: string[] = [];
  let added: Array<{ alias: string; canonical: string }> = [];
  if (changes.aliases !== undefined) {
    const wantedKeys = new Set(changes.aliases.map((a) => resolveIdentifier(deps, a)));
    removed = [...currentKeys.keys()].filter((k) => !wantedKeys.has(k));
    const kept = [...currentKeys.keys()].filter((k) => wantedKeys.has(k));
    const fresh = changes.aliases.filter((a) => {
      const k = resolveIdentifier(deps, a);
      return k === undefined || !currentKeys.has(k);
    });
    added = await checkNewAliases(
      deps,
      { id: user.id, usernameCanonical: usernameCanonical ?? user.usernameCanonical },
      fresh,
      kept,
      user,
    );
  }
  const patch: UserPatch = {};
  if (changes.username !== undefined) {
    patch.username = changes.username.trim();
    patch.usernameCanonical = usernameCanonical!;
  }
  if (changes.realName !== undefined) patch.realName = changes.realName;
  if (changes.email !== undefined) patch.email = changes.email;
  if (changes.status !== undefined) patch.status = changes.status;
  if (changes.notes !== undefined) patch.notes = changes.notes;
  if (changes.language !== undefined) patch.language = changes.language;
  const updated = await deps.store.transaction(async (tx) => {
    const u = await tx.updateUser(user.id, patch, deps.clock.now());
    if (!u) throw new TwofoldError("ERR_USER_NOT_FOUND", `no user ${JSON.stringify(identifier)}`);
    if (patch.status === "disabled")
      await revokeTrustedBrowsersForUser({ ...deps, store: tx }, user.id, "user_disabled");
    for (const key of removed) await tx.removeAlias(user.id, key);
    for (const a of added) await tx.addAlias(user.id, a.alias, a.canonical);
    const before: Record<string, unknown> = {};
    for (const k of Object.keys(patch) as Array<keyof UserPatch>)
      if (k !== "usernameCanonical") before[k] = user[k as keyof User];
    await audit({ ...deps, store: tx }, actor, {
      action: "user.update",
      targetType: "user",
      targetId: user.id,
      before: { ...before, ...(changes.aliases !== undefined ? { aliases: currentAliases } : {}) },
      after: {
        ...Object.fromEntries(Object.entries(patch).filter(([k]) => k !== "usernameCanonical")),
        ...(changes.aliases !== undefined
          ? {
              aliases: [
                ...currentAliases.filter((a) => !removed.includes(aliasKey(a))),
                ...added.map((a) => a.alias),
              ],
            }
          : {}),
      },
    });
    return u;
  });
  // A rename or a dropped alias may settle a contested name: look again at once rather than at next start.
  if (changes.username !== undefined || removed.length > 0) await reconcileIfContested(deps);
  return toPublicUser(updated);
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
  // The file's own addresses: no line's username may be another line's address (a username outranks an address
  // at login, so that user would take the other's logins by address).
  const addresses = new Map<string, number>();
  for (const row of rows) if (row.email) addresses.set(canonicalizeEmail(row.email), row.line);
  for (const row of rows) {
    for (const i of validateNewUser(deps, row))
      issues.push({ path: `line ${row.line}`, message: `${i.path}: ${i.message}` });
    const key = resolveIdentifier(deps, row.username);
    if (!key) continue;
    // `Bob`, `ｂｏｂ` and (with `corp` stripped) `bob@corp` on two lines are one user twice.
    const first = seen.get(key);
    if (first !== undefined) issues.push({ path: `line ${row.line}`, message: `duplicate of line ${first}` });
    else seen.set(key, row.line);
    const spelled = [key, canonicalizeEmail(row.username), ...addressesOfName(key, deps.stripDomains)];
    const owner = spelled
      .map((a) => addresses.get(a))
      .find((line) => line !== undefined && line !== row.line);
    if (owner !== undefined)
      issues.push({
        path: `line ${row.line}`,
        message: `${row.username} is the e-mail address on line ${owner}`,
      });
    if (await isNameTaken(deps, { name: key, email: canonicalizeEmail(row.username) }))
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
    if (status === "disabled")
      await revokeTrustedBrowsersForUser({ ...deps, store: tx }, user.id, "user_disabled");
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
  const key = canonicalName(deps, alias);
  if (
    key === user.usernameCanonical ||
    (await isNameTaken(deps, { name: key, email: canonicalizeEmail(alias) }, user))
  )
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
  const now = deps.clock.now();
  const ended = await deps.store.transaction(async (tx) => {
    // Logins waiting on a push end as denials the log explains: the pushes go with the user, the log stays (A4).
    const pending = await tx.listPendingPushes(user.id, now);
    for (const push of pending) {
      if (!(await tx.resolvePushTransaction(push.id, "cancelled", null, now))) continue;
      await tx.appendAuthLog({
        id: timeOrderedId("AL", now),
        at: now,
        userId: user.id,
        username: user.usernameCanonical,
        applicationId: push.applicationId,
        factor: "push",
        result: "deny",
        reason: "user_deleted",
        ip: push.context.ip,
        txid: push.id,
        node: deps.nodeName,
      });
    }
    await tx.deleteUser(user.id);
    await audit({ ...deps, store: tx }, actor, {
      action: "user.delete",
      targetType: "user",
      targetId: user.id,
      before: toPublicUser(user),
    });
    return pending;
  });
  for (const push of ended)
    await deps.pushEvents
      .publish({ kind: "resolved", txid: push.id, userId: user.id, status: "cancelled" })
      .catch(() => undefined);
  await reconcileIfContested(deps);
}

/** A user's failure counters per factor class: why each refuses attempts and until when (service desk, A6). */
export async function listUserLockouts(deps: Deps, identifier: string): Promise<LockoutStatus[]> {
  const user = await requireUser(deps, identifier);
  const now = deps.clock.now();
  return (await deps.store.listLockouts(user.id))
    .filter((l) => l.failures > 0)
    .map((l) => describeLockout(l, now, deps.policy.lockout));
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
