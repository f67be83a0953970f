// A reply taken over as a server-sent event stream (the prompt's push and enrolment streams, the device stream).
import type { ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";

/**
 * Whether the client has already gone (it hung up while the handler awaited a read): a response's 'close' event
 * has then fired before anyone could listen for it, so a stream opened now would never be closed. For the GET
 * routes of event streams only: a request whose body has been read counts as destroyed while its client waits.
 */
export function clientGone(reply: FastifyReply): boolean {
  return reply.raw.destroyed || reply.request.raw.destroyed || reply.raw.socket?.destroyed === true;
}

/**
 * Hijack `reply` and send the stream's head: the headers set on the reply so far (security headers), the event
 * stream's own and `headers`; events then go out as written (no Nagle delay). The caller writes and ends it.
 */
export function startEventStream(reply: FastifyReply, headers: Record<string, string> = {}): ServerResponse {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-accel-buffering": "no",
    ...headers,
  });
  raw.socket?.setNoDelay(true);
  return raw;
}
