// The SMS guard (E3): decides every text before it is sent — stops, destination countries, conversion breaker, quotas, spend cap — and reserves it atomically.
import { randomId } from "../crypto/index.ts";
import { audit, type Deps } from "../deps.ts";
import type { OperatorAlert } from "../ports.ts";
import {
  allowedCountries,
  type BreakerRule,
  capMicros,
  couldTrip,
  DAY_MS,
  type Destination,
  destinationOf,
  judgeSource,
  nextSpendDayAt,
  priceMicros,
  type SmsQuota,
  spendDayOf,
} from "../sms-guard-rules.ts";
import type { SmsDimension, SmsSend, SmsStop, SmsStopScope } from "../sms-guard-store.ts";
import { throttleAddress } from "../throttle.ts";

export interface SmsSendRequest {
  userId: string;
  phoneE164: string;
  ip: string | null;
  applicationId: string | null;
  purpose: "passcode" | "phone_verification";
  now: number;
}

export type SmsSendDecision =
  | { allow: true; reservationId: string }
  | {
      allow: false;
      reason: string;
      retryAt: number | null;
      /** what the user is told: P13 / "Too many codes…" / "We couldn't send a text just now." */
      userMessage: "stopped" | "quota" | "unavailable";
    };

type Denial = Extract<SmsSendDecision, { allow: false }>;

/** Every reason a text is refused, as the operator view counts them. */
export const SMS_BLOCK_REASONS = [
  "user_stopped",
  "number_stopped",
  "number_invalid",
  "country_not_allowed",
  "breaker_country",
  "breaker_prefix",
  "breaker_address",
  "quota_user",
  "quota_number",
  "quota_address",
  "quota_application",
  "quota_prefix",
  "quota_country",
  "spend_cap",
] as const;

export type SmsBlockReason = (typeof SMS_BLOCK_REASONS)[number];

/** The quotas in the order a refusal names them: the narrowest first (the user's own, then wider ones). */
const QUOTA_ORDER: ReadonlyArray<{ dimension: SmsDimension; policy: keyof Deps["smsGuard"] }> = [
  { dimension: "user", policy: "perUser" },
  { dimension: "number", policy: "perNumber" },
  { dimension: "address", policy: "perAddress" },
  { dimension: "application", policy: "perApplication" },
  { dimension: "prefix", policy: "perPrefix" },
  { dimension: "country", policy: "perCountry" },
];

/** What a user is told for each quota: their own asking is "too many codes"; a wider limit is "couldn't send". */
const QUOTA_MESSAGE: Record<SmsDimension, Denial["userMessage"]> = {
  user: "quota",
  number: "quota",
  address: "quota",
  application: "unavailable",
  prefix: "unavailable",
  country: "unavailable",
};

const BREAKER_SCOPES = ["prefix", "address", "country"] as const;
type BreakerScope = (typeof BREAKER_SCOPES)[number];

/** The number as the guard's records know it: a keyed hash, never the digits (N1). */
function numberKey(deps: Pick<Deps, "keyring">, e164: string): string {
  return deps.keyring.lookupHash("sms-number", e164);
}

function deny(reason: SmsBlockReason, userMessage: Denial["userMessage"], retryAt: number | null): Denial {
  return { allow: false, reason, retryAt, userMessage };
}

/**
 * Decide whether one text may be sent now and, if so, reserve it: the quotas count it and its price is charged to
 * the day before this returns. Checked in this order, the first refusal deciding what the user is told:
 *
 * 1. an operator's stop of the user or the number (P13, "text messages are not available for your account");
 * 2. the destination country's allow-list (same message: retrying will not help);
 * 3. a country, prefix or address the conversion breaker has paused;
 * 4. the quotas per user, number, address, application, prefix and country, over a short window and 24 hours;
 * 5. the conversion breaker, judging the sources of a text about to go out (it may trip now);
 * 6. the day's spend cap.
 *
 * Steps 1–4 are first read without a lock: a refusal found there (most of a flood) is counted and answered at once.
 * Otherwise everything runs again in one transaction that first locks the spend day's row, so decisions that may
 * send are made one at a time across every node and two requests at a limit never both pass. A refusal is counted by reason for the operator
 * view. Nothing here touches lockout or login-throttle counters: a text is never a failed login, and a user at
 * their SMS quota keeps every other method (E3, privacyIDEA #933/#5628).
 */
