// Messages sent at most once per key (operator alerts per kind, key and hour) and the loan desk's reminders: each decided by one conditional write.
import type { TokenLoanReminder } from "../../core/ports.ts";
import { guard, StoreContext } from "../store-context.ts";

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class MessageMarkRecords extends StoreContext {
  async addMessageMark(mark: string, at: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .insertInto("message_marks")
        .values({ mark, created_at: at })
        .onConflict((oc) => oc.column("mark").doNothing())
        .executeTakeFirst(),
    );
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async pruneMessageMarks(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("message_marks")
        .where("mark", "in", (qb) =>
          qb
            .selectFrom("message_marks")
            .select("mark")
            .where("created_at", "<=", before)
            .orderBy("created_at")
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async setTokenLoanDue(id: string, userId: string, dueAt: number | null): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("otp_credentials")
        .set({ loan_due_at: dueAt, loan_reminded: 0 })
        .where("id", "=", id)
        .where("kind", "=", "token")
        .where("user_id", "=", userId)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async listTokenLoanReminders(
    now: number,
    overdueMs: number | null,
    limit: number,
  ): Promise<TokenLoanReminder[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("otp_credentials")
        .select(["id", "serial", "user_id", "loan_due_at", "loan_reminded"])
        .where("kind", "=", "token")
        .where("user_id", "is not", null)
        .where("loan_due_at", "is not", null)
        .where((eb) =>
          eb.or([
            eb.and([eb("loan_reminded", "=", 0), eb("loan_due_at", "<=", now)]),
            ...(overdueMs === null
              ? []
              : [eb.and([eb("loan_reminded", "=", 1), eb("loan_due_at", "<=", now - overdueMs)])]),
          ]),
        )
        .orderBy("loan_due_at")
        .limit(limit)
        .execute(),
    );
    return rows.map((r) => {
      const dueAt = Number(r.loan_due_at);
      // Overdue past the second reminder's point with none sent yet (a loan entered late): only the overdue one.
      const stage: 1 | 2 =
        Number(r.loan_reminded) === 1 || (overdueMs !== null && dueAt <= now - overdueMs) ? 2 : 1;
      return { tokenId: r.id, serial: r.serial ?? "", userId: r.user_id!, dueAt, stage };
    });
  }

  async markTokenLoanReminder(reminder: TokenLoanReminder): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("otp_credentials")
        .set({ loan_reminded: reminder.stage })
        .where("id", "=", reminder.tokenId)
        .where("user_id", "=", reminder.userId)
        .where("loan_due_at", "=", reminder.dueAt)
        .where("loan_reminded", "<", reminder.stage)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }
}
