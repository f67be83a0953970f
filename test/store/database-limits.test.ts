// N2: the PostgreSQL limits of database.*TimeoutSeconds — a lock held by a stuck session, a server that stopped answering — end in ERR_STORE_UNAVAILABLE, and a stuck connection is not reused.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import pg from "pg";
import { randomId } from "../../src/core/crypto/index.ts";
import { isTwofoldError } from "../../src/core/errors.ts";
import type { User } from "../../src/core/model.ts";
import { openStore } from "../../src/store/open-store.ts";
import { createTestDatabase, dialects, PG_URL } from "../support/stores.ts";
import { startBlackHoleProxy } from "../support/tcp-proxy.ts";

const T = 1_800_000_000_000;
const LIMITS = { connectMs: 1_000, statementMs: 1_000, idleMs: 10_000 };

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

/** How a call ended and when; a call still running after `giveUpMs` counts as hanging. */
async function settle(work: Promise<unknown>, giveUpMs = 15_000) {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    work.then(
      () => "ok",
      (error: unknown) => (isTwofoldError(error) ? error.code : `other: ${String(error)}`),
    ),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("hanging"), giveUpMs);
    }),
  ]);
  clearTimeout(timer);
  return { outcome, ms: Math.round(performance.now() - t0) };
}

if ((await dialects()).includes("postgres")) {
  describe("PostgreSQL limits (N2)", () => {
    test("a write waiting for a row lock that a stuck session holds gives up after the statement limit", async () => {
      const db = await createTestDatabase("postgres");
      const { store } = await openStore({ url: PG_URL, schema: db.schema!, timeouts: LIMITS });
      const stuck = new pg.Client({ connectionString: PG_URL, application_name: `limits-${db.schema}` });
      await stuck.connect();
      try {
        const alice = user("alice");
        await store.insertUser(alice);
        await stuck.query("begin");
        await stuck.query(`select id from ${db.schema}.users where id = $1 for update`, [alice.id]);
        const blocked = await settle(store.updateUser(alice.id, { status: "disabled" }, T + 1));
        console.log(`row lock held elsewhere: the write ended after ${blocked.ms} ms (${blocked.outcome})`);
        assert.equal(blocked.outcome, "ERR_STORE_UNAVAILABLE");
        assert.ok(blocked.ms < LIMITS.statementMs + 4_000, `${blocked.ms} ms`);
        await stuck.query("rollback");
        assert.equal((await store.updateUser(alice.id, { status: "disabled" }, T + 2))?.status, "disabled");
      } finally {
        await stuck.end();
        await store.close();
        await db.drop();
      }
    });

    test("a server that stops answering: a read gives up a second after the statement limit, and its connection is not handed out again", async () => {
      const db = await createTestDatabase("postgres");
      const target = new URL(PG_URL);
      const proxy = await startBlackHoleProxy(target.hostname, Number(target.port || 5432));
      const viaProxy = new URL(PG_URL);
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      // Migrated directly; served through the proxy by a pool of one, so a stuck connection would be the next one used.
      const direct = await openStore({ url: PG_URL, schema: db.schema! });
      const { store } = await openStore({
        url: viaProxy.toString(),
        schema: db.schema!,
        poolSize: 1,
        migrate: false,
        timeouts: LIMITS,
      });
      try {
        const alice = user("alice");
        await store.insertUser(alice);
        proxy.blackHole();
        const silent = await settle(store.getUser(alice.id));
        proxy.heal();
        const after = await settle(store.getUser(alice.id));
        console.log(
          `database black-holed: a read ended after ${silent.ms} ms (${silent.outcome}); once it answers again, the next read took ${after.ms} ms (${after.outcome})`,
        );
        assert.equal(silent.outcome, "ERR_STORE_UNAVAILABLE");
        assert.ok(silent.ms < LIMITS.statementMs + 5_000, `${silent.ms} ms`);
        assert.equal(after.outcome, "ok", "a fresh connection, not the one still waiting for its answer");
      } finally {
        await proxy.close();
        await store.close();
        await direct.store.close();
        await db.drop();
      }
    });
  });
}
