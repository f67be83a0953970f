// The one scheduler of a serving node: periodic jobs (retention L-2, the outbox, token-loan reminders), each at a jittered interval, one run of a job at a time, failures logged and retried next time.
import { randomBelow } from "../core/crypto/index.ts";
import type { PruneReport } from "../core/use-cases/housekeeping.ts";
import type { OutboxRun } from "../core/use-cases/outbox.ts";
import { jitter } from "./jitter.ts";
import type { Logger } from "./logger.ts";
import type { ServiceRuntime } from "./runtime.ts";

/** A periodic job. Runs of one job never overlap; different jobs run independently. */
export interface ScheduledJob {
  /** Names the job in log lines. */
  name: string;
  intervalMs: number;
  /**
   * When the first run comes: `spread` (somewhere within one interval, so a fleet restarting together spreads
   * out) or `interval` (one jittered interval after starting).
   */
  firstRun: "spread" | "interval";
  run(): Promise<void>;
}

export interface HousekeepingSchedule {
  /** Stop every timer and wait for the runs in progress to end. */
  stop(): Promise<void>;
}

/** Start the jobs; every node runs them (each job's work is safe to overlap across nodes: conditional writes). */
export function startScheduler(jobs: readonly ScheduledJob[], logger: Logger): HousekeepingSchedule {
  const log = logger.child({ component: "housekeeping" });
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Map<string, Promise<void>>();
  let stopped = false;
  const schedule = (job: ScheduledJob, ms: number) => {
    if (stopped) return;
    const timer = setTimeout(() => tick(job), ms);
    // A pending job never keeps a process alive that has nothing else to do.
    timer.unref();
    timers.set(job.name, timer);
  };
  const tick = (job: ScheduledJob) => {
    const run = job
      .run()
      .catch((err: unknown) =>
        log.warn({ err, job: job.name }, `${job.name} failed; retrying at the next interval`),
      )
      .finally(() => {
        running.delete(job.name);
        // Nodes started together (a rolling deploy) drift apart instead of running in lockstep.
        schedule(job, jitter(job.intervalMs));
      });
    running.set(job.name, run);
  };
  for (const job of jobs)
    schedule(
      job,
      job.firstRun === "spread" ? Math.max(1000, randomBelow(job.intervalMs + 1)) : jitter(job.intervalMs),
    );
  return {
    async stop() {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      await Promise.all(running.values());
    },
  };
}

/** The retention job (L-2): deletes expired rows and logs what it deleted. */
export function pruneJob(options: {
  intervalSeconds: number;
  run: () => Promise<PruneReport>;
  logger: Logger;
}): ScheduledJob {
  const log = options.logger.child({ component: "housekeeping" });
  return {
    name: "prune",
    intervalMs: options.intervalSeconds * 1000,
    firstRun: "spread",
    run: async () => {
      const report = await options.run();
      const deleted = Object.fromEntries(
        report.steps.filter((s) => s.deleted > 0).map((s) => [s.name, s.deleted]),
      );
      if (report.deleted > 0) log.info({ deleted }, "expired rows deleted");
      else log.debug("nothing expired to delete");
    },
  };
}

/** Retention alone on the scheduler (`twofold db prune` runs it once instead). */
export function startHousekeeping(options: {
  intervalSeconds: number;
  run: () => Promise<PruneReport>;
  logger: Logger;
}): HousekeepingSchedule {
  return startScheduler([pruneJob(options)], options.logger);
}

/**
 * The outbox as a job: every serving node looks for due messages (first sends, retries, abandoned leases) at a
 * jittered interval; each message is claimed by one of them.
 */
export function outboxJob(options: {
  pollSeconds: number;
  run: () => Promise<OutboxRun>;
  logger: Logger;
}): ScheduledJob {
  const log = options.logger.child({ component: "outbox" });
  return {
    name: "outbox",
    intervalMs: options.pollSeconds * 1000,
    firstRun: "interval",
    run: async () => {
      const r = await options.run();
      if (r.attempted > 0 || r.abandoned > 0) log.debug(r, "outbox pass");
    },
  };
}

/** What a serving node runs on its scheduler, from its configuration. */
export function serverJobs(runtime: ServiceRuntime): ScheduledJob[] {
  const { housekeeping } = runtime.config;
  const jobs: ScheduledJob[] = [];
  const log = runtime.logger.child({ component: "housekeeping" });
  if (housekeeping.enabled)
    jobs.push(
      pruneJob({
        intervalSeconds: housekeeping.intervalSeconds,
        run: () => runtime.services.pruneExpiredRows(),
        logger: runtime.logger,
      }),
    );
  if (housekeeping.enabled)
    jobs.push({
      name: "token-loan reminders",
      intervalMs: housekeeping.intervalSeconds * 1000,
      firstRun: "spread",
      run: async () => {
        const sent = await runtime.services.sendTokenLoanReminders();
        if (sent.due + sent.overdue > 0) log.info(sent, "token-loan reminders queued");
      },
    });
  if (runtime.messagingEnabled)
    jobs.push(
      outboxJob({
        pollSeconds: runtime.config.sms.outbox.pollSeconds,
        run: () => runtime.services.runOutbox(),
        logger: runtime.logger,
      }),
    );
  return jobs;
}
