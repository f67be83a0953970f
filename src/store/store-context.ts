// What every part of the store shares: the connection or transaction it runs on, and the one driver-error mapping.
import { CompiledQuery, type Kysely, type Transaction } from "kysely";
import { TwofoldError } from "../core/errors.ts";
import type { Store } from "../core/ports.ts";
import type { Dialect } from "./migrations.ts";
import type { GroupUndo, SqliteConnection } from "./sqlite-connection.ts";
import type { Database } from "./tables.ts";

export type DB = Kysely<Database> | Transaction<Database>;

/**
 * The state each aggregate's records work on. KyselyStore (kysely-store.ts) is the one concrete class: it opens
 * transactions, and its prototype carries the methods of every aggregate in ./aggregates/.
 */
export abstract class StoreContext {
  readonly dialect: Dialect;
  protected readonly db: DB;
  /** True for the store handed to a transaction callback: the statements of its methods join that transaction. */
  protected readonly inTransaction: boolean;
  /** SQLite: the process's one connection, for the hot statements (see hotRows). */
  protected readonly sqlite: SqliteConnection | undefined;

  constructor(db: DB, dialect: Dialect, inTransaction: boolean, sqlite?: SqliteConnection) {
    this.db = db;
    this.dialect = dialect;
    this.inTransaction = inTransaction;
    this.sqlite = sqlite;
  }

  /**
   * A hot statement's rows (a SELECT, or a write with RETURNING). On SQLite the statement is prepared once and run
   * at once on the connection (inside this store's transaction, or between transactions); on PostgreSQL it is a
   * named prepared statement of each pooled connection. No query builder runs.
   */
  protected hotRows<R>(q: HotStatement, params: readonly unknown[]): Promise<R[]> {
    const c = this.sqlite;
    if (c) {
      const statement = c.statement(q.sqlite);
      return guard(async () =>
        this.inTransaction ? (statement.all(...params) as R[]) : c.run(() => statement.all(...params) as R[]),
      );
    }
    return guard(
      async () => (await this.db.executeQuery<R>(CompiledQuery.raw(q.postgres, [...params]))).rows,
    );
  }

  /**
   * A hot write; returns the rows it changed. On SQLite a write outside a transaction joins the next group commit
   * (SqliteConnection.transaction) instead of committing alone.
   */
  protected hotChanges(q: HotStatement, params: readonly unknown[]): Promise<number> {
    const c = this.sqlite;
    if (c) {
      const statement = c.statement(q.sqlite);
      return guard(async () =>
        this.inTransaction
          ? statement.run(...params).changes
          : c.transaction(async () => statement.run(...params).changes, "statement"),
      );
    }
    return guard(async () =>
      Number((await this.db.executeQuery(CompiledQuery.raw(q.postgres, [...params]))).numAffectedRows ?? 0n),
    );
  }

  /**
   * A hot write with RETURNING: its rows. On SQLite, outside a transaction, it joins the next group commit like
   * hotChanges (hotRows would commit it on its own).
   */
  protected hotWriteRows<R>(q: HotStatement, params: readonly unknown[]): Promise<R[]> {
    const c = this.sqlite;
    if (!c || this.inTransaction) return this.hotRows<R>(q, params);
    const statement = c.statement(q.sqlite);
    return guard(() => c.transaction(async () => statement.all(...params) as R[], "statement"));
  }

  /** The underlying Kysely instance, for maintenance commands and tests. */
  get kysely(): DB {
    return this.db;
  }

  /**
   * `undo` (SQLite): how the transaction is undone if it fails, within its group commit (GroupUndo); a savepoint of
   * its own unless said otherwise. PostgreSQL rolls a failed transaction back alone in any case.
   */
  abstract transaction<T>(fn: (tx: Store) => Promise<T>, undo?: GroupUndo): Promise<T>;
}

/** A statement on the verification path, written by hand for both databases (`?` placeholders). */
export interface HotStatement {
  readonly sqlite: string;
  /** `$n` placeholders, and a leading comment naming the prepared statement (open-store.ts prepares it once). */
  readonly postgres: string;
}

/** The marker open-store.ts looks for: `/*prepared:NAME*\/ …` is sent as the named prepared statement NAME. */
export const PREPARED_MARKER = /^\/\*prepared:([a-z0-9_]+)\*\//;

/** `sqlite`: the SQLite text when it differs (an INDEXED BY the planner would not choose by itself). */
export function hot(name: string, text: string, sqlite: string = text): HotStatement {
  let n = 0;
  return { sqlite, postgres: `/*prepared:${name}*/ ${text.replace(/\?/g, () => `$${++n}`)}` };
}

/** The connection of the store a transaction callback received (always a KyselyStore, made by transaction()). */
export function connectionOf(tx: Store): DB {
  return (tx as unknown as StoreContext).kysely;
}

/**
 * Lost or refused connections, and the limits of database.*TimeoutSeconds: a statement cancelled after
 * statement_timeout (57014), a lock not granted within lock_timeout (55P03), a transaction ended after
 * idle_in_transaction_session_timeout (25P03).
 */
const UNAVAILABLE_CODES = [
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "57P01",
  "57P03",
  "08006",
  "08001",
  "57014",
  "55P03",
  "25P03",
  "SQLITE_BUSY",
];

/**
 * Map driver errors to Twofold errors: a unique-constraint violation becomes `conflictCode`, a lost
 * connection ERR_STORE_UNAVAILABLE, anything else ERR_STORE. Callers fail closed on all of them (N2).
 */
export async function guard<T>(
  fn: () => Promise<T>,
  conflictCode: "ERR_CONFLICT" | "ERR_USER_EXISTS" | "ERR_TOKEN_EXISTS" = "ERR_CONFLICT",
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof TwofoldError) throw error;
    const e = error as { code?: string; message?: string };
    const code = e.code ?? "";
    if (
      code === "23505" ||
      code.startsWith("SQLITE_CONSTRAINT_UNIQUE") ||
      code === "SQLITE_CONSTRAINT_PRIMARYKEY"
    ) {
      throw new TwofoldError(conflictCode, "a record with the same key already exists", {
        cause: error,
        detail: e.message,
      });
    }
    if (code === "23503" || code === "SQLITE_CONSTRAINT_FOREIGNKEY") {
      throw new TwofoldError("ERR_NOT_FOUND", "a referenced record does not exist", {
        cause: error,
        detail: e.message,
      });
    }
    if (
      UNAVAILABLE_CODES.includes(code) ||
      /Connection terminated|connection timeout|not connected|The database connection is not open|Query read timeout|timeout exceeded when trying to connect/i.test(
        e.message ?? "",
      )
    ) {
      throw new TwofoldError("ERR_STORE_UNAVAILABLE", "the database is unavailable", {
        cause: error,
        detail: e.message,
      });
    }
    throw new TwofoldError("ERR_STORE", "database operation failed", { cause: error, detail: e.message });
  }
}
