// OTP credentials: soft and hardware tokens, each step or counter consumed by one conditional write.
import { TwofoldError } from "../../core/errors.ts";
import type { OTPCredential, OTPStatus } from "../../core/model.ts";
import type { OTPAllowWrite, OTPQuery, Store } from "../../core/ports.ts";
import {
  AUTH_LOG_COLUMNS,
  allowLineParams,
  LOGIN_PENDING,
  loginPendingParams,
  PRESUMED_STATE,
  presumedStateParams,
} from "../presumed-state.ts";
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

/** The credential's write, only if it is exactly as the code was matched against it. */
const CREDENTIAL_WRITE =
  "update otp_credentials set counter = ?, last_step = ?, drift = ? " +
  "where id = ? and user_id = ? and status = 'active' and secret_sealed = ? and counter = ? " +
  "and last_step is not distinct from ? and drift = ?";

const ALLOW = {
  // PostgreSQL: one statement, one round trip; the line is inserted only if the credential was written.
  postgres: hot(
    "otp_allow",
    `with c as (${CREDENTIAL_WRITE} and ${PRESUMED_STATE} returning id) ${AUTH_LOG_COLUMNS}` +
      "select cast(? as text), cast(? as bigint), cast(? as text), cast(? as text), cast(? as text), " +
      "cast(? as text), 'allow', cast(? as text), cast(? as text), cast(? as text), cast(? as text) from c returning id",
  ),
  // SQLite runs no write inside WITH: the credential's conditional write, which checks everything the allow
  // presumed (the prompt login included), then the login and the line, in one transaction.
  sqliteCredential: hot(
    "otp_allow_credential",
    `${CREDENTIAL_WRITE.replace("is not distinct from", "is")} and ${PRESUMED_STATE} and ${LOGIN_PENDING}`,
  ),
  sqliteLine: hot("otp_allow_line", `${AUTH_LOG_COLUMNS}values (?, ?, ?, ?, ?, ?, 'allow', ?, ?, ?, ?)`),
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

  async commitOTPAllow(w: OTPAllowWrite): Promise<boolean> {
    const c = w.credential;
    const credential = [
      w.next.counter,
      w.next.lastStep,
      w.next.drift,
      c.id,
      w.userId,
      c.secretSealed,
      c.counter,
      c.lastStep,
      c.drift,
    ];
    const state = presumedStateParams(w);
    const l = w.line;
    const line = allowLineParams(l);
    // A prompt login completed by this allow: its session moves to `allowed` with the code's write, or nothing is.
    const session = w.loginSessionId;
    const allowSession = async (tx: Store) => {
      if (session === undefined) return;
      const code = w.loginSessionCode;
      const completion = { factor: l.factor, txid: l.txid, at: l.at, ...(code ? { code } : {}) };
      if (!(await tx.allowLoginSession(session, w.userId, completion)))
        throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended", {
          detail: "the prompt login was no longer pending when its passcode checked out",
        });
    };
    if (!this.sqlite) {
      if (session === undefined)
        return (await this.hotRows(ALLOW.postgres, [...credential, ...state, ...line])).length === 1;
      return this.transaction(async (tx) => {
        const records = tx as unknown as OTPCredentialRecords;
        if ((await records.hotRows(ALLOW.postgres, [...credential, ...state, ...line])).length !== 1)
          return false;
        await allowSession(tx);
        return true;
      });
    }
    const pending = loginPendingParams(session, w.userId, l.at);
    const write = async (tx: OTPCredentialRecords) => {
      // The one write that may not apply: it checks everything the allow presumed.
      if ((await tx.hotChanges(ALLOW.sqliteCredential, [...credential, ...state, ...pending])) !== 1)
        return false;
      // Nothing else runs on the one connection until this transaction ends: the writes below apply.
      await allowSession(tx as unknown as Store);
      await tx.hotChanges(ALLOW.sqliteLine, line);
      return true;
    };
    // No savepoint: a failure after the first write rolls back the whole group commit (GroupUndo "group").
    return this.inTransaction
      ? write(this)
      : this.transaction((tx) => write(tx as unknown as OTPCredentialRecords), "group");
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
