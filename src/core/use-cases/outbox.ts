// The durable outbox: messages committed before they are sent, attempted by one node at a time, retried, failed over, their receipts recorded.
import { randomId } from "../crypto/index.ts";
import type { Deps, Messaging, OutboxEvent } from "../deps.ts";
import type { OutboxChannel, OutboxMessage } from "../model.ts";
import { type DeliveryReceipt, MessageSendError, type OutboxPatch } from "../ports.ts";
import { recordSmsFailed } from "./sms-guard.ts";

/** Where a message's sealed destination and body are bound (M2): they cannot be moved to another row. */
const destinationContext = (id: string) => ({
  table: "outbox_messages",
  column: "destination_sealed",
  row: id,
});
const bodyContext = (id: string) => ({ table: "outbox_messages", column: "body_sealed", row: id });

export interface NewOutboxMessage {
  channel: OutboxChannel;
  userId: string | null;
  kind: string;
  /** A phone number (E.164) or an e-mail address. */
  destination: string;
  /** SMS: the text. E-mail: JSON of `{subject, text}`. */
  body: string;
  reservationId?: string | null;
  /** Not sent after this. */
  sendBy?: number | null;
  /** Held by this node for its first attempt at once (a login waiting for its text): no other node takes it. */
  claimNow?: boolean;
}

/**
 * Add a message to the outbox, in the caller's transaction (it commits with the event that causes it). With
 * `claimNow`, the message is created already leased to this node for its first attempt (`attemptDelivery`).
 */
export async function enqueueMessage(deps: Deps, input: NewOutboxMessage): Promise<OutboxMessage> {
  const now = deps.clock.now();
  const id = randomId("OM");
  const m = deps.messaging;
  const claim = input.claimNow === true && m !== undefined;
  const message: OutboxMessage = {
    id,
    channel: input.channel,
    userId: input.userId,
    kind: input.kind,
    destinationSealed: deps.keyring.seal(Buffer.from(input.destination, "utf8"), destinationContext(id)),
    bodySealed: deps.keyring.seal(Buffer.from(input.body, "utf8"), bodyContext(id)),
    reservationId: input.reservationId ?? null,
    status: claim ? "sending" : "pending",
    attempts: claim ? 1 : 0,
    nextAttemptAt: now,
    leaseOwner: claim ? m.owner : null,
    leaseUntil: claim ? now + m.outbox.leaseSeconds * 1000 : null,
    sendBy: input.sendBy ?? null,
    gateway: null,
    gatewayMessageId: null,
    lastError: null,
    createdAt: now,
    sentAt: null,
    receiptAt: null,
  };
  await deps.store.enqueueOutboxMessage(message);
  return message;
}

/** Whether the channel's queue has room (the outbox is bounded: a flood is refused, not stored). */
export async function outboxHasRoom(deps: Deps, channel: OutboxChannel): Promise<boolean> {
  const m = deps.messaging;
  if (!m) return false;
  return (await deps.store.countUnsentOutboxMessages(channel)) < m.outbox.maxUnsent;
}

export type AttemptResult = "sent" | "retrying" | "failed" | "expired" | "unknown" | "not_claimed";

function emit(m: Messaging, e: OutboxEvent): void {
  try {
    m.onEvent?.(e);
  } catch {
    // the log must never change an outcome
  }
}

/** The delay before attempt `attempts + 1`: doubling from the base, capped. */
export function retryDelayMs(m: Messaging, attempts: number): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  return Math.min(m.outbox.retryBaseSeconds * 2 ** exponent, m.outbox.retryMaxSeconds) * 1000;
}

/**
 * One attempt at a message this node holds (status `sending`, leased to `messaging.owner`): each gateway of the
 * channel in turn until one takes it. A gateway that certainly did not take it passes to the next (fail-over);
 * one that may have (a timeout after the request was written) ends the attempt as `unknown`, never sent again:
 * a message goes out once at most. When every gateway refused, the message waits for its next attempt, unless
 * attempts are used up or it would arrive too late (a passcode past its life is not sent): then it has failed
 * and the guard's reservation is refunded.
 */
