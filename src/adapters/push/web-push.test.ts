// Web Push adapter: RFC 8291 Appendix A byte for byte, RFC 8292 §2.4, and real delivery to a local RFC 8030 push service.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { type PushEndpoint, startPushEndpoint } from "../../../test/support/push-endpoint.ts";
import { verifyP256Signature } from "../../core/crypto/ecdsa.ts";
import {
  computeP256SharedSecret,
  deriveHKDF,
  deriveP256PublicKey,
  encryptAES128GCM,
  generateP256KeyPair,
  hmac,
  randomBytes,
  signES256,
} from "../../core/crypto/index.ts";
import { Secret } from "../../core/secret.ts";
import {
  createVAPIDAuthorization,
  createVAPIDSigningInput,
  decryptWebPushPayload,
  encryptWebPushPayload,
  MAX_PLAINTEXT_BYTES,
  type PushSubscription,
  type VAPIDKeys,
  verifyVAPIDAuthorization,
  type WebPushReceiver,
  WebPushSender,
} from "./web-push.ts";

const A = JSON.parse(readFileSync("test/vectors/rfc8291-appendix-a.json", "utf8"));
const b64 = (text: string) => new Uint8Array(Buffer.from(text, "base64url"));
const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** RFC 8292 §2.4, the example Authorization header with its line wrapping removed. */
const RFC8292 = {
  token:
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1YiI6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUfnK9ojFwDXb1JrErtmysazNjjvW2L9OkSSHzvoD1oA",
  k: "BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs",
  claims: { aud: "https://push.example.net", exp: 1453523768, sub: "mailto:push@example.com" },
};

const rfcSubscription: PushSubscription = {
  endpoint: "https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV",
  keys: { p256dh: A.uaPublic, auth: A.authSecret },
};
const rfcReceiver: WebPushReceiver = {
  privateKey: new Secret(b64(A.uaPrivate)),
  publicKeyRaw: b64(A.uaPublic),
  authSecret: b64(A.authSecret),
};

/** A user agent's subscription and the keys to read it, made the way a browser makes them. */
function newSubscriber(): { subscription: PushSubscription; receiver: WebPushReceiver } {
  const keys = generateP256KeyPair();
  const authSecret = randomBytes(16);
  return {
    subscription: {
      endpoint: "https://push.example.net/push/abc",
      keys: {
        p256dh: Buffer.from(keys.publicKeyRaw).toString("base64url"),
        auth: Buffer.from(authSecret).toString("base64url"),
      },
    },
    receiver: { privateKey: new Secret(keys.privateKey), publicKeyRaw: keys.publicKeyRaw, authSecret },
  };
}

function newVAPIDKeys(): VAPIDKeys {
  const keys = generateP256KeyPair();
  return {
    publicKeyRaw: keys.publicKeyRaw,
    privateKey: new Secret(keys.privateKey),
    subject: "mailto:ops@example.org",
  };
}

describe("RFC 8291 Appendix A", () => {
  test("the key schedule reproduces every intermediate value", () => {
    const ecdh = computeP256SharedSecret(b64(A.asPrivate), b64(A.uaPublic));
    assert.deepEqual(ecdh, b64(A.intermediate.ecdhSecret));
    // The receiver reaches the same secret from its side (§3.1).
    assert.deepEqual(computeP256SharedSecret(b64(A.uaPrivate), b64(A.asPublic)), ecdh);
    assert.deepEqual(hmac("SHA256", b64(A.authSecret), ecdh), b64(A.intermediate.prkKey));
    const ikm = deriveHKDF(ecdh, b64(A.authSecret), b64(A.intermediate.keyInfo), 32);
    assert.deepEqual(ikm, b64(A.intermediate.ikm));
    assert.deepEqual(hmac("SHA256", b64(A.salt), ikm), b64(A.intermediate.prk));
    assert.deepEqual(deriveHKDF(ikm, b64(A.salt), b64(A.intermediate.cekInfo), 16), b64(A.intermediate.cek));
    assert.deepEqual(
      deriveHKDF(ikm, b64(A.salt), b64(A.intermediate.nonceInfo), 12),
      b64(A.intermediate.nonce),
    );
    assert.deepEqual(deriveP256PublicKey(b64(A.asPrivate)), b64(A.asPublic));
  });

  test("encrypting with the example's sender key and salt gives the example's body exactly", () => {
    const body = encryptWebPushPayload(rfcSubscription, b64(A.plaintext), {
      testOnlyEphemeral: {
        keyPair: { privateKey: b64(A.asPrivate), publicKeyRaw: b64(A.asPublic) },
        salt: b64(A.salt),
      },
    });
    assert.equal(text(b64(A.plaintext)), A.plaintextText);
    assert.equal(Buffer.from(body.subarray(0, 86)).toString("base64url"), A.header);
    assert.equal(Buffer.from(body.subarray(86)).toString("base64url"), A.ciphertext);
    assert.equal(Buffer.from(body).toString("base64url"), A.body);
  });

  test("the user agent decrypts the example's body to the watermelon sentence", () => {
    assert.equal(
      text(decryptWebPushPayload(b64(A.body), rfcReceiver)),
      "When I grow up, I want to be a watermelon",
    );
  });
});

