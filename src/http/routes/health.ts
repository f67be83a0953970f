// Liveness (/health: the process answers) and readiness (/ready: the database answers within 2 s; SMS gateways reported) for load balancers (N3).
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";

const READY_TIMEOUT_MS = 2000;

const Health = T.Object({ status: T.Literal("ok") }, { additionalProperties: false });
const Readiness = T.Object(
  {
    status: T.Union([T.Literal("ready"), T.Literal("unavailable")]),
    checks: T.Object(
      {
        database: T.Union([T.Literal("up"), T.Literal("down")]),
        /** Present when SMS gateways are configured: up while at least one can take a message. */
        sms: T.Optional(T.Union([T.Literal("up"), T.Literal("down")])),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** `checkDatabase` resolves when the database answers (the services' health check). */
/**
 * Readiness follows the database alone: every node shares the same SMS gateways, so a gateway down is no reason
 * to take a node out of service (logins then use other methods); it is reported beside it for monitoring.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  checkDatabase: () => Promise<void>,
  smsGateways: () => Array<{ name: string; up: boolean }> = () => [],
): void {
  app.get("/health", { schema: { response: { 200: Health } } }, async () => ({ status: "ok" as const }));

  app.get("/ready", { schema: { response: { 200: Readiness, 503: Readiness } } }, async (request, reply) => {
    const up = await pingWithin(checkDatabase, READY_TIMEOUT_MS).then(
      () => true,
      (error: unknown) => {
        request.log.warn({ err: error }, "readiness check failed: database");
        return false;
      },
    );
    const gateways = smsGateways();
    const sms =
      gateways.length === 0 ? {} : { sms: gateways.some((g) => g.up) ? ("up" as const) : ("down" as const) };
    if (up) return { status: "ready" as const, checks: { database: "up" as const, ...sms } };
    return reply
      .code(503)
      .send({ status: "unavailable" as const, checks: { database: "down" as const, ...sms } });
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
