// The HTTP server: one Fastify instance with every cross-cutting concern, listening on HTTP or HTTPS, closing gracefully.
import { readFileSync } from "node:fs";
import type { Server as HTTPSServer } from "node:https";
import type { AddressInfo } from "node:net";
import { Server as TLSServer } from "node:tls";
import fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from "fastify";
import { parseListenAddress, urlHost } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { randomHex } from "../core/crypto/index.ts";
import { TwofoldError } from "../core/errors.ts";
import type { DemoInfo } from "../runtime/demo-info.ts";
import { serverJobs, startScheduler } from "../runtime/housekeeping.ts";
import type { ServiceRuntime } from "../runtime/runtime.ts";
import { registerAccessLog } from "./access-log.ts";
import { registerAnswerDeadline } from "./answer-deadline.ts";
import { createClientErrorHandler } from "./client-error.ts";
import {
  DeferredCompiles,
  deferredCompilesOf,
  deferredSerializers,
  recordDeferredCompiles,
} from "./deferred-compilers.ts";
import { registerAdminAPIRoutes } from "./duo/admin/index.ts";
import { registerAuthAPIRoutes } from "./duo/auth-api.ts";
import { registerRestV1Routes } from "./duo/rest-v1.ts";
import { registerErrorHandling, sendError } from "./errors.ts";
import { registerFormBodyParser } from "./form-body.ts";
import { registerOIDCRoutes } from "./oidc/oauth.ts";
import { registerPromptRoutes } from "./prompt/routes.ts";
import { lazyRequestLogger } from "./request-logger.ts";
import { registerAuthenticatorRoutes } from "./routes/authenticator.ts";
import { registerDeviceRoutes } from "./routes/device.ts";
import { registerHealthRoutes } from "./routes/health.ts";
import { registerMetricsRoute } from "./routes/metrics.ts";
import { registerSmsReceiptRoutes } from "./routes/sms-receipts.ts";
import { registerStartPage } from "./routes/start-page.ts";
import { registerSecurityHeaders, setSecurityHeaders } from "./security-headers.ts";
import { createValidatorCompiler, requireRouteSchemas, validatorCompiler } from "./validation.ts";
import { registerWebAssets } from "./web-assets.ts";

export interface ServerOptions {
  /** Present in demo mode: the start page shows it and the demo passcode form exists. */
  demo?: DemoInfo;
  /** How the start page writes a `twofold` command so it works pasted (default: `npx twofold … --demo`). */
  commandLine?: (words: string) => string;
  /**
   * Other origins this Twofold is reached at as an API host (`https://host:port`), whose name a request JWT's `aud`
   * may carry: the demo's loopback HTTPS listener, which the demo web application's SDK is configured with.
   */
  oidcOrigins?: () => readonly string[];
  /** Demo: where the demo web application (Campus Portal) runs, for the start page, once it has started. */
  demoPortal?: () => string | undefined;
}

export interface RunningServer {
  /** Where the server listens, with the real port when the configured port was 0. */
  url: string;
  /** Where the separate metrics listener (metrics.listen) is, when there is one. */
  metricsUrl?: string;
  /** Stop accepting, let open requests finish (up to server.shutdownGraceSeconds), then close. */
  close(): Promise<void>;
}

/** How long after listening the route compiles left from start-up begin (the first requests, health checks, go first). */
const WARM_UP_AFTER_MS = 1000;

/** Node's default, set explicitly: larger headers get 431 before any of our code runs (H-1). */
const MAX_HEADER_BYTES = 16 * 1024;
/** Headers must arrive quickly; slow senders (slowloris) are cut off (H-1). */
const HEADERS_TIMEOUT_MS = 10_000;

