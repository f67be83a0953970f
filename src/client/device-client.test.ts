// The device client's wire format against docs/authenticator-protocol.md, checked by a recording HTTP server; state file; SSE parsing.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { encodeBase32 } from "../core/base32.ts";
import { verifyP256Signature } from "../core/crypto/ecdsa.ts";
import { generateP256KeyPair } from "../core/crypto/index.ts";
import { activateDevice, DeviceClient, type DeviceEvent, parseActivationLink } from "./device-client.ts";
import { type DeviceAccount, readDeviceState, writeDeviceState } from "./device-state.ts";
import { createEventStreamParser, type ServerSentEvent } from "./event-stream.ts";

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

function account(server: string, secret = encodeBase32(Buffer.from("12345678901234567890"))): DeviceAccount {
  const keys = generateP256KeyPair();
  const raw = Buffer.from(keys.publicKeyRaw);
  return {
    server,
    deviceId: "DPTESTDEVICE000000001",
    name: "test",
    username: "alice",
    organization: "Test",
    activatedAt: new Date(0).toISOString(),
    privateKey: {
      kty: "EC",
      crv: "P-256",
      x: raw.subarray(1, 33).toString("base64url"),
      y: raw.subarray(33).toString("base64url"),
      d: Buffer.from(keys.privateKey).toString("base64url"),
    },
    totp: { secret, algorithm: "SHA1", digits: 8, period: 30, issuer: "Test", account: "alice" },
  };
}

function publicKeyOf(a: DeviceAccount): Uint8Array {
  const k = a.privateKey;
  return Buffer.concat([Buffer.from([4]), Buffer.from(k.x, "base64url"), Buffer.from(k.y, "base64url")]);
}

