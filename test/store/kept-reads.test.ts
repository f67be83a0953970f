// An application or a throttle counter read is always as it now is, though a node answers repeated reads from what
// it read before: a change through the same store (also one rolled back), through another connection to the same
// database (another node, a command-line change), and a change racing a read are each seen at the next read.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { randomId } from "../../src/core/crypto/index.ts";
import type { Application } from "../../src/core/model.ts";
import type { KyselyStore } from "../../src/store/kysely-store.ts";
import { migrateToLatest } from "../../src/store/migrations.ts";
import { createTestDatabase, dialects, type TestDatabase } from "../support/stores.ts";

const T = 1_800_000_000_000;

function application(): Application {
  return {
    id: randomId("DI"),
    name: "VPN",
    type: "auth-api",
    secretSealed: "v1.k.first",
    policy: {
      newUserPolicy: "deny",
      methods: ["push", "passcode-app"],
      rememberDays: 7,
      allowPlainPush: false,
    },
    status: "active",
    createdAt: T,
    updatedAt: T,
  };
}

for (const dialect of await dialects()) {
  describe(`kept reads follow every change (${dialect})`, () => {
    let db: TestDatabase;
    let nodeA: KyselyStore;
    let nodeB: KyselyStore;
    before(async () => {
      db = await createTestDatabase(dialect);
      nodeA = await db.open();
      await migrateToLatest(nodeA.kysely, dialect);
      nodeB = await db.open();
    });
    after(async () => {
      await nodeA.close();
      await nodeB.close();
      await db.drop();
    });

    test("a change through the same store is read back at once; one rolled back is not", async () => {
      const app = application();
      await nodeA.insertApplication(app);
      for (let i = 0; i < 3; i++) assert.equal((await nodeA.getApplication(app.id))?.name, "VPN");
      await nodeA.updateApplication(app.id, { name: "VPN 2" }, T + 1);
      assert.equal((await nodeA.getApplication(app.id))?.name, "VPN 2");
      let seenInside: string | undefined;
      await assert.rejects(
        nodeA.transaction(async (tx) => {
          await tx.updateApplication(app.id, { status: "disabled" }, T + 2);
          seenInside = (await tx.getApplication(app.id))?.status;
          throw new Error("rolled back");
        }),
      );
      assert.equal(seenInside, "disabled");
      assert.equal((await nodeA.getApplication(app.id))?.status, "active");
      await nodeA.transaction(async (tx) => {
        await tx.updateApplication(app.id, { status: "disabled" }, T + 3);
      });
      assert.equal((await nodeA.getApplication(app.id))?.status, "disabled");
      assert.equal(await nodeA.deleteApplication(app.id), true);
      assert.equal(await nodeA.getApplication(app.id), undefined);
    });

    test("a change through another connection to the same database is seen at the next read", async () => {
      const app = application();
      await nodeA.insertApplication(app);
      assert.equal((await nodeA.getApplication(app.id))?.secretSealed, "v1.k.first");
      assert.equal((await nodeA.getApplication(app.id))?.secretSealed, "v1.k.first");
      await nodeB.updateApplication(app.id, { secretSealed: "v1.k.second" }, T + 1);
      assert.equal((await nodeA.getApplication(app.id))?.secretSealed, "v1.k.second");
      await nodeB.updateApplication(app.id, { status: "disabled" }, T + 2);
      assert.equal((await nodeA.getApplication(app.id))?.status, "disabled");
      await nodeB.deleteApplication(app.id);
      assert.equal(await nodeA.getApplication(app.id), undefined);
    });

    test("reads racing changes: once the changes are done, every read gives the last one", async () => {
      const app = application();
      await nodeA.insertApplication(app);
      for (let round = 1; round <= 20; round++) {
        const name = `VPN ${round}`;
        await Promise.all([
          nodeA.getApplication(app.id),
          nodeA.updateApplication(app.id, { name }, T + round),
          nodeA.getApplication(app.id),
          nodeA.transaction(async (tx) => tx.getApplication(app.id)),
          nodeA.getApplication(app.id),
        ]);
        assert.equal((await nodeA.getApplication(app.id))?.name, name);
        assert.equal((await nodeA.getApplication(app.id))?.name, name);
      }
    });

    test("throttle counters: a failure counted here or on another node is read at once; older windows drop out", async () => {
      const keys = [`ip:${randomId("XK")}`, `app:${randomId("XK")}`];
      const read = async (store: KyselyStore, since: number) =>
        (await store.readThrottleCounts(keys, since))
          .map((r) => `${r.key === keys[0] ? "ip" : "app"}@${r.windowStart}=${r.count}`)
          .sort();
      assert.deepEqual(await read(nodeA, 0), []);
      assert.deepEqual(await read(nodeA, 0), []);
      await nodeA.addThrottleEvents([{ key: keys[0]!, windowStart: 100 }]);
      assert.deepEqual(await read(nodeA, 0), ["ip@100=1"]);
      await nodeB.addThrottleEvents([
        { key: keys[0]!, windowStart: 100 },
        { key: keys[1]!, windowStart: 200 },
      ]);
      assert.deepEqual(await read(nodeA, 0), ["app@200=1", "ip@100=2"]);
      // A later window start: what was read from 0 serves, without the rows before it.
      assert.deepEqual(await read(nodeA, 150), ["app@200=1"]);
      await nodeB.addThrottleEvents([{ key: keys[1]!, windowStart: 200 }]);
      assert.deepEqual(await read(nodeA, 150), ["app@200=2"]);
      assert.equal(await nodeA.deleteThrottleCounts(150, 100), 1);
      assert.deepEqual(await read(nodeA, 0), ["app@200=2"]);
      // Racing a count: once it is done, the read shows it.
      for (let round = 1; round <= 10; round++) {
        await Promise.all([
          read(nodeA, 0),
          nodeA.addThrottleEvents([{ key: keys[0]!, windowStart: 300 }]),
          read(nodeA, 0),
        ]);
        assert.deepEqual(await read(nodeA, 250), [`ip@300=${round}`]);
      }
    });
  });
}
