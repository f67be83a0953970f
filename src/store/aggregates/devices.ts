// Authenticator devices and their one-time activations.
import type { Device, DeviceActivation } from "../../core/model.ts";
import { toDevice, toDeviceActivation } from "../rows.ts";
import { guard, hot, StoreContext } from "../store-context.ts";
import type { DevicesTable } from "../tables.ts";

const Q = {
  get: hot("device_get", "select * from devices where id = ?"),
  touch: hot("device_touch", "update devices set last_seen_at = ? where id = ?"),
};

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class DeviceRecords extends StoreContext {
  async insertDevice(d: Device): Promise<void> {
    await guard(
      () =>
        this.db
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
    const [row] = await this.hotRows<DevicesTable>(Q.get, [id]);
    return row && toDevice(row);
  }

  async listDevices(userId: string): Promise<Device[]> {
    const rows = await guard(() =>
      this.db.selectFrom("devices").selectAll().where("user_id", "=", userId).orderBy("created_at").execute(),
    );
    return rows.map(toDevice);
  }

  async setDeviceStatus(id: string, status: Device["status"]): Promise<boolean> {
    const r = await guard(() =>
      this.db.updateTable("devices").set({ status }).where("id", "=", id).executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async touchDevice(id: string, now: number): Promise<void> {
    await this.hotChanges(Q.touch, [now, id]);
  }

  async setDeviceDelivery(id: string, deliverySealed: string | null, expected?: string): Promise<boolean> {
    const r = await guard(() => {
      let q = this.db.updateTable("devices").set({ delivery_sealed: deliverySealed }).where("id", "=", id);
      if (expected !== undefined) q = q.where("delivery_sealed", "=", expected);
      return q.executeTakeFirst();
    });
    return Number(r.numUpdatedRows) === 1;
  }

  async listDevicesWithDelivery(): Promise<Device[]> {
    const rows = await guard(() =>
      this.db
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
      this.db
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
      this.db.selectFrom("device_activations").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return r && toDeviceActivation(r);
  }

  async setDeviceActivationBarcode(id: string, barcodeHash: string, barcodeSealed: string): Promise<boolean> {
    const r = await guard(() =>
      this.db
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
      this.db
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
      this.db
        .updateTable("device_activations")
        .set({ used_at: now })
        .where("id", "=", id)
        .where("used_at", "is", null)
        .where("expires_at", ">", now)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }
}
