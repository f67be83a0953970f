// Prompt logins (OIDC authorize → factor → code → token): each step one conditional write on the session's status.
import type { AuthFactor, LoginSession, LoginSessionStatus } from "../../core/model.ts";
import type { LoginSessionCode, PromptLoginRecord, RedeemedLogin } from "../../core/ports.ts";
import { applicationOf } from "../application-rows.ts";
import { USERS_PENDING_LOGIN } from "../presumed-state.ts";
import { toUser } from "../rows.ts";
import { guard, hot, StoreContext } from "../store-context.ts";
import type { ApplicationsTable, LoginSessionsTable, UsersTable } from "../tables.ts";

const COLUMNS =
  "id, handle_hash, application_id, user_id, username, redirect_uri, state, nonce, use_duo_code, status, " +
  "push_txid, factor, auth_txid, auth_at, code_hash, code_expires_at, ip, created_at, expires_at, max_expires_at";

/** Every column of applications and of users (test/store/login-sessions.test.ts checks the lists are whole). */
export const APPLICATION_COLUMNS = [
  "id",
  "name",
  "type",
  "secret_sealed",
  "policy_json",
  "status",
  "created_at",
  "updated_at",
  "redirect_uris_json",
] as const;
export const USER_COLUMNS = [
  "id",
  "username",
  "username_canonical",
  "real_name",
  "email",
  "email_canonical",
  "phone",
  "status",
  "password_hash",
  "notes",
  "language",
  "created_at",
  "updated_at",
  "push_suspended_at",
  "first_factor_at",
] as const;

const SESSION_COLUMNS = COLUMNS.split(", ")
  .map((c) => `s.${c}`)
  .join(", ");
const JOINED_APPLICATION = APPLICATION_COLUMNS.map((c) => `a.${c} as a_${c}`).join(", ");
const JOINED_USER = USER_COLUMNS.map((c) => `u.${c} as u_${c}`).join(", ");

/** COLUMNS' placeholders with their types (PostgreSQL types a parameter of a SELECT list as text otherwise). */
const TYPED_VALUES = [
  ...Array(8).fill("text"),
  "integer",
  ...Array(4).fill("text"),
  "bigint",
  "text",
  "bigint",
  "text",
  "bigint",
  "bigint",
  "bigint",
]
  .map((type) => `cast(? as ${type})`)
  .join(", ");

