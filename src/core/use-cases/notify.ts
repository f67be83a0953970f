// Queues a user notification in the outbox, inside the caller's transaction, so it survives a crash (G3, F-16).
import { randomId } from "../crypto/index.ts";
import type { Deps } from "../deps.ts";

export async function notify(
  deps: Pick<Deps, "store" | "clock">,
  userId: string,
  kind: string,
  payload: Record<string, unknown>,
): Promise<void> {
  await deps.store.enqueueNotification({
    id: randomId("DN"),
    userId,
    kind,
    payload,
    createdAt: deps.clock.now(),
    sentAt: null,
  });
}
