// Prompt logins in the store, on both databases: each step is one conditional write on the session's status, and a
// code is redeemed once, by one write that also returns the login.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { randomHex, randomId } from "../../src/core/crypto/index.ts";
import type { Application, LoginSession, User } from "../../src/core/model.ts";
import { APPLICATION_COLUMNS, USER_COLUMNS } from "../../src/store/aggregates/login-sessions.ts";
import type { KyselyStore } from "../../src/store/kysely-store.ts";
import { createTestDatabase, dialects, type TestDatabase } from "../support/stores.ts";

const T = 1_800_000_000_000;
const MIN = 60_000;

function session(extra: Partial<LoginSession> = {}): LoginSession {
  return {
    id: randomId("LS"),
    handleHash: randomHex(32),
    applicationId: "DIAPP",
    userId: "DUUSER",
    username: "erin",
    redirectURI: "https://portal.example.edu/callback",
    state: "s".repeat(32),
    nonce: null,
    useDuoCode: true,
    status: "pending",
    pushTxid: null,
    factor: null,
    authTxid: null,
    authAt: null,
    codeHash: null,
    codeExpiresAt: null,
    ip: "192.0.2.7",
    createdAt: T,
    expiresAt: T + 10 * MIN,
    maxExpiresAt: T + 30 * MIN,
    ...extra,
  };
}

function application(): Application {
  return {
    id: randomId("DI"),
    name: "Portal",
    type: "web-sdk",
    secretSealed: "v1.k.sealed",
    policy: { rememberDays: 7 } as Application["policy"],
    status: "active",
    createdAt: T,
    updatedAt: T + 1,
    redirectURIs: ["https://portal.example.edu/callback"],
  };
}

function user(): User {
  return {
    id: randomId("DU"),
    username: "Erin",
    usernameCanonical: "erin",
    realName: "Erin Example",
    email: "erin@example.edu",
    phone: null,
    status: "active",
    passwordHash: null,
    notes: "n",
    language: "zh-Hant",
    createdAt: T,
    updatedAt: T + 2,
  };
}

