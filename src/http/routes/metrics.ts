// GET /metrics: the Prometheus scrape endpoint (text format 0.0.4), behind a bearer token or on its own listener.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { constantTimeEqual } from "../../core/crypto/index.ts";
import { TwofoldError } from "../../core/errors.ts";
import { PROMETHEUS_CONTENT_TYPE, type TwofoldMetrics } from "../../runtime/metrics.ts";

/**
 * `token`: the bearer token a scrape must send (RFC 6750 §2.1), compared in constant time; undefined only on the
 * separate metrics listener, which the operator binds where only the scraper reaches.
 */
export function registerMetricsRoute(
  app: FastifyInstance,
  metrics: TwofoldMetrics,
  token: string | undefined,
): void {
  app.get(
    "/metrics",
    {
      schema: { response: { 200: T.String() } },
    },
    async (request, reply) => {
      if (token !== undefined) {
        const sent = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? "")?.[1] ?? "";
        if (!constantTimeEqual(sent, token)) {
          reply.header("www-authenticate", 'Bearer realm="metrics"');
          throw new TwofoldError("ERR_UNAUTHENTICATED", "metrics scrape without the configured token");
        }
      }
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(await metrics.render());
    },
  );
}
