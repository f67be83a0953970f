// The metrics Twofold exposes, kept with prom-client (Prometheus text exposition format 0.0.4).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { PasscodeAttempt, PasscodeOutcome } from "../core/use-cases/verify-passcode.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Request durations from 5 ms to 10 s: passcode checks are fast, push waits are long. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The process's own metrics (`process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, heap, GC, …):
 * one registry per process, made on first use, since prom-client's collectors watch the process and are never
 * stopped (a second set would only duplicate them).
 */
let processRegistry: Registry | undefined;
function readProcessRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export interface TwofoldMetrics {
  /** This runtime's own metrics (requests, passcode checks, build). */
  readonly registry: Registry;
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route">;
  readonly passcodeVerifications: Counter<"result" | "factor">;
  /** The exposition text: this runtime's metrics and the process's. */
  render(): Promise<string>;
  close(): void;
}

export function createMetrics(options: { version: string }): TwofoldMetrics {
  const registry = new Registry();
  const httpRequests = new Counter({
    name: "http_requests_total",
    help: "HTTP responses sent, by method, route pattern and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time from request to response, by method and route pattern",
    labelNames: ["method", "route"] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const passcodeVerifications = new Counter({
    name: "twofold_passcode_verifications_total",
    help: "Passcode checks, by result and factor",
    labelNames: ["result", "factor"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "twofold_build_info",
    help: "Always 1; the labels say which build is running",
    labelNames: ["version"] as const,
    registers: [registry],
  }).set({ version: options.version }, 1);
  const merged = Registry.merge([registry, readProcessRegistry()]);

  return {
    registry,
    httpRequests,
    httpDuration,
    passcodeVerifications,
    render: () => merged.metrics(),
    close: () => registry.clear(),
  };
}

/**
 * Count every passcode verification, whichever interface asked (HTTP, RADIUS, CLI). A thrown error is
 * counted as result "error", then rethrown.
 */
export function countPasscodeVerifications(
  verify: (attempt: PasscodeAttempt) => Promise<PasscodeOutcome>,
  metrics: Pick<TwofoldMetrics, "passcodeVerifications">,
): (attempt: PasscodeAttempt) => Promise<PasscodeOutcome> {
  return async (attempt) => {
    try {
      const outcome = await verify(attempt);
      metrics.passcodeVerifications.inc({ result: outcome.result, factor: outcome.factor });
      return outcome;
    } catch (error) {
      metrics.passcodeVerifications.inc({ result: "error", factor: "none" });
      throw error;
    }
  };
}
