// Latency statistics the benches share: percentiles of a sorted sample.
export interface Latency {
  p50: number;
  p99: number;
}

/** The value below which `p` percent of a sorted sample lies (nearest rank, rounding down). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** p50 and p99 of an unsorted sample. */
export function summarize(latencies: readonly number[]): Latency {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}
