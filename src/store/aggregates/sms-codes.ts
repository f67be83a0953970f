// Text-message codes (E1, E2): stored as keyed hashes, one live per user and purpose, each used once.
import type { SMSCode, SMSCodePurpose } from "../../core/model.ts";
import { num } from "../rows.ts";
import { guard, StoreContext } from "../store-context.ts";
import type { SMSCodesTable } from "../tables.ts";

function toSMSCode(r: SMSCodesTable): SMSCode {
  return {
    id: r.id,
    userId: r.user_id,
    phoneId: r.phone_id,
    purpose: r.purpose as SMSCodePurpose,
    applicationId: r.application_id,
    loginSessionId: r.login_session_id ?? null,
    codeHash: r.code_hash,
    reservationId: r.reservation_id,
    messageId: r.message_id,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    usedAt: num(r.used_at),
    revokedAt: num(r.revoked_at),
  };
}

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class SMSCodeRecords extends StoreContext {
  async insertSMSCode(c: SMSCode): Promise<void> {
    await guard(() =>
      this.db
        .insertInto("sms_codes")
        .values({
          id: c.id,
          user_id: c.userId,
          phone_id: c.phoneId,
          purpose: c.purpose,
          application_id: c.applicationId,
          login_session_id: c.loginSessionId,
          code_hash: c.codeHash,
          reservation_id: c.reservationId,
          message_id: c.messageId,
          created_at: c.createdAt,
          expires_at: c.expiresAt,
          used_at: c.usedAt,
          revoked_at: c.revokedAt,
        })
        .execute(),
    );
  }

  async listLiveSMSCodes(userId: string, purpose: SMSCodePurpose, now: number): Promise<SMSCode[]> {
    const rows = await guard(() =>
      this.db
        .selectFrom("sms_codes")
        .selectAll()
        .where("user_id", "=", userId)
        .where("purpose", "=", purpose)
        .where("used_at", "is", null)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .orderBy("created_at", "desc")
        .limit(10)
        .execute(),
    );
    return rows.map(toSMSCode);
  }

  async latestSMSCode(userId: string, purpose: SMSCodePurpose): Promise<SMSCode | undefined> {
    const r = await guard(() =>
      this.db
        .selectFrom("sms_codes")
        .selectAll()
        .where("user_id", "=", userId)
        .where("purpose", "=", purpose)
        .orderBy("created_at", "desc")
        .limit(1)
        .executeTakeFirst(),
    );
    return r && toSMSCode(r);
  }

  async revokeSMSCodes(userId: string, purpose: SMSCodePurpose, now: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .updateTable("sms_codes")
        .set({ revoked_at: now })
        .where("user_id", "=", userId)
        .where("purpose", "=", purpose)
        .where("used_at", "is", null)
        .where("revoked_at", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows);
  }

  async consumeSMSCode(id: string, now: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("sms_codes")
        .set({ used_at: now })
        .where("id", "=", id)
        .where("used_at", "is", null)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async pruneSMSCodes(before: number, limit: number): Promise<number> {
    const r = await guard(() =>
      this.db
        .deleteFrom("sms_codes")
        .where("id", "in", (qb) =>
          qb
            .selectFrom("sms_codes")
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
