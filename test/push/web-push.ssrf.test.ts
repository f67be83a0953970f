// Server-side request forgery through Web Push endpoints: only https push services on the allow-list, at public
// addresses checked when the connection is made (no DNS rebinding), no redirects followed.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { checkPushEndpointURL, isPublicAddress } from "../../src/adapters/push/push-address.ts";
import { type PushSubscription, WebPushSender } from "../../src/adapters/push/web-push.ts";
import { BROWSER_PUSH_SERVICES } from "../../src/config/schema.ts";
import { generateP256KeyPair } from "../../src/core/crypto/index.ts";
import { Secret } from "../../src/core/secret.ts";
import { buildServer } from "../../src/http/server.ts";
import { createTestRuntime } from "../http/support.ts";
import { type PushEndpoint, startPushEndpoint } from "../support/push-endpoint.ts";
import { TestDevice } from "../support/test-device.ts";

const NOT_PUBLIC = [
  "127.0.0.1",
  "127.1.2.3",
  "::1",
  "0.0.0.0",
  "::",
  "10.0.0.1",
  "10.255.255.254",
  "172.16.0.1",
  "172.31.255.1",
  "192.168.1.1",
  "100.64.0.1",
  "169.254.169.254",
  "224.0.0.1",
  "255.255.255.255",
  "198.18.0.1",
  "192.0.2.1",
  "::ffff:127.0.0.1",
  "::ffff:10.0.0.1",
  "::ffff:169.254.169.254",
  "::127.0.0.1",
  "64:ff9b::a9fe:a9fe",
  "2002:a9fe:a9fe::1",
  "2001:db8::1",
  "2001::1",
  "fc00::1",
  "fd12:3456::1",
  "fe80::1",
  "ff02::1",
];
const PUBLIC = ["8.8.8.8", "142.250.185.10", "2607:f8b0:4004:800::200a", "2a02:26f0::1"];

const vapid = () => {
  const keys = generateP256KeyPair();
  return {
    publicKeyRaw: keys.publicKeyRaw,
    privateKey: new Secret(keys.privateKey),
    subject: "mailto:ops@example.org",
  };
};

function subscriptionAt(endpoint: string, from: PushSubscription): PushSubscription {
  return { endpoint, keys: from.keys };
}

/** A plain TCP-level witness: counts every connection made to it. */
async function startWitness(
  handler: Parameters<typeof createServer>[1] = (_q, s) => s.end(),
): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer(handler);
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

test("public and non-public addresses: loopback, private, CGNAT, link-local, ULA, multicast, reserved, IPv4 in IPv6", () => {
  for (const a of NOT_PUBLIC) assert.equal(isPublicAddress(a), false, a);
  for (const a of PUBLIC) assert.equal(isPublicAddress(a), true, a);
});

