// Duo's official Node client (@duosecurity/duo_api 1.5.0, signature versions 2 and 5) against a real Twofold with TLS on port 443.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import https from "node:https";
import { after, before, describe, test } from "node:test";
import duo, { type Reply as DuoReply } from "@duosecurity/duo_api";
import constants from "@duosecurity/duo_api/lib/constants.js";
import { hotp } from "../cli/helpers.ts";
import { ADMIN } from "../http/support.ts";
import { haveOpenSSL } from "../support/certificates.ts";
import { type DuoTestServer, type Integration, startDuoTestServer } from "../support/duo-server.ts";

/** GET over HTTPS trusting `ca` (the Duo client's own agent does not do plain GETs). */
function getTLS(url: string, ca: string): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: readFileSync(ca) }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers["content-type"] ?? ""),
            body: Buffer.concat(chunks),
          }),
        );
      })
      .on("error", reject);
  });
}

type Client = InstanceType<typeof duo.Client>;

function call(
  client: Client,
  method: string,
  path: string,
  params: Record<string, string> = {},
): Promise<DuoReply> {
  return new Promise((resolve) => client.jsonApiCall(method, path, params, (r: DuoReply) => resolve(r)));
}

/** `response` of an OK reply (fails the test with the reply otherwise). */
async function ok<T = Record<string, unknown>>(
  client: Client,
  method: string,
  path: string,
  params: Record<string, string> = {},
): Promise<T> {
  const r = await call(client, method, path, params);
  assert.equal(r.stat, "OK", `${method} ${path}: ${JSON.stringify(r)}`);
  return r.response as T;
}

const run = haveOpenSSL("Duo client tests");
const TOKEN_SECRET = Buffer.from("3132333435363738393031323334353637383930", "hex");

