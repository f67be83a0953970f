// HTTP SMS gateways' delivery receipts: a local provider takes the text, then posts its status back to /sms/v1/receipts/<gateway>, signed (Twilio) or with a shared token; the outbox message's delivery status follows.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { twilioSignature } from "../../src/adapters/sms/http-gateway.ts";
import { type RunningServer, startServer } from "../../src/http/server.ts";
import { ADMIN, createTestRuntime, enrollTOTPUser, type HTTPTestContext } from "../http/support.ts";
import { dialects } from "../support/stores.ts";

const PUBLIC = "https://twofold.example.edu";
const AUTH_TOKEN = "twilio-auth-token-for-tests";
const SHARED = "json-provider-shared-token";

interface Sent {
  provider: "form" | "json";
  id: string;
  to: string;
  text: string;
}

/**
 * Two providers on one local server: a Twilio-shaped one (form in, `sid` out, form callbacks signed with
 * X-Twilio-Signature) and a JSON one (`data.id`, JSON callbacks with `?token=`). After taking a message each reports
 * an interim status at once, and the final one (`finalStatus`) when the handset has it (`deliver()`), as Twofold
 * told it to.
 */
class LocalProvider {
  readonly sent: Sent[] = [];
  /** What the Twilio-shaped provider answers (503: it refuses, so the outbox fails over). */
  formStatus = 201;
  finalStatus = "delivered";
  twofold = "";
  readonly callbacks: Array<Promise<number>> = [];
  /** The final callbacks, posted when the test says the handset has the message. */
  readonly #final: Array<() => Promise<number>> = [];
  #server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c: Buffer) => {
        raw += c.toString("utf8");
      });
      req.on("end", () => {
        const n = this.sent.length + 1;
        if (req.url === "/form/send") {
          if (this.formStatus !== 201) {
            res.writeHead(this.formStatus).end();
            return;
          }
          const form = new URLSearchParams(raw);
          const id = `SM${String(n).padStart(32, "0")}`;
          this.sent.push({ provider: "form", id, to: form.get("To") ?? "", text: form.get("Body") ?? "" });
          res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ sid: id }));
          this.callbacks.push(this.postForm(id, "sent"));
          const status = this.finalStatus;
          this.#final.push(() => this.postForm(id, status));
        } else {
          const body = JSON.parse(raw) as { to: string; text: string };
          const id = `msg-${n}`;
          this.sent.push({ provider: "json", id, to: body.to, text: body.text });
          res
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ messages: [{ id }] }));
          this.callbacks.push(this.postJSON(id, "queued"));
          const status = this.finalStatus;
          this.#final.push(() => this.postJSON(id, status));
        }
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  /** The handsets have the messages: the final status callbacks go out. */
  deliver(): Promise<number[]> {
    return Promise.all(this.#final.splice(0).map((post) => post()));
  }

  /** A Twilio status callback, signed over the public URL Twofold is configured with. */
  async postForm(id: string, status: string, options: { signature?: string } = {}): Promise<number> {
    await new Promise((r) => setTimeout(r, 20));
    const path = "/sms/v1/receipts/form-provider";
    const fields = { MessageSid: id, MessageStatus: status, AccountSid: "AC123", ErrorCode: "" };
    const response = await fetch(`${this.twofold}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": options.signature ?? twilioSignature(AUTH_TOKEN, `${PUBLIC}${path}`, fields),
      },
      body: new URLSearchParams(fields).toString(),
    });
    await response.arrayBuffer();
    return response.status;
  }

  async postJSON(id: string, status: string, token = SHARED): Promise<number> {
    await new Promise((r) => setTimeout(r, 20));
    const response = await fetch(`${this.twofold}/sms/v1/receipts/json-provider?token=${token}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ data: { id, status, to: [] } }),
    });
    await response.arrayBuffer();
    return response.status;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }
}

