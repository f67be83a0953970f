// The notification outbox.
import type { Notification } from "../../core/model.ts";
import { guard, StoreContext } from "../store-context.ts";

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class NotificationRecords extends StoreContext {
  async enqueueNotification(n: Notification): Promise<void> {
    await guard(() =>
      this.db
        .insertInto("notifications")
        .values({
          id: n.id,
          user_id: n.userId,
          kind: n.kind,
          payload_json: JSON.stringify(n.payload),
          created_at: n.createdAt,
          sent_at: n.sentAt,
        })
        .execute(),
    );
  }

  async listPendingNotifications(limit: number): Promise<Notification[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("notifications")
        .selectAll()
        .where("sent_at", "is", null)
        .orderBy("created_at")
        .orderBy("id")
        .limit(limit)
        .execute(),
    );
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      kind: r.kind,
      payload: JSON.parse(r.payload_json) as unknown,
      createdAt: Number(r.created_at),
      sentAt: r.sent_at === null ? null : Number(r.sent_at),
    }));
  }

  async markNotificationSent(id: string, at: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("notifications")
        .set({ sent_at: at })
        .where("id", "=", id)
        .where("sent_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }
}
