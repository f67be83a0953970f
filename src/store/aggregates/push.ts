// Push transactions: created, resolved once, expired; and per-user push suspension.
import type { PushStatus, PushTransaction } from "../../core/model.ts";
import { num, toPush } from "../rows.ts";
import { guard, hot, StoreContext } from "../store-context.ts";
import type { PushTransactionsTable } from "../tables.ts";

const Q = {
  get: hot("push_get", "select * from push_transactions where id = ?"),
  resolve: hot(
    "push_resolve",
    "update push_transactions set status = ?, device_id = ?, answered_at = ? " +
      "where id = ? and status = 'pending' and expires_at > ?",
  ),
};

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class PushRecords extends StoreContext {
  async insertPushTransaction(p: PushTransaction): Promise<void> {
    await guard(() =>
      this.db
        .insertInto("push_transactions")
        .values({
          id: p.id,
          user_id: p.userId,
          application_id: p.applicationId,
          status: p.status,
          code_hash: p.codeHash,
          code_sealed: p.codeSealed ?? null,
          context_json: JSON.stringify(p.context),
          created_at: p.createdAt,
          expires_at: p.expiresAt,
          answered_at: p.answeredAt,
          device_id: p.deviceId,
        })
        .execute(),
    );
  }

  async getPushTransaction(id: string): Promise<PushTransaction | undefined> {
    const [row] = await this.hotRows<PushTransactionsTable>(Q.get, [id]);
    return row && toPush(row);
  }

  async listPushTransactions(userId: string, since: number): Promise<PushTransaction[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("push_transactions")
        .selectAll()
        .where("user_id", "=", userId)
        .where("created_at", ">=", since)
        .orderBy("created_at", "desc")
        .orderBy("id")
        .execute(),
    );
    return rows.map(toPush);
  }

  async listPendingPushes(userId: string, now: number): Promise<PushTransaction[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("push_transactions")
        .selectAll()
        .where("user_id", "=", userId)
        .where("status", "=", "pending")
        .where("expires_at", ">", now)
        .orderBy("created_at", "desc")
        .orderBy("id")
        .execute(),
    );
    return rows.map(toPush);
  }

  async resolvePushTransaction(
    id: string,
    status: Exclude<PushStatus, "pending" | "expired">,
    deviceId: string | null,
    now: number,
  ): Promise<boolean> {
    return (await this.hotChanges(Q.resolve, [status, deviceId, now, id, now])) === 1;
  }

  async expirePushTransactions(now: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .updateTable("push_transactions")
        .set({ status: "expired" })
        .where("status", "=", "pending")
        .where("expires_at", "<=", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows);
  }

  async getPushSuspendedAt(userId: string): Promise<number | null> {
    const row = await guard(() =>
      this.db.selectFrom("users").select("push_suspended_at").where("id", "=", userId).executeTakeFirst(),
    );
    return num(row?.push_suspended_at ?? null);
  }

  async setPushSuspendedAt(userId: string, at: number | null): Promise<void> {
    await guard(() =>
      this.db.updateTable("users").set({ push_suspended_at: at }).where("id", "=", userId).execute(),
    );
  }

  async markPushAnnounced(id: string, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("push_transactions")
        .set({ announced_at: now })
        .where("id", "=", id)
        .where("announced_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }
}
