// WebAuthn credentials and ceremonies: single-use challenges, a counter that only moves forward, capped live ceremonies.
import { sql } from "kysely";
import { TwofoldError } from "../../core/errors.ts";
import type { WebAuthnCeremony, WebAuthnCredential } from "../../core/model.ts";
import type { Store, WebAuthnAllowResult, WebAuthnAllowWrite } from "../../core/ports.ts";
import {
  AUTH_LOG_COLUMNS,
  allowLineParams,
  LOGIN_PENDING,
  loginPendingParams,
  PRESUMED_STATE,
  presumedStateParams,
} from "../presumed-state.ts";
import { num } from "../rows.ts";
import { guard, hot, StoreContext } from "../store-context.ts";
import type { WebAuthnCeremoniesTable, WebAuthnCredentialsTable } from "../tables.ts";

/** The credential's part of an allow decided outside a transaction: the user's, active, and its counter below. */
const CREDENTIAL_USABLE = (big: string) =>
  `status = 'active' and (sign_count < ${big} or (sign_count = 0 and ${big} = 0))`;

const ALLOW = {
  // PostgreSQL: one statement, one round trip. The ceremony is taken first (the row a concurrent finish of it waits
  // on, as in the transaction, so the two never wait on each other's rows), and only when the key, the user, the
  // counter and the application are as presumed; the counter moves only with the ceremony, the line only with the
  // counter. It answers whether the ceremony was taken and whether the line was written: taken without a line is a
  // finish that lost a race for the key's counter after the check above (its ceremony is gone).
  postgres: hot(
    "webauthn_allow",
    "with c as (delete from webauthn_ceremonies where id = ? and user_id = ? " +
      "and exists (select 1 from webauthn_credentials " +
      `where id = ? and user_id = ? and ${CREDENTIAL_USABLE("cast(? as bigint)")}) ` +
      `and ${PRESUMED_STATE} returning id), ` +
      "k as (update webauthn_credentials set sign_count = cast(? as bigint), backup_state = cast(? as integer), " +
      `last_used_at = cast(? as bigint) where id = ? and ${CREDENTIAL_USABLE("cast(? as bigint)")} ` +
      "and exists (select 1 from c) returning id), " +
      `l as (${AUTH_LOG_COLUMNS}select cast(? as text), cast(? as bigint), cast(? as text), cast(? as text), ` +
      "cast(? as text), cast(? as text), 'allow', cast(? as text), cast(? as text), cast(? as text), " +
      "cast(? as text) from k returning id) " +
      "select (select count(*) from c) as taken, (select count(*) from l) as logged",
  ),
  // SQLite (one writer) runs no write inside WITH: the counter's conditional write, which checks everything the
  // allow presumed (the prompt login included), then the ceremony's delete, the login and the line, in one
  // transaction.
  sqliteCounter: hot(
    "webauthn_allow_counter",
    "update webauthn_credentials set sign_count = ?, backup_state = ?, last_used_at = ? " +
      `where id = ? and user_id = ? and ${CREDENTIAL_USABLE("?")} ` +
      "and exists (select 1 from webauthn_ceremonies where id = ? and user_id = ?) " +
      `and ${PRESUMED_STATE} and ${LOGIN_PENDING}`,
  ),
  sqliteCeremony: hot("webauthn_take", "delete from webauthn_ceremonies where id = ?"),
  sqliteLine: hot("webauthn_allow_line", `${AUTH_LOG_COLUMNS}values (?, ?, ?, ?, ?, ?, 'allow', ?, ?, ?, ?)`),
};

const Q = {
  /** F1: a ceremony is taken once, by this one delete, whatever its finish then decides. */
  take: hot("webauthn_ceremony_take", "delete from webauthn_ceremonies where id = ? returning *"),
};

function toCredential(r: WebAuthnCredentialsTable): WebAuthnCredential {
  return {
    id: r.id,
    userId: r.user_id,
    credentialId: r.credential_id,
    publicKey: r.public_key,
    userHandle: r.user_handle,
    signCount: Number(r.sign_count),
    transports: JSON.parse(r.transports_json) as string[],
    aaguid: r.aaguid,
    attestationFormat: r.attestation_format,
    backupEligible: Number(r.backup_eligible) === 1,
    backupState: Number(r.backup_state) === 1,
    deviceType: r.device_type as WebAuthnCredential["deviceType"],
    discoverable: r.discoverable === null ? null : Number(r.discoverable) === 1,
    name: r.name,
    status: r.status as WebAuthnCredential["status"],
    createdAt: Number(r.created_at),
    lastUsedAt: num(r.last_used_at),
  };
}

