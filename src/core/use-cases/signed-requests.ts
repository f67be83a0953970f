// Remembering signed Duo requests (K2): an identical signature seen again is a replay, or a client that sent the same call twice within one second.
import { sha256Hex } from "../crypto/index.ts";
import type { Deps } from "../deps.ts";
import { SIGNATURE_WINDOW_MS } from "../signed-request.ts";

/**
 * How long an undated (variant L, duo_unix ≤ 2.0.4) signature is remembered. It carries no time, so it could be
 * refused forever only by refusing every later identical login too (duo_unix signs the same bytes for the same
 * user, host, address and factor); a short window refuses immediate repeats (a resent request, a burst of
 * replays) on every node while a user's next login, seconds later, still works.
 */
export const UNDATED_DUPLICATE_WINDOW_MS = 2000;

/**
 * Dates have one-second resolution, so a client that makes the same call twice within one second signs the same
 * bytes. A copy arriving this soon after the first is answered "retry later" (HTTP 429 with Retry-After): duo_unix
 * ≥ 2.1 waits and signs it anew, with a later date. Copies after that are replays, or an SDK resending the same
 * bytes after its back-off, and are refused.
 */
export const DUPLICATE_RETRY_MS = 1000;

/** `new`: go ahead. `duplicate`: the same bytes within one second of the first. `replay`: refuse. */
export type SignedRequestAdmission = "new" | "duplicate" | "replay";

/**
 * Remember a verified request's signature with one conditional write (several nodes share the record): until its
 * date leaves the window (K2), or for {@link UNDATED_DUPLICATE_WINDOW_MS} when it is undated.
 */
export async function admitSignedRequest(
  deps: Pick<Deps, "store" | "clock">,
  request: { ikey: string; signature: string; signedAt: number | null },
): Promise<SignedRequestAdmission> {
  const now = deps.clock.now();
  const digest = sha256Hex(`${request.ikey}:${request.signature.toLowerCase()}`);
  const expiresAt =
    request.signedAt === null
      ? now + UNDATED_DUPLICATE_WINDOW_MS
      : request.signedAt + SIGNATURE_WINDOW_MS + 1000;
  if (await deps.store.claimSignedRequest(digest, expiresAt, now)) return "new";
  const seenAt = await deps.store.signedRequestSeenAt(digest);
  return typeof seenAt === "number" && now - seenAt < DUPLICATE_RETRY_MS ? "duplicate" : "replay";
}

/** Rows one statement of a purge deletes: short statements, so requests in between never wait long. */
const PURGE_BATCH = 500;

/** Forget signatures whose window has passed, a batch per statement; returns how many. */
export async function purgeSignedRequests(deps: Pick<Deps, "store" | "clock">): Promise<number> {
  const now = deps.clock.now();
  let deleted = 0;
  for (;;) {
    const n = await deps.store.pruneSignedRequests(now, PURGE_BATCH);
    deleted += n;
    if (n < PURGE_BATCH) return deleted;
  }
}
