// A prompt page's live stream whose browser left while the route still read the login: not counted, not kept alive.
import assert from "node:assert/strict";
import { test } from "node:test";
import Fastify from "fastify";
import { PromptStreams } from "../../src/http/prompt/event-stream.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

test("a browser gone before its stream opens leaves no keep-alive, an aborted wait, and the login's streams free", async () => {
  const streams = new PromptStreams();
  const aborted: boolean[] = [];
  /** Told when a request reaches the route (a busy machine may take longer than any fixed wait to get there). */
  let arrived = () => {};
  const app = Fastify();
  app.get("/events", async (_request, reply) => {
    arrived();
    await sleep(200); // as the routes read the login (readPromptPush, waitPromptActivation) before opening
    const { raw, signal } = streams.open(reply, "h1");
    void (async () => {
      await sleep(100);
      aborted.push(signal.aborted);
      raw.end();
    })();
    return reply;
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/events`;
  try {
    const before = timers();
    for (let i = 0; i < 3; i++) {
      // The browser leaves once its request is in the route, while the route still reads the login.
      const c = new AbortController();
      const reached = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const request = fetch(url, { signal: c.signal }).catch(() => undefined);
      await reached;
      c.abort();
      await request;
      const deadline = performance.now() + 10_000;
      while (aborted.length < i + 1 && performance.now() < deadline) await sleep(25);
    }
    assert.deepEqual(aborted, [true, true, true], "the wait of a stream nobody reads is over at once");
    // Each abandoned stream left its 15 s keep-alive interval running (3 timers).
    assert.ok(timers() - before < 3, `${timers() - before} timers left behind`);
    const r = await fetch(url);
    assert.equal(r.status, 200, "no stream of this login is open, so the next is accepted");
    await r.body?.cancel();
  } finally {
    await app.close();
  }
});
