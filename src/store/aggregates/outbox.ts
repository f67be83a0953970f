// The outbox (SMS and e-mail): rows committed before sending, claimed for an attempt by one conditional write.

import type { OutboxChannel, OutboxMessage, OutboxStatus } from "../../core/model.ts";
import type { DeliveryReceipt, OutboxPatch } from "../../core/ports.ts";
import { num } from "../rows.ts";
import { guard, StoreContext } from "../store-context.ts";
import type { OutboxMessagesTable } from "../tables.ts";

/** States a message does not leave by itself (pruned once old); `sent` still waits for a receipt but is done. */
const FINAL: readonly OutboxStatus[] = ["sent", "delivered", "undelivered", "failed", "expired", "unknown"];

function toOutboxMessage(r: OutboxMessagesTable): OutboxMessage {
  return {
    id: r.id,
    channel: r.channel as OutboxChannel,
    userId: r.user_id,
    kind: r.kind,
    destinationSealed: r.destination_sealed,
    bodySealed: r.body_sealed,
    reservationId: r.reservation_id,
    status: r.status as OutboxStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    leaseOwner: r.lease_owner,
    leaseUntil: num(r.lease_until),
    sendBy: num(r.send_by),
    gateway: r.gateway,
    gatewayMessageId: r.gateway_message_id,
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    sentAt: num(r.sent_at),
    receiptAt: num(r.receipt_at),
  };
}

function patchColumns(patch: OutboxPatch): Partial<OutboxMessagesTable> {
  const set: Partial<OutboxMessagesTable> = { status: patch.status, lease_owner: null, lease_until: null };
  if (patch.nextAttemptAt !== undefined) set.next_attempt_at = patch.nextAttemptAt;
  if (patch.gateway !== undefined) set.gateway = patch.gateway;
  if (patch.gatewayMessageId !== undefined) set.gateway_message_id = patch.gatewayMessageId;
  if (patch.lastError !== undefined) set.last_error = patch.lastError;
  if (patch.sentAt !== undefined) set.sent_at = patch.sentAt;
  return set;
}

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class OutboxRecords extends StoreContext {
  async enqueueOutboxMessage(m: OutboxMessage): Promise<void> {
    await guard(() =>
      this.db
        .insertInto("outbox_messages")
        .values({
          id: m.id,
          channel: m.channel,
          user_id: m.userId,
          kind: m.kind,
          destination_sealed: m.destinationSealed,
          body_sealed: m.bodySealed,
          reservation_id: m.reservationId,
          status: m.status,
          attempts: m.attempts,
          next_attempt_at: m.nextAttemptAt,
          lease_owner: m.leaseOwner,
          lease_until: m.leaseUntil,
          send_by: m.sendBy,
          gateway: m.gateway,
          gateway_message_id: m.gatewayMessageId,
          last_error: m.lastError,
          created_at: m.createdAt,
          sent_at: m.sentAt,
          receipt_at: m.receiptAt,
        })
        .execute(),
    );
  }

  async getOutboxMessage(id: string): Promise<OutboxMessage | undefined> {
    const r = await guard(() =>
      this.db.selectFrom("outbox_messages").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return r && toOutboxMessage(r);
  }

  async countUnsentOutboxMessages(channel: string): Promise<number> {
    const r = await guard(() =>
      this.db
        .selectFrom("outbox_messages")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("channel", "=", channel)
        .where("status", "in", ["pending", "sending"])
        .executeTakeFirstOrThrow(),
    );
    return Number(r.n);
  }

  async listDueOutboxMessages(now: number, limit: number): Promise<string[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("outbox_messages")
        .select("id")
        .where("status", "=", "pending")
        .where("next_attempt_at", "<=", now)
        .orderBy("next_attempt_at")
        .limit(limit)
        .execute(),
    );
    return rows.map((r) => r.id);
  }

  async listAbandonedOutboxMessages(now: number, limit: number): Promise<string[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("outbox_messages")
        .select("id")
        .where("status", "=", "sending")
        .where("lease_until", "<=", now)
        .orderBy("lease_until")
        .limit(limit)
        .execute(),
    );
    return rows.map((r) => r.id);
  }

  async claimOutboxMessage(id: string, owner: string, now: number, leaseUntil: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("outbox_messages")
        .set((eb) => ({
          status: "sending",
          lease_owner: owner,
          lease_until: leaseUntil,
          attempts: eb("attempts", "+", 1),
        }))
        .where("id", "=", id)
        .where("status", "=", "pending")
        .where("next_attempt_at", "<=", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async finishOutboxAttempt(id: string, owner: string, patch: OutboxPatch): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("outbox_messages")
        .set(patchColumns(patch))
        .where("id", "=", id)
        .where("status", "=", "sending")
        .where("lease_owner", "=", owner)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async settleOutboxMessage(id: string, from: readonly OutboxStatus[], patch: OutboxPatch): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("outbox_messages")
        .set(patchColumns(patch))
        .where("id", "=", id)
        .where("status", "in", [...from])
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async recordOutboxReceipt(receipt: DeliveryReceipt, at: number): Promise<OutboxMessage | undefined> {
    const where = this.db
      .selectFrom("outbox_messages")
      .selectAll()
      .where("gateway", "=", receipt.gateway)
      .where("gateway_message_id", "=", receipt.gatewayMessageId);
    const found = await guard(() => where.executeTakeFirst());
    if (!found) return undefined;
    const updated = await guard(() =>
      this.db
        .updateTable("outbox_messages")
        .set({
          status: receipt.delivered ? "delivered" : "undelivered",
          receipt_at: at,
          last_error: receipt.delivered ? null : receipt.detail.slice(0, 200),
        })
        .where("id", "=", found.id)
        .where("status", "in", ["sent", "sending", "unknown"])
        .executeTakeFirst(),
    );
    // A receipt repeated (providers retry their callbacks) changes nothing and is not counted twice.
    if (Number(updated.numUpdatedRows) !== 1) return undefined;
    return this.getOutboxMessage(found.id);
  }

  async pruneOutboxMessages(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("outbox_messages")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("outbox_messages")
            .select("id")
            .where("created_at", "<=", before)
            .where("status", "in", [...FINAL])
            .orderBy("created_at")
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async countOutboxMessages(
    since: number,
  ): Promise<Array<{ channel: string; status: string; count: number }>> {
    const rows = await guard(() =>
      this.db
        .selectFrom("outbox_messages")
        .select(["channel", "status", (eb) => eb.fn.countAll<number>().as("n")])
        .where("created_at", ">=", since)
        .groupBy(["channel", "status"])
        .orderBy("channel")
        .orderBy("status")
        .execute(),
    );
    return rows.map((r) => ({ channel: r.channel, status: r.status, count: Number(r.n) }));
  }
}
