// Posting the ways on out of a login (Continue, the backup's "Activated: continue", Skip backup) before the login is
// allowed — another tab, a replayed form, a stranger with the link — answers at once with the login's own page,
// never a request left unanswered until the server's handler timeout (a 503 after seconds, a connection held).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildServer } from "../../src/http/server.ts";
import { startPromptLogin } from "../support/prompt-login.ts";
import { ADMIN, createTestRuntime, DEMO, enrollTOTPUser, type HTTPTestContext } from "./support.ts";

const PUBLIC = "https://twofold.example.edu";
const REDIRECT = "https://portal.example.edu/callback";
let t: HTTPTestContext;
let app: FastifyInstance;
let client: { id: string; secret: string };

before(async () => {
  t = await createTestRuntime({
    overrides: { "server.publicUrl": PUBLIC, "server.answerTimeoutSeconds": 3 },
  });
  app = buildServer(t.runtime, { demo: DEMO });
  await app.ready();
  await enrollTOTPUser(t, "alice");
  const created = await t.runtime.services.createApplication(ADMIN, {
    name: "Portal",
    type: "web-sdk",
    redirectURIs: [REDIRECT],
    policy: { newUserPolicy: "enroll" },
  });
  client = { id: created.application.id, secret: created.secretKey.reveal() };
});
after(async () => {
  await app?.close();
  await t?.close();
});

async function start(username: string): Promise<string> {
  const promptClient = { ...client, redirect: REDIRECT, audience: PUBLIC };
  return startPromptLogin(t.runtime.services, promptClient, username, t.clock.now());
}

test("a pending login's Continue, Activated: continue and Skip backup go back to its page at once", async () => {
  const handle = await start("alice");
  for (const path of ["finish", "enroll/backup/done", "enroll/backup/skip"]) {
    const began = Date.now();
    const res = await app.inject({
      method: "POST",
      url: `/prompt/${handle}/${path}`,
      headers: { "content-type": "application/x-www-form-urlencoded", origin: PUBLIC },
      payload: "",
    });
    assert.equal(res.statusCode, 303, `${path}: ${res.body}`);
    assert.equal(res.headers.location, `/prompt/${handle}`, path);
    assert.ok(Date.now() - began < 2000, `${path} answered in ${Date.now() - began} ms`);
  }
  // The login is untouched: still waiting for alice's factor.
  assert.equal(
    (await t.runtime.services.openPromptLogin(handle, { touch: false }))?.session.status,
    "pending",
  );
});

test("enrolment with a key: the kind the page names shapes the browser's dialog; none named offers every kind", async () => {
  await t.runtime.services.createUser(ADMIN, { username: "newcomer" });
  const handle = await start("newcomer");
  const options = async (body: Record<string, string>) => {
    const res = await app.inject({
      method: "POST",
      url: `/prompt/${handle}/enroll/key/options`,
      headers: { "content-type": "application/json", origin: PUBLIC },
      payload: JSON.stringify(body),
    });
    assert.equal(res.statusCode, 200, res.body);
    // biome-ignore lint/suspicious/noExplicitAny: the browser's view of the creation options; each field used is checked.
    return (res.json() as any).options;
  };
  const key = await options({ method: "security-key" });
  assert.equal(key.authenticatorSelection?.authenticatorAttachment, "cross-platform");
  assert.deepEqual(key.hints, ["security-key"]);
  const device = await options({ method: "platform" });
  assert.equal(device.authenticatorSelection?.authenticatorAttachment, "platform");
  const any = await options({});
  assert.equal(any.authenticatorSelection?.authenticatorAttachment, undefined);
  assert.equal(any.hints, undefined);
});
