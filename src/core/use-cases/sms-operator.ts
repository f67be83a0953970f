// The service desk's SMS controls and the operator view: stop and resume texts to a user or number, end a breaker's pause, report sends, spend, refusals and stops.
import { randomId } from "../crypto/index.ts";
import { type Actor, audit, type Deps } from "../deps.ts";
import { TwofoldError } from "../errors.ts";
import { maskPhone } from "../mask-phone.ts";
import {
  allowedCountries,
  capMicros,
  destinationOf,
  MICROS,
  spendDayBefore,
  spendDayOf,
} from "../sms-guard-rules.ts";
import type { SmsStop, SmsStopScope } from "../sms-guard-store.ts";
import { throttleAddress } from "../throttle.ts";
import { requireUser } from "./users.ts";

/** What a stop names: a user (any spelling or id), a number (E.164), or a breaker's source. */
export type SmsStopTarget =
  | { user: string }
  | { number: string }
  | { country: string }
  | { prefix: string }
  | { address: string };

/** A stop or pause as operators see it: a number masked to its last four digits (N1). */
export interface PublicSmsStop {
  id: string;
  scope: SmsStopScope;
  /** User id, masked number, country, prefix or address. */
  subject: string;
  username: string | null;
  source: SmsStop["source"];
  mode: SmsStop["mode"];
  reason: string;
  createdAt: number;
  createdBy: string;
  until: number | null;
  endedAt: number | null;
  endedBy: string | null;
  active: boolean;
  stats: unknown;
}

async function publicStop(deps: Deps, stop: SmsStop, now: number): Promise<PublicSmsStop> {
  const user = stop.userId ? await deps.store.getUser(stop.userId) : undefined;
  return {
    id: stop.id,
    scope: stop.scope,
    subject: stop.scope === "number" ? maskPhone(stop.subject) : stop.subject,
    username: user?.username ?? null,
    source: stop.source,
    mode: stop.mode,
    reason: stop.reason,
    createdAt: stop.createdAt,
    createdBy: stop.createdBy,
    until: stop.until,
    endedAt: stop.endedAt,
    endedBy: stop.endedBy,
    active: stop.endedAt === null && (stop.until === null || stop.until > now),
    stats: stop.stats,
  };
}

function checkE164(number: string): string {
  const text = number.replace(/[\s().-]/g, "");
  if (!destinationOf(text, 1))
    throw new TwofoldError("ERR_VALIDATION", "the number must be in E.164 form, e.g. +85291234567", {
      issues: [{ path: "number", message: "not an E.164 phone number" }],
    });
  return text;
}

function checkReason(reason: string): string {
  const text = reason.trim();
  if (text.length === 0 || text.length > 500)
    throw new TwofoldError("ERR_VALIDATION", "a reason (1 to 500 characters) is required", {
      issues: [{ path: "reason", message: "1 to 500 characters" }],
    });
  return text;
}

/** Resolve a target to the scope and subject its stop is recorded under. */
async function subjectOf(
  deps: Deps,
  target: SmsStopTarget,
): Promise<{ scope: SmsStopScope; subject: string; userId: string | null }> {
  if ("user" in target) {
    const user = await requireUser(deps, target.user);
    return { scope: "user", subject: user.id, userId: user.id };
  }
  if ("number" in target) return { scope: "number", subject: checkE164(target.number), userId: null };
  if ("country" in target) {
    const country = target.country.trim().toUpperCase();
    if (!/^[A-Z]{2}$/.test(country))
      throw new TwofoldError("ERR_VALIDATION", "a country is two letters (HK)");
    return { scope: "country", subject: country, userId: null };
  }
  if ("prefix" in target) {
    const prefix = target.prefix.replace(/[\s().-]/g, "");
    if (!/^\+[0-9]{2,12}$/.test(prefix))
      throw new TwofoldError("ERR_VALIDATION", "a prefix is + and digits, as the report shows it (+8525123)");
    return { scope: "prefix", subject: prefix, userId: null };
  }
  const address = throttleAddress(target.address);
  if (address === null) throw new TwofoldError("ERR_VALIDATION", "not an IP address");
  return { scope: "address", subject: address, userId: null };
}

/**
 * Stop texts to a user or to a number, with the reason the service desk gives (E3). The user is then told "Text
 * messages are not available for your account" (P13) and keeps every other method. One open stop per user or
 * number: stopping again is refused (ERR_CONFLICT) rather than overwriting the first reason.
 */
export async function stopSms(
  deps: Deps,
  actor: Actor,
  target: { user: string } | { number: string },
  reason: string,
): Promise<PublicSmsStop> {
  const why = checkReason(reason);
  const { scope, subject, userId } = await subjectOf(deps, target);
  const now = deps.clock.now();
  const stop: SmsStop = {
    id: randomId("SX"),
    scope,
    subject,
    userId,
    source: "operator",
    mode: "enforce",
    reason: why,
    createdAt: now,
    createdBy: actor.name,
    until: null,
    endedAt: null,
    endedBy: null,
    stats: null,
  };
  await deps.store.transaction(async (tx) => {
    if (!(await tx.insertSmsStop(stop)))
      throw new TwofoldError("ERR_CONFLICT", `texts to this ${scope} are already stopped`);
    await audit({ ...deps, store: tx }, actor, {
      action: "sms.stop",
      targetType: scope === "user" ? "user" : "phone",
      targetId: scope === "user" ? subject : null,
      after: { id: stop.id, scope, reason: why, ...(scope === "number" ? { number: subject } : {}) },
    });
  });
  return publicStop(deps, stop, now);
}