describe("RFC 8291 payload encryption", () => {
  test("round-trips empty, short and maximum-size payloads", () => {
    const { subscription, receiver } = newSubscriber();
    for (const length of [0, 1, 200, MAX_PLAINTEXT_BYTES]) {
      const plaintext = randomBytes(length);
      const body = encryptWebPushPayload(subscription, plaintext);
      assert.ok(body.length <= 4096);
      assert.deepEqual(decryptWebPushPayload(body, receiver), plaintext);
    }
  });

  test("a payload one byte over 3993 is refused", () => {
    const { subscription } = newSubscriber();
    assert.throws(() => encryptWebPushPayload(subscription, new Uint8Array(MAX_PLAINTEXT_BYTES + 1)), {
      code: "ERR_VALIDATION",
    });
  });

  test("each message gets a fresh salt and sender key", () => {
    const { subscription } = newSubscriber();
    const a = encryptWebPushPayload(subscription, utf8("same"));
    const b = encryptWebPushPayload(subscription, utf8("same"));
    assert.notDeepEqual(a.subarray(0, 16), b.subarray(0, 16));
    assert.notDeepEqual(a.subarray(21, 86), b.subarray(21, 86));
    assert.notDeepEqual(a.subarray(86), b.subarray(86));
  });

  test("a wrong auth secret cannot decrypt", () => {
    const { subscription, receiver } = newSubscriber();
    const body = encryptWebPushPayload(subscription, utf8("approve?"));
    assert.throws(() => decryptWebPushPayload(body, { ...receiver, authSecret: randomBytes(16) }), {
      code: "ERR_DECRYPT",
    });
  });

  test("another subscriber's private key cannot decrypt", () => {
    const { subscription, receiver } = newSubscriber();
    const other = newSubscriber().receiver;
    const body = encryptWebPushPayload(subscription, utf8("approve?"));
    assert.throws(() => decryptWebPushPayload(body, { ...receiver, privateKey: other.privateKey }), {
      code: "ERR_DECRYPT",
    });
  });

  test("flipping any one byte of salt, sender key or ciphertext makes decryption fail", () => {
    const { subscription, receiver } = newSubscriber();
    const body = encryptWebPushPayload(subscription, utf8('{"txid":"abc"}'));
    for (const at of [0, 15, 30, 85, 86, body.length - 1]) {
      const tampered = body.slice();
      tampered[at] = tampered[at]! ^ 0x01;
      assert.throws(() => decryptWebPushPayload(tampered, receiver), { code: "ERR_DECRYPT" }, `byte ${at}`);
    }
  });

  test("a record whose delimiter is not 0x02 is discarded (RFC 8291 §4)", () => {
    // Seal other records under the example's CEK and nonce, behind the example's header.
    const sealed = (record: number[]) =>
      new Uint8Array([
        ...b64(A.header),
        ...encryptAES128GCM(b64(A.intermediate.cek), b64(A.intermediate.nonce), new Uint8Array(record)),
      ]);
    const plaintext = [...b64(A.plaintext)];
    assert.equal(
      text(decryptWebPushPayload(sealed([...plaintext, 0x02, 0, 0]), rfcReceiver)),
      A.plaintextText,
    );
    for (const record of [[...plaintext, 0x01], [...plaintext, 0x01, 0], [0, 0, 0], []]) {
      assert.throws(() => decryptWebPushPayload(sealed(record), rfcReceiver), { code: "ERR_DECRYPT" });
    }
  });

  test("subscription keys that are not a P-256 point or not 16 bytes are refused", () => {
    const { subscription } = newSubscriber();
    const notOnCurve = new Uint8Array(65);
    notOnCurve[0] = 0x04;
    notOnCurve[64] = 1;
    for (const keys of [
      { ...subscription.keys, p256dh: Buffer.from(notOnCurve).toString("base64url") },
      { ...subscription.keys, p256dh: subscription.keys.p256dh.slice(0, 80) },
      { ...subscription.keys, auth: Buffer.from(randomBytes(15)).toString("base64url") },
      { ...subscription.keys, auth: "not base64url!" },
    ]) {
      assert.throws(() => encryptWebPushPayload({ ...subscription, keys }, utf8("x")), {
        code: "ERR_VALIDATION",
      });
    }
  });
});

