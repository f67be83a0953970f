// The store-conformance suite: every Store behaviour the core relies on, run against SQLite and PostgreSQL alike.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import { randomId } from "../../src/core/crypto/index.ts";
import type { AuthLogWrite, BypassCode, OTPCredential, User } from "../../src/core/model.ts";
import type { KyselyStore } from "../../src/store/kysely-store.ts";
import { migrateToLatest } from "../../src/store/migrations.ts";
import { createTestDatabase, dialects, type TestDatabase } from "../support/stores.ts";

const T = 1_800_000_000_000;

function user(name: string, extra: Partial<User> = {}): User {
  return {
    id: randomId("DU"),
    username: name,
    usernameCanonical: name.toLowerCase(),
    realName: null,
    email: null,
    phone: null,
    status: "active",
    passwordHash: null,
    notes: null,
    createdAt: T,
    updatedAt: T,
    ...extra,
  };
}

function otp(extra: Partial<OTPCredential> = {}): OTPCredential {
  return {
    id: randomId("DA"),
    kind: "app",
    serial: null,
    userId: null,
    type: "totp",
    algorithm: "SHA1",
    digits: 6,
    period: 30,
    secretSealed: "v1.k.x",
    counter: 0,
    lastStep: null,
    drift: 0,
    status: "active",
    label: null,
    manufacturer: null,
    model: null,
    createdAt: T,
    activatedAt: T,
    pendingExpiresAt: null,
    assignedAt: null,
    ...extra,
  };
}

function bypass(userId: string, extra: Partial<BypassCode> = {}): BypassCode {
  return {
    id: randomId("DB"),
    userId,
    codeHash: "h",
    usesLeft: 3,
    maxUses: 3,
    expiresAt: T + 3600_000,
    source: "admin",
    createdBy: "test",
    createdAt: T,
    lastUsedAt: null,
    revokedAt: null,
    idCheck: null,
    ...extra,
  };
}

