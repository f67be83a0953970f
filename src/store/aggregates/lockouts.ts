// Per-user, per-factor-class failure counters and locks.
import { TwofoldError } from "../../core/errors.ts";
import type { FactorClass, LockoutState, UserStatus } from "../../core/model.ts";
import type { CompletionState } from "../../core/ports.ts";
import { toApplication, toLockout } from "../rows.ts";
import { guard, hot, StoreContext } from "../store-context.ts";
import type { ApplicationsTable, LockoutsTable } from "../tables.ts";

/** The application's columns, prefixed, in the completion gate's one read. */
const APP_COLUMNS =
  "a.id as app_id, a.name as app_name, a.type as app_type, a.secret_sealed as app_secret_sealed, " +
  "a.policy_json as app_policy_json, a.status as app_status, a.created_at as app_created_at, " +
  "a.updated_at as app_updated_at";

interface CompletionRow {
  user_status: string | null;
  lock_failures: number | null;
  lock_last_failure_at: number | null;
  app_id: string | null;
  app_name: string;
  app_type: string;
  app_secret_sealed: string;
  app_policy_json: string;
  app_status: string;
  app_created_at: number;
  app_updated_at: number;
}

const Q = {
  read: hot("lockout_read", "select * from lockouts where user_id = ? and factor_class = ?"),
  create: hot(
    "lockout_create",
    "insert into lockouts (user_id, factor_class, failures, last_failure_at) " +
      "select id, ?, 0, null from users where id = ? on conflict (user_id, factor_class) do nothing",
  ),
  // PostgreSQL: one statement creates the row if missing and locks it until commit (the no-op update), returning it.
  take: hot(
    "lockout_take",
    "insert into lockouts (user_id, factor_class, failures, last_failure_at) " +
      "select id, ?, 0, null from users where id = ? " +
      "on conflict (user_id, factor_class) do update set failures = lockouts.failures returning *",
  ),
  // SQLite: the transaction already holds the database's write lock (BEGIN IMMEDIATE), so a plain read.
  completionSqlite: hot(
    "completion_state_sqlite",
    "select u.status as user_status, l.failures as lock_failures, l.last_failure_at as lock_last_failure_at, " +
      `${APP_COLUMNS} from (select 1) one left join users u on u.id = ? ` +
      "left join lockouts l on l.user_id = ? and l.factor_class = ? left join applications a on a.id = ?",
  ),
  // PostgreSQL: the lockout row created if missing and locked until commit, as lockAttemptState does.
  completionPostgres: hot(
    "completion_state",
    "with l as (insert into lockouts (user_id, factor_class, failures, last_failure_at) " +
      "select id, ?::text, 0, null from users where id = ? and ?::text is not null " +
      "on conflict (user_id, factor_class) do update set failures = lockouts.failures " +
      "returning failures, last_failure_at) " +
      "select u.status as user_status, l.failures as lock_failures, l.last_failure_at as lock_last_failure_at, " +
      `${APP_COLUMNS} from (select 1) one left join users u on u.id = ? left join l on true ` +
      "left join applications a on a.id = ?",
  ),
  fail: hot(
    "lockout_fail",
    "update lockouts set failures = failures + 1, last_failure_at = ? where user_id = ? and factor_class = ? returning failures",
  ),
  // Only a row that is not already clear: a success after a success writes nothing.
  reset: hot(
    "lockout_reset",
    "update lockouts set failures = 0, last_failure_at = null " +
      "where user_id = ? and factor_class = ? and (failures <> 0 or last_failure_at is not null)",
  ),
};

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class LockoutRecords extends StoreContext {
  async getLockout(userId: string, factorClass: FactorClass): Promise<LockoutState | undefined> {
    // The read lockAttemptState also makes (Q.read), prepared once.
    const [row] = await this.hotRows<LockoutsTable>(Q.read, [userId, factorClass]);
    return row && toLockout(row);
  }

  async listLockouts(userId: string): Promise<LockoutState[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("lockouts")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("factor_class")
        .execute(),
    );
    return rows.map(toLockout);
  }

  async lockAttemptState(userId: string, factorClass: FactorClass): Promise<LockoutState> {
    if (!this.inTransaction) throw new TwofoldError("ERR_STORE", "lockAttemptState needs a transaction");
    if (this.sqlite) {
      // A SQLite transaction holds the database's write lock from its BEGIN IMMEDIATE (SqliteConnection): every
      // other attempt already waits for this one. Create the row if missing (for recordFailure), then read it.
      let rows = await this.hotRows<LockoutsTable>(Q.read, [userId, factorClass]);
      if (rows.length === 0) {
        await this.hotChanges(Q.create, [factorClass, userId]);
        rows = await this.hotRows<LockoutsTable>(Q.read, [userId, factorClass]);
      }
      return rows[0] ? toLockout(rows[0]) : { userId, factorClass, failures: 0, lastFailureAt: null };
    }
    // PostgreSQL: the row, created if missing, locked until commit: the next attempt for this user and class waits.
    const [row] = await this.hotRows<LockoutsTable>(Q.take, [factorClass, userId]);
    return row ? toLockout(row) : { userId, factorClass, failures: 0, lastFailureAt: null };
  }

  async readCompletionState(
    userId: string,
    factorClass: FactorClass | null,
    applicationId: string | null,
  ): Promise<CompletionState> {
    if (!this.inTransaction) throw new TwofoldError("ERR_STORE", "readCompletionState needs a transaction");
    const [r] = this.sqlite
      ? await this.hotRows<CompletionRow>(Q.completionSqlite, [userId, userId, factorClass, applicationId])
      : await this.hotRows<CompletionRow>(Q.completionPostgres, [
          factorClass,
          userId,
          factorClass,
          userId,
          applicationId,
        ]);
    const lockout: LockoutState | null =
      factorClass === null
        ? null
        : {
            userId,
            factorClass,
            failures: Number(r?.lock_failures ?? 0),
            lastFailureAt: r?.lock_last_failure_at == null ? null : Number(r.lock_last_failure_at),
          };
    const application =
      applicationId === null
        ? null
        : r?.app_id == null
          ? undefined
          : toApplication({
              id: r.app_id,
              name: r.app_name,
              type: r.app_type,
              secret_sealed: r.app_secret_sealed,
              policy_json: r.app_policy_json,
              status: r.app_status,
              created_at: r.app_created_at,
              updated_at: r.app_updated_at,
            } as ApplicationsTable);
    return {
      user: r?.user_status == null ? undefined : { status: r.user_status as UserStatus },
      lockout,
      application,
    };
  }

  async recordFailure(userId: string, factorClass: FactorClass, now: number): Promise<number> {
    const [hit] = await this.hotRows<{ failures: number }>(Q.fail, [now, userId, factorClass]);
    return hit ? Number(hit.failures) : 0;
  }

  async resetLockout(userId: string, factorClass: FactorClass): Promise<void> {
    await this.hotChanges(Q.reset, [userId, factorClass]);
  }

  async clearLockouts(userId: string): Promise<number> {
    const r = await guard(() =>
      this.db
        .updateTable("lockouts")
        .set({ failures: 0, last_failure_at: null })
        .where("user_id", "=", userId)
        .where("failures", ">", 0)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows);
  }
}
