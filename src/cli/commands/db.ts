// `twofold db migrate` (applies pending migrations, reports the schema version) and `twofold db prune` (retention, once).
import type { Command } from "../command.ts";
import { isoTime } from "../output.ts";

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
  {
    path: ["db", "prune"],
    summary: "delete expired rows once (serve does it every housekeeping.intervalSeconds)",
    details:
      "Deletes pushes, activation links, unconfirmed enrolments and signed-request replay records past their\n" +
      "retention (housekeeping.*), and authentication-log entries older than housekeeping.authLogRetentionDays,\n" +
      "in batches of housekeeping.batchSize rows. Safe while servers are running.",
    async run(ctx) {
      const runtime = await ctx.runtime();
      const report = await runtime.services.pruneExpiredRows();
      ctx.out.data(
        {
          deleted: report.deleted,
          steps: report.steps.map((s) => ({ ...s, cutoff: isoTime(s.cutoff) })),
        },
        () => {
          ctx.out.table(report.steps, [
            { header: "ROWS", value: (s) => s.name },
            { header: "DELETED", value: (s) => s.deleted },
            { header: "OLDER THAN", value: (s) => isoTime(s.cutoff) ?? "kept forever" },
          ]);
          ctx.out.line(`${report.deleted} expired rows deleted`);
        },
      );
      return 0;
    },
  },
];
