// Push wake-ups on SQLite: the in-process hub, plus one cheap watch for writes by other processes on the same file.
import { type QueryExecutorProvider, sql } from "kysely";
import type { PushStatus } from "../../core/model.ts";
import type { PushEvent, PushEvents } from "../../core/ports.ts";
import { LocalPushEvents } from "./local-push-events.ts";

/** How often the process asks SQLite whether another connection committed (one pragma, no table read). */
export const SQLITE_WATCH_MS = 2_000;

/**
 * A waiting login's own re-read, without a wake-up: a backstop only. Every write on the file is either this
 * process's (published here) or another connection's (seen by the watch within SQLITE_WATCH_MS), so no answer
 * waits for it; a short one cost a store read per waiting login per interval (5,000 reads a second with 10,000
 * waiting at 2 s), which answers then queued behind.
 */
export const SQLITE_FALLBACK_POLL_MS = 30_000;

/** Pushes looked up per statement when another process wrote (well under SQLite's limit of bound parameters). */
const LOOKUP_CHUNK = 500;

/**
 * Events published in this process reach its listeners at once. A `twofold` command (or a second server) on
 * the same file writes without telling us; `PRAGMA data_version` changes exactly when another connection has
 * committed (https://sqlite.org/pragma.html#pragma_data_version), so one query per process replaces a
 * re-read per open stream. On a change, the pushes that logins wait for are looked up together, and only the
 * waiters whose push is no longer pending (or gone) are woken; listeners on a user (device streams, which list
 * what is pending) all re-read, since a push may have been started elsewhere.
 */
export class SqlitePushEvents implements PushEvents {
  readonly fallbackPollMs = SQLITE_FALLBACK_POLL_MS;
  readonly #local = new LocalPushEvents();
  readonly #kysely: QueryExecutorProvider;
  readonly #timer: NodeJS.Timeout;
  #version: number | undefined;
  #checking = false;

  constructor(options: { kysely: QueryExecutorProvider; watchMs?: number }) {
    this.#kysely = options.kysely;
    this.#timer = setInterval(() => void this.#check(), options.watchMs ?? SQLITE_WATCH_MS);
    this.#timer.unref();
    void this.#check();
  }

  async publish(event: PushEvent): Promise<void> {
    this.#local.dispatch(event);
  }

  subscribe(key: string, listener: (event: PushEvent) => void): () => void {
    return this.#local.subscribe(key, listener);
  }

  waitFor(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    return this.#local.waitFor(key, ms, signal);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
  }

  async #check(): Promise<void> {
    // Nobody listening: nothing to wake, and no query either.
    if (this.#checking || (this.#local.listenedKeys === 0 && this.#version !== undefined)) return;
    this.#checking = true;
    try {
      const { rows } = await sql<{ data_version: number }>`pragma data_version`.execute(this.#kysely);
      const version = Number(rows[0]?.data_version);
      const changed = this.#version !== undefined && version !== this.#version;
      this.#version = version;
      if (changed) await this.#resync();
    } catch {
      // The database is closing or unavailable; the waiters' own backstop re-read still runs.
    } finally {
      this.#checking = false;
    }
  }

  /** Another connection committed: wake who may be concerned. */
  async #resync(): Promise<void> {
    const keys = this.#local.keys();
    const txids = keys.filter((k) => k.startsWith("tx:")).map((k) => k.slice(3));
    for (const key of keys) if (!key.startsWith("tx:")) this.#local.deliver(key, { kind: "resync" });
    for (let first = 0; first < txids.length; first += LOOKUP_CHUNK) {
      const chunk = txids.slice(first, first + LOOKUP_CHUNK);
      let rows: Array<{ id: string; user_id: string; status: PushStatus }>;
      try {
        ({ rows } = await sql<{ id: string; user_id: string; status: PushStatus }>`
          select id, user_id, status from push_transactions where id in (${sql.join(chunk)})`.execute(
          this.#kysely,
        ));
      } catch {
        // Not known which: every waiter of this chunk reads for itself.
        for (const txid of chunk) this.#local.deliver(`tx:${txid}`, { kind: "resync" });
        continue;
      }
      for (const r of rows) {
        if (r.status !== "pending")
          this.#local.deliver(`tx:${r.id}`, {
            kind: "resolved",
            txid: r.id,
            userId: r.user_id,
            status: r.status,
          });
      }
      // A push that is gone (its user deleted elsewhere) wakes its waiter too, which then reads "not found".
      const present = new Set(rows.map((r) => r.id));
      for (const txid of chunk) if (!present.has(txid)) this.#local.deliver(`tx:${txid}`, { kind: "resync" });
    }
  }
}
