// A Duo route's hang-up signal (what a push wait listens to) is aborted when the client has gone, also when the client
// went before the handler first asked for it: a sync push login whose client hung up while the push was being set up
// must not wait out the push's whole lifetime (the push stays on the phone and blocks the user's next one).
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { Type as T } from "@sinclair/typebox";
import fastify, { type FastifyInstance } from "fastify";
import { registerDuoScope } from "../../src/http/duo/signed-routes.ts";
import { createTestRuntime, type HTTPTestContext } from "../http/support.ts";

let t: HTTPTestContext;
let app: FastifyInstance;
let port: number;
/** What the handler saw: whether the signal was aborted when asked for, and when a wait on it ended. */
let seen: (result: { abortedWhenAsked: boolean; waitEnded: "aborted" | "timed out" }) => void = () => {};

before(async () => {
  t = await createTestRuntime();
  app = fastify();
  registerDuoScope(app, t.runtime, (route) => {
    route({
      method: "GET",
      url: "/test/wait",
      integrations: "unsigned",
      params: T.Object({}, { additionalProperties: false }),
      response: T.String(),
      handler: async (call) => {
        // Work before the wait (finding the user, sending the push) during which the client hangs up.
        await new Promise((resolve) => call.reply.raw.once("close", resolve));
        await new Promise((resolve) => setTimeout(resolve, 20));
        const signal = call.signal;
        const abortedWhenAsked = signal.aborted;
        // A push wait: ends when the signal aborts, or after two seconds.
        const waitEnded = await new Promise<"aborted" | "timed out">((resolve) => {
          const timer = setTimeout(() => resolve("timed out"), 2000);
          const onAbort = () => {
            clearTimeout(timer);
            resolve("aborted");
          };
          if (signal.aborted) onAbort();
          else signal.addEventListener("abort", onAbort, { once: true });
        });
        seen({ abortedWhenAsked, waitEnded });
        return { response: "done" };
      },
    });
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  port = (app.server.address() as { port: number }).port;
});

after(async () => {
  await app?.close();
  await t?.close();
});

test("N2: a client gone before the wait starts: the wait's signal is already aborted", async () => {
  const result = new Promise<{ abortedWhenAsked: boolean; waitEnded: string }>((resolve) => {
    seen = resolve;
  });
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write("GET /test/wait HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", () => {
        // Gone once the server has the request (its handler is running), before any answer.
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 50);
      });
    });
    socket.on("error", reject);
  });
  assert.deepEqual(await result, { abortedWhenAsked: true, waitEnded: "aborted" });
});
