// GET /metrics: the Prometheus scrape endpoint (text format 0.0.4), present when metrics.enabled is set.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { PROMETHEUS_CONTENT_TYPE, type TwofoldMetrics } from "../../runtime/metrics.ts";

export function registerMetricsRoute(app: FastifyInstance, metrics: TwofoldMetrics): void {
  app.get("/metrics", { schema: { response: { 200: T.String() } } }, async (_request, reply) =>
    reply.type(PROMETHEUS_CONTENT_TYPE).send(metrics.render()),
  );
}