describe("device client wire format", () => {
  let server: Server;
  let base: string;
  const seen: Recorded[] = [];
  let reply: (r: Recorded) => { status: number; type: string; body: string } = () => ({
    status: 200,
    type: "application/json",
    body: "{}",
  });

  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => {
        body += c;
      });
      req.on("end", () => {
        const r = { method: req.method!, url: req.url!, headers: req.headers, body };
        seen.push(r);
        const out = reply(r);
        res.writeHead(out.status, { "content-type": out.type });
        res.end(out.body);
      });
    });
    server.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("activation sends the token, name and the 65-byte public point, and keeps the answer's seed", async () => {
    reply = () => ({
      status: 200,
      type: "application/json",
      body: JSON.stringify({
        deviceId: "DPNEW",
        username: "alice",
        organization: "Org",
        totp: {
          secret: "JBSWY3DPEHPK3PXP",
          algorithm: "SHA1",
          digits: 6,
          period: 30,
          issuer: "Org",
          account: "alice",
        },
        vapidPublicKey: "BBBB",
      }),
    });
    const link = parseActivationLink(`${base}/authenticator#activate=ACX.secret`)!;
    const a = await activateDevice(link, "laptop");
    const r = seen.at(-1)!;
    assert.equal(r.method, "POST");
    assert.equal(r.url, "/prefix/device/v1/activate");
    assert.equal(r.headers["content-type"], "application/json");
    const sent = JSON.parse(r.body);
    assert.equal(sent.token, "ACX.secret");
    assert.equal(sent.name, "laptop");
    assert.deepEqual(Buffer.from(sent.publicKey, "base64url"), Buffer.from(publicKeyOf(a)));
    assert.equal(a.deviceId, "DPNEW");
    assert.equal(a.totp.secret, "JBSWY3DPEHPK3PXP");
    assert.equal(a.server, base);
  });

  test("a signed request carries Twofold-Device id:timestamp:signature over the documented lines", async () => {
    reply = () => ({ status: 200, type: "application/json", body: '{"pushes":[]}' });
    const a = account(base);
    const client = new DeviceClient(a, { now: () => 1763800000123 });
    assert.deepEqual(await client.pending(), []);
    const r = seen.at(-1)!;
    assert.equal(r.url, "/prefix/device/v1/pushes");
    const m = /^Twofold-Device (DP\w+):(\d+):([A-Za-z0-9_-]+)$/.exec(r.headers.authorization!)!;
    assert.ok(m, r.headers.authorization);
    assert.equal(m[1], a.deviceId);
    assert.equal(m[2], "1763800000123");
    const emptyHash = createHash("sha256").update("").digest("base64url");
    const lines = `twofold-device-request/1\nGET\n/prefix/device/v1/pushes\n1763800000123\n${emptyHash}`;
    assert.ok(verifyP256Signature(publicKeyOf(a), Buffer.from(lines), Buffer.from(m[3]!, "base64url")));

    await client.setDelivery({ type: "none" });
    const put = seen.at(-1)!;
    assert.equal(put.method, "PUT");
    const sig = put.headers.authorization!.split(":")[2]!;
    const bodyHash = createHash("sha256").update(put.body).digest("base64url");
    const putLines = `twofold-device-request/1\nPUT\n/prefix/device/v1/delivery\n1763800000123\n${bodyHash}`;
    assert.ok(verifyP256Signature(publicKeyOf(a), Buffer.from(putLines), Buffer.from(sig, "base64url")));
    client.close();
  });

  test("an answer is signed over twofold-push-answer/1 lines and sent without an Authorization header", async () => {
    reply = () => ({ status: 200, type: "application/json", body: '{"status":"approved"}' });
    const a = account(base);
    const client = new DeviceClient(a, { now: () => 1763800001234 });
    assert.equal(await client.answer("tx/1", "approve", "123456"), "approved");
    const r = seen.at(-1)!;
    assert.equal(r.url, "/prefix/device/v1/pushes/tx%2F1/answer");
    assert.equal(r.headers.authorization, undefined);
    const body = JSON.parse(r.body);
    assert.deepEqual(
      { ...body, signature: undefined },
      {
        deviceId: a.deviceId,
        decision: "approve",
        code: "123456",
        timestamp: 1763800001234,
        signature: undefined,
      },
    );
    const lines = "twofold-push-answer/1\ntx/1\napprove\n123456\n1763800001234";
    assert.ok(
      verifyP256Signature(publicKeyOf(a), Buffer.from(lines), Buffer.from(body.signature, "base64url")),
    );

    await client.answer("tx2", "deny");
    const denied = JSON.parse(seen.at(-1)!.body);
    assert.equal(denied.code, undefined, "no code sent when none was typed");
    const denyLines = "twofold-push-answer/1\ntx2\ndeny\n\n1763800001234";
    assert.ok(
      verifyP256Signature(publicKeyOf(a), Buffer.from(denyLines), Buffer.from(denied.signature, "base64url")),
    );
    client.close();
  });

  test("the server's error envelope becomes a TwofoldError with its code; other answers are ERR_INTERNAL", async () => {
    const client = new DeviceClient(account(base));
    reply = () => ({
      status: 409,
      type: "application/json; charset=utf-8",
      body: '{"error":{"code":"ERR_PUSH_ALREADY_ANSWERED","message":"this push already has an answer"}}',
    });
    await assert.rejects(client.answer("t", "deny"), { code: "ERR_PUSH_ALREADY_ANSWERED" });
    reply = () => ({ status: 502, type: "text/html", body: "<h1>Bad gateway</h1>" });
    await assert.rejects(client.pending(), { code: "ERR_INTERNAL", message: /HTTP 502/ });
    client.close();
  });

  test("a server that is not listening gives ERR_SERVER_UNREACHABLE", async () => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1");
    await new Promise((resolve) => probe.once("listening", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const client = new DeviceClient(account(`http://127.0.0.1:${port}`));
    await assert.rejects(client.pending(), { code: "ERR_SERVER_UNREACHABLE", message: /connection refused/ });
    client.close();
  });

  test("a stream that brings nothing, not even a keep-alive line, ends with ERR_SERVER_UNREACHABLE", async () => {
    // A connection dropped on the way without a word (a NAT's table): the headers came, then nothing.
    const silent = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": connected\n\n");
    });
    silent.listen(0, "127.0.0.1");
    await new Promise((resolve) => silent.once("listening", resolve));
    const client = new DeviceClient(account(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`));
    const started = performance.now();
    await assert.rejects(
      client.stream(() => {}, new AbortController().signal, 300),
      { code: "ERR_SERVER_UNREACHABLE", message: /brought nothing for 0.3 s/ },
    );
    assert.ok(performance.now() - started < 3000);
    client.close();
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  });

  test("the stream delivers push and resolved events and ends when the signal aborts", async () => {
    const live = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const push = { txid: "t1", application: "VPN", time: 1, expiresAt: 2, verified: true, codeDigits: 6 };
      res.write(`: keep-alive\r\n\r\nevent: push\r\ndata: ${JSON.stringify(push)}\r`);
      setTimeout(() => res.write('\n\r\nevent: resolved\ndata: {"txid":"t1","status":"approved"}\n\n'), 20);
    });
    live.listen(0, "127.0.0.1");
    await new Promise((resolve) => live.once("listening", resolve));
    const client = new DeviceClient(account(`http://127.0.0.1:${(live.address() as AddressInfo).port}`));
    const events: DeviceEvent[] = [];
    const stop = new AbortController();
    await client.stream((e) => {
      events.push(e);
      if (events.length === 2) stop.abort();
    }, stop.signal);
    assert.equal(events[0]!.type, "push");
    assert.equal(events[0]!.type === "push" && events[0]!.push.verified, true);
    assert.deepEqual(events[1], { type: "resolved", txid: "t1", status: "approved" });
    client.close();
    live.closeAllConnections();
    await new Promise((resolve) => live.close(resolve));
  });
});

