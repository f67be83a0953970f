// Opens the configured database (SQLite file or PostgreSQL), applies migrations, and returns the Store.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from "kysely";
import type { Pool, PoolClient } from "pg";
import { TwofoldError } from "../core/errors.ts";
import { KyselyStore } from "./kysely-store.ts";
import { type Dialect, migrateToLatest } from "./migrations.ts";
import { SqliteConnection, TwofoldSqliteDialect } from "./sqlite-connection.ts";
import { PREPARED_MARKER } from "./store-context.ts";
import type { Database } from "./tables.ts";

export interface StoreOptions {
  /** postgres:// URL; when empty, SQLite at `sqlitePath`. */
  url?: string;
  sqlitePath?: string;
  poolSize?: number;
  /** PostgreSQL schema to use (tests give each run its own). */
  schema?: string;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** PostgreSQL `application_name` of the pool's connections: names this node in pg_stat_activity. */
  applicationName?: string;
  /** PostgreSQL limits (N2): without them, only connecting is bounded (5 s). */
  timeouts?: DatabaseTimeouts;
  /** Run SQLite WAL checkpoints in a background thread (default true for files). */
  backgroundCheckpoints?: boolean;
  /**
   * Told of trouble the store works around by itself (SQLite's checkpoint thread failing or stopping, and being
   * started again): for the operator's log.
   */
  onWarning?: (message: string, detail: Record<string, unknown>) => void;
}

export interface DatabaseTimeouts {
  /** Opening a connection, and waiting for a free one in the pool. */
  connectMs: number;
  /** One statement, or a wait for a lock, on the server; the client gives up a second later. */
  statementMs: number;
  /** An idle pooled connection is closed, and a transaction left idle is ended by the server. */
  idleMs: number;
}

export interface OpenedStore {
  store: KyselyStore;
  dialect: Dialect;
  kysely: Kysely<Database>;
  /** SQLite with background checkpoints: the thread that runs them. */
  checkpointer?: CheckpointThread;
}

const INT8_OID = 20;
const DEFAULT_CONNECT_MS = 5000;
/** The client's own limit lies past the server's, so a slow statement ends with the server's clear error. */
const CLIENT_GRACE_MS = 1000;

export async function openStore(options: StoreOptions): Promise<OpenedStore> {
  if (options.url && (options.migrate ?? true)) {
    // Migrations may rewrite large tables or wait for another node's migration lock: they run on a
    // connection of their own without the statement limits, which are for serving requests.
    const { timeouts, ...unbounded } = options;
    const migrating = await openPostgres({ ...unbounded, poolSize: 1 }, timeouts?.connectMs);
    try {
      await migrateToLatest(migrating.kysely, migrating.dialect);
    } finally {
      await migrating.store.close();
    }
    return openPostgres(options, options.timeouts?.connectMs);
  }
  const opened = options.url ? await openPostgres(options) : openSqlite(options);
  if (options.migrate ?? true) {
    try {
      await migrateToLatest(opened.kysely, opened.dialect);
    } catch (error) {
      await opened.store.close();
      throw error;
    }
  }
  return opened;
}

async function openPostgres(options: StoreOptions, connectMs = DEFAULT_CONNECT_MS): Promise<OpenedStore> {
  // Loaded on demand: SQLite installations (and every short CLI command on them) never pay for it.
  const { default: pg } = await import("pg");
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new TwofoldError("ERR_CONFIG_INVALID", `invalid PostgreSQL schema name ${schema}`);
  const limits = options.timeouts;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: connectMs,
    application_name: options.applicationName ?? "twofold",
    // TCP keepalive from 10 s of silence: a peer that vanished without closing (fail-over, partition) is
    // eventually noticed on idle connections too (after the system's probes, minutes), not after hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(limits
      ? {
          statement_timeout: limits.statementMs,
          lock_timeout: limits.statementMs,
          idle_in_transaction_session_timeout: limits.idleMs,
          // A black-holed server never answers, so its own statement_timeout cannot end the wait.
          query_timeout: limits.statementMs + CLIENT_GRACE_MS,
          idleTimeoutMillis: limits.idleMs,
        }
      : {}),
    // Times are epoch milliseconds in bigint columns: well inside 2^53, so read them as numbers.
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) as never,
    },
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // A connection lost (terminated backend, restart, fail-over) is an 'error' event: on an idle client the pool
  // re-emits it, on a checked-out one the client does, after failing its query. Either would end the process
  // without a listener (N2). The query in flight reports the loss to its caller, the pool drops the broken
  // client when it is released, and the next query opens a new connection.
  pool.on("error", () => {});
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  const dialectPool = dropTimedOutClients(pool);
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: dialectPool }) });
  // Kysely ends the pool only if it was ever used; a store closed before its first query ends it here, so a
  // later call fails instead of opening connections nobody will close.
  const store = new KyselyStore(kysely, "postgres", {
    onClose: async () => {
      await kysely.destroy();
      await dialectPool.end();
    },
  });
  return { store, dialect: "postgres", kysely };
}

