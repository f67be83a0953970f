// `twofold db migrate`: applies pending database migrations and reports the schema version.
import type { Command } from "../command.ts";

export const dbCommands: Command[] = [
  {
    path: ["db", "migrate"],
    summary: "apply pending database migrations (serve also does this at start)",
    async run(ctx) {
      const { database } = await ctx.config();
      // Loaded here so that commands which never open the database directly start faster.
      const { openStore } = await import("../../store/open-store.ts");
      const { latestMigrationName, migrateToLatest } = await import("../../store/migrations.ts");
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
        ctx.out.data({ dialect: opened.dialect, applied, schemaVersion }, () => {
          if (applied.length === 0) ctx.out.line("the database is up to date");
          for (const name of applied) ctx.out.line(`applied ${name}`);
          ctx.out.line(`schema version: ${schemaVersion} (${opened.dialect})`);
        });
      } finally {
        await opened.store.close();
      }
      return 0;
    },
  },
];
