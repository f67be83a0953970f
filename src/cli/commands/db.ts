// `twofold db migrate` (applies pending migrations, re-keys usernames for identity.stripDomains, reports both) and
// `twofold db prune` (retention, once).
import type { Command } from "../command.ts";
import { isoTime } from "../output.ts";
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
