// The Store port over Kysely: one implementation for SQLite and PostgreSQL, every one-time value a conditional write.
import { type Kysely, type Selectable, sql, type Transaction } from "kysely";
import { TwofoldError } from "../core/errors.ts";
import type {
  APIEnrollment,
  Application,
  ApplicationPolicy,
  ApplicationType,
  AuditEvent,
  AuditInput,
  AuthFactor,
  AuthLogEntry,
  AuthLogWrite,
  AuthResult,
  BypassCode,
  BypassSource,
  Device,
  DeviceActivation,
  FactorClass,
  LockoutState,
  Notification,
  OTPCredential,
  OTPKind,
  OTPStatus,
  OTPType,
  Phone,
  PushContext,
  PushStatus,
  PushTransaction,
  RescueCode,
  User,
  UserStatus,
} from "../core/model.ts";
import type { OTPAlgorithm } from "../core/otp/hotp.ts";
import type {
  ApplicationPatch,
  AuthLogQuery,
  BypassCodeQuery,
  OTPQuery,
  PhonePatch,
  PhoneQuery,
  Store,
  StoredUserName,
  UsernameCollision,
  UserPatch,
  UserQuery,
} from "../core/ports.ts";
import type { ThrottleCount } from "../core/throttle.ts";
import { canonicalizeEmail, foldName } from "../core/username.ts";
import type { Dialect } from "./migrations.ts";
import type {
  ApplicationsTable,
  AuditLogTable,
  AuthLogTable,
  BypassCodesTable,
  Database,
  DeviceActivationsTable,
  DevicesTable,
  OTPCredentialsTable,
  PhonesTable,
  PushTransactionsTable,
  UsersTable,
} from "./tables.ts";

type DB = Kysely<Database> | Transaction<Database>;

export class KyselyStore implements Store {
  readonly dialect: Dialect;
  readonly #db: DB;
  readonly #inTransaction: boolean;
  readonly #onClose: (() => Promise<void>) | undefined;

  constructor(
    db: DB,
    dialect: Dialect,
    options: { inTransaction?: boolean; onClose?: () => Promise<void> } = {},
  ) {
    this.#db = db;
    this.dialect = dialect;
    this.#inTransaction = options.inTransaction ?? false;
    this.#onClose = options.onClose;
  }

