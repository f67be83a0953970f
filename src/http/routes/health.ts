// Liveness (/health: the process answers) and readiness (/ready: the database answers within 2 s) for load balancers (N3).
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";

const READY_TIMEOUT_MS = 2000;

const Health = T.Object({ status: T.Literal("ok") }, { additionalProperties: false });
const Readiness = T.Object(
  {
    status: T.Union([T.Literal("ready"), T.Literal("unavailable")]),
    checks: T.Object(
      { database: T.Union([T.Literal("up"), T.Literal("down")]) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** `checkDatabase` resolves when the database answers (the services' health check). */
export function registerHealthRoutes(app: FastifyInstance, checkDatabase: () => Promise<void>): void {
  app.get("/health", { schema: { response: { 200: Health } } }, async () => ({ status: "ok" as const }));

  app.get("/ready", { schema: { response: { 200: Readiness, 503: Readiness } } }, async (request, reply) => {
    const up = await pingWithin(checkDatabase, READY_TIMEOUT_MS).then(
      () => true,
      (error: unknown) => {
        request.log.warn({ err: error }, "readiness check failed: database");
        return false;
      },
    );
    if (up) return { status: "ready" as const, checks: { database: "up" as const } };
    return reply.code(503).send({ status: "unavailable" as const, checks: { database: "down" as const } });
  });
}

async function pingWithin(checkDatabase: () => Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`database did not answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([checkDatabase(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
