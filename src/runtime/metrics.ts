// The metrics Twofold exposes, kept with prom-client (Prometheus text exposition format 0.0.4).
import type { Counter, Histogram, Registry } from "prom-client";
import type { PasscodeAttempt, PasscodeOutcome } from "../core/use-cases/verify-passcode.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Request durations from 5 ms to 10 s: passcode checks are fast, push waits are long. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type PromClient = typeof import("prom-client");

/**
 * The process's own metrics (`process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, heap, GC, …):
 * one registry per process, made on first use, since prom-client's collectors watch the process and are never
 * stopped (a second set would only duplicate them).
 */
let processRegistry: Registry | undefined;
function readProcessRegistry(prom: PromClient): Registry {
  if (!processRegistry) {
    processRegistry = new prom.Registry();
    prom.collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export interface TwofoldMetrics {
  readonly httpRequests: { inc(labels: { method: string; route: string; status: string }): void };
  readonly httpDuration: { observe(labels: { method: string; route: string }, seconds: number): void };
  readonly passcodeVerifications: { inc(labels: { result: string; factor: string }): void };
  /** The exposition text: this runtime's metrics and the process's. */
  render(): Promise<string>;
  close(): void;
}

interface Kept {
  registry: Registry;
  merged: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"method" | "route">;
  passcodeVerifications: Counter<"result" | "factor">;
}

function keep(prom: PromClient, version: string): Kept {
  const registry = new prom.Registry();
  const httpRequests = new prom.Counter({
    name: "http_requests_total",
    help: "HTTP responses sent, by method, route pattern and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const httpDuration = new prom.Histogram({
    name: "http_request_duration_seconds",
    help: "Time from request to response, by method and route pattern",
    labelNames: ["method", "route"] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const passcodeVerifications = new prom.Counter({
    name: "twofold_passcode_verifications_total",
    help: "Passcode checks, by result and factor",
    labelNames: ["result", "factor"] as const,
    registers: [registry],
  });
  new prom.Gauge({
    name: "twofold_build_info",
    help: "Always 1; the labels say which build is running",
    labelNames: ["version"] as const,
    registers: [registry],
  }).set({ version }, 1);
  const merged = prom.Registry.merge([registry, readProcessRegistry(prom)]);
  return { registry, merged, httpRequests, httpDuration, passcodeVerifications };
}

/**
 * prom-client is loaded on the first count or scrape (after the first request's answer), not while the server
 * starts: what is counted meanwhile is kept in order and applied once it has loaded, so no count is lost. The
 * process's own metrics are collected from then on.
 */
export function createMetrics(options: { version: string }): TwofoldMetrics {
  let kept: Kept | undefined;
  let loading: Promise<Kept> | undefined;
  let closed = false;
  const waiting: Array<(k: Kept) => void> = [];
  const load = () => {
    loading ??= import("prom-client").then((prom) => {
      kept = keep(prom, options.version);
      for (const apply of waiting.splice(0)) apply(kept);
      if (closed) kept.registry.clear();
      return kept;
    });
    return loading;
  };
  const count = (apply: (k: Kept) => void) => {
    if (kept) return apply(kept);
    waiting.push(apply);
    // A failed load (a broken install) shows at the scrape, which fails; counting never throws.
    load().catch(() => {});
  };
  return {
    httpRequests: { inc: (labels) => count((k) => k.httpRequests.inc(labels)) },
    httpDuration: { observe: (labels, seconds) => count((k) => k.httpDuration.observe(labels, seconds)) },
    passcodeVerifications: { inc: (labels) => count((k) => k.passcodeVerifications.inc(labels)) },
    render: async () => (await load()).merged.metrics(),
    close: () => {
      closed = true;
      kept?.registry.clear();
    },
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
