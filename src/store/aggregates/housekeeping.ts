// Housekeeping (L-2): batched pruning of expired rows.
import { sql } from "kysely";
import { guard, StoreContext } from "../store-context.ts";

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class HousekeepingRecords extends StoreContext {
  // `DELETE … WHERE key IN (SELECT key … ORDER BY expiry LIMIT n)`: one statement over an index range, so each
  // batch holds its locks briefly. Two nodes pruning at once may pick the same rows; the second then deletes
  // fewer, which only ends its loop early.
  prunePushTransactions(before: number, limit: number): Promise<number> {
    return this.pruneOldestById("push_transactions", "expires_at", "<=", before, limit);
  }

  pruneDeviceActivations(before: number, limit: number): Promise<number> {
    return this.pruneOldestById("device_activations", "expires_at", "<=", before, limit);
  }

  /** The oldest `limit` rows of a table keyed by `id` whose time `column` is before `before` (or at it, `<=`). */
  private async pruneOldestById(
    table: "push_transactions" | "device_activations" | "notifications" | "auth_log",
    column: "expires_at" | "created_at" | "at",
    op: "<" | "<=",
    before: number,
    limit: number,
  ): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom(table)
        .where("id", "in", (qb) =>
          qb
            .selectFrom(table)
            .select("id")
            .where(sql.ref(column), op, before)
            .orderBy(sql.ref(column))
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async prunePendingOTPCredentials(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("otp_credentials")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("otp_credentials")
            .select("id")
            .where("status", "=", "pending")
            .where("pending_expires_at", "<=", before)
            .orderBy("pending_expires_at")
            .limit(limit),
        )
        // Re-checked on the row deleted: an enrolment confirmed meanwhile is no longer pending and stays.
        .where("status", "=", "pending")
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async pruneSignedRequests(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("signed_requests")
        .where("digest", "in", (qb) =>
          qb
            .selectFrom("signed_requests")
            .select("digest")
            .where("expires_at", "<=", before)
            .orderBy("expires_at")
            .limit(limit),
        )
        // A digest claimed again since it was selected has a new expiry and must stay (K2).
        .where("expires_at", "<=", before)
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  pruneNotifications(before: number, limit: number): Promise<number> {
    return this.pruneOldestById("notifications", "created_at", "<", before, limit);
  }

  pruneAuthLog(before: number, limit: number): Promise<number> {
    return this.pruneOldestById("auth_log", "at", "<", before, limit);
  }
}