/**
 * End a stop: an operator's stop of a user or number, or a breaker's pause of a country, prefix or address (sooner
 * than it would end by itself). Named by its id or by what it stops. Returns what was ended.
 */
export async function resumeSms(
  deps: Deps,
  actor: Actor,
  target: SmsStopTarget | { id: string },
): Promise<PublicSmsStop[]> {
  const now = deps.clock.now();
  let ids: string[];
  if ("id" in target) ids = [target.id];
  else {
    const { scope, subject } = await subjectOf(deps, target);
    ids = (await deps.store.findOpenSmsStops([{ scope, subject }])).map((s) => s.id);
  }
  const ended: SmsStop[] = [];
  await deps.store.transaction(async (tx) => {
    for (const id of ids) {
      const stop = await tx.endSmsStop(id, now, actor.name);
      if (!stop) continue;
      ended.push(stop);
      await audit({ ...deps, store: tx }, actor, {
        action: "sms.resume",
        targetType: stop.scope === "user" ? "user" : stop.scope === "number" ? "phone" : `sms_${stop.scope}`,
        targetId: stop.scope === "number" ? null : stop.subject,
        after: {
          id: stop.id,
          scope: stop.scope,
          ...(stop.scope === "number" ? { number: stop.subject } : {}),
        },
      });
    }
  });
  if (ended.length === 0)
    throw new TwofoldError("ERR_NOT_FOUND", "nothing is stopped there (or it has ended already)");
  return Promise.all(ended.map((s) => publicStop(deps, s, now)));
}

/** The operator view of SMS: sends and spend per day against the cap, refusals by reason, stops, breaker state. */
export interface SmsReport {
  generatedAt: number;
  currency: string;
  dailyCap: number;
  countries: readonly string[];
  today: { day: string; sent: number; spent: number; capReached: boolean };
  days: Array<{
    day: string;
    sent: number;
    typed: number;
    failed: number;
    spent: number;
    blocked: Record<string, number>;
  }>;
  blockedByReason: Record<string, number>;
  stops: PublicSmsStop[];
  breaker: {
    modes: { country: string; prefix: string; address: string };
    paused: PublicSmsStop[];
    recorded: PublicSmsStop[];
  };
}

/** The last `days` spend days (today included), and every stop or pause open now or ended within them. */
export async function readSmsReport(deps: Deps, options: { days?: number } = {}): Promise<SmsReport> {
  const policy = deps.smsGuard;
  const days = options.days ?? 7;
  if (!Number.isInteger(days) || days < 1 || days > 400)
    throw new TwofoldError("ERR_VALIDATION", "days must be 1 to 400", {
      issues: [{ path: "days", message: "1 to 400" }],
    });
  const now = deps.clock.now();
  const offset = policy.spend.dayUtcOffsetMinutes;
  const fromDay = spendDayBefore(now, offset, days - 1);
  const [dayRows, blockedRows, stopRows] = await Promise.all([
    deps.store.listSmsDays(fromDay),
    deps.store.listSmsBlocked(fromDay),
    deps.store.listSmsStops(now - days * 86_400_000, 1000),
  ]);
  const byDay = new Map<string, SmsReport["days"][number]>();
  const dayOf = (day: string) => {
    let entry = byDay.get(day);
    if (!entry) {
      entry = { day, sent: 0, typed: 0, failed: 0, spent: 0, blocked: {} };
      byDay.set(day, entry);
    }
    return entry;
  };
  for (const d of dayRows)
    Object.assign(dayOf(d.day), {
      sent: d.sent,
      typed: d.converted,
      failed: d.failed,
      spent: d.spentMicros / MICROS,
    });
  const blockedByReason: Record<string, number> = {};
  for (const b of blockedRows) {
    dayOf(b.day).blocked[b.reason] = b.count;
    blockedByReason[b.reason] = (blockedByReason[b.reason] ?? 0) + b.count;
  }
  const today = spendDayOf(now, offset);
  const todayRow = dayRows.find((d) => d.day === today);
  const stops = await Promise.all(stopRows.map((s) => publicStop(deps, s, now)));
  return {
    generatedAt: now,
    currency: policy.spend.currency,
    dailyCap: policy.spend.dailyCap,
    countries: allowedCountries(policy),
    today: {
      day: today,
      sent: todayRow?.sent ?? 0,
      spent: (todayRow?.spentMicros ?? 0) / MICROS,
      capReached: todayRow?.capAlertedAt != null || (todayRow?.spentMicros ?? 0) >= capMicros(policy),
    },
    days: [...byDay.values()].sort((a, b) => a.day.localeCompare(b.day)),
    blockedByReason,
    stops: stops.filter((s) => s.source === "operator" && s.active),
    breaker: {
      modes: {
        country: policy.breaker.country.mode,
        prefix: policy.breaker.prefix.mode,
        address: policy.breaker.address.mode,
      },
      paused: stops.filter((s) => s.source === "breaker" && s.mode === "enforce"),
      recorded: stops.filter((s) => s.source === "breaker" && s.mode === "record"),
    },
  };
}
