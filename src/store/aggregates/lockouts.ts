// Per-user, per-factor-class failure counters and locks.
import { sql } from "kysely";
import { TwofoldError } from "../../core/errors.ts";
import type { FactorClass, LockoutState } from "../../core/model.ts";
import { toLockout } from "../rows.ts";
import { guard, StoreContext } from "../store-context.ts";

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
    // Only for a user that still exists (one deleted since the login looked it up has nothing to lock; the
    // completion gate then denies): an INSERT … SELECT, still a write that takes the lock below first.
    await guard(() =>
      this.db
        .insertInto("lockouts")
        .columns(["user_id", "factor_class", "failures", "last_failure_at"])
        .expression((eb) =>
          eb
            .selectFrom("users")
            .select([
              eb.val(userId).as("user_id"),
              eb.val(factorClass).as("factor_class"),
              sql<number>`0`.as("failures"),
              sql<number | null>`null`.as("last_failure_at"),
            ])
            .where("id", "=", userId),
        )
        .onConflict((oc) => oc.columns(["user_id", "factor_class"]).doNothing())
        .execute(),
    );
    // A no-op UPDATE is a write on both databases: PostgreSQL locks the row until commit, SQLite takes
    // the database write lock. Either way the next attempt for this user and class waits for this one.
    const row = await guard(() =>
      this.db
        .updateTable("lockouts")
        .set((eb) => ({ failures: eb.ref("failures") }))
        .where("user_id", "=", userId)
        .where("factor_class", "=", factorClass)
        .returningAll()
        .executeTakeFirst(),
    );
    return row ? toLockout(row) : { userId, factorClass, failures: 0, lastFailureAt: null };
  }

  async recordFailure(userId: string, factorClass: FactorClass, now: number): Promise<number> {
    const row = await guard(() =>
      this.db
        .updateTable("lockouts")
        .set((eb) => ({ failures: eb("failures", "+", 1), last_failure_at: now }))
        .where("user_id", "=", userId)
        .where("factor_class", "=", factorClass)
        .returning("failures")
        .executeTakeFirst(),
    );
    return row ? Number(row.failures) : 0;
  }

  async resetLockout(userId: string, factorClass: FactorClass): Promise<void> {
    await guard(() =>
      this.db
        .updateTable("lockouts")
        .set({ failures: 0, last_failure_at: null })
        .where("user_id", "=", userId)
        .where("factor_class", "=", factorClass)
        .execute(),
    );
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
