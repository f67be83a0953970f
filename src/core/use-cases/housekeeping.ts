// Retention (L-2): deletes what has outlived its use — expired pushes, activation links, enrolments, replay records, text codes, sent messages, old log entries and notifications.
import type { Deps } from "../deps.ts";
import type { Store } from "../ports.ts";
import { spendDayOf } from "../sms-guard-rules.ts";

/** How long each kind of row is kept (configuration `housekeeping.*`). */
export interface Retention {
  /** Rows per delete statement. */
  batchSize: number;
  /** Activation links, unconfirmed enrolments and replay records: kept this long after they expire. */
  graceSeconds: number;
  /** Pushes: kept this long after they expire (push-fatigue limits look back a day). */
  pushRetentionSeconds: number;
  /** Authentication-log entries: kept this many days; 0 keeps them forever. */
  authLogRetentionDays: number;
  /** Login-throttle counters: kept this long (twice the longest throttle window; the services fill it in). */
  throttleRetentionSeconds?: number;
  /** Finished outbox messages (sent, delivered, failed): kept this many days (`sms.outbox.retentionDays`). */
  outboxRetentionDays?: number;
  /** Records of single texts (sms.guard.sendRetentionDays; the services fill it in). */
  smsSendRetentionDays?: number;
  /** SMS day totals, refusal counts and ended stops (sms.guard.historyDays; the services fill it in). */
  smsHistoryDays?: number;
}

/**
 * One table's rule: rows at or before `cutoff` go, `limit` at a time. A new kind of expiring row (another
 * table) is one more step in the list given to `pruneExpiredRows`.
 */
export interface PruneStep {
  /** What is deleted, as the report names it. */
  name: string;
  /** The time up to which rows go, or null when this kind is kept forever. */
  cutoff(now: number, retention: Retention): number | null;
  prune(store: Store, before: number, limit: number): Promise<number>;
}

const SECOND = 1000;
const DAY = 86_400 * SECOND;

export const PRUNE_STEPS: readonly PruneStep[] = [
  {
    name: "pushes",
    cutoff: (now, r) => now - r.pushRetentionSeconds * SECOND,
    prune: (store, before, limit) => store.prunePushTransactions(before, limit),
  },
  {
    name: "device activations",
    cutoff: (now, r) => now - r.graceSeconds * SECOND,
    prune: (store, before, limit) => store.pruneDeviceActivations(before, limit),
  },
  {
    name: "unconfirmed enrolments",
    cutoff: (now, r) => now - r.graceSeconds * SECOND,
    prune: (store, before, limit) => store.prunePendingOTPCredentials(before, limit),
  },
  {
    // Used ceremonies are deleted when used; these are the ones never finished (F1).
    name: "WebAuthn ceremonies",
    cutoff: (now) => now,
    prune: (store, before, limit) => store.pruneWebAuthnCeremonies(before, limit),
  },
  {
    name: "replay records",
    cutoff: (now, r) => now - r.graceSeconds * SECOND,
    prune: (store, before, limit) => store.pruneSignedRequests(before, limit),
  },
  {
    // Users an integration enrolled through /auth/v2/enroll who never activated anything, and the records.
    name: "expired API enrolments",
    cutoff: (now) => now,
    prune: (store, before) => store.deleteExpiredAPIEnrollments(before),
  },
  {
    // Prompt logins: a session is over by its maximum lifetime; its code was good for a minute within it.
    name: "prompt logins",
    cutoff: (now, r) => now - r.graceSeconds * SECOND,
    prune: (store, before, limit) => store.pruneLoginSessions(before, limit),
  },
  {
    // Trusted browsers once expired or revoked: kept for the grace period so the user's list says what happened.
    name: "trusted browsers",
    cutoff: (now, r) => now - r.graceSeconds * SECOND,
    prune: (store, before, limit) => store.pruneTrustedBrowsers(before, limit),
  },
  {
    name: "login throttle counters",
    cutoff: (now, r) => now - (r.throttleRetentionSeconds ?? (2 * DAY) / SECOND) * SECOND,
    prune: (store, before, limit) => store.deleteThrottleCounts(before, limit),
  },
  {
    name: "text-message codes",
    cutoff: (now, r) => now - r.graceSeconds * SECOND,
    prune: (store, before, limit) => store.pruneSMSCodes(before, limit),
  },
  {
    // Messages still waiting are never pruned: the outbox is bounded by refusing new ones instead.
    name: "outbox messages",
    cutoff: (now, r) => now - (r.outboxRetentionDays ?? 30) * DAY,
    prune: (store, before, limit) => store.pruneOutboxMessages(before, limit),
  },
  {
    // Once-per-key marks (an operator alert per kind, key and hour): a day outlives every window they guard.
    name: "message marks",
    cutoff: (now) => now - DAY,
    prune: (store, before, limit) => store.pruneMessageMarks(before, limit),
  },
  {
    name: "SMS sends",
    cutoff: (now, r) => now - (r.smsSendRetentionDays ?? 8) * DAY,
    prune: (store, before, limit) => store.pruneSmsSends(before, limit),
  },
  {
    name: "SMS daily totals",
    cutoff: (now, r) => now - (r.smsHistoryDays ?? 400) * DAY,
    prune: (store, before, limit) => store.pruneSmsHistory(spendDayOf(before, 0), limit),
  },
  {
    name: "ended SMS stops",
    cutoff: (now, r) => now - (r.smsHistoryDays ?? 400) * DAY,
    prune: (store, before, limit) => store.pruneSmsStops(before, limit),
  },
  {
    name: "authentication log",
    cutoff: (now, r) => (r.authLogRetentionDays > 0 ? now - r.authLogRetentionDays * DAY : null),
    prune: (store, before, limit) => store.pruneAuthLog(before, limit),
  },
  {
    // A user's notifications (a factor added, a lockout, a clone suspected): kept as long as the log that
    // records the same events.
    name: "user notifications",
    cutoff: (now, r) => (r.authLogRetentionDays > 0 ? now - r.authLogRetentionDays * DAY : null),
    prune: (store, before, limit) => store.pruneNotifications(before, limit),
  },
];

export interface PruneReport {
  steps: Array<{ name: string; deleted: number; batches: number; cutoff: number | null }>;
  deleted: number;
}

/**
 * Run every step once, each in batches of `retention.batchSize` rows, one short statement each, so a large
 * backlog never holds a long lock. Several nodes may run this at the same time: a row deleted by one is simply
 * not found by the other. The cutoffs are fixed at the start, so rows expiring during a run wait for the next.
 */
export async function pruneExpiredRows(
  deps: Pick<Deps, "store" | "clock">,
  retention: Retention,
  steps: readonly PruneStep[] = PRUNE_STEPS,
): Promise<PruneReport> {
  const now = deps.clock.now();
  const report: PruneReport = { steps: [], deleted: 0 };
  for (const step of steps) {
    const cutoff = step.cutoff(now, retention);
    let deleted = 0;
    let batches = 0;
    if (cutoff !== null) {
      for (;;) {
        const n = await step.prune(deps.store, cutoff, retention.batchSize);
        batches++;
        deleted += n;
        if (n < retention.batchSize) break;
      }
    }
    report.steps.push({ name: step.name, deleted, batches, cutoff });
    report.deleted += deleted;
  }
  return report;
}
