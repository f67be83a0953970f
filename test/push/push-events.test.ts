// Push wake-ups: the in-process hub, and PostgreSQL LISTEN/NOTIFY between nodes, including a dropped listening connection.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import { LocalPushEvents } from "../../src/adapters/events/local-push-events.ts";
import { PgPushEvents } from "../../src/adapters/events/pg-push-events.ts";
import { SqlitePushEvents } from "../../src/adapters/events/sqlite-push-events.ts";
import type { PushEvent } from "../../src/core/ports.ts";
import { openStore } from "../../src/store/open-store.ts";
import { createTestDatabase, dialects, PG_URL } from "../support/stores.ts";

const resolved = (txid: string, userId = "U1"): PushEvent => ({
  kind: "resolved",
  txid,
  userId,
  status: "approved",
});

describe("in-process push events", () => {
  test("listeners get events by push and by user; unsubscribing forgets the key", async () => {
    const events = new LocalPushEvents();
    const byTx: PushEvent[] = [];
    const byUser: PushEvent[] = [];
    const offTx = events.subscribe("tx:T1", (e) => byTx.push(e));
    const offUser = events.subscribe("user:U1", (e) => byUser.push(e));
    await events.publish(resolved("T1"));
    await events.publish(resolved("T2"));
    assert.equal(byTx.length, 1);
    assert.equal(byUser.length, 2);
    offTx();
    offUser();
    assert.equal(events.listenedKeys, 0);
  });

  test("an activation reaches its user's listeners only (the enrolment page's wait), no push's", async () => {
    const events = new LocalPushEvents();
    const byUser: PushEvent[] = [];
    const other: PushEvent[] = [];
    events.subscribe("user:U1", (e) => byUser.push(e));
    events.subscribe("user:U2", (e) => other.push(e));
    events.subscribe("tx:T1", (e) => other.push(e));
    await events.publish({ kind: "activated", userId: "U1" });
    assert.deepEqual(byUser, [{ kind: "activated", userId: "U1" }]);
    assert.deepEqual(other, []);
  });

  test("a resync reaches every listener, whatever its key", async () => {
    const events = new LocalPushEvents();
    const seen: string[] = [];
    events.subscribe("tx:T1", (e) => seen.push(`tx:${e.kind}`));
    events.subscribe("user:U9", (e) => seen.push(`user:${e.kind}`));
    await events.publish({ kind: "resync" });
    assert.deepEqual(seen.sort(), ["tx:resync", "user:resync"]);
  });

  test("a throwing listener does not stop the others", async () => {
    const events = new LocalPushEvents();
    let woke = false;
    events.subscribe("tx:T1", () => {
      throw new Error("bad listener");
    });
    events.subscribe("tx:T1", () => {
      woke = true;
    });
    await events.publish(resolved("T1"));
    assert.equal(woke, true);
  });

  test("waitFor ends on an event, on abort, or after its time, and leaves no listener behind", async () => {
    const events = new LocalPushEvents();
    const t0 = Date.now();
    const waiting = events.waitFor("tx:T1", 10_000);
    await events.publish(resolved("T1"));
    await waiting;
    const controller = new AbortController();
    const aborted = events.waitFor("tx:T2", 10_000, controller.signal);
    controller.abort();
    await aborted;
    await events.waitFor("tx:T3", 20);
    assert.ok(Date.now() - t0 < 2_000);
    assert.equal(events.listenedKeys, 0);
  });
});

test("SQLite: another connection's write on the file resyncs every listener; this process's own writes do not", async () => {
  const db = await createTestDatabase("sqlite");
  const mine = await openStore({ sqlitePath: db.location, backgroundCheckpoints: false });
  const other = await openStore({ sqlitePath: db.location, backgroundCheckpoints: false, migrate: false });
  const events = new SqlitePushEvents({ kysely: mine.kysely, watchMs: 20 });
  try {
    const seen: PushEvent[] = [];
    events.subscribe("user:U1", (e) => seen.push(e));
    const settle = () => new Promise((r) => setTimeout(r, 150));
    await settle();
    await mine.store.setMeta("written-here", "1");
    await settle();
    assert.deepEqual(seen, [], "own writes are published by whoever makes them, not detected");
    await other.store.setMeta("written-elsewhere", "1");
    await settle();
    assert.deepEqual(seen, [{ kind: "resync" }]);
  } finally {
    await events.close();
    await other.store.close();
    await mine.store.close();
    await db.drop();
  }
});