describe("RFC 8292 VAPID", () => {
  test("the §2.4 example: our signing input matches and its signature verifies under its k", () => {
    const [header, claims, signature] = RFC8292.token.split(".") as [string, string, string];
    assert.equal(createVAPIDSigningInput(RFC8292.claims), `${header}.${claims}`);
    assert.equal(verifyP256Signature(b64(RFC8292.k), utf8(`${header}.${claims}`), b64(signature)), true);
    assert.equal(verifyP256Signature(b64(RFC8292.k), utf8(`${header}.${claims}x`), b64(signature)), false);
  });

  test("the §2.4 example header is accepted before its exp and refused after", () => {
    const header = `vapid t=${RFC8292.token}, k=${RFC8292.k}`;
    const identity = verifyVAPIDAuthorization(header, "https://push.example.net", RFC8292.claims.exp - 60);
    assert.deepEqual(identity.claims, RFC8292.claims);
    assert.deepEqual(identity.publicKeyRaw, b64(RFC8292.k));
    assert.throws(
      () => verifyVAPIDAuthorization(header, "https://push.example.net", RFC8292.claims.exp + 1),
      {
        code: "ERR_UNAUTHENTICATED",
        message: /expired/,
      },
    );
  });

  test("our header carries aud = the endpoint's origin, exp = now + ttl, sub and k", () => {
    const vapid = newVAPIDKeys();
    const now = 1_800_000_000;
    const header = createVAPIDAuthorization("https://push.example.net:8443/push/xyz?q=1", vapid, now, 3600);
    const match = /^vapid t=([^,]+), k=(.+)$/.exec(header);
    assert.ok(match);
    assert.deepEqual(b64(match[2]!), vapid.publicKeyRaw);
    const [h, c] = match[1]!.split(".") as [string, string];
    assert.deepEqual(JSON.parse(text(b64(h))), { typ: "JWT", alg: "ES256" });
    assert.deepEqual(JSON.parse(text(b64(c))), {
      aud: "https://push.example.net:8443",
      exp: now + 3600,
      sub: "mailto:ops@example.org",
    });
    const identity = verifyVAPIDAuthorization(header, "https://push.example.net:8443", now);
    assert.equal(identity.claims.sub, "mailto:ops@example.org");
  });

  test("a lifetime over 24 hours or a subject that is not mailto:/https: is refused", () => {
    const vapid = newVAPIDKeys();
    assert.throws(() => createVAPIDAuthorization("https://p.example", vapid, 0, 24 * 3600 + 1), {
      code: "ERR_VALIDATION",
    });
    assert.throws(
      () => createVAPIDAuthorization("https://p.example", { ...vapid, subject: "ops@example.org" }, 0),
      {
        code: "ERR_VALIDATION",
      },
    );
  });

  test("the verifier refuses another audience, an expired token, exp too far ahead, a forged claim, a wrong k", () => {
    const vapid = newVAPIDKeys();
    const now = 1_800_000_000;
    const origin = "https://push.example.net";
    const good = createVAPIDAuthorization(`${origin}/push/1`, vapid, now);
    const refused = (header: string, at: number, why: RegExp) =>
      assert.throws(() => verifyVAPIDAuthorization(header, origin, at), {
        code: "ERR_UNAUTHENTICATED",
        message: why,
      });

    refused(createVAPIDAuthorization("https://other.example/push/1", vapid, now), now, /aud/);
    refused(good, now + 12 * 3600 + 1, /expired/);
    // A token signed by hand with exp 25 h ahead: a push service must not honour it (RFC 8292 §4.2).
    const farInput = createVAPIDSigningInput({ aud: origin, exp: now + 25 * 3600 });
    const far = `${farInput}.${Buffer.from(signES256(vapid.privateKey.reveal(), farInput)).toString("base64url")}`;
    refused(`vapid t=${far}, k=${Buffer.from(vapid.publicKeyRaw).toString("base64url")}`, now, /24 hours/);
    // Change a claim and keep the signature.
    const [, t, k] = /^vapid t=([^,]+), k=(.+)$/.exec(good)!;
    const [h, , s] = t!.split(".");
    const forged = Buffer.from(JSON.stringify({ aud: origin, exp: now + 23 * 3600 })).toString("base64url");
    refused(`vapid t=${h}.${forged}.${s}, k=${k}`, now, /signature/);
    // Someone else's key in k.
    refused(
      `vapid t=${t}, k=${Buffer.from(newVAPIDKeys().publicKeyRaw).toString("base64url")}`,
      now,
      /signature/,
    );
    // alg "none" with no signature.
    const none = `${Buffer.from('{"typ":"JWT","alg":"none"}').toString("base64url")}.${t!.split(".")[1]}.`;
    refused(`vapid t=${none}, k=${k}`, now, /ES256/);
    refused(`WebPush ${t}`, now, /scheme/);
    refused(`vapid t=${t}`, now, /missing/);
    assert.ok(verifyVAPIDAuthorization(good, origin, now));
  });
});

