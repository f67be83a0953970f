// The composition root: builds the keyring, store, clock, logger and core services from a loaded configuration.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { PgPushEvents } from "../adapters/events/pg-push-events.ts";
import { SqlitePushEvents } from "../adapters/events/sqlite-push-events.ts";
import { type GeoIP, openGeoIP } from "../adapters/geoip/mmdb.ts";
import { checkPushEndpointURL, type PushAddressPolicy } from "../adapters/push/push-address.ts";
import { WebPushSender } from "../adapters/push/web-push.ts";
import { WebPushDelivery } from "../adapters/push/web-push-delivery.ts";
import { DemoInbox } from "../adapters/sms/demo-inbox.ts";
import type { ReceiptReading, ReceiptRequest } from "../adapters/sms/http-gateway.ts";
import { decodeKey } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { randomBytes } from "../core/crypto/index.ts";
import { Keyring, type MasterKey } from "../core/crypto/keyring.ts";
import { TwofoldError } from "../core/errors.ts";
import type { Clock, DeliveryReceipt, PushEvents, SMSGateway, Store } from "../core/ports.ts";
import { createServices, type Services } from "../core/services.ts";
import { type ReconcileReport, reconcileUsernames } from "../core/use-cases/username-reconciliation.ts";
import { openStore } from "../store/open-store.ts";
import { DEMO_COUNTRY, type DemoInfo } from "./demo-info.ts";
import { createLogger, type Logger } from "./logger.ts";
import { createMessaging } from "./messaging.ts";
import { countPasscodeVerifications, createMetrics, type TwofoldMetrics } from "./metrics.ts";
import { OperatorAlertHub } from "./operator-alerts.ts";
import { readPackageVersion } from "./package-root.ts";
import { systemClock } from "./system-clock.ts";
import { loadVAPIDKeys } from "./vapid.ts";

export interface Runtime {
  config: Readonly<Config>;
  store: Store;
  keyring: Keyring;
  clock: Clock;
  logger: Logger;
  nodeName: string;
  services: Services;
  metrics: TwofoldMetrics;
  /** Operator alerts (SMS spend cap, SMS breaker): logged; subscribe to send them on (e-mail). */
  alerts: OperatorAlertHub;
  /** Push wake-ups: PostgreSQL LISTEN/NOTIFY across nodes, or in-process on SQLite. */
  pushEvents: PushEvents;
  /** The VAPID public key devices subscribe with (base64url), or null when Web Push is off. */
  vapidPublicKey: string | null;
  /** Web Push to http:// push services is allowed (tests with a local push service only). */
  webPushAllowHTTP: boolean;
  /**
   * Why a device's Web Push endpoint cannot be used (not https, not a known push service, not a public address),
   * or undefined when it can. The same check runs again, with name resolution, before every send.
   */
  checkWebPushEndpoint(endpoint: string): string | undefined;
  /** Whether messages can leave (an SMS gateway is configured): serving nodes then run the outbox. */
  messagingEnabled: boolean;
  /**
   * An HTTP SMS gateway's delivery-status callback, authenticated and read (undefined: no HTTP gateway of that
   * name); the receipt is then recorded with services.recordDeliveryReceipt.
   */
  readSmsReceipt(gateway: string, request: ReceiptRequest): ReceiptReading | undefined;
  /** Each configured SMS gateway and whether it can take a message now (readiness). */
  smsGatewayStatus(): Array<{ name: string; up: boolean }>;
  /** Demo mode with its inbox (`serve --demo`): the texts and e-mails the demo sent, for the start page. */
  demoInbox?: DemoInbox;
  /** Demo mode only: creates the demo organization once and returns what the start page shows of it. */
  seedDemo(): Promise<DemoInfo>;
  close(): Promise<void>;
}

/**
 * What an interface (HTTP, CLI, and the prompt, portal, console, RADIUS and OIDC to come) is given: the services
 * and the process's config, clock, logger and metrics. Never the store, the keyring or the push wake-ups: every
 * read and change goes through a service, so each rule is applied in one place whatever the interface.
 */
export type ServiceRuntime = Omit<Runtime, "store" | "keyring" | "pushEvents">;