function toCeremony(r: WebAuthnCeremoniesTable): WebAuthnCeremony {
  return {
    id: r.id,
    kind: r.kind as WebAuthnCeremony["kind"],
    userId: r.user_id,
    contextHash: r.context_hash,
    challenge: r.challenge,
    userVerification: r.user_verification as WebAuthnCeremony["userVerification"],
    userHandle: r.user_handle,
    source: r.source,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
  };
}

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class WebAuthnRecords extends StoreContext {
  async insertWebAuthnCeremony(
    c: WebAuthnCeremony,
    caps: { perUser: number; perSource: number },
    now: number,
  ): Promise<{ failuresOnRecord: boolean } | undefined> {
    // INSERT … SELECT … WHERE the counts are under the caps: the check and the insert are one statement. (Two
    // nodes inserting at the same instant may each see the other's row missing, so a cap can be passed by the
    // number of nodes at most; it bounds the table, it is not a security counter.) The same statement answers
    // whether the user's `webauthn` class has failures on record (the finish then reads the lock before any check).
    const r = await guard(() =>
      sql<{ failures_on_record: unknown }>`insert into webauthn_ceremonies
            (id, kind, user_id, context_hash, challenge, user_verification, user_handle, source, created_at, expires_at)
          select ${c.id}, ${c.kind}, ${c.userId}, ${c.contextHash}, ${c.challenge}, ${c.userVerification},
                 ${c.userHandle}, ${c.source}, ${c.createdAt}, ${c.expiresAt}
          where (select count(*) from webauthn_ceremonies where user_id = ${c.userId} and expires_at > ${now}) < ${caps.perUser}
            and (select count(*) from webauthn_ceremonies where source = ${c.source} and expires_at > ${now}) < ${caps.perSource}
          returning (select count(*) from lockouts l where l.user_id = webauthn_ceremonies.user_id
                     and l.factor_class = 'webauthn' and (l.failures <> 0 or l.last_failure_at is not null))
                    as failures_on_record`.execute(this.db),
    );
    const [row] = r.rows;
    return row && { failuresOnRecord: Number(row.failures_on_record) > 0 };
  }

  async consumeWebAuthnCeremony(id: string): Promise<WebAuthnCeremony | undefined> {
    const rows = await this.hotWriteRows<WebAuthnCeremoniesTable>(Q.take, [id]);
    return rows[0] && toCeremony(rows[0]);
  }

  async insertWebAuthnCredential(c: WebAuthnCredential): Promise<void> {
    await guard(() =>
      this.db
        .insertInto("webauthn_credentials")
        .values({
          id: c.id,
          user_id: c.userId,
          credential_id: c.credentialId,
          public_key: c.publicKey,
          user_handle: c.userHandle,
          sign_count: c.signCount,
          transports_json: JSON.stringify(c.transports),
          aaguid: c.aaguid,
          attestation_format: c.attestationFormat,
          backup_eligible: c.backupEligible ? 1 : 0,
          backup_state: c.backupState ? 1 : 0,
          device_type: c.deviceType,
          discoverable: c.discoverable === null ? null : c.discoverable ? 1 : 0,
          name: c.name,
          status: c.status,
          created_at: c.createdAt,
          last_used_at: c.lastUsedAt,
        })
        .execute(),
    );
  }

  async getWebAuthnCredential(id: string): Promise<WebAuthnCredential | undefined> {
    const row = await guard(() =>
      this.db.selectFrom("webauthn_credentials").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toCredential(row);
  }

  async findWebAuthnCredential(credentialId: string): Promise<WebAuthnCredential | undefined> {
    const row = await guard(() =>
      this.db
        .selectFrom("webauthn_credentials")
        .selectAll()
        .where("credential_id", "=", credentialId)
        .executeTakeFirst(),
    );
    return row && toCredential(row);
  }

  async listWebAuthnCredentials(userId: string): Promise<WebAuthnCredential[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("webauthn_credentials")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("created_at")
        .orderBy("id")
        .execute(),
    );
    return rows.map(toCredential);
  }

  async advanceWebAuthnCounter(
    id: string,
    signCount: number,
    backupState: boolean,
    now: number,
  ): Promise<boolean> {
    // WebAuthn §6.1.1: a counter only grows; an authenticator without one always sends 0. The condition is part
    // of the write, so parallel assertions can never move the stored value backwards (F4).
    const r = await guard(() =>
      this.db
        .updateTable("webauthn_credentials")
        .set({ sign_count: signCount, backup_state: backupState ? 1 : 0, last_used_at: now })
        .where("id", "=", id)
        .where("status", "=", "active")
        // 0 is accepted only while the stored value is 0 too; any other value only above the stored one.
        .where("sign_count", signCount === 0 ? "=" : "<", signCount)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async commitWebAuthnAllow(w: WebAuthnAllowWrite): Promise<WebAuthnAllowResult> {
    const k = w.credential;
    const l = w.line;
    const presumed = presumedStateParams({ ...w, factorClass: "webauthn" });
    const line = allowLineParams(l);
    // A prompt login completed by this allow: its session moves to `allowed` with the other writes, or nothing is.
    const allowSession = async (tx: Store) => {
      if (w.loginSessionId === undefined) return;
      if (
        !(await tx.allowLoginSession(w.loginSessionId, w.userId, {
          factor: "webauthn",
          txid: l.txid,
          at: l.at,
        }))
      )
        throw new TwofoldError("ERR_LOGIN_SESSION_ENDED", "this login has ended", {
          detail: "the prompt login was no longer pending when its assertion checked out",
        });
    };
    if (!this.sqlite) {
      const params = [
        w.ceremonyId,
        w.userId,
        k.id,
        w.userId,
        k.signCount,
        k.signCount,
        ...presumed,
        k.signCount,
        k.backupState ? 1 : 0,
        l.at,
        k.id,
        k.signCount,
        k.signCount,
        ...line,
      ];
      const outcome = async (records: WebAuthnRecords): Promise<WebAuthnAllowResult> => {
        const [row] = await records.hotRows<{ taken: unknown; logged: unknown }>(ALLOW.postgres, params);
        return Number(row?.logged) === 1 ? "allowed" : Number(row?.taken) === 1 ? "taken" : "not_applied";
      };
      if (w.loginSessionId === undefined) return outcome(this);
      return this.transaction(async (tx) => {
        const result = await outcome(tx as unknown as WebAuthnRecords);
        if (result === "allowed") await allowSession(tx);
        return result;
      });
    }
    const counter = [
      k.signCount,
      k.backupState ? 1 : 0,
      l.at,
      k.id,
      w.userId,
      k.signCount,
      k.signCount,
      w.ceremonyId,
      w.userId,
      ...presumed,
      ...loginPendingParams(w.loginSessionId, w.userId, l.at),
    ];
    const write = async (tx: WebAuthnRecords): Promise<WebAuthnAllowResult> => {
      // The one write that may not apply: it checks everything the allow presumed.
      if ((await tx.hotChanges(ALLOW.sqliteCounter, counter)) !== 1) return "not_applied";
      // Nothing else runs on the one connection until this transaction ends, so what the counter's write checked
      // still holds and each write below applies; one that does not is a mistake, and undoes everything.
      if ((await tx.hotChanges(ALLOW.sqliteCeremony, [w.ceremonyId])) !== 1)
        throw new TwofoldError("ERR_INTERNAL", "the ceremony checked by the counter's write was not there");
      await allowSession(tx as unknown as Store);
      await tx.hotChanges(ALLOW.sqliteLine, line);
      return "allowed";
    };
    if (this.inTransaction) return write(this);
    // No savepoint: a failure after the first write rolls back the whole group commit (GroupUndo "group").
    return this.transaction((tx) => write(tx as unknown as WebAuthnRecords), "group");
  }

  async markWebAuthnCredentialSuspect(id: string): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("webauthn_credentials")
        .set({ status: "suspect" })
        .where("id", "=", id)
        .where("status", "=", "active")
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async renameWebAuthnCredential(id: string, name: string): Promise<boolean> {
    const r = await guard(() =>
      this.db.updateTable("webauthn_credentials").set({ name }).where("id", "=", id).executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async deleteWebAuthnCredential(id: string): Promise<boolean> {
    const r = await guard(() =>
      this.db.deleteFrom("webauthn_credentials").where("id", "=", id).executeTakeFirst(),
    );
    return Number(r.numDeletedRows) === 1;
  }

  async pruneWebAuthnCeremonies(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("webauthn_ceremonies")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("webauthn_ceremonies")
            .select("id")
            .where("expires_at", "<=", before)
            .orderBy("expires_at")
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }
}
