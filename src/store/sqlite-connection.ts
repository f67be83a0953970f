// The one SQLite connection of a process: statements prepared once, handed over in arrival order, and transactions
// that arrive together committed together (group commit).
import { statSync } from "node:fs";
import type BetterSqlite3 from "better-sqlite3";
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type QueryResult,
  SqliteAdapter,
  SqliteDialect,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from "kysely";
import type { Database } from "./tables.ts";

/** Prepared statements kept per connection; far more than the distinct statements Twofold sends. */
const STATEMENT_CACHE_SIZE = 2000;
/** Transactions committed together at most, and the longest a group keeps taking more before it commits. */
const GROUP_LIMIT = 128;
const GROUP_MS = 10;
/** How often, at most, a commit looks at the WAL's size (the writer's backstop). */
const BACKSTOP_CHECK_MS = 50;

/**
 * How a transaction of a group is undone if it fails:
 * - `savepoint`: its own savepoint, rolled back alone;
 * - `statement`: it runs one statement, which SQLite backs out by itself (no savepoint is set);
 * - `group`: no savepoint; its first write is the one that may not apply, and every write after it applies unless the
 *   database fails, so it throws only on such a failure (or a mistake), and then the whole group is rolled back.
 *   A savepoint costs two statements and, for every page the group had already changed, a copy in the statement
 *   journal: for the few writes of a login, more than the writes themselves.
 */
export type GroupUndo = "savepoint" | "statement" | "group";

interface Queued {
  fn: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  undo: GroupUndo;
}

/**
 * A better-sqlite3 connection shared by everything in the process.
 *
 * - `statement(sql)`: each distinct SQL text is prepared once and reused (better-sqlite3 statements are
 *   reusable; SQLite re-prepares them itself after a schema change).
 * - Ownership: one holder at a time, handed over first come, first served (Kysely's own SQLite driver wakes every
 *   waiter on each release, which costs time quadratic in the number waiting). Transactions and Kysely queries
 *   hold it; `run` executes a statement at once when nobody does, so a statement never lands inside someone
 *   else's open transaction.
 * - `transaction(fn)`: group commit. Transactions that arrive while one runs (or in the same turn of the event
 *   loop) run one after another inside one `BEGIN IMMEDIATE … COMMIT`, each in its own savepoint unless it says
 *   otherwise (GroupUndo): one that throws is rolled back alone, and none is reported committed before the COMMIT
 *   succeeded. One COMMIT writes the pages the group changed once, instead of once per transaction.
 */
export class SqliteConnection {
  readonly database: BetterSqlite3.Database;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  readonly #controls = new Map<string, BetterSqlite3.Statement>();
  #owned = false;
  readonly #waiters: Array<() => void> = [];
  readonly #queue: Queued[] = [];
  #draining = false;
  #owner: Kysely<Database> | undefined;

  /** Raised by the checkpoint thread while it empties the WAL (open-store.ts): no group starts meanwhile. */
  readonly #checkpointing: Int32Array | undefined;
  readonly #pauseMs: number;
  /**
   * The writer's own backstop: past this WAL size it checkpoints between two groups itself. The checkpoint thread
   * keeps the WAL small while it gets CPU time; on a machine too busy to schedule it, the writer still bounds it.
   */
  readonly #backstopBytes: number;
  #backstopCheckedAt = Number.NEGATIVE_INFINITY;

  constructor(
    database: BetterSqlite3.Database,
    checkpoint?: { flag: Int32Array; pauseMs: number; backstopBytes?: number },
  ) {
    this.database = database;
    this.#checkpointing = checkpoint?.flag;
    this.#pauseMs = checkpoint?.pauseMs ?? 0;
    this.#backstopBytes = checkpoint?.backstopBytes ?? 0;
  }

