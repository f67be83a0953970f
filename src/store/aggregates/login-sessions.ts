// Prompt logins (OIDC authorize → factor → code → token): each step one conditional write on the session's status.
import type { AuthFactor, LoginSession, LoginSessionStatus } from "../../core/model.ts";
import { guard, StoreContext } from "../store-context.ts";
import type { LoginSessionsTable } from "../tables.ts";

function toLoginSession(r: LoginSessionsTable): LoginSession {
  const n = (v: number | null) => (v === null ? null : Number(v));
  return {
    id: r.id,
    handleHash: r.handle_hash,
    applicationId: r.application_id,
    userId: r.user_id,
    username: r.username,
    redirectURI: r.redirect_uri,
    state: r.state,
    nonce: r.nonce,
    useDuoCode: Number(r.use_duo_code) === 1,
    status: r.status as LoginSessionStatus,
    pushTxid: r.push_txid,
    factor: r.factor as AuthFactor | null,
    authTxid: r.auth_txid,
    authAt: n(r.auth_at),
    codeHash: r.code_hash,
    codeExpiresAt: n(r.code_expires_at),
    ip: r.ip,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    maxExpiresAt: Number(r.max_expires_at),
  };
}

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class LoginSessionRecords extends StoreContext {
  async insertLoginSession(s: LoginSession): Promise<void> {
    await guard(
      () =>
        this.db
          .insertInto("login_sessions")
          .values({
            id: s.id,
            handle_hash: s.handleHash,
            application_id: s.applicationId,
            user_id: s.userId,
            username: s.username,
            redirect_uri: s.redirectURI,
            state: s.state,
            nonce: s.nonce,
            use_duo_code: s.useDuoCode ? 1 : 0,
            status: s.status,
            push_txid: s.pushTxid,
            factor: s.factor,
            auth_txid: s.authTxid,
            auth_at: s.authAt,
            code_hash: s.codeHash,
            code_expires_at: s.codeExpiresAt,
            ip: s.ip,
            created_at: s.createdAt,
            expires_at: s.expiresAt,
            max_expires_at: s.maxExpiresAt,
          })
          .execute(),
      "ERR_CONFLICT",
    );
  }

  async getLoginSession(id: string): Promise<LoginSession | undefined> {
    const row = await guard(() =>
      this.db.selectFrom("login_sessions").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toLoginSession(row);
  }

  async getLoginSessionByHandle(handleHash: string): Promise<LoginSession | undefined> {
    const row = await guard(() =>
      this.db
        .selectFrom("login_sessions")
        .selectAll()
        .where("handle_hash", "=", handleHash)
        .executeTakeFirst(),
    );
    return row && toLoginSession(row);
  }

  async touchLoginSession(id: string, expiresAt: number, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("login_sessions")
        .set((eb) => ({
          expires_at: eb
            .case()
            .when("max_expires_at", "<", expiresAt)
            .then(eb.ref("max_expires_at"))
            .else(expiresAt)
            .end(),
        }))
        .where("id", "=", id)
        .where("status", "in", ["pending", "allowed"])
        .where("expires_at", ">", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async setLoginSessionPush(id: string, pushTxid: string, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("login_sessions")
        .set({ push_txid: pushTxid })
        .where("id", "=", id)
        .where("status", "=", "pending")
        .where("expires_at", ">", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async allowLoginSession(
    id: string,
    userId: string | null,
    c: { factor: string; txid: string; at: number },
  ): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("login_sessions")
        .set({ status: "allowed", factor: c.factor, auth_txid: c.txid, auth_at: c.at })
        .where("id", "=", id)
        .where((eb) => (userId === null ? eb("user_id", "is", null) : eb("user_id", "=", userId)))
        .where("status", "=", "pending")
        .where("expires_at", ">", c.at)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async allowLoginSessionByPush(
    pushTxid: string,
    c: { factor: string; txid: string; at: number },
  ): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("login_sessions")
        .set({ status: "allowed", factor: c.factor, auth_txid: c.txid, auth_at: c.at })
        .where("push_txid", "=", pushTxid)
        .where("status", "=", "pending")
        .where("expires_at", ">", c.at)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) >= 1;
  }

  async issueLoginSessionCode(id: string, codeHash: string, codeExpiresAt: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("login_sessions")
        .set({ status: "code_issued", code_hash: codeHash, code_expires_at: codeExpiresAt })
        .where("id", "=", id)
        .where("status", "=", "allowed")
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async redeemLoginSessionCode(codeHash: string, now: number): Promise<LoginSession | undefined> {
    const r = await guard(() =>
      this.db
        .updateTable("login_sessions")
        .set({ status: "redeemed" })
        .where("code_hash", "=", codeHash)
        .where("status", "=", "code_issued")
        .where("code_expires_at", ">", now)
        .executeTakeFirst(),
    );
    if (Number(r.numUpdatedRows) !== 1) return undefined;
    const row = await guard(() =>
      this.db.selectFrom("login_sessions").selectAll().where("code_hash", "=", codeHash).executeTakeFirst(),
    );
    return row && toLoginSession(row);
  }

  async endLoginSession(
    id: string,
    status: Extract<LoginSessionStatus, "denied" | "abandoned">,
  ): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("login_sessions")
        .set({ status })
        .where("id", "=", id)
        .where("status", "in", ["pending", "allowed"])
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async pruneLoginSessions(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("login_sessions")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("login_sessions")
            .select("id")
            .where("max_expires_at", "<=", before)
            .orderBy("max_expires_at")
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }
}
