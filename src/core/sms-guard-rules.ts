// The SMS guard's pure rules: where a number goes (country, prefix), what a text costs, spend days, and the breaker's maths (E3).
import { parsePhoneNumberFromString } from "libphonenumber-js/max";

/** At most `perWindow` texts in any `windowSeconds`, and `perDay` in any 24 hours. */
export interface SmsQuota {
  perWindow: number;
  windowSeconds: number;
  perDay: number;
}

export type BreakerMode = "enforce" | "record" | "off";

export interface BreakerRule {
  mode: BreakerMode;
  minSends: number;
}

/** `sms.guard.*` as the core reads it, with the organisation's country beside it. */
export interface SmsGuardPolicy {
  countries: readonly string[];
  organizationCountry: string;
  prefixDigits: number;
  perUser: SmsQuota;
  perNumber: SmsQuota;
  perAddress: SmsQuota;
  perApplication: SmsQuota;
  perCountry: SmsQuota;
  perPrefix: SmsQuota;
  spend: {
    currency: string;
    dailyCap: number;
    defaultPrice: number;
    prices: Readonly<Record<string, number>>;
    dayUtcOffsetMinutes: number;
  };
  breaker: {
    windowSeconds: number;
    settleSeconds: number;
    baselineDays: number;
    baselineMinSends: number;
    defaultBaseline: number;
    tripRatio: number;
    pauseSeconds: number;
    country: BreakerRule;
    prefix: BreakerRule;
    address: BreakerRule;
  };
  sendRetentionDays: number;
  historyDays: number;
}

export const DAY_MS = 86_400_000;
/** Money is counted in millionths of the currency unit, so sums stay exact. */
export const MICROS = 1_000_000;

/** The countries texts may go to: the configured list, else the organisation's own country, else none. */
export function allowedCountries(policy: SmsGuardPolicy): readonly string[] {
  if (policy.countries.length > 0) return policy.countries;
  return policy.organizationCountry ? [policy.organizationCountry] : [];
}

export interface Destination {
  /** ISO 3166 country, or null when the number belongs to none (or to no valid range). */
  country: string | null;
  /** `+` calling code and the first `prefixDigits` national digits, e.g. `+8525123`. */
  prefix: string;
}

/** Country and prefix of an E.164 number, or null when it is not one. */
export function destinationOf(e164: string, prefixDigits: number): Destination | null {
  if (!/^\+[1-9][0-9]{4,14}$/.test(e164)) return null;
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed) return null;
  const national = String(parsed.nationalNumber);
  return {
    country: parsed.isValid() ? (parsed.country ?? null) : null,
    prefix: `+${parsed.countryCallingCode}${national.slice(0, prefixDigits)}`,
  };
}

/** What one text to `country` costs, in micros. */
export function priceMicros(policy: SmsGuardPolicy, country: string): number {
  const price = policy.spend.prices[country] ?? policy.spend.defaultPrice;
  return Math.round(price * MICROS);
}

export function capMicros(policy: SmsGuardPolicy): number {
  return Math.round(policy.spend.dailyCap * MICROS);
}

/** The spend day `now` falls in (`YYYY-MM-DD`, the day starting at midnight `dayUtcOffsetMinutes` east of UTC). */
export function spendDayOf(now: number, offsetMinutes: number): string {
  return new Date(now + offsetMinutes * 60_000).toISOString().slice(0, 10);
}

/** When the spend day after the one `now` falls in begins (ms). */
export function nextSpendDayAt(now: number, offsetMinutes: number): number {
  const offset = offsetMinutes * 60_000;
  return Math.floor((now + offset) / DAY_MS) * DAY_MS + DAY_MS - offset;
}

/** The spend day `days` days before the one `now` falls in. */
export function spendDayBefore(now: number, offsetMinutes: number, days: number): string {
  return spendDayOf(now - days * DAY_MS, offsetMinutes);
}

/** Texts sent and codes typed from them, over some window. */
export interface ConversionStats {
  sent: number;
  converted: number;
}

export interface BreakerVerdict {
  trips: boolean;
  /** Share of this source's codes that were typed. */
  rate: number;
  /** The share the source is compared with: everything else's, or the default while there is too little of it. */
  baseline: number;
  /** rate below this trips. */
  threshold: number;
}

/**
 * The conversion breaker's test. A source (country, prefix, address) is judged on texts that have settled (sent at
 * least `settleSeconds` ago, so an untyped code will stay untyped) within the window, once there are `minSends` of
 * them. Its conversion rate r = typed / sent is compared with the baseline b, the rate of every other source over
 * `baselineDays` (or `defaultBaseline` while fewer than `baselineMinSends` of those have settled): it trips when
 * r < tripRatio · b. Comparing with the other sources rather than with all texts keeps a flood from one source from
 * dragging the baseline down with it.
 */
export function judgeSource(
  breaker: SmsGuardPolicy["breaker"],
  rule: BreakerRule,
  source: ConversionStats,
  others: ConversionStats | null,
): BreakerVerdict {
  const rate = source.sent === 0 ? 1 : source.converted / source.sent;
  const baseline =
    others && others.sent >= breaker.baselineMinSends
      ? others.converted / others.sent
      : breaker.defaultBaseline;
  const threshold = breaker.tripRatio * baseline;
  return { trips: source.sent >= rule.minSends && rate < threshold, rate, baseline, threshold };
}

/**
 * Whether a source could trip whatever the baseline: the baseline is at most 1, so a source at or above tripRatio
 * never trips and its baseline need not be read.
 */
export function couldTrip(
  breaker: SmsGuardPolicy["breaker"],
  rule: BreakerRule,
  source: ConversionStats,
): boolean {
  return source.sent >= rule.minSends && source.converted < breaker.tripRatio * source.sent;
}