  /**
   * After a commit, when the WAL has grown past the backstop: a PASSIVE checkpoint on this connection. It runs while
   * no group is open, so no writer adds frames meanwhile and it can finish; the next write then rewinds the WAL and
   * journal_size_limit trims the file. Past half as much again (the thread and this one kept missing each other), a
   * TRUNCATE that waits 200 ms at most. Reads share this connection, so only the checkpoint thread can be in the way.
   */
  #backstop(): void {
    if (this.#backstopBytes === 0) return;
    // The WAL's size is looked at every 50 ms at most (a system call per commit would cost more than it tells).
    const now = performance.now();
    if (now - this.#backstopCheckedAt < BACKSTOP_CHECK_MS) return;
    this.#backstopCheckedAt = now;
    let size = 0;
    try {
      size = statSync(`${this.database.name}-wal`).size;
    } catch {
      return;
    }
    if (size <= this.#backstopBytes) return;
    try {
      if (size <= 1.5 * this.#backstopBytes) {
        this.database.pragma("wal_checkpoint(PASSIVE)");
        return;
      }
      const busy = this.database.pragma("busy_timeout", { simple: true });
      this.database.pragma("busy_timeout = 200");
      try {
        this.database.pragma("wal_checkpoint(TRUNCATE)");
      } finally {
        this.database.pragma(`busy_timeout = ${Number(busy)}`);
      }
    } catch {
      // The checkpoint thread's next run tries again.
    }
  }

  /** The Kysely a transaction's store uses: its queries run on the connection the transaction already holds. */
  get owner(): Kysely<Database> {
    this.#owner ??= new Kysely<Database>({ dialect: new TwofoldSqliteDialect(this, true) });
    return this.#owner;
  }

  /**
   * A transaction-control statement of the group commit (BEGIN IMMEDIATE, SAVEPOINT, RELEASE, COMMIT), prepared once:
   * `exec` would parse its text again for every transaction of every group.
   */
  #control(sql: string): void {
    let statement = this.#controls.get(sql);
    if (!statement) {
      statement = this.database.prepare(sql);
      this.#controls.set(sql, statement);
    }
    statement.run();
  }

  statement(sql: string): BetterSqlite3.Statement {
    const cached = this.#statements.get(sql);
    // A statement still iterating (a streamed query) cannot run again until it finishes.
    if (cached && !cached.busy) return cached;
    const statement = this.database.prepare(sql);
    if (!cached) {
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Whether someone (a transaction, a Kysely query) holds the connection. */
  get owned(): boolean {
    return this.#owned;
  }

  acquire(): Promise<void> {
    if (!this.#owned) {
      this.#owned = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#owned = false;
  }

  /** Run `fn` (synchronous statements) outside any transaction: at once if the connection is free, else in turn. */
  async run<T>(fn: () => T): Promise<T> {
    if (!this.#owned) return fn();
    await this.acquire();
    try {
      return fn();
    } finally {
      this.release();
    }
  }

  /**
   * Run `fn` in a transaction committed together with those that arrive alongside it (see the class comment).
   * `undo`: how it is undone if it fails (GroupUndo); a savepoint of its own unless said otherwise.
   */
  transaction<T>(fn: () => Promise<T>, undo: GroupUndo = "savepoint"): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (value: unknown) => void, reject, undo });
      if (!this.#draining) {
        this.#draining = true;
        // The rest of this turn of the event loop (other requests read from their sockets) may join the group.
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        await this.#checkpointDone();
        await this.acquire();
        try {
          await this.#group();
        } finally {
          this.release();
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  /**
   * Wait while the checkpoint thread empties the WAL, for `pauseMs` at most. Waiting here keeps the event loop
   * running; BEGIN IMMEDIATE would wait for the same lock inside SQLite's busy handler, which blocks it.
   */
  async #checkpointDone(): Promise<void> {
    const flag = this.#checkpointing;
    if (!flag || Atomics.load(flag, 0) === 0) return;
    // Polled on a timer (Atomics.waitAsync would not keep the process alive while it waits).
    const deadline = performance.now() + this.#pauseMs;
    while (Atomics.load(flag, 0) !== 0 && performance.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 1));
  }

  async #group(): Promise<void> {
    const db = this.database;
    try {
      this.#control("BEGIN IMMEDIATE");
    } catch (error) {
      // The write lock was not granted within busy_timeout (another process holds it): this group fails.
      for (const item of this.#queue.splice(0, GROUP_LIMIT)) item.reject(error);
      return;
    }
    const done: Array<{ item: Queued; value: unknown }> = [];
    const started = performance.now();
    let lost: unknown;
    while (this.#queue.length > 0 && done.length < GROUP_LIMIT && performance.now() - started < GROUP_MS) {
      const item = this.#queue.shift()!;
      try {
        if (item.undo === "savepoint") this.#control("SAVEPOINT twofold_group");
      } catch (error) {
        item.reject(error);
        lost = error;
        break;
      }
      try {
        const value = await item.fn();
        if (item.undo === "savepoint") this.#control("RELEASE twofold_group");
        done.push({ item, value });
      } catch (error) {
        try {
          if (db.inTransaction && item.undo === "savepoint")
            db.exec("ROLLBACK TO twofold_group; RELEASE twofold_group");
        } catch {
          // Reported below: the transaction is no longer open.
        }
        item.reject(error);
        if (!db.inTransaction) {
          lost = error;
          break;
        }
        // Without a savepoint, what it wrote before it failed can only go with the whole group. The others are
        // told their transaction was undone, not this one's reason (a login that ended is not theirs).
        if (item.undo === "group") {
          lost = new Error(
            "the SQLite transaction was rolled back with its group (another transaction failed)",
            {
              cause: error,
            },
          );
          break;
        }
      }
      // SQLite ends the whole transaction by itself on some errors (I/O, disk full): every change since BEGIN is
      // gone, so nothing in this group may be reported as committed.
      if (!db.inTransaction) {
        lost ??= new Error("the SQLite transaction ended early");
        break;
      }
    }
    if (lost === undefined) {
      try {
        this.#control("COMMIT");
      } catch (error) {
        lost = error;
      }
      if (lost === undefined) this.#backstop();
    }
    if (lost !== undefined) {
      try {
        if (db.inTransaction) db.exec("ROLLBACK");
      } catch {
        // Nothing more to undo.
      }
      for (const { item } of done) item.reject(lost);
      return;
    }
    for (const { item, value } of done) item.resolve(value);
  }
}

/** Kysely's view of the connection: statements from the cache, on the connection once this query's turn came. */
class CachedStatementConnection implements DatabaseConnection {
  constructor(private readonly connection: SqliteConnection) {}

  executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const statement = this.connection.statement(compiled.sql);
    const parameters = compiled.parameters as unknown[];
    if (statement.reader) return Promise.resolve({ rows: statement.all(parameters) as R[] });
    const { changes, lastInsertRowid } = statement.run(parameters);
    return Promise.resolve({
      numAffectedRows: BigInt(changes),
      insertId: BigInt(lastInsertRowid),
      rows: [],
    });
  }

  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const statement = this.connection.database.prepare(compiled.sql);
    for (const row of statement.iterate(compiled.parameters as unknown[])) yield { rows: [row as R] };
  }
}

/**
 * `owner`: the Kysely of a transaction's store, run while that transaction holds the connection (acquiring it
 * again would wait forever). Otherwise each query (or Kysely transaction, e.g. the migrations') waits its turn.
 */
class TwofoldSqliteDriver implements Driver {
  readonly #kyselyConnection: CachedStatementConnection;

