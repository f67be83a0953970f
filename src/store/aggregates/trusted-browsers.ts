// Trusted browsers (I5) and the "has had a second factor" marker of users (the enrolment rule).
import type { TrustedBrowser, TrustRevocationReason } from "../../core/model.ts";
import { guard, StoreContext } from "../store-context.ts";
import type { TrustedBrowsersTable } from "../tables.ts";

function toTrustedBrowser(r: TrustedBrowsersTable): TrustedBrowser {
  return {
    id: r.id,
    userId: r.user_id,
    applicationId: r.application_id,
    secretHash: r.secret_hash,
    txid: r.txid,
    userAgent: r.user_agent,
    ip: r.ip,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    revokedReason: r.revoked_reason as TrustRevocationReason | null,
  };
}

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class TrustedBrowserRecords extends StoreContext {
  async insertTrustedBrowser(b: TrustedBrowser): Promise<void> {
    await guard(
      () =>
        this.db
          .insertInto("trusted_browsers")
          .values({
            id: b.id,
            user_id: b.userId,
            application_id: b.applicationId,
            secret_hash: b.secretHash,
            txid: b.txid,
            user_agent: b.userAgent,
            ip: b.ip,
            created_at: b.createdAt,
            expires_at: b.expiresAt,
            last_used_at: b.lastUsedAt,
            revoked_at: b.revokedAt,
            revoked_reason: b.revokedReason,
          })
          .execute(),
      "ERR_CONFLICT",
    );
  }

  async getTrustedBrowser(id: string): Promise<TrustedBrowser | undefined> {
    const row = await guard(() =>
      this.db.selectFrom("trusted_browsers").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return row && toTrustedBrowser(row);
  }

  async listTrustedBrowsers(userId: string, liveAt?: number): Promise<TrustedBrowser[]> {
    let q = this.db.selectFrom("trusted_browsers").selectAll().where("user_id", "=", userId);
    if (liveAt !== undefined) q = q.where("revoked_at", "is", null).where("expires_at", ">", liveAt);
    const rows = await guard(() => q.orderBy("created_at", "desc").orderBy("id").execute());
    return rows.map(toTrustedBrowser);
  }

  async useTrustedBrowser(id: string, expectedHash: string, newHash: string, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("trusted_browsers")
        .set({ secret_hash: newHash, last_used_at: now })
        .where("id", "=", id)
        .where("secret_hash", "=", expectedHash)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async revokeTrustedBrowser(id: string, reason: TrustRevocationReason, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("trusted_browsers")
        .set({ revoked_at: now, revoked_reason: reason })
        .where("id", "=", id)
        .where("revoked_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async revokeTrustedBrowsers(userId: string, reason: TrustRevocationReason, now: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .updateTable("trusted_browsers")
        .set({ revoked_at: now, revoked_reason: reason })
        .where("user_id", "=", userId)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows);
  }

  async pruneTrustedBrowsers(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("trusted_browsers")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("trusted_browsers")
            .select("id")
            .where((eb) => eb.or([eb("expires_at", "<=", before), eb("revoked_at", "<=", before)]))
            .orderBy("expires_at")
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async getFirstFactorAt(userId: string): Promise<number | null | undefined> {
    const row = await guard(() =>
      this.db.selectFrom("users").select("first_factor_at").where("id", "=", userId).executeTakeFirst(),
    );
    if (!row) return undefined;
    return row.first_factor_at == null ? null : Number(row.first_factor_at);
  }

  async markFirstFactor(userId: string, at: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("users")
        .set({ first_factor_at: at })
        .where("id", "=", userId)
        .where("first_factor_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async clearFirstFactor(userId: string): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("users")
        .set({ first_factor_at: null })
        .where("id", "=", userId)
        .where("first_factor_at", "is not", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }
}