export async function decideSmsSend(deps: Deps, req: SmsSendRequest): Promise<SmsSendDecision> {
  const policy = deps.smsGuard;
  const now = req.now;
  const day = spendDayOf(now, policy.spend.dayUtcOffsetMinutes);
  const destination = destinationOf(req.phoneE164, policy.prefixDigits);
  const address = req.ip === null ? null : throttleAddress(req.ip);
  const alerts: OperatorAlert[] = [];
  if (!destination) {
    await deps.store.countSmsBlocked(day, "number_invalid");
    return deny("number_invalid", "stopped", null);
  }
  const facts: Facts = {
    req,
    now,
    destination,
    address,
    numberHash: numberKey(deps, req.phoneE164),
  };

  // A first look without the lock: most refusals (a flood at its quota) are found here and never queue behind the
  // day's lock. Counts only grow until the lock is taken, so a refusal seen here stands; an allow is decided again.
  const early = await checkLimits(deps, deps.store, facts);
  if (early.denial) {
    await deps.store.countSmsBlocked(day, early.denial.reason);
    return early.denial;
  }

  const decision = await deps.store.transaction(async (tx) => {
    const dayRow = await tx.lockSmsDay(day);
    const refuse = async (d: Denial): Promise<Denial> => {
      await tx.countSmsBlocked(day, d.reason);
      return d;
    };
    const { denial, open } = await checkLimits(deps, tx, facts);
    if (denial) return refuse(denial);
    const country = destination.country!;

    // The conversion breaker judges the sources of a text about to go out.
    const values: Record<BreakerScope, string | null> = { prefix: destination.prefix, address, country };
    const tripped = await evaluateBreaker(deps, tx, values, open, now, alerts);
    if (tripped) return refuse(deny(`breaker_${tripped.scope}`, "unavailable", tripped.until));
    const recordedPause = open.some((s) => s.source === "breaker" && s.mode === "record");

    // 5. The day's spend: one conditional write charges the text, or refuses it at the cap.
    const cost = priceMicros(policy, country);
    const cap = capMicros(policy);
    if (!(await tx.chargeSmsDay(day, cost, cap))) {
      if (await tx.markSmsCapAlerted(day, now)) {
        alerts.push({
          kind: "sms.spend_cap_reached",
          at: now,
          message: `SMS stopped for the day: spend ${formatMoney(dayRow.spentMicros)} of the ${formatMoney(cap)} ${policy.spend.currency} cap`,
          details: {
            day,
            spent: dayRow.spentMicros / 1e6,
            cap: policy.spend.dailyCap,
            currency: policy.spend.currency,
          },
        });
        await audit(
          { ...deps, store: tx },
          { name: "system" },
          {
            action: "sms.spend_cap_reached",
            targetType: "sms",
            targetId: day,
            after: {
              spent: dayRow.spentMicros / 1e6,
              cap: policy.spend.dailyCap,
              currency: policy.spend.currency,
            },
          },
        );
      }
      return refuse(deny("spend_cap", "unavailable", nextSpendDayAt(now, policy.spend.dayUtcOffsetMinutes)));
    }

    const send: SmsSend = {
      id: randomId("SR"),
      userId: req.userId,
      numberHash: facts.numberHash,
      country,
      prefix: destination.prefix,
      address,
      applicationId: req.applicationId,
      purpose: req.purpose,
      costMicros: cost,
      day,
      createdAt: now,
      status: "reserved",
      settledAt: null,
      // Under a record-only pause the text goes out, but stays out of the statistics as it would under enforcement.
      excluded: recordedPause,
    };
    await tx.insertSmsSend(send);
    return { allow: true as const, reservationId: send.id };
  });
  for (const alert of alerts) deps.alerts?.raise(alert);
  return decision;
}

