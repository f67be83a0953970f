// Debian's login_duo and pam_duo 1.11.3 (legacy REST v1, BSON, undated SHA-1 signatures) against a real Twofold, configured with host and cafile only.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ADMIN } from "../http/support.ts";
import { type DuoTestServer, type Integration, startDuoTestServer } from "../support/duo-server.ts";
import {
  createLocalUser,
  haveDuoUnix,
  type LocalUser,
  pamtesterVerdict,
  runLoginDuoHeadless,
  runLoginDuoInteractive,
  runPamDuo,
  shellMarker,
  writeDuoConfig,
} from "../support/duo-unix.ts";

const run = haveDuoUnix("login_duo / pam_duo tests");

/**
 * The shortest push lifetime policy allows. The unanswered-push tests do not wait it out: they move the server's
 * clock past it (duo_unix's signatures carry no time). That leaves the server ahead of the command-line
 * authenticator, whose passcodes (one TOTP step either side) and signed answers (60 s) the other tests use: those
 * tests come last, and the shortest lifetime keeps the two moves small.
 */
const PUSH_LIFETIME_S = 15;

describe("login_duo and pam_duo 1.11.3 against Twofold", { skip: !run }, () => {
  let s: DuoTestServer;
  let unix: Integration;
  let headless: Integration;
  let aliceDevice: string;
  let daveDevice: string;
  let pamUser: LocalUser;
  let pamDevice: string;
  /** host and cafile only (plus the keys): everything else at duo_unix's defaults, failmode safe included. */
  let conf: string;
  /** The same for an integration that allows pushes without a code (login_duo's autopush cannot show one). */
  let autopushConf: string;

  before(async () => {
    s = await startDuoTestServer({ overrides: { "policy.push.lifetimeSeconds": PUSH_LIFETIME_S } });
    unix = await s.createIntegration("unix");
    headless = await s.createIntegration("unix", { allowPlainPush: true });
    conf = writeDuoConfig({
      dir: s.dir,
      name: "login_duo.conf",
      ...unix,
      host: s.host,
      cafile: s.certificates.ca,
    });
    autopushConf = writeDuoConfig({
      dir: s.dir,
      name: "autopush.conf",
      ...headless,
      host: s.host,
      cafile: s.certificates.ca,
      extra: { autopush: "yes" },
    });
    const { services } = s.t.runtime;
    for (const username of ["alice", "bob", "carol", "dave", "frank", "gina"])
      await services.createUser(ADMIN, { username });
    aliceDevice = await s.activateAuthenticator("alice");
    daveDevice = await s.activateAuthenticator("dave");
    // One user per unanswered push, so no per-user push limit decides those tests instead of the timeout.
    await s.activateAuthenticator("frank");
    await s.activateAuthenticator("gina");
    await services.setUserStatus(ADMIN, "carol", "disabled");
    await s.activateAuthenticator("carol");
    pamUser = createLocalUser();
    await services.createUser(ADMIN, { username: pamUser.name });
    pamDevice = await s.activateAuthenticator(pamUser.name);
  });

  after(async () => {
    pamUser?.remove();
    await s?.close();
  });

  /** The current passcode of a command-line authenticator. */
  /** The last passcode given out per authenticator: each TOTP step's code is accepted once (a replay is denied). */
  const lastCodes = new Map<string, string>();
  async function passcode(state: string): Promise<string> {
    // Two logins by one device within one 30 s step would show the same code: wait for the next step.
    for (let waited = 0; ; waited += 1000) {
      const r = await s.device(state, ["passcode"]);
      const code = /\b(\d{6})\b/.exec(r.stdout)?.[1];
      assert.ok(code, `device passcode printed ${r.stdout}${r.stderr}`);
      if (code !== lastCodes.get(state) || waited > 35_000) {
        lastCodes.set(state, code);
        return code;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  /**
   * Approve the push whose code the login prints ("Enter code 123456 …") with the command-line authenticator,
   * once: returns a watcher for onOutput and a promise of the approval's result.
   */
  function approveWhenCodeShown(state: string) {
    let started: Promise<string> | undefined;
    return {
      onOutput: (output: string) => {
        const code = /Enter code (\d+)/.exec(output)?.[1];
        if (!code || started) return;
        started = (async () => {
          const pending = await s.device(state, ["pending", "--json"]);
          const txid = /"txid":\s*"([0-9a-f]+)"/.exec(pending.stdout)?.[1];
          assert.ok(txid, `device pending printed ${pending.stdout}${pending.stderr}`);
          const r = await s.device(state, ["approve", txid, "--code", code]);
          return r.stdout.trim();
        })();
      },
      result: () => started ?? Promise.resolve("never asked"),
    };
  }

  /** The push a login started for `username`, once it is waiting for an answer. */
  async function waitingPush(username: string) {
    const user = await s.t.runtime.services.requireUser(username);
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
      const [push] = await s.t.runtime.store.listPushTransactions(user.id, 0);
      if (push?.status === "pending") return push;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no push waiting for ${username}`);
  }

  /**
   * Nobody answers `username`'s push: once `waiting` (the login is blocked on it), the server's clock moves past the
   * push's lifetime. Returns how long the login took to end after that, and the push's final status.
   */
  async function letPushExpire(username: string, login: Promise<unknown>, waiting: Promise<unknown>) {
    let ended = false;
    const end = () => {
      ended = true;
    };
    void login.then(end, end);
    await Promise.race([waiting, login]);
    const push = await waitingPush(username);
    assert.equal(ended, false, "the login waits for the push");
    const clock = s.t.wallClock;
    clock.advance(Math.max(0, push.expiresAt - clock.now()));
    const lifetimeEnded = Date.now();
    // The login's wait sleeps in real time until the expiry as it stood when the wait began: wake it to read the
    // push again, as the server does when it may have missed news of a push.
    await s.t.runtime.pushEvents.publish({ kind: "resync" });
    await login;
    const [after] = await s.t.runtime.store.listPushTransactions(push.userId, 0);
    return {
      secondsAfterLifetime: (Date.now() - lifetimeEnded) / 1000,
      status: after?.status,
    };
  }

  test("a passcode login: the user types the authenticator's code and the command runs", async () => {
    const shell = shellMarker();
    const code = await passcode(aliceDevice);
    const r = await runLoginDuoInteractive({
      conf,
      user: "alice",
      command: shell.command,
      answers: [{ waitFor: /Passcode or option \(1-1\): /, type: code }],
    });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Twofold second-factor login for alice/);
    assert.match(r.output, /Success\. Logging you in/);
    assert.ok(r.output.includes(shell.marker), r.output);
    // The same code again is a replay: refused. (Typed within 2 s, duo_unix 1.11.3's identical undated request is
    // refused before the passcode is even looked at, a deny too; this one waits so the passcode check answers.)
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const again = await runLoginDuoInteractive({
      conf: writeDuoConfig({
        dir: s.dir,
        name: "one-prompt.conf",
        ...unix,
        host: s.host,
        cafile: s.certificates.ca,
        extra: { prompts: "1" },
      }),
      user: "alice",
      command: shell.command,
      answers: [{ waitFor: /Passcode or option/, type: code }],
    });
    assert.equal(again.code, 1, again.output);
    assert.match(again.output, /Incorrect passcode/);
    assert.ok(!again.output.includes(shell.marker));
  });

  test("a bypass code from the service desk works as a passcode", async () => {
    const shell = shellMarker();
    const issued = await s.t.runtime.services.issueBypassCodes(ADMIN, "bob", {
      count: 1,
      uses: 1,
      validSeconds: 600,
    });
    const r = await runLoginDuoInteractive({
      conf,
      user: "bob",
      command: shell.command,
      answers: [{ waitFor: /Passcode: /, type: issued.codes.reveal()[0]! }],
    });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Bypass code accepted/);
    assert.ok(r.output.includes(shell.marker));
  });

  test("a push login: option 1, the code is shown, the command-line authenticator approves with it", async () => {
    const shell = shellMarker();
    const approver = approveWhenCodeShown(aliceDevice);
    const r = await runLoginDuoInteractive({
      conf,
      user: "alice",
      command: shell.command,
      answers: [{ waitFor: /Passcode or option \(1-1\): /, type: "1" }],
      onOutput: approver.onOutput,
      timeoutMs: 60_000,
    });
    assert.equal(await approver.result(), "approved");
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Pushed a login request to your device\.\.\. Enter code \d{6}/);
    assert.ok(r.output.includes(shell.marker), r.output);
  });

  test("an autopush login: no prompt, a push without a code, approved by the authenticator watching its stream", async () => {
    const shell = shellMarker();
    const watcher = s.device(daveDevice, ["watch", "--auto", "approve", "--count", "1"]);
    // Let the watcher connect its live stream before the push is sent (the stream also lists pending pushes).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const r = await runLoginDuoHeadless({
      conf: autopushConf,
      user: "dave",
      command: shell.command,
      timeoutMs: 60_000,
    });
    const watched = await watcher;
    assert.equal(r.code, 0, `${r.output}\nwatcher: ${watched.stdout}${watched.stderr}`);
    assert.ok(r.output.includes(shell.marker));
    const logged = await s.t.runtime.store.listAuthLog({
      minTime: 0,
      maxTime: Date.now() + 1000,
      limit: 5,
      order: "desc",
    });
    assert.ok(
      logged.entries.some(
        (e) => e.factor === "push" && e.result === "allow" && e.applicationId === headless.ikey,
      ),
    );
  });

  test("a disabled user is denied and told so; the command does not run", async () => {
    const shell = shellMarker();
    const r = await runLoginDuoInteractive({ conf, user: "carol", command: shell.command });
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /Your account is disabled/);
    assert.ok(!r.output.includes(shell.marker));
  });

  test("options not offered here (sms1, phone1, push9) and a waiting push are denied with the reason, and the user is asked again", async () => {
    await s.t.runtime.services.createUser(ADMIN, { username: "hank" });
    const hankDevice = await s.activateAuthenticator("hank");
    const shell = shellMarker();
    const code = await passcode(hankDevice);
    const r = await runLoginDuoInteractive({
      conf,
      user: "hank",
      command: shell.command,
      answers: [
        { waitFor: /Passcode or option \(1-1\): /, type: "sms1" },
        {
          waitFor: /SMS passcodes are not available[\s\S]*Passcode or option \(1-1\): /,
          type: "x".repeat(200),
        },
        { waitFor: /Incorrect passcode[\s\S]*Passcode or option \(1-1\): /, type: code },
      ],
    });
    assert.equal(r.code, 0, r.output);
    assert.equal(r.answered, 3, r.output);
    assert.ok(r.output.includes(shell.marker), r.output);

    const waiting = await s.t.runtime.services.startPush({ username: "hank", verified: false });
    assert.ok(waiting.started);
    try {
      const busy = await runLoginDuoInteractive({
        conf,
        user: "hank",
        command: shell.command,
        answers: [
          { waitFor: /Passcode or option \(1-1\): /, type: "1" },
          { waitFor: /already waiting[\s\S]*Passcode or option \(1-1\): /, type: "phone1" },
          { waitFor: /option is not available[\s\S]*Passcode or option \(1-1\): /, type: "push9" },
        ],
      });
      assert.equal(busy.code, 1, busy.output);
      assert.equal(busy.answered, 3, busy.output);
      assert.equal(busy.output.match(/option is not available/g)?.length, 2, busy.output);
      assert.ok(!busy.output.includes(shell.marker));
    } finally {
      await s.t.runtime.services.cancelPush(waiting.txid);
    }
    const hank = await s.t.runtime.store.findUserByIdentifier("hank");
    const { entries } = await s.t.runtime.store.listAuthLog({
      minTime: 0,
      maxTime: Number.MAX_SAFE_INTEGER,
      limit: 50,
      userIds: [hank!.id],
    });
    const reasons = entries.map((e) => e.reason);
    for (const reason of ["sms_unavailable", "push_already_pending", "option_unavailable"])
      assert.ok(reasons.includes(reason), `the authentication log records ${reason}: ${reasons.join(", ")}`);
  });

  test("an unenrolled user and an unknown user are denied (not let in under failmode safe)", async () => {
    for (const user of ["nobody-here"]) {
      const shell = shellMarker();
      const r = await runLoginDuoInteractive({ conf, user, command: shell.command });
      assert.equal(r.code, 1, r.output);
      assert.match(r.output, /Access denied/);
      assert.ok(!r.output.includes(shell.marker));
    }
    await s.t.runtime.services.createUser(ADMIN, { username: "erin" });
    const shell = shellMarker();
    const r = await runLoginDuoInteractive({ conf, user: "erin", command: shell.command });
    assert.equal(r.code, 1, r.output);
    assert.ok(!r.output.includes(shell.marker));
  });

  test("pam_duo with a host name in PAM_RHOST (sshd UseDNS yes) sends it as ipaddr: accepted, logged with no address", async () => {
    // A bypass code: the authenticator's passcode of this 30 s step is left for the pam_duo passcode test below.
    const issued = await s.t.runtime.services.issueBypassCodes(ADMIN, pamUser.name, {
      count: 1,
      uses: 1,
      validSeconds: 600,
    });
    const code = issued.codes.reveal()[0]!;
    const r = await runPamDuo({
      conf,
      user: pamUser.name,
      rhost: "client7.example.org",
      answers: [{ waitFor: /Passcode or option \(1-1\): /, type: code }],
    });
    assert.equal(pamtesterVerdict(r.output), "successfully authenticated", r.output);
    const user = await s.t.runtime.services.requireUser(pamUser.name);
    const { entries } = await s.t.runtime.store.listAuthLog({
      minTime: 0,
      maxTime: Number.MAX_SAFE_INTEGER,
      limit: 1,
      order: "desc",
      userIds: [user.id],
    });
    assert.deepEqual([entries[0]?.result, entries[0]?.ip], ["allow", null]);
  });

  test("an integration that refuses undated signatures denies duo_unix 1.11.3 (a 403), even under failmode safe", async () => {
    const strict = await s.createIntegration("unix", { refuseUndatedSignatures: true });
    const strictConf = writeDuoConfig({
      dir: s.dir,
      name: "strict.conf",
      ...strict,
      host: s.host,
      cafile: s.certificates.ca,
    });
    const shell = shellMarker();
    const r = await runLoginDuoInteractive({ conf: strictConf, user: "alice", command: shell.command });
    // A 401 here would be "Invalid ikey or skey" and, with failmode=safe, a login without a second factor.
    assert.equal(r.code, 1, r.output);
    assert.ok(!r.output.includes(shell.marker), r.output);
    const p = await runPamDuo({ conf: strictConf, user: pamUser.name });
    assert.notEqual(pamtesterVerdict(p.output), "successfully authenticated", p.output);
    console.log(`login_duo: exit ${r.code}; pam_duo: ${pamtesterVerdict(p.output)}`);
  });

  test("pam_duo: a passcode, then a push approved by the command-line authenticator", async () => {
    const code = await passcode(pamDevice);
    const r = await runPamDuo({
      conf,
      user: pamUser.name,
      answers: [{ waitFor: /Passcode or option \(1-1\): /, type: code }],
    });
    assert.equal(pamtesterVerdict(r.output), "successfully authenticated", r.output);
    assert.equal(r.code, 0);

    const approver = approveWhenCodeShown(pamDevice);
    const pushed = await runPamDuo({
      conf,
      user: pamUser.name,
      answers: [{ waitFor: /Passcode or option \(1-1\): /, type: "1" }],
      onOutput: approver.onOutput,
      timeoutMs: 60_000,
    });
    assert.equal(await approver.result(), "approved");
    assert.equal(pamtesterVerdict(pushed.output), "successfully authenticated", pushed.output);

    const wrong = await runPamDuo({
      conf: writeDuoConfig({
        dir: s.dir,
        name: "pam-one-prompt.conf",
        ...unix,
        host: s.host,
        cafile: s.certificates.ca,
        extra: { prompts: "1" },
      }),
      user: pamUser.name,
      answers: [{ waitFor: /Passcode or option/, type: "000000" }],
    });
    assert.notEqual(wrong.code, 0, wrong.output);
    assert.notEqual(pamtesterVerdict(wrong.output), "successfully authenticated");
  });
  // Last: these two move the server's clock ahead of the authenticator's (see PUSH_LIFETIME_S).
  test("a push nobody answers ends in a deny once its lifetime has passed, in few status polls (never 20 pending ones)", async () => {
    const shell = shellMarker();
    let pushed: () => void = () => undefined;
    const shown = new Promise<void>((resolve) => {
      pushed = resolve;
    });
    const login = runLoginDuoInteractive({
      conf: writeDuoConfig({
        dir: s.dir,
        name: "unanswered.conf",
        ...unix,
        host: s.host,
        cafile: s.certificates.ca,
        extra: { prompts: "1" },
      }),
      user: "frank",
      command: shell.command,
      answers: [{ waitFor: /Passcode or option/, type: "1" }],
      // The first status reply is printed at once; the next poll is the one held until the push ends.
      onOutput: (output) => {
        if (/Pushed a login request/.test(output)) pushed();
      },
      timeoutMs: 60_000,
    });
    const expired = await letPushExpire("frank", login, shown);
    const r = await login;
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /Login timed out/);
    assert.ok(!r.output.includes(shell.marker), r.output);
    assert.equal(expired.status, "expired");
    // The held poll answers as soon as the server sees the push expire, not at the end of its 20 s hold.
    assert.ok(
      expired.secondsAfterLifetime < 15,
      `ended ${expired.secondsAfterLifetime} s after the lifetime`,
    );
    // Each non-final status reply is one printed line: far below duo_unix's 20-poll limit.
    const pushedLines = r.output.split("\n").filter((l) => l.startsWith("Pushed a login request")).length;
    assert.ok(pushedLines >= 1 && pushedLines <= 3, `${pushedLines} pending replies`);
  });

  test("the same, headless (autopush, one blocking call): a deny when the push times out", async () => {
    const shell = shellMarker();
    const login = runLoginDuoHeadless({
      conf: autopushConf,
      user: "gina",
      command: shell.command,
      timeoutMs: 60_000,
    });
    const expired = await letPushExpire("gina", login, waitingPush("gina"));
    const r = await login;
    assert.equal(r.code, 1, r.output);
    assert.ok(!r.output.includes(shell.marker));
    assert.ok(
      expired.secondsAfterLifetime < 15,
      `ended ${expired.secondsAfterLifetime} s after the lifetime`,
    );
    const pushes = await s.t.runtime.store.listPushTransactions(
      (await s.t.runtime.services.requireUser("gina")).id,
      0,
    );
    assert.deepEqual(
      pushes.map((p) => p.status),
      ["expired"],
    );
  });
});
