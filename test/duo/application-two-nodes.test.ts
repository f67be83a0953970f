// Two nodes on one database (one SQLite file, one PostgreSQL schema): an integration's key rotated, the integration
// disabled, enabled or deleted through one node is honoured by the other at its very next signed request, though
// each node keeps the applications it has read and their opened keys.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import { createLogger } from "../../src/runtime/logger.ts";
import { createRuntime, type Runtime } from "../../src/runtime/runtime.ts";
import { ADMIN, createTestRuntime, enrollTOTPUser, type HTTPTestContext } from "../http/support.ts";
import { dialects } from "../support/stores.ts";

interface Integration {
  ikey: string;
  skey: string;
}

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: a client's view of the envelope; each test checks what it uses.
  body: Record<string, any>;
}

/** One API host name for both nodes, as behind a load balancer. */
const API_HOST = "duo.twofold.test";

const sha512Hex = (text: string) => createHash("sha512").update(text).digest("hex");

/** Sign like duo_client_python (v5, HMAC-SHA512, RFC 5322 date) and post the form to one node. */
function send(
  baseURL: string,
  key: Integration,
  path: string,
  params: Record<string, string>,
  now: number,
): Promise<Answer> {
  const body = Object.keys(params)
    .sort()
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params[k]!)}`)
    .join("&");
  const date = new Date(now).toUTCString().replace("GMT", "-0000");
  const canonical = [date, "POST", API_HOST, path, body, sha512Hex(""), sha512Hex("")].join("\n");
  const digest = createHmac("sha512", key.skey).update(canonical).digest("hex");
  const headers = {
    host: API_HOST,
    "x-duo-date": date,
    authorization: `Basic ${Buffer.from(`${key.ikey}:${digest}`).toString("base64")}`,
    "content-type": "application/x-www-form-urlencoded",
  };
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, baseURL), { method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

for (const dialect of await dialects()) {
  describe(`an integration changed on one node, honoured by the other at once (${dialect})`, () => {
    let t: HTTPTestContext;
    let nodeB: Runtime;
    let serverA: RunningServer;
    let serverB: RunningServer;
    let alice: { code(): string };

    before(async () => {
      t = await createTestRuntime({ dialect });
      nodeB = await createRuntime(t.runtime.config, {
        clock: t.clock,
        logger: createLogger({ level: "fatal", node: "node-b", destination: { write: () => undefined } }),
        ...(t.schema ? { schema: t.schema } : {}),
      });
      serverA = await startServer(t.runtime);
      serverB = await startServer(nodeB);
      alice = await enrollTOTPUser(t, "alice");
    });

    after(async () => {
      await serverB?.close();
      await serverA?.close();
      await nodeB?.close();
      await t?.close();
    });

    const create = async (name: string): Promise<Integration> => {
      const c = await nodeB.services.createApplication(ADMIN, { name, type: "auth-api" });
      return { ikey: c.application.id, skey: c.secretKey.reveal() };
    };
    /** A passcode login (it ends in the one conditional statement) and a preauth (it does not), on node A. */
    const passcode = (key: Integration) =>
      send(
        serverA.url,
        key,
        "/auth/v2/auth",
        { username: "alice", factor: "passcode", passcode: alice.code() },
        t.clock.now(),
      );
    const preauth = (key: Integration) =>
      send(serverA.url, key, "/auth/v2/preauth", { username: "alice" }, t.clock.now());
    /** The next TOTP step: each login below uses a fresh code. */
    const nextStep = () => t.clock.advance(t.runtime.config.policy.totp.period * 1000);
    const refusal = (a: Answer) => [a.status, a.body["code"]];

    test("a key rotated on node B: node A refuses the old key at its next request and takes the new one", async () => {
      const old = await create("rotated");
      nextStep();
      assert.equal((await preauth(old)).body["response"]["result"], "auth");
      assert.equal((await passcode(old)).body["response"]["result"], "allow");
      nextStep();
      const skey = (await nodeB.services.rotateApplicationSecret(ADMIN, old.ikey)).reveal();
      const rotated = { ikey: old.ikey, skey };
      assert.deepEqual(refusal(await passcode(old)), [401, 40103]);
      assert.deepEqual(refusal(await preauth(old)), [401, 40103]);
      // The code the refused login carried was not used: the new key logs in with it.
      const allowed = await passcode(rotated);
      assert.equal(allowed.body["response"]["result"], "allow", JSON.stringify(allowed.body));
      assert.equal((await preauth(rotated)).body["response"]["result"], "auth");
      // And node B, which rotated it, agrees.
      nextStep();
      assert.deepEqual(
        refusal(await send(serverB.url, old, "/auth/v2/preauth", { username: "alice" }, t.clock.now())),
        [401, 40103],
      );
    });

    test("an integration disabled on node B is refused by node A at its next request, and taken again once enabled", async () => {
      const key = await create("disabled");
      nextStep();
      assert.equal((await passcode(key)).body["response"]["result"], "allow");
      assert.equal((await preauth(key)).body["response"]["result"], "auth");
      nextStep();
      await nodeB.services.setApplicationStatus(ADMIN, key.ikey, "disabled");
      assert.deepEqual(refusal(await passcode(key)), [401, 40102]);
      assert.deepEqual(refusal(await preauth(key)), [401, 40102]);
      await nodeB.services.setApplicationStatus(ADMIN, key.ikey, "active");
      assert.equal((await passcode(key)).body["response"]["result"], "allow");
      assert.equal((await preauth(key)).body["response"]["result"], "auth");
    });

    test("an integration deleted on node B is unknown to node A at its next request", async () => {
      const key = await create("deleted");
      nextStep();
      assert.equal((await passcode(key)).body["response"]["result"], "allow");
      nextStep();
      await nodeB.services.deleteApplication(ADMIN, key.ikey);
      assert.deepEqual(refusal(await passcode(key)), [401, 40102]);
      assert.deepEqual(refusal(await preauth(key)), [401, 40102]);
    });
  });
}
