// `twofold db migrate`: applies pending database migrations, re-keys usernames for identity.stripDomains, and reports both.
import type { Command } from "../command.ts";
import { describeCollisions, printCollisions } from "./user.ts";

export const dbCommands: Command[] = [
  {
    path: ["db", "migrate"],
    summary: "apply pending database migrations and re-key usernames (serve also does this at start)",
    details:
      "Then recomputes every username's and alias's canonical key for identity.stripDomains. Names that\n" +
      "two users claim are left as they are and listed: they name nobody until all but one are deleted or\n" +
      "renamed (twofold user collisions).",
    async run(ctx) {
      const config = await ctx.config();
      const { database } = config;
      // Loaded here so that commands which never open the database directly start faster.
      const { openStore } = await import("../../store/open-store.ts");
      const { latestMigrationName, migrateToLatest } = await import("../../store/migrations.ts");
      const { reconcileUsernames } = await import("../../core/use-cases/username-reconciliation.ts");
      const { systemClock } = await import("../../runtime/system-clock.ts");
      // Opened without migrating, so the migrations applied now can be reported by name.
      const opened = await openStore({
        url: database.url,
        sqlitePath: database.sqlitePath,
        poolSize: database.poolSize,
        migrate: false,
        backgroundCheckpoints: false,
      });
      try {
        const { applied } = await migrateToLatest(opened.kysely, opened.dialect);
        const schemaVersion = latestMigrationName();
        const names = await reconcileUsernames({
          store: opened.store,
          clock: systemClock,
          stripDomains: config.identity.stripDomains,
        });
        const collisions = await describeCollisions(opened.store, names.collisions);
        const usernames = { checked: names.checked, changed: names.changed.length, collisions };
        ctx.out.data({ dialect: opened.dialect, applied, schemaVersion, usernames }, () => {
          if (applied.length === 0) ctx.out.line("the database is up to date");
          for (const name of applied) ctx.out.line(`applied ${name}`);
          ctx.out.line(`schema version: ${schemaVersion} (${opened.dialect})`);
          ctx.out.line(`usernames: ${names.checked} checked, ${names.changed.length} re-keyed`);
          printCollisions(ctx, collisions);
        });
      } finally {
        await opened.store.close();
      }
      return 0;
    },
  },
];
