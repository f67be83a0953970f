// The OIDC Auth API of the Universal Prompt (duo-compat §4): /oauth/v1/health_check, /authorize, /token.
import { Type as T } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { NoticePage } from "../../../web/prompt/pages/notice.tsx";
import { publicBaseUrl } from "../../config/load.ts";
import { errorRedirectURL, type OAuthFailure } from "../../core/use-cases/oidc.ts";
import type { ServiceRuntime } from "../../runtime/runtime.ts";
import { pageContext, sendPage } from "../prompt/render.ts";

/** Parameters arrive as a form body, the query string, or both (Python sends the query; the body wins, §4.5). */
const Params = T.Record(T.String({ maxLength: 64 }), T.String({ maxLength: 16_384 }));
const Body = T.Union([Params, T.Undefined(), T.Null()]);

type Merged = Record<string, string | undefined>;

function merged(request: FastifyRequest): Merged {
  const query = (request.query ?? {}) as Record<string, string>;
  const body = (request.body ?? {}) as Record<string, string>;
  return { ...query, ...body };
}

/**
 * `https://{host}` as this client reached us (the SDKs build `aud` and expect `iss` from their configured API host,
 * port included), and the public URL's origin when one is configured.
 */
function origins(
  request: FastifyRequest,
  runtime: ServiceRuntime,
  extra: () => readonly string[] = () => [],
): { origin: string; all: string[] } {
  const origin = `https://${request.host}`;
  const all = [origin, ...extra().filter((o) => o !== origin)];
  if (runtime.config.server.publicUrl) {
    const configured = new URL(publicBaseUrl(runtime.config)).origin;
    if (configured !== origin) all.push(configured);
  }
  return { origin, all };
}

export function registerOIDCRoutes(
  app: FastifyInstance,
  runtime: ServiceRuntime,
  extraOrigins?: () => readonly string[],
): void {
  const { services } = runtime;
  const log = (request: FastifyRequest, f: OAuthFailure, what: string) =>
    request.log.info({ error: f.error, detail: f.detail }, `${what} refused`);

  app.post(
    "/oauth/v1/health_check",
    {
      schema: {
        querystring: Params,
        body: Body,
        response: {
          200: T.Object(
            {
              stat: T.Literal("OK"),
              response: T.Object({ timestamp: T.Integer() }, { additionalProperties: false }),
            },
            { additionalProperties: false },
          ),
          400: T.Object(
            {
              stat: T.Literal("FAIL"),
              code: T.Integer(),
              timestamp: T.Integer(),
              message: T.String(),
              message_detail: T.String(),
            },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request, reply) => {
      const result = await services.oidcHealthCheck({
        params: merged(request),
        origins: origins(request, runtime).all,
      });
      if (result.ok) return { stat: "OK" as const, response: { timestamp: result.timestamp } };
      log(request, result, "health check");
      return reply.code(400).send({
        stat: "FAIL" as const,
        code: 40002,
        timestamp: Math.floor(runtime.clock.now() / 1000),
        message: result.error,
        message_detail: result.description,
      });
    },
  );

  const authorize = async (request: FastifyRequest, reply: FastifyReply) => {
    // A HEAD (a link checker) starts nothing: the request is good for one login, the browser's.
    if (request.method === "HEAD") return reply.code(200).type("text/html; charset=utf-8").send("");
    const started = await services.startOIDCLogin({
      params: merged(request),
      audiences: origins(request, runtime, extraOrigins).all,
      ip: request.ip,
    });
    if (started.ok) return reply.code(302).header("location", `/prompt/${started.handle}`).send("");
    log(request, started, "authorize");
    if (started.redirect)
      return reply
        .code(302)
        .header("location", errorRedirectURL(started, started.redirect.uri, started.redirect.state))
        .send("");
    // Never a redirect to a URI we could not trust (J1): our own page says the link is not valid.
    const page = pageContext(request, reply, runtime.config, null);
    return sendPage(
      reply,
      NoticePage({
        chrome: page.chrome,
        view: {
          title: page.t.badLinkTitle,
          message: page.t.badLink,
          error: true,
          reference: request.id,
          actions: [],
        },
      }),
      { status: 400 },
    );
  };
  // Web SDK v2 (Duo's iframe, §4.6): a TX signed by the application starts a prompt login framed by its page.
  app.get<{ Querystring: { tx?: string; parent?: string; v?: string } }>(
    "/frame/web/v1/auth",
    {
      schema: {
        querystring: T.Object(
          {
            tx: T.Optional(T.String({ maxLength: 2048 })),
            parent: T.Optional(T.String({ maxLength: 2048 })),
            v: T.Optional(T.String({ maxLength: 16 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: T.String() },
      },
    },
    async (request, reply) => {
      if (request.method === "HEAD") return reply.code(200).type("text/html; charset=utf-8").send("");
      const started = await services.startFrameLogin({
        tx: request.query.tx ?? "",
        parent: request.query.parent ?? "",
        ip: request.ip,
      });
      if (started.ok) return reply.code(302).header("location", `/prompt/${started.handle}`).send("");
      request.log.info({ reason: started.reason }, "frame login refused");
      const page = pageContext(request, reply, runtime.config, null);
      return sendPage(
        reply,
        NoticePage({
          chrome: page.chrome,
          view: {
            title: page.t.badLinkTitle,
            message: page.t.badLink,
            error: true,
            reference: request.id,
            actions: [],
          },
        }),
        { status: 400 },
      );
    },
  );

  const authorizeSchema = { querystring: Params, response: { 200: T.String() } };
  app.get("/oauth/v1/authorize", { schema: authorizeSchema }, authorize);
  app.post("/oauth/v1/authorize", { schema: { ...authorizeSchema, body: Body } }, authorize);

  app.post(
    "/oauth/v1/token",
    {
      schema: {
        querystring: Params,
        body: Body,
        response: {
          200: T.Object(
            {
              id_token: T.String(),
              access_token: T.String(),
              expires_in: T.Integer(),
              token_type: T.Literal("Bearer"),
            },
            { additionalProperties: false },
          ),
          400: T.Object(
            { error: T.String(), error_description: T.String() },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request, reply) => {
      const where = origins(request, runtime);
      const result = await services.redeemOIDCCode({
        params: merged(request),
        origins: where.all,
        origin: where.origin,
      });
      reply.header("pragma", "no-cache");
      if (result.ok) return result.body;
      log(request, result, "token");
      return reply.code(400).send({ error: result.error, error_description: result.description });
    },
  );
}
