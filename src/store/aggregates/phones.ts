// Phones and their attachment to users and devices.
import type { Phone } from "../../core/model.ts";
import type { PhonePatch, PhoneQuery } from "../../core/ports.ts";
import { fromPhone, toPhone } from "../rows.ts";
import { guard, StoreContext } from "../store-context.ts";
import type { PhonesTable } from "../tables.ts";

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class PhoneRecords extends StoreContext {
  async insertPhone(p: Phone): Promise<void> {
    await guard(() => this.db.insertInto("phones").values(fromPhone(p)).execute());
  }

  async getPhone(id: string): Promise<Phone | undefined> {
    const r = await guard(() =>
      this.db.selectFrom("phones").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return r && toPhone(r);
  }

  async listPhones(query: PhoneQuery): Promise<{ phones: Phone[]; total: number }> {
    let q = this.db.selectFrom("phones");
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
    if (patch.smsVerifiedAt !== undefined) set.sms_verified_at = patch.smsVerifiedAt;
    if (Object.keys(set).length > 0)
      await guard(() => this.db.updateTable("phones").set(set).where("id", "=", id).execute());
    return this.getPhone(id);
  }

  async deletePhone(id: string): Promise<boolean> {
    const r = await guard(() => this.db.deleteFrom("phones").where("id", "=", id).executeTakeFirst());
    return Number(r.numDeletedRows) === 1;
  }

  async attachPhone(id: string, userId: string): Promise<boolean> {
    const r = await guard(() =>
      this.db
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
      this.db
        .updateTable("phones")
        .set({ user_id: null })
        .where("id", "=", id)
        .where("user_id", "=", userId)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async setPhoneSMSVerified(id: string, number: string, at: number): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .updateTable("phones")
        .set({ sms_verified_at: at })
        .where("id", "=", id)
        .where("number", "=", number)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async setPhoneDevice(id: string, deviceId: string | null): Promise<void> {
    await guard(() =>
      this.db.updateTable("phones").set({ device_id: deviceId }).where("id", "=", id).execute(),
    );
  }
}
