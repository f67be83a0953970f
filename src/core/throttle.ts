// Sliding-window counting as pure functions: which window an event falls in, how many events a key has had over the last window, and when it drops under its limit (A6).

/** One limit: at most `limit` counted events in any `windowSeconds`. */
export interface ThrottleRule {
  limit: number;
  windowSeconds: number;
}

/** The stored count of one key in one fixed window (`windowStart` in ms, a multiple of the window length). */
export interface ThrottleCount {
  key: string;
  windowStart: number;
  count: number;
}

export function windowStartOf(now: number, rule: ThrottleRule): number {
  const ms = rule.windowSeconds * 1000;
  return Math.floor(now / ms) * ms;
}

/**
 * The two fixed windows a sliding estimate reads: the current one and the one before it. Counting in fixed
 * windows keeps storage to one row per key and window; weighting the previous window by how much of it still
 * lies inside the sliding window removes the double burst a plain fixed window allows at its edge.
 */
export function windowsToRead(now: number, rule: ThrottleRule): { current: number; previous: number } {
  const current = windowStartOf(now, rule);
  return { current, previous: current - rule.windowSeconds * 1000 };
}

/** Events over the sliding window that ends now: the current window's count plus the overlapping part of the previous one. */
export function slidingCount(now: number, rule: ThrottleRule, current: number, previous: number): number {
  const ms = rule.windowSeconds * 1000;
  const elapsed = (now - windowStartOf(now, rule)) / ms;
  return previous * (1 - elapsed) + current;
}

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Whether one more counted event may happen now and, if not, how long until the sliding count falls below
 * the limit with no further events (the `Retry-After` a client is told; at least one second).
 */
export function decideThrottle(
  now: number,
  rule: ThrottleRule,
  current: number,
  previous: number,
): ThrottleDecision {
  if (slidingCount(now, rule, current, previous) < rule.limit) return { allowed: true };
  const ms = rule.windowSeconds * 1000;
  const start = windowStartOf(now, rule);
  let at: number;
  if (current < rule.limit && previous > 0) {
    // Still in this window: previous·(1 − f) + current < limit once f > 1 − (limit − current)/previous.
    at = start + ms * (1 - (rule.limit - current) / previous);
  } else {
    // Only after this window ends, when its count becomes the previous one: current·(1 − f) < limit.
    at = start + ms + ms * Math.max(0, 1 - rule.limit / current);
  }
  // At `at` itself the count equals the limit: the first whole second after it is when a retry succeeds.
  return { allowed: false, retryAfterSeconds: Math.floor((at - now) / 1000) + 1 };
}

/**
 * The address a throttle counts under: IPv4 as it is (an IPv4-mapped IPv6 address as its IPv4 form), IPv6 by
 * its /64 prefix, since anyone holding one IPv6 address usually holds the whole /64 and could otherwise rotate
 * through it. Returns null for text that is not an IP address.
 */
export function throttleAddress(ip: string): string | null {
  const text = ip.trim().toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (mapped) return mapped[1]!;
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(text)) return text;
  const groups = expandIPv6(text.replace(/%.*$/, ""));
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : null;
}

function expandIPv6(text: string): string[] | null {
  if (!/^[0-9a-f:.]+$/.test(text) || !text.includes(":")) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string): string[] | null => {
    if (part === "") return [];
    const out: string[] = [];
    for (const g of part.split(":")) {
      if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(g)) {
        const [a, b, c, d] = g.split(".").map(Number) as [number, number, number, number];
        out.push(((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
      } else if (/^[0-9a-f]{1,4}$/.test(g)) out.push(String(Number.parseInt(g, 16).toString(16)));
      else return null;
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return null;
  return [...head, ...Array<string>(fill).fill("0"), ...tail];
}
