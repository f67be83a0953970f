// Activation QR codes (`activation_barcode`): no secret in the URL, rendered once at activation time, rate-limited.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import * as duoSig from "@duosecurity/duo_api/lib/duo_sig.js";
import type { FastifyInstance } from "fastify";
import { BARCODE_RATE } from "../../src/http/activation-barcode.ts";
import { buildServer, listenServer } from "../../src/http/server.ts";
import { dialects } from "../support/stores.ts";
import { ADMIN, createTestRuntime } from "./support.ts";

const require = createRequire(import.meta.url);
const jsQR = require("jsqr") as (
  data: Uint8ClampedArray,
  width: number,
  height: number,
) => { data: string } | null;
const { PNG } = require("pngjs") as {
  PNG: { sync: { read(data: Buffer): { width: number; height: number; data: Buffer } } };
};

function readQR(png: Buffer): string | undefined {
  const image = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data;
}

async function enroll(
  app: FastifyInstance,
  keys: { ikey: string; skey: string },
  now: number,
  username: string,
) {
  const params = { username, valid_secs: "600" };
  const date = new Date(now).toUTCString();
  const res = await app.inject({
    method: "POST",
    url: "/auth/v2/enroll",
    headers: {
      date,
      host: "localhost",
      "content-type": "application/x-www-form-urlencoded",
      authorization: duoSig.sign(keys.ikey, keys.skey, "POST", "localhost", "/auth/v2/enroll", params, date),
    },
    payload: duoSig._canonParams(params),
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().response as { activation_barcode: string; activation_code: string; user_id: string };
}

for (const dialect of await dialects()) {
  describe(`activation QR codes on ${dialect}`, () => {
    test("the barcode URL carries no secret; the image is the activation link, rendered once", async () => {
      const t = await createTestRuntime({ dialect });
      const app = buildServer(t.runtime);
      try {
        const created = await t.runtime.services.createApplication(ADMIN, {
          name: "vpn",
          type: "auth-api",
          policy: { allowEnrollment: true },
        });
        const keys = { ikey: created.application.id, skey: created.secretKey.reveal() };
        const enrolled = await enroll(app, keys, t.clock.now(), "newcomer");
        const url = new URL(enrolled.activation_barcode);
        assert.match(url.pathname, /^\/frame\/qr\/[0-9a-f]{32}\.png$/);
        assert.equal(url.search, "");
        const token = enrolled.activation_code.slice(enrolled.activation_code.indexOf("activate=") + 9);
        for (const part of [token, ...token.split(".")])
          assert.ok(!enrolled.activation_barcode.includes(part), "neither the activation id nor its secret");

        const fetches = 25;
        const cpu = process.cpuUsage();
        const started = performance.now();
        let png: Buffer | undefined;
        for (let i = 0; i < fetches; i++) {
          const res = await app.inject({ method: "GET", url: url.pathname });
          assert.equal(res.statusCode, 200);
          assert.equal(res.headers["content-type"], "image/png");
          assert.equal(res.headers["cache-control"], "private, no-store");
          png = res.rawPayload;
        }
        const used = process.cpuUsage(cpu);
        const cpuMs = (used.user + used.system) / 1000 / fetches;
        const wallMs = (performance.now() - started) / fetches;
        console.log(
          `/frame/qr: ${cpuMs.toFixed(2)} ms CPU, ${wallMs.toFixed(2)} ms per request (${fetches} requests)`,
        );
        assert.ok(cpuMs < 10, `served from the stored image, not rendered per request (${cpuMs} ms CPU)`);
        assert.equal(readQR(png!), enrolled.activation_code, "the image is the activation link");
        assert.ok(
          !t.logs.some((l) => l.includes(token.split(".")[1]!) || l.includes(url.pathname.slice(10, 42))),
          "neither the secret nor the handle is logged",
        );
      } finally {
        await app.close();
        await t.close();
      }
    });

    test("unknown, used and expired handles are 404; the old ?value= form is gone", async () => {
      const t = await createTestRuntime({ dialect });
      const app = buildServer(t.runtime);
      try {
        const created = await t.runtime.services.createApplication(ADMIN, {
          name: "vpn",
          type: "auth-api",
          policy: { allowEnrollment: true },
        });
        const keys = { ikey: created.application.id, skey: created.secretKey.reveal() };
        const get = async (path: string) => (await app.inject({ method: "GET", url: path })).statusCode;
        assert.equal(await get(`/frame/qr/${"0".repeat(32)}.png`), 404);
        assert.equal(
          await get("/frame/qr?value=https%3A%2F%2Flocalhost%2Fauthenticator%23activate%3Dx"),
          404,
        );

        const expiring = await enroll(app, keys, t.clock.now(), "expiring");
        const path = new URL(expiring.activation_barcode).pathname;
        assert.equal(await get(path), 200);
        t.clock.advance(t.runtime.config.policy.push.activationSeconds * 1000);
        assert.equal(await get(path), 404, "expired with its activation");

        const used = await enroll(app, keys, t.clock.now(), "used");
        const usedPath = new URL(used.activation_barcode).pathname;
        const token = used.activation_code.slice(used.activation_code.indexOf("activate=") + 9);
        const [id] = token.split(".");
        assert.ok(await t.runtime.store.consumeDeviceActivation(id!, t.clock.now()));
        assert.equal(await get(usedPath), 404, "gone once the activation is used");
      } finally {
        await app.close();
        await t.close();
      }
    });
  });
}

test(`one address gets ${BARCODE_RATE.requests} QR codes a minute, then 429 until the minute is over`, async () => {
  const t = await createTestRuntime();
  const app = buildServer(t.runtime);
  try {
    const created = await t.runtime.services.createApplication(ADMIN, {
      name: "vpn",
      type: "auth-api",
      policy: { allowEnrollment: true },
    });
    const keys = { ikey: created.application.id, skey: created.secretKey.reveal() };
    const path = new URL((await enroll(app, keys, t.clock.now(), "alice")).activation_barcode).pathname;
    const get = async (ip: string) =>
      (await app.inject({ method: "GET", url: path, remoteAddress: ip })).statusCode;
    for (let i = 0; i < BARCODE_RATE.requests; i++) assert.equal(await get("192.0.2.7"), 200);
    assert.equal(await get("192.0.2.7"), 429);
    assert.equal(await get("192.0.2.8"), 200, "another address is not held up");
    t.clock.advance(BARCODE_RATE.windowMs);
    assert.equal(await get("192.0.2.7"), 200);
  } finally {
    await app.close();
    await t.close();
  }
});

test("64 concurrent QR code requests leave /health responsive (it was 2.1 s at p99)", async () => {
  const t = await createTestRuntime();
  const app = buildServer(t.runtime);
  const server = await listenServer(app, t.runtime);
  try {
    const created = await t.runtime.services.createApplication(ADMIN, {
      name: "vpn",
      type: "auth-api",
      policy: { allowEnrollment: true },
    });
    const keys = { ikey: created.application.id, skey: created.secretKey.reveal() };
    const path = new URL((await enroll(app, keys, t.clock.now(), "alice")).activation_barcode).pathname;
    const timed = async (url: string) => {
      const started = performance.now();
      await (await fetch(url)).arrayBuffer();
      return performance.now() - started;
    };
    const load = Array.from({ length: 64 }, () => fetch(`${server.url}${path}`).then((r) => r.status));
    const health = await Promise.all(Array.from({ length: 20 }, () => timed(`${server.url}/health`)));
    const statuses = await Promise.all(load);
    health.sort((a, b) => a - b);
    const p99 = health[Math.ceil(health.length * 0.99) - 1]!;
    console.log(
      `/health p99 ${p99.toFixed(1)} ms beside 64 QR requests (${statuses.filter((s) => s === 200).length} × 200, ${statuses.filter((s) => s === 429).length} × 429)`,
    );
    assert.deepEqual(new Set(statuses), new Set([200, 429]), "30 served, the rest refused");
    assert.ok(p99 < 1000, `p99 ${p99} ms`);
  } finally {
    await server.close();
    await t.close();
  }
});
