// Database upkeep run outside a server (`twofold db migrate`): pending migrations, then re-keyed usernames.
import type { Config } from "../config/schema.ts";
import { describeUsernameCollisions } from "../core/use-cases/directory.ts";
import { reconcileUsernames } from "../core/use-cases/username-reconciliation.ts";
import { latestMigrationName, migrateToLatest } from "../store/migrations.ts";
import { openStore } from "../store/open-store.ts";
import { systemClock } from "./system-clock.ts";

export interface MigrationReport {
  dialect: string;
  /** Migrations applied now, by name, oldest first. */
  applied: string[];
  schemaVersion: string;
  usernames: { checked: number; changed: number };
  /** Names two or more users claim after re-keying, with the users claiming each. */
  collisions: Awaited<ReturnType<typeof describeUsernameCollisions>>;
}

/**
 * Applies pending migrations and recomputes every username's and alias's key for identity.stripDomains (which
 * migrations cannot see). The database is opened without migrating, so what is applied now can be named.
 */
export async function migrateDatabase(config: Readonly<Config>): Promise<MigrationReport> {
  const { database } = config;
  const opened = await openStore({
    url: database.url,
    sqlitePath: database.sqlitePath,
    poolSize: database.poolSize,
    migrate: false,
    backgroundCheckpoints: false,
  });
  try {
    const { applied } = await migrateToLatest(opened.kysely, opened.dialect);
    const names = await reconcileUsernames({
      store: opened.store,
      clock: systemClock,
      stripDomains: config.identity.stripDomains,
    });
    return {
      dialect: opened.dialect,
      applied,
      schemaVersion: latestMigrationName(),
      usernames: { checked: names.checked, changed: names.changed.length },
      collisions: await describeUsernameCollisions({ store: opened.store }, names.collisions),
    };
  } finally {
    await opened.store.close();
  }
}
