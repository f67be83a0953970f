// The hot statements are prepared once per connection (PostgreSQL) or per process (SQLite): a migration that adds a
// column while the server runs costs at most one failed call per connection, never a node stuck failing.
import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { randomId } from "../../src/core/crypto/index.ts";
import type { User } from "../../src/core/model.ts";
import { openStore } from "../../src/store/open-store.ts";
import { createTestDatabase, dialects, PG_URL } from "../support/stores.ts";

const T = 1_800_000_000_000;

function user(name: string): User {
  return {
    id: randomId("DU"),
    username: name,
    usernameCanonical: name,
    realName: null,
    email: null,
    phone: null,
    status: "active",
    passwordHash: null,
    notes: null,
    createdAt: T,
    updatedAt: T,
  };
}

for (const dialect of await dialects()) {
  test(`a column added while the store is open: its hot reads recover at once (${dialect})`, async () => {
    const db = await createTestDatabase(dialect);
    const opened =
      dialect === "sqlite"
        ? await openStore({ sqlitePath: db.location, backgroundCheckpoints: false })
        : await openStore({ url: PG_URL, schema: db.schema!, poolSize: 1 });
    const { store } = opened;
    try {
      const erin = user("erin");
      await store.insertUser(erin);
      assert.equal((await store.getUser(erin.id))?.id, erin.id);
      if (dialect === "sqlite") {
        const { sql } = await import("kysely");
        await sql`alter table users add column extra text`.execute(opened.kysely);
      } else {
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        await admin.query(`alter table ${db.schema}.users add column extra text`);
        await admin.end();
      }
      // At most one failure (the statement planned before the change, failing closed), then reads work again.
      let failures = 0;
      for (let i = 0; i < 3; i++) {
        try {
          assert.equal((await store.getUser(erin.id))?.id, erin.id);
        } catch (error) {
          assert.equal((error as { code?: string }).code, "ERR_STORE");
          failures++;
        }
      }
      assert.ok(failures <= 1, `${failures} reads failed after the column was added`);
      assert.equal((await store.getUser(erin.id))?.id, erin.id);
    } finally {
      await store.close();
      await db.drop();
    }
  });
}
