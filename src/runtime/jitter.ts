// Timers that many nodes or streams run: each period varies ±20 %, so they do not fire in lockstep.
import { randomBelow } from "../core/crypto/index.ts";

/** `periodMs` ± 20 %. */
export function jitter(periodMs: number): number {
  const spread = Math.floor(periodMs * 0.4);
  return periodMs - Math.floor(spread / 2) + (spread > 0 ? randomBelow(spread + 1) : 0);
}
