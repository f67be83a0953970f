// Push wake-ups on SQLite: the in-process hub, plus one cheap watch for writes by other processes on the same file.
import { type QueryExecutorProvider, sql } from "kysely";
import type { PushEvent, PushEvents } from "../../core/ports.ts";
import { LOCAL_FALLBACK_POLL_MS, LocalPushEvents } from "./local-push-events.ts";

/** How often the process asks SQLite whether another connection committed (one pragma, no table read). */
export const SQLITE_WATCH_MS = 2_000;

/**
 * Events published in this process reach its listeners at once. A `twofold` command (or a second server) on
 * the same file writes without telling us; `PRAGMA data_version` changes exactly when another connection has
 * committed (https://sqlite.org/pragma.html#pragma_data_version), so one query per process replaces a
 * re-read per open stream: on a change, every listener re-reads (a resync).
 */
export class SqlitePushEvents implements PushEvents {
  readonly fallbackPollMs = LOCAL_FALLBACK_POLL_MS;
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
      if (changed) this.#local.dispatch({ kind: "resync" });
    } catch {
      // The database is closing or unavailable; the streams' own safety poll still runs.
    } finally {
      this.#checking = false;
    }
  }
}
