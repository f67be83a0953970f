// The start-up migration check: a database with exactly this code's migrations is left alone; one missing, or one this code does not know, goes through the migrator.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import type { KyselyStore } from "../../src/store/kysely-store.ts";
import { migrateToLatest } from "../../src/store/migrations.ts";
import { createTestDatabase, dialects, type TestDatabase } from "../support/stores.ts";

for (const dialect of await dialects()) {
  describe(`the migration check on ${dialect}`, () => {
    let db: TestDatabase;
    let store: KyselyStore;
    before(async () => {
      db = await createTestDatabase(dialect);
      store = await db.open();
    });
    after(async () => {
      await store.close();
      await db.drop();
    });
    const recorded = async () =>
      (
        await sql<{ name: string }>`select name from kysely_migration order by name`.execute(store.kysely)
      ).rows.map((r) => r.name);

    test("up to date: nothing applied, nothing recorded", async () => {
      const before = await recorded();
      assert.ok(before.length > 10);
      assert.deepEqual((await migrateToLatest(store.kysely as never, dialect)).applied, []);
      assert.deepEqual(await recorded(), before);
    });

    test("a database written by a newer version (a migration this code does not know) is refused", async () => {
      await sql`insert into kysely_migration (name, timestamp) values ('9999_from_the_future', '2099-01-01T00:00:00.000Z')`.execute(
        store.kysely,
      );
      try {
        await assert.rejects(migrateToLatest(store.kysely as never, dialect), { code: "ERR_STORE" });
      } finally {
        await sql`delete from kysely_migration where name = '9999_from_the_future'`.execute(store.kysely);
      }
    });
  });
}
