/** Hand-built LogQL syntax trees and small helpers shared by the metric evaluation tests. */
import type { SiltError } from '../../core/src/errors';
import type { Labels } from '../../core/src/labels';
import type { BinaryExpr, BinaryOp, Grouping, LabelMatcher, MetricExpr, RangeAggregationExpr, RangeOp, VectorAggregationExpr, VectorMatching, VectorOp } from '../../core/src/logql/ast';
import { StepGrid } from '../../core/src/logql/metric/grid';
import { RangeAggregator } from '../../core/src/logql/metric/range-agg';
import type { Matrix } from '../../core/src/logql/metric/series';

/** One second in nanoseconds. */
export const S = 1_000_000_000n;
/** A base time (whole hour, like the oracle's T0). */
export const T0 = 1_765_447_200n * S;

/** A range aggregation over `{app="a"}` (or the given matchers). */
export function rangeAgg(
  op: RangeOp,
  rangeNs: bigint,
  opts: { offsetNs?: bigint; unwrap?: boolean; param?: number; matchers?: LabelMatcher[]; grouping?: Grouping } = {},
): RangeAggregationExpr {
  return {
    kind: 'range_agg',
    op,
    range: {
      selector: { kind: 'log', matchers: opts.matchers ?? [{ name: 'app', op: '=', value: 'a' }], pipeline: [] },
      rangeNs,
      offsetNs: opts.offsetNs ?? 0n,
      unwrap: opts.unwrap === true ? { label: 'v', conversion: 'none', postFilters: [] } : null,
    },
    param: opts.param ?? null,
    grouping: opts.grouping ?? null,
  };
}

/** `op by (labels) (expr)` (or `without` when `without` is set). */
export function vecAgg(op: VectorOp, expr: MetricExpr, labels: string[] | null = null, opts: { without?: boolean; param?: number } = {}): VectorAggregationExpr {
  return { kind: 'vector_agg', op, grouping: labels === null ? null : { without: opts.without === true, labels }, param: opts.param ?? null, expr };
}

/** `left op right` with optional bool and matching. */
export function bin(op: BinaryOp, left: MetricExpr, right: MetricExpr, opts: { bool?: boolean; matching?: VectorMatching } = {}): BinaryExpr {
  return { kind: 'binary', op, bool: opts.bool === true, matching: opts.matching ?? null, left, right };
}

/** A number literal. */
export function lit(value: number): MetricExpr {
  return { kind: 'literal', value };
}

/** A sample: labels, time, value. */
export type Sample = [Labels, bigint, number];

/** Runs one aggregator over the samples and finishes it. */
export function runRange(expr: RangeAggregationExpr, grid: StepGrid, samples: readonly Sample[]): Matrix {
  const agg = new RangeAggregator(expr, grid);
  for (const [l, t, v] of samples) agg.add(l, t, v);
  return agg.finish();
}

/** A matrix as plain data: per series (sorted by key) its labels and [seconds after T0, value] points. */
export function plain(m: Matrix, grid: StepGrid): { labels: Labels; points: [number, number][] }[] {
  return m
    .map((s) => {
      const points: [number, number][] = [];
      for (let k = 0; k < grid.length; k++) if (s.present[k] === 1) points.push([Number(grid.times[k]! - T0) / 1e9, s.values[k]!]);
      return { labels: s.labels, points };
    })
    .sort((a, b) => (JSON.stringify(a.labels) < JSON.stringify(b.labels) ? -1 : 1));
}

/** A series given as [step index, value] pairs over a grid of `length` points. */
export function series(labels: Labels, length: number, points: [number, number][]): Matrix[number] {
  const values = new Float64Array(length);
  const present = new Uint8Array(length);
  for (const [k, v] of points) {
    values[k] = v;
    present[k] = 1;
  }
  return { labels, values, present };
}

/** A seeded pseudo-random generator (mulberry32) giving floats in [0, 1). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The code of the SiltError `f` throws (undefined when it throws none). */
export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as SiltError).code;
  }
  return undefined;
}
