// The SMS guard's records: texts sent, day totals, blocked counts, stops and pauses (E3); every limit one locked or conditional write.
import { sql } from "kysely";
import { TwofoldError } from "../../core/errors.ts";
import type {
  SmsCountQuery,
  SmsDay,
  SmsDimension,
  SmsSend,
  SmsStatsQuery,
  SmsStop,
  SmsStopScope,
} from "../../core/sms-guard-store.ts";
import { guard, StoreContext } from "../store-context.ts";
import type { SmsDaysTable, SmsSendsTable, SmsStopsTable } from "../tables.ts";

/** The column each dimension is counted by; never built from input. */
const COLUMNS: Record<SmsDimension, keyof SmsSendsTable> = {
  user: "user_id",
  number: "number_hash",
  address: "address",
  application: "application_id",
  country: "country",
  prefix: "prefix",
};

const num = (v: unknown) => Number(v ?? 0);
const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function toDay(r: SmsDaysTable): SmsDay {
  return {
    day: r.day,
    sent: num(r.sent),
    converted: num(r.converted),
    failed: num(r.failed),
    spentMicros: num(r.spent_micros),
    capAlertedAt: numOrNull(r.cap_alerted_at),
  };
}

function toSend(r: SmsSendsTable): SmsSend {
  return {
    id: r.id,
    userId: r.user_id,
    numberHash: r.number_hash,
    country: r.country,
    prefix: r.prefix,
    address: r.address,
    applicationId: r.application_id,
    purpose: r.purpose as SmsSend["purpose"],
    costMicros: num(r.cost_micros),
    day: r.day,
    createdAt: num(r.created_at),
    status: r.status as SmsSend["status"],
    settledAt: numOrNull(r.settled_at),
    excluded: num(r.excluded) === 1,
  };
}

