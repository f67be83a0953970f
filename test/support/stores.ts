// Opens a fresh store on each database the suite runs against: SQLite (a temp file) and PostgreSQL (a fresh schema).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { randomHex } from "../../src/core/crypto/index.ts";
import type { KyselyStore } from "../../src/store/kysely-store.ts";
import { openStore } from "../../src/store/open-store.ts";

export type DialectName = "sqlite" | "postgres";

export const PG_URL = process.env["TWOFOLD_TEST_PG"] ?? "postgres://postgres@127.0.0.1:5432/test";
export const IN_CI = process.env["CI"] === "true";

export interface TestDatabase {
  dialect: DialectName;
  /** For SQLite: the file; for PostgreSQL: the URL. */
  location: string;
  /** PostgreSQL schema (undefined for SQLite). */
  schema: string | undefined;
  open(): Promise<KyselyStore>;
  drop(): Promise<void>;
}

let pgAvailable: Promise<boolean> | undefined;

/** Is PostgreSQL reachable? Under CI=true it must be: an unreachable server fails the run instead of skipping. */
export function postgresAvailable(): Promise<boolean> {
  pgAvailable ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch (error) {
      if (IN_CI)
        throw new Error(`PostgreSQL at ${PG_URL} is required under CI=true: ${(error as Error).message}`);
      console.error(
        `\n*** SKIPPING PostgreSQL tests: ${PG_URL} unreachable (${(error as Error).message}) ***\n`,
      );
      return false;
    }
  })();
  return pgAvailable;
}

export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "twofold-test-"));
    const file = join(dir, "twofold.db");
    return {
      dialect,
      location: file,
      schema: undefined,
      open: async () => (await openStore({ sqlitePath: file, backgroundCheckpoints: false })).store,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `t_${randomHex(6)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  return {
    dialect,
    location: PG_URL,
    schema,
    open: async () => (await openStore({ url: PG_URL, schema, poolSize: 20 })).store,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
    },
  };
}

/** The databases to run store-backed tests on: both, or SQLite alone when PostgreSQL is absent locally. */
export async function dialects(): Promise<DialectName[]> {
  return (await postgresAvailable()) ? ["sqlite", "postgres"] : ["sqlite"];
}
