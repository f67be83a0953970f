// One structured log line and the HTTP metrics per response: route pattern, never the URL, query, body or headers (N1).
import type { FastifyInstance } from "fastify";
import type { TwofoldMetrics } from "../runtime/metrics.ts";
import { sentErrorCode } from "./errors.ts";

/** Requests that matched no route share one label, so random URLs cannot grow the metrics without bound. */
const UNMATCHED = "(unmatched)";

export function registerAccessLog(app: FastifyInstance, metrics: TwofoldMetrics): void {
  // The line's fields are fixed and hold nothing secret (method, route pattern, status, time, error code): it skips
  // the redaction every other line goes through (about a hundred wildcard paths walked per line). The request id is
  // bound by hand, as Fastify's request logger would.
  const accessLog = app.log.child({}, { redact: { paths: [] } });
  // A callback hook, not an async one: no promise per request for work that never waits.
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED;
    const method = request.method;
    const status = reply.statusCode;
    const seconds = reply.elapsedTime / 1000;
    metrics.httpRequests.inc({ method, route, status: String(status) });
    metrics.httpDuration.observe({ method, route }, seconds);
    const errorCode = sentErrorCode(request);
    accessLog.info(
      {
        reqId: request.id,
        method,
        route,
        status,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...(errorCode ? { errorCode } : {}),
      },
      "request completed",
    );
    done();
  });
}
