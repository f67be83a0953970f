// Counts every SQLite statement this process runs through better-sqlite3 (a prepared statement's run/get/all/iterate,
// and Database#exec), and the commits among them: an explicit COMMIT, or a write outside a transaction (it commits
// on its own). `each`, when given, is told each statement's text and how long it ran.
import BetterSqlite3 from "better-sqlite3";

export interface SqliteCounts {
  statements: number;
  commits: number;
}

const COMMIT = /^\s*(commit|end)\b/i;
const NOT_A_WRITE = /^\s*(begin|savepoint|release|rollback|pragma)\b/i;

export function countSqliteStatements(each?: (source: string, ms: number) => void): SqliteCounts {
  const counts: SqliteCounts = { statements: 0, commits: 0 };
  const timed = <T>(source: string, run: () => T): T => {
    if (!each) return run();
    const t0 = performance.now();
    try {
      return run();
    } finally {
      each(source, performance.now() - t0);
    }
  };
  const probe = new BetterSqlite3(":memory:");
  const statementProto = Object.getPrototypeOf(probe.prepare("select 1")) as Record<string, unknown>;
  probe.close();
  // What each statement is, decided once per prepared statement: the counter is charged to the measured process.
  const kinds = new WeakMap<object, "commit" | "write" | "other">();
  const kindOf = (s: { source: string; reader: boolean }) => {
    let kind = kinds.get(s);
    if (!kind) {
      kind = COMMIT.test(s.source) ? "commit" : !s.reader && !NOT_A_WRITE.test(s.source) ? "write" : "other";
      kinds.set(s, kind);
    }
    return kind;
  };
  for (const name of ["run", "get", "all", "iterate"]) {
    const original = statementProto[name] as (...a: unknown[]) => unknown;
    statementProto[name] = function (
      this: { source: string; reader: boolean; database: { inTransaction: boolean } },
      ...a: unknown[]
    ) {
      counts.statements++;
      const kind = kindOf(this);
      if (kind === "commit" || (kind === "write" && !this.database.inTransaction)) counts.commits++;
      if (!each) return original.apply(this, a);
      return timed(this.source, () => original.apply(this, a));
    };
  }
  const databaseProto = BetterSqlite3.prototype as unknown as Record<string, unknown>;
  const exec = databaseProto["exec"] as (s: string) => unknown;
  databaseProto["exec"] = function (this: unknown, source: string) {
    counts.statements++;
    if (COMMIT.test(source)) counts.commits++;
    return timed(source, () => exec.call(this, source));
  };
  return counts;
}
