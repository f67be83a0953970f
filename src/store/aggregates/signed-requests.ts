// Replay records of signed requests and the throttle counters (A6).

import { sql } from "kysely";
import type { ThrottleCount } from "../../core/throttle.ts";
import { KeptReads } from "../kept-reads.ts";
import { guard, type HotStatement, hot, StoreContext } from "../store-context.ts";
import type { ThrottleCountsTable } from "../tables.ts";

/** The throttle's statements for `n` counters (a login reads and counts three or four). */
const throttleStatements = new Map<number, { read: HotStatement; add: HotStatement }>();
function throttleFor(n: number): { read: HotStatement; add: HotStatement } {
  let q = throttleStatements.get(n);
  if (!q) {
    q = {
      read: hot(
        `throttle_read_${n}`,
        `select * from throttle_counts where key in (${Array(n).fill("?").join(", ")}) and window_start >= ?`,
      ),
      add: hot(
        `throttle_add_${n}`,
        `insert into throttle_counts (key, window_start, count) values ${Array(n).fill("(?, ?, 1)").join(", ")} ` +
          "on conflict (key, window_start) do update set count = throttle_counts.count + 1",
      ),
    };
    if (n <= 16) throttleStatements.set(n, q);
  }
  return q;
}

const Q = {
  // New, or remembered but past its window: taken. Otherwise nothing changes (a replay).
  claim: hot(
    "signed_request_claim",
    "insert into signed_requests (digest, expires_at, seen_at) values (?, ?, ?) " +
      "on conflict (digest) do update set expires_at = excluded.expires_at, seen_at = excluded.seen_at " +
      "where signed_requests.expires_at <= ?",
  ),
};

/**
 * SQLite: the throttle counters this connection read, per set of keys, kept while no counter can have changed
 * (kept-reads.ts): a login that counts no failure reads them from memory. Rows from `since` on.
 */
const keptCounts = new KeptReads<{ since: number; rows: ThrottleCount[] }>(10_000);

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class SignedRequestRecords extends StoreContext {
  async claimSignedRequest(digest: string, expiresAt: number, now: number): Promise<boolean> {
    return (await this.hotChanges(Q.claim, [digest, expiresAt, now, now])) === 1;
  }

  async signedRequestSeenAt(digest: string): Promise<number | null | undefined> {
    const r = await guard(() =>
      this.db.selectFrom("signed_requests").select("seen_at").where("digest", "=", digest).executeTakeFirst(),
    );
    return r === undefined ? undefined : r.seen_at === null ? null : Number(r.seen_at);
  }

  async readThrottleCounts(keys: readonly string[], since: number): Promise<ThrottleCount[]> {
    if (keys.length === 0) return [];
    const read = async () => {
      const rows = await this.hotRows<ThrottleCountsTable>(throttleFor(keys.length).read, [...keys, since]);
      return {
        since,
        rows: rows.map((r) => ({ key: r.key, windowStart: Number(r.window_start), count: Number(r.count) })),
      };
    };
    const c = this.sqlite;
    if (!c || this.inTransaction) return (await read()).rows;
    const counts = await keptCounts.read(c, keys.join("\u0000"), read, (k) => k.since <= since);
    return counts!.since === since ? counts!.rows : counts!.rows.filter((r) => r.windowStart >= since);
  }

  async addThrottleEvents(entries: ReadonlyArray<{ key: string; windowStart: number }>): Promise<void> {
    if (entries.length === 0) return;
    await keptCounts.changing(this.sqlite, () =>
      this.hotChanges(
        throttleFor(entries.length).add,
        entries.flatMap((e) => [e.key, e.windowStart]),
      ),
    );
  }

  async deleteThrottleCounts(before: number, limit: number): Promise<number> {
    // The oldest `limit` rows (a row is a key's window): one short statement, however many keys a window has.
    const r = await keptCounts.changing(this.sqlite, () =>
      guard(() =>
        sql`delete from throttle_counts where (key, window_start) in (
              select key, window_start from throttle_counts where window_start < ${before}
              order by window_start limit ${limit})`.execute(this.db),
      ),
    );
    return Number(r.numAffectedRows ?? 0);
  }
}
