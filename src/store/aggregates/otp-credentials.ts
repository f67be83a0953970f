// OTP credentials: soft and hardware tokens, each step or counter consumed by one conditional write.
import type { OTPCredential, OTPStatus } from "../../core/model.ts";
import type { OTPQuery } from "../../core/ports.ts";
import { fromOTP, toOTP } from "../rows.ts";
import { connectionOf, guard, hot, StoreContext } from "../store-context.ts";
import type { OTPCredentialsTable } from "../tables.ts";

const Q = {
  // `status || ''`: without statistics, the planners may pick the (status, pending_expires_at) index and read every
  // active credential of every user on every login; on the expression they use the user's own index.
  usable: hot(
    "otp_usable",
    "select * from otp_credentials where user_id = ? and status || '' = 'active' order by created_at",
  ),
  consumeStep: hot(
    "otp_consume_step",
    "update otp_credentials set last_step = ?, drift = ? " +
      "where id = ? and status = 'active' and (last_step is null or last_step < ?)",
  ),
  consumeCounter: hot(
    "otp_consume_counter",
    "update otp_credentials set counter = ? where id = ? and status = 'active' and counter <= ?",
  ),
};

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class OTPCredentialRecords extends StoreContext {
  async insertOTPCredentials(credentials: OTPCredential[]): Promise<void> {
    if (credentials.length === 0) return;
    const rows = credentials.map(fromOTP);
    await this.transaction(async (tx) => {
      const db = connectionOf(tx);
      // Chunks keep each statement under SQLite's bound-parameter limit.
      for (let i = 0; i < rows.length; i += 200) {
        await guard(
          () =>
            db
              .insertInto("otp_credentials")
              .values(rows.slice(i, i + 200))
              .execute(),
          "ERR_TOKEN_EXISTS",
        );
      }
    });
  }

  async getOTPCredential(id: string): Promise<OTPCredential | undefined> {
    const row = await guard(() =>
      this.db.selectFrom("otp_credentials").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toOTP(row);
  }

  async findTokenBySerial(serial: string): Promise<OTPCredential | undefined> {
    const row = await guard(() =>
      this.db.selectFrom("otp_credentials").selectAll().where("serial", "=", serial).executeTakeFirst(),
    );
    return row && toOTP(row);
  }

  async listOTPCredentials(query: OTPQuery): Promise<{ credentials: OTPCredential[]; total: number }> {
    let q = this.db.selectFrom("otp_credentials");
    if (query.userId !== undefined) q = q.where("user_id", "=", query.userId);
    if (query.kind !== undefined) q = q.where("kind", "=", query.kind);
    if (query.status !== undefined) q = q.where("status", "=", query.status);
    if (query.unassigned) q = q.where("user_id", "is", null);
    const total = await guard(() =>
      q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
    );
    const rows = await guard(() =>
      q
        .selectAll()
        .orderBy("kind")
        .orderBy("serial")
        .orderBy("created_at")
        .orderBy("id")
        .limit(query.limit ?? 1000)
        .offset(query.offset ?? 0)
        .execute(),
    );
    return { credentials: rows.map(toOTP), total: Number(total.n) };
  }

  async listUsableOTPCredentials(userId: string): Promise<OTPCredential[]> {
    return (await this.hotRows<OTPCredentialsTable>(Q.usable, [userId])).map(toOTP);
  }

  async consumeTOTPStep(id: string, step: number, drift: number): Promise<boolean> {
    return (await this.hotChanges(Q.consumeStep, [step, drift, id, step])) === 1;
  }

  async consumeHOTPCounter(id: string, matched: number): Promise<boolean> {
    return (await this.hotChanges(Q.consumeCounter, [matched + 1, id, matched])) === 1;
  }

  async activateOTPCredential(
    id: string,
    used: { step?: number; counter?: number; drift?: number },
    now: number,
  ): Promise<boolean> {
    const values: Partial<OTPCredentialsTable> = {
      status: "active",
      activated_at: now,
      pending_expires_at: null,
    };
    if (used.step !== undefined) values.last_step = used.step;
    if (used.counter !== undefined) values.counter = used.counter + 1;
    if (used.drift !== undefined) values.drift = used.drift;
    const r = await guard(() =>
      this.db
        .updateTable("otp_credentials")
        .set(values)
        .where("id", "=", id)
        .where("status", "=", "pending")
        .where((eb) => eb.or([eb("pending_expires_at", "is", null), eb("pending_expires_at", ">", now)]))
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async assignToken(id: string, userId: string, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("otp_credentials")
        .set({ user_id: userId, assigned_at: now, loan_due_at: null, loan_reminded: 0 })
        .where("id", "=", id)
        .where("kind", "=", "token")
        .where("user_id", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async unassignToken(id: string): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("otp_credentials")
        .set({ user_id: null, assigned_at: null, loan_due_at: null, loan_reminded: 0 })
        .where("id", "=", id)
        .where("kind", "=", "token")
        .where("user_id", "is not", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async resyncHOTPCounter(id: string, expectedCounter: number, newCounter: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("otp_credentials")
        .set({ counter: newCounter })
        .where("id", "=", id)
        .where("counter", "=", expectedCounter)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async resyncTOTP(
    id: string,
    expectedLastStep: number | null,
    lastStep: number,
    drift: number,
  ): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("otp_credentials")
        .set({ last_step: lastStep, drift })
        .where("id", "=", id)
        .where((eb) =>
          expectedLastStep === null ? eb("last_step", "is", null) : eb("last_step", "=", expectedLastStep),
        )
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async setOTPStatus(id: string, status: OTPStatus): Promise<boolean> {
    const r = await guard(() =>
      this.db.updateTable("otp_credentials").set({ status }).where("id", "=", id).executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async resealOTPSecret(id: string, expected: string, sealed: string): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("otp_credentials")
        .set({ secret_sealed: sealed })
        .where("id", "=", id)
        .where("secret_sealed", "=", expected)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async deleteOTPCredential(id: string): Promise<boolean> {
    const r = await guard(() =>
      this.db.deleteFrom("otp_credentials").where("id", "=", id).executeTakeFirst(),
    );
    return Number(r.numDeletedRows) === 1;
  }

  async deleteExpiredPendingOTP(now: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("otp_credentials")
        .where("status", "=", "pending")
        .where("pending_expires_at", "<=", now)
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }
}
