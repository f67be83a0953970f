// Key-value metadata of the deployment.
import { guard, StoreContext } from "../store-context.ts";

/** Part of KyselyStore (../kysely-store.ts): `this.db` is its connection, or the transaction it runs in. */
export abstract class MetaRecords extends StoreContext {
  async getMeta(key: string): Promise<string | undefined> {
    const row = await guard(() =>
      this.db.selectFrom("meta").select("value").where("key", "=", key).executeTakeFirst(),
    );
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await guard(() =>
      this.db
        .insertInto("meta")
        .values({ key, value })
        .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
        .execute(),
    );
  }

  async insertMetaIfAbsent(key: string, value: string): Promise<boolean> {
    const r = await guard(() =>
      this.db
        .insertInto("meta")
        .values({ key, value })
        .onConflict((oc) => oc.column("key").doNothing())
        .executeTakeFirst(),
    );
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  }
}
