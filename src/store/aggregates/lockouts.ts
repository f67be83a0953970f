// Per-user, per-factor-class failure counters and locks.
import { TwofoldError } from "../../core/errors.ts";
import type { FactorClass, LockoutState } from "../../core/model.ts";
import { toLockout } from "../rows.ts";
import { guard, hot, StoreContext } from "../store-context.ts";
import type { LockoutsTable } from "../tables.ts";

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
    const row = await guard(() =>
      this.db
        .selectFrom("lockouts")
        .selectAll()
        .where("user_id", "=", userId)
        .where("factor_class", "=", factorClass)
        .executeTakeFirst(),
    );
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
