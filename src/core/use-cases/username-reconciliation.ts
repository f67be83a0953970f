// Brings every stored username and alias key to the canonical form of the current `identity.stripDomains`, and records (never merges) names two users claim.
import { audit, type Deps, SYSTEM_ACTOR } from "../deps.ts";
import type { StoredUserName, UsernameCollision } from "../ports.ts";
import { foldName, tryCanonicalizeUsername } from "../username.ts";

/** Where the stripDomains the stored keys were computed with is kept (meta table). */
const SETTINGS_KEY = "identity.canonical";

export interface UsernameChange {
  userId: string;
  kind: StoredUserName["kind"];
  name: string;
  from: string;
  to: string;
}

export interface ReconcileReport {
  /** Whether the keys were looked at (false: nothing changed since the last run). */
  ran: boolean;
  /** Usernames and aliases looked at. */
  checked: number;
  changed: UsernameChange[];
  /** Names more than one user claims: left as they are, naming nobody until an operator settles them. */
  collisions: UsernameCollision[];
}

/** What the stored keys depend on: the canonical form's rules and the folded, sorted domains stripped. */
function settingsOf(deps: Pick<Deps, "stripDomains">): string {
  const domains = [...new Set(deps.stripDomains.map((d) => foldName(d).replace(/^@/, "")))].sort();
  return JSON.stringify({ form: 1, stripDomains: domains });
}

/**
 * Recompute each username's and alias's key from its stored spelling with the one canonical function
 * (case, NFKC, white space, stripped domains: A3). A key is changed only when no other user wants it; when
 * two or more users' names reduce to one key (`bob@corp` and an enrolled `bob`, once `corp` is stripped),
 * every one of those rows is left untouched and the key is recorded as a collision, which makes it name
 * nobody (logins deny, creates refuse) until an operator deletes or renames one of the users. Never merges.
 *
 * Each change is one conditional write, so nodes starting together do no harm; the settings the keys now
 * follow are recorded last. With `onlyIfChanged`, returns at once when those settings are unchanged and no
 * collision is outstanding (every start runs this).
 */
export async function reconcileUsernames(
  deps: Pick<Deps, "store" | "stripDomains" | "clock">,
  options: { onlyIfChanged?: boolean } = {},
): Promise<ReconcileReport> {
  const { store } = deps;
  const settings = settingsOf(deps);
  if (options.onlyIfChanged) {
    const [recorded, outstanding] = await Promise.all([
      store.getMeta(SETTINGS_KEY),
      store.listUsernameCollisions(),
    ]);
    if (recorded === settings && outstanding.length === 0)
      return { ran: false, checked: 0, changed: [], collisions: [] };
  }
  const names = await store.listUserNames();
  const want = (n: StoredUserName) => tryCanonicalizeUsername(n.name, deps.stripDomains) ?? n.canonical;

  const byKey = new Map<string, StoredUserName[]>();
  for (const n of names) {
    const key = want(n);
    byKey.set(key, [...(byKey.get(key) ?? []), n]);
  }
  const contested = new Map<string, Set<string>>();
  const moves: Array<{ name: StoredUserName; to: string }> = [];
  for (const [key, group] of byKey) {
    const users = new Set(group.map((n) => n.userId));
    if (users.size > 1) {
      contested.set(key, users);
      continue;
    }
    // One user's username and alias (or two aliases) may reduce to one key: the username keeps it, else a
    // row already holding it, else the first; the others stay as they are (redundant, harmless).
    const holder =
      group.find((n) => n.kind === "username") ?? group.find((n) => n.canonical === key) ?? group[0]!;
    if (holder.canonical !== key) moves.push({ name: holder, to: key });
  }

  // Who holds each key now, across usernames and aliases (a lookup tries both).
  const holders = new Map<string, StoredUserName[]>();
  for (const n of names) holders.set(n.canonical, [...(holders.get(n.canonical) ?? []), n]);
  const changed: UsernameChange[] = [];
  let pending = moves;
  for (let progress = true; progress && pending.length > 0; ) {
    progress = false;
    const blocked: typeof pending = [];
    for (const move of pending) {
      const { name, to } = move;
      const others = (holders.get(to) ?? []).filter((h) => h !== name && h.userId !== name.userId);
      const sameTable = (holders.get(to) ?? []).some((h) => h !== name && h.kind === name.kind);
      if (others.length > 0 || sameTable || contested.has(to)) {
        blocked.push(move);
        continue;
      }
      if (!(await store.recanonicalizeUserName(name, to))) {
        // Changed by someone else meanwhile: the next run looks again.
        continue;
      }
      holders.set(
        name.canonical,
        (holders.get(name.canonical) ?? []).filter((h) => h !== name),
      );
      const moved = { ...name, canonical: to };
      holders.set(to, [...(holders.get(to) ?? []), moved]);
      changed.push({ userId: name.userId, kind: name.kind, name: name.name, from: name.canonical, to });
      progress = true;
    }
    pending = blocked;
  }
  // A key still held by another user's row that is not moving away: the same conflict, reported alike.
  // (Blocked only by another row of the same user, it stays as it is, like any redundant name.)
  for (const { name, to } of pending) {
    const users = new Set([name.userId, ...(holders.get(to) ?? []).map((h) => h.userId)]);
    if (users.size > 1) contested.set(to, new Set([...(contested.get(to) ?? []), ...users]));
  }

  const now = deps.clock.now();
  const collisions: UsernameCollision[] = [...contested]
    .map(([canonical, users]) => ({ canonical, userIds: [...users].sort(), detectedAt: now }))
    .sort((a, b) => a.canonical.localeCompare(b.canonical));
  await store.transaction(async (tx) => {
    await tx.replaceUsernameCollisions(collisions);
    if (changed.length > 0 || collisions.length > 0)
      await audit({ ...deps, store: tx }, SYSTEM_ACTOR, {
        action: "user.names.reconcile",
        targetType: "user",
        targetId: null,
        after: {
          changed: changed.length,
          collisions: collisions.map((c) => ({ name: c.canonical, users: c.userIds })),
        },
      });
    await tx.setMeta(SETTINGS_KEY, settings);
  });
  return {
    ran: true,
    checked: names.length,
    changed,
    collisions: await store.listUsernameCollisions(),
  };
}

/** After a delete or rename: when a collision is outstanding, look again, so a settled name works at once. */
export async function reconcileIfContested(
  deps: Pick<Deps, "store" | "stripDomains" | "clock">,
): Promise<void> {
  if ((await deps.store.listUsernameCollisions()).length > 0) await reconcileUsernames(deps);
}

/** Names more than one user claims, as recorded by the last reconciliation. */
export async function listUsernameCollisions(deps: Pick<Deps, "store">): Promise<UsernameCollision[]> {
  return deps.store.listUsernameCollisions();
}
