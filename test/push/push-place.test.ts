// The place shown with a push: looked up locally in the configured GeoIP database; a bad file stops the start.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { generateP256Signer } from "../../src/core/crypto/ecdsa.ts";
import { ADMIN, createTestRuntime } from "../http/support.ts";
import { buildMMDB } from "../support/mmdb-writer.ts";

const dir = mkdtempSync(join(tmpdir(), "twofold-geoip-"));

describe("push place from a GeoIP database", () => {
  test("a push from a public address shows its city and country; a private one shows none", async () => {
    const file = join(dir, "city.mmdb");
    const record = { city: { names: { en: "Taipei" } }, country: { names: { en: "Taiwan" } } };
    writeFileSync(file, buildMMDB([{ cidr: "1.160.0.0/12", record }], { ipVersion: 4, recordSize: 24 }));
    const t = await createTestRuntime({ overrides: { "push.geoipFile": file } });
    try {
      const { services } = t.runtime;
      await services.createUser(ADMIN, { username: "alice" });
      const ticket = await services.createDeviceActivation(ADMIN, "alice");
      const { device } = await services.activateDevice({
        token: ticket.token.reveal(),
        name: "Phone",
        publicKey: Buffer.from(generateP256Signer().publicKeyRaw).toString("base64url"),
      });
      const places: (string | null)[] = [];
      for (const ip of ["1.160.0.1", "10.1.2.3", "192.0.2.1"]) {
        const started = await services.startPush({ username: "alice", ip, verified: true });
        assert.ok(started.started);
        places.push((await services.listDevicePushes(device))[0]!.place);
        await services.cancelPush(started.txid);
      }
      assert.deepEqual(places, ["Taipei, Taiwan", null, null]);
    } finally {
      await t.close();
    }
  });

  test("a configured file that is not a GeoIP database stops the start, naming the file", async () => {
    const file = join(dir, "not-a-database.mmdb");
    writeFileSync(file, "hello");
    await assert.rejects(
      createTestRuntime({ overrides: { "push.geoipFile": file } }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, "ERR_CONFIG_INVALID");
        assert.ok(e.message.includes(file), e.message);
        return true;
      },
    );
  });
});
