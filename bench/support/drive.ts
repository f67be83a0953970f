// A closed loop the benches share: a number of workers call one operation until the time is up, each call timed.
import { percentile } from "./stats.ts";

export interface DriveResult {
  scenario: string;
  ops: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
}

/**
 * Run `op` from `concurrency` workers for `seconds`; `op(i)` gets a global sequence number and says whether its
 * result was the one expected. Any unexpected result fails the scenario (after the time is up).
 */
export async function drive(
  scenario: string,
  options: { seconds: number; concurrency: number },
  op: (i: number) => Promise<boolean>,
): Promise<DriveResult> {
  const latencies: number[] = [];
  let next = 0;
  let unexpected = 0;
  const start = performance.now();
  const deadline = start + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline) {
        const i = next++;
        const t0 = performance.now();
        if (!(await op(i))) unexpected++;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  if (unexpected > 0) throw new Error(`${scenario}: ${unexpected} operations gave an unexpected result`);
  latencies.sort((a, b) => a - b);
  return {
    scenario,
    ops: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
  };
}
