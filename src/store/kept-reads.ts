// SQLite: what one connection has read of a table, answered again without a read while nothing can have changed it.
//
// `PRAGMA data_version` changes whenever another connection commits anything (another process, a command-line
// change, a second node on the same file: https://sqlite.org/pragma.html#pragma_data_version); this connection's own
// writes to the table are counted by `changing`, before and after each write, so that a read that ran meanwhile (and
// may have seen the rows before it) is not kept either. Either change, and the next read goes to the table. Callers
// read inside a transaction from the table, and keep nothing from there.
import type { SqliteConnection } from "./sqlite-connection.ts";

const DATA_VERSION = "pragma data_version";

interface Kept<V> {
  generation: number;
  entries: Map<string, { value: V; version: unknown; generation: number }>;
}

export class KeptReads<V> {
  readonly #by = new WeakMap<SqliteConnection, Kept<V>>();
  readonly #limit: number;

  /** At most `limit` entries per connection (all are dropped when more would be kept). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  #of(c: SqliteConnection): Kept<V> {
    let kept = this.#by.get(c);
    if (!kept) {
      kept = { generation: 0, entries: new Map() };
      this.#by.set(c, kept);
    }
    return kept;
  }

  /**
   * The value kept under `key` if nothing changed since it was read and `usable` takes it; else `load`'s, kept (an
   * undefined one is not).
   */
  async read(
    c: SqliteConnection,
    key: string,
    load: () => Promise<V | undefined>,
    usable: (value: V) => boolean = () => true,
  ): Promise<V | undefined> {
    const kept = this.#of(c);
    // Both taken before the read: a change that lands meanwhile makes the next read go to the table again.
    const version = (c.statement(DATA_VERSION).get() as { data_version: unknown }).data_version;
    const generation = kept.generation;
    const hit = kept.entries.get(key);
    if (hit && hit.version === version && hit.generation === generation && usable(hit.value))
      return hit.value;
    const value = await load();
    if (value === undefined) kept.entries.delete(key);
    else {
      if (kept.entries.size >= this.#limit) kept.entries.clear();
      kept.entries.set(key, { value, version, generation });
    }
    return value;
  }

  /** A write to the table on this connection (none on PostgreSQL: `c` undefined): what was kept is read again. */
  async changing<T>(c: SqliteConnection | undefined, write: () => Promise<T>): Promise<T> {
    const kept = c && this.#of(c);
    if (kept) kept.generation++;
    try {
      return await write();
    } finally {
      if (kept) kept.generation++;
    }
  }
}
