/**
 * Query (d), the metric query of issue 9: `sum by (app) (count_over_time({app=~".+"}[1m]))` as a
 * Loki range query over the whole data set, computed on the storage nodes (map) and merged in the
 * query service (reduce). The harness knows every entry's timestamp and stream (the load's virtual
 * clock and the corpus layout of bodies.ts), so each answer is checked point by point against the
 * counts it must hold.
 */
import type { Clock } from './bodies';
import { stampOf } from './bodies';

/** The aggregation the issue names. */
export const METRIC_QUERY = 'sum by (app) (count_over_time({app=~".+"}[1m]))';

const WINDOW_NS = 60_000_000_000n;
const SECOND_NS = 1_000_000_000n;
/** About this many steps over the data (the query has one more point than steps). */
const METRIC_STEPS = 120n;

/** What the harness knows of the stored data. */
export interface StoredData {
  clock: Clock;
  /** Entries 0 … entries − 1 of the load's global sequence are stored. */
  entries: number;
  /** The `app` of each corpus stream. */
  streams: string[];
  /** The stream (index into `streams`) of global entry `seq`. */
  streamOf(seq: number): number;
}

/** A range query over the data's step grid and the answer it must give. */
export interface MetricPlan {
  params: Record<string, string>;
  stepSeconds: number;
  points: number;
  /** Per app, the count each point must show (0: no point). */
  expected: Map<string, number[]>;
  /** Σ of every expected point: entries inside some window. */
  expectedTotal: number;
}

/** Floor division of bigints, rounding towards −∞ (BigInt division truncates towards 0). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/**
 * The step grid: whole seconds from the first entry (rounded up) to past the last, about
 * METRIC_STEPS steps, so every entry is read; with Loki's windows (t − 1m, t] the counts per (app,
 * point) follow from the clock alone.
 */
export function metricPlan(data: StoredData): MetricPlan {
  const firstTs = stampOf(data.clock, 0);
  const lastTs = stampOf(data.clock, data.entries - 1);
  const start = floorDiv(firstTs + SECOND_NS - 1n, SECOND_NS) * SECOND_NS;
  const spanS = floorDiv(lastTs - start, SECOND_NS) + 1n;
  const stepS = spanS > METRIC_STEPS ? floorDiv(spanS + METRIC_STEPS - 1n, METRIC_STEPS) : 1n;
  const stepNs = stepS * SECOND_NS;
  const steps = lastTs > start ? floorDiv(lastTs - start + stepNs - 1n, stepNs) : 0n;
  const end = start + steps * stepNs;
  const points = Number(steps) + 1;

  const spacing = BigInt(data.clock.stepUs) * 1000n;
  const expected = new Map<string, number[]>(data.streams.map((app) => [app, new Array<number>(points).fill(0)]));
  let expectedTotal = 0;
  for (let k = 0; k < points; k++) {
    const t = start + BigInt(k) * stepNs;
    // Entry g is at base + g·spacing; the window holds t − 1m < ts ≤ t.
    const lo = Math.max(0, Number(floorDiv(t - WINDOW_NS - firstTs, spacing)) + 1);
    const hi = Math.min(data.entries - 1, Number(floorDiv(t - firstTs, spacing)));
    for (let g = lo; g <= hi; g++) expected.get(data.streams[data.streamOf(g)]!)![k]!++;
    if (hi >= lo) expectedTotal += hi - lo + 1;
  }
  for (const [app, counts] of expected) if (counts.every((c) => c === 0)) expected.delete(app);
  return {
    params: { query: METRIC_QUERY, start: start.toString(), end: end.toString(), step: stepS.toString() },
    stepSeconds: Number(stepS),
    points,
    expected,
    expectedTotal,
  };
}

/** A matrix answer of Loki's query_range, as far as the check reads it. */
export interface MatrixAnswer {
  data: {
    resultType: string;
    result: { metric: Record<string, string>; values: [number, string][] }[];
    stats: { summary: { totalLinesProcessed: number } };
  };
}

/** Throws unless `answer` holds exactly the expected series and points; returns Σ of its values. */
export function checkMetricAnswer(plan: MetricPlan, answer: MatrixAnswer): number {
  const fail = (what: string): never => {
    throw new Error(`query (d) ${METRIC_QUERY}: ${what}`);
  };
  if (answer.data.resultType !== 'matrix') fail(`answered a ${answer.data.resultType}, not a matrix`);
  const startMs = Number(BigInt(plan.params.start!) / 1_000_000n);
  const stepMs = plan.stepSeconds * 1000;
  const seen = new Set<string>();
  let total = 0;
  for (const series of answer.data.result) {
    const names = Object.keys(series.metric);
    const app = series.metric.app;
    if (names.length !== 1 || app === undefined) fail(`a series labelled ${JSON.stringify(series.metric)}, not {app}`);
    const counts = plan.expected.get(app!) ?? fail(`a series for app="${app}", which has no entry in any window`);
    if (seen.has(app!)) fail(`two series for app="${app}"`);
    seen.add(app!);
    // Loki gives no point for a window without entries: 0 here means absent.
    const got = new Array<number>(plan.points).fill(0);
    for (const [t, v] of series.values) {
      const k = Math.round((t * 1000 - startMs) / stepMs);
      if (k < 0 || k >= plan.points || Math.abs(startMs + k * stepMs - t * 1000) > 0.5) fail(`app="${app}": a point at ${t}, off the step grid`);
      if (got[k] !== 0) fail(`app="${app}": two points at ${t}`);
      if (!(Number(v) > 0)) fail(`app="${app}": a point of "${v}" at ${t}`);
      got[k] = Number(v);
      total += Number(v);
    }
    const k = got.findIndex((c, i) => c !== counts[i]);
    if (k >= 0) fail(`app="${app}" at ${(startMs + k * stepMs) / 1000}: ${got[k]} where the window holds ${counts[k]} entries`);
  }
  const missing = [...plan.expected.keys()].filter((app) => !seen.has(app));
  if (missing.length > 0) fail(`no series for ${missing.map((a) => `app="${a}"`).join(', ')}`);
  return total;
}