  constructor(
    private readonly connection: SqliteConnection,
    private readonly owner: boolean,
  ) {
    this.#kyselyConnection = new CachedStatementConnection(connection);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    if (!this.owner) await this.connection.acquire();
    return this.#kyselyConnection;
  }

  async beginTransaction(): Promise<void> {
    // IMMEDIATE: the write lock from the start, so a transaction never fails on upgrading a read.
    this.connection.database.exec("BEGIN IMMEDIATE");
  }

  async commitTransaction(): Promise<void> {
    this.connection.database.exec("COMMIT");
  }

  async rollbackTransaction(): Promise<void> {
    this.connection.database.exec("ROLLBACK");
  }

  async releaseConnection(): Promise<void> {
    if (!this.owner) this.connection.release();
  }

  async destroy(): Promise<void> {
    if (!this.owner && this.connection.database.open) this.connection.database.close();
  }
}

export class TwofoldSqliteDialect extends SqliteDialect {
  constructor(
    private readonly connection: SqliteConnection,
    private readonly owner = false,
  ) {
    super({ database: connection.database });
  }

  override createDriver(): Driver {
    return new TwofoldSqliteDriver(this.connection, this.owner);
  }

  override createQueryCompiler(): SqliteQueryCompiler {
    return new SqliteQueryCompiler();
  }

  override createAdapter(): SqliteAdapter {
    return new SqliteAdapter();
  }

  override createIntrospector(db: ConstructorParameters<typeof SqliteIntrospector>[0]): SqliteIntrospector {
    return new SqliteIntrospector(db);
  }
}
