// Bypass and rescue codes, each use consumed by one conditional write.
import type { BypassCode, RescueCode } from "../../core/model.ts";
import type { BypassCodeQuery } from "../../core/ports.ts";
import { fromBypass, toBypass } from "../rows.ts";
import { connectionOf, guard, StoreContext } from "../store-context.ts";

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class BypassCodeRecords extends StoreContext {
  async insertBypassCodes(codes: BypassCode[]): Promise<void> {
    if (codes.length === 0) return;
    await guard(
      () => this.db.insertInto("bypass_codes").values(codes.map(fromBypass)).execute(),
      "ERR_CONFLICT",
    );
  }

  async getBypassCode(id: string): Promise<BypassCode | undefined> {
    const row = await guard(() =>
      this.db.selectFrom("bypass_codes").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toBypass(row);
  }

  async listBypassCodes(userId: string): Promise<BypassCode[]> {
    const rows = await guard(() =>
      this.db
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
      this.db
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
    let q = this.db.selectFrom("bypass_codes");
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
      this.db
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
      this.db
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
      this.db
        .updateTable("bypass_codes")
        .set({ revoked_at: now })
        .where("user_id", "=", userId)
        .where("revoked_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows);
  }

  async replaceRescueCodes(userId: string, codes: RescueCode[]): Promise<void> {
    await this.transaction(async (tx) => {
      const db = connectionOf(tx);
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
      this.db
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
      this.db
        .updateTable("rescue_codes")
        .set({ used_at: now })
        .where("id", "=", id)
        .where("used_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }
}