/** The test push service is plain HTTP on 127.0.0.1: both exceptions, which no configuration can set. */
const LOCAL_PUSH_SERVICE = { allowInsecureHTTP: true, allowLoopback: true, allowedHosts: [] };

describe("delivery to a push service (RFC 8030)", () => {
  let push: PushEndpoint;
  const vapid = newVAPIDKeys();
  const clock = { now: () => Date.now() };
  let sender: WebPushSender;

  before(async () => {
    push = await startPushEndpoint();
    sender = new WebPushSender({ vapid, clock, ...LOCAL_PUSH_SERVICE });
  });
  after(async () => {
    await push.close();
  });

  test("the push service receives, authenticates and decrypts the message; the wire never shows the plaintext", async () => {
    const { subscription, id } = push.createSubscription();
    const payload = { type: "push-approval", txid: "PT7Q2ZK0", application: "VPN", code: "482193" };
    const result = await sender.send(subscription, payload, {
      ttlSeconds: 120,
      urgency: "high",
      topic: "PT7Q2ZK0",
    });
    assert.deepEqual(result, { status: 201, gone: false });

    const message = await push.waitFor(id, 2000);
    assert.deepEqual(JSON.parse(text(message.plaintext)), payload);
    const wire = Buffer.from(message.body);
    assert.equal(wire.includes(Buffer.from(JSON.stringify(payload))), false);
    assert.equal(wire.includes(Buffer.from("482193")), false);
    assert.equal(message.ttl, 120);
    assert.equal(message.urgency, "high");
    assert.equal(message.topic, "PT7Q2ZK0");
    assert.deepEqual(message.vapidPublicKey, vapid.publicKeyRaw);
    assert.equal(message.vapidSubject, "mailto:ops@example.org");
  });

  test("410 Gone and 404 Not Found mark the subscription gone; 429 and 500 do not", async () => {
    const { subscription, id } = push.createSubscription();
    try {
      for (const [status, gone] of [
        [410, true],
        [429, false],
        [500, false],
      ] as const) {
        push.respondWith(status);
        assert.deepEqual(await sender.send(subscription, { n: 1 }, { ttlSeconds: 60 }), { status, gone });
      }
    } finally {
      push.respondWith(null);
    }
    push.expire(id);
    assert.deepEqual(await sender.send(subscription, { n: 2 }, { ttlSeconds: 60 }), {
      status: 404,
      gone: true,
    });
    assert.equal(push.received(id).length, 0);
  });

  test("an oversized payload, a bad topic or a bad TTL fails with ERR_VALIDATION before any request", async () => {
    const { subscription } = push.createSubscription();
    const before = push.requestCount;
    await assert.rejects(
      sender.send(subscription, { pad: "x".repeat(MAX_PLAINTEXT_BYTES) }, { ttlSeconds: 60 }),
      {
        code: "ERR_VALIDATION",
      },
    );
    await assert.rejects(sender.send(subscription, { n: 1 }, { ttlSeconds: 60, topic: "x".repeat(33) }), {
      code: "ERR_VALIDATION",
    });
    await assert.rejects(sender.send(subscription, { n: 1 }, { ttlSeconds: 60, topic: "a+b" }), {
      code: "ERR_VALIDATION",
    });
    await assert.rejects(sender.send(subscription, { n: 1 }, { ttlSeconds: -1 }), { code: "ERR_VALIDATION" });
    assert.equal(push.requestCount, before);
  });

  test("the push service refuses a token for another audience and an expired token with 403", async () => {
    const { subscription, id } = push.createSubscription();
    const now = Math.floor(Date.now() / 1000);
    const body = encryptWebPushPayload(subscription, utf8("{}"));
    const post = (authorization: string) =>
      fetch(subscription.endpoint, {
        method: "POST",
        headers: { "Content-Encoding": "aes128gcm", TTL: "60", Authorization: authorization },
        body,
      });

    const otherAudience = createVAPIDAuthorization("https://push.example.net/push/1", vapid, now);
    assert.equal((await post(otherAudience)).status, 403);
    const expired = createVAPIDAuthorization(subscription.endpoint, vapid, now - 2 * 3600, 3600);
    assert.equal((await post(expired)).status, 403);
    assert.deepEqual(
      push.refused(id).map((r) => r.reason),
      [
        "VAPID authorization refused: aud is not this push service",
        "VAPID authorization refused: token expired",
      ],
    );
    assert.equal((await post(createVAPIDAuthorization(subscription.endpoint, vapid, now))).status, 201);
  });

  test("a push service that does not answer in time fails the send without revealing keys or payload", async () => {
    const { subscription } = push.createSubscription();
    const impatient = new WebPushSender({ vapid, clock, ...LOCAL_PUSH_SERVICE, timeoutMs: 200 });
    push.respondWith("hang");
    try {
      await assert.rejects(
        impatient.send(subscription, { code: "913377" }, { ttlSeconds: 60 }),
        (error: unknown) => {
          const e = error as { code: string; message: string; detail: string };
          assert.equal(e.code, "ERR_INTERNAL");
          const shown = `${e.message} ${e.detail}`;
          for (const secret of [
            "913377",
            subscription.keys.auth,
            subscription.keys.p256dh,
            subscription.endpoint,
          ])
            assert.equal(shown.includes(secret), false);
          return true;
        },
      );
    } finally {
      push.respondWith(null);
    }
  });

  test("plain http endpoints are refused unless explicitly allowed, and the VAPID key pair must match", async () => {
    const { subscription } = push.createSubscription();
    const strict = new WebPushSender({ vapid, clock, allowedHosts: ["*"], allowLoopback: true });
    await assert.rejects(strict.send(subscription, { n: 1 }, { ttlSeconds: 60 }), { code: "ERR_VALIDATION" });
    assert.throws(
      () =>
        new WebPushSender({
          vapid: { ...vapid, publicKeyRaw: newVAPIDKeys().publicKeyRaw },
          clock,
          allowedHosts: ["*"],
        }),
      {
        code: "ERR_VALIDATION",
      },
    );
  });
});