describe("the Web Push sender", () => {
  let push: PushEndpoint;
  let witness: Awaited<ReturnType<typeof startWitness>>;
  let subscription: PushSubscription;
  const clock = { now: () => Date.now() };

  before(async () => {
    push = await startPushEndpoint();
    witness = await startWitness();
    subscription = push.createSubscription().subscription;
  });
  after(async () => {
    await push.close();
    await new Promise((resolve) => witness.server.close(resolve));
  });

  test("refuses 127.0.0.1, ::1, 10/8, 169.254.169.254 and IPv4-mapped forms before connecting", async () => {
    const sender = new WebPushSender({ vapid: vapid(), clock, allowedHosts: ["*"] });
    for (const host of [
      "127.0.0.1",
      "[::1]",
      "10.0.0.1",
      "169.254.169.254",
      "[::ffff:127.0.0.1]",
      "[fd00::1]",
    ]) {
      const endpoint = `https://${host}:${witness.port}/push/x`;
      await assert.rejects(
        sender.send(subscriptionAt(endpoint, subscription), { n: 1 }, { ttlSeconds: 60 }),
        (e: { code: string; message: string }) =>
          e.code === "ERR_VALIDATION" && /public address/.test(e.message),
        endpoint,
      );
    }
    assert.equal(witness.connections(), 0, "no connection was attempted");
  });

  test("refuses a push-service name that resolves to such addresses, or to any of them among public ones", async () => {
    const answers: Record<string, string[]> = {
      loopback: ["127.0.0.1"],
      v6loopback: ["::1"],
      private: ["10.1.2.3"],
      metadata: ["169.254.169.254"],
      mapped: ["::ffff:192.168.0.1"],
      mixed: ["142.250.185.10", "127.0.0.1"],
    };
    let lookups = 0;
    const sender = new WebPushSender({
      vapid: vapid(),
      clock,
      allowedHosts: BROWSER_PUSH_SERVICES,
      resolve: async (host) => {
        lookups++;
        const key = host.split(".")[0] ?? "";
        return (answers[key] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
      },
    });
    for (const name of Object.keys(answers)) {
      // A subdomain of an allowed push service, as an attacker controlling that name's DNS would have it.
      const endpoint = `https://${name}.fcm.googleapis.com:${witness.port}/fcm/send/x`;
      await assert.rejects(
        sender.send(subscriptionAt(endpoint, subscription), { n: 1 }, { ttlSeconds: 60 }),
        (e: { code: string; message: string }) => e.code === "ERR_VALIDATION" && /not public/.test(e.message),
        name,
      );
    }
    assert.equal(lookups, Object.keys(answers).length, "each name was resolved once, at send time");
    assert.equal(witness.connections(), 0, "no connection was attempted");
  });

  test("refuses hosts off the allow-list and http, without resolving them", async () => {
    let lookups = 0;
    const sender = new WebPushSender({
      vapid: vapid(),
      clock,
      allowedHosts: BROWSER_PUSH_SERVICES,
      resolve: async () => {
        lookups++;
        return [{ address: "142.250.185.10", family: 4 }];
      },
    });
    for (const endpoint of [
      "https://push.example.org/x",
      "https://fcm.googleapis.com.evil.example/x",
      "https://evilfcm.googleapis.com.example/x",
      "http://fcm.googleapis.com/fcm/send/x",
      "https://user:pw@fcm.googleapis.com/fcm/send/x",
      "https://142.250.185.10/fcm/send/x",
    ])
      await assert.rejects(
        sender.send(subscriptionAt(endpoint, subscription), { n: 1 }, { ttlSeconds: 60 }),
        { code: "ERR_VALIDATION" },
        endpoint,
      );
    assert.equal(lookups, 0);
    const policy = { allowedHosts: BROWSER_PUSH_SERVICES, allowHTTP: false, allowLoopback: false };
    for (const endpoint of [
      "https://fcm.googleapis.com/fcm/send/abc",
      "https://updates.push.services.mozilla.com/wpush/v2/abc",
      "https://web.push.apple.com/abc",
      "https://wns2-by3p.notify.windows.com/w/?token=abc",
    ])
      assert.equal(
        checkPushEndpointURL(endpoint, policy).href,
        endpoint,
        "the browsers' push services are allowed",
      );
  });

  test("connects to the address it checked: the name is resolved once, by the check, not again by the socket", async () => {
    let lookups = 0;
    const sender = new WebPushSender({
      vapid: vapid(),
      clock,
      allowInsecureHTTP: true,
      allowLoopback: true,
      allowedHosts: ["push-service.invalid"],
      resolve: async () => {
        lookups++;
        return [{ address: "127.0.0.1", family: 4 }];
      },
    });
    const { subscription: s, id } = push.createSubscription();
    // A name no system resolver knows: the push can arrive only through the checked answer.
    const endpoint = s.endpoint.replace("127.0.0.1", "push-service.invalid");
    const result = await sender.send(subscriptionAt(endpoint, s), { n: 1 }, { ttlSeconds: 60 });
    // It reached the local service, which refuses a VAPID token made out to another origin: proof enough.
    assert.equal(result.status, 403);
    assert.deepEqual(
      push.refused(id).map((r) => r.reason),
      ["VAPID authorization refused: aud is not this push service"],
    );
    assert.equal(lookups, 1);
  });

  test("a redirect is not followed", async () => {
    const target = await startWitness();
    const redirecting = await startWitness((_req, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${target.port}/steal` });
      res.end();
    });
    try {
      const sender = new WebPushSender({
        vapid: vapid(),
        clock,
        allowInsecureHTTP: true,
        allowLoopback: true,
        allowedHosts: [],
      });
      const endpoint = `http://127.0.0.1:${redirecting.port}/push/x`;
      const result = await sender.send(subscriptionAt(endpoint, subscription), { n: 1 }, { ttlSeconds: 60 });
      assert.deepEqual(result, { status: 307, gone: false });
      assert.equal(target.connections(), 0, "the redirect's target was never contacted");
    } finally {
      await new Promise((resolve) => target.server.close(resolve));
      await new Promise((resolve) => redirecting.server.close(resolve));
    }
  });
});

test("the device API refuses subscriptions at loopback, private or unknown hosts and over http (exceptions off by default)", async () => {
  const t = await createTestRuntime();
  const app = buildServer(t.runtime);
  try {
    await t.runtime.services.createUser({ name: "test" }, { username: "alice" });
    const ticket = await t.runtime.services.createDeviceActivation({ name: "test" }, "alice");
    const keys = {
      p256dh: Buffer.from(generateP256KeyPair().publicKeyRaw).toString("base64url"),
      auth: Buffer.alloc(16, 7).toString("base64url"),
    };
    const activate = (endpoint: string) =>
      app.inject({
        method: "POST",
        url: "/device/v1/activate",
        payload: {
          token: ticket.token.reveal(),
          name: "phone",
          publicKey: new TestDevice("http://127.0.0.1:9", () => 0).publicKey,
          delivery: { type: "webpush", subscription: { endpoint, keys } },
        },
      });
    for (const endpoint of [
      "http://127.0.0.1:8080/push/x",
      "https://127.0.0.1/push/x",
      "https://[::1]/push/x",
      "https://10.0.0.1/push/x",
      "https://169.254.169.254/latest/meta-data/",
      "https://push.example.org/x",
      "http://fcm.googleapis.com/fcm/send/x",
    ]) {
      const r = await activate(endpoint);
      assert.equal(r.statusCode, 400, `${endpoint}: ${r.body}`);
      assert.equal(r.json().error.issues[0].path, "body.delivery.subscription.endpoint");
    }
    const ok = await activate("https://fcm.googleapis.com/fcm/send/abc");
    assert.equal(ok.statusCode, 200, ok.body);
  } finally {
    await app.close();
    await t.close();
  }
});