for (const dialect of await dialects()) {
  describe(`Login sessions on ${dialect}`, () => {
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

    test("stored and read back by its handle, every field as written", async () => {
      const s = session({ nonce: "n1", useDuoCode: false, userId: null, ip: null });
      await store.insertLoginSession(s);
      assert.deepEqual(await store.getLoginSessionByHandle(s.handleHash), s);
      assert.deepEqual(await store.getLoginSession(s.id), s);
      assert.equal(await store.getLoginSessionByHandle(randomHex(32)), undefined);
      await assert.rejects(store.insertLoginSession({ ...session(), handleHash: s.handleHash }), {
        code: "ERR_CONFLICT",
      });
    });

    test("a prompt page's one read: the login with its application and user, each as read on its own", async () => {
      const app = application();
      const erin = user();
      await store.insertApplication(app);
      await store.insertUser(erin);
      const s = session({ applicationId: app.id, userId: erin.id });
      await store.insertLoginSession(s);
      const read = await store.getPromptLogin(s.handleHash, true);
      assert.deepEqual(read, {
        session: s,
        application: await store.getApplication(app.id),
        user: await store.getUser(erin.id),
        userFirstFactorAt: null,
      });
      assert.equal(read?.user?.id, erin.id);
      // The user's first second factor comes with the user (the backup offer after an allow reads no more).
      await store.markFirstFactor(erin.id, 1_700_000_000_123);
      assert.equal((await store.getPromptLogin(s.handleHash, true))?.userFirstFactorAt, 1_700_000_000_123);
      assert.equal(
        (await store.getPromptLogin(s.handleHash, true))?.userFirstFactorAt,
        await store.getFirstFactorAt(erin.id),
      );
      assert.deepEqual((await store.getPromptLogin(s.handleHash, false))?.user, undefined);
      assert.deepEqual((await store.getPromptLogin(s.handleHash, false))?.application, read?.application);
      // A login naming nobody we know, or a user since deleted: no user. An application gone: no login.
      const nobody = session({ applicationId: app.id, userId: null });
      await store.insertLoginSession(nobody);
      assert.equal((await store.getPromptLogin(nobody.handleHash, true))?.user, undefined);
      const orphan = session({ applicationId: app.id, userId: "DUGONE" });
      await store.insertLoginSession(orphan);
      assert.equal((await store.getPromptLogin(orphan.handleHash, true))?.session.id, orphan.id);
      assert.equal((await store.getPromptLogin(orphan.handleHash, true))?.user, undefined);
      const lost = session({ applicationId: "DIGONE" });
      await store.insertLoginSession(lost);
      assert.equal(await store.getPromptLogin(lost.handleHash, true), undefined);
      assert.equal(await store.getPromptLogin(randomHex(32), true), undefined);
    });

    test("the joined read names every column of applications and users (a new column is not left out)", async () => {
      for (const [table, listed] of [
        ["applications", APPLICATION_COLUMNS],
        ["users", USER_COLUMNS],
      ] as const) {
        const columns =
          dialect === "sqlite"
            ? (
                await sql<{ name: string }>`select name from pragma_table_info(${table})`.execute(
                  store.kysely,
                )
              ).rows
            : (
                await sql<{ name: string }>`select column_name as name from information_schema.columns
                  where table_schema = current_schema() and table_name = ${table}`.execute(store.kysely)
              ).rows;
        assert.deepEqual(columns.map((c) => c.name).sort(), [...listed].sort(), table);
      }
    });

    test("touch moves the idle expiry, never past the maximum, and not once expired or ended", async () => {
      const s = session();
      await store.insertLoginSession(s);
      assert.equal(await store.touchLoginSession(s.id, T + 15 * MIN, T + MIN), true);
      assert.equal((await store.getLoginSessionByHandle(s.handleHash))?.expiresAt, T + 15 * MIN);
      assert.equal(await store.touchLoginSession(s.id, T + 40 * MIN, T + 2 * MIN), true);
      assert.equal((await store.getLoginSessionByHandle(s.handleHash))?.expiresAt, T + 30 * MIN);
      // Past its idle expiry: not brought back.
      assert.equal(await store.touchLoginSession(s.id, T + 50 * MIN, T + 30 * MIN), false);
      const ended = session();
      await store.insertLoginSession(ended);
      assert.equal(await store.endLoginSession(ended.id, "denied"), true);
      assert.equal(await store.touchLoginSession(ended.id, T + 15 * MIN, T + MIN), false);
    });

    test("allow: once, only for its user (or a login naming nobody), only while pending and alive", async () => {
      const s = session();
      await store.insertLoginSession(s);
      const c = { factor: "passcode", txid: "tx1", at: T + MIN };
      assert.equal(await store.allowLoginSession(s.id, "DUOTHER", c), false);
      assert.equal(await store.allowLoginSession(s.id, null, c), false);
      assert.equal(await store.allowLoginSession(s.id, "DUUSER", { ...c, at: T + 11 * MIN }), false);
      assert.equal(await store.allowLoginSession(s.id, "DUUSER", c), true);
      assert.equal(await store.allowLoginSession(s.id, "DUUSER", c), false);
      const read = await store.getLoginSessionByHandle(s.handleHash);
      assert.equal(read?.status, "allowed");
      assert.equal(read?.factor, "passcode");
      assert.equal(read?.authTxid, "tx1");
      assert.equal(read?.authAt, T + MIN);
      const nobody = session({ userId: null });
      await store.insertLoginSession(nobody);
      assert.equal(await store.allowLoginSession(nobody.id, "DUUSER", c), false);
      assert.equal(await store.allowLoginSession(nobody.id, null, c), true);
    });

    test("a code: issued once for an allowed login, redeemed once before it expires", async () => {
      const s = session();
      await store.insertLoginSession(s);
      assert.equal(await store.issueLoginSessionCode(s.id, "c0", T + 2 * MIN), false); // still pending
      await store.allowLoginSession(s.id, "DUUSER", { factor: "push", txid: "tx2", at: T + MIN });
      const code = randomHex(32);
      assert.equal(await store.issueLoginSessionCode(s.id, code, T + 2 * MIN), true);
      assert.equal(await store.issueLoginSessionCode(s.id, randomHex(32), T + 2 * MIN), false);
      assert.equal(await store.redeemLoginSessionCode(code, T + 2 * MIN), undefined); // expired
      assert.equal(await store.redeemLoginSessionCode(randomHex(32), T + MIN), undefined);
      const redeemed = await store.redeemLoginSessionCode(code, T + MIN);
      assert.equal(redeemed?.session.id, s.id);
      assert.equal(redeemed?.session.status, "redeemed");
      assert.equal(redeemed?.session.codeHash, code);
      assert.equal(redeemed?.session.factor, "push");
      // The session names a user nobody has (deleted since): the token endpoint refuses such a login.
      assert.equal(redeemed?.user, undefined);
      assert.equal(await store.redeemLoginSessionCode(code, T + MIN), undefined);
    });

    test("a redeemed code comes with its user as the same statement reads it, or none", async () => {
      const erin = { ...user(), username: "Redeemer", usernameCanonical: `redeemer-${randomHex(4)}` };
      await store.insertUser(erin);
      const redeem = async (userId: string | null) => {
        const s = session({ userId });
        await store.insertLoginSession(s);
        await store.allowLoginSession(s.id, userId, { factor: "push", txid: randomHex(8), at: T + MIN });
        const code = randomHex(32);
        assert.equal(await store.issueLoginSessionCode(s.id, code, T + 2 * MIN), true);
        return store.redeemLoginSessionCode(code, T + MIN);
      };
      const current = await store.getUser(erin.id);
      assert.deepEqual((await redeem(erin.id))?.user, {
        id: erin.id,
        username: current?.username,
        email: current?.email,
      });
      assert.equal((await redeem(null))?.user, null);
    });

    test("an allow that issues the code itself: pending → code_issued once, then redeemed once", async () => {
      const s = session();
      await store.insertLoginSession(s);
      const code = randomHex(32);
      const c = { factor: "hotp", txid: "tx4", at: T + MIN, code: { hash: code, expiresAt: T + 2 * MIN } };
      assert.equal(await store.allowLoginSession(s.id, "DUOTHER", c), false); // another user's login
      assert.equal(await store.allowLoginSession(s.id, "DUUSER", c), true);
      assert.equal(await store.allowLoginSession(s.id, "DUUSER", c), false); // once
      assert.equal(await store.issueLoginSessionCode(s.id, randomHex(32), T + 2 * MIN), false); // already issued
      const read = await store.getLoginSession(s.id);
      assert.equal(read?.status, "code_issued");
      assert.equal(read?.factor, "hotp");
      assert.equal(read?.authTxid, "tx4");
      assert.equal(read?.codeExpiresAt, T + 2 * MIN);
      assert.equal((await store.redeemLoginSessionCode(code, T + MIN))?.session.id, s.id);
      assert.equal(await store.redeemLoginSessionCode(code, T + MIN), undefined);
      // An expired login is not allowed, code or not.
      const late = session({ expiresAt: T + MIN });
      await store.insertLoginSession(late);
      assert.equal(await store.allowLoginSession(late.id, "DUUSER", { ...c, at: T + MIN }), false);
      assert.equal((await store.getLoginSession(late.id))?.status, "pending");
    });

    test("a session bound to a user found by name earlier is inserted only while the name is still theirs", async () => {
      const name = `holder-${randomHex(4)}`;
      const holder = { ...user(), username: name, usernameCanonical: name };
      await store.insertUser(holder);
      const bound = session({ userId: holder.id, username: name });
      assert.equal(await store.insertLoginSessionForName(bound, name), true);
      assert.deepEqual(await store.getLoginSession(bound.id), bound);
      // Another name, or another user's id under this name: nothing inserted.
      assert.equal(await store.insertLoginSessionForName(session({ userId: holder.id }), `${name}-x`), false);
      assert.equal(await store.insertLoginSessionForName(session({ userId: "DUOTHER" }), name), false);
      assert.equal(await store.insertLoginSessionForName(session({ userId: null }), name), false);
      // A name two users claim names nobody (A3).
      const other = { ...user(), username: `${name}-2`, usernameCanonical: `${name}-2` };
      await store.insertUser(other);
      await store.replaceUsernameCollisions([
        { canonical: name, userIds: [holder.id, other.id], detectedAt: T },
      ]);
      const contested = session({ userId: holder.id });
      assert.equal(await store.insertLoginSessionForName(contested, name), false);
      assert.equal(await store.getLoginSession(contested.id), undefined);
      await store.replaceUsernameCollisions([]);
    });

    test("two redeems of one code at once: exactly one gets the login", async () => {
      const s = session();
      await store.insertLoginSession(s);
      await store.allowLoginSession(s.id, "DUUSER", { factor: "passcode", txid: "tx3", at: T + MIN });
      const code = randomHex(32);
      await store.issueLoginSessionCode(s.id, code, T + 2 * MIN);
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.redeemLoginSessionCode(code, T + MIN)),
      );
      assert.equal(results.filter((r) => r?.session.id === s.id).length, 1);
      assert.equal(results.filter((r) => r === undefined).length, 7);
    });
  });
}