test("SQLite: a push answered or removed by another connection wakes its waiter alone, with the outcome read from the file", async () => {
  const db = await createTestDatabase("sqlite");
  const mine = await openStore({ sqlitePath: db.location, backgroundCheckpoints: false });
  const other = await openStore({ sqlitePath: db.location, backgroundCheckpoints: false, migrate: false });
  const events = new SqlitePushEvents({ kysely: mine.kysely, watchMs: 20 });
  try {
    const now = Date.now();
    await mine.store.insertUser({
      id: "U1",
      username: "waiting",
      usernameCanonical: "waiting",
      realName: null,
      email: null,
      phone: null,
      status: "active",
      passwordHash: null,
      notes: null,
      createdAt: now,
      updatedAt: now,
    });
    for (const id of ["P1", "P2", "P3"])
      await mine.store.insertPushTransaction({
        id,
        userId: "U1",
        applicationId: null,
        status: "pending",
        codeHash: null,
        context: { application: "VPN", time: now, ip: null, place: null, info: null },
        createdAt: now,
        expiresAt: now + 60_000,
        answeredAt: null,
        deviceId: null,
      });
    const seen = new Map<string, PushEvent[]>();
    for (const key of ["tx:P1", "tx:P2", "tx:P3", "user:U1"]) {
      seen.set(key, []);
      events.subscribe(key, (e) => seen.get(key)!.push(e));
    }
    const settle = () => new Promise((r) => setTimeout(r, 150));
    await settle();
    assert.equal(await other.store.resolvePushTransaction("P1", "approved", null, now), true);
    await sql`delete from push_transactions where id = ${"P3"}`.execute(other.kysely);
    await settle();
    assert.deepEqual(seen.get("tx:P1"), [{ kind: "resolved", txid: "P1", userId: "U1", status: "approved" }]);
    assert.deepEqual(seen.get("tx:P2"), [], "a push still pending: its waiter sleeps on");
    assert.deepEqual(seen.get("tx:P3"), [{ kind: "resync" }], "a push that is gone: its waiter reads again");
    assert.ok(
      seen.get("user:U1")!.some((e) => e.kind === "resync"),
      "a device stream lists what is pending again",
    );
  } finally {
    await events.close();
    await other.store.close();
    await mine.store.close();
    await db.drop();
  }
});

if ((await dialects()).includes("postgres")) {
  describe("PostgreSQL push events", () => {
    test("an event published on one node wakes listeners on another; a dropped connection is re-opened", async () => {
      const db = await createTestDatabase("postgres");
      const a = await openStore({ url: PG_URL, schema: db.schema!, poolSize: 2 });
      const b = await openStore({ url: PG_URL, schema: db.schema!, poolSize: 2, migrate: false });
      const nodeA = await PgPushEvents.start({ url: PG_URL, kysely: a.kysely });
      const nodeB = await PgPushEvents.start({ url: PG_URL, kysely: b.kysely, reconnectMs: 50 });
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        // A phone activated through node A: the enrolment page waiting on node B moves on.
        const activatedOnB = nodeB.waitFor("user:U9", 5_000);
        const seenActivation: PushEvent[] = [];
        const off = nodeB.subscribe("user:U9", (e) => seenActivation.push(e));
        const sent = Date.now();
        await nodeA.publish({ kind: "activated", userId: "U9" });
        await activatedOnB;
        assert.ok(Date.now() - sent < 4_000, "woken by the notification, not the timeout");
        assert.deepEqual(seenActivation, [{ kind: "activated", userId: "U9" }]);
        off();
        const seenOnB: PushEvent[] = [];
        const seenOnA: PushEvent[] = [];
        nodeB.subscribe("user:U1", (e) => seenOnB.push(e));
        nodeA.subscribe("user:U1", (e) => seenOnA.push(e));
        const arrived = nodeB.waitFor("tx:T1", 5_000);
        await nodeA.publish(resolved("T1"));
        await arrived;
        assert.deepEqual(seenOnB, [resolved("T1")]);
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(seenOnA.length, 1, "the sender dispatches its own event once, not again from NOTIFY");

        // Cut every listening connection of this schema's channel, as a database restart or a proxy would.
        const channel = `twofold_push_${db.schema}`;
        const cut = await admin.query(
          "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'twofold-push-events' and query = $1",
          [`LISTEN "${channel}"`],
        );
        assert.equal(cut.rowCount, 2, "both nodes were listening on the schema's channel");
        const deadline = Date.now() + 5_000;
        // Until B has noticed the loss and re-opened its connection, a NOTIFY does not reach it: send again.
        while (!seenOnB.some((e) => "txid" in e && e.txid === "T2") && Date.now() < deadline) {
          const again = nodeB.waitFor("tx:T2", 200);
          await nodeA.publish(resolved("T2"));
          await again;
        }
        assert.ok(
          seenOnB.some((e) => "txid" in e && e.txid === "T2"),
          "events flow again after the listening connection was re-opened",
        );
        assert.ok(
          seenOnB.some((e) => e.kind === "resync"),
          "listeners were told to re-read what they may have missed while the connection was down",
        );
      } finally {
        await admin.end();
        await nodeA.close();
        await nodeB.close();
        await a.store.close();
        await b.store.close();
        await db.drop();
      }
    });
  });
}