describe("@duosecurity/duo_api against Twofold on port 443", { skip: !run }, () => {
  let s: DuoTestServer;
  let auth: Integration;
  let plain: Integration;
  /** One user per signature version: each sends two pushes, within the per-user push limits. */
  const devices = new Map<number, string>();

  before(async () => {
    s = await startDuoTestServer({ port: 443 });
    // The client pins Duo's CA list and ignores NODE_EXTRA_CA_CERTS; its documented override (duo-clients.md).
    (constants as { DUO_PINNED_CERT: string }).DUO_PINNED_CERT = readFileSync(s.certificates.ca, "utf8");
    // Its keys also enrol users through /auth/v2/enroll, which an integration must be allowed to do.
    auth = await s.createIntegration("auth-api", { allowEnrollment: true });
    plain = await s.createIntegration("auth-api", { allowPlainPush: true });
    const { services } = s.t.runtime;
    for (const v of [2, 5]) {
      await services.createUser(ADMIN, { username: `alice${v}` });
      devices.set(v, await s.activateAuthenticator(`alice${v}`));
    }
    await services.createUser(ADMIN, { username: "bob" });
    await services.importTokens(ADMIN, [
      {
        serial: "TOK-0001",
        type: "hotp",
        secret: TOKEN_SECRET,
        digits: 6,
        algorithm: "SHA1",
        period: null,
        counter: 0,
        manufacturer: null,
        model: null,
      },
    ]);
    await services.assignToken(ADMIN, "TOK-0001", "bob");
  });

  after(async () => {
    await s?.close();
  });

  for (const sigVersion of [2, 5] as const) {
    describe(`signature version ${sigVersion}`, () => {
      const client = () => new duo.Client(auth.ikey, auth.skey, "localhost", sigVersion);
      const alice = `alice${sigVersion}`;
      const aliceDevice = () => devices.get(sigVersion)!;

      test("check answers the server time; preauth answers auth with the user's devices, deny for strangers", async () => {
        const checked = await ok<{ time: number }>(client(), "GET", "/auth/v2/check");
        assert.ok(Math.abs(checked.time - Date.now() / 1000) < 5);
        const pre = await ok<{ result: string; devices: Array<{ device: string; capabilities: string[] }> }>(
          client(),
          "POST",
          "/auth/v2/preauth",
          { username: alice, ipaddr: "198.51.100.7" },
        );
        assert.equal(pre.result, "auth");
        assert.equal(pre.devices.length, 1);
        assert.deepEqual(pre.devices[0]!.capabilities, ["auto", "push", "mobile_otp"]);
        const stranger = await ok<{ result: string }>(client(), "POST", "/auth/v2/preauth", {
          username: "mallory",
        });
        assert.equal(stranger.result, "deny");
      });

      test("an async push: auth_status shows the code, the command-line authenticator approves, auth_status says allow", async () => {
        const { txid } = await ok<{ txid: string }>(client(), "POST", "/auth/v2/auth", {
          username: alice,
          factor: "push",
          device: "auto",
          async: "1",
          pushinfo: "from=Library PC&note=it's (ok)!*",
        });
        const first = await ok<{ result: string; status: string; status_msg: string }>(
          client(),
          "GET",
          "/auth/v2/auth_status",
          { txid },
        );
        assert.equal(first.result, "waiting");
        assert.equal(first.status, "pushed");
        const code = /Enter code (\d{6})/.exec(first.status_msg)?.[1];
        assert.ok(code, first.status_msg);
        const pending = await s.device(aliceDevice(), ["pending", "--json"]);
        assert.match(pending.stdout, /Library PC/);
        const approved = await s.device(aliceDevice(), ["approve", txid, "--code", code]);
        assert.equal(approved.stdout.trim(), "approved", approved.stderr);
        const final = await ok<{ result: string; status: string }>(client(), "GET", "/auth/v2/auth_status", {
          txid,
        });
        assert.deepEqual([final.result, final.status], ["allow", "allow"]);
      });

      test("a sync push (an integration allowing pushes without a code) waits for the authenticator's approval", async () => {
        const watcher = s.device(aliceDevice(), ["watch", "--auto", "approve", "--count", "1"], 30_000);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const plainClient = new duo.Client(plain.ikey, plain.skey, "localhost", sigVersion);
        const result = await ok<{ result: string; status: string; status_msg: string }>(
          plainClient,
          "POST",
          "/auth/v2/auth",
          { username: alice, factor: "auto", device: "auto" },
        );
        await watcher;
        assert.deepEqual([result.result, result.status], ["allow", "allow"]);
        // The same integration that cannot show a code may not send a verified push synchronously elsewhere:
        const denied = await ok<{ result: string; status_msg: string }>(client(), "POST", "/auth/v2/auth", {
          username: alice,
          factor: "push",
          device: "auto",
        });
        assert.equal(denied.result, "deny");
        assert.match(denied.status_msg, /cannot show a verification code/);
      });

      test("passcodes: the authenticator's code, a hardware token code, a bypass code; wrong and replayed codes deny", async () => {
        const shown = await s.device(aliceDevice(), ["passcode"]);
        const appCode = /\b(\d{6})\b/.exec(shown.stdout)![1]!;
        const app = await ok<{ result: string }>(client(), "POST", "/auth/v2/auth", {
          username: alice,
          factor: "passcode",
          passcode: appCode,
        });
        assert.equal(app.result, "allow");
        // A second later: the same parameters under a new date (an identical signed request is refused as such).
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const replay = await ok<{ result: string }>(client(), "POST", "/auth/v2/auth", {
          username: alice,
          factor: "passcode",
          passcode: appCode,
        });
        assert.equal(replay.result, "deny");

        const counter = sigVersion === 2 ? 0 : 2;
        const token = await ok<{ result: string; status: string }>(client(), "POST", "/auth/v2/auth", {
          username: "bob",
          factor: "passcode",
          passcode: hotp(TOKEN_SECRET, counter),
        });
        assert.deepEqual([token.result, token.status], ["allow", "allow"]);

        const issued = await s.t.runtime.services.issueBypassCodes(ADMIN, "bob", {
          count: 1,
          uses: 1,
          validSeconds: 600,
        });
        const bypass = await ok<{ result: string; status: string }>(client(), "POST", "/auth/v2/auth", {
          username: "bob",
          factor: "passcode",
          passcode: issued.codes.reveal()[0]!,
        });
        assert.deepEqual([bypass.result, bypass.status], ["allow", "bypass"]);
        const wrong = await ok<{ result: string; status_msg: string }>(client(), "POST", "/auth/v2/auth", {
          username: "bob",
          factor: "passcode",
          passcode: "000000",
        });
        assert.equal(wrong.result, "deny");
        assert.equal(wrong.status_msg, "Incorrect passcode. Please try again.");
      });

      test("an async passcode: auth returns a txid at once, auth_status the outcome", async () => {
        // Token codes in use: version 2 takes counters 0 and 1, version 5 counters 2 and 3 (look-ahead 10).
        const counter = sigVersion === 2 ? 1 : 3;
        const good = await ok<{ txid: string }>(client(), "POST", "/auth/v2/auth", {
          username: "bob",
          factor: "passcode",
          passcode: hotp(TOKEN_SECRET, counter),
          async: "1",
        });
        const allowed = await ok<{ result: string; status: string }>(
          client(),
          "GET",
          "/auth/v2/auth_status",
          {
            txid: good.txid,
          },
        );
        assert.deepEqual([allowed.result, allowed.status], ["allow", "allow"]);
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const bad = await ok<{ txid: string }>(client(), "POST", "/auth/v2/auth", {
          username: "bob",
          factor: "passcode",
          passcode: hotp(TOKEN_SECRET, counter),
          async: "1",
        });
        assert.notEqual(bad.txid, good.txid);
        const denied = await ok<{ result: string }>(client(), "GET", "/auth/v2/auth_status", {
          txid: bad.txid,
        });
        assert.equal(denied.result, "deny");
      });

      test("ping, logo, enroll and enroll_status; the text prompt and its factor tokens", async () => {
        const ping = await ok<{ time: number }>(client(), "GET", "/auth/v2/ping");
        assert.ok(Math.abs(ping.time - Date.now() / 1000) < 5);
        const logo = await new Promise<string>((resolve) =>
          client().apiCall("GET", "/auth/v2/logo", {}, resolve),
        );
        assert.equal(logo.slice(1, 4), "PNG");

        const username = `newcomer${sigVersion}`;
        const enrolled = await ok<{
          user_id: string;
          username: string;
          activation_code: string;
          activation_barcode: string;
          expiration: number;
        }>(client(), "POST", "/auth/v2/enroll", { username, valid_secs: "3600" });
        assert.equal(enrolled.username, username);
        assert.ok(enrolled.expiration > Date.now() / 1000);
        const status = (activation_code: string) =>
          ok<string>(client(), "POST", "/auth/v2/enroll_status", {
            user_id: enrolled.user_id,
            activation_code,
          });
        assert.equal(await status(enrolled.activation_code), "waiting");
        // The barcode is a QR code image of the link at an opaque handle; the old form with a value is gone.
        const barcode = await getTLS(enrolled.activation_barcode, s.certificates.ca);
        assert.deepEqual(
          [barcode.status, barcode.type, barcode.body.subarray(1, 4).toString()],
          [200, "image/png", "PNG"],
        );
        const foreign = await getTLS(
          `https://localhost/frame/qr?value=${encodeURIComponent("https://evil.example/")}`,
          s.certificates.ca,
        );
        assert.equal(foreign.status, 404);
        assert.equal(await status(`${enrolled.activation_code.slice(0, -2)}xx`), "invalid");
        const link = enrolled.activation_code.replace(/^https:\/\/[^/]+/, `https://${s.host}`);
        const state = `${s.dir}/enrolled-${sigVersion}.json`;
        const activated = await s.device(state, ["activate", link]);
        assert.equal(activated.code, 0, activated.stderr);
        await new Promise((resolve) => setTimeout(resolve, 1100));
        assert.equal(await status(enrolled.activation_code), "success");
        const taken = await call(client(), "POST", "/auth/v2/enroll", { username });
        assert.deepEqual([taken.stat, taken.code], ["FAIL", 40901]);

        const pre = await ok<{ prompt: { text: string; factors: Record<string, string> } }>(
          client(),
          "POST",
          "/auth/v2/preauth",
          { username, text_prompt: "1" },
        );
        assert.match(pre.prompt.text, /1\. Push a login request/);
        assert.deepEqual(pre.prompt.factors, { default: "push1", "1": "push1" });
        const { txid } = await ok<{ txid: string }>(client(), "POST", "/auth/v2/auth", {
          username,
          factor: "prompt",
          prompt: pre.prompt.factors["1"]!,
          async: "1",
        });
        const waiting = await ok<{ result: string; status_msg: string }>(
          client(),
          "GET",
          "/auth/v2/auth_status",
          {
            txid,
          },
        );
        const code = /Enter code (\d+)/.exec(waiting.status_msg)![1]!;
        assert.equal((await s.device(state, ["approve", txid, "--code", code])).stdout.trim(), "approved");
        const final = await ok<{ result: string }>(client(), "GET", "/auth/v2/auth_status", { txid });
        assert.equal(final.result, "allow");
      });

      test("SMS to a user with no phone verified for texts is Duo's 'no capable device', sync or async", async () => {
        for (const extra of [{}, { async: "1" }] as Record<string, string>[]) {
          const sms = await call(client(), "POST", "/auth/v2/auth", {
            username: alice,
            factor: "sms",
            ...extra,
          });
          assert.deepEqual([sms.stat, sms.code, sms.message_detail], ["FAIL", 40002, "no capable device"]);
        }
      });

      test("errors come back as Duo's JSON: no capable device, a bad txid, keys of the wrong type", async () => {
        const phone = await call(client(), "POST", "/auth/v2/auth", { username: alice, factor: "phone" });
        assert.deepEqual(
          [phone.stat, phone.code, phone.message_detail],
          ["FAIL", 40002, "no capable device"],
        );
        const status = await call(client(), "GET", "/auth/v2/auth_status", { txid: "0".repeat(32) });
        assert.deepEqual([status.stat, status.code], ["FAIL", 40002]);
        const admin = await s.createIntegration("admin-api");
        const wrongType = await call(
          new duo.Client(admin.ikey, admin.skey, "localhost", sigVersion),
          "GET",
          "/auth/v2/check",
        );
        assert.deepEqual(
          [wrongType.stat, wrongType.code, wrongType.message],
          ["FAIL", 40301, "Access forbidden"],
        );
        const badKey = await call(
          new duo.Client(auth.ikey, "x".repeat(40), "localhost", sigVersion),
          "GET",
          "/auth/v2/check",
        );
        assert.deepEqual([badKey.stat, badKey.code], ["FAIL", 40103]);
      });
    });
  }

  for (const sigVersion of [2, 5] as const) {
    test(`Admin API (signature version ${sigVersion}): a user, a hardware token attached and accepted, bypass codes whose limits hold`, async () => {
      const admin = await s.createIntegration("admin-api");
      const client = new duo.Client(admin.ikey, admin.skey, "localhost", sigVersion);
      const username = `carol${sigVersion}`;
      const user = await ok<{ user_id: string; username: string; status: string }>(
        client,
        "POST",
        "/admin/v1/users",
        {
          username,
          realname: "Carol Example",
        },
      );
      assert.deepEqual([user.username, user.status], [username, "active"]);
      const found = await ok<Array<{ user_id: string }>>(client, "GET", "/admin/v1/users", { username });
      assert.deepEqual(
        found.map((u) => u.user_id),
        [user.user_id],
      );

      const secret = Buffer.from(`twofold-admin-token-${sigVersion}`);
      const token = await ok<{ token_id: string; serial: string }>(client, "POST", "/admin/v1/tokens", {
        type: "h6",
        serial: `ADM-${sigVersion}`,
        secret: secret.toString("hex"),
        counter: "0",
      });
      await ok(client, "POST", `/admin/v1/users/${user.user_id}/tokens`, { token_id: token.token_id });
      const read = await ok<{ tokens: Array<{ token_id: string }> }>(
        client,
        "GET",
        `/admin/v1/users/${user.user_id}`,
      );
      assert.deepEqual(
        read.tokens.map((x) => x.token_id),
        [token.token_id],
      );
      const authClient = new duo.Client(auth.ikey, auth.skey, "localhost", sigVersion);
      const withToken = await ok<{ result: string }>(authClient, "POST", "/auth/v2/auth", {
        username,
        factor: "passcode",
        passcode: hotp(secret, 0),
      });
      assert.equal(withToken.result, "allow");

      const codes = await ok<string[]>(client, "POST", `/admin/v1/users/${user.user_id}/bypass_codes`, {
        count: "2",
        reuse_count: "2",
        valid_secs: "3600",
      });
      assert.equal(codes.length, 2);
      assert.notEqual(codes[0], codes[1]);
      const listed = await call(client, "GET", `/admin/v1/users/${user.user_id}/bypass_codes`);
      assert.equal(JSON.stringify(listed).includes(codes[0]!), false, "a list never shows a code");
      const results: string[] = [];
      for (let i = 0; i < 3; i++) {
        // Each attempt is a new request (a second apart: an identical signed request would be a replay).
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1100));
        const r = await ok<{ result: string }>(authClient, "POST", "/auth/v2/auth", {
          username,
          factor: "passcode",
          passcode: codes[0]!,
        });
        results.push(r.result);
      }
      assert.deepEqual(results, ["allow", "allow", "deny"]);
      const expiry = await ok<Array<{ expiration: number | null }>>(
        client,
        "GET",
        `/admin/v1/users/${user.user_id}/bypass_codes`,
      );
      for (const c of expiry)
        assert.ok(c.expiration !== null && Math.abs(c.expiration - (Date.now() / 1000 + 3600)) < 60);
    });
  }

  test("the same call twice within one second: one is answered; the client resends the other unchanged after the 429 and gets 409 (one attempt logged)", async () => {
    const { services, store } = s.t.runtime;
    await services.createUser(ADMIN, { username: "dup" });
    const dup = await services.requireUser("dup");
    const client = new duo.Client(auth.ikey, auth.skey, "localhost");
    // Both calls are signed within one second (dates have one-second resolution), so their bytes are identical.
    while (Date.now() % 1000 > 300) await new Promise((resolve) => setTimeout(resolve, 20));
    const params = { username: "dup", factor: "passcode", passcode: "000000", ipaddr: "client7.example.org" };
    const started = Date.now();
    const replies = await Promise.all([
      call(client, "POST", "/auth/v2/auth", params).then((r) => ({ r, ms: Date.now() - started })),
      call(client, "POST", "/auth/v2/auth", params).then((r) => ({ r, ms: Date.now() - started })),
    ]);
    replies.sort((a, b) => a.ms - b.ms);
    const [answered, refused] = replies;
    assert.equal(answered!.r.stat, "OK", JSON.stringify(answered!.r));
    assert.equal((answered!.r.response as { result: string }).result, "deny");
    // duo_api retries a 429 after 1 s + up to 1 s of jitter with the same headers: that copy is a replay.
    assert.deepEqual([refused!.r.stat, refused!.r.code], ["FAIL", 40901], JSON.stringify(refused!.r));
    assert.ok(refused!.ms >= 1000 && refused!.ms < 4000, `the refusal came after ${refused!.ms} ms`);
    const { entries } = await store.listAuthLog({
      minTime: 0,
      maxTime: Number.MAX_SAFE_INTEGER,
      limit: 10,
      userIds: [dup.id],
    });
    assert.equal(entries.length, 1, "one attempt was processed");
    console.log(`duo_api: the answer after ${answered!.ms} ms, the 409 after ${refused!.ms} ms`);
  });
});