export function buildServer(runtime: ServiceRuntime, options: ServerOptions = {}): FastifyInstance {
  const { server } = runtime.config;
  const logger = runtime.logger.child({ component: "http" });
  const tls = readTLSFiles(server.tls);
  const requestTimeout = server.requestTimeoutSeconds * 1000;
  const nodeServerOptions = {
    maxHeaderSize: MAX_HEADER_BYTES,
    requestTimeout,
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
    // How often Node checks the two timeouts above (its default, 30 s, would let them overrun).
    connectionsCheckingInterval: 1000,
  };
  const alwaysHTTPS = tls !== undefined || server.publicUrl.startsWith("https:");
  const compiles = new DeferredCompiles();
  const base: FastifyServerOptions = {
    loggerInstance: logger,
    // Fastify's own request lines carry the raw URL (query strings); access-log.ts writes ours instead.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyRequestLogger,
    genReqId: () => randomHex(8),
    requestIdHeader: false,
    bodyLimit: server.bodyLimit,
    trustProxy: server.trustProxy.length > 0 ? [...server.trustProxy] : false,
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    requestTimeout,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    exposeHeadRoutes: true,
    // Response serializers are built when first needed (or after listening), not for every route at start.
    schemaController: { compilersFactory: { buildSerializer: deferredSerializers(compiles) } },
    clientErrorHandler: createClientErrorHandler(logger),
    frameworkErrors: (error, request, reply) => {
      setSecurityHeaders(request, reply, alwaysHTTPS);
      sendError(error, request, reply);
    },
  };
  const app = (tls
    ? fastify({
        ...(base as FastifyServerOptions<HTTPSServer>),
        https: { ...nodeServerOptions, ...tls, minVersion: "TLSv1.2" },
      })
    : fastify({ ...base, http: nodeServerOptions })) as unknown as FastifyInstance;

  recordDeferredCompiles(app, compiles);
  app.setValidatorCompiler(createValidatorCompiler((compile) => compiles.defer(compile)));
  requireRouteSchemas(app);
  registerErrorHandling(app);
  // Every route answers within server.answerTimeoutSeconds, however slow the database (a 503, or a Duo login's
  // deny: errors.ts); routes that wait for a push set their own, longer limit (`handlerTimeout`, N2).
  registerAnswerDeadline(app, server.answerTimeoutSeconds * 1000);
  registerSecurityHeaders(app, alwaysHTTPS);
  registerAccessLog(app, runtime.metrics);
  registerFormBodyParser(app);
  // JSON and HTML forms only: any other content type is a 415, not a string handed to a schema.
  app.removeContentTypeParser("text/plain");

  registerHealthRoutes(app, runtime.services.checkDatabase, () => runtime.smsGatewayStatus());
  // On the public listener only behind a token (metrics.token); metrics.listen adds a listener of its own.
  const { metrics } = runtime.config;
  if (metrics.enabled && metrics.token) registerMetricsRoute(app, runtime.metrics, metrics.token);
  registerStartPage(app, runtime, options.demo, options.commandLine, options.demoPortal);
  registerDeviceRoutes(app, runtime);
  registerWebAssets(app);
  registerAuthenticatorRoutes(app, {});
  registerAuthAPIRoutes(app, runtime);
  registerRestV1Routes(app, runtime);
  registerAdminAPIRoutes(app, runtime);
  registerOIDCRoutes(app, runtime, options.oidcOrigins);
  registerPromptRoutes(app, runtime);
  registerSmsReceiptRoutes(app, runtime);
  return app;
}

export async function startServer(
  runtime: ServiceRuntime,
  options: ServerOptions = {},
): Promise<RunningServer> {
  return listenServer(buildServer(runtime, options), runtime);
}

