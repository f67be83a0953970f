// `serve --demo` runs "Campus Portal" beside Twofold: the demo web application, integrated through Duo's Node SDK.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RunningServer } from "../http/server.ts";
import type { DemoInfo } from "../runtime/demo-info.ts";
import type { ServiceRuntime } from "../runtime/runtime.ts";
import { createDevCertificates, opensslMissing } from "./dev-certificates.ts";

export interface DemoPortal {
  /** Where a newcomer opens the portal. */
  url: string;
  close(): Promise<void>;
}

/**
 * The SDK speaks only HTTPS to its API host (duo-compat §4.1) and the demo's start page is plain HTTP on
 * localhost: so Twofold also listens on a loopback-only HTTPS port with the development CA (`certs dev`), for the
 * portal's server-to-server calls (health check, token). The browser keeps using the start page's origin for the
 * prompt: the portal sends it to the same authorize URL there, and the request JWT's audience (the HTTPS port) is
 * one Twofold accepts as its own. No certificate warning, nothing to install.
 */
export async function startBackChannel(
  runtime: ServiceRuntime,
  certsDir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ server: RunningServer; apiHost: string; ca: Buffer } | { skipped: string }> {
  const missing = opensslMissing(env);
  if (missing) return { skipped: missing };
  const certs = createDevCertificates(certsDir, env, ["localhost"], ["127.0.0.1"]);
  const { startServer } = await import("../http/server.ts");
  const config = {
    ...runtime.config,
    server: {
      ...runtime.config.server,
      host: "127.0.0.1",
      port: 0,
      publicUrl: "",
      tls: { cert: certs.cert, key: certs.key },
    },
    housekeeping: { ...runtime.config.housekeeping, enabled: false },
    metrics: { ...runtime.config.metrics, listen: "" },
  };
  const server = await startServer({ ...runtime, config });
  return { server, apiHost: `localhost:${new URL(server.url).port}`, ca: readFileSync(certs.caPEM) };
}

export async function startDemoPortal(
  runtime: ServiceRuntime,
  demo: DemoInfo,
  options: { apiHost: string; ca: Buffer; browserOrigin: string; port: number },
): Promise<DemoPortal> {
  const { services } = runtime;
  const app = await services.requireApplication(demo.application.integrationKey);
  const { startCampusPortal } = await import("../demo-app/campus-portal.ts");
  const portal = await startCampusPortal({
    host: "127.0.0.1",
    port: options.port,
    apiHost: options.apiHost,
    ca: options.ca,
    browserOrigin: options.browserOrigin,
    clientId: app.id,
    clientSecret: services.openApplicationSecret(app).reveal(),
    users: demo.users,
    organization: demo.organization,
  });
  // The portal's callback is the application's one registered redirect URI (exact match).
  await services.updateApplication({ name: "demo-setup" }, app.id, {
    redirectURIs: [`${portal.url}/duo-callback`],
  });
  return portal;
}

export const DEMO_CERTS = (cwd: string) => join(cwd, "data", "certs");
