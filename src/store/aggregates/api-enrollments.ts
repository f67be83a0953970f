// Auth API enrolments (G): counted per integration under a lock, expired ones removed.
import { TwofoldError } from "../../core/errors.ts";
import type { APIEnrollment } from "../../core/model.ts";
import { connectionOf, guard, StoreContext } from "../store-context.ts";

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class APIEnrollmentRecords extends StoreContext {
  async lockPendingAPIEnrollments(
    applicationId: string,
    now: number,
  ): Promise<{ count: number; nextExpiry: number | null }> {
    if (!this.inTransaction)
      throw new TwofoldError("ERR_STORE", "lockPendingAPIEnrollments needs a transaction");
    // A no-op UPDATE of the integration's row: PostgreSQL locks the row until commit, SQLite takes the
    // database write lock. Enrolments of one integration are so counted and made one at a time.
    await guard(() =>
      this.db
        .updateTable("applications")
        .set((eb) => ({ updated_at: eb.ref("updated_at") }))
        .where("id", "=", applicationId)
        .execute(),
    );
    const row = await guard(() =>
      this.db
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
      this.db
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
      const db = connectionOf(tx);
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
}