  /** The underlying Kysely instance, for maintenance commands and tests. */
  get kysely(): DB {
    return this.#db;
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.#inTransaction) return fn(this);
    return guard(() =>
      (this.#db as Kysely<Database>)
        .transaction()
        .execute((trx) => fn(new KyselyStore(trx, this.dialect, { inTransaction: true }))),
    );
  }

  async ping(): Promise<void> {
    await guard(() => sql`select 1`.execute(this.#db));
  }

  async close(): Promise<void> {
    if (this.#onClose) await this.#onClose();
  }

  // ---------------------------------------------------------------- users

  async insertUser(user: User): Promise<void> {
    await guard(
      () =>
        this.#db
          .insertInto("users")
          .values({
            id: user.id,
            username: user.username,
            username_canonical: user.usernameCanonical,
            real_name: user.realName,
            email: user.email,
            email_canonical: user.email ? canonicalizeEmail(user.email) : null,
            phone: user.phone,
            status: user.status,
            password_hash: user.passwordHash,
            notes: user.notes,
            created_at: user.createdAt,
            updated_at: user.updatedAt,
          })
          .execute(),
      "ERR_USER_EXISTS",
    );
  }

  async getUser(id: string): Promise<User | undefined> {
    const row = await guard(() =>
      this.#db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toUser(row);
  }

  async findUserByIdentifier(canonical: string): Promise<User | undefined> {
    // A key two users claim names nobody (A3); checked in the same statement, so a login pays no extra trip.
    const uncontested = sql<boolean>`not exists (select 1 from username_collisions where canonical = ${canonical})`;
    const direct = await guard(() =>
      this.#db
        .selectFrom("users")
        .selectAll()
        .where("username_canonical", "=", canonical)
        .where(uncontested)
        .executeTakeFirst(),
    );
    if (direct) return toUser(direct);
    const alias = await guard(() =>
      this.#db
        .selectFrom("user_aliases")
        .innerJoin("users", "users.id", "user_aliases.user_id")
        .selectAll("users")
        .where("user_aliases.alias_canonical", "=", canonical)
        .where(uncontested)
        .executeTakeFirst(),
    );
    if (alias) return toUser(alias);
    // An e-mail address is an identifier only when exactly one user has it.
    const byEmail = await guard(() =>
      this.#db
        .selectFrom("users")
        .selectAll()
        .where("email_canonical", "=", canonical)
        .where(uncontested)
        .limit(2)
        .execute(),
    );
    return byEmail.length === 1 ? toUser(byEmail[0]!) : undefined;
  }

  async listUsers(query: UserQuery): Promise<{ users: User[]; total: number }> {
    let q = this.#db.selectFrom("users");
    if (query.search) {
      const like = `%${foldName(query.search).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      q = q.where((eb) =>
        eb.or([
          eb("username_canonical", "like", sql<string>`${like} escape '\\'`),
          eb(sql`lower(username)`, "like", sql<string>`${like} escape '\\'`),
          eb("email_canonical", "like", sql<string>`${like} escape '\\'`),
          eb(sql`lower(real_name)`, "like", sql<string>`${like} escape '\\'`),
        ]),
      );
    }
    const total = await guard(() =>
      q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
    );
    const rows = await guard(() =>
      q
        .selectAll()
        .orderBy("username_canonical")
        .limit(query.limit ?? 100)
        .offset(query.offset ?? 0)
        .execute(),
    );
    return { users: rows.map(toUser), total: Number(total.n) };
  }

  async updateUser(id: string, patch: UserPatch, now: number): Promise<User | undefined> {
    const values: Partial<UsersTable> = { updated_at: now };
    if (patch.username !== undefined) values.username = patch.username;
    if (patch.usernameCanonical !== undefined) values.username_canonical = patch.usernameCanonical;
    if (patch.realName !== undefined) values.real_name = patch.realName;
    if (patch.email !== undefined) {
      values.email = patch.email;
      values.email_canonical = patch.email ? canonicalizeEmail(patch.email) : null;
    }
    if (patch.phone !== undefined) values.phone = patch.phone;
    if (patch.status !== undefined) values.status = patch.status;
    if (patch.passwordHash !== undefined) values.password_hash = patch.passwordHash;
    if (patch.notes !== undefined) values.notes = patch.notes;
    const result = await guard(
      () => this.#db.updateTable("users").set(values).where("id", "=", id).executeTakeFirst(),
      "ERR_USER_EXISTS",
    );
    return Number(result.numUpdatedRows) === 1 ? this.getUser(id) : undefined;
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.transaction(async (tx) => {
      const db = (tx as KyselyStore).#db;
      // A user's app enrolments go with the user; lent hardware tokens go back to the inventory.
      await db.deleteFrom("otp_credentials").where("user_id", "=", id).where("kind", "=", "app").execute();
      await db
        .updateTable("otp_credentials")
        .set({ user_id: null, assigned_at: null })
        .where("user_id", "=", id)
        .execute();
      const result = await db.deleteFrom("users").where("id", "=", id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    });
  }

  async addAlias(userId: string, alias: string, aliasCanonical: string): Promise<void> {
    await guard(
      () =>
        this.#db
          .insertInto("user_aliases")
          .values({ user_id: userId, alias, alias_canonical: aliasCanonical })
          .execute(),
      "ERR_USER_EXISTS",
    );
  }

  async removeAlias(userId: string, aliasCanonical: string): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .deleteFrom("user_aliases")
        .where("user_id", "=", userId)
        .where("alias_canonical", "=", aliasCanonical)
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows) === 1;
  }

  async listAliases(userId: string): Promise<string[]> {
    const rows = await guard(() =>
      this.#db
        .selectFrom("user_aliases")
        .select("alias")
        .where("user_id", "=", userId)
        .orderBy("alias")
        .execute(),
    );
    return rows.map((r) => r.alias);
  }

  async listUserNames(): Promise<StoredUserName[]> {
    const [users, aliases] = await Promise.all([
      guard(() => this.#db.selectFrom("users").select(["id", "username", "username_canonical"]).execute()),
      guard(() =>
        this.#db.selectFrom("user_aliases").select(["user_id", "alias", "alias_canonical"]).execute(),
      ),
    ]);
    return [
      ...users.map(
        (u): StoredUserName => ({
          kind: "username",
          userId: u.id,
          name: u.username,
          canonical: u.username_canonical,
        }),
      ),
      ...aliases.map(
        (a): StoredUserName => ({
          kind: "alias",
          userId: a.user_id,
          name: a.alias,
          canonical: a.alias_canonical,
        }),
      ),
    ];
  }

  async recanonicalizeUserName(name: StoredUserName, to: string): Promise<boolean> {
    const r = await guard(() =>
      name.kind === "username"
        ? this.#db
            .updateTable("users")
            .set({ username_canonical: to })
            .where("id", "=", name.userId)
            .where("username_canonical", "=", name.canonical)
            .executeTakeFirst()
        : this.#db
            .updateTable("user_aliases")
            .set({ alias_canonical: to })
            .where("user_id", "=", name.userId)
            .where("alias_canonical", "=", name.canonical)
            .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async replaceUsernameCollisions(collisions: UsernameCollision[]): Promise<void> {
    const rows = collisions.flatMap((c) =>
      c.userIds.map((id) => ({ canonical: c.canonical, user_id: id, detected_at: c.detectedAt })),
    );
    await this.transaction(async (tx) => {
      const db = (tx as KyselyStore).#db;
      await guard(() => db.deleteFrom("username_collisions").execute());
      if (rows.length > 0)
        await guard(() =>
          db
            .insertInto("username_collisions")
            .values(rows)
            .onConflict((oc) => oc.columns(["canonical", "user_id"]).doNothing())
            .execute(),
        );
    });
  }

  async listUsernameCollisions(): Promise<UsernameCollision[]> {
    const rows = await guard(() =>
      this.#db
        .selectFrom("username_collisions")
        .selectAll()
        .orderBy("canonical")
        .orderBy("user_id")
        .execute(),
    );
    const out = new Map<string, UsernameCollision>();
    for (const r of rows) {
      const c = out.get(r.canonical) ?? { canonical: r.canonical, userIds: [], detectedAt: r.detected_at };
      c.userIds.push(r.user_id);
      c.detectedAt = Math.min(c.detectedAt, r.detected_at);
      out.set(r.canonical, c);
    }
    return [...out.values()];
  }

  async getUsernameCollision(canonical: string): Promise<string[]> {
    const rows = await guard(() =>
      this.#db
        .selectFrom("username_collisions")
        .select("user_id")
        .where("canonical", "=", canonical)
        .orderBy("user_id")
        .execute(),
    );
    return rows.map((r) => r.user_id);
  }

  // ---------------------------------------------------------------- applications

  async insertApplication(app: Application): Promise<void> {
    await guard(
      () =>
        this.#db
          .insertInto("applications")
          .values({
            id: app.id,
            name: app.name,
            type: app.type,
            secret_sealed: app.secretSealed,
            policy_json: JSON.stringify(app.policy),
            status: app.status,
            created_at: app.createdAt,
            updated_at: app.updatedAt,
          })
          .execute(),
      "ERR_CONFLICT",
    );
  }

  async getApplication(id: string): Promise<Application | undefined> {
    const row = await guard(() =>
      this.#db.selectFrom("applications").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toApplication(row);
  }

  async listApplications(): Promise<Application[]> {
    const rows = await guard(() => this.#db.selectFrom("applications").selectAll().orderBy("name").execute());
    return rows.map(toApplication);
  }

  async updateApplication(
    id: string,
    patch: ApplicationPatch,
    now: number,
  ): Promise<Application | undefined> {
    const values: Partial<ApplicationsTable> = { updated_at: now };
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.secretSealed !== undefined) values.secret_sealed = patch.secretSealed;
    if (patch.policy !== undefined) values.policy_json = JSON.stringify(patch.policy);
    if (patch.status !== undefined) values.status = patch.status;
    const r = await guard(() =>
      this.#db.updateTable("applications").set(values).where("id", "=", id).executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1 ? this.getApplication(id) : undefined;
  }

  async deleteApplication(id: string): Promise<boolean> {
    const r = await guard(() => this.#db.deleteFrom("applications").where("id", "=", id).executeTakeFirst());
    return Number(r.numDeletedRows) === 1;
  }

  // ---------------------------------------------------------------- OTP credentials

  async insertOTPCredentials(credentials: OTPCredential[]): Promise<void> {
    if (credentials.length === 0) return;
    const rows = credentials.map(fromOTP);
    await this.transaction(async (tx) => {
      const db = (tx as KyselyStore).#db;
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
      this.#db.selectFrom("otp_credentials").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toOTP(row);
  }

  async findTokenBySerial(serial: string): Promise<OTPCredential | undefined> {
    const row = await guard(() =>
      this.#db.selectFrom("otp_credentials").selectAll().where("serial", "=", serial).executeTakeFirst(),
    );
    return row && toOTP(row);
  }

  async listOTPCredentials(query: OTPQuery): Promise<{ credentials: OTPCredential[]; total: number }> {
    let q = this.#db.selectFrom("otp_credentials");
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
    const rows = await guard(() =>
      this.#db
        .selectFrom("otp_credentials")
        .selectAll()
        .where("user_id", "=", userId)
        .where("status", "=", "active")
        .orderBy("created_at")
        .execute(),
    );
    return rows.map(toOTP);
  }

  async consumeTOTPStep(id: string, step: number, drift: number): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("otp_credentials")
        .set({ last_step: step, drift })
        .where("id", "=", id)
        .where("status", "=", "active")
        .where((eb) => eb.or([eb("last_step", "is", null), eb("last_step", "<", step)]))
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async consumeHOTPCounter(id: string, matched: number): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("otp_credentials")
        .set({ counter: matched + 1 })
        .where("id", "=", id)
        .where("status", "=", "active")
        .where("counter", "<=", matched)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
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
      this.#db
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
      this.#db
        .updateTable("otp_credentials")
        .set({ user_id: userId, assigned_at: now })
        .where("id", "=", id)
        .where("kind", "=", "token")
        .where("user_id", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async unassignToken(id: string): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("otp_credentials")
        .set({ user_id: null, assigned_at: null })
        .where("id", "=", id)
        .where("kind", "=", "token")
        .where("user_id", "is not", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async resyncHOTPCounter(id: string, expectedCounter: number, newCounter: number): Promise<boolean> {
    const r = await guard(() =>
      this.#db
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
      this.#db
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
      this.#db.updateTable("otp_credentials").set({ status }).where("id", "=", id).executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async resealOTPSecret(id: string, expected: string, sealed: string): Promise<boolean> {
    const r = await guard(() =>
      this.#db
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
      this.#db.deleteFrom("otp_credentials").where("id", "=", id).executeTakeFirst(),
    );
    return Number(r.numDeletedRows) === 1;
  }

  async deleteExpiredPendingOTP(now: number): Promise<number> {
    const r = await guard(() =>
      this.#db
        .deleteFrom("otp_credentials")
        .where("status", "=", "pending")
        .where("pending_expires_at", "<=", now)
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  // ---------------------------------------------------------------- bypass codes

  async insertBypassCodes(codes: BypassCode[]): Promise<void> {
    if (codes.length === 0) return;
    await guard(
      () => this.#db.insertInto("bypass_codes").values(codes.map(fromBypass)).execute(),
      "ERR_CONFLICT",
    );
  }

  async getBypassCode(id: string): Promise<BypassCode | undefined> {
    const row = await guard(() =>
      this.#db.selectFrom("bypass_codes").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toBypass(row);
  }

  async listBypassCodes(userId: string): Promise<BypassCode[]> {
    const rows = await guard(() =>
      this.#db
        .selectFrom("bypass_codes")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("created_at", "desc")
        .orderBy("id")
        .execute(),
    );
    return rows.map(toBypass);
  }

  async listLiveBypassCodes(userId: string, now: number): Promise<BypassCode[]> {
    const rows = await guard(() =>
      this.#db
        .selectFrom("bypass_codes")
        .selectAll()
        .where("user_id", "=", userId)
        .where("revoked_at", "is", null)
        .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
        .where((eb) => eb.or([eb("uses_left", "is", null), eb("uses_left", ">", 0)]))
        .orderBy("created_at")
        .execute(),
    );
    return rows.map(toBypass);
  }

  async listAllBypassCodes(query: BypassCodeQuery): Promise<{ codes: BypassCode[]; total: number }> {
    let q = this.#db.selectFrom("bypass_codes");
    const now = query.liveAt;
    if (now !== undefined)
      q = q
        .where("revoked_at", "is", null)
        .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
        .where((eb) => eb.or([eb("uses_left", "is", null), eb("uses_left", ">", 0)]));
    const [rows, count] = await guard(() =>
      Promise.all([
        q
          .selectAll()
          .orderBy("created_at", "desc")
          .orderBy("id")
          .limit(query.limit ?? 100)
          .offset(query.offset ?? 0)
          .execute(),
        q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
      ]),
    );
    return { codes: rows.map(toBypass), total: Number(count.n) };
  }

  async consumeBypassCode(id: string, now: number): Promise<{ usesLeft: number | null } | undefined> {
    const row = await guard(() =>
      this.#db
        .updateTable("bypass_codes")
        .set((eb) => ({
          uses_left: eb
            .case()
            .when("uses_left", "is", null)
            .then(null)
            .else(eb("uses_left", "-", 1))
            .end(),
          last_used_at: now,
        }))
        .where("id", "=", id)
        .where("revoked_at", "is", null)
        .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
        .where((eb) => eb.or([eb("uses_left", "is", null), eb("uses_left", ">", 0)]))
        .returning("uses_left")
        .executeTakeFirst(),
    );
    return row ? { usesLeft: row.uses_left === null ? null : Number(row.uses_left) } : undefined;
  }

  async revokeBypassCode(id: string, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("bypass_codes")
        .set({ revoked_at: now })
        .where("id", "=", id)
        .where("revoked_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async revokeBypassCodes(userId: string, now: number): Promise<number> {
    const r = await guard(() =>
      this.#db
        .updateTable("bypass_codes")
        .set({ revoked_at: now })
        .where("user_id", "=", userId)
        .where("revoked_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows);
  }

  // ---------------------------------------------------------------- rescue codes

  async replaceRescueCodes(userId: string, codes: RescueCode[]): Promise<void> {
    await this.transaction(async (tx) => {
      const db = (tx as KyselyStore).#db;
      await guard(() => db.deleteFrom("rescue_codes").where("user_id", "=", userId).execute());
      if (codes.length > 0) {
        await guard(() =>
          db
            .insertInto("rescue_codes")
            .values(
              codes.map((c) => ({
                id: c.id,
                user_id: c.userId,
                set_id: c.setId,
                code_hash: c.codeHash,
                created_at: c.createdAt,
                used_at: c.usedAt,
              })),
            )
            .execute(),
        );
      }
    });
  }

  async listUnusedRescueCodes(userId: string): Promise<RescueCode[]> {
    const rows = await guard(() =>
      this.#db
        .selectFrom("rescue_codes")
        .selectAll()
        .where("user_id", "=", userId)
        .where("used_at", "is", null)
        .orderBy("id")
        .execute(),
    );
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      setId: r.set_id,
      codeHash: r.code_hash,
      createdAt: Number(r.created_at),
      usedAt: r.used_at === null ? null : Number(r.used_at),
    }));
  }

  async consumeRescueCode(id: string, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("rescue_codes")
        .set({ used_at: now })
        .where("id", "=", id)
        .where("used_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  // ---------------------------------------------------------------- lockout

  async getLockout(userId: string, factorClass: FactorClass): Promise<LockoutState | undefined> {
    const row = await guard(() =>
      this.#db
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
      this.#db
        .selectFrom("lockouts")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("factor_class")
        .execute(),
    );
    return rows.map(toLockout);
  }

  async lockAttemptState(userId: string, factorClass: FactorClass): Promise<LockoutState> {
    if (!this.#inTransaction) throw new TwofoldError("ERR_STORE", "lockAttemptState needs a transaction");
    // Only for a user that still exists (one deleted since the login looked it up has nothing to lock; the
    // completion gate then denies): an INSERT … SELECT, still a write that takes the lock below first.
    await guard(() =>
      this.#db
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
      this.#db
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
      this.#db
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
      this.#db
        .updateTable("lockouts")
        .set({ failures: 0, last_failure_at: null })
        .where("user_id", "=", userId)
        .where("factor_class", "=", factorClass)
        .execute(),
    );
  }

  async clearLockouts(userId: string): Promise<number> {
    const r = await guard(() =>
      this.#db
        .updateTable("lockouts")
        .set({ failures: 0, last_failure_at: null })
        .where("user_id", "=", userId)
        .where("failures", ">", 0)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows);
  }

  // ---------------------------------------------------------------- logs, outbox, meta

  async appendAudit(event: AuditInput, at: number): Promise<number> {
    const row = await guard(() =>
      this.#db
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
      this.#db
        .selectFrom("audit_log")
        .selectAll()
        .where("id", ">", query.afterId ?? 0)
        .orderBy("id", query.order ?? "asc")
        .limit(query.limit)
        .execute(),
    );
    return rows.map(toAudit);
  }

  async appendAuthLog(entry: AuthLogWrite): Promise<void> {
    await guard(() =>
      this.#db
        .insertInto("auth_log")
        .values({
          id: entry.id,
          at: entry.at,
          user_id: entry.userId,
          username: entry.username,
          application_id: entry.applicationId,
          factor: entry.factor,
          result: entry.result,
          reason: entry.reason,
          ip: entry.ip,
          txid: entry.txid,
          node: entry.node,
        })
        .execute(),
    );
  }

  async listAuthLog(query: AuthLogQuery): Promise<{ entries: AuthLogEntry[]; total: number }> {
    let q = this.#db.selectFrom("auth_log").where("at", ">=", query.minTime).where("at", "<=", query.maxTime);
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

  async enqueueNotification(n: Notification): Promise<void> {
    await guard(() =>
      this.#db
        .insertInto("notifications")
        .values({
          id: n.id,
          user_id: n.userId,
          kind: n.kind,
          payload_json: JSON.stringify(n.payload),
          created_at: n.createdAt,
          sent_at: n.sentAt,
        })
        .execute(),
    );
  }

  async listPendingNotifications(limit: number): Promise<Notification[]> {
    const rows = await guard(() =>
      this.#db
        .selectFrom("notifications")
        .selectAll()
        .where("sent_at", "is", null)
        .orderBy("created_at")
        .orderBy("id")
        .limit(limit)
        .execute(),
    );
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      kind: r.kind,
      payload: JSON.parse(r.payload_json) as unknown,
      createdAt: Number(r.created_at),
      sentAt: r.sent_at === null ? null : Number(r.sent_at),
    }));
  }

  async markNotificationSent(id: string, at: number): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("notifications")
        .set({ sent_at: at })
        .where("id", "=", id)
        .where("sent_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  // ---------------------------------------------------------------- push

  async insertDevice(d: Device): Promise<void> {
    await guard(
      () =>
        this.#db
          .insertInto("devices")
          .values({
            id: d.id,
            user_id: d.userId,
            name: d.name,
            public_key: d.publicKey,
            delivery_sealed: d.deliverySealed,
            status: d.status,
            otp_credential_id: d.otpCredentialId,
            created_at: d.createdAt,
            last_seen_at: d.lastSeenAt,
          })
          .execute(),
      "ERR_CONFLICT",
    );
  }

  async getDevice(id: string): Promise<Device | undefined> {
    const row = await guard(() =>
      this.#db.selectFrom("devices").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toDevice(row);
  }

  async listDevices(userId: string): Promise<Device[]> {
    const rows = await guard(() =>
      this.#db
        .selectFrom("devices")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("created_at")
        .execute(),
    );
    return rows.map(toDevice);
  }

  async setDeviceStatus(id: string, status: Device["status"]): Promise<boolean> {
    const r = await guard(() =>
      this.#db.updateTable("devices").set({ status }).where("id", "=", id).executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async touchDevice(id: string, now: number): Promise<void> {
    await guard(() =>
      this.#db.updateTable("devices").set({ last_seen_at: now }).where("id", "=", id).execute(),
    );
  }

  async setDeviceDelivery(id: string, deliverySealed: string | null, expected?: string): Promise<boolean> {
    const r = await guard(() => {
      let q = this.#db.updateTable("devices").set({ delivery_sealed: deliverySealed }).where("id", "=", id);
      if (expected !== undefined) q = q.where("delivery_sealed", "=", expected);
      return q.executeTakeFirst();
    });
    return Number(r.numUpdatedRows) === 1;
  }

  async listDevicesWithDelivery(): Promise<Device[]> {
    const rows = await guard(() =>
      this.#db
        .selectFrom("devices")
        .selectAll()
        .where("delivery_sealed", "is not", null)
        .orderBy("id")
        .execute(),
    );
    return rows.map(toDevice);
  }

  async insertDeviceActivation(a: DeviceActivation): Promise<void> {
    await guard(() =>
      this.#db
        .insertInto("device_activations")
        .values({
          id: a.id,
          user_id: a.userId,
          secret_hash: a.secretHash,
          created_at: a.createdAt,
          expires_at: a.expiresAt,
          used_at: a.usedAt,
          phone_id: a.phoneId ?? null,
        })
        .execute(),
    );
  }

  async getDeviceActivation(id: string): Promise<DeviceActivation | undefined> {
    const r = await guard(() =>
      this.#db.selectFrom("device_activations").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return r && toDeviceActivation(r);
  }

  async setDeviceActivationBarcode(id: string, barcodeHash: string, barcodeSealed: string): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("device_activations")
        .set({ barcode_hash: barcodeHash, barcode_sealed: barcodeSealed })
        .where("id", "=", id)
        .where("barcode_hash", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async findDeviceActivationBarcode(
    barcodeHash: string,
  ): Promise<{ activation: DeviceActivation; barcodeSealed: string } | undefined> {
    const r = await guard(() =>
      this.#db
        .selectFrom("device_activations")
        .selectAll()
        .where("barcode_hash", "=", barcodeHash)
        .executeTakeFirst(),
    );
    if (!r?.barcode_sealed) return undefined;
    return { activation: toDeviceActivation(r), barcodeSealed: r.barcode_sealed };
  }

  async consumeDeviceActivation(id: string, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("device_activations")
        .set({ used_at: now })
        .where("id", "=", id)
        .where("used_at", "is", null)
        .where("expires_at", ">", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async insertPushTransaction(p: PushTransaction): Promise<void> {
    await guard(() =>
      this.#db
        .insertInto("push_transactions")
        .values({
          id: p.id,
          user_id: p.userId,
          application_id: p.applicationId,
          status: p.status,
          code_hash: p.codeHash,
          code_sealed: p.codeSealed ?? null,
          context_json: JSON.stringify(p.context),
          created_at: p.createdAt,
          expires_at: p.expiresAt,
          answered_at: p.answeredAt,
          device_id: p.deviceId,
        })
        .execute(),
    );
  }

  async getPushTransaction(id: string): Promise<PushTransaction | undefined> {
    const row = await guard(() =>
      this.#db.selectFrom("push_transactions").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toPush(row);
  }

  async listPushTransactions(userId: string, since: number): Promise<PushTransaction[]> {
    const rows = await guard(() =>
      this.#db
        .selectFrom("push_transactions")
        .selectAll()
        .where("user_id", "=", userId)
        .where("created_at", ">=", since)
        .orderBy("created_at", "desc")
        .orderBy("id")
        .execute(),
    );
    return rows.map(toPush);
  }

  async listPendingPushes(userId: string, now: number): Promise<PushTransaction[]> {
    const rows = await guard(() =>
      this.#db
        .selectFrom("push_transactions")
        .selectAll()
        .where("user_id", "=", userId)
        .where("status", "=", "pending")
        .where("expires_at", ">", now)
        .orderBy("created_at", "desc")
        .orderBy("id")
        .execute(),
    );
    return rows.map(toPush);
  }

  async resolvePushTransaction(
    id: string,
    status: Exclude<PushStatus, "pending" | "expired">,
    deviceId: string | null,
    now: number,
  ): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("push_transactions")
        .set({ status, device_id: deviceId, answered_at: now })
        .where("id", "=", id)
        .where("status", "=", "pending")
        .where("expires_at", ">", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async expirePushTransactions(now: number): Promise<number> {
    const r = await guard(() =>
      this.#db
        .updateTable("push_transactions")
        .set({ status: "expired" })
        .where("status", "=", "pending")
        .where("expires_at", "<=", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows);
  }

  async getPushSuspendedAt(userId: string): Promise<number | null> {
    const row = await guard(() =>
      this.#db.selectFrom("users").select("push_suspended_at").where("id", "=", userId).executeTakeFirst(),
    );
    return num(row?.push_suspended_at ?? null);
  }

  async setPushSuspendedAt(userId: string, at: number | null): Promise<void> {
    await guard(() =>
      this.#db.updateTable("users").set({ push_suspended_at: at }).where("id", "=", userId).execute(),
    );
  }

  async markPushAnnounced(id: string, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("push_transactions")
        .set({ announced_at: now })
        .where("id", "=", id)
        .where("announced_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async claimSignedRequest(digest: string, expiresAt: number, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .insertInto("signed_requests")
        .values({ digest, expires_at: expiresAt, seen_at: now })
        .onConflict((oc) =>
          oc
            .column("digest")
            .doUpdateSet({ expires_at: expiresAt, seen_at: now })
            .where("signed_requests.expires_at", "<=", now),
        )
        .executeTakeFirst(),
    );
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async signedRequestSeenAt(digest: string): Promise<number | null | undefined> {
    const r = await guard(() =>
      this.#db
        .selectFrom("signed_requests")
        .select("seen_at")
        .where("digest", "=", digest)
        .executeTakeFirst(),
    );
    return r === undefined ? undefined : r.seen_at === null ? null : Number(r.seen_at);
  }

  async purgeSignedRequests(now: number): Promise<number> {
    const r = await guard(() =>
      this.#db.deleteFrom("signed_requests").where("expires_at", "<=", now).executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  // ---------------------------------------------------------------- throttles (A6)

  async readThrottleCounts(keys: readonly string[], since: number): Promise<ThrottleCount[]> {
    if (keys.length === 0) return [];
    const rows = await guard(() =>
      this.#db
        .selectFrom("throttle_counts")
        .selectAll()
        .where("key", "in", [...keys])
        .where("window_start", ">=", since)
        .execute(),
    );
    return rows.map((r) => ({ key: r.key, windowStart: Number(r.window_start), count: Number(r.count) }));
  }

  async addThrottleEvents(entries: ReadonlyArray<{ key: string; windowStart: number }>): Promise<void> {
    if (entries.length === 0) return;
    await guard(() =>
      this.#db
        .insertInto("throttle_counts")
        .values(entries.map((e) => ({ key: e.key, window_start: e.windowStart, count: 1 })))
        .onConflict((oc) =>
          oc
            .columns(["key", "window_start"])
            .doUpdateSet((eb) => ({ count: eb("throttle_counts.count", "+", 1) })),
        )
        .execute(),
    );
  }

  async deleteThrottleCounts(before: number): Promise<number> {
    const r = await guard(() =>
      this.#db.deleteFrom("throttle_counts").where("window_start", "<", before).executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  // ---------------------------------------------------------------- Auth API enrolments (G)

  async lockPendingAPIEnrollments(
    applicationId: string,
    now: number,
  ): Promise<{ count: number; nextExpiry: number | null }> {
    if (!this.#inTransaction)
      throw new TwofoldError("ERR_STORE", "lockPendingAPIEnrollments needs a transaction");
    // A no-op UPDATE of the integration's row: PostgreSQL locks the row until commit, SQLite takes the
    // database write lock. Enrolments of one integration are so counted and made one at a time.
    await guard(() =>
      this.#db
        .updateTable("applications")
        .set((eb) => ({ updated_at: eb.ref("updated_at") }))
        .where("id", "=", applicationId)
        .execute(),
    );
    const row = await guard(() =>
      this.#db
        .selectFrom("api_enrollments as e")
        .leftJoin("device_activations as a", "a.id", "e.activation_id")
        .select((eb) => [
          eb.fn.countAll<number | string>().as("n"),
          eb.fn.min<number | string | null>("e.expires_at").as("next"),
        ])
        .where("e.application_id", "=", applicationId)
        .where("e.expires_at", ">", now)
        .where("a.used_at", "is", null)
        .executeTakeFirstOrThrow(),
    );
    return { count: Number(row.n), nextExpiry: row.next === null ? null : Number(row.next) };
  }

  async insertAPIEnrollment(e: APIEnrollment): Promise<void> {
    await guard(() =>
      this.#db
        .insertInto("api_enrollments")
        .values({
          user_id: e.userId,
          application_id: e.applicationId,
          activation_id: e.activationId,
          created_at: e.createdAt,
          expires_at: e.expiresAt,
        })
        .execute(),
    );
  }

  async deleteExpiredAPIEnrollments(now: number): Promise<number> {
    return this.transaction(async (tx) => {
      const db = (tx as KyselyStore).#db;
      // Users whose enrolment expired unused and who have had nothing set up since: no device, no app or
      // token. Anyone else keeps their account; only the enrolment record goes.
      const users = await guard(() =>
        db
          .deleteFrom("users")
          .where("id", "in", (eb) =>
            eb
              .selectFrom("api_enrollments as e")
              .leftJoin("device_activations as a", "a.id", "e.activation_id")
              .select("e.user_id")
              .where("e.expires_at", "<=", now)
              .where("a.used_at", "is", null),
          )
          .where((eb) =>
            eb.not(
              eb.exists(
                eb.selectFrom("devices").select("devices.id").whereRef("devices.user_id", "=", "users.id"),
              ),
            ),
          )
          .where((eb) =>
            eb.not(
              eb.exists(
                eb
                  .selectFrom("otp_credentials")
                  .select("otp_credentials.id")
                  .whereRef("otp_credentials.user_id", "=", "users.id"),
              ),
            ),
          )
          .executeTakeFirst(),
      );
      await guard(() => db.deleteFrom("api_enrollments").where("expires_at", "<=", now).execute());
      return Number(users.numDeletedRows);
    });
  }

  async lastLoginAt(userId: string): Promise<number | undefined> {
    const r = await guard(() =>
      this.#db
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
      this.#db
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

  async insertPhone(p: Phone): Promise<void> {
    await guard(() => this.#db.insertInto("phones").values(fromPhone(p)).execute());
  }

  async getPhone(id: string): Promise<Phone | undefined> {
    const r = await guard(() =>
      this.#db.selectFrom("phones").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return r && toPhone(r);
  }

  async listPhones(query: PhoneQuery): Promise<{ phones: Phone[]; total: number }> {
    let q = this.#db.selectFrom("phones");
    if (query.userId !== undefined) q = q.where("user_id", "=", query.userId);
    if (query.number !== undefined) q = q.where("number", "=", query.number);
    const [rows, count] = await guard(() =>
      Promise.all([
        q
          .selectAll()
          .orderBy("created_at")
          .orderBy("id")
          .limit(query.limit ?? 100)
          .offset(query.offset ?? 0)
          .execute(),
        q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
      ]),
    );
    return { phones: rows.map(toPhone), total: Number(count.n) };
  }

  async updatePhone(id: string, patch: PhonePatch): Promise<Phone | undefined> {
    const set: Partial<PhonesTable> = {};
    if (patch.number !== undefined) set.number = patch.number;
    if (patch.extension !== undefined) set.extension = patch.extension;
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.type !== undefined) set.type = patch.type;
    if (patch.platform !== undefined) set.platform = patch.platform;
    if (Object.keys(set).length > 0)
      await guard(() => this.#db.updateTable("phones").set(set).where("id", "=", id).execute());
    return this.getPhone(id);
  }

  async deletePhone(id: string): Promise<boolean> {
    const r = await guard(() => this.#db.deleteFrom("phones").where("id", "=", id).executeTakeFirst());
    return Number(r.numDeletedRows) === 1;
  }

  async attachPhone(id: string, userId: string): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("phones")
        .set({ user_id: userId })
        .where("id", "=", id)
        .where((eb) => eb.or([eb("user_id", "is", null), eb("user_id", "=", userId)]))
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async detachPhone(id: string, userId: string): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .updateTable("phones")
        .set({ user_id: null })
        .where("id", "=", id)
        .where("user_id", "=", userId)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async setPhoneDevice(id: string, deviceId: string | null): Promise<void> {
    await guard(() =>
      this.#db.updateTable("phones").set({ device_id: deviceId }).where("id", "=", id).execute(),
    );
  }

  // ---------------------------------------------------------------- housekeeping (L-2)
  // `DELETE … WHERE key IN (SELECT key … ORDER BY expiry LIMIT n)`: one statement over an index range, so each
  // batch holds its locks briefly. Two nodes pruning at once may pick the same rows; the second then deletes
  // fewer, which only ends its loop early.

  async prunePushTransactions(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.#db
        .deleteFrom("push_transactions")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("push_transactions")
            .select("id")
            .where("expires_at", "<=", before)
            .orderBy("expires_at")
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async pruneDeviceActivations(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.#db
        .deleteFrom("device_activations")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("device_activations")
            .select("id")
            .where("expires_at", "<=", before)
            .orderBy("expires_at")
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async prunePendingOTPCredentials(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.#db
        .deleteFrom("otp_credentials")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("otp_credentials")
            .select("id")
            .where("status", "=", "pending")
            .where("pending_expires_at", "<=", before)
            .orderBy("pending_expires_at")
            .limit(limit),
        )
        // Re-checked on the row deleted: an enrolment confirmed meanwhile is no longer pending and stays.
        .where("status", "=", "pending")
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async pruneSignedRequests(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.#db
        .deleteFrom("signed_requests")
        .where("digest", "in", (qb) =>
          qb
            .selectFrom("signed_requests")
            .select("digest")
            .where("expires_at", "<=", before)
            .orderBy("expires_at")
            .limit(limit),
        )
        // A digest claimed again since it was selected has a new expiry and must stay (K2).
        .where("expires_at", "<=", before)
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async pruneAuthLog(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.#db
        .deleteFrom("auth_log")
        .where("id", "in", (qb) =>
          qb.selectFrom("auth_log").select("id").where("at", "<", before).orderBy("at").limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async getMeta(key: string): Promise<string | undefined> {
    const row = await guard(() =>
      this.#db.selectFrom("meta").select("value").where("key", "=", key).executeTakeFirst(),
    );
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await guard(() =>
      this.#db
        .insertInto("meta")
        .values({ key, value })
        .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
        .execute(),
    );
  }

  async insertMetaIfAbsent(key: string, value: string): Promise<boolean> {
    const r = await guard(() =>
      this.#db
        .insertInto("meta")
        .values({ key, value })
        .onConflict((oc) => oc.column("key").doNothing())
        .executeTakeFirst(),
    );
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  }
}

// ---------------------------------------------------------------- errors

/**
 * Lost or refused connections, and the limits of database.*TimeoutSeconds: a statement cancelled after
 * statement_timeout (57014), a lock not granted within lock_timeout (55P03), a transaction ended after
 * idle_in_transaction_session_timeout (25P03).
 */
const UNAVAILABLE_CODES = [
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "57P01",
  "57P03",
  "08006",
  "08001",
  "57014",
  "55P03",
  "25P03",
  "SQLITE_BUSY",
];

/**
 * Map driver errors to Twofold errors: a unique-constraint violation becomes `conflictCode`, a lost
 * connection ERR_STORE_UNAVAILABLE, anything else ERR_STORE. Callers fail closed on all of them (N2).
 */
async function guard<T>(
  fn: () => Promise<T>,
  conflictCode: "ERR_CONFLICT" | "ERR_USER_EXISTS" | "ERR_TOKEN_EXISTS" = "ERR_CONFLICT",
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof TwofoldError) throw error;
    const e = error as { code?: string; message?: string };
    const code = e.code ?? "";
    if (
      code === "23505" ||
      code.startsWith("SQLITE_CONSTRAINT_UNIQUE") ||
      code === "SQLITE_CONSTRAINT_PRIMARYKEY"
    ) {
      throw new TwofoldError(conflictCode, "a record with the same key already exists", {
        cause: error,
        detail: e.message,
      });
    }
    if (code === "23503" || code === "SQLITE_CONSTRAINT_FOREIGNKEY") {
      throw new TwofoldError("ERR_NOT_FOUND", "a referenced record does not exist", {
        cause: error,
        detail: e.message,
      });
    }
    if (
      UNAVAILABLE_CODES.includes(code) ||
      /Connection terminated|connection timeout|not connected|The database connection is not open|Query read timeout|timeout exceeded when trying to connect/i.test(
        e.message ?? "",
      )
    ) {
      throw new TwofoldError("ERR_STORE_UNAVAILABLE", "the database is unavailable", {
        cause: error,
        detail: e.message,
      });
    }
    throw new TwofoldError("ERR_STORE", "database operation failed", { cause: error, detail: e.message });
  }
}

// ---------------------------------------------------------------- row mapping

function num(v: number | null): number | null {
  return v === null ? null : Number(v);
}

function toDevice(r: DevicesTable): Device {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    publicKey: r.public_key,
    deliverySealed: r.delivery_sealed,
    status: r.status as Device["status"],
    otpCredentialId: r.otp_credential_id,
    createdAt: Number(r.created_at),
    lastSeenAt: num(r.last_seen_at),
  };
}

function toPush(r: PushTransactionsTable): PushTransaction {
  return {
    id: r.id,
    userId: r.user_id,
    applicationId: r.application_id,
    status: r.status as PushStatus,
    codeHash: r.code_hash,
    codeSealed: r.code_sealed ?? null,
    context: JSON.parse(r.context_json) as PushContext,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    answeredAt: num(r.answered_at),
    deviceId: r.device_id,
  };
}

function toUser(r: UsersTable): User {
  return {
    id: r.id,
    username: r.username,
    usernameCanonical: r.username_canonical,
    realName: r.real_name,
    email: r.email,
    phone: r.phone,
    status: r.status as UserStatus,
    passwordHash: r.password_hash,
    notes: r.notes,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

function toApplication(r: ApplicationsTable): Application {
  return {
    id: r.id,
    name: r.name,
    type: r.type as ApplicationType,
    secretSealed: r.secret_sealed,
    policy: JSON.parse(r.policy_json) as ApplicationPolicy,
    status: r.status === "disabled" ? "disabled" : "active",
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

function toOTP(r: OTPCredentialsTable): OTPCredential {
  return {
    id: r.id,
    kind: r.kind as OTPKind,
    serial: r.serial,
    userId: r.user_id,
    type: r.type as OTPType,
    algorithm: r.algorithm as OTPAlgorithm,
    digits: Number(r.digits),
    period: num(r.period),
    secretSealed: r.secret_sealed,
    counter: Number(r.counter),
    lastStep: num(r.last_step),
    drift: Number(r.drift),
    status: r.status as OTPStatus,
    label: r.label,
    manufacturer: r.manufacturer,
    model: r.model,
    createdAt: Number(r.created_at),
    activatedAt: num(r.activated_at),
    pendingExpiresAt: num(r.pending_expires_at),
    assignedAt: num(r.assigned_at),
  };
}

function fromOTP(c: OTPCredential): OTPCredentialsTable {
  return {
    id: c.id,
    kind: c.kind,
    serial: c.serial,
    user_id: c.userId,
    type: c.type,
    algorithm: c.algorithm,
    digits: c.digits,
    period: c.period,
    secret_sealed: c.secretSealed,
    counter: c.counter,
    last_step: c.lastStep,
    drift: c.drift,
    status: c.status,
    label: c.label,
    manufacturer: c.manufacturer,
    model: c.model,
    created_at: c.createdAt,
    activated_at: c.activatedAt,
    pending_expires_at: c.pendingExpiresAt,
    assigned_at: c.assignedAt,
  };
}

function toBypass(r: BypassCodesTable): BypassCode {
  return {
    id: r.id,
    userId: r.user_id,
    codeHash: r.code_hash,
    usesLeft: num(r.uses_left),
    maxUses: num(r.max_uses),
    expiresAt: num(r.expires_at),
    source: r.source as BypassSource,
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    lastUsedAt: num(r.last_used_at),
    revokedAt: num(r.revoked_at),
    idCheck: r.id_check,
  };
}

function fromBypass(c: BypassCode): BypassCodesTable {
  return {
    id: c.id,
    user_id: c.userId,
    code_hash: c.codeHash,
    uses_left: c.usesLeft,
    max_uses: c.maxUses,
    expires_at: c.expiresAt,
    source: c.source,
    created_by: c.createdBy,
    created_at: c.createdAt,
    last_used_at: c.lastUsedAt,
    revoked_at: c.revokedAt,
    id_check: c.idCheck,
  };
}

function toLockout(r: {
  user_id: string;
  factor_class: string;
  failures: number;
  last_failure_at: number | null;
}): LockoutState {
  return {
    userId: r.user_id,
    factorClass: r.factor_class as FactorClass,
    failures: Number(r.failures),
    lastFailureAt: num(r.last_failure_at),
  };
}

function toAudit(r: Omit<AuditLogTable, "id"> & { id: number }): AuditEvent {
  return {
    id: Number(r.id),
    at: Number(r.at),
    actor: r.actor,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    before: r.before_json === null ? null : (JSON.parse(r.before_json) as unknown),
    after: r.after_json === null ? null : (JSON.parse(r.after_json) as unknown),
    sourceIp: r.source_ip,
  };
}

function toPhone(r: PhonesTable): Phone {
  return {
    id: r.id,
    userId: r.user_id,
    number: r.number,
    extension: r.extension,
    name: r.name,
    type: r.type as Phone["type"],
    platform: r.platform,
    deviceId: r.device_id,
    createdAt: Number(r.created_at),
  };
}

function fromPhone(p: Phone): PhonesTable {
  return {
    id: p.id,
    user_id: p.userId,
    number: p.number,
    extension: p.extension,
    name: p.name,
    type: p.type,
    platform: p.platform,
    device_id: p.deviceId,
    created_at: p.createdAt,
  };
}

function toAuthLog(r: AuthLogTable): AuthLogEntry {
  return {
    id: r.id,
    at: Number(r.at),
    userId: r.user_id,
    username: r.username,
    applicationId: r.application_id,
    factor: r.factor as AuthFactor,
    result: r.result as AuthResult,
    reason: r.reason,
    ip: r.ip,
    txid: r.txid,
    node: r.node,
  };
}

function toDeviceActivation(r: Selectable<DeviceActivationsTable>): DeviceActivation {
  return {
    id: r.id,
    userId: r.user_id,
    secretHash: r.secret_hash,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    usedAt: num(r.used_at),
    phoneId: r.phone_id ?? null,
  };
}
