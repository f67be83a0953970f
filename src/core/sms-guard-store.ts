// What the SMS guard keeps and the store methods it needs: texts sent (numbers as keyed hashes), daily totals, blocked counts, stops and pauses.

/** The dimensions a text is counted under; `all` is every text (the breaker's baseline). */
export type SmsDimension = "user" | "number" | "address" | "application" | "country" | "prefix";

/** One text the guard allowed: a reservation until it is typed (converted) or its sending fails (refunded). */
export interface SmsSend {
  id: string;
  userId: string;
  /** Keyed hash of the E.164 number (the number itself lives only in the user's or phone's row). */
  numberHash: string;
  country: string;
  prefix: string;
  /** The requesting address as throttles count it (IPv6 by /64), or null. */
  address: string | null;
  applicationId: string | null;
  purpose: "passcode" | "phone_verification";
  costMicros: number;
  /** The spend day it was charged to. */
  day: string;
  createdAt: number;
  status: "reserved" | "converted" | "failed";
  settledAt: number | null;
  /** Left out of the breaker's statistics: its source was paused (or, in record-only mode, would have been). */
  excluded: boolean;
}

/** Totals of one spend day. */
export interface SmsDay {
  day: string;
  sent: number;
  converted: number;
  failed: number;
  spentMicros: number;
  /** When operators were told the day's cap was reached (once per day, whichever node saw it first). */
  capAlertedAt: number | null;
}

export type SmsStopScope = "user" | "number" | "country" | "prefix" | "address";

/** An operator's stop (user, number) or a breaker's pause (country, prefix, address). */
export interface SmsStop {
  id: string;
  scope: SmsStopScope;
  /** User id, E.164 number, country, prefix or address. */
  subject: string;
  userId: string | null;
  source: "operator" | "breaker";
  /** `record`: a breaker trip in record-only mode, which blocks nothing. */
  mode: "enforce" | "record";
  reason: string;
  createdAt: number;
  createdBy: string;
  /** When a pause ends by itself; null for an operator's stop (until resumed). */
  until: number | null;
  endedAt: number | null;
  endedBy: string | null;
  /** What the breaker saw when it tripped. */
  stats: unknown;
}

export interface SmsCountQuery {
  dimension: SmsDimension;
  value: string;
  /** Count texts sent after this time. */
  since: number;
}

export interface SmsStatsQuery {
  dimension: SmsDimension | "all";
  value: string;
  from: number;
  to: number;
}

export interface SmsGuardStore {
  /**
   * Inside a transaction: take the spend day's row (creating it) with a write lock held until commit, and return
   * it. Every decision takes it first, so decisions are made one at a time on every node and each sees the texts
   * the one before it reserved: two requests at a limit never both pass.
   */
  lockSmsDay(day: string): Promise<SmsDay>;
  /** Stops and pauses not ended (a pause past its `until` included: the caller compares with now). */
  findOpenSmsStops(subjects: ReadonlyArray<{ scope: SmsStopScope; subject: string }>): Promise<SmsStop[]>;
  /**
   * Texts not failed, one result per query, in order: how many, and when the `limit`-th most recent was sent (the
   * text that must leave the window before one more fits; null when there are fewer).
   */
  countSmsSends(
    queries: ReadonlyArray<SmsCountQuery & { limit: number }>,
  ): Promise<Array<{ count: number; limitingAt: number | null }>>;
  /** Texts not failed and not excluded sent in [from, to], and how many of them were typed; one result per query. */
  readSmsConversion(queries: readonly SmsStatsQuery[]): Promise<Array<{ sent: number; converted: number }>>;
  insertSmsSend(send: SmsSend): Promise<void>;
  /** Charge one text to its day: one conditional write, refused (false) when it would pass `capMicros`. */
  chargeSmsDay(day: string, costMicros: number, capMicros: number): Promise<boolean>;
  /** Mark the day's cap as announced; true only for the first caller. */
  markSmsCapAlerted(day: string, now: number): Promise<boolean>;
  /** Count one blocked request under its reason for the day. */
  countSmsBlocked(day: string, reason: string): Promise<void>;
  /**
   * Move a reserved text to `converted` or `failed` (one conditional write); returns it as it was, or undefined when
   * it was not reserved (already settled, unknown, pruned). A failure gives its cost back to its day.
   */
  settleSmsSend(id: string, status: "converted" | "failed", now: number): Promise<SmsSend | undefined>;
  /** Leave a source's texts sent since `since` out of the breaker's statistics. */
  excludeSmsSends(dimension: SmsDimension, value: string, since: number): Promise<number>;
  /** Insert a stop or pause unless one is open for the same scope, subject and source; false when one is. */
  insertSmsStop(stop: SmsStop): Promise<boolean>;
  /** End pauses of this subject whose time is up (so a new one can be opened). */
  closeExpiredSmsStops(scope: SmsStopScope, subject: string, now: number): Promise<number>;
  /** End an open stop; the ended stop, or undefined when none was open. */
  endSmsStop(id: string, now: number, by: string): Promise<SmsStop | undefined>;
  getSmsStop(id: string): Promise<SmsStop | undefined>;
  /** Open stops and pauses, and those ended (or run out) at or after `endedSince`, newest first. */
  listSmsStops(endedSince: number, limit: number): Promise<SmsStop[]>;
  /** Day totals from `fromDay` on, oldest first. */
  listSmsDays(fromDay: string): Promise<SmsDay[]>;
  /** Blocked counts by day and reason from `fromDay` on. */
  listSmsBlocked(fromDay: string): Promise<Array<{ day: string; reason: string; count: number }>>;
  /** Housekeeping: texts sent before `before`. */
  pruneSmsSends(before: number, limit: number): Promise<number>;
  /** Housekeeping: day totals and blocked counts of days before `beforeDay`. */
  pruneSmsHistory(beforeDay: string, limit: number): Promise<number>;
  /** Housekeeping: stops and pauses that ended (or ran out) before `before`. */
  pruneSmsStops(before: number, limit: number): Promise<number>;
}
