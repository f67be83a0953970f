// Operator alerts: each one a warning line in the log, and handed to whatever subscribed (e-mail to operators).
import type { OperatorAlert, OperatorAlerts } from "../core/ports.ts";
import type { Logger } from "./logger.ts";

export type AlertListener = (alert: OperatorAlert) => void;

/** The alert hub of one process: the core raises, the log always hears, subscribers (mail) may. */
export class OperatorAlertHub implements OperatorAlerts {
  readonly #log: Logger;
  readonly #listeners = new Set<AlertListener>();

  constructor(log: Logger) {
    this.#log = log;
  }

  raise(alert: OperatorAlert): void {
    this.#log.warn({ alert: alert.kind, ...alert.details }, alert.message);
    for (const listener of this.#listeners) {
      try {
        listener(alert);
      } catch (err) {
        // A failing subscriber must not undo the decision that raised the alert; the log line above stands.
        this.#log.error({ err, alert: alert.kind }, "an operator-alert subscriber failed");
      }
    }
  }

  /** Hear every alert from now on; returns the unsubscribe. */
  subscribe(listener: AlertListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
