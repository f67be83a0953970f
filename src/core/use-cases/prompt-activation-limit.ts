// Activation codes a prompt login may show: each is a stored activation and an audit record, so one login's form
// posted in a loop must not add them without end.
import type { Deps } from "../deps.ts";
import { TwofoldError } from "../errors.ts";
import { decideThrottle, windowsToRead } from "../throttle.ts";

/** Codes per login in the throttle window ("Show a new code", the app as a backup): far above what a person asks for. */
export const ACTIVATIONS_PER_LOGIN = 10;

/**
 * Count one activation code for the login, or refuse (ERR_RATE_LIMITED) once it has shown its share in the
 * throttle window. Check and count are separate statements: parallel posts may pass by one each, still bounded.
 */
export async function countPromptActivation(deps: Deps, sessionId: string): Promise<void> {
  const rule = { limit: ACTIVATIONS_PER_LOGIN, windowSeconds: deps.policy.throttle.windowSeconds };
  const key = `prompt-activation:${sessionId}`;
  const now = deps.clock.now();
  const { current, previous } = windowsToRead(now, rule);
  const counts = await deps.store.readThrottleCounts([key], previous);
  const count = (start: number) => counts.find((c) => c.windowStart === start)?.count ?? 0;
  const decision = decideThrottle(now, rule, count(current), count(previous));
  if (!decision.allowed)
    throw new TwofoldError("ERR_RATE_LIMITED", "too many activation codes for this login; try again later", {
      detail: `retry after ${decision.retryAfterSeconds} s`,
    });
  await deps.store.addThrottleEvents([{ key, windowStart: current }]);
}