interface Facts {
  req: SmsSendRequest;
  now: number;
  destination: Destination;
  address: string | null;
  numberHash: string;
}

/**
 * Steps 1, 2, the enforced pauses and 4 (see decideSmsSend), read from `store`: the refusal they give, if any, and
 * the stops and pauses open now.
 */
async function checkLimits(
  deps: Deps,
  store: Deps["store"],
  f: Facts,
): Promise<{ denial: Denial | null; open: SmsStop[] }> {
  const policy = deps.smsGuard;
  const { req, now, destination, address } = f;
  // 1. Stops and pauses of anything this text touches, in one read.
  const subjects: Array<{ scope: SmsStopScope; subject: string }> = [
    { scope: "user", subject: req.userId },
    { scope: "number", subject: req.phoneE164 },
    { scope: "prefix", subject: destination.prefix },
  ];
  if (destination.country) subjects.push({ scope: "country", subject: destination.country });
  if (address) subjects.push({ scope: "address", subject: address });
  const open = (await store.findOpenSmsStops(subjects)).filter((s) => s.until === null || s.until > now);
  const result = (denial: Denial | null) => ({ denial, open });
  if (open.some((s) => s.scope === "user")) return result(deny("user_stopped", "stopped", null));
  if (open.some((s) => s.scope === "number")) return result(deny("number_stopped", "stopped", null));

  // 2. Destination countries.
  const country = destination.country;
  if (country === null || !allowedCountries(policy).includes(country))
    return result(deny("country_not_allowed", "stopped", null));

  // 3. An enforced pause of the breaker refuses; one in record-only mode does not.
  for (const scope of BREAKER_SCOPES) {
    const pause = open.find((s) => s.source === "breaker" && s.scope === scope && s.mode === "enforce");
    if (pause) return result(deny(`breaker_${scope}`, "unavailable", pause.until));
  }

  // 4. Quotas, counted over the texts reserved so far (exact rolling windows; under the day lock, current).
  const dimensionValues: Record<SmsDimension, string | null> = {
    user: req.userId,
    number: f.numberHash,
    address,
    application: req.applicationId,
    prefix: destination.prefix,
    country,
  };
  const checks = QUOTA_ORDER.flatMap(({ dimension, policy: key }) => {
    const value = dimensionValues[dimension];
    if (value === null) return [];
    const quota = policy[key] as SmsQuota;
    return [
      { dimension, value, limit: quota.perWindow, windowMs: quota.windowSeconds * 1000 },
      { dimension, value, limit: quota.perDay, windowMs: DAY_MS },
    ];
  });
  const counts = await store.countSmsSends(checks.map((c) => ({ ...c, since: now - c.windowMs })));
  const over = checks.flatMap((c, i) => (counts[i]!.count >= c.limit ? [{ ...c, ...counts[i]! }] : []));
  if (over.length === 0) return result(null);
  // The user is told when the narrowest quota frees a place (a wider one may still refuse then): when the text
  // that must leave its window for one more to fit has left it.
  const first = over[0]!;
  let retryAt = now;
  for (const c of over.filter((o) => o.dimension === first.dimension))
    retryAt = Math.max(retryAt, (c.limitingAt ?? now) + c.windowMs);
  return result(deny(`quota_${first.dimension}`, QUOTA_MESSAGE[first.dimension], retryAt));
}

function formatMoney(micros: number): string {
  return (micros / 1e6).toFixed(2);
}

/**
 * Judge the sources of this text that are not paused yet (prefix first, then address, then country: the narrowest
 * source is paused before a wider one is blamed). A source that trips is paused (or, in record-only mode, recorded),
 * its recent texts leave the statistics so the wider sources are judged without them, and operators are alerted.
 * Returns the enforced pause that now refuses this text, if any.
 */
