// The device API over a real listening server: activation with a passcode seed, Web Push really encrypted to the device,
// signed requests, the live stream, answers resolving the waiting login, cancel, and wake-ups between nodes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { decodeBase32 } from "../../src/core/base32.ts";
import { TwofoldError } from "../../src/core/errors.ts";
import { generateTOTP } from "../../src/core/otp/totp.ts";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import { BIN } from "../cli/helpers.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "../http/support.ts";
import { type PushEndpoint, startPushEndpoint } from "../support/push-endpoint.ts";
import { dialects, PG_URL } from "../support/stores.ts";
import { TestDevice } from "../support/test-device.ts";

for (const dialect of await dialects()) {
  describe(`device API on ${dialect}`, () => {
    let t: HTTPTestContext;
    let server: RunningServer;
    let pushService: PushEndpoint;
    const devices: Record<string, TestDevice> = {};

    const newDevice = () => new TestDevice(server.url, () => t.clock.now());
    const activate = async (username: string, delivery?: unknown) => {
      const ticket = await t.runtime.services.createDeviceActivation(ADMIN, username);
      const device = newDevice();
      const response = await device.activate(ticket.token.reveal(), delivery);
      assert.equal(response.status, 200, await response.clone().text());
      return {
        device,
        body: (await response.json()) as Record<string, unknown>,
        token: ticket.token.reveal(),
      };
    };

    before(async () => {
      t = await createTestRuntime({ dialect, webPushAllowHTTP: true });
      server = await startServer(t.runtime);
      pushService = await startPushEndpoint({ now: () => t.clock.now() });
      for (const name of ["alice", "bob", "carol", "dave"])
        await t.runtime.services.createUser(ADMIN, { username: name });
    });
    after(async () => {
      await server?.close();
      await pushService?.close();
      await t?.close();
    });

    test("activation registers the key, provisions working passcodes, and the link works once", async () => {
      const { device, body, token } = await activate("alice");
      devices.alice = device;
      assert.match(String(body.deviceId), /^DP/);
      assert.equal(body.username, "alice");
      assert.equal(typeof body.vapidPublicKey, "string");
      const totp = body.totp as { secret: string; algorithm: "SHA1"; digits: number; period: number };
      const code = generateTOTP(
        {
          key: decodeBase32(totp.secret)!,
          algorithm: totp.algorithm,
          digits: totp.digits,
          period: totp.period,
        },
        t.clock.now(),
      );
      const outcome = await t.runtime.services.verifyPasscode({ username: "alice", passcode: code });
      assert.equal(outcome.result, "allow", "the seed the app got is one of alice's passcode generators");

      const again = await newDevice().activate(token);
      assert.equal(again.status, 400);
      assert.equal(
        ((await again.json()) as { error: { code: string } }).error.code,
        "ERR_ACTIVATION_INVALID",
      );
    });

    test("malformed activations get 400 with a stable code and nothing is created", async () => {
      const ticket = await t.runtime.services.createDeviceActivation(ADMIN, "alice");
      const bad = [
        { token: ticket.token.reveal(), name: "x", publicKey: "A".repeat(87) },
        { token: ticket.token.reveal(), name: "x", publicKey: newDevice().publicKey, extra: 1 },
        {
          token: ticket.token.reveal(),
          name: "x",
          publicKey: newDevice().publicKey,
          delivery: {
            type: "webpush",
            subscription: { endpoint: "ftp://x/y/z", keys: { p256dh: "a", auth: "b" } },
          },
        },
      ];
      for (const body of bad) {
        const r = await fetch(`${server.url}/device/v1/activate`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        assert.equal(r.status, 400);
        assert.equal(((await r.json()) as { error: { code: string } }).error.code, "ERR_VALIDATION");
      }
      const ok = await newDevice().activate(ticket.token.reveal());
      assert.equal(ok.status, 200, "the link was not used up by the refused attempts");
    });

    test("a new push reaches the device by Web Push, encrypted to it, with its context", async () => {
      const { id, subscription } = pushService.createSubscription();
      const { device } = await activate("bob", { type: "webpush", subscription });
      devices.bob = device;
      const started = await t.runtime.services.startPush({
        username: "bob",
        ip: "203.0.113.9",
        info: "Sign-in to <b>Library</b>",
        verified: true,
      });
      assert.ok(started.started);
      const message = await pushService.waitFor(id, 5000);
      const payload = JSON.parse(Buffer.from(message.plaintext).toString("utf8"));
      assert.equal(payload.type, "push");
      assert.equal(payload.push.txid, started.txid);
      assert.equal(payload.push.ip, "203.0.113.9");
      assert.equal(payload.push.info, "Sign-in to <b>Library</b>");
      assert.equal(payload.push.verified, true);
      assert.equal(payload.push.codeDigits, 6);
      assert.equal(message.urgency, "high");
      assert.equal(Buffer.from(message.vapidPublicKey).toString("base64url"), t.runtime.vapidPublicKey);
      assert.ok(
        !Buffer.from(message.body).includes(Buffer.from(started.txid)),
        "the body on the wire is ciphertext",
      );
      await t.runtime.services.cancelPush(started.txid);
    });

    test("signed requests: the right signature lists pending pushes; missing, stale, foreign or tampered ones get 401", async () => {
      const device = devices.bob!;
      const started = await t.runtime.services.startPush({ username: "bob", verified: false });
      assert.ok(started.started);
      const ok = await device.signedFetch("GET", "/device/v1/pushes");
      assert.equal(ok.status, 200);
      const { pushes } = (await ok.json()) as { pushes: { txid: string; verified: boolean }[] };
      assert.deepEqual(
        pushes.map((p) => [p.txid, p.verified]),
        [[started.txid, false]],
      );

      const attempts: [string, Record<string, string>][] = [
        ["none", {}],
        ["garbage", { authorization: "Twofold-Device nonsense" }],
        [
          "stale",
          { authorization: device.authorization("GET", "/device/v1/pushes", "", t.clock.now() - 61_000) },
        ],
        ["other path", { authorization: device.authorization("GET", "/device/v1/stream") }],
        [
          "other device",
          {
            authorization: device
              .authorization("GET", "/device/v1/pushes")
              .replace(device.deviceId, devices.alice!.deviceId),
          },
        ],
      ];
      for (const [why, headers] of attempts) {
        const r = await fetch(`${server.url}/device/v1/pushes`, { headers });
        assert.equal(r.status, 401, why);
        assert.equal(
          ((await r.json()) as { error: { code: string } }).error.code,
          "ERR_UNAUTHENTICATED",
          why,
        );
      }
      await t.runtime.services.cancelPush(started.txid);
    });

    test("the live stream shows a new push; the typed code approves it and the waiting login resolves", async () => {
      const device = devices.alice!;
      const stream = await device.openStream();
      try {
        assert.equal(stream.response.status, 200);
        assert.match(stream.response.headers.get("content-type") ?? "", /^text\/event-stream/);
        const started = await t.runtime.services.startPush({
          username: "alice",
          ip: "198.51.100.7",
          verified: true,
        });
        assert.ok(started.started);
        const waiting = t.runtime.services.waitForPush(started.txid, { timeoutMs: 20_000, pollMs: 60_000 });
        const shown = await stream.next();
        assert.equal(shown.event, "push");
        assert.equal(shown.data.txid, started.txid);
        assert.equal(shown.data.ip, "198.51.100.7");
        const answered = await device.answer(started.txid, "approve", started.code!.reveal());
        assert.deepEqual(await answered.json(), { status: "approved" });
        assert.equal(await waiting, "approved", "woken by the answer, not by polling (poll is 60 s)");
        const resolved = await stream.next();
        assert.deepEqual(
          [resolved.event, resolved.data],
          ["resolved", { txid: started.txid, status: "approved" }],
        );

        const replay = await fetch(`${server.url}/device/v1/pushes/${started.txid}/answer`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(device.answerBody(started.txid, "approve", started.code!.reveal())),
        });
        assert.equal(replay.status, 409);
      } finally {
        stream.close();
      }
    });

    test("a device may keep only a few live streams open", async () => {
      const device = devices.bob!;
      const open = [];
      try {
        for (let i = 0; i < 4; i++) {
          const s = await device.openStream();
          open.push(s);
          assert.equal(s.response.status, 200);
        }
        const fifth = await device.signedFetch("GET", "/device/v1/stream");
        assert.equal(fifth.status, 429);
        assert.equal(((await fifth.json()) as { error: { code: string } }).error.code, "ERR_RATE_LIMITED");
      } finally {
        for (const s of open) s.close();
      }
      // Closed streams are counted out again.
      const deadline = Date.now() + 3000;
      let again = await device.signedFetch("GET", "/device/v1/stream");
      while (again.status !== 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        again = await device.signedFetch("GET", "/device/v1/stream");
      }
      assert.equal(again.status, 200);
      await again.body?.cancel();
    });

    test("an app that hangs up while its stream opens is not counted: after four such drops the next stream opens", async () => {
      await t.runtime.services.createUser(ADMIN, { username: "frida" });
      const { device } = await activate("frida");
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      // A slow first read (a busy database, a slow phone network): the app gives up before it ends.
      const services = t.runtime.services as unknown as {
        listDevicePushes: (...a: never[]) => Promise<unknown>;
      };
      const real = services.listDevicePushes;
      let reading = () => {};
      services.listDevicePushes = async (...a: never[]) => {
        reading();
        await sleep(300);
        return real(...a);
      };
      try {
        for (let i = 0; i < 4; i++) {
          const controller = new AbortController();
          // The app hangs up once the route reads (a fixed delay could come before a busy machine sent the request).
          const read = new Promise<void>((resolve) => {
            reading = resolve;
          });
          const started = device.signedFetch("GET", "/device/v1/stream", undefined, {
            signal: controller.signal,
          });
          await read;
          controller.abort();
          await started.catch(() => undefined);
          // One drop after another: each read ends after its app left, before the next app tries.
          await sleep(400);
        }
      } finally {
        services.listDevicePushes = real;
      }
      const stream = await device.openStream();
      try {
        assert.equal(stream.response.status, 200, "none of the abandoned streams is counted as open");
      } finally {
        stream.close();
      }
    });

    test("a wrong code denies, deny denies, fraud suspends pushes; the waiting logins see each", async () => {
      const device = devices.alice!;
      const cases = [
        { decision: "approve" as const, code: "wrong", expected: "denied" },
        { decision: "deny" as const, code: undefined, expected: "denied" },
        { decision: "fraud" as const, code: undefined, expected: "fraud" },
      ];
      for (const c of cases) {
        t.clock.advance(120_000); // stay inside the per-window rate limit
        const started = await t.runtime.services.startPush({ username: "alice", verified: true });
        assert.ok(started.started, JSON.stringify(started));
        const waiting = t.runtime.services.waitForPush(started.txid, { timeoutMs: 20_000, pollMs: 60_000 });
        const r = await device.answer(started.txid, c.decision, c.code === "wrong" ? "000000x" : c.code);
        assert.equal(r.status, 200);
        assert.equal(await waiting, c.expected);
      }
      const after = await t.runtime.services.startPush({ username: "alice", verified: true });
      assert.deepEqual(after, { started: false, reason: "push_suspended" });
      await t.runtime.services.clearPushSuspension(ADMIN, "alice");
    });

    test("cancel ends a push for the app too; a late answer is refused", async () => {
      const { device } = await activate("carol");
      const stream = await device.openStream();
      try {
        const started = await t.runtime.services.startPush({ username: "carol", verified: true });
        assert.ok(started.started);
        assert.equal((await stream.next()).event, "push");
        assert.equal(await t.runtime.services.cancelPush(started.txid), "cancelled");
        assert.deepEqual((await stream.next()).data, { txid: started.txid, status: "cancelled" });
        const late = await device.answer(started.txid, "approve", started.code!.reveal());
        assert.equal(late.status, 409);
        assert.equal(await t.runtime.services.cancelPush(started.txid), "cancelled", "idempotent");
      } finally {
        stream.close();
      }
    });

    test("waiting ends at the deadline as pending, and at expiry as expired", async () => {
      const { device } = await activate("dave");
      const started = await t.runtime.services.startPush({ username: "dave", verified: true });
      assert.ok(started.started);
      const t0 = Date.now();
      // The test clock stands still, so the deadline is reached by advancing it.
      const waiting = t.runtime.services.waitForPush(started.txid, { timeoutMs: 5_000, pollMs: 50 });
      t.clock.advance(5_000);
      assert.equal(await waiting, "pending");
      assert.ok(Date.now() - t0 < 2_000);
      t.clock.advance(60_000);
      assert.equal(await t.runtime.services.waitForPush(started.txid, { timeoutMs: 1_000 }), "expired");
      const late = await device.answer(started.txid, "approve", started.code!.reveal());
      assert.equal(late.status, 409);
    });

    test("a read that fails while a login waits (a lost database connection) does not end the wait (N2)", async () => {
      await t.runtime.services.createUser(ADMIN, { username: "erin" });
      const { device } = await activate("erin");
      const started = await t.runtime.services.startPush({ username: "erin", verified: true });
      assert.ok(started.started);
      const store = t.runtime.store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      const read = store["getPushTransaction"]!;
      let failed = 0;
      store["getPushTransaction"] = async (...args) => {
        if (failed < 2) {
          failed++;
          throw new TwofoldError("ERR_STORE_UNAVAILABLE", "connection terminated");
        }
        return read.apply(t.runtime.store, args);
      };
      try {
        const waiting = t.runtime.services.waitForPush(started.txid, { timeoutMs: 20_000, pollMs: 60_000 });
        await new Promise((r) => setTimeout(r, 700));
        assert.equal(failed, 2, "the waiting login's reads failed twice");
        const answered = await device.answer(started.txid, "approve", started.code!.reveal());
        assert.deepEqual(await answered.json(), { status: "approved" });
        assert.equal(await waiting, "approved");
      } finally {
        store["getPushTransaction"] = read;
      }
    });

    test("delivery can be replaced by a signed request; a tampered body is refused", async () => {
      const device = devices.bob!;
      const { subscription } = pushService.createSubscription();
      const body = JSON.stringify({ type: "webpush", subscription });
      const ok = await device.signedFetch("PUT", "/device/v1/delivery", body);
      assert.equal(ok.status, 200, await ok.clone().text());
      const tampered = await fetch(`${server.url}/device/v1/delivery`, {
        method: "PUT",
        headers: {
          "content-type": "application/json",
          authorization: device.authorization("PUT", "/device/v1/delivery", body),
        },
        body: JSON.stringify({ type: "none" }),
      });
      assert.equal(tampered.status, 401);
      const devicesNow = await t.runtime.services.listUserDevices("bob");
      assert.equal(devicesNow[0]?.webPush, true);
      const none = await device.signedFetch("PUT", "/device/v1/delivery", JSON.stringify({ type: "none" }));
      assert.equal(none.status, 200);
      assert.equal((await t.runtime.services.listUserDevices("bob"))[0]?.webPush, false);
    });

    test("a revoked device's requests and answers are refused and its passcodes stop", async () => {
      const { device, body } = await activate("bob");
      const totp = body.totp as { secret: string };
      await t.runtime.services.revokeDevice(ADMIN, device.deviceId);
      const r = await device.signedFetch("GET", "/device/v1/pushes");
      assert.equal(r.status, 401);
      const code = generateTOTP(
        { key: decodeBase32(totp.secret)!, algorithm: "SHA1", digits: 6, period: 30 },
        t.clock.now(),
      );
      assert.equal(
        (await t.runtime.services.verifyPasscode({ username: "bob", passcode: code })).result,
        "deny",
      );
    });

    if (dialect === "postgres") {
      test("two processes on one PostgreSQL: an answer on the other process resolves this one's waiting login", async () => {
        // The other process: `twofold serve` on the same schema and key, on a port of its own.
        const dir = join(tmpdir(), `twofold-node-b-${Date.now()}`);
        const configFile = `${dir}.yaml`;
        const key = t.runtime.config.keys.encryption[0]!;
        writeFileSync(
          configFile,
          [
            "database:",
            `  url: ${JSON.stringify(`${PG_URL}?options=-c%20search_path%3D${t.schema}`)}`,
            "keys:",
            `  encryption: [{id: ${key.id}, key: ${key.key}}]`,
            "server: {host: 127.0.0.1, port: 0}",
            "node: {name: node-b}",
            "logging: {level: info}",
          ].join("\n"),
        );
        const child = spawn(process.execPath, [BIN, "serve", "--config", configFile], {
          env: { ...process.env, TWOFOLD_CONFIG: configFile },
          stdio: ["ignore", "pipe", "pipe"],
        });
        try {
          const url = await new Promise<string>((resolve, reject) => {
            let seen = "";
            const timer = setTimeout(() => reject(new Error(`node B did not start: ${seen}`)), 20_000);
            const onData = (d: Buffer) => {
              seen += d.toString();
              const m = /https?:\/\/127\.0\.0\.1:\d+/.exec(seen);
              if (m) {
                clearTimeout(timer);
                resolve(m[0]);
              }
            };
            child.stdout.on("data", onData);
            child.stderr.on("data", onData);
            child.on("exit", (code) => reject(new Error(`node B exited ${code}: ${seen}`)));
          });
          // Node B's clock is the real one: bring ours to it so answers are fresh on both.
          t.clock.set(Date.now());
          const { device } = await activate("dave");
          const viaB = new TestDevice(url, () => Date.now());
          viaB.deviceId = device.deviceId;
          Object.assign(viaB, { signer: device.signer });
          const started = await t.runtime.services.startPush({ username: "dave", verified: true });
          assert.ok(started.started, JSON.stringify(started));
          const waiting = t.runtime.services.waitForPush(started.txid, { timeoutMs: 20_000, pollMs: 60_000 });
          const t0 = Date.now();
          const answered = await viaB.answer(started.txid, "approve", started.code!.reveal());
          assert.deepEqual(await answered.json(), { status: "approved" });
          assert.equal(await waiting, "approved");
          assert.ok(Date.now() - t0 < 5_000, "woken by NOTIFY from the other process, not by the 60 s poll");
        } finally {
          child.kill("SIGTERM");
        }
      });
    }
  });
}