describe("activation links", () => {
  test("the server is the link without /authenticator and the fragment", () => {
    assert.deepEqual(parseActivationLink("https://2fa.example.edu/authenticator#activate=AC1.s-_"), {
      server: "https://2fa.example.edu",
      token: "AC1.s-_",
    });
    assert.deepEqual(parseActivationLink(" https://h.example:8443/twofold/authenticator/#activate=A.b "), {
      server: "https://h.example:8443/twofold",
      token: "A.b",
    });
    for (const bad of [
      "AC1.secret",
      "https://h/authenticator",
      "https://h/authenticator#activate=",
      "https://h/authenticator#activate=nodot",
      "ftp://h/authenticator#activate=A.b",
    ])
      assert.equal(parseActivationLink(bad), undefined, bad);
  });
});

describe("passcodes", () => {
  test("RFC 6238 Appendix B (SHA1, 8 digits): 94287082 at T = 59 s, one second left", () => {
    const client = new DeviceClient(account("http://127.0.0.1:1"));
    assert.deepEqual(client.passcode(59_000), { code: "94287082", secondsLeft: 1, period: 30 });
    assert.deepEqual(client.passcode(1_111_111_109_000), { code: "07081804", secondsLeft: 1, period: 30 });
    assert.equal(client.passcode(60_000).secondsLeft, 30);
    client.close();
  });
});

describe("state file", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "twofold-device-state-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("is written with mode 0600 (in a new 0700 folder) and read back", () => {
    const path = join(dir, "new", "device.json");
    const state = { version: 1 as const, accounts: [account("https://h.example")] };
    writeDeviceState(path, state);
    if (process.platform !== "win32") {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, "new")).mode & 0o777, 0o700);
    }
    const loaded = readDeviceState(path);
    assert.deepEqual(loaded.state, state);
    assert.equal(loaded.exposed, false);
  });

  test("a missing file is ERR_NOT_FOUND, a broken one ERR_VALIDATION naming the field", () => {
    assert.throws(() => readDeviceState(join(dir, "none.json")), {
      code: "ERR_NOT_FOUND",
      message: /no device state at .*none\.json: activate an account first/,
    });
    const broken = join(dir, "broken.json");
    writeFileSync(broken, "{not json");
    assert.throws(() => readDeviceState(broken), { code: "ERR_VALIDATION", message: /not JSON/ });
    const a = account("https://h.example");
    const other = account("https://h.example");
    // A private key whose public half was swapped for another key's.
    writeFileSync(
      broken,
      JSON.stringify({
        version: 1,
        accounts: [{ ...a, privateKey: { ...a.privateKey, x: other.privateKey.x } }],
      }),
    );
    assert.throws(
      () => readDeviceState(broken),
      (e: { issues: { path: string }[] }) => e.issues.some((i) => i.path === "accounts[0].privateKey"),
    );
    assert.ok(readFileSync(broken, "utf8").length > 0);
  });
});

describe("event-stream parser (WHATWG HTML §9.2.6)", () => {
  test("handles CRLF split across chunks, comments, multi-line data and events without data", () => {
    const events: ServerSentEvent[] = [];
    const feed = createEventStreamParser((e) => events.push(e));
    for (const chunk of [
      ": hi\r",
      "\n",
      "event: push\r\ndata: a\r",
      "\ndata:b\r",
      "\n\r",
      "\nevent: x\n\n",
      "data: c\n\n",
    ])
      feed(chunk);
    assert.deepEqual(events, [
      { type: "push", data: "a\nb", id: undefined },
      { type: "message", data: "c", id: undefined },
    ]);
  });
});
