// Opens the configured database (SQLite file or PostgreSQL), applies migrations, and returns the Store.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import { TwofoldError } from "../core/errors.ts";
import { KyselyStore } from "./kysely-store.ts";
import { type Dialect, migrateToLatest } from "./migrations.ts";
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
  /** Run SQLite WAL checkpoints in a background thread (default true for files). */
  backgroundCheckpoints?: boolean;
}

export interface OpenedStore {
  store: KyselyStore;
  dialect: Dialect;
  kysely: Kysely<Database>;
}

const INT8_OID = 20;

export async function openStore(options: StoreOptions): Promise<OpenedStore> {
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

async function openPostgres(options: StoreOptions): Promise<OpenedStore> {
  // Loaded on demand: SQLite installations (and every short CLI command on them) never pay for it.
  const { default: pg } = await import("pg");
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new TwofoldError("ERR_CONFIG_INVALID", `invalid PostgreSQL schema name ${schema}`);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5000,
    application_name: options.applicationName ?? "twofold",
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
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const store = new KyselyStore(kysely, "postgres", { onClose: () => kysely.destroy() });
  return { store, dialect: "postgres", kysely };
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
  let checkpointer: Worker | undefined;
  if (!inMemory && (options.backgroundCheckpoints ?? true)) {
    // Commits never checkpoint (which would stall the request that happened to cross the threshold);
    // a background thread with its own connection does it instead.
    database.pragma("wal_autocheckpoint = 0");
    checkpointer = startCheckpointer(resolve(path));
  }
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  const store = new KyselyStore(kysely, "sqlite", {
    onClose: async () => {
      await checkpointer?.terminate();
      await kysely.destroy();
    },
  });
  return { store, dialect: "sqlite", kysely };
}

const CHECKPOINT_SOURCE = `
const { workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 5000");
setInterval(() => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
}, workerData.intervalMs);
`;

function startCheckpointer(path: string): Worker {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(CHECKPOINT_SOURCE, {
    eval: true,
    workerData: { path, driver, intervalMs: 5000 },
  });
  worker.unref();
  worker.on("error", () => {});
  return worker;
}
