// One identity, one key (A3, G1) with identity.stripDomains: every spelling reaches one user, an Auth API enrolment cannot mint a twin of an existing user, and a name two users claim is reported, never merged.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sign } from "@duosecurity/duo_api/lib/duo_sig.js";
import { parseUserCSV } from "../../src/cli/user-csv.ts";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import {
  ADMIN,
  createTestRuntime,
  enrollTOTPUser,
  type HTTPTestContext,
  wrongCode,
} from "../http/support.ts";
import { createTestContext } from "../support/deps.ts";
import { enrollActiveTOTP } from "../support/factors.ts";
import { dialects } from "../support/stores.ts";

// biome-ignore lint/suspicious/noExplicitAny: a client's view of JSON; the tests check each field they use.
type Json = Record<string, any>;

/** The four spellings security.md A3 names, for a user created as `ALICE@corp`. */
const A3_SPELLINGS = ["Alice", " alice", "alice@corp", "ａｌｉｃｅ"];
const MAX_FAILURES = 8;

for (const dialect of await dialects()) {
  describe(`one canonical username with identity.stripDomains [corp] (${dialect})`, () => {
    let t: HTTPTestContext;
    let server: RunningServer;
    let host: string;
    const keys = { auth: { ikey: "", skey: "" }, admin: { ikey: "", skey: "" } };
    let signedAt = 0;

    before(async () => {
      t = await createTestRuntime({
        dialect,
        overrides: {
          "identity.stripDomains": ["corp"],
          "policy.lockout.maxFailures": MAX_FAILURES,
          "policy.lockout.delayAfter": MAX_FAILURES,
        },
      });
      server = await startServer(t.runtime);
      host = new URL(server.url).host;
      // An integration that offers enrolment to unknown users: a spelling taken for a new user would show.
      const auth = await t.runtime.services.createApplication(ADMIN, {
        name: "Portal",
        type: "auth-api",
        policy: { newUserPolicy: "enroll", allowEnrollment: true },
      });
      keys.auth = { ikey: auth.application.id, skey: auth.secretKey.reveal() };
      const admin = await t.runtime.services.createApplication(ADMIN, { name: "Admin", type: "admin-api" });
      keys.admin = { ikey: admin.application.id, skey: admin.secretKey.reveal() };
    });

    after(async () => {
      await server?.close();
      await t?.close();
    });

    /** A v2-signed request as Duo's clients send it; each gets its own date (signed changes are single use). */
    async function duo(
      integration: keyof typeof keys,
      method: "GET" | "POST",
      path: string,
      params: Record<string, string>,
    ): Promise<{ status: number; body: Json }> {
      const { ikey, skey } = keys[integration];
      const when = new Date(t.clock.now() - 60_000 + (signedAt++ % 60) * 1000).toUTCString();
      const query = new URLSearchParams(params).toString();
      const response = await fetch(`${server.url}${path}${method === "GET" && query ? `?${query}` : ""}`, {
        method,
        headers: {
          date: when,
          authorization: sign(ikey, skey, method, host, path, params, when),
          ...(method === "POST" ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        },
        ...(method === "POST" ? { body: query } : {}),
      });
      return { status: response.status, body: (await response.json()) as Json };
    }

    /** Preauth by `username` lists the user's one authenticator app, and a passcode login by it is theirs. */
    async function reaches(username: string, who: { user: { id: string }; code(): string }) {
      const pre = await duo("auth", "POST", "/auth/v2/preauth", { username });
      assert.equal(pre.body.response.result, "auth", `${username} names an enrolled user`);
      assert.equal(pre.body.response.devices.length, 1);
      const ok = await duo("auth", "POST", "/auth/v2/auth", {
        username,
        factor: "passcode",
        passcode: who.code(),
      });
      assert.equal(ok.body.response.result, "allow");
      const logged = await t.runtime.store.listAuthLog({ minTime: 0, maxTime: t.clock.now() + 1, limit: 1 });
      assert.equal(logged.entries[0]?.userId, who.user.id, `the login as ${username} is the user's`);
    }

    /** A TOTP-enrolled user created through the services, as an operator would, and its app's codes. */
    async function enrolled(username: string) {
      const { code } = await enrollTOTPUser(t, username);
      return { user: await t.runtime.services.requireUser(username), code };
    }

    test("A3: Alice, ␠alice, alice@corp and ａｌｉｃｅ are one enrolled user with one lockout counter", async () => {
      const alice = await enrolled("ALICE@corp");
      for (const username of A3_SPELLINGS) {
        const pre = await duo("auth", "POST", "/auth/v2/preauth", { username });
        assert.equal(pre.body.response.result, "auth", `${JSON.stringify(username)} is the enrolled alice`);
        assert.equal(pre.body.response.devices.length, 1, JSON.stringify(username));
      }
      // Alternate the spellings: the failures add up on one counter, which locks at N.
      for (let i = 0; i < MAX_FAILURES; i++) {
        const username = A3_SPELLINGS[i % A3_SPELLINGS.length]!;
        const r = await duo("auth", "POST", "/auth/v2/auth", {
          username,
          factor: "passcode",
          passcode: wrongCode(alice.code()),
        });
        assert.equal(r.body.response.result, "deny", `failure ${i + 1} as ${JSON.stringify(username)}`);
      }
      const lockout = await t.runtime.store.getLockout(alice.user.id, "otp");
      console.log(
        `A3: ${MAX_FAILURES} failures over ${A3_SPELLINGS.length} spellings → counter ${lockout?.failures}`,
      );
      assert.equal(lockout?.failures, MAX_FAILURES);
      for (const username of A3_SPELLINGS) {
        const r = await duo("auth", "POST", "/auth/v2/auth", {
          username,
          factor: "passcode",
          passcode: alice.code(),
        });
        assert.equal(r.body.response.result, "deny", `the right code as ${JSON.stringify(username)}: locked`);
      }
      t.clock.advance(t.runtime.config.policy.totp.period * 1000);
    });

    test("A3: a user created as ben@corp logs in as ben@corp, as ben and as BEN@CORP", async () => {
      const ben = await enrolled("ben@corp");
      for (const username of ["ben@corp", "ben", "BEN@CORP"]) {
        const r = await duo("auth", "POST", "/auth/v2/auth", {
          username,
          factor: "passcode",
          passcode: ben.code(),
        });
        assert.equal(r.body.response.result, "allow", JSON.stringify(username));
        t.clock.advance(t.runtime.config.policy.totp.period * 1000);
      }
    });

    test("G1: with bob@corp enrolled, /auth/v2/enroll as bob is refused and bob@corp's logins reach the real bob", async () => {
      const bob = await enrolled("bob@corp");
      // The takeover: an Auth API key holder enrols `bob` to get a device that approves bob@corp's logins.
      for (const username of ["bob", "Bob", "ｂｏｂ", " bob@CORP"]) {
        const r = await duo("auth", "POST", "/auth/v2/enroll", { username });
        assert.deepEqual(
          [r.status, r.body.stat, r.body.code],
          [409, "FAIL", 40901],
          `enrol ${JSON.stringify(username)}`,
        );
      }
      const { users } = await t.runtime.store.listUsers({ search: "bob" });
      assert.deepEqual(
        users.map((u) => u.id),
        [bob.user.id],
        "no second account",
      );
      // A push for bob@corp goes to bob's own devices: preauth lists exactly bob's one authenticator app.
      await reaches("bob@corp", bob);
    });

    test("A3: an address in a stripped domain names its user: robert.smith@corp is rsmith's, and no one else's", async () => {
      const rsmith = await enrolled("rsmith");
      await t.runtime.services.updateUser(ADMIN, "rsmith", { email: "Robert.Smith@corp" });
      // rsmith's address is rsmith, not a stranger to let in.
      await reaches("ROBERT.SMITH@corp", rsmith);
      t.clock.advance(t.runtime.config.policy.totp.period * 1000);
      // Neither the address nor the name it strips to may become a new user, who would then take its logins.
      for (const username of ["robert.smith@corp", "Robert.Smith"]) {
        const twin = await duo("auth", "POST", "/auth/v2/enroll", { username });
        assert.deepEqual([twin.status, twin.body.code], [409, 40901], `enrol ${username}`);
        const created = await duo("admin", "POST", "/admin/v1/users", { username });
        assert.deepEqual([created.status, created.body.code], [409, 40901], `create ${username}`);
      }
      const bare = await duo("auth", "POST", "/auth/v2/preauth", { username: "robert.smith" });
      assert.equal(bare.body.response.result, "deny", "robert.smith is spoken for: not offered enrolment");
      assert.equal((await t.runtime.services.findUser("robert.smith@corp"))?.id, rsmith.user.id);
    });

    test("A3: an address two users share names neither, and no new user may take it", async () => {
      const { services } = t.runtime;
      await services.createUser(ADMIN, { username: "anna", email: "team@x.org" });
      await services.createUser(ADMIN, { username: "bert", email: "Team@X.org" });
      await services.createUser(ADMIN, { username: "gina", email: "gina@x.org" });
      assert.equal(await services.findUser("team@x.org"), undefined);
      const pre = await duo("auth", "POST", "/auth/v2/preauth", { username: "team@x.org" });
      assert.equal(pre.body.response.result, "deny", "not a stranger's name: not offered enrolment");
      const enrol = await duo("auth", "POST", "/auth/v2/enroll", { username: "team@x.org" });
      assert.deepEqual([enrol.status, enrol.body.code], [409, 40901]);
      await assert.rejects(services.createUser(ADMIN, { username: "TEAM@x.org" }), {
        code: "ERR_USER_EXISTS",
      });
      await assert.rejects(services.addUserAlias(ADMIN, "gina", "team@x.org"), { code: "ERR_USER_EXISTS" });
      await assert.rejects(services.updateUser(ADMIN, "anna", { username: "team@x.org" }), {
        code: "ERR_USER_EXISTS",
      });
      // A user may take their own address as their name.
      const renamed = await services.updateUser(ADMIN, "gina", { username: "gina@x.org" });
      assert.equal(renamed.usernameCanonical, "gina@x.org");
    });

    test("A3: a user may take their own address, or the name it strips to, as an alias", async () => {
      const { services } = t.runtime;
      await services.createUser(ADMIN, { username: "jdoe", email: "john.doe@corp", aliases: ["john.doe"] });
      assert.equal((await services.findUser("john.doe"))?.username, "jdoe");
      await services.createUser(ADMIN, { username: "mlee", email: "mary.lee@corp" });
      await services.addUserAlias(ADMIN, "mlee", "Mary.Lee");
      assert.equal((await services.findUser("mary.lee"))?.username, "mlee");
      await services.createUser(ADMIN, { username: "pwong", email: "peter.wong@corp" });
      await services.updateUser(ADMIN, "pwong", { aliases: ["peter.wong"] });
      assert.equal((await services.findUser("peter.wong"))?.username, "pwong");
      // Another user's address, or the name it strips to, stays refused.
      await assert.rejects(services.addUserAlias(ADMIN, "pwong", "mary.lee@corp"), {
        code: "ERR_USER_EXISTS",
      });
      await assert.rejects(services.addUserAlias(ADMIN, "pwong", "john.doe"), { code: "ERR_USER_EXISTS" });
    });

    test("A3: an import may not make one line's username another line's address", async () => {
      const { services } = t.runtime;
      await assert.rejects(
        services.importUsers(ADMIN, parseUserCSV("username,email\nkchan,kevin.chan@corp\nkevin.chan,\n")),
        (e: Error & { issues?: Array<{ path: string; message: string }> }) =>
          e.issues?.some((i) => i.message === "kevin.chan is the e-mail address on line 2") === true,
      );
      await assert.rejects(
        services.importUsers(ADMIN, parseUserCSV("username,email\nlam,a.lam@x.org\na.lam@X.org,\n")),
        (e: Error & { issues?: Array<{ path: string; message: string }> }) =>
          e.issues?.some((i) => i.message === "a.lam@X.org is the e-mail address on line 2") === true,
      );
      assert.equal(await services.findUser("kchan"), undefined, "nothing was imported");
    });

    test("A3: the Admin API stores and finds users and aliases by the canonical name", async () => {
      const created = await duo("admin", "POST", "/admin/v1/users", {
        username: "Carol@CORP",
        alias1: "Carol.D@corp",
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const id = created.body.response.user_id as string;
      for (const username of ["carol", "ＣＡＲＯＬ@corp", "carol.d"]) {
        const found = await duo("admin", "GET", "/admin/v1/users", { username });
        assert.deepEqual(
          found.body.response.map((u: Json) => u.user_id),
          [id],
          `GET /admin/v1/users?username=${username}`,
        );
      }
      for (const username of ["carol", "carol.d@corp", " CAROL.D"]) {
        const twin = await duo("admin", "POST", "/admin/v1/users", { username });
        assert.deepEqual([twin.status, twin.body.code], [409, 40901], `create ${JSON.stringify(username)}`);
      }
      const other = await duo("admin", "POST", "/admin/v1/users", { username: "dave" });
      const alias = await duo("admin", "POST", `/admin/v1/users/${other.body.response.user_id}`, {
        alias1: "carol@corp",
      });
      assert.equal(alias.status, 409, "carol@corp is carol: not an alias for dave");
      assert.equal((await t.runtime.services.findUser("carol.d@corp"))?.id, id);
    });

    test("A3: CSV import and CLI aliases canonicalise; one user twice in a file is refused", async () => {
      const { services } = t.runtime;
      await assert.rejects(
        services.importUsers(ADMIN, parseUserCSV("username\nerin@corp\nErin\n")),
        (e: Error & { issues?: Array<{ message: string }> }) =>
          e.issues?.some((i) => i.message === "duplicate of line 2") === true,
      );
      await services.importUsers(ADMIN, parseUserCSV("username,email\nFrank@Corp,frank@example.org\n"));
      const frank = await services.findUser("ｆｒａｎｋ");
      assert.equal(frank?.usernameCanonical, "frank");
      await assert.rejects(services.importUsers(ADMIN, parseUserCSV("username\nfrank\n")), {
        code: "ERR_IMPORT_INVALID",
      });
      await services.addUserAlias(ADMIN, "frank", "F.Jones@corp");
      assert.equal((await services.findUser("f.jones"))?.id, frank?.id);
      await assert.rejects(services.createUser(ADMIN, { username: "f.jones" }), { code: "ERR_USER_EXISTS" });
      await assert.rejects(services.addUserAlias(ADMIN, "frank", "frank@corp"), { code: "ERR_USER_EXISTS" });
    });
  });

  describe(`adding a domain to identity.stripDomains on an existing database (${dialect})`, () => {
    test("names that now collide are reported and left unmerged, naming nobody until settled", async () => {
      // Written before `corp` was stripped: bob@corp (the real bob, enrolled) and a later bob, as an
      // enrolment made them; carol@corp and an alias dave@corp collide with nobody.
      const before = await createTestContext(dialect);
      try {
        const realBob = await before.services.createUser(ADMIN, { username: "bob@corp" });
        const app = await enrollActiveTOTP(before, "bob@corp");
        const twin = await before.services.createUser(ADMIN, { username: "bob" });
        const carol = await before.services.createUser(ADMIN, { username: "Carol@Corp" });
        await before.services.createUser(ADMIN, { username: "dave", aliases: ["dave@corp"] });

        const { createServices } = await import("../../src/core/services.ts");
        const { LocalPushEvents } = await import("../../src/adapters/events/local-push-events.ts");
        const services = createServices({
          store: before.store,
          keyring: before.keyring,
          clock: before.clock,
          config: { ...before.config, identity: { stripDomains: ["corp"] } },
          nodeName: "test-node",
          pushEvents: new LocalPushEvents(),
        });
        const report = await services.reconcileUsernames({ onlyIfChanged: true });
        console.log(
          `reconcile: ${report.checked} names checked, ${report.changed.length} re-keyed, collisions ${JSON.stringify(report.collisions.map((c) => [c.canonical, c.userIds.length]))}`,
        );
        assert.deepEqual(
          report.changed.map((c) => [c.name, c.from, c.to]),
          [["Carol@Corp", "carol@corp", "carol"]],
        );
        assert.deepEqual(
          report.collisions.map((c) => [c.canonical, c.userIds]),
          [["bob", [realBob.id, twin.id].sort()]],
        );
        // Nothing merged: both rows are as they were.
        assert.equal((await before.store.getUser(realBob.id))?.usernameCanonical, "bob@corp");
        assert.equal((await before.store.getUser(twin.id))?.usernameCanonical, "bob");
        // The contested name reaches nobody: no login, no new account, no alias; an operator is told the ids.
        for (const username of ["bob", "bob@corp", "BOB"])
          assert.equal(await services.findUser(username), undefined, username);
        const denied = await services.verifyPasscode({ username: "bob@corp", passcode: app.codeAt() });
        assert.equal(denied.result, "deny");
        await assert.rejects(services.createUser(ADMIN, { username: "Bob" }), { code: "ERR_USER_EXISTS" });
        await assert.rejects(services.addUserAlias(ADMIN, carol.id, "bob"), { code: "ERR_USER_EXISTS" });
        await assert.rejects(services.requireUser("bob@corp"), (e: Error & { code?: string }) => {
          assert.equal(e.code, "ERR_USER_AMBIGUOUS");
          assert.ok(e.message.includes(realBob.id) && e.message.includes(twin.id), e.message);
          return true;
        });
        // The other rows follow the new setting; a start with the same setting does nothing again.
        assert.equal((await services.findUser("carol"))?.id, carol.id);
        assert.equal((await services.findUser("dave@corp"))?.usernameCanonical, "dave");
        assert.deepEqual((await services.listUsernameCollisions()).length, 1);

        // The operator deletes the twin by id: the name names the real bob again at once.
        await services.deleteUser(ADMIN, twin.id);
        assert.deepEqual(await services.listUsernameCollisions(), []);
        assert.equal((await services.findUser("bob@corp"))?.id, realBob.id);
        assert.equal((await before.store.getUser(realBob.id))?.usernameCanonical, "bob");
        const allowed = await services.verifyPasscode({ username: "bob", passcode: app.codeAt() });
        assert.equal(allowed.result, "allow");
        assert.equal((await services.reconcileUsernames({ onlyIfChanged: true })).ran, false);
      } finally {
        await before.close();
      }
    });
  });
}