for (const dialect of await dialects()) {
  describe(`HTTP gateway delivery receipts (${dialect})`, () => {
    let t: HTTPTestContext;
    let server: RunningServer;
    let provider: LocalProvider;
    let phoneId: string;

    before(async () => {
      provider = new LocalProvider();
      await provider.start();
      const base = `http://127.0.0.1:${provider.port}`;
      t = await createTestRuntime({
        dialect,
        overrides: {
          "server.publicUrl": PUBLIC,
          "sms.sendDeadlineMs": 20_000,
          "sms.gateways": [
            {
              type: "http",
              name: "form-provider",
              url: `${base}/form/send`,
              messageIdPath: "sid",
              receipts: { auth: "twilio", secret: AUTH_TOKEN },
            },
            {
              type: "http",
              name: "json-provider",
              url: `${base}/json/send`,
              body: "json",
              fields: { to: "{to}", from: "{from}", text: "{text}" },
              messageIdPath: "messages.0.id",
              receipts: {
                auth: "token",
                secret: SHARED,
                idField: "data.id",
                statusField: "data.status",
                delivered: ["DELIVERED", "delivered"],
                undelivered: ["delivery_failed", "expired"],
              },
            },
          ],
          "sms.guard.perUser.perWindow": 1000,
          "sms.guard.perNumber.perWindow": 1000,
        },
      });
      server = await startServer(t.runtime);
      provider.twofold = server.url;
      await enrollTOTPUser(t, "alice");
    });

    after(async () => {
      await server?.close();
      await t?.close();
      await provider?.stop();
    });

    async function statusOf(messageId: string, want: string) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const s = await t.runtime.services.getMessageStatus(messageId);
        if (s?.status === want || Date.now() > deadline) return s;
        await new Promise((r) => setTimeout(r, 25));
      }
    }

    test("a Twilio-shaped provider takes the text and posts signed status callbacks: the message is delivered", async () => {
      const { phone, sent } = await t.runtime.services.addSMSPhone(ADMIN, {
        user: "alice",
        number: "+85291234567",
      });
      phoneId = phone.id;
      assert.ok(sent.sent, "the verification text went out");
      const message = sent.sent ? sent.messageId : "";
      assert.equal(provider.sent.at(-1)?.provider, "form");
      assert.equal(provider.sent.at(-1)?.to, "+85291234567");
      assert.deepEqual(await Promise.all(provider.callbacks.splice(0)), [200], "the interim status");
      assert.equal((await statusOf(message, "sent"))?.status, "sent", "an interim status changes nothing");
      assert.deepEqual(await provider.deliver(), [200]);
      const status = await statusOf(message, "delivered");
      assert.equal(status?.status, "delivered");
      assert.equal(status?.gateway, "form-provider");
      assert.ok(status?.receiptAt);
      // The provider retries its callback: nothing changes.
      const again = await fetch(`${server.url}/sms/v1/receipts/form-provider`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "x-twilio-signature": twilioSignature(AUTH_TOKEN, `${PUBLIC}/sms/v1/receipts/form-provider`, {
            MessageSid: provider.sent.at(-1)!.id,
            MessageStatus: "undelivered",
          }),
        },
        body: new URLSearchParams({
          MessageSid: provider.sent.at(-1)!.id,
          MessageStatus: "undelivered",
        }).toString(),
      });
      assert.deepEqual(await again.json(), { status: "ignored" });
      assert.equal((await t.runtime.services.getMessageStatus(message))?.status, "delivered");
    });

    test("a callback with a wrong signature or token, for no such gateway, or without an id is refused with a stable code", async () => {
      const id = provider.sent.at(-1)!.id;
      assert.equal(await provider.postForm(id, "undelivered", { signature: "bm90IGEgc2lnbmF0dXJl" }), 401);
      assert.equal(await provider.postJSON("msg-1", "expired", "wrong-token"), 401);
      const post = async (path: string, body: string, type = "application/json") => {
        const r = await fetch(`${server.url}${path}`, {
          method: "POST",
          headers: { "content-type": type },
          body,
        });
        return { status: r.status, code: ((await r.json()) as { error?: { code?: string } }).error?.code };
      };
      assert.deepEqual(await post("/sms/v1/receipts/nobody", "{}"), { status: 404, code: "ERR_NOT_FOUND" });
      assert.deepEqual(
        await post(`/sms/v1/receipts/json-provider?token=${SHARED}`, JSON.stringify({ data: {} })),
        {
          status: 400,
          code: "ERR_VALIDATION",
        },
      );
      assert.deepEqual(await post(`/sms/v1/receipts/json-provider?token=${SHARED}`, "[1,2]"), {
        status: 400,
        code: "ERR_VALIDATION",
      });
      assert.deepEqual(await post(`/sms/v1/receipts/json-provider?token=${SHARED}`, "{not json"), {
        status: 400,
        code: "ERR_VALIDATION",
      });
      assert.equal((await post("/sms/v1/receipts/bad%20name", "{}")).status, 400);
      // Nothing was changed by any of them.
      const [message] = (await t.runtime.services.countMessages(0)).filter((c) => c.status === "undelivered");
      assert.equal(message, undefined);
    });

    test("fail-over to the JSON provider: its token-authenticated callback marks the text undelivered", async () => {
      provider.formStatus = 503;
      provider.finalStatus = "delivery_failed";
      t.clock.advance(60_000);
      const sent = await t.runtime.services.sendPhoneVerification(ADMIN, phoneId);
      assert.ok(sent.sent);
      assert.equal(provider.sent.at(-1)?.provider, "json");
      assert.deepEqual(await Promise.all(provider.callbacks.splice(0)), [200]);
      await statusOf(sent.sent ? sent.messageId : "", "sent");
      assert.deepEqual(await provider.deliver(), [200]);
      const status = await statusOf(sent.sent ? sent.messageId : "", "undelivered");
      assert.equal(status?.status, "undelivered");
      assert.equal(status?.gateway, "json-provider");
      assert.equal(status?.lastError, "delivery_failed");
    });

    test("a final callback that overtakes the record of its send is matched a moment later", async () => {
      // The JSON provider's next id is known: its final status arrives before Twofold has sent anything.
      const next = `msg-${provider.sent.length + 1}`;
      assert.equal(await provider.postJSON(next, "delivery_failed"), 200);
      t.clock.advance(60_000);
      const sent = await t.runtime.services.sendPhoneVerification(ADMIN, phoneId);
      assert.ok(sent.sent);
      assert.equal(provider.sent.at(-1)?.id, next);
      await Promise.all(provider.callbacks.splice(0));
      const status = await statusOf(sent.sent ? sent.messageId : "", "undelivered");
      assert.equal(status?.status, "undelivered");
      assert.equal(status?.lastError, "delivery_failed");
    });
  });
}
