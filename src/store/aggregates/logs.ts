// The audit log and the authentication log.
import type { AuditEvent, AuditInput, AuthLogEntry, AuthLogWrite, FactorClass } from "../../core/model.ts";
import type { AuthLogQuery } from "../../core/ports.ts";
import { toAudit, toAuthLog } from "../rows.ts";
import { guard, hot, StoreContext } from "../store-context.ts";

const INSERT_AUTH_LOG =
  "insert into auth_log (id, at, user_id, username, application_id, factor, result, reason, ip, txid, node) " +
  "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/** Only a counter that is not already clear: a success after a success writes nothing there. */
const RESET_LOCKOUT =
  "update lockouts set failures = 0, last_failure_at = null " +
  "where user_id = ? and factor_class = ? and (failures <> 0 or last_failure_at is not null)";

const Q = {
  authLog: hot("auth_log_append", INSERT_AUTH_LOG),
  // PostgreSQL: the reset and the line in one statement (one round trip).
  authLogWithReset: hot("auth_log_append_reset", `with reset as (${RESET_LOCKOUT}) ${INSERT_AUTH_LOG}`),
  reset: hot("auth_log_reset_lockout", RESET_LOCKOUT),
};

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class LogRecords extends StoreContext {
  async appendAudit(event: AuditInput, at: number): Promise<number> {
    const row = await guard(() =>
      this.db
        .insertInto("audit_log")
        .values({
          at,
          actor: event.actor,
          action: event.action,
          target_type: event.targetType,
          target_id: event.targetId,
          before_json: event.before === undefined ? null : JSON.stringify(event.before),
          after_json: event.after === undefined ? null : JSON.stringify(event.after),
          source_ip: event.sourceIp ?? null,
        })
        .returning("id")
        .executeTakeFirstOrThrow(),
    );
    return Number(row.id);
  }

  async listAudit(query: { afterId?: number; limit: number; order?: "asc" | "desc" }): Promise<AuditEvent[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("audit_log")
        .selectAll()
        .where("id", ">", query.afterId ?? 0)
        .orderBy("id", query.order ?? "asc")
        .limit(query.limit)
        .execute(),
    );
    return rows.map(toAudit);
  }

  async appendAuthLog(entry: AuthLogWrite, resetLockout?: FactorClass): Promise<void> {
    const line = [
      entry.id,
      entry.at,
      entry.userId,
      entry.username,
      entry.applicationId,
      entry.factor,
      entry.result,
      entry.reason,
      entry.ip,
      entry.txid,
      entry.node,
    ];
    if (resetLockout === undefined || entry.userId === null) {
      await this.hotChanges(Q.authLog, line);
    } else if (this.sqlite) {
      // SQLite runs no write inside WITH: two statements, in the caller's transaction.
      await this.hotChanges(Q.reset, [entry.userId, resetLockout]);
      await this.hotChanges(Q.authLog, line);
    } else {
      await this.hotChanges(Q.authLogWithReset, [entry.userId, resetLockout, ...line]);
    }
  }

  async listAuthLog(query: AuthLogQuery): Promise<{ entries: AuthLogEntry[]; total: number }> {
    let q = this.db.selectFrom("auth_log").where("at", ">=", query.minTime).where("at", "<=", query.maxTime);
    if (query.userIds?.length) q = q.where("user_id", "in", query.userIds);
    if (query.applicationIds?.length) q = q.where("application_id", "in", query.applicationIds);
    if (query.results?.length) q = q.where("result", "in", query.results);
    if (query.factors?.length) q = q.where("factor", "in", query.factors);
    const total = await guard(() =>
      q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
    );
    const order = query.order ?? "desc";
    let page = q.selectAll();
    const after = query.after;
    if (after) {
      page = page.where((eb) =>
        order === "desc"
          ? eb.or([eb("at", "<", after.at), eb.and([eb("at", "=", after.at), eb("id", "<", after.id)])])
          : eb.or([eb("at", ">", after.at), eb.and([eb("at", "=", after.at), eb("id", ">", after.id)])]),
      );
    }
    const rows = await guard(() =>
      page.orderBy("at", order).orderBy("id", order).limit(query.limit).execute(),
    );
    return { entries: rows.map(toAuthLog), total: Number(total.n) };
  }

  async lastLoginAt(userId: string): Promise<number | undefined> {
    const r = await guard(() =>
      this.db
        .selectFrom("auth_log")
        .select("at")
        .where("user_id", "=", userId)
        .where("result", "=", "allow")
        .orderBy("at", "desc")
        .limit(1)
        .executeTakeFirst(),
    );
    return r === undefined ? undefined : Number(r.at);
  }

  async findAuthLogByTxid(txid: string): Promise<AuthLogEntry | undefined> {
    const r = await guard(() =>
      this.db
        .selectFrom("auth_log")
        .selectAll()
        .where("txid", "=", txid)
        .orderBy("at", "desc")
        .orderBy("id", "desc")
        .limit(1)
        .executeTakeFirst(),
    );
    return r && toAuthLog(r);
  }
}
