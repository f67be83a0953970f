// `twofold device …` end to end: the command-line authenticator against a real listening `twofold serve`, with pushes
// started by `twofold push send` as a login would; every step runs the CLI as a child process.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer as createHTTPServer, request as httpRequest } from "node:http";
import { createServer as createHTTPSServer } from "node:https";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { haveOpenSSL, makeCertificates } from "../support/certificates.ts";
import { collectOutput, createSandbox, type RunResult, type Sandbox, totp } from "./helpers.ts";

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, "close");
  return port;
}

/** `twofold serve` (production mode) on `port`; resolves once it listens. */
async function startServer(box: Sandbox): Promise<ChildProcess> {
  const child = box.spawn(["serve"]);
  let out = "";
  child.stderr!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 30 s: ${out}`)), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (/listening on http/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${out}`));
    });
  });
  return child;
}

interface SentPush {
  txid: string;
  code: string | null;
  /** The waiting `push send` run's final JSON and exit code. */
  result: Promise<{ exit: number | null; status: string }>;
}

/** `twofold push send USER --json` (run in this process): the txid and code arrive on stderr at once, the outcome on stdout at the end. */
async function sendPush(box: Sandbox, user: string, extra: string[] = []): Promise<SentPush> {
  const child = box.start(["push", "send", user, "--wait", "30", "--json", ...extra]);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  const exited = once(child, "exit") as Promise<[number | null]>;
  const first = await new Promise<{ txid: string; code: string | null }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no push line in 30 s: ${stderr}${stdout}`)), 30_000);
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      const line = /^\{.*"txid".*\}$/m.exec(stderr);
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line[0]));
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`push send exited with ${code} before sending: ${stderr}${stdout}`));
    });
  });
  return {
    ...first,
    result: exited.then(([exit]) => ({ exit, status: (JSON.parse(stdout) as { status: string }).status })),
  };
}

interface WatchedEvent {
  event: string;
  txid: string;
  decision?: string;
  status?: string;
}

/**
 * `twofold device watch --auto DECISION --count 1 --json` on `stateFile`, while alice is sent one push without a code:
 * the push's outcome, the watcher's exit code and the JSON events it printed, in order.
 */
async function watchOnePush(
  box: Sandbox,
  decision: "approve" | "deny",
  stateFile: string,
): Promise<{
  push: SentPush;
  outcome: { exit: number | null; status: string };
  code: number | null;
  events: WatchedEvent[];
  out: string;
}> {
  const watcher = box.start([
    "device",
    "watch",
    "--auto",
    decision,
    "--count",
    "1",
    "--json",
    "--state",
    stateFile,
  ]);
  let out = "";
  watcher.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = once(watcher, "exit") as Promise<[number | null]>;
  const push = await sendPush(box, "alice", ["--no-code"]);
  const outcome = await push.result;
  const [code] = await exited;
  const events = out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as WatchedEvent);
  return { push, outcome, code, events, out };
}

/**
 * A forwarding proxy in front of the server that holds the reply to each push answer until the device's live
 * stream has carried that push's `resolved` event (then a little longer): the order a slow network or a busy
 * server can deliver them in. Its URL stands in for the server's in a device's state file (signatures cover the
 * path, not the host).
 */
async function startAnswerDelayingProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const resolved = new Set<string>();
  const waiters: Array<() => void> = [];
  const streamedResolution = async (txid: string) => {
    const deadline = Date.now() + 10_000;
    while (!resolved.has(txid) && Date.now() < deadline)
      await new Promise<void>((wake) => {
        waiters.push(wake);
        setTimeout(wake, 100);
      });
  };
  const proxy = createHTTPServer((req, res) => {
    const upstream = httpRequest(
      new URL(req.url ?? "/", target),
      { method: req.method, headers: req.headers },
      async (answer) => {
        res.on("close", () => answer.destroy());
        if (String(answer.headers["content-type"]).startsWith("text/event-stream")) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.flushHeaders();
          let text = "";
          answer.on("data", (chunk: Buffer) => {
            res.write(chunk);
            text += chunk.toString();
            for (const m of text.matchAll(/event: resolved\ndata: \{"txid":"([^"]+)"/g)) resolved.add(m[1]!);
            for (const wake of waiters.splice(0)) wake();
          });
          answer.on("end", () => res.end());
          return;
        }
        const txid = /\/pushes\/([^/]+)\/answer$/.exec(req.url ?? "")?.[1];
        if (txid) {
          const body: Buffer[] = [];
          for await (const chunk of answer) body.push(chunk as Buffer);
          await streamedResolution(decodeURIComponent(txid));
          await new Promise((r) => setTimeout(r, 200));
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(body));
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  const { port } = proxy.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      proxy.closeAllConnections();
      proxy.close();
      await once(proxy, "close");
    },
  };
}

/** A wrong code of the right shape. */
function wrongCode(code: string): string {
  return code.slice(0, -1) + String((Number(code.at(-1)) + 1) % 10);
}

describe("twofold device (command-line authenticator) against a real server", () => {
  let box: Sandbox;
  let server: ChildProcess;
  let url: string;
  let state: string;
  /** Run `twofold device …` on the test's state file. */
  let device: (args: string[], input?: string) => Promise<RunResult>;
  let deviceJSON: <T>(args: string[]) => Promise<T>;

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    box = createSandbox(
      [
        "server:",
        `  port: ${port}`,
        `  publicUrl: ${url}`,
        // A run of test pushes must not hit the fatigue limits (D4); they have their own tests.
        "policy:",
        "  push: { ratePerWindow: 100, maxSinceSuccess: 100 }",
      ].join("\n"),
    );
    assert.equal((await box.run(["user", "add", "alice"])).code, 0);
    assert.equal((await box.run(["user", "add", "bob"])).code, 0);
    server = await startServer(box);
    state = join(box.dir, "home", "device.json");
    device = (args, input) => box.run(["device", ...args, "--state", state], input ? { input } : {});
    deviceJSON = <T>(args: string[]) => box.json<T>(["device", ...args, "--state", state]);
  });

  after(async () => {
    if (server && server.exitCode === null) {
      const exited = once(server, "exit");
      server.kill("SIGTERM");
      await exited;
    }
    box?.cleanup();
  });

  test("a missing state file is a clear error (exit 1), not a stack trace", async () => {
    for (const args of [["pending"], ["passcode"], ["accounts"], ["approve", "abc"]]) {
      const r = await device(args);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, /^error: no device state at .*device\.json: activate an account first/);
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, "no stack trace");
    }
  });

  test("activate from a `push activate` link: the state file is 0600 and holds a key, never printed", async () => {
    const ticket = await box.json<{ link: string }>(["push", "activate", "alice"]);
    assert.ok(ticket.link.startsWith(`${url}/authenticator#activate=`));
    const r = await device(["activate", ticket.link, "--name", "ci runner", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const shown = JSON.parse(r.stdout);
    assert.equal(shown.username, "alice");
    assert.equal(shown.server, url);
    assert.equal(shown.name, "ci runner");
    assert.match(shown.deviceId, /^DP[A-Z0-9]{18}$/);

    assert.equal(statSync(state).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(state, "utf8"));
    assert.equal(saved.accounts.length, 1);
    const [account] = saved.accounts;
    assert.equal(account.privateKey.kty, "EC");
    assert.equal(account.privateKey.crv, "P-256");
    assert.ok(!r.stdout.includes(account.privateKey.d) && !r.stdout.includes(account.totp.secret));

    // The server lists the device under alice.
    const devices = await box.json<{ id: string; name: string }[]>(["push", "devices", "alice"]);
    assert.deepEqual(
      devices.map((d) => [d.id, d.name]),
      [[shown.deviceId, "ci runner"]],
    );
    const accounts = await device(["accounts", "--json"]);
    assert.equal(accounts.code, 0, accounts.stderr);
    assert.ok(
      !accounts.stdout.includes(account.privateKey.d) && !accounts.stdout.includes(account.totp.secret),
    );
    assert.deepEqual(
      JSON.parse(accounts.stdout).accounts.map((a: { account: string }) => a.account),
      [`alice@${new URL(url).host}`],
    );
  });

  test("a used link, an unknown link and something that is not a link are refused clearly", async () => {
    const ticket = await box.json<{ link: string }>(["push", "activate", "alice"]);
    assert.equal((await device(["activate", ticket.link])).code, 0);
    const again = await device(["activate", ticket.link]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /^error: this activation link is not valid: it was used already or has expired/,
    );

    const forged = ticket.link.replace(/#activate=.*$/, "#activate=ACFORGEDFORGEDFORGED1.c2VjcmV0");
    const unknown = await device(["activate", forged, "--json"]);
    assert.equal(unknown.code, 1);
    assert.equal(JSON.parse(unknown.stdout).error.code, "ERR_ACTIVATION_INVALID");

    const notLink = await device(["activate", "ACxxxx.yyyy"]);
    assert.equal(notLink.code, 2);
    assert.match(notLink.stderr, /^error: this is not an activation link\nhint: /);

    // The failures did not touch the state: alice's two devices are there, nothing else.
    assert.equal(JSON.parse(readFileSync(state, "utf8")).accounts.length, 2);
  });

  test("the passcode the device shows is one the server accepts (and it matches an independent TOTP)", async () => {
    const { passcodes } = await deviceJSON<{
      passcodes: { code: string; secondsLeft: number; deviceId: string }[];
    }>([
      "passcode",
      "--account",
      (await deviceJSON<{ accounts: { deviceId: string }[] }>(["accounts"])).accounts[0]!.deviceId,
    ]);
    assert.equal(passcodes.length, 1);
    const [p] = passcodes;
    assert.match(p!.code, /^\d{6}$/);
    assert.ok(p!.secondsLeft >= 1 && p!.secondsLeft <= 30);
    const seed = JSON.parse(readFileSync(state, "utf8")).accounts[0].totp.secret as string;
    const key = Buffer.from(
      seed
        .split("")
        .map((c) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".indexOf(c).toString(2).padStart(5, "0"))
        .join("")
        .match(/.{8}/g)!
        .map((b) => Number.parseInt(b, 2)),
    );
    const now = Date.now();
    assert.ok([totp(key, now), totp(key, now - 30_000)].includes(p!.code), "RFC 6238 from the saved seed");
    const check = await box.json<{ result: string; factor: string }>(["passcode", "check", "alice", p!.code]);
    assert.deepEqual([check.result, check.factor], ["allow", "totp"]);
  });

  test("approve with the code shown on the login screen: the waiting login is approved", async () => {
    const push = await sendPush(box, "alice", ["--info", "VPN login"]);
    assert.match(push.code!, /^\d{6}$/);
    const { pushes } = await deviceJSON<{ pushes: { txid: string; verified: boolean; info: string }[] }>([
      "pending",
    ]);
    const listed = pushes.find((p) => p.txid === push.txid);
    assert.ok(listed, "the pending push is listed");
    assert.equal(listed.verified, true);
    assert.equal(listed.info, "VPN login");

    const r = await device(["approve", push.txid, "--code", push.code!, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { txid: push.txid, decision: "approve", status: "approved" });
    assert.deepEqual(await push.result, { exit: 0, status: "approved" });
    assert.deepEqual((await deviceJSON<{ pushes: unknown[] }>(["pending"])).pushes, []);

    // A second answer to the same push is refused.
    const late = await device(["deny", push.txid]);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /already has an answer/);
  });

  test("approve with a wrong code: the login is denied and the command exits 1", async () => {
    const push = await sendPush(box, "alice");
    const r = await device(["approve", push.txid, "--code", wrongCode(push.code!)]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^denied: the login was not approved/);
    assert.deepEqual(await push.result, { exit: 1, status: "denied" });
  });

  test("approve without the code of a verified push is a usage error that names --code", async () => {
    const push = await sendPush(box, "alice");
    const r = await device(["approve", push.txid]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /asks for the 6-digit code shown on the login screen\nhint: add --code CODE/);
    assert.equal((await device(["deny", push.txid])).code, 0);
    assert.deepEqual(await push.result, { exit: 1, status: "denied" });
  });

  test("deny: the waiting login is denied", async () => {
    const push = await sendPush(box, "alice", ["--no-code"]);
    assert.equal(push.code, null);
    const r = await device(["deny", push.txid, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status, "denied");
    assert.deepEqual(await push.result, { exit: 1, status: "denied" });
  });

  test("watch --auto approve answers a push as it arrives on the live stream", async () => {
    const { push, outcome, code, events, out } = await watchOnePush(box, "approve", state);
    assert.deepEqual(outcome, { exit: 0, status: "approved" });
    assert.equal(code, 0);
    assert.equal(events[0]?.event, "push");
    assert.equal(events[0]?.txid, push.txid);
    assert.deepEqual(events[1], {
      event: "answered",
      txid: push.txid,
      decision: "approve",
      status: "approved",
    });
    // The stream's news that the push ended, when it came before the watcher stopped, follows the answer's line.
    assert.ok(
      events.slice(2).every((e) => e.event === "resolved"),
      out,
    );
  });

  test("watch --auto approve --code-file types the code of a verified push", async () => {
    const codes = join(box.dir, "codes.txt");
    writeFileSync(codes, "");
    const watcher = box.start([
      "device",
      "watch",
      "--auto",
      "approve",
      "--code-file",
      codes,
      "--count",
      "1",
      "--state",
      state,
    ]);
    const exited = once(watcher, "exit") as Promise<[number | null]>;
    const push = await sendPush(box, "alice");
    writeFileSync(codes, `${push.txid} ${push.code}\n`);
    assert.deepEqual(await push.result, { exit: 0, status: "approved" });
    const [code] = await exited;
    assert.equal(code, 0);
  });

  test("watch --auto: the answer's reply is printed before the stream's news that the push ended, even when the reply is the slower", async () => {
    const proxy = await startAnswerDelayingProxy(url);
    try {
      const saved = JSON.parse(readFileSync(state, "utf8"));
      saved.accounts = [{ ...saved.accounts[0], server: proxy.url }];
      const slow = join(box.dir, "slow-network.json");
      writeFileSync(slow, JSON.stringify(saved), { mode: 0o600 });
      const { push, outcome, code, events } = await watchOnePush(box, "deny", slow);
      assert.deepEqual(outcome, { exit: 1, status: "denied" });
      assert.equal(code, 0);
      assert.deepEqual(
        events.map((e) => [e.event, e.txid, e.status]),
        [
          ["push", push.txid, undefined],
          ["answered", push.txid, "denied"],
          ["resolved", push.txid, "denied"],
        ],
      );
    } finally {
      await proxy.close();
    }
  });

  test("two accounts in one state file: pending lists both; fraud finds bob's push and stops his pushes", async () => {
    const ticket = await box.json<{ link: string }>(["push", "activate", "bob"]);
    // The link from stdin keeps it out of the process list.
    assert.equal((await device(["activate", "-", "--name", "bob's runner"], ticket.link)).code, 0);
    const push = await sendPush(box, "bob", ["--no-code"]);
    const listed = (await deviceJSON<{ pushes: { txid: string; username: string }[] }>(["pending"])).pushes;
    assert.deepEqual(
      listed.map((p) => [p.txid, p.username]),
      [[push.txid, "bob"]],
    );
    const r = await device(["fraud", push.txid, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status, "fraud");
    assert.deepEqual(await push.result, { exit: 1, status: "fraud" });
    const next = await box.run(["push", "send", "bob", "--wait", "0"]);
    assert.equal(next.code, 3);
    assert.match(next.stdout, /reported a push as fraud/);

    const both = await device(["passcode"]);
    assert.equal(both.code, 0, both.stderr);
    assert.match(both.stdout, /alice@.*\d{6}/);
    assert.match(both.stdout, /bob@.*\d{6}/);
    const none = await device(["passcode", "--account", "carol"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no account "carol"/);
  });

  test("TWOFOLD_DEVICE_STATE names the state file, and the server-side commands still accept that variable", async () => {
    const env = { TWOFOLD_DEVICE_STATE: state };
    const accounts = await box.run(["device", "accounts", "--json"], { env });
    assert.equal(accounts.code, 0, accounts.stderr);
    assert.equal(JSON.parse(accounts.stdout).accounts.length, 3);
    const users = await box.run(["user", "list", "--json"], { env });
    assert.equal(users.code, 0, users.stderr);
  });

  test("a revoked device is told why its signature is refused", async () => {
    const saved = JSON.parse(readFileSync(state, "utf8"));
    const bob = saved.accounts.find((a: { username: string }) => a.username === "bob");
    assert.equal((await box.run(["push", "revoke", bob.deviceId])).code, 0);
    const r = await device(["pending", "--account", "bob"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: the server refused this device's signature: the device was revoked/);
  });

  test("a server that is not running: ERR_SERVER_UNREACHABLE", async () => {
    const saved = JSON.parse(readFileSync(state, "utf8"));
    const port = await freePort();
    saved.accounts = [{ ...saved.accounts[0], server: `http://127.0.0.1:${port}` }];
    const other = join(box.dir, "unreachable.json");
    writeFileSync(other, JSON.stringify(saved), { mode: 0o600 });
    const r = await box.run(["device", "pending", "--state", other, "--json"]);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).error.code, "ERR_SERVER_UNREACHABLE");
  });
});

describe("twofold device over HTTPS with a private CA", { skip: !haveOpenSSL("the device TLS test") }, () => {
  test("untrusted without --ca (a clear error), trusted with --ca FILE or NODE_EXTRA_CA_CERTS", async () => {
    const box = createSandbox();
    const files = makeCertificates(box.dir, {
      caName: "Twofold Device Test CA",
      commonName: "127.0.0.1",
      subjectAltName: "IP:127.0.0.1",
    });
    const https = createHTTPSServer(
      { cert: readFileSync(files.cert), key: readFileSync(files.key) },
      (req, res) => {
        res.writeHead(req.url === "/device/v1/pushes" ? 200 : 404, { "content-type": "application/json" });
        res.end(JSON.stringify({ pushes: [] }));
      },
    );
    https.listen(0, "127.0.0.1");
    await once(https, "listening");
    try {
      const { port } = https.address() as { port: number };
      const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
      const state = join(box.dir, "device.json");
      const account = {
        server: `https://127.0.0.1:${port}`,
        deviceId: "DPTLSTEST000000000001",
        name: "tls",
        username: "alice",
        organization: "Test",
        activatedAt: new Date().toISOString(),
        privateKey: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d },
        totp: {
          secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
          algorithm: "SHA1",
          digits: 6,
          period: 30,
          issuer: "T",
          account: "alice",
        },
      };
      writeFileSync(state, JSON.stringify({ version: 1, accounts: [account] }), { mode: 0o600 });

      // The child processes run while this process serves: spawnSync would block the server.
      const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
        collectOutput(box.spawn(["device", "pending", "--state", state, ...args], env));
      const untrusted = await run([]);
      assert.equal(untrusted.code, 1);
      assert.match(
        untrusted.stderr,
        /^error: cannot reach https:\/\/127\.0\.0\.1:\d+: its TLS certificate is not trusted/,
      );
      assert.match(untrusted.stderr, /--ca FILE or NODE_EXTRA_CA_CERTS/);
      const withCA = await run(["--ca", files.ca]);
      assert.equal(withCA.code, 0, withCA.stderr);
      assert.match(withCA.stdout, /\(no pending logins\)/);
      const withEnv = await run(["--json"], { NODE_EXTRA_CA_CERTS: files.ca });
      assert.equal(withEnv.code, 0, withEnv.stderr);
      assert.deepEqual(JSON.parse(withEnv.stdout), { pushes: [] });
    } finally {
      https.close();
      box.cleanup();
    }
  });
});
