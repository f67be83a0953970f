// Throttles per integration, per reported client address and per connecting peer, checked before any user is looked up so that no one can lock users out cheaply (A6).
import type { Deps } from "../deps.ts";
import type { Application } from "../model.ts";
import type { ThrottlePolicy } from "../policy.ts";
import {
  decideThrottle,
  type ThrottleRule,
  throttleAddress,
  windowStartOf,
  windowsToRead,
} from "../throttle.ts";

/** Where a login comes from, as every interface knows it (Auth API, REST v1; later the prompt, RADIUS, OIDC). */
export interface LoginSource {
  application: Pick<Application, "id">;
  /** The end user's address as the integration reports it (Duo `ipaddr`): chosen by whoever holds the key. */
  ip: string | null;
  /** The address the request came from: the integration's own server, relaying all of its users' logins. */
  peer: string | null;
}

export type ThrottleScope = "integration" | "address" | "peer";

export type LoginThrottleDecision =
  | { allowed: true }
  | { allowed: false; scope: ThrottleScope; retryAfterSeconds: number };

interface Counter {
  scope: ThrottleScope;
  key: string;
  rule: ThrottleRule;
}

/**
 * The counters a login from `source` is held to. The reported address is counted per integration, so one
 * integration cannot throttle an address for the others by reporting it; the peer is a real connection and
 * counted across integrations. An address that is not an IP literal is not counted by address.
 */
function countersFor(policy: ThrottlePolicy, source: LoginSource): Counter[] {
  const rule = (limit: number): ThrottleRule => ({ limit, windowSeconds: policy.windowSeconds });
  const counters: Counter[] = [
    { scope: "integration", key: `integration:${source.application.id}`, rule: rule(policy.perIntegration) },
  ];
  const address = source.ip === null ? null : throttleAddress(source.ip);
  if (address !== null)
    counters.push({
      scope: "address",
      key: `address:${source.application.id}:${address}`,
      rule: rule(policy.perAddress),
    });
  const peer = source.peer === null ? null : throttleAddress(source.peer);
  if (peer !== null) counters.push({ scope: "peer", key: `peer:${peer}`, rule: rule(policy.perPeer) });
  return counters;
}

/**
 * May a login from `source` go ahead? One read of at most six counter rows, made before the user is looked
 * up: a throttled login touches no user's lockout counters. The most restrictive counter decides, and the
 * answer says how long until it would allow one more attempt.
 *
 * The check and the later count are separate statements, so logins racing past a check at the limit can add
 * at most one failure each beyond it; the limit still bounds any sustained rate.
 */
export async function checkLoginThrottle(deps: Deps, source: LoginSource): Promise<LoginThrottleDecision> {
  const policy = deps.policy.throttle;
  if (!policy.enabled) return { allowed: true };
  const now = deps.clock.now();
  const counters = countersFor(policy, source);
  const since = Math.min(...counters.map((c) => windowsToRead(now, c.rule).previous));
  const rows = await deps.store.readThrottleCounts(
    counters.map((c) => c.key),
    since,
  );
  let worst: LoginThrottleDecision = { allowed: true };
  for (const c of counters) {
    const { current, previous } = windowsToRead(now, c.rule);
    const count = (start: number) => rows.find((r) => r.key === c.key && r.windowStart === start)?.count ?? 0;
    const decision = decideThrottle(now, c.rule, count(current), count(previous));
    if (!decision.allowed && (worst.allowed || decision.retryAfterSeconds > worst.retryAfterSeconds))
      worst = { allowed: false, scope: c.scope, retryAfterSeconds: decision.retryAfterSeconds };
  }
  return worst;
}

/**
 * Count one failed login (a wrong, delayed or locked passcode, an unknown user, a refused factor) against
 * each counter of its source: one statement that adds one to every counter's current window. Successful
 * logins are not counted, so they cost no write here.
 */
export async function countFailedLogin(deps: Deps, source: LoginSource): Promise<void> {
  const policy = deps.policy.throttle;
  if (!policy.enabled) return;
  const now = deps.clock.now();
  await deps.store.addThrottleEvents(
    countersFor(policy, source).map((c) => ({ key: c.key, windowStart: windowStartOf(now, c.rule) })),
  );
}

/**
 * Housekeeping: forget counter windows that no sliding window reads any more (older than two of the longest
 * window). Returns how many rows were deleted.
 */
export async function deleteExpiredThrottleCounts(deps: Deps): Promise<number> {
  const longest = Math.max(deps.policy.throttle.windowSeconds, deps.policy.apiEnrollment.rateWindowSeconds);
  const before = deps.clock.now() - 2 * longest * 1000;
  let deleted = 0;
  for (;;) {
    const n = await deps.store.deleteThrottleCounts(before, DELETE_BATCH);
    deleted += n;
    if (n < DELETE_BATCH) return deleted;
  }
}

/** Rows one statement of deleteExpiredThrottleCounts deletes. */
const DELETE_BATCH = 500;