async function evaluateBreaker(
  deps: Deps,
  tx: Deps["store"],
  values: Record<BreakerScope, string | null>,
  open: readonly SmsStop[],
  now: number,
  alerts: OperatorAlert[],
): Promise<{ scope: BreakerScope; until: number } | undefined> {
  const breaker = deps.smsGuard.breaker;
  const from = now - breaker.windowSeconds * 1000;
  const to = now - breaker.settleSeconds * 1000;
  const judged = BREAKER_SCOPES.filter((scope) => {
    const rule: BreakerRule = breaker[scope];
    return (
      rule.mode !== "off" &&
      values[scope] !== null &&
      !open.some((s) => s.source === "breaker" && s.scope === scope)
    );
  });
  if (judged.length === 0) return undefined;
  const stats = await tx.readSmsConversion(
    judged.map((scope) => ({ dimension: scope, value: values[scope]!, from, to })),
  );
  for (const [i, scope] of judged.entries()) {
    const rule = breaker[scope];
    const source = stats[i]!;
    if (!couldTrip(breaker, rule, source)) continue;
    const value = values[scope]!;
    // The baseline: every other source's texts over the baseline days (everything minus this source).
    const baselineFrom = now - breaker.baselineDays * DAY_MS;
    const [all, mine] = await tx.readSmsConversion([
      { dimension: "all", value: "", from: baselineFrom, to },
      { dimension: scope, value, from: baselineFrom, to },
    ]);
    const others = { sent: all!.sent - mine!.sent, converted: all!.converted - mine!.converted };
    const verdict = judgeSource(breaker, rule, source, others);
    if (!verdict.trips) continue;
    const until = now + breaker.pauseSeconds * 1000;
    const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
    const facts = {
      sent: source.sent,
      typed: source.converted,
      rate: verdict.rate,
      baseline: verdict.baseline,
      threshold: verdict.threshold,
      othersSent: others.sent,
    };
    await tx.closeExpiredSmsStops(scope, value, now);
    const inserted = await tx.insertSmsStop({
      id: randomId("SX"),
      scope,
      subject: value,
      userId: null,
      source: "breaker",
      mode: rule.mode === "enforce" ? "enforce" : "record",
      reason: `${pct(verdict.rate)} of ${source.sent} codes typed; baseline ${pct(verdict.baseline)}, trips below ${pct(verdict.threshold)}`,
      createdAt: now,
      createdBy: "breaker",
      until,
      endedAt: null,
      endedBy: null,
      stats: facts,
    });
    if (!inserted) continue;
    await tx.excludeSmsSends(scope, value, from);
    const enforced = rule.mode === "enforce";
    await audit(
      { ...deps, store: tx },
      { name: "system" },
      {
        action: enforced ? "sms.breaker.tripped" : "sms.breaker.recorded",
        targetType: `sms_${scope}`,
        targetId: value,
        after: { ...facts, until },
      },
    );
    if (!enforced) continue;
    alerts.push({
      kind: "sms.breaker_tripped",
      at: now,
      message: `SMS paused for ${scope} ${value} until ${new Date(until).toISOString()}: ${pct(verdict.rate)} of ${source.sent} codes typed against a baseline of ${pct(verdict.baseline)}`,
      details: { scope, subject: value, until, ...facts },
    });
    return { scope, until };
  }
  return undefined;
}

/** A code sent for this reservation was typed correctly: it counts as converted for the breaker. */
export async function recordSmsConverted(deps: Deps, reservationId: string, now: number): Promise<void> {
  await deps.store.settleSmsSend(reservationId, "converted", now);
}

/** The gateway finally failed for this reservation: it no longer counts against any quota, and its cost is refunded. */
export async function recordSmsFailed(deps: Deps, reservationId: string, now: number): Promise<void> {
  await deps.store.settleSmsSend(reservationId, "failed", now);
}
