// Admin API SMS controls (Twofold extension): stop and resume texts to a user or number and read the report, signed as Duo's Admin API client signs.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as duoSig from "@duosecurity/duo_api/lib/duo_sig.js";
import type { FastifyInstance } from "fastify";
import { buildServer } from "../../src/http/server.ts";
import { ADMIN, createTestRuntime, type HTTPTestContext } from "../http/support.ts";

// SQLite only: the store behind these routes is tested on both databases in test/sms/; this is the HTTP layer.
let t: HTTPTestContext;
let app: FastifyInstance;
let keys: { ikey: string; skey: string };
let second = 0;

before(async () => {
  t = await createTestRuntime({
    overrides: {
      "organization.country": "HK",
      "sms.guard.spend.dailyCap": 0.1,
      "sms.guard.spend.prices": { HK: 0.05 },
    },
  });
  app = buildServer(t.runtime);
  await app.ready();
  const c = await t.runtime.services.createApplication(ADMIN, { name: "console", type: "admin-api" });
  keys = { ikey: c.application.id, skey: c.secretKey.reveal() };
});

after(async () => {
  await app?.close();
  await t?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: the tests read the JSON field by field
type Json = any;

async function call(method: "GET" | "POST" | "DELETE", path: string, params: Record<string, string> = {}) {
  // Each change carries a Date not used before: the server refuses a signed change seen again (K2).
  const date = new Date(t.clock.now() - 1000 * second++).toUTCString();
  const host = "localhost";
  const authorization = duoSig.sign(keys.ikey, keys.skey, method, host, path, params, date);
  const qs = duoSig._canonParams(params);
  const res = await app.inject({
    method,
    url: method === "POST" || !qs ? path : `${path}?${qs}`,
    headers: {
      host,
      date,
      authorization,
      ...(method === "POST" ? { "content-type": "application/x-www-form-urlencoded" } : {}),
    },
    ...(method === "POST" ? { payload: qs } : {}),
  });
  return { status: res.statusCode, body: JSON.parse(res.body) as Json };
}

test("stop texts to a user and a number, list them, read the report, resume", async () => {
  const user = await t.runtime.services.createUser(ADMIN, { username: "frank" });
  const stopped = await call("POST", "/admin/v1/sms/stops", { user_id: user.id, reason: "lost phone" });
  assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
  assert.equal(stopped.body.response.scope, "user");
  assert.equal(stopped.body.response.username, "frank");
  const number = await call("POST", "/admin/v1/sms/stops", { number: "+85291234567", reason: "fraud range" });
  assert.equal(number.body.response.subject, "+*******4567");

  const list = await call("GET", "/admin/v1/sms/stops");
  assert.deepEqual(list.body.response.map((s: Json) => s.scope).sort(), ["number", "user"]);

  const report = await call("GET", "/admin/v1/sms/report", { days: "7" });
  assert.equal(report.status, 200);
  assert.equal(report.body.response.dailyCap, 0.1);
  assert.deepEqual(report.body.response.countries, ["HK"]);
  assert.equal(report.body.response.stops.length, 2);
  assert.ok(!JSON.stringify(report.body).includes("91234567"), "no whole number in the answer");

  const resumed = await call("DELETE", `/admin/v1/sms/stops/${stopped.body.response.id}`);
  assert.equal(resumed.status, 200);
  assert.equal(resumed.body.response[0].endedBy, `integration:${keys.ikey}`);
  const audit = await t.runtime.services.listAudit({ limit: 10, order: "desc" });
  assert.deepEqual(
    audit.filter((e) => e.action.startsWith("sms.")).map((e) => e.action),
    ["sms.resume", "sms.stop", "sms.stop"],
  );
});

test("bad input is a 4xx in Duo's envelope, never a 5xx", async () => {
  const none = await call("POST", "/admin/v1/sms/stops", { reason: "x" });
  assert.equal(none.status, 400);
  assert.equal(none.body.code, 40002);
  const both = await call("POST", "/admin/v1/sms/stops", {
    user_id: "x",
    number: "+85291234567",
    reason: "x",
  });
  assert.equal(both.status, 400);
  const noReason = await call("POST", "/admin/v1/sms/stops", { number: "+85291234568" });
  assert.equal(noReason.status, 400);
  const badNumber = await call("POST", "/admin/v1/sms/stops", { number: "12345", reason: "x" });
  assert.equal(badNumber.status, 400);
  assert.equal(badNumber.body.code, 40002);
  const unknownUser = await call("POST", "/admin/v1/sms/stops", { user_id: "DUNKNOWN", reason: "x" });
  assert.equal(unknownUser.status, 404);
  const twice = await call("POST", "/admin/v1/sms/stops", { number: "+85291234569", reason: "x" });
  assert.equal(twice.status, 200);
  const again = await call("POST", "/admin/v1/sms/stops", { number: "+85291234569", reason: "x" });
  assert.ok(again.status >= 400 && again.status < 500, String(again.status));
  const gone = await call("DELETE", "/admin/v1/sms/stops/SXNOSUCHSTOP");
  assert.equal(gone.status, 404);
  const days = await call("GET", "/admin/v1/sms/report", { days: "0" });
  assert.equal(days.status, 400);
  const extra = await call("GET", "/admin/v1/sms/report", { foo: "1" });
  assert.equal(extra.status, 400);
});

test("operators are alerted in the log when the day's spend cap is reached; no number in any log line or audit row (N1)", async () => {
  const send = (i: number) =>
    t.runtime.services.decideSmsSend({
      userId: `U-${i}`,
      phoneE164: `+8529876543${i}`,
      ip: "198.51.100.7",
      applicationId: keys.ikey,
      purpose: "passcode",
      now: t.clock.now(),
    });
  assert.ok((await send(1)).allow);
  assert.ok((await send(2)).allow);
  const capped = await send(3);
  assert.equal(capped.allow, false);
  await send(4);
  const alerts = t.logs.map((l) => JSON.parse(l)).filter((l) => l.alert === "sms.spend_cap_reached");
  assert.equal(alerts.length, 1, "one alert line, however many texts are refused");
  assert.equal(alerts[0].level, "warn");
  assert.match(alerts[0].msg, /SMS stopped for the day: spend 0\.10 of the 0\.10 USD cap/);
  const audit = await t.runtime.services.listAudit({ limit: 100, order: "desc" });
  for (const text of [t.logs.join("\n"), JSON.stringify(audit)])
    for (const digits of ["98765431", "98765432", "98765433", "91234567", "91234568", "91234569"])
      assert.ok(!text.includes(digits), `no number ending ${digits} in clear`);
});
