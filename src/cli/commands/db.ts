// `twofold db migrate` (applies pending migrations, re-keys usernames for identity.stripDomains, reports both) and
// `twofold db prune` (retention, once).
import type { Command } from "../command.ts";
import { isoTime } from "../output.ts";
import { printCollisions, viewCollisions } from "./user.ts";

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
      // Loaded here so that commands which never open the database directly start faster.
      const { migrateDatabase } = await import("../../runtime/maintenance.ts");
      const report = await migrateDatabase(config);
      const { dialect, applied, schemaVersion } = report;
      const collisions = viewCollisions(report.collisions);
      const usernames = { ...report.usernames, collisions };
      ctx.out.data({ dialect, applied, schemaVersion, usernames }, () => {
        if (applied.length === 0) ctx.out.line("the database is up to date");
        for (const name of applied) ctx.out.line(`applied ${name}`);
        ctx.out.line(`schema version: ${schemaVersion} (${dialect})`);
        ctx.out.line(`usernames: ${usernames.checked} checked, ${usernames.changed} re-keyed`);
        printCollisions(ctx, collisions);
      });
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
