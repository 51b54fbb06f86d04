/** Small statistics helpers for latency samples. */

/** The p-th percentile (0–100) of `samples` by nearest rank; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** p50, p99 and max of a set of samples, plus how many there were. */
export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** Summarises latency samples (any unit). */
export function summarize(samples: readonly number[]): Summary {
  return { n: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples.reduce((m, v) => Math.max(m, v), samples.length ? -Infinity : NaN) };
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes of one machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