for (const dialect of await dialects()) {
  describe(`Store conformance on ${dialect}`, () => {
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

    test("migrations are idempotent: a second run applies nothing", async () => {
      const report = await migrateToLatest(store.kysely as never, dialect);
      assert.deepEqual(report.applied, []);
    });

    test("users: insert, unique canonical name, lookup by name, alias and unique e-mail", async () => {
      const alice = user("Alice", { email: "Alice@Example.edu" });
      await store.insertUser(alice);
      await assert.rejects(store.insertUser(user("ALICE", { usernameCanonical: "alice" })), {
        code: "ERR_USER_EXISTS",
      });
      assert.equal((await store.findUserByIdentifier("alice"))?.id, alice.id);
      assert.equal((await store.findUserByIdentifier("alice@example.edu"))?.id, alice.id);
      await store.addAlias(alice.id, "a.example", "a.example");
      assert.equal((await store.findUserByIdentifier("a.example"))?.id, alice.id);
      await assert.rejects(store.addAlias(alice.id, "a.example", "a.example"), { code: "ERR_USER_EXISTS" });
      assert.deepEqual(await store.listAliases(alice.id), ["a.example"]);
      // An e-mail shared by two users identifies neither.
      const twin = user("twin", { email: "shared@example.edu" });
      await store.insertUser(twin);
      await store.insertUser(user("twin2", { email: "shared@example.edu" }));
      assert.equal(await store.findUserByIdentifier("shared@example.edu"), undefined);
    });

    test("users: search, paging, update and delete", async () => {
      for (const n of ["carol", "dave", "erin"]) await store.insertUser(user(n, { realName: `${n} Person` }));
      const page = await store.listUsers({ limit: 2, offset: 0 });
      assert.equal(page.users.length, 2);
      assert.ok(page.total >= 5);
      const found = await store.listUsers({ search: "DAVE" });
      assert.deepEqual(
        found.users.map((u) => u.usernameCanonical),
        ["dave"],
      );
      // LIKE wildcards in a search are literal.
      assert.equal((await store.listUsers({ search: "%" })).total, 0);
      const dave = found.users[0]!;
      const updated = await store.updateUser(dave.id, { status: "disabled", realName: "D" }, T + 5);
      assert.equal(updated?.status, "disabled");
      assert.equal(updated?.updatedAt, T + 5);
      assert.equal(await store.updateUser("DUNOPE", { status: "active" }, T), undefined);
      assert.equal(await store.deleteUser(dave.id), true);
      assert.equal(await store.getUser(dave.id), undefined);
      assert.equal(await store.deleteUser(dave.id), false);
    });

    test("applications: insert, read, update policy, delete", async () => {
      const id = randomId("DI");
      await store.insertApplication({
        id,
        name: "VPN",
        type: "radius",
        secretSealed: "v1.k.s",
        policy: {
          newUserPolicy: "deny",
          methods: ["push", "passcode-app", "bypass"],
          rememberDays: 7,
          allowPlainPush: false,
        },
        status: "active",
        createdAt: T,
        updatedAt: T,
      });
      assert.deepEqual((await store.getApplication(id))?.policy.methods, ["push", "passcode-app", "bypass"]);
      assert.equal((await store.getApplication(id))?.policy.rememberDays, 7);
      const u = await store.updateApplication(
        id,
        {
          policy: { newUserPolicy: "enroll", methods: ["push"], rememberDays: 0, allowPlainPush: true },
        },
        T + 1,
      );
      assert.equal(u?.policy.newUserPolicy, "enroll");
      assert.equal(u?.status, "active");
      assert.equal((await store.updateApplication(id, { status: "disabled" }, T + 2))?.status, "disabled");
      assert.equal((await store.getApplication(id))?.policy.newUserPolicy, "enroll", "status alone changed");
      assert.ok((await store.listApplications()).some((a) => a.id === id));
      assert.equal(await store.deleteApplication(id), true);
    });

    test("TOTP step: only a later step is consumed, and only once (B1)", async () => {
      const u = user("totp-user");
      await store.insertUser(u);
      const c = otp({ userId: u.id });
      await store.insertOTPCredentials([c]);
      assert.equal(await store.consumeTOTPStep(c.id, 100, 0), true);
      assert.equal(await store.consumeTOTPStep(c.id, 100, 0), false);
      assert.equal(await store.consumeTOTPStep(c.id, 99, 0), false);
      assert.equal(await store.consumeTOTPStep(c.id, 101, 2), true);
      const after = await store.getOTPCredential(c.id);
      assert.equal(after?.lastStep, 101);
      assert.equal(after?.drift, 2);
      const racers = await Promise.all(Array.from({ length: 20 }, () => store.consumeTOTPStep(c.id, 150, 0)));
      assert.equal(racers.filter(Boolean).length, 1);
    });

    test("HOTP counter: moves past the match only if not already past it", async () => {
      const c = otp({ type: "hotp", period: null, counter: 5 });
      await store.insertOTPCredentials([c]);
      assert.equal(await store.consumeHOTPCounter(c.id, 4), false);
      assert.equal(await store.consumeHOTPCounter(c.id, 7), true);
      assert.equal((await store.getOTPCredential(c.id))?.counter, 8);
      assert.equal(await store.consumeHOTPCounter(c.id, 7), false);
      assert.equal(await store.resyncHOTPCounter(c.id, 5, 20), false);
      assert.equal(await store.resyncHOTPCounter(c.id, 8, 20), true);
    });

    test("pending enrolment: activates once, not after expiry; expired ones are purged", async () => {
      const u = user("pending-user");
      await store.insertUser(u);
      const fresh = otp({
        userId: u.id,
        status: "pending",
        pendingExpiresAt: T + 600_000,
        activatedAt: null,
      });
      const stale = otp({ userId: u.id, status: "pending", pendingExpiresAt: T - 1, activatedAt: null });
      await store.insertOTPCredentials([fresh, stale]);
      assert.equal((await store.listUsableOTPCredentials(u.id)).length, 0);
      assert.equal(await store.activateOTPCredential(stale.id, { step: 1 }, T), false);
      assert.equal(await store.activateOTPCredential(fresh.id, { step: 7, drift: 1 }, T), true);
      assert.equal(await store.activateOTPCredential(fresh.id, { step: 8 }, T), false);
      const active = await store.getOTPCredential(fresh.id);
      assert.equal(active?.status, "active");
      assert.equal(active?.lastStep, 7);
      assert.equal(await store.deleteExpiredPendingOTP(T), 1);
      assert.equal(await store.getOTPCredential(stale.id), undefined);
    });

    test("hardware tokens: unique serials, assign once, unassign, inventory listing", async () => {
      const u = user("token-user");
      await store.insertUser(u);
      const t1 = otp({ kind: "token", serial: "SN-0001", type: "hotp", period: null });
      const t2 = otp({ kind: "token", serial: "SN-0002", type: "hotp", period: null });
      await store.insertOTPCredentials([t1, t2]);
      await assert.rejects(store.insertOTPCredentials([otp({ kind: "token", serial: "SN-0001" })]), {
        code: "ERR_TOKEN_EXISTS",
      });
      assert.equal((await store.findTokenBySerial("SN-0002"))?.id, t2.id);
      assert.equal(await store.assignToken(t1.id, u.id, T), true);
      assert.equal(await store.assignToken(t1.id, u.id, T), false);
      const inventory = await store.listOTPCredentials({ kind: "token", unassigned: true });
      assert.deepEqual(
        inventory.credentials.map((c) => c.serial),
        ["SN-0002"],
      );
      assert.equal((await store.listUsableOTPCredentials(u.id)).length, 1);
      assert.equal(await store.unassignToken(t1.id), true);
      assert.equal(await store.unassignToken(t1.id), false);
    });

    test("a failed batch insert leaves nothing behind", async () => {
      const batch = [otp({ kind: "token", serial: "BATCH-1" }), otp({ kind: "token", serial: "BATCH-1" })];
      await assert.rejects(store.insertOTPCredentials(batch));
      assert.equal(await store.findTokenBySerial("BATCH-1"), undefined);
    });

    test("deleting a user removes app enrolments and returns lent tokens to the inventory", async () => {
      const u = user("leaver");
      await store.insertUser(u);
      const app = otp({ userId: u.id });
      const token = otp({ kind: "token", serial: "SN-LEAVER", userId: u.id, assignedAt: T });
      await store.insertOTPCredentials([app, token]);
      await store.deleteUser(u.id);
      assert.equal(await store.getOTPCredential(app.id), undefined);
      assert.equal((await store.getOTPCredential(token.id))?.userId, null);
    });

    test("bypass codes: decrement to zero, never below; expiry and revocation stop use (C4, C5)", async () => {
      const u = user("bypass-user");
      await store.insertUser(u);
      const code = bypass(u.id, { usesLeft: 2, maxUses: 2 });
      const expired = bypass(u.id, { expiresAt: T - 1 });
      const unlimited = bypass(u.id, { usesLeft: null, maxUses: null, expiresAt: null });
      await store.insertBypassCodes([code, expired, unlimited]);
      assert.equal((await store.listLiveBypassCodes(u.id, T)).length, 2);
      assert.deepEqual(await store.consumeBypassCode(code.id, T), { usesLeft: 1 });
      assert.deepEqual(await store.consumeBypassCode(code.id, T), { usesLeft: 0 });
      assert.equal(await store.consumeBypassCode(code.id, T), undefined);
      assert.equal(await store.consumeBypassCode(expired.id, T), undefined);
      assert.deepEqual(await store.consumeBypassCode(unlimited.id, T), { usesLeft: null });
      assert.equal(await store.revokeBypassCode(unlimited.id, T), true);
      assert.equal(await store.consumeBypassCode(unlimited.id, T), undefined);
      assert.equal((await store.listBypassCodes(u.id)).length, 3);
      assert.equal((await store.listLiveBypassCodes(u.id, T)).length, 0);
    });

    test("bypass codes: 64 racing consumers of a 20-use code get exactly 20", async () => {
      const u = user("bypass-race");
      await store.insertUser(u);
      const code = bypass(u.id, { usesLeft: 20, maxUses: 20 });
      await store.insertBypassCodes([code]);
      const results = await Promise.all(
        Array.from({ length: 64 }, () => store.consumeBypassCode(code.id, T)),
      );
      assert.equal(results.filter((r) => r !== undefined).length, 20);
      assert.equal((await store.getBypassCode(code.id))?.usesLeft, 0);
    });

    test("rescue codes: replacing voids the old set; each code is consumed once", async () => {
      const u = user("rescue-user");
      await store.insertUser(u);
      const set = (setId: string) =>
        Array.from({ length: 3 }, () => ({
          id: randomId("RC"),
          userId: u.id,
          setId,
          codeHash: "h",
          createdAt: T,
          usedAt: null,
        }));
      const first = set("S1");
      await store.replaceRescueCodes(u.id, first);
      assert.equal(await store.consumeRescueCode(first[0]!.id, T), true);
      assert.equal(await store.consumeRescueCode(first[0]!.id, T), false);
      assert.equal((await store.listUnusedRescueCodes(u.id)).length, 2);
      await store.replaceRescueCodes(u.id, set("S2"));
      const unused = await store.listUnusedRescueCodes(u.id);
      assert.equal(unused.length, 3);
      assert.ok(unused.every((c) => c.setId === "S2"));
      assert.equal(await store.consumeRescueCode(first[1]!.id, T), false);
    });

    test("lockout rows: created on first attempt, counted, reset, cleared", async () => {
      const u = user("lock-user");
      await store.insertUser(u);
      await assert.rejects(store.lockAttemptState(u.id, "otp"), { code: "ERR_STORE" });
      const s0 = await store.transaction((tx) => tx.lockAttemptState(u.id, "otp"));
      assert.equal(s0.failures, 0);
      await store.transaction(async (tx) => {
        await tx.lockAttemptState(u.id, "otp");
        assert.equal(await tx.recordFailure(u.id, "otp", T), 1);
        assert.equal(await tx.recordFailure(u.id, "otp", T + 1), 2);
      });
      assert.deepEqual(await store.getLockout(u.id, "otp"), {
        userId: u.id,
        factorClass: "otp",
        failures: 2,
        lastFailureAt: T + 1,
      });
      await store.resetLockout(u.id, "otp");
      assert.equal((await store.getLockout(u.id, "otp"))?.failures, 0);
      await store.transaction(async (tx) => {
        await tx.lockAttemptState(u.id, "bypass");
        await tx.recordFailure(u.id, "bypass", T);
      });
      assert.equal(await store.clearLockouts(u.id), 1);
    });

    test("lockout rows serialise attempts: parallel read-modify-write loses no count", async () => {
      const u = user("lock-race");
      await store.insertUser(u);
      await Promise.all(
        Array.from({ length: 40 }, () =>
          store.transaction(async (tx) => {
            const s = await tx.lockAttemptState(u.id, "otp");
            // Read, think, write: only correct if nobody else can interleave.
            await new Promise((r) => setTimeout(r, 1));
            await tx.recordFailure(u.id, "otp", T + s.failures);
          }),
        ),
      );
      assert.equal((await store.getLockout(u.id, "otp"))?.failures, 40);
    });

    test("a transaction that throws writes nothing", async () => {
      const u = user("rollback-user");
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.insertUser(u);
          throw new Error("boom");
        }),
      );
      assert.equal(await store.getUser(u.id), undefined);
    });

    test("audit log: appended in order and refused any update or delete", async () => {
      const id1 = await store.appendAudit(
        { actor: "a", action: "x", targetType: "user", targetId: "1", after: { v: 1 } },
        T,
      );
      const id2 = await store.appendAudit(
        { actor: "a", action: "y", targetType: null, targetId: null },
        T + 1,
      );
      assert.ok(id2 > id1);
      const events = await store.listAudit({ afterId: id1 - 1, limit: 10 });
      assert.deepEqual(
        events.map((e) => [e.action, e.after]),
        [
          ["x", { v: 1 }],
          ["y", null],
        ],
      );
      await assert.rejects(sql`update audit_log set actor = 'mallory'`.execute(store.kysely));
      await assert.rejects(sql`delete from audit_log`.execute(store.kysely));
      assert.equal((await store.listAudit({ limit: 1000 })).filter((e) => e.actor === "mallory").length, 0);
    });

    test("authentication log: time filter, ordering and keyset paging", async () => {
      for (let i = 0; i < 5; i++) {
        await store.appendAuthLog({
          id: `AL${i}`,
          at: T + (i < 3 ? 0 : i),
          userId: null,
          username: "u",
          applicationId: null,
          factor: "totp",
          result: i % 2 ? "deny" : "allow",
          reason: "r",
          ip: null,
          txid: `tx${i}`,
          node: "n",
        } as AuthLogWrite);
      }
      const first = await store.listAuthLog({ minTime: T, maxTime: T + 10, limit: 2 });
      assert.equal(first.total, 5);
      assert.deepEqual(
        first.entries.map((e) => e.id),
        ["AL4", "AL3"],
      );
      const last = first.entries.at(-1)!;
      const second = await store.listAuthLog({
        minTime: T,
        maxTime: T + 10,
        limit: 10,
        after: { at: last.at, id: last.id },
      });
      assert.deepEqual(
        second.entries.map((e) => e.id),
        ["AL2", "AL1", "AL0"],
      );
      const denies = await store.listAuthLog({
        minTime: T,
        maxTime: T + 10,
        limit: 10,
        results: ["deny"],
        order: "asc",
      });
      assert.deepEqual(
        denies.entries.map((e) => e.id),
        ["AL1", "AL3"],
      );
    });

    test("notification outbox and meta", async () => {
      await store.enqueueNotification({
        id: "N1",
        userId: "DU1",
        kind: "k",
        payload: { a: 1 },
        createdAt: T,
        sentAt: null,
      });
      const pending = await store.listPendingNotifications(10);
      assert.deepEqual(pending[0]?.payload, { a: 1 });
      assert.equal(await store.markNotificationSent("N1", T), true);
      assert.equal(await store.markNotificationSent("N1", T), false);
      assert.equal(await store.getMeta("k"), undefined);
      await store.setMeta("k", "1");
      await store.setMeta("k", "2");
      assert.equal(await store.getMeta("k"), "2");
    });

    test("devices and single-use, expiring activations (G5)", async () => {
      const u = user("device-owner");
      await store.insertUser(u);
      await store.insertDeviceActivation({
        id: "ACT1",
        userId: u.id,
        secretHash: "h",
        createdAt: T,
        expiresAt: T + 600_000,
        usedAt: null,
      });
      await store.insertDeviceActivation({
        id: "ACT2",
        userId: u.id,
        secretHash: "h",
        createdAt: T,
        expiresAt: T + 1,
        usedAt: null,
      });
      assert.equal(await store.consumeDeviceActivation("ACT2", T + 1), false, "expired");
      const racers = await Promise.all(
        Array.from({ length: 10 }, () => store.consumeDeviceActivation("ACT1", T + 5)),
      );
      assert.equal(racers.filter(Boolean).length, 1);
      assert.equal((await store.getDeviceActivation("ACT1"))?.usedAt, T + 5);
      await store.insertDevice({
        id: "DP1",
        userId: u.id,
        name: "Pixel",
        publicKey: "pk",
        deliverySealed: null,
        status: "active",
        otpCredentialId: "DA1",
        createdAt: T,
        lastSeenAt: null,
      });
      await store.touchDevice("DP1", T + 9);
      assert.equal((await store.listDevices(u.id))[0]?.lastSeenAt, T + 9);
      assert.equal((await store.getDevice("DP1"))?.otpCredentialId, "DA1");
      assert.equal(await store.setDeviceDelivery("DP1", "sealed-subscription"), true);
      assert.equal((await store.getDevice("DP1"))?.deliverySealed, "sealed-subscription");
      assert.equal(await store.setDeviceDelivery("DP1", null), true);
      assert.equal((await store.getDevice("DP1"))?.deliverySealed, null);
      assert.equal(await store.setDeviceDelivery("DP-none", null), false);
      assert.equal(await store.setDeviceStatus("DP1", "revoked"), true);
      assert.equal((await store.getDevice("DP1"))?.status, "revoked");
    });

    test("push transactions: racing answers end in exactly one terminal state; expiry wins over late answers (D2)", async () => {
      const u = user("push-user");
      await store.insertUser(u);
      const push = (id: string, expiresAt: number) => ({
        id,
        userId: u.id,
        applicationId: null,
        status: "pending" as const,
        codeHash: null,
        context: { application: "VPN", time: T, ip: "192.0.2.1", place: null, info: "from <b>x</b>" },
        createdAt: T,
        expiresAt,
        answeredAt: null,
        deviceId: null,
      });
      for (let i = 0; i < 5; i++) {
        await store.insertPushTransaction(push(`TX${i}`, T + 60_000));
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, k) =>
            store.resolvePushTransaction(`TX${i}`, k % 2 ? "approved" : "denied", "DP1", T + 1),
          ),
        );
        assert.equal(answers.filter(Boolean).length, 1);
        assert.notEqual((await store.getPushTransaction(`TX${i}`))?.status, "pending");
      }
      await store.insertPushTransaction(push("TXLATE", T + 60_000));
      assert.equal(await store.resolvePushTransaction("TXLATE", "approved", "DP1", T + 60_000), false);
      assert.equal(await store.expirePushTransactions(T + 60_000), 1);
      assert.equal((await store.getPushTransaction("TXLATE"))?.status, "expired");
      assert.equal((await store.getPushTransaction("TX0"))?.context.info, "from <b>x</b>");
      assert.equal((await store.listPushTransactions(u.id, T)).length, 6);
      await store.insertPushTransaction(push("TXOPEN", T + 30_000));
      await store.insertPushTransaction({ ...push("TXNEWER", T + 40_000), createdAt: T + 5 });
      assert.deepEqual(
        (await store.listPendingPushes(u.id, T + 10)).map((p) => p.id),
        ["TXNEWER", "TXOPEN"],
        "pending and unexpired, newest first",
      );
      assert.deepEqual(
        (await store.listPendingPushes(u.id, T + 30_000)).map((p) => p.id),
        ["TXNEWER"],
      );
      assert.equal(await store.resolvePushTransaction("TXOPEN", "cancelled", null, T + 11), true);
      assert.equal((await store.getPushTransaction("TXOPEN"))?.status, "cancelled");
      assert.equal(await store.getPushSuspendedAt(u.id), null);
      await store.setPushSuspendedAt(u.id, T);
      assert.equal(await store.getPushSuspendedAt(u.id), T);
    });

    test("meta values inserted only when absent: one of many racing writers wins", async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.insertMetaIfAbsent("race-key", `value-${i}`)),
      );
      assert.equal(results.filter(Boolean).length, 1);
      const winner = results.indexOf(true);
      assert.equal(await store.getMeta("race-key"), `value-${winner}`);
      assert.equal(await store.insertMetaIfAbsent("race-key", "late"), false);
    });

    test("signed requests: a digest is claimed once within its window, by exactly one of racing claims (K2)", async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.claimSignedRequest("digest-1", T + 300_000, T)),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await store.claimSignedRequest("digest-1", T + 300_000, T + 299_999), false);
      // A losing claim leaves the winner's time: it tells a copy within the same second from a later replay.
      assert.equal(await store.signedRequestSeenAt("digest-1"), T);
      assert.equal(await store.signedRequestSeenAt("digest-unknown"), undefined);
      // Once its window has passed, the same digest may be claimed again (the date no longer verifies anyway).
      assert.equal(await store.claimSignedRequest("digest-1", T + 700_000, T + 300_000), true);
      assert.equal(await store.signedRequestSeenAt("digest-1"), T + 300_000);
      assert.equal(await store.claimSignedRequest("digest-2", T + 10, T), true);
      assert.equal(await store.pruneSignedRequests(T + 10, 100), 1);
      assert.equal(await store.claimSignedRequest("digest-2", T + 20, T + 10), true);
      // A purge deletes the oldest `limit` at a time.
      for (const d of ["digest-3", "digest-4", "digest-5"]) await store.claimSignedRequest(d, T + 30, T + 20);
      assert.equal(await store.pruneSignedRequests(T + 40, 2), 2);
      assert.equal(await store.pruneSignedRequests(T + 40, 2), 2, "digest-2 and the last of the three");
      assert.equal(await store.pruneSignedRequests(T + 40, 2), 0);
    });

    test("throttle counts: racing upserts lose no event; windows are read from `since` and forgotten before `before` (A6)", async () => {
      const W = 900_000;
      await Promise.all(
        Array.from({ length: 40 }, () =>
          store.addThrottleEvents([
            { key: "peer:198.51.100.1", windowStart: T },
            { key: "integration:DIX", windowStart: T },
          ]),
        ),
      );
      await store.addThrottleEvents([{ key: "peer:198.51.100.1", windowStart: T - W }]);
      const counts = await store.readThrottleCounts(["peer:198.51.100.1", "integration:DIX", "other"], T - W);
      const by = (key: string, start: number) =>
        counts.find((c) => c.key === key && c.windowStart === start)?.count;
      assert.deepEqual(
        [by("peer:198.51.100.1", T), by("integration:DIX", T), by("peer:198.51.100.1", T - W), counts.length],
        [40, 40, 1, 3],
      );
      assert.equal((await store.readThrottleCounts(["peer:198.51.100.1"], T)).length, 1);
      assert.equal(await store.deleteThrottleCounts(T, 100), 1);
      assert.equal((await store.readThrottleCounts(["peer:198.51.100.1"], 0)).length, 1);
    });

    test("a push's first status poll is announced once; auth-log entries are found by transaction id", async () => {
      const u = user("poller");
      await store.insertUser(u);
      await store.insertPushTransaction({
        id: "TXPOLL",
        userId: u.id,
        applicationId: null,
        status: "pending",
        codeHash: null,
        codeSealed: "v1.k.sealed",
        context: { application: "VPN", time: T, ip: null, place: null, info: null },
        createdAt: T,
        expiresAt: T + 60_000,
        answeredAt: null,
        deviceId: null,
      });
      assert.equal((await store.getPushTransaction("TXPOLL"))?.codeSealed, "v1.k.sealed");
      const marks = await Promise.all([1, 2, 3].map(() => store.markPushAnnounced("TXPOLL", T + 1)));
      assert.deepEqual(marks.filter(Boolean).length, 1);
      for (const [id, at, result] of [
        ["ALTXLOG1", T, "deny"],
        ["ALTXLOG2", T + 5, "allow"],
      ] as const)
        await store.appendAuthLog({
          id,
          at,
          userId: u.id,
          username: "poller",
          applicationId: "DIAPP",
          factor: "totp",
          result,
          reason: "r",
          ip: null,
          txid: "TXLOG",
          node: "n",
        } as AuthLogWrite);
      assert.equal((await store.findAuthLogByTxid("TXLOG"))?.id, "ALTXLOG2");
      assert.equal(await store.findAuthLogByTxid("TXNONE"), undefined);
      assert.equal(await store.lastLoginAt(u.id), T + 5, "the latest allow");
      await store.appendAuthLog({
        id: "ALTXLOG3",
        at: T + 9,
        userId: u.id,
        username: "poller",
        applicationId: "DIAPP",
        factor: "totp",
        result: "deny",
        reason: "r",
        ip: null,
        txid: "TXLOG3",
        node: "n",
      });
      assert.equal(await store.lastLoginAt(u.id), T + 5, "a later deny is not a login");
      assert.equal(await store.lastLoginAt("USNOBODY"), undefined);
    });

    test("phones: create, list by user and number, update, attach to one user only, device, delete", async () => {
      const a = user("phone-a");
      const b = user("phone-b");
      await store.insertUser(a);
      await store.insertUser(b);
      const phone = {
        id: "DPPHONE1",
        userId: null,
        number: "+15555550100",
        extension: null,
        name: "Desk",
        type: "mobile" as const,
        platform: "generic smartphone",
        deviceId: null,
        createdAt: T,
        smsVerifiedAt: null,
      };
      await store.insertPhone(phone);
      await store.insertPhone({ ...phone, id: "DPPHONE2", number: "+15555550101" });
      assert.deepEqual(await store.getPhone("DPPHONE1"), phone);
      assert.equal(await store.attachPhone("DPPHONE1", a.id), true);
      assert.equal(await store.attachPhone("DPPHONE1", a.id), true);
      assert.equal(await store.attachPhone("DPPHONE1", b.id), false);
      assert.equal(await store.detachPhone("DPPHONE1", b.id), false);
      const mine = await store.listPhones({ userId: a.id });
      assert.deepEqual([mine.total, mine.phones.map((p) => p.id)], [1, ["DPPHONE1"]]);
      const byNumber = await store.listPhones({ number: "+15555550101" });
      assert.deepEqual(
        byNumber.phones.map((p) => p.id),
        ["DPPHONE2"],
      );
      const paged = await store.listPhones({ limit: 1, offset: 1 });
      assert.deepEqual([paged.total, paged.phones.map((p) => p.id)], [2, ["DPPHONE2"]]);
      assert.equal(
        (await store.updatePhone("DPPHONE1", { name: "Desk phone", type: "landline" }))?.name,
        "Desk phone",
      );
      await store.setPhoneDevice("DPPHONE1", "DPDEVICE");
      assert.equal((await store.getPhone("DPPHONE1"))?.deviceId, "DPDEVICE");
      // Deleting the user leaves the phone, unattached.
      await store.deleteUser(a.id);
      assert.equal((await store.getPhone("DPPHONE1"))?.userId, null);
      assert.equal(await store.deletePhone("DPPHONE1"), true);
      assert.equal(await store.deletePhone("DPPHONE1"), false);
      // A number is verified for text messages only while it is still the number that was verified (E2).
      assert.equal(await store.setPhoneSMSVerified("DPPHONE2", "+15555550199", T), false);
      assert.equal(await store.setPhoneSMSVerified("DPPHONE2", "+15555550101", T), true);
      assert.equal((await store.getPhone("DPPHONE2"))?.smsVerifiedAt, T);
    });

    test("text codes: one conditional use, killed by revocation, dead after expiry, pruned (E1)", async () => {
      const u = user("sms-user");
      await store.insertUser(u);
      const code = (id: string, createdAt: number) => ({
        id,
        userId: u.id,
        phoneId: "DPX",
        purpose: "login" as const,
        applicationId: null,
        loginSessionId: id === "SC2" ? "LS-prompt" : null,
        codeHash: `hash-${id}`,
        reservationId: null,
        messageId: null,
        createdAt,
        expiresAt: createdAt + 300_000,
        usedAt: null,
        revokedAt: null,
      });
      await store.insertSMSCode(code("SC1", T));
      assert.deepEqual(
        (await store.listLiveSMSCodes(u.id, "login", T + 1)).map((c) => c.id),
        ["SC1"],
      );
      assert.equal((await store.listLiveSMSCodes(u.id, "verify", T + 1)).length, 0);
      assert.equal(await store.revokeSMSCodes(u.id, "login", T + 2), 1);
      assert.equal(await store.consumeSMSCode("SC1", T + 3), false, "a revoked code is dead");
      await store.insertSMSCode(code("SC2", T + 10));
      assert.equal((await store.latestSMSCode(u.id, "login"))?.id, "SC2");
      assert.equal(
        (await store.latestSMSCode(u.id, "login"))?.loginSessionId,
        "LS-prompt",
        "the prompt login kept",
      );
      assert.equal(await store.consumeSMSCode("SC2", T + 300_010), false, "an expired code is dead");
      await store.insertSMSCode(code("SC3", T + 20));
      const racers = await Promise.all(Array.from({ length: 16 }, () => store.consumeSMSCode("SC3", T + 30)));
      assert.equal(racers.filter(Boolean).length, 1, "used once, whoever races");
      assert.equal(await store.pruneSMSCodes(T + 300_015, 10), 2);
    });

    test("outbox: one claim wins, the lease holder alone finishes, abandoned sends found, receipts, prune", async () => {
      const message = (id: string) => ({
        id,
        channel: "sms" as const,
        userId: null,
        kind: "test",
        destinationSealed: "d",
        bodySealed: "b",
        reservationId: null,
        status: "pending" as const,
        attempts: 0,
        nextAttemptAt: T,
        leaseOwner: null,
        leaseUntil: null,
        sendBy: null,
        gateway: null,
        gatewayMessageId: null,
        lastError: null,
        createdAt: T,
        sentAt: null,
        receiptAt: null,
      });
      await store.enqueueOutboxMessage(message("OM1"));
      await store.enqueueOutboxMessage(message("OM2"));
      assert.equal(await store.countUnsentOutboxMessages("sms"), 2);
      assert.deepEqual(await store.listDueOutboxMessages(T, 10), ["OM1", "OM2"]);
      const claims = await Promise.all(
        Array.from({ length: 12 }, (_, i) => store.claimOutboxMessage("OM1", `node${i}`, T, T + 30_000)),
      );
      assert.equal(claims.filter(Boolean).length, 1, "one node holds it");
      const owner = `node${claims.indexOf(true)}`;
      const claimed = await store.getOutboxMessage("OM1");
      assert.deepEqual([claimed?.status, claimed?.attempts, claimed?.leaseOwner], ["sending", 1, owner]);
      assert.equal(await store.finishOutboxAttempt("OM1", "someone-else", { status: "sent" }), false);
      assert.equal(
        await store.finishOutboxAttempt("OM1", owner, {
          status: "sent",
          gateway: "g",
          gatewayMessageId: "X1",
        }),
        true,
      );
      const receipt = await store.recordOutboxReceipt(
        { gateway: "g", gatewayMessageId: "X1", delivered: true, detail: "DELIVRD" },
        T + 5,
      );
      assert.deepEqual([receipt?.status, receipt?.receiptAt], ["delivered", T + 5]);
      assert.equal(
        await store.recordOutboxReceipt(
          { gateway: "g", gatewayMessageId: "nope", delivered: true, detail: "" },
          T,
        ),
        undefined,
      );
      // OM2 claimed, its node gone: found once the lease has run out, settled once.
      assert.equal(await store.claimOutboxMessage("OM2", "dead", T, T + 1000), true);
      assert.deepEqual(await store.listAbandonedOutboxMessages(T + 999, 10), []);
      assert.deepEqual(await store.listAbandonedOutboxMessages(T + 1000, 10), ["OM2"]);
      assert.equal(await store.settleOutboxMessage("OM2", ["sending"], { status: "unknown" }), true);
      assert.equal(await store.settleOutboxMessage("OM2", ["sending"], { status: "unknown" }), false);
      assert.equal(
        await store.claimOutboxMessage("OM2", "again", T + 2000, T + 5000),
        false,
        "never sent twice",
      );
      const counts = await store.countOutboxMessages(0);
      assert.deepEqual(
        counts.map((c) => [c.status, c.count]),
        [
          ["delivered", 1],
          ["unknown", 1],
        ],
      );
      assert.equal(await store.pruneOutboxMessages(T, 10), 2);
    });

    test("a closed store reports the database as unavailable, not as a crash", async () => {
      const other = await db.open();
      await other.close();
      await assert.rejects(other.ping(), (e: { code?: string }) =>
        ["ERR_STORE_UNAVAILABLE", "ERR_STORE"].includes(e.code ?? ""),
      );
    });
  });
}
