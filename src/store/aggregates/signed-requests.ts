// Replay records of signed requests and the throttle counters (A6).
import type { ThrottleCount } from "../../core/throttle.ts";
import { guard, StoreContext } from "../store-context.ts";

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class SignedRequestRecords extends StoreContext {
  async claimSignedRequest(digest: string, expiresAt: number, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .insertInto("signed_requests")
        .values({ digest, expires_at: expiresAt, seen_at: now })
        .onConflict((oc) =>
          oc
            .column("digest")
            .doUpdateSet({ expires_at: expiresAt, seen_at: now })
            .where("signed_requests.expires_at", "<=", now),
        )
        .executeTakeFirst(),
    );
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async signedRequestSeenAt(digest: string): Promise<number | null | undefined> {
    const r = await guard(() =>
      this.db.selectFrom("signed_requests").select("seen_at").where("digest", "=", digest).executeTakeFirst(),
    );
    return r === undefined ? undefined : r.seen_at === null ? null : Number(r.seen_at);
  }

  async purgeSignedRequests(now: number): Promise<number> {
    const r = await guard(() =>
      this.db.deleteFrom("signed_requests").where("expires_at", "<=", now).executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async readThrottleCounts(keys: readonly string[], since: number): Promise<ThrottleCount[]> {
    if (keys.length === 0) return [];
    const rows = await guard(() =>
      this.db
        .selectFrom("throttle_counts")
        .selectAll()
        .where("key", "in", [...keys])
        .where("window_start", ">=", since)
        .execute(),
    );
    return rows.map((r) => ({ key: r.key, windowStart: Number(r.window_start), count: Number(r.count) }));
  }

  async addThrottleEvents(entries: ReadonlyArray<{ key: string; windowStart: number }>): Promise<void> {
    if (entries.length === 0) return;
    await guard(() =>
      this.db
        .insertInto("throttle_counts")
        .values(entries.map((e) => ({ key: e.key, window_start: e.windowStart, count: 1 })))
        .onConflict((oc) =>
          oc
            .columns(["key", "window_start"])
            .doUpdateSet((eb) => ({ count: eb("throttle_counts.count", "+", 1) })),
        )
        .execute(),
    );
  }

  async deleteThrottleCounts(before: number): Promise<number> {
    const r = await guard(() =>
      this.db.deleteFrom("throttle_counts").where("window_start", "<", before).executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }
}