export interface RuntimeOptions {
  clock?: Clock;
  logger?: Logger;
  /** Where the log lines go when no logger is given (default: file descriptor 2). */
  logDestination?: { write(msg: string): void };
  /** PostgreSQL schema (tests). */
  schema?: string;
  /** Let Web Push reach http:// push services (tests with a local push service only). */
  webPushAllowHTTP?: boolean;
  /**
   * Let Web Push reach a push service at a loopback address, whatever push.webPush.allowedHosts says (tests with
   * a push service on this machine only; there is no setting for it).
   */
  webPushAllowLoopback?: boolean;
  /** SMS gateways besides the configured ones (tests). */
  smsGateways?: readonly SMSGateway[];
  /**
   * Demo mode only (`serve --demo`): texts and e-mails go to an inbox the start page shows, unless a gateway or an
   * SMTP server is configured; the demo organisation is in a country (AU) whose numbers reserved for fiction its
   * users get. Ignored in production mode.
   */
  demoInbox?: boolean;
}

export async function createRuntime(
  configured: Readonly<Config>,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  let config = configured;
  const nodeName = config.node.name || hostname();
  const logger =
    options.logger ??
    createLogger({
      level: config.logging.level,
      node: nodeName,
      ...(options.logDestination ? { destination: options.logDestination } : {}),
    });
  const demoInbox =
    config.mode === "demo" && options.demoInbox ? new DemoInbox(options.clock ?? systemClock) : undefined;
  // The demo's users get numbers from Australia's range reserved for fiction: the organisation is there.
  if (demoInbox && !config.organization.country)
    config = { ...config, organization: { ...config.organization, country: DEMO_COUNTRY } };
  const keyring = new Keyring(loadMasterKeys(config));
  const clock = options.clock ?? systemClock;
  // Opened before the database: a bad GeoIP file stops the start with its path in the message.
  const places: GeoIP | undefined = config.push.geoipFile ? openGeoIP(config.push.geoipFile) : undefined;
  const { store, kysely } = await openStore({
    url: config.database.url,
    sqlitePath: config.database.sqlitePath,
    poolSize: config.database.poolSize,
    // Operators (and fault tests) tell each node's connections apart in pg_stat_activity.
    applicationName: `twofold ${nodeName}`,
    timeouts: {
      connectMs: config.database.connectTimeoutSeconds * 1000,
      statementMs: config.database.statementTimeoutSeconds * 1000,
      idleMs: config.database.idleTimeoutSeconds * 1000,
    },
    ...(options.schema ? { schema: options.schema } : {}),
    onWarning: (message, detail) => logger.warn(detail, message),
  });
  let pushEvents: PushEvents & { close?(): Promise<void> };
  let vapid: Awaited<ReturnType<typeof loadVAPIDKeys>> | null = null;
  try {
    // Stored username keys follow identity.stripDomains, which migrations cannot see: bring them up to date
    // before anything looks a user up (A3). Cheap when nothing changed since the last start.
    logUsernameReconciliation(
      logger,
      await reconcileUsernames(
        { store, clock, stripDomains: config.identity.stripDomains },
        { onlyIfChanged: true },
      ),
    );
    pushEvents = config.database.url
      ? await PgPushEvents.start({
          url: config.database.url,
          kysely,
          applicationName: `twofold-push-events ${nodeName}`,
          connectTimeoutMs: config.database.connectTimeoutSeconds * 1000,
          onError: (err) => logger.warn({ err }, "push wake-up connection lost; reconnecting"),
        })
      : new SqlitePushEvents({ kysely });
    if (config.push.webPush.enabled) vapid = await loadVAPIDKeys(store, keyring);
  } catch (error) {
    await store.close();
    throw error;
  }
  const pushAddressPolicy: PushAddressPolicy = {
    allowedHosts: config.push.webPush.allowedHosts,
    allowHTTP: options.webPushAllowHTTP ?? false,
    allowLoopback: options.webPushAllowLoopback ?? false,
  };
  const delivery = vapid
    ? new WebPushDelivery({
        sender: new WebPushSender({
          vapid: { ...vapid, subject: vapidSubject(config) },
          clock,
          allowInsecureHTTP: pushAddressPolicy.allowHTTP,
          allowedHosts: pushAddressPolicy.allowedHosts,
          allowLoopback: pushAddressPolicy.allowLoopback,
        }),
        keyring,
        store,
        log: logger.child({ component: "web-push" }),
        ttlSeconds: config.policy.push.lifetimeSeconds,
      })
    : undefined;
  const metrics = createMetrics({ version: readPackageVersion() });
  // Receipts arrive on gateway sessions; the services that record them are built next.
  let onReceipt: (receipt: DeliveryReceipt) => void = () => {};
  const messagingSetup = createMessaging(
    config,
    logger,
    nodeName,
    (receipt) => onReceipt(receipt),
    options.smsGateways ?? [],
    demoInbox,
  );
  const alerts = new OperatorAlertHub(logger.child({ component: "alerts" }));
  const core = createServices({
    alerts,
    store,
    keyring,
    clock,
    config,
    nodeName,
    pushEvents,
    ...(delivery ? { pushDelivery: delivery } : {}),
    ...(places ? { places } : {}),
    ...(messagingSetup.messaging ? { messaging: messagingSetup.messaging } : {}),
  });
  onReceipt = (receipt) => {
    core
      .recordDeliveryReceipt(receipt)
      .catch((err: unknown) =>
        logger.warn({ err, gateway: receipt.gateway }, "a delivery receipt could not be recorded"),
      );
  };
  // Every alert is e-mailed to the operators too (alerts.email.to), through the outbox, once an hour per cause.
  if (config.alerts.email.to.length > 0 && messagingSetup.messaging?.mail)
    alerts.subscribe((alert) => {
      core
        .queueOperatorAlertMail(alert)
        .catch((err: unknown) =>
          logger.warn({ err, alert: alert.kind }, "an operator alert could not be queued for e-mail"),
        );
    });
  const services = { ...core, verifyPasscode: countPasscodeVerifications(core.verifyPasscode, metrics) };
  const runtime: Runtime = {
    config,
    store,
    keyring,
    clock,
    logger,
    nodeName,
    services,
    metrics,
    alerts,
    pushEvents,
    vapidPublicKey: vapid ? Buffer.from(vapid.publicKeyRaw).toString("base64url") : null,
    webPushAllowHTTP: options.webPushAllowHTTP ?? false,
    messagingEnabled: messagingSetup.messaging !== undefined,
    ...(demoInbox ? { demoInbox } : {}),
    readSmsReceipt: (gateway, request) => messagingSetup.readReceipt(gateway, request),
    smsGatewayStatus: () => messagingSetup.gateways.map((g) => ({ name: g.name, up: g.up ?? true })),
    checkWebPushEndpoint: (endpoint) => {
      try {
        checkPushEndpointURL(endpoint, pushAddressPolicy);
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    },
    // Loaded only in demo mode.
    seedDemo: async () => (await import("./demo.ts")).ensureDemoOrganization(runtime),
    close: async () => {
      metrics.close();
      await delivery?.settle();
      await messagingSetup.close();
      await pushEvents.close?.();
      places?.close();
      await store.close();
    },
  };
  return runtime;
}

/** What a reconciliation of username keys did, for operators: changes at info, collisions as a warning. */
export function logUsernameReconciliation(logger: Logger, report: ReconcileReport): void {
  if (!report.ran) return;
  if (report.changed.length > 0)
    logger.info(
      { checked: report.checked, changed: report.changed.length },
      "usernames and aliases re-keyed for identity.stripDomains",
    );
  for (const c of report.collisions)
    logger.warn(
      { name: c.canonical, userIds: c.userIds },
      "username collision: these users' names reduce to one canonical name, which now names none of them; " +
        "delete or rename all but one (twofold user collisions)",
    );
}

/** RFC 8292 §2.1: a contact for the push service's operator; the public URL when https, else a mailto:. */
function vapidSubject(config: Readonly<Config>): string {
  if (config.push.webPush.subject) return config.push.webPush.subject;
  if (config.server.publicUrl.startsWith("https:")) return config.server.publicUrl;
  let host = "localhost";
  try {
    host = new URL(config.server.publicUrl).hostname || host;
  } catch {
    // no usable public URL: keep localhost
  }
  return `mailto:twofold@${host}`;
}

/**
 * Master keys from configuration. In demo mode without configured keys, one is generated once and kept
 * beside the SQLite file (mode 0600), so a restarted demo can still read what it sealed.
 */
export function loadMasterKeys(config: Readonly<Config>): MasterKey[] {
  if (config.keys.encryption.length > 0) {
    return config.keys.encryption.map((k) => ({ id: k.id, key: decodeKey(k.key) }));
  }
  if (config.mode !== "demo") {
    throw new TwofoldError("ERR_CONFIG_INVALID", "an encryption key is required outside demo mode");
  }
  const file = join(dirname(resolve(config.database.sqlitePath)), "demo-keys.json");
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as { id: string; key: string }[];
    return saved.map((k) => ({ id: k.id, key: new Uint8Array(Buffer.from(k.key, "base64")) }));
  }
  mkdirSync(dirname(file), { recursive: true });
  const key = { id: "demo", key: Buffer.from(randomBytes(32)).toString("base64") };
  writeFileSync(file, JSON.stringify([key], null, 2), { mode: 0o600 });
  chmodSync(file, 0o600);
  return [{ id: key.id, key: new Uint8Array(Buffer.from(key.key, "base64")) }];
}