function toStop(r: SmsStopsTable): SmsStop {
  return {
    id: r.id,
    scope: r.scope as SmsStopScope,
    subject: r.subject,
    userId: r.user_id,
    source: r.source as SmsStop["source"],
    mode: r.mode as SmsStop["mode"],
    reason: r.reason,
    createdAt: num(r.created_at),
    createdBy: r.created_by,
    until: numOrNull(r.until),
    endedAt: numOrNull(r.ended_at),
    endedBy: r.ended_by,
    stats: r.stats_json === null ? null : (JSON.parse(r.stats_json) as unknown),
  };
}

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class SmsGuardRecords extends StoreContext {
  async lockSmsDay(day: string): Promise<SmsDay> {
    if (!this.inTransaction) throw new TwofoldError("ERR_STORE", "lockSmsDay needs a transaction");
    // An upsert whose update changes nothing is still a write: PostgreSQL holds the row lock until commit, SQLite
    // the database write lock. The next decision, on any node, waits here until this one has committed.
    const row = await guard(() =>
      this.db
        .insertInto("sms_days")
        .values({ day, sent: 0, converted: 0, failed: 0, spent_micros: 0, cap_alerted_at: null })
        .onConflict((oc) => oc.column("day").doUpdateSet((eb) => ({ sent: eb.ref("sms_days.sent") })))
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toDay(row);
  }

  async findOpenSmsStops(
    subjects: ReadonlyArray<{ scope: SmsStopScope; subject: string }>,
  ): Promise<SmsStop[]> {
    if (subjects.length === 0) return [];
    const rows = await guard(() =>
      this.db
        .selectFrom("sms_stops")
        .selectAll()
        .where("ended_at", "is", null)
        .where((eb) =>
          eb.or(subjects.map((s) => eb.and([eb("scope", "=", s.scope), eb("subject", "=", s.subject)]))),
        )
        .execute(),
    );
    return rows.map(toStop);
  }

  async countSmsSends(
    queries: ReadonlyArray<SmsCountQuery & { limit: number }>,
  ): Promise<Array<{ count: number; limitingAt: number | null }>> {
    if (queries.length === 0) return [];
    // One statement: per query a count and the limit-th most recent send time, each an index range scan on
    // (dimension, created_at).
    const parts = queries.map((q, i) => {
      const match = sql`${sql.ref(COLUMNS[q.dimension])} = ${q.value} and created_at > ${q.since} and status <> 'failed'`;
      const limiting =
        q.limit >= 1
          ? sql`(select created_at from sms_sends where ${match} order by created_at desc limit 1 offset ${q.limit - 1})`
          : sql`null`;
      return sql`select ${i} as i, (select count(*) from sms_sends where ${match}) as n, ${limiting} as t`;
    });
    const result = await guard(() =>
      sql<{ i: number | string; n: number | string; t: number | string | null }>`${sql.join(
        parts,
        sql` union all `,
      )}`.execute(this.db),
    );
    const out = queries.map(() => ({ count: 0, limitingAt: null as number | null }));
    for (const r of result.rows) out[Number(r.i)] = { count: Number(r.n), limitingAt: numOrNull(r.t) };
    return out;
  }

  async readSmsConversion(
    queries: readonly SmsStatsQuery[],
  ): Promise<Array<{ sent: number; converted: number }>> {
    if (queries.length === 0) return [];
    const parts = queries.map((q, i) => {
      const match = q.dimension === "all" ? sql`1 = 1` : sql`${sql.ref(COLUMNS[q.dimension])} = ${q.value}`;
      return sql`select ${i} as i, count(*) as sent, coalesce(sum(case when status = 'converted' then 1 else 0 end), 0) as converted
        from sms_sends where ${match} and created_at >= ${q.from} and created_at <= ${q.to}
        and status <> 'failed' and excluded = 0`;
    });
    const result = await guard(() =>
      sql<{ i: number | string; sent: number | string; converted: number | string }>`${sql.join(
        parts,
        sql` union all `,
      )}`.execute(this.db),
    );
    const stats = queries.map(() => ({ sent: 0, converted: 0 }));
    for (const r of result.rows) stats[Number(r.i)] = { sent: num(r.sent), converted: num(r.converted) };
    return stats;
  }

  async insertSmsSend(s: SmsSend): Promise<void> {
    await guard(() =>
      this.db
        .insertInto("sms_sends")
        .values({
          id: s.id,
          user_id: s.userId,
          number_hash: s.numberHash,
          country: s.country,
          prefix: s.prefix,
          address: s.address,
          application_id: s.applicationId,
          purpose: s.purpose,
          cost_micros: s.costMicros,
          day: s.day,
          created_at: s.createdAt,
          status: s.status,
          settled_at: s.settledAt,
          excluded: s.excluded ? 1 : 0,
        })
        .execute(),
    );
  }

  async chargeSmsDay(day: string, costMicros: number, capMicros: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("sms_days")
        .set((eb) => ({ sent: eb("sent", "+", 1), spent_micros: eb("spent_micros", "+", costMicros) }))
        .where("day", "=", day)
        .where((eb) => eb(eb("spent_micros", "+", costMicros), "<=", capMicros))
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async markSmsCapAlerted(day: string, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("sms_days")
        .set({ cap_alerted_at: now })
        .where("day", "=", day)
        .where("cap_alerted_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async countSmsBlocked(day: string, reason: string): Promise<void> {
    await guard(() =>
      this.db
        .insertInto("sms_blocked")
        .values({ day, reason, count: 1 })
        .onConflict((oc) =>
          oc.columns(["day", "reason"]).doUpdateSet((eb) => ({ count: eb("sms_blocked.count", "+", 1) })),
        )
        .execute(),
    );
  }

  async settleSmsSend(id: string, status: "converted" | "failed", now: number): Promise<SmsSend | undefined> {
    return this.transaction(async (tx) => {
      const self = tx as unknown as SmsGuardRecords;
      const row = await guard(() =>
        self.db
          .updateTable("sms_sends")
          .set({ status, settled_at: now })
          .where("id", "=", id)
          .where("status", "=", "reserved")
          .returningAll()
          .executeTakeFirst(),
      );
      if (!row) return undefined;
      const send = toSend(row);
      await guard(() =>
        self.db
          .updateTable("sms_days")
          .set((eb) =>
            status === "converted"
              ? { converted: eb("converted", "+", 1) }
              : {
                  failed: eb("failed", "+", 1),
                  sent: eb("sent", "-", 1),
                  spent_micros: eb("spent_micros", "-", send.costMicros),
                },
          )
          .where("day", "=", send.day)
          .execute(),
      );
      return { ...send, status: "reserved" as const, settledAt: null };
    });
  }

  async excludeSmsSends(dimension: SmsDimension, value: string, since: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .updateTable("sms_sends")
        .set({ excluded: 1 })
        .where(COLUMNS[dimension], "=", value)
        .where("created_at", ">=", since)
        .where("excluded", "=", 0)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows);
  }

  async insertSmsStop(stop: SmsStop): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .insertInto("sms_stops")
        .values({
          id: stop.id,
          scope: stop.scope,
          subject: stop.subject,
          user_id: stop.userId,
          source: stop.source,
          mode: stop.mode,
          reason: stop.reason,
          created_at: stop.createdAt,
          created_by: stop.createdBy,
          until: stop.until,
          ended_at: stop.endedAt,
          ended_by: stop.endedBy,
          stats_json: stop.stats === null ? null : JSON.stringify(stop.stats),
        })
        // The partial unique index on open stops decides between racing inserts.
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst(),
    );
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async closeExpiredSmsStops(scope: SmsStopScope, subject: string, now: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .updateTable("sms_stops")
        .set((eb) => ({ ended_at: eb.ref("until"), ended_by: "expired" }))
        .where("scope", "=", scope)
        .where("subject", "=", subject)
        .where("ended_at", "is", null)
        .where("until", "<=", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows);
  }

  async endSmsStop(id: string, now: number, by: string): Promise<SmsStop | undefined> {
    const row = await guard(() =>
      this.db
        .updateTable("sms_stops")
        .set({ ended_at: now, ended_by: by })
        .where("id", "=", id)
        .where("ended_at", "is", null)
        .returningAll()
        .executeTakeFirst(),
    );
    return row && toStop(row);
  }

  async getSmsStop(id: string): Promise<SmsStop | undefined> {
    const row = await guard(() =>
      this.db.selectFrom("sms_stops").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toStop(row);
  }

  async listSmsStops(endedSince: number, limit: number): Promise<SmsStop[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("sms_stops")
        .selectAll()
        .where((eb) =>
          eb.or([
            eb.and([
              eb("ended_at", "is", null),
              eb.or([eb("until", "is", null), eb("until", ">=", endedSince)]),
            ]),
            eb("ended_at", ">=", endedSince),
          ]),
        )
        .orderBy("created_at", "desc")
        .orderBy("id")
        .limit(limit)
        .execute(),
    );
    return rows.map(toStop);
  }

  async listSmsDays(fromDay: string): Promise<SmsDay[]> {
    const rows = await guard(() =>
      this.db.selectFrom("sms_days").selectAll().where("day", ">=", fromDay).orderBy("day").execute(),
    );
    return rows.map(toDay);
  }

  async listSmsBlocked(fromDay: string): Promise<Array<{ day: string; reason: string; count: number }>> {
    const rows = await guard(() =>
      this.db
        .selectFrom("sms_blocked")
        .selectAll()
        .where("day", ">=", fromDay)
        .orderBy("day")
        .orderBy("reason")
        .execute(),
    );
    return rows.map((r) => ({ day: r.day, reason: r.reason, count: num(r.count) }));
  }

  async pruneSmsSends(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("sms_sends")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("sms_sends")
            .select("id")
            .where("created_at", "<", before)
            .orderBy("created_at")
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async pruneSmsHistory(beforeDay: string, limit: number): Promise<number> {
    const days = await guard(() =>
      this.db
        .deleteFrom("sms_days")
        .where("day", "in", (qb) =>
          qb.selectFrom("sms_days").select("day").where("day", "<", beforeDay).orderBy("day").limit(limit),
        )
        .executeTakeFirst(),
    );
    // By whole days: a day has at most one row per refusal reason, so a batch stays small.
    const blocked = await guard(() =>
      this.db
        .deleteFrom("sms_blocked")
        .where("day", "in", (qb) =>
          qb.selectFrom("sms_blocked").select("day").where("day", "<", beforeDay).orderBy("day").limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(days.numDeletedRows) + Number(blocked.numDeletedRows);
  }

  async pruneSmsStops(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("sms_stops")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("sms_stops")
            .select("id")
            .where((eb) =>
              eb.or([
                eb("ended_at", "<", before),
                eb.and([eb("ended_at", "is", null), eb("until", "<", before)]),
              ]),
            )
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }
}
