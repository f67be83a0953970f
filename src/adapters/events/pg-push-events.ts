// Push wake-ups across nodes on one PostgreSQL: NOTIFY on a per-schema channel, LISTEN on a dedicated connection.
import { type QueryExecutorProvider, sql } from "kysely";
import type pg from "pg";
import { LocalPushEvents } from "./local-push-events.ts";

/** Every node is heard through NOTIFY (and a re-opened connection triggers a resync): the timer is a backstop. */
export const PG_FALLBACK_POLL_MS = 10_000;

import { randomHex } from "../../core/crypto/index.ts";
import type { PushStatus } from "../../core/model.ts";
import type { PushEvent, PushEvents } from "../../core/ports.ts";

export interface PgPushEventsOptions {
  url: string;
  /** The store's connections: their current schema names the channel, so nodes sharing data share it. */
  kysely: QueryExecutorProvider;
  onError?: (error: unknown) => void;
  /** `application_name` of the LISTEN connection (default `twofold-push-events`). */
  applicationName?: string;
  /** Connecting and subscribing give up after this (default 5 s), and the next attempt is scheduled. */
  connectTimeoutMs?: number;
  /**
   * How often the idle LISTEN connection is asked a trivial query (default 15 s). A server that vanished without
   * closing it (partition, fail-over behind a firewall) sends nothing, so silence alone proves nothing.
   */
  heartbeatMs?: number;
  /** First reconnect delay; doubles up to 30 s. */
  reconnectMs?: number;
}

interface Wire {
  /** The sending process: its own events were already dispatched locally. */
  o: string;
  k: "c" | "r" | "a";
  /** The push ("" for an activation). */
  t: string;
  u: string;
  s?: PushStatus;
}

const STATUSES: readonly PushStatus[] = ["pending", "approved", "denied", "fraud", "expired", "cancelled"];

/**
 * Local hub plus PostgreSQL NOTIFY. An event is dispatched here at once and sent to every other node;
 * a listening connection that drops is re-opened with backoff (meanwhile waiters fall back to polling).
 */
export class PgPushEvents implements PushEvents {
  readonly fallbackPollMs = PG_FALLBACK_POLL_MS;
  readonly #local = new LocalPushEvents();
  readonly #origin = randomHex(8);
  readonly #channel: string;
  readonly #options: PgPushEventsOptions;
  #client: pg.Client | undefined;
  #closed = false;
  #everConnected = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #delay: number;

  private constructor(options: PgPushEventsOptions, schema: string) {
    this.#options = options;
    // An identifier of at most 63 bytes that needs no quoting, whatever the schema is called.
    this.#channel = `twofold_push_${schema.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 48)}`.toLowerCase();
    this.#delay = options.reconnectMs ?? 500;
  }

  static async start(options: PgPushEventsOptions): Promise<PgPushEvents> {
    // The schema as the store's connections see it (search_path from the URL or the schema option).
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(options.kysely);
    const events = new PgPushEvents(options, rows[0]?.schema ?? "public");
    await events.#connect();
    return events;
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  async publish(event: PushEvent): Promise<void> {
    this.#local.dispatch(event);
    if (event.kind === "resync") return;
    const wire: Wire = {
      o: this.#origin,
      k: event.kind === "created" ? "c" : event.kind === "activated" ? "a" : "r",
      t: event.kind === "activated" ? "" : event.txid,
      u: event.userId,
      ...(event.kind === "resolved" ? { s: event.status } : {}),
    };
    await sql`select pg_notify(${this.#channel}, ${JSON.stringify(wire)})`.execute(this.#options.kysely);
  }

  subscribe(key: string, listener: (event: PushEvent) => void): () => void {
    return this.#local.subscribe(key, listener);
  }

  waitFor(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    return this.#local.waitFor(key, ms, signal);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#heartbeat);
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    // A server that no longer answers never acknowledges the goodbye: stop waiting for it after a while.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.end().catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#options.connectTimeoutMs ?? 5000);
      }),
    ]);
    clearTimeout(timer);
  }

  async #connect(): Promise<void> {
    const { default: pgModule } = await import("pg");
    const client = new pgModule.Client({
      connectionString: this.#options.url,
      connectionTimeoutMillis: this.#options.connectTimeoutMs ?? 5000,
      // LISTEN on a server that stopped answering would otherwise wait for ever, and never be retried.
      query_timeout: this.#options.connectTimeoutMs ?? 5000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // Named, so operators can tell this long-lived idle connection from a leak in pg_stat_activity.
      application_name: this.#options.applicationName ?? "twofold-push-events",
    });
    const lost = (error?: unknown) => {
      if (this.#client !== client) return;
      this.#client = undefined;
      clearTimeout(this.#heartbeat);
      if (error) this.#options.onError?.(error);
      client.end().catch(() => {});
      this.#scheduleReconnect();
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (message) => {
      if (message.channel === this.#channel && message.payload) this.#receive(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.#channel}"`);
    } catch (error) {
      // A half-open connection would linger and keep its socket: close it before the caller retries.
      client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    const reconnected = this.#everConnected;
    this.#client = client;
    this.#everConnected = true;
    this.#delay = this.#options.reconnectMs ?? 500;
    // No answer within the query timeout: the connection is lost (and is re-opened like any other loss).
    const beat = () => {
      this.#heartbeat = setTimeout(() => {
        client.query("select 1").then(() => {
          if (this.#client === client) beat();
        }, lost);
      }, this.#options.heartbeatMs ?? 15_000);
      this.#heartbeat.unref();
    };
    beat();
    // Whatever was notified while the connection was down is lost: everyone re-reads now.
    if (reconnected) this.#local.dispatch({ kind: "resync" });
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, 30_000);
    this.#retryTimer = setTimeout(() => {
      this.#connect().catch((error: unknown) => {
        this.#options.onError?.(error);
        this.#scheduleReconnect();
      });
    }, delay);
    this.#retryTimer.unref();
  }

  #receive(payload: string): void {
    let wire: Wire;
    try {
      wire = JSON.parse(payload) as Wire;
    } catch {
      return;
    }
    if (wire.o === this.#origin || typeof wire.t !== "string" || typeof wire.u !== "string") return;
    if (wire.k === "a") this.#local.dispatch({ kind: "activated", userId: wire.u });
    else if (wire.k === "c") this.#local.dispatch({ kind: "created", txid: wire.t, userId: wire.u });
    else if (wire.k === "r" && wire.s && STATUSES.includes(wire.s))
      this.#local.dispatch({ kind: "resolved", txid: wire.t, userId: wire.u, status: wire.s });
  }
}