export async function attemptDelivery(deps: Deps, id: string): Promise<AttemptResult> {
  const m = deps.messaging;
  if (!m) return "not_claimed";
  const message = await deps.store.getOutboxMessage(id);
  if (message?.status !== "sending" || message.leaseOwner !== m.owner) return "not_claimed";
  const base = { id, channel: message.channel, kind: message.kind };
  const finish = (patch: OutboxPatch) => deps.store.finishOutboxAttempt(id, m.owner, patch);
  const giveUp = async (status: "failed" | "expired", error: string): Promise<AttemptResult> => {
    if (!(await finish({ status, lastError: error }))) return "not_claimed";
    if (message.reservationId) await recordSmsFailed(deps, message.reservationId, deps.clock.now());
    emit(m, { event: status, ...base, attempts: message.attempts, error });
    return status;
  };
  const now = deps.clock.now();
  if (message.sendBy !== null && message.sendBy <= now) return giveUp("expired", "no longer useful");

  const destination = Buffer.from(
    deps.keyring.open(message.destinationSealed, destinationContext(id)),
  ).toString();
  const body = Buffer.from(deps.keyring.open(message.bodySealed, bodyContext(id))).toString();
  // Stop trying before the lease runs out: past it, another node would call the message abandoned.
  const leaseLeft = Math.max(0, (message.leaseUntil ?? now) - now - 1000);
  const signal = AbortSignal.timeout(Math.max(leaseLeft, 100));
  const errors: string[] = [];
  const gateways: ReadonlyArray<{
    name: string;
    send(signal: AbortSignal): Promise<{ gatewayMessageId: string | null }>;
  }> =
    message.channel === "sms"
      ? m.sms.map((g) => ({
          name: g.name,
          send: (s) => g.send({ to: destination, text: body, reference: id }, s),
        }))
      : m.mail
        ? [
            {
              name: m.mail.name,
              send: (s) => {
                const mail = JSON.parse(body) as { subject: string; text: string };
                return m.mail!.send(
                  { to: destination, subject: mail.subject, text: mail.text, reference: id },
                  s,
                );
              },
            },
          ]
        : [];
  for (const gateway of gateways) {
    try {
      const sent = await gateway.send(signal);
      const ok = await finish({
        status: "sent",
        gateway: gateway.name,
        gatewayMessageId: sent.gatewayMessageId,
        sentAt: deps.clock.now(),
        lastError: errors.length > 0 ? errors.join("; ").slice(0, 500) : null,
      });
      emit(m, { event: "sent", ...base, gateway: gateway.name, attempts: message.attempts });
      return ok ? "sent" : "not_claimed";
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (error instanceof MessageSendError && !error.definite) {
        await finish({ status: "unknown", gateway: gateway.name, lastError: `${gateway.name}: ${text}` });
        emit(m, {
          event: "unknown",
          ...base,
          gateway: gateway.name,
          attempts: message.attempts,
          error: text,
        });
        return "unknown";
      }
      errors.push(`${gateway.name}: ${text}`);
    }
  }
  const error = gateways.length === 0 ? "no gateway configured" : errors.join("; ").slice(0, 500);
  const next = deps.clock.now() + retryDelayMs(m, message.attempts);
  if (message.attempts >= m.outbox.maxAttempts || (message.sendBy !== null && next >= message.sendBy))
    return giveUp("failed", error);
  if (!(await finish({ status: "pending", nextAttemptAt: next, lastError: error }))) return "not_claimed";
  emit(m, { event: "retry", ...base, attempts: message.attempts, error });
  return "retrying";
}

/** Claim a due message for this node (one conditional write), then attempt it. */
export async function deliverMessage(deps: Deps, id: string): Promise<AttemptResult> {
  const m = deps.messaging;
  if (!m) return "not_claimed";
  const now = deps.clock.now();
  if (!(await deps.store.claimOutboxMessage(id, m.owner, now, now + m.outbox.leaseSeconds * 1000)))
    return "not_claimed";
  return attemptDelivery(deps, id);
}

export interface OutboxRun {
  attempted: number;
  sent: number;
  abandoned: number;
}

/**
 * One pass of the outbox on this node: messages whose sender stopped mid-send are marked `unknown` (never sent
 * twice), then up to `limit` due messages are claimed and attempted. Several nodes may run it at once: each
 * message is claimed by one of them.
 */
export async function runOutbox(deps: Deps, limit = 50): Promise<OutboxRun> {
  const m = deps.messaging;
  const run: OutboxRun = { attempted: 0, sent: 0, abandoned: 0 };
  if (!m) return run;
  const now = deps.clock.now();
  for (const id of await deps.store.listAbandonedOutboxMessages(now, limit)) {
    const settled = await deps.store.settleOutboxMessage(id, ["sending"], {
      status: "unknown",
      lastError: "the node sending it stopped before it knew the result",
    });
    if (settled) {
      run.abandoned++;
      const message = await deps.store.getOutboxMessage(id);
      if (message) emit(m, { event: "unknown", id, channel: message.channel, kind: message.kind });
    }
  }
  for (const id of await deps.store.listDueOutboxMessages(now, limit)) {
    const result = await deliverMessage(deps, id);
    if (result === "not_claimed") continue;
    run.attempted++;
    if (result === "sent") run.sent++;
  }
  return run;
}

/** A gateway's delivery receipt: the message is marked delivered or not; an undelivered text refunds the guard. */
export async function recordDeliveryReceipt(deps: Deps, receipt: DeliveryReceipt): Promise<boolean> {
  const message = await deps.store.recordOutboxReceipt(receipt, deps.clock.now());
  if (!message) return false;
  if (deps.messaging)
    emit(deps.messaging, {
      event: "receipt",
      id: message.id,
      channel: message.channel,
      kind: message.kind,
      gateway: receipt.gateway,
      delivered: receipt.delivered,
    });
  if (!receipt.delivered && message.reservationId)
    await recordSmsFailed(deps, message.reservationId, deps.clock.now());
  return true;
}

/** A message's state, for operators and tests (never its destination or body). */
export async function getMessageStatus(
  deps: Deps,
  id: string,
): Promise<Omit<OutboxMessage, "destinationSealed" | "bodySealed"> | undefined> {
  const message = await deps.store.getOutboxMessage(id);
  if (!message) return undefined;
  const { destinationSealed: _d, bodySealed: _b, ...rest } = message;
  return rest;
}

/** Messages per channel and status since `since` (operators). */
export async function countMessages(deps: Deps, since: number) {
  return deps.store.countOutboxMessages(since);
}