/** Listen with an instance from buildServer (tests add routes to it first). */
export async function listenServer(app: FastifyInstance, runtime: ServiceRuntime): Promise<RunningServer> {
  const { host, port, shutdownGraceSeconds } = runtime.config.server;
  const metricsApp = buildMetricsServer(runtime);
  await app.listen({ host, port });
  // What start-up left uncompiled is compiled a moment later, between requests, so that no login pays for it.
  const compiles = deferredCompilesOf(app);
  void compiles?.warmUp(WARM_UP_AFTER_MS);
  let metricsUrl: string | undefined;
  if (metricsApp) {
    const where = parseListenAddress(runtime.config.metrics.listen)!;
    try {
      await metricsApp.listen(where);
    } catch (error) {
      compiles?.stop();
      await app.close();
      throw error;
    }
    metricsUrl = `http://${urlHost(where.host)}:${(metricsApp.server.address() as AddressInfo).port}/metrics`;
  } else if (runtime.config.metrics.enabled && !runtime.config.metrics.token) {
    app.log.info("metrics are not served: set metrics.listen (a listener of their own) or metrics.token");
  }
  const address = app.server.address() as AddressInfo;
  const scheme = app.server instanceof TLSServer ? "https" : "http";
  let closing: Promise<void> | undefined;
  // One scheduler per serving node: retention (L-2), the outbox (SMS, e-mail; each message claimed by one
  // node) and loan reminders. Every job is safe to run on several nodes at once.
  const scheduler = startScheduler(serverJobs(runtime), runtime.logger);
  return {
    url: `${scheme}://${urlHost(host)}:${address.port}`,
    ...(metricsUrl ? { metricsUrl } : {}),
    close: () => {
      closing ??= (async () => {
        compiles?.stop();
        await scheduler.stop();
        await Promise.all([closeGracefully(app, shutdownGraceSeconds * 1000), metricsApp?.close()]);
      })();
      return closing;
    },
  };
}

/**
 * The listener of metrics.listen: /metrics and nothing else, plain HTTP, with the token when one is set. It is
 * meant for an address only the scraper reaches (loopback, a management network).
 */
export function buildMetricsServer(runtime: ServiceRuntime): FastifyInstance | undefined {
  const { metrics } = runtime.config;
  if (!metrics.enabled || !metrics.listen) return undefined;
  const app = fastify({
    loggerInstance: runtime.logger.child({ component: "metrics" }),
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyRequestLogger,
    genReqId: () => randomHex(8),
    requestIdHeader: false,
    bodyLimit: 1024,
    requestTimeout: 10_000,
    forceCloseConnections: true,
    http: { maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 10_000 },
    frameworkErrors: (error, request, reply) => sendError(error, request, reply),
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  requireRouteSchemas(app);
  registerErrorHandling(app);
  registerSecurityHeaders(app, false);
  registerMetricsRoute(app, runtime.metrics, metrics.token || undefined);
  return app;
}

/**
 * Fastify's close stops accepting connections, answers 503 on busy keep-alive connections, drops idle ones and
 * waits for requests in flight. Those get the grace period; after it their connections are cut.
 */
async function closeGracefully(app: FastifyInstance, graceMs: number): Promise<void> {
  const timer = setTimeout(() => {
    app.log.warn({ graceMs }, "shutdown grace period over: closing remaining connections");
    app.server.closeAllConnections();
  }, graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * On SIGTERM or SIGINT: close the server gracefully, then the runtime (database), then exit 0. A second
 * signal while shutting down exits at once with 1. `exit` defaults to process.exit (the CLI passes its own
 * so a clean stop returns from main). Returns a function that removes the handlers.
 */
export function installSignalHandlers(
  server: RunningServer,
  runtime: ServiceRuntime,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      runtime.logger.warn({ signal }, "second signal: exiting now");
      exit(1);
      return;
    }
    shuttingDown = true;
    runtime.logger.info({ signal }, "shutting down");
    void (async () => {
      let code = 0;
      try {
        await server.close();
        await runtime.close();
      } catch (error) {
        runtime.logger.error({ err: error }, "shutdown failed");
        code = 1;
      }
      runtime.logger.flush(() => exit(code));
    })();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return () => {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  };
}

function readTLSFiles(tls: Config["server"]["tls"]): { cert: Buffer; key: Buffer } | undefined {
  if (!tls.cert && !tls.key) return undefined;
  if (!tls.cert || !tls.key)
    throw new TwofoldError("ERR_CONFIG_INVALID", "server.tls needs both cert and key", {
      issues: [
        { path: tls.cert ? "server.tls.key" : "server.tls.cert", message: "required when the other is set" },
      ],
    });
  const read = (path: string, setting: string) => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new TwofoldError("ERR_CONFIG_INVALID", `cannot read ${setting} file ${path}`, {
        cause,
        issues: [{ path: setting, message: `cannot read ${path}: ${(cause as Error).message}` }],
      });
    }
  };
  return { cert: read(tls.cert, "server.tls.cert"), key: read(tls.key, "server.tls.key") };
}
