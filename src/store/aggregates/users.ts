// Users, their aliases and the username-collision list (A3).
import { sql } from "kysely";
import type { User } from "../../core/model.ts";
import type { StoredUserName, UsernameCollision, UserPatch, UserQuery } from "../../core/ports.ts";
import { canonicalizeEmail, foldName } from "../../core/username.ts";
import { toUser } from "../rows.ts";
import { connectionOf, guard, hot, StoreContext } from "../store-context.ts";
import type { UsersTable } from "../tables.ts";

const Q = {
  get: hot("user_get", "select * from users where id = ?"),
  byName: hot(
    "user_by_name",
    "select * from users where username_canonical = ? " +
      "and not exists (select 1 from username_collisions where canonical = ?)",
  ),
};

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class UserRecords extends StoreContext {
  async insertUser(user: User): Promise<void> {
    await guard(
      () =>
        this.db
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
            language: user.language ?? null,
            created_at: user.createdAt,
            updated_at: user.updatedAt,
          })
          .execute(),
      "ERR_USER_EXISTS",
    );
  }

  async getUser(id: string): Promise<User | undefined> {
    const [row] = await this.hotRows<UsersTable>(Q.get, [id]);
    return row && toUser(row);
  }

  async findUserByIdentifier(canonical: string, email: string = canonical): Promise<User | undefined> {
    // A key two users claim names nobody (A3); checked in the same statement, so a login pays no extra trip.
    const uncontested = sql<boolean>`not exists (select 1 from username_collisions where canonical = ${canonical})`;
    const [direct] = await this.hotRows<UsersTable>(Q.byName, [canonical, canonical]);
    if (direct) return toUser(direct);
    const alias = await guard(() =>
      this.db
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
      this.db
        .selectFrom("users")
        .selectAll()
        .where("email_canonical", "=", email)
        .where(uncontested)
        .limit(2)
        .execute(),
    );
    return byEmail.length === 1 ? toUser(byEmail[0]!) : undefined;
  }

  async listUsers(query: UserQuery): Promise<{ users: User[]; total: number }> {
    let q = this.db.selectFrom("users");
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
    if (patch.language !== undefined) values.language = patch.language;
    const result = await guard(
      () => this.db.updateTable("users").set(values).where("id", "=", id).executeTakeFirst(),
      "ERR_USER_EXISTS",
    );
    return Number(result.numUpdatedRows) === 1 ? this.getUser(id) : undefined;
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.transaction(async (tx) => {
      const db = connectionOf(tx);
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
        this.db
          .insertInto("user_aliases")
          .values({ user_id: userId, alias, alias_canonical: aliasCanonical })
          .execute(),
      "ERR_USER_EXISTS",
    );
  }

  async removeAlias(userId: string, aliasCanonical: string): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .deleteFrom("user_aliases")
        .where("user_id", "=", userId)
        .where("alias_canonical", "=", aliasCanonical)
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows) === 1;
  }

  async listAliases(userId: string): Promise<string[]> {
    const rows = await guard(() =>
      this.db
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
      guard(() => this.db.selectFrom("users").select(["id", "username", "username_canonical"]).execute()),
      guard(() =>
        this.db.selectFrom("user_aliases").select(["user_id", "alias", "alias_canonical"]).execute(),
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
        ? this.db
            .updateTable("users")
            .set({ username_canonical: to })
            .where("id", "=", name.userId)
            .where("username_canonical", "=", name.canonical)
            .executeTakeFirst()
        : this.db
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
      const db = connectionOf(tx);
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
      this.db.selectFrom("username_collisions").selectAll().orderBy("canonical").orderBy("user_id").execute(),
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
      this.db
        .selectFrom("username_collisions")
        .select("user_id")
        .where("canonical", "=", canonical)
        .orderBy("user_id")
        .execute(),
    );
    return rows.map((r) => r.user_id);
  }

  async countUsersWithEmail(canonical: string): Promise<number> {
    const row = await guard(() =>
      this.db
        .selectFrom("users")
        .select((eb) => eb.fn.countAll<number | string | bigint>().as("n"))
        .where("email_canonical", "=", canonical)
        .executeTakeFirstOrThrow(),
    );
    return Number(row.n);
  }
}