/**
 * The pool as Kysely sees it. A query the client gave up on (query_timeout) is still outstanding on its
 * connection, and everything queued behind it would wait too: such a client is destroyed on release, never
 * handed out again.
 */
function dropTimedOutClients(pool: Pool): PostgresPool {
  const wrappers = new WeakMap<PoolClient, PostgresPoolClient>();
  const timedOut = new WeakSet<PoolClient>();
  let ended: Promise<void> | undefined;
  const wrap = (client: PoolClient): PostgresPoolClient => ({
    query: ((text: unknown, values?: unknown) => {
      // The hot statements (store-context.ts `hot`) are prepared once per connection, then only bound and run.
      const name = typeof text === "string" ? PREPARED_MARKER.exec(text)?.[1] : undefined;
      const result = name
        ? client.query({ name, text: text as string, values: values as unknown[] })
        : (client.query as (t: unknown, v?: unknown) => unknown)(text, values);
      if (result instanceof Promise)
        result.catch((error: unknown) => {
          if ((error as Error | undefined)?.message === "Query read timeout") timedOut.add(client);
          // A prepared statement planned before a migration changed its table ("cached plan must not change
          // result type"): this call fails closed, and the connection is replaced, so the next one prepares anew.
          if (name && (error as { code?: string } | undefined)?.code === "0A000") timedOut.add(client);
        });
      return result;
    }) as PostgresPoolClient["query"],
    release: () => client.release(timedOut.has(client) ? new Error("query read timeout") : undefined),
  });
  return {
    connect: async () => {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) {
        wrapper = wrap(client);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => {
      ended ??= pool.end();
      return ended;
    },
  };
}

function openSqlite(options: StoreOptions): OpenedStore {
  const path = options.sqlitePath ?? "./data/twofold.db";
  const inMemory = path === ":memory:";
  if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true });
  let database: BetterSqlite3.Database;
  try {
    database = new BetterSqlite3(path);
  } catch (cause) {
    throw new TwofoldError("ERR_STORE_UNAVAILABLE", `cannot open SQLite database ${path}`, { cause });
  }
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = NORMAL");
  database.pragma("foreign_keys = ON");
  database.pragma("busy_timeout = 5000");
  // 64 MiB of page cache (the default is 2 MiB): the pages a login reads stay in memory.
  database.pragma("cache_size = -65536");
  let checkpointer: CheckpointThread | undefined;
  // Set by the checkpoint thread while it empties the WAL: the connection starts no new group meanwhile.
  const checkpointing = new Int32Array(new SharedArrayBuffer(4));
  if (!inMemory && (options.backgroundCheckpoints ?? true)) {
    // Commits never checkpoint (which would stall the request that happened to cross the threshold);
    // a background thread with its own connection does it instead.
    database.pragma("wal_autocheckpoint = 0");
    database.pragma(`journal_size_limit = ${WAL_POLICY.journalSizeLimit}`);
    checkpointer = new CheckpointThread(resolve(path), checkpointing, options.onWarning);
  }
  const connection = new SqliteConnection(
    database,
    checkpointer
      ? { flag: checkpointing, pauseMs: WAL_POLICY.pauseMs, backstopBytes: 2 * WAL_POLICY.truncateBytes }
      : undefined,
  );
  const kysely = new Kysely<Database>({ dialect: new TwofoldSqliteDialect(connection) });
  const store = new KyselyStore(kysely, "sqlite", {
    sqlite: connection,
    onClose: async () => {
      await checkpointer?.stop();
      await kysely.destroy();
    },
  });
  return { store, dialect: "sqlite", kysely, ...(checkpointer ? { checkpointer } : {}) };
}

