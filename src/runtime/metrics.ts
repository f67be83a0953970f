// A small Prometheus metrics registry (text exposition format 0.0.4) and the metrics Twofold exposes.
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { PasscodeAttempt, PasscodeOutcome } from "../core/use-cases/verify-passcode.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type Labels = Readonly<Record<string, string>>;
type Sample = { suffix: string; labels: [string, string][]; value: number };

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  samples(): Sample[];
}

/** Label values in a fixed order; missing labels are empty, unknown ones a programming error. */
function labelValues(names: readonly string[], labels: Labels): string[] {
  for (const key of Object.keys(labels)) {
    if (!names.includes(key)) throw new Error(`unknown label ${key}`);
  }
  return names.map((n) => String(labels[n] ?? ""));
}

function zip(names: readonly string[], values: readonly string[]): [string, string][] {
  return names.map((n, i) => [n, values[i] ?? ""]);
}

function checkNames(name: string, labelNames: readonly string[]): void {
  if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
  for (const l of labelNames) {
    if (!LABEL_NAME.test(l) || l.startsWith("__") || l === "le") throw new Error(`invalid label name ${l}`);
  }
}

export class Counter implements Metric {
  readonly type = "counter";
  readonly #values = new Map<string, { labels: string[]; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {
    checkNames(name, labelNames);
  }

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error("a counter only goes up");
    const values = labelValues(this.labelNames, labels);
    const key = values.join("\u0000");
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels: values, value: by });
  }

  get(labels: Labels = {}): number {
    return this.#values.get(labelValues(this.labelNames, labels).join("\u0000"))?.value ?? 0;
  }

  samples(): Sample[] {
    return [...this.#values.values()].map((e) => ({
      suffix: "",
      labels: zip(this.labelNames, e.labels),
      value: e.value,
    }));
  }
}

/** A gauge whose value is read when scraped. */
export class Gauge implements Metric {
  readonly type = "gauge";

  constructor(
    readonly name: string,
    readonly help: string,
    readonly collect: () => number | { labels: Labels; value: number }[],
  ) {
    checkNames(name, []);
  }

  samples(): Sample[] {
    const v = this.collect();
    if (typeof v === "number") return [{ suffix: "", labels: [], value: v }];
    return v.map((s) => ({
      suffix: "",
      labels: Object.entries(s.labels).map(([k, val]) => {
        checkNames(this.name, [k]);
        return [k, val];
      }),
      value: s.value,
    }));
  }
}

export class Histogram implements Metric {
  readonly type = "histogram";
  readonly #series = new Map<string, { labels: string[]; counts: number[]; sum: number; count: number }>();
  readonly buckets: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    checkNames(name, labelNames);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels, value: number): void {
    const values = labelValues(this.labelNames, labels);
    const key = values.join("\u0000");
    let s = this.#series.get(key);
    if (!s) {
      s = { labels: values, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  samples(): Sample[] {
    const out: Sample[] = [];
    for (const s of this.#series.values()) {
      const base = zip(this.labelNames, s.labels);
      this.buckets.forEach((le, i) => {
        out.push({ suffix: "_bucket", labels: [...base, ["le", formatNumber(le)]], value: s.counts[i]! });
      });
      out.push({ suffix: "_bucket", labels: [...base, ["le", "+Inf"]], value: s.count });
      out.push({ suffix: "_sum", labels: base, value: s.sum });
      out.push({ suffix: "_count", labels: base, value: s.count });
    }
    return out;
  }
}

export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();

  register<M extends Metric>(metric: M): M {
    if (this.#metrics.has(metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** The exposition text (Prometheus "text format 0.0.4"). */
  render(): string {
    const lines: string[] = [];
    for (const m of this.#metrics.values()) {
      lines.push(`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`);
      for (const s of m.samples()) {
        const labels = s.labels.length
          ? `{${s.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`
          : "";
        lines.push(`${m.name}${s.suffix}${labels} ${formatNumber(s.value)}`);
      }
    }
    return `${lines.join("\n")}\n`;
  }
}

/** Label values escape backslash, double quote and line feed (exposition format spec). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(n);
}

/** The version in package.json, read once. */
let cachedVersion: string | undefined;
export function readPackageVersion(): string {
  cachedVersion ??= (
    JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
  ).version;
  return cachedVersion;
}

/** Request durations from 5 ms to 10 s: passcode checks are fast, push waits are long. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface TwofoldMetrics {
  readonly registry: MetricsRegistry;
  readonly httpRequests: Counter;
  readonly httpDuration: Histogram;
  readonly passcodeVerifications: Counter;
  render(): string;
  /** Stop the event-loop sampler. */
  close(): void;
}

export function createMetrics(options: { version: string }): TwofoldMetrics {
  const registry = new MetricsRegistry();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();

  const httpRequests = registry.register(
    new Counter("http_requests_total", "HTTP responses sent, by method, route pattern and status", [
      "method",
      "route",
      "status",
    ]),
  );
  const httpDuration = registry.register(
    new Histogram(
      "http_request_duration_seconds",
      "Time from request to response, by method and route pattern",
      ["method", "route"],
      DURATION_BUCKETS,
    ),
  );
  const passcodeVerifications = registry.register(
    new Counter("twofold_passcode_verifications_total", "Passcode checks, by result and factor", [
      "result",
      "factor",
    ]),
  );
  registry.register(
    new Gauge("process_resident_memory_bytes", "Resident memory size in bytes", () =>
      process.memoryUsage.rss(),
    ),
  );
  registry.register(
    new Gauge("nodejs_eventloop_lag_seconds", "Mean event-loop delay since the previous scrape", () => {
      const mean = loop.mean;
      loop.reset();
      return Number.isFinite(mean) ? mean / 1e9 : 0;
    }),
  );
  registry.register(
    new Gauge("twofold_build_info", "Always 1; the labels say which build is running", () => [
      { labels: { version: options.version }, value: 1 },
    ]),
  );

  return {
    registry,
    httpRequests,
    httpDuration,
    passcodeVerifications,
    render: () => registry.render(),
    close: () => loop.disable(),
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
