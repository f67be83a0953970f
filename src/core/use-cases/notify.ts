// Queues a user notification (and its e-mail, when mail is configured) inside the caller's transaction, so it survives a crash (G3, F-16).
import { randomId } from "../crypto/index.ts";
import type { Deps } from "../deps.ts";
import { queueNotificationMail } from "./email-notifications.ts";

export async function notify(
  deps: Deps,
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
  await queueNotificationMail(deps, userId, kind, payload);
}