/**
 * The WAL's bound. Passive checkpoints alone never finish while the server writes steadily (each one copies the
 * frames written so far while new ones arrive), and the WAL is only rewound from its start by a transaction that
 * begins after a checkpoint copied everything: it grew by hundreds of MiB a minute under load. So, off the request
 * path, in a thread with its own connection: a passive checkpoint every quarter second (it copies without blocking
 * anyone); once the WAL's frames since its last rewind pass `truncateBytes` (or the file twice that), the thread
 * raises a shared flag, and the connection finishes the group under way and starts the next once the flag is down
 * (or after `pauseMs` at most: SqliteConnection), waiting without blocking its event loop. Meanwhile a passive
 * checkpoint copies the little left, so the writer's next transaction rewinds the WAL, and `journal_size_limit`
 * trims the file on that commit. Once the server is quiet, a TRUNCATE empties the file (waiting `truncateWaitMs`
 * at most for readers). A checkpoint never takes the write lock while the writer may want it: the writer would
 * wait in SQLite's busy handler, which blocks its event loop.
 */
export const WAL_POLICY = {
  intervalMs: 250,
  truncateBytes: 16 * 2 ** 20,
  journalSizeLimit: 16 * 2 ** 20,
  /** How long the TRUNCATE waits for readers and the writer's group under way before it gives up until next time. */
  truncateWaitMs: 200,
  /** The writer's longest pause for it (as long as busy_timeout: past it, the writer would give up anyway). */
  pauseMs: 5000,
};

