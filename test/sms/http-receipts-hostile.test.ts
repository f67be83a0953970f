// Hostile delivery receipts: bodies no provider sends (values that are objects, arrays, objects that cannot be turned
// into text) are refused with a 4xx and a stable code, never a 5xx; nothing is recorded.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { twilioSignature } from "../../src/adapters/sms/http-gateway.ts";
import { buildServer } from "../../src/http/server.ts";
import { createTestRuntime, DEMO, type HTTPTestContext } from "../http/support.ts";

const PUBLIC = "https://twofold.example.edu";
const AUTH_TOKEN = "twilio-auth-token-for-tests";
const SHARED = "json-provider-shared-token";
let t: HTTPTestContext;
let app: FastifyInstance;

before(async () => {
  t = await createTestRuntime({
    overrides: {
      "server.publicUrl": PUBLIC,
      "sms.gateways": [
        {
          type: "http",
          name: "form-provider",
          url: "http://127.0.0.1:9/send",
          messageIdPath: "sid",
          receipts: { auth: "twilio", secret: AUTH_TOKEN },
        },
        {
          type: "http",
          name: "json-provider",
          url: "http://127.0.0.1:9/json",
          body: "json",
          fields: { to: "{to}", text: "{text}" },
          messageIdPath: "id",
          receipts: { auth: "token", secret: SHARED, idField: "data.id", statusField: "data.status" },
        },
      ],
    },
  });
  app = buildServer(t.runtime, { demo: DEMO });
  await app.ready();
});
after(async () => {
  await app?.close();
  await t?.close();
});

const HOSTILE: Array<Record<string, unknown>> = [
  { MessageSid: "SM1", MessageStatus: "delivered", Extra: { toString: 1, valueOf: 2 } },
  { MessageSid: { toString: "x" }, MessageStatus: "delivered" },
  { MessageSid: "SM1", MessageStatus: ["delivered", "failed"] },
  { MessageSid: "SM1", MessageStatus: "delivered", Nested: { a: [1, { b: null }] } },
];

test("a Twilio-style receipt with values that are not text is refused (4xx), with or without a signature", async () => {
  const path = "/sms/v1/receipts/form-provider";
  for (const body of HOSTILE) {
    for (const signature of ["bogus", null]) {
      const res = await app.inject({
        method: "POST",
        url: path,
        headers: {
          "content-type": "application/json",
          "x-twilio-signature":
            signature ??
            (() => {
              try {
                return twilioSignature(AUTH_TOKEN, `${PUBLIC}${path}`, body);
              } catch {
                return "unsignable";
              }
            })(),
        },
        payload: JSON.stringify(body),
      });
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} ${res.body}`);
      assert.equal(res.json().error.code, "ERR_UNAUTHENTICATED", JSON.stringify(body));
    }
  }
});

test("a token receipt with hostile values is refused or ignored, never a 5xx", async () => {
  for (const data of [
    { id: { toString: 1 }, status: "delivered" },
    { id: "m1", status: { valueOf: 2 } },
    "text",
    [1, 2],
    null,
  ]) {
    const res = await app.inject({
      method: "POST",
      url: `/sms/v1/receipts/json-provider?token=${SHARED}`,
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ data }),
    });
    assert.ok(res.statusCode < 500, `${res.statusCode} ${res.body}`);
    if (res.statusCode === 200) assert.equal(res.json().status, "ignored");
    else assert.equal(res.json().error.code, "ERR_VALIDATION");
  }
});
