// CLI factor workflows end to end (TOTP, applications, bypass and rescue codes, hardware tokens, passcode checks),
// and a leak check: no secret printed once ever shows again in a listing, the logs or the database file.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { base32Decode, createSandbox, hotp, type Sandbox, totp } from "./helpers.ts";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("twofold CLI factor workflows", () => {
  let box: Sandbox;
  /** Every secret the CLI printed once, by name, for the leak check at the end. */
  const secrets = new Map<string, string>();
  const rawSecrets = new Map<string, Buffer>();
  let tokenKey: Buffer;

  before(async () => {
    box = createSandbox();
    const users = join(box.dir, "users.csv");
    writeFileSync(users, "username,email,name\nalice,alice@example.edu,Alice\nbob,bob@example.edu,Bob\n");
    assert.equal((await box.run(["user", "import", users])).code, 0);
  });
  after(() => box.cleanup());

  test("totp enroll prints a URI matching policy and a QR code; confirm activates; codes work once", async () => {
    const enroll = await box.run(["totp", "enroll", "alice", "--label", "phone"]);
    assert.equal(enroll.code, 0, enroll.stderr);
    assert.match(enroll.stdout, /[█▀▄]/, "a terminal QR code");
    const uri = new URL(/otpauth:\/\/\S+/.exec(enroll.stdout)![0]);
    assert.equal(uri.host, "totp");
    assert.equal(decodeURIComponent(uri.pathname), "/Twofold:alice");
    assert.equal(uri.searchParams.get("issuer"), "Twofold");
    assert.equal(uri.searchParams.get("algorithm"), "SHA1");
    assert.equal(uri.searchParams.get("digits"), "6");
    assert.equal(uri.searchParams.get("period"), "30");
    const seed = uri.searchParams.get("secret")!;
    const key = base32Decode(seed);
    assert.ok(key.length >= 20, "policy.totp.secretBytes");
    secrets.set("TOTP seed", seed);
    rawSecrets.set("TOTP seed bytes", key);
    assert.match(enroll.stdout, /expires: \d{4}-\d\d-\d\dT[\d:.]+Z/);
    // Not a terminal: it says how to finish instead of prompting.
    const id = /twofold totp confirm (DA[A-Z0-9]{18}) CODE/.exec(enroll.stdout)![1]!;

    const wrong = await box.run(["totp", "confirm", id, totp(key, Date.now() + 10 * 60_000)]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^error: that code is not right/);
    const confirmed = await box.json<{ status: string }>(["totp", "confirm", id, totp(key, Date.now())]);
    assert.equal(confirmed.status, "active");

    const next = totp(key, Date.now() + 30_000);
    const allow = await box.json<{ result: string; factor: string }>(["passcode", "check", "alice", next]);
    assert.deepEqual([allow.result, allow.factor], ["allow", "totp"]);
    const replay = await box.run(["passcode", "check", "alice", next]);
    assert.equal(replay.code, 1);
    assert.match(replay.stdout, /^deny /);
    assert.ok(!replay.stdout.includes(next), "the code is never echoed");

    // --json enrolment output for scripts (bob's stays pending).
    const json = await box.json<{ enrollmentId: string; uri: string; secret: string; expiresAt: string }>([
      "totp",
      "enroll",
      "bob",
    ]);
    assert.match(json.enrollmentId, /^DA[A-Z0-9]{18}$/);
    assert.ok(json.uri.includes(`secret=${json.secret}`));
    assert.match(json.expiresAt, ISO);
    secrets.set("pending TOTP seed", json.secret);
  });

  test("app create prints a Duo-shaped key and secret once; app list never shows the secret", async () => {
    const app = await box.json<{ integrationKey: string; secretKey: string; apiHost: string; type: string }>([
      "app",
      "create",
      "--name",
      "VPN",
      "--type",
      "radius",
    ]);
    assert.match(app.integrationKey, /^DI[A-Z0-9]{18}$/);
    assert.match(app.secretKey, /^[A-Za-z0-9]{40}$/);
    assert.equal(app.apiHost, "127.0.0.1:8080");
    assert.equal(app.type, "radius");
    secrets.set("app secret", app.secretKey);

    const human = await box.run(["app", "create", "--name", "Portal", "--type", "web-sdk"]);
    assert.equal(human.code, 0);
    const humanSecret = /secret key:\s+(\S+)/.exec(human.stdout)![1]!;
    secrets.set("second app secret", humanSecret);

    const list = await box.run(["app", "list"]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, new RegExp(`${app.integrationKey}\\s+VPN\\s+radius`));
  });

  test("bypass issue --uses 2 --valid 1h: works twice, then denies; list shows metadata only", async () => {
    const issued = await box.run([
      "bypass",
      "issue",
      "bob",
      "--uses",
      "2",
      "--valid",
      "1h",
      "--id-check",
      "card seen",
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const code = /^ {2}(\d{10})$/m.exec(issued.stdout)![1]!;
    assert.match(issued.stdout, /2 uses each; expire \S+Z \(1h\)/);
    secrets.set("bypass code", code);

    const first = await box.json<{ result: string; factor: string; usesLeft: number }>([
      "passcode",
      "check",
      "bob",
      code,
    ]);
    assert.deepEqual([first.result, first.factor, first.usesLeft], ["allow", "bypass", 1]);
    const second = await box.run(["passcode", "check", "bob", "-"], { input: `${code}\n` });
    assert.equal(second.code, 0);
    assert.match(second.stdout, /^allow \(factor: bypass, .*0 uses left\)/);
    const third = await box.run(["passcode", "check", "bob", code]);
    assert.equal(third.code, 1);
    assert.match(third.stdout, /^deny /);

    const more = await box.json<{ codes: string[]; uses: number; expiresAt: string }>([
      "bypass",
      "issue",
      "alice",
      "--count",
      "2",
    ]);
    assert.equal(more.codes.length, 2);
    assert.equal(more.uses, 20, "policy default");
    assert.match(more.expiresAt, ISO);
    for (const [i, c] of more.codes.entries()) secrets.set(`bypass code ${i + 2}`, c);

    const listed = await box.json<Record<string, unknown>[]>(["bypass", "list", "bob"]);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!["usesLeft"], 0);
    assert.equal(listed[0]!["idCheck"], "card seen");
    assert.ok(!("codeHash" in listed[0]!));
    const table = await box.run(["bypass", "list", "bob"]);
    assert.match(table.stdout, /^ID\s+USES LEFT/);
    assert.match(table.stdout, /0\/2/);

    const tooMany = await box.run(["bypass", "issue", "bob", "--uses", "500"]);
    assert.equal(tooMany.code, 1);
    assert.match(tooMany.stderr, /at most 20 uses/);
  });

  test("rescue generate prints 10 well-shaped codes once; one of them works", async () => {
    const r = await box.run(["rescue", "generate", "bob"]);
    assert.equal(r.code, 0);
    const codes = [...r.stdout.matchAll(/^ {2}([0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3})$/gm)].map(
      (m) => m[1]!,
    );
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    assert.match(r.stdout, /store these safely; each works once; generating again voids them/i);
    codes.forEach((c, i) => {
      secrets.set(`rescue code ${i}`, c);
      secrets.set(`rescue code ${i} compact`, c.replaceAll("-", ""));
    });

    const used = await box.json<{ result: string; factor: string }>(["passcode", "check", "bob", codes[3]!]);
    assert.deepEqual([used.result, used.factor], ["allow", "rescue"]);
    assert.equal((await box.json<{ unused: number }>(["rescue", "status", "bob"])).unused, 9);
  });

  test("token import with progress, assign, find by code, and a token login", async () => {
    tokenKey = randomBytes(20);
    const file = join(box.dir, "tokens.csv");
    writeFileSync(
      file,
      `serial,secret,type,digits,counter_or_period\nHW-1,${tokenKey.toString("hex")},hotp,6,0\nHW-2,${randomBytes(20).toString("hex")},totp,6,30\n`,
    );
    secrets.set("token secret hex", tokenKey.toString("hex"));
    rawSecrets.set("token secret bytes", tokenKey);

    const imported = await box.run(["token", "import", file]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /imported 2 tokens/);
    assert.match(imported.stderr, /importing tokens: 0%\n(.*\n)*importing tokens: 100%/);

    const again = await box.run(["token", "import", file]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /nothing was imported/);
    assert.match(again.stderr, /^ {2}serial HW-1: /m);

    const assigned = await box.json<{ serial: string; username: string }>(["token", "assign", "HW-1", "bob"]);
    assert.deepEqual([assigned.serial, assigned.username], ["HW-1", "bob"]);

    const found = await box.json<{ serial: string }[]>(["token", "find", hotp(tokenKey, 0)]);
    assert.deepEqual(
      found.map((t) => t.serial),
      ["HW-1"],
    );
    const login = await box.json<{ result: string; factor: string }>([
      "passcode",
      "check",
      "bob",
      hotp(tokenKey, 1),
    ]);
    assert.deepEqual([login.result, login.factor], ["allow", "token"]);

    // Beyond the look-ahead window a code is refused until the token is resynchronised with two codes.
    assert.equal((await box.run(["passcode", "check", "bob", hotp(tokenKey, 42)])).code, 1);
    const resync = await box.json<{ resynchronised: boolean }>([
      "token",
      "resync",
      "HW-1",
      hotp(tokenKey, 40),
      hotp(tokenKey, 41),
    ]);
    assert.equal(resync.resynchronised, true);
    assert.equal((await box.run(["passcode", "check", "bob", hotp(tokenKey, 42)])).code, 0);

    // An encrypted PSKC file (RFC 6030 §6.1) needs its pre-shared key; without it nothing is imported.
    const pskc = join(import.meta.dirname, "../fixtures/pskc/rfc6030-6.1-psk-aes128-cbc.pskcxml");
    const locked = await box.run(["token", "import", pskc]);
    assert.equal(locked.code, 1);
    assert.match(locked.stderr, /--psk/);
    assert.match(locked.stderr, /nothing was imported/);
    const unlocked = await box.json<{ imported: number }>([
      "token",
      "import",
      pskc,
      "--psk",
      "12345678901234567890123456789012",
    ]);
    assert.equal(unlocked.imported, 2);

    const { tokens } = await box.json<{ tokens: { serial: string; username: string | null }[] }>([
      "token",
      "list",
      "--unassigned",
    ]);
    assert.deepEqual(
      tokens.map((t) => t.serial).filter((serial) => serial.startsWith("HW-")),
      ["HW-2"],
    );
    assert.equal(tokens.length, 3);
  });

  test("audit tail and auth log record what was done, by whom", async () => {
    const events = await box.json<{ id: number; action: string; actor: string; at: string }[]>([
      "audit",
      "tail",
      "--limit",
      "1000",
    ]);
    const actions = new Set(events.map((e) => e.action));
    for (const a of ["user.import", "factor.add", "application.create", "bypass.issue", "rescue.generate"])
      assert.ok(actions.has(a), a);
    for (const a of ["token.import", "token.assign"]) assert.ok(actions.has(a), a);
    // Administrative changes name the operator; a rescue code's use is the user's own act.
    const byOperator = events.filter((e) => e.action !== "rescue.use");
    assert.deepEqual([...new Set(byOperator.map((e) => e.actor))], [`cli:${userInfo().username}`]);
    assert.equal(events.find((e) => e.action === "rescue.use")?.actor, "bob");
    assert.ok(
      events.every((e) => ISO.test(e.at)),
      "times are ISO-8601",
    );
    const last2 = await box.json<{ id: number }[]>(["audit", "tail", "--limit", "2"]);
    assert.deepEqual(
      last2.map((e) => e.id),
      events.slice(-2).map((e) => e.id),
    );

    const log = await box.json<{ username: string; result: string; factor: string }[]>([
      "auth",
      "log",
      "--limit",
      "50",
    ]);
    assert.ok(log.some((e) => e.username === "alice" && e.result === "allow" && e.factor === "totp"));
    assert.ok(log.some((e) => e.username === "bob" && e.result === "deny"));
  });

  test("no secret printed once appears in any listing, log or the database files", async () => {
    assert.ok(secrets.size >= 25, `collected ${secrets.size} secrets`);
    const listings = [
      ["user", "show", "alice"],
      ["user", "show", "bob", "--json"],
      ["user", "list", "--json"],
      ["token", "list", "--json"],
      ["bypass", "list", "bob"],
      ["bypass", "list", "alice", "--json"],
      ["app", "list", "--json"],
      ["audit", "tail", "--json", "--limit", "1000"],
      ["auth", "log", "--json"],
    ];
    for (const args of listings) {
      const r = await box.run(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      if (args.includes("--json")) JSON.parse(r.stdout);
      for (const [name, secret] of secrets) {
        assert.ok(
          !r.stdout.includes(secret) && !r.stderr.includes(secret),
          `${name} leaked by ${args.join(" ")}`,
        );
      }
    }

    const files = ["", "-wal", "-shm"].map((s) => box.sqlitePath + s).filter((f) => existsSync(f));
    const database = Buffer.concat(files.map((f) => readFileSync(f)));
    assert.ok(database.length > 0);
    for (const [name, secret] of secrets)
      assert.equal(database.indexOf(secret), -1, `${name} stored in clear`);
    for (const [name, bytes] of rawSecrets)
      assert.equal(database.indexOf(bytes), -1, `${name} stored in clear`);
  });
});