const CHECKPOINT_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const { statSync } = require("node:fs");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 5000");
db.pragma("journal_size_limit = " + workerData.journalSizeLimit);
const walSize = () => { try { return statSync(workerData.path + "-wal").size; } catch { return 0; } };
const flag = new Int32Array(workerData.checkpointing);
// One WAL frame: a page and its 24-byte header.
const frameBytes = db.pragma("page_size", { simple: true }) + 24;
let lastLog = -1;
let lastReport = 0;
setInterval(() => {
  try {
    const passive = db.pragma("wal_checkpoint(PASSIVE)")[0];
    const size = walSize();
    // Nothing written since the last run, and all of it copied: no writer to keep waiting.
    const idle = passive.log === lastLog && passive.log === passive.checkpointed;
    lastLog = passive.log;
    if (size <= workerData.truncateBytes) return;
    // The file is not the WAL's content: after the writer rewinds a fully copied WAL, it writes from the start
    // again, and journal_size_limit trims the file to the limit on that commit. While the frames since the last
    // rewind stay within the bound (and the file within twice it), the WAL rewinds by itself: nothing to do. A
    // TRUNCATE here would take the write lock and stall the writer's next BEGIN inside SQLite's busy handler, which
    // blocks its event loop (at 1,000 logins/s, 10–80 ms every half second).
    const content = passive.log * frameBytes;
    if (!idle && content <= workerData.truncateBytes && size <= 2 * workerData.truncateBytes) return;
    // The WAL has not rewound for a while (a writer kept adding frames), or the server went quiet: pause the writer
    // (it finishes the group under way and starts no new one until the flag is down: it waits without blocking its
    // event loop), then copy the rest and empty the file.
    Atomics.store(flag, 0, 1);
    // Readers are not paused, and may keep it waiting: give up soon and try again next time.
    db.pragma("busy_timeout = " + workerData.truncateWaitMs);
    // Busy: copy the rest while the writer waits (little, after the passive run), so its next transaction rewinds
    // the WAL; journal_size_limit trims the file on that commit. Quiet: empty the file now.
    try { db.pragma(idle ? "wal_checkpoint(TRUNCATE)" : "wal_checkpoint(PASSIVE)"); } finally {
      db.pragma("busy_timeout = 5000");
      Atomics.store(flag, 0, 0);
      Atomics.notify(flag, 0);
    }
  } catch (error) {
    // Busy or locked: a reader or the writer was in the way, and the next run tries again. Anything else (a full
    // disk, an I/O error) is told to the parent, once a minute at most.
    const code = String((error && error.code) || "");
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return;
    const now = Date.now();
    if (now - lastReport < 60000) return;
    lastReport = now;
    parentPort.postMessage({ failed: code || String(error && error.message) });
  }
}, workerData.intervalMs);
`;

/** A checkpoint thread that lived this long is doing its work: its next failure starts the back-off afresh. */
const CHECKPOINT_THREAD_STEADY_MS = 60_000;
const CHECKPOINT_RESTART_MS = { first: 1_000, max: 30_000 };

/**
 * The checkpoint thread (WAL_POLICY), kept running: a thread that fails (it cannot open the file, runs out of
 * memory) or stops is told to the operator and started again, after 1 s and then up to 30 s between attempts.
 * Meanwhile the writer's own backstop (SqliteConnection) bounds the WAL, and a thread that stopped while the
 * writer waited for it does not leave the writer waiting.
 */
export class CheckpointThread {
  #worker: Worker | undefined;
  #stopped = false;
  #restart: NodeJS.Timeout | undefined;
  #failures = 0;
  /** How many times the thread was started (1 for the first). */
  starts = 0;

  constructor(
    private readonly path: string,
    /** Raised while the thread empties the WAL (the writer waits meanwhile). */
    readonly flag: Int32Array,
    private readonly warn: NonNullable<StoreOptions["onWarning"]> = () => {},
  ) {
    this.#start();
  }

  /** The thread now running, if any (for tests). */
  get worker(): Worker | undefined {
    return this.#worker;
  }

  #start(): void {
    if (this.#stopped) return;
    let worker: Worker;
    try {
      const driver = createRequire(import.meta.url).resolve("better-sqlite3");
      worker = new Worker(CHECKPOINT_SOURCE, {
        eval: true,
        workerData: { path: this.path, driver, ...WAL_POLICY, checkpointing: this.flag.buffer },
      });
    } catch (error) {
      // No thread to be had (a limit on threads, memory): the writer's backstop bounds the WAL meanwhile.
      this.#retry({ error: (error as Error).message }, "the SQLite WAL checkpoint thread could not start");
      return;
    }
    this.starts++;
    const startedAt = performance.now();
    worker.on("message", (m: { failed?: string }) => {
      if (m.failed) this.warn("the SQLite WAL checkpoint failed; it is tried again", { error: m.failed });
    });
    worker.on("error", (error: Error) => {
      this.warn("the SQLite WAL checkpoint thread failed", { error: error.message });
    });
    worker.on("exit", (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      // Stopped while the writer waited for it: the writer must not wait for a thread that is gone.
      Atomics.store(this.flag, 0, 0);
      Atomics.notify(this.flag, 0);
      if (this.#stopped) return;
      if (performance.now() - startedAt >= CHECKPOINT_THREAD_STEADY_MS) this.#failures = 0;
      this.#retry({ exitCode: code }, "the SQLite WAL checkpoint thread stopped; it starts again");
    });
    // Listeners first: one added after unref() would make the thread keep the process alive again.
    worker.unref();
    this.#worker = worker;
  }

  /** Start a thread again after the back-off, telling the operator. */
  #retry(detail: Record<string, unknown>, message: string): void {
    const delay = Math.min(CHECKPOINT_RESTART_MS.max, CHECKPOINT_RESTART_MS.first * 2 ** this.#failures);
    this.#failures++;
    this.warn(message, { ...detail, restartInMs: delay });
    this.#restart = setTimeout(() => this.#start(), delay);
    this.#restart.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restart);
    await this.#worker?.terminate();
  }
}
