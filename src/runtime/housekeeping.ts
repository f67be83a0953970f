// Runs retention (L-2) on every serving node: at a jittered interval, one run at a time, failures logged and retried next time.
import { randomBelow } from "../core/crypto/index.ts";
import type { PruneReport } from "../core/use-cases/housekeeping.ts";
import { jitter } from "./jitter.ts";
import type { Logger } from "./logger.ts";

export interface HousekeepingSchedule {
  /** Stop the timer and wait for a run in progress to end. */
  stop(): Promise<void>;
}

export function startHousekeeping(options: {
  intervalSeconds: number;
  run: () => Promise<PruneReport>;
  logger: Logger;
}): HousekeepingSchedule {
  const intervalMs = options.intervalSeconds * 1000;
  const log = options.logger.child({ component: "housekeeping" });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(tick, ms);
    // A pending prune never keeps a process alive that has nothing else to do.
    timer.unref();
  };
  const tick = () => {
    running = options
      .run()
      .then((report) => {
        const deleted = Object.fromEntries(
          report.steps.filter((s) => s.deleted > 0).map((s) => [s.name, s.deleted]),
        );
        if (report.deleted > 0) log.info({ deleted }, "expired rows deleted");
        else log.debug("nothing expired to delete");
      })
      .catch((err: unknown) => log.warn({ err }, "housekeeping run failed; retrying at the next interval"))
      .finally(() => {
        running = undefined;
        // Nodes started together (a rolling deploy) drift apart instead of pruning in lockstep; running
        // together would still be correct (each delete is idempotent), only wasteful.
        schedule(jitter(intervalMs));
      });
  };
  // The first run comes within one interval of starting, not at once: a fleet restarting together spreads out.
  schedule(Math.max(1000, randomBelow(intervalMs + 1)));
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