/** The statements of a prompt login's steps (authorize, each page, the allow, the code, the token): written by hand. */
const Q = {
  insert: hot(
    "login_insert",
    `insert into login_sessions (${COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ),
  // The insert for a user found by name earlier: only while that user still has the name, uncontested.
  insertForName: hot(
    "login_insert_for_name",
    `insert into login_sessions (${COLUMNS}) select ${TYPED_VALUES} ` +
      "where exists (select 1 from users u where u.id = ? and u.username_canonical = ? " +
      "and not exists (select 1 from username_collisions c where c.canonical = ?))",
  ),
  byHandle: hot("login_by_handle", `select ${COLUMNS} from login_sessions where handle_hash = ?`),
  // A prompt page's one read: the login with its application (and its user, when it names one we know).
  promptLogin: hot(
    "login_prompt",
    `select ${SESSION_COLUMNS}, ${JOINED_APPLICATION} from login_sessions s ` +
      "join applications a on a.id = s.application_id where s.handle_hash = ?",
  ),
  promptLoginUser: hot(
    "login_prompt_user",
    `select ${SESSION_COLUMNS}, ${JOINED_APPLICATION}, ${JOINED_USER} from login_sessions s ` +
      "join applications a on a.id = s.application_id left join users u on u.id = s.user_id " +
      "where s.handle_hash = ?",
  ),
  touch: hot(
    "login_touch",
    "update login_sessions set expires_at = case when max_expires_at < ? then max_expires_at else ? end " +
      "where id = ? and status in ('pending', 'allowed') and expires_at > ?",
  ),
  allowUser: hot(
    "login_allow_user",
    `update login_sessions set status = 'allowed', factor = ?, auth_txid = ?, auth_at = ? where ${USERS_PENDING_LOGIN}`,
  ),
  allowNobody: hot(
    "login_allow_nobody",
    "update login_sessions set status = 'allowed', factor = ?, auth_txid = ?, auth_at = ? " +
      "where id = ? and user_id is null and status = 'pending' and expires_at > ?",
  ),
  // The allow that also issues the code (nothing left to ask): pending → code_issued in the one write.
  allowUserCode: hot(
    "login_allow_user_code",
    "update login_sessions set status = 'code_issued', factor = ?, auth_txid = ?, auth_at = ?, " +
      `code_hash = ?, code_expires_at = ? where ${USERS_PENDING_LOGIN}`,
  ),
  allowNobodyCode: hot(
    "login_allow_nobody_code",
    "update login_sessions set status = 'code_issued', factor = ?, auth_txid = ?, auth_at = ?, " +
      "code_hash = ?, code_expires_at = ? where id = ? and user_id is null and status = 'pending' and expires_at > ?",
  ),
  issueCode: hot(
    "login_issue_code",
    "update login_sessions set status = 'code_issued', code_hash = ?, code_expires_at = ? " +
      "where id = ? and status = 'allowed'",
  ),
  // One conditional write both redeems the code and returns its login, with what the id_token says of its user
  // (`u_username` is null only when the user is gone: the column is not null): a second redeem changes no row.
  redeem: hot(
    "login_redeem",
    "update login_sessions set status = 'redeemed' " +
      `where code_hash = ? and status = 'code_issued' and code_expires_at > ? returning ${COLUMNS}, ` +
      "(select u.username from users u where u.id = login_sessions.user_id) as u_username, " +
      "(select u.email from users u where u.id = login_sessions.user_id) as u_email",
  ),
};

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

/** The columns of one joined table, under their own names. */
function prefixed<T>(row: Record<string, unknown>, prefix: string, columns: readonly string[]): T {
  const out: Record<string, unknown> = {};
  for (const c of columns) out[c] = row[prefix + c];
  return out as T;
}

/** A session's columns in COLUMNS order. */
function sessionValues(s: LoginSession): unknown[] {
  return [
    s.id,
    s.handleHash,
    s.applicationId,
    s.userId,
    s.username,
    s.redirectURI,
    s.state,
    s.nonce,
    s.useDuoCode ? 1 : 0,
    s.status,
    s.pushTxid,
    s.factor,
    s.authTxid,
    s.authAt,
    s.codeHash,
    s.codeExpiresAt,
    s.ip,
    s.createdAt,
    s.expiresAt,
    s.maxExpiresAt,
  ];
}

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class LoginSessionRecords extends StoreContext {
  async insertLoginSession(s: LoginSession): Promise<void> {
    await this.hotChanges(Q.insert, sessionValues(s));
  }

  async insertLoginSessionForName(s: LoginSession, canonicalName: string): Promise<boolean> {
    if (s.userId === null) return false;
    return (
      (await this.hotChanges(Q.insertForName, [
        ...sessionValues(s),
        s.userId,
        canonicalName,
        canonicalName,
      ])) === 1
    );
  }

  async getLoginSession(id: string): Promise<LoginSession | undefined> {
    const row = await guard(() =>
      this.db.selectFrom("login_sessions").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toLoginSession(row);
  }

  async getLoginSessionByHandle(handleHash: string): Promise<LoginSession | undefined> {
    const [row] = await this.hotRows<LoginSessionsTable>(Q.byHandle, [handleHash]);
    return row && toLoginSession(row);
  }

  async getPromptLogin(handleHash: string, withUser: boolean): Promise<PromptLoginRecord | undefined> {
    const [row] = await this.hotRows<Record<string, unknown>>(withUser ? Q.promptLoginUser : Q.promptLogin, [
      handleHash,
    ]);
    if (!row) return undefined;
    // Built once per row as read (applications.ts): no policy JSON parsed again while the application is unchanged.
    const application = applicationOf(prefixed<ApplicationsTable>(row, "a_", APPLICATION_COLUMNS));
    const user =
      withUser && row["u_id"] !== null && row["u_id"] !== undefined
        ? toUser(prefixed<UsersTable>(row, "u_", USER_COLUMNS))
        : undefined;
    const first = row["u_first_factor_at"];
    return {
      session: toLoginSession(row as unknown as LoginSessionsTable),
      application,
      user,
      ...(user ? { userFirstFactorAt: first === null || first === undefined ? null : Number(first) } : {}),
    };
  }

  async touchLoginSession(id: string, expiresAt: number, now: number): Promise<boolean> {
    return (await this.hotChanges(Q.touch, [expiresAt, expiresAt, id, now])) === 1;
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
    c: { factor: string; txid: string; at: number; code?: LoginSessionCode },
  ): Promise<boolean> {
    const code = c.code;
    const q = code
      ? userId === null
        ? Q.allowNobodyCode
        : Q.allowUserCode
      : userId === null
        ? Q.allowNobody
        : Q.allowUser;
    const changed = await this.hotChanges(q, [
      c.factor,
      c.txid,
      c.at,
      ...(code ? [code.hash, code.expiresAt] : []),
      id,
      ...(userId === null ? [] : [userId]),
      c.at,
    ]);
    return changed === 1;
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
    return (await this.hotChanges(Q.issueCode, [codeHash, codeExpiresAt, id])) === 1;
  }

  async redeemLoginSessionCode(codeHash: string, now: number): Promise<RedeemedLogin | undefined> {
    const rows = await this.hotWriteRows<
      LoginSessionsTable & { u_username: string | null; u_email: string | null }
    >(Q.redeem, [codeHash, now]);
    if (rows.length !== 1) return undefined;
    const row = rows[0]!;
    const session = toLoginSession(row);
    const user =
      session.userId === null
        ? null
        : row.u_username === null
          ? undefined
          : { id: session.userId, username: row.u_username, email: row.u_email };
    return { session, user };
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
