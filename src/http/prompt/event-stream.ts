// A prompt page's live event stream (server-sent events): a few per login at most, kept alive, counted until closed.
import type { ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";
import { TwofoldError } from "../../core/errors.ts";
import { clientGone, startEventStream } from "../event-stream-reply.ts";

/** Live event streams open at once per login (a page in two tabs, a reconnect): more are refused. */
const MAX_STREAMS_PER_LOGIN = 3;
const KEEP_ALIVE_MS = 15_000;

/** The streams each login has open: one counter per route family (push, enrolment). */
export class PromptStreams {
  readonly #open = new Map<string, number>();

  /**
   * Take over the reply as an event stream for this login, or refuse (ERR_RATE_LIMITED) when it has too many open.
   * The signal aborts when the browser goes away; the caller writes its events, then ends the response.
   */
  open(reply: FastifyReply, handle: string): { raw: ServerResponse; signal: AbortSignal } {
    if (clientGone(reply)) {
      // The browser left while the caller read the login: nothing to count, keep alive or wait for.
      reply.hijack();
      return { raw: reply.raw, signal: AbortSignal.abort() };
    }
    const open = this.#open.get(handle) ?? 0;
    if (open >= MAX_STREAMS_PER_LOGIN) throw new TwofoldError("ERR_RATE_LIMITED", "too many open streams");
    this.#open.set(handle, open + 1);
    const raw = startEventStream(reply, { "x-content-type-options": "nosniff" });
    const controller = new AbortController();
    const keepAlive = setInterval(() => raw.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
    raw.on("close", () => {
      controller.abort();
      clearInterval(keepAlive);
      const left = (this.#open.get(handle) ?? 1) - 1;
      if (left > 0) this.#open.set(handle, left);
      else this.#open.delete(handle);
    });
    raw.write(": connected\n\n");
    return { raw, signal: controller.signal };
  }
}
