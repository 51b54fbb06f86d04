/**
 * Evaluation of a metric query once its range aggregations are computed: vector aggregations,
 * binary operators, `vector()`, literals and `label_replace` over the step grid, and the result
 * in Loki's shapes. An instant query answers a vector, or a scalar when the expression is only
 * literals; a range query answers a matrix (a scalar or `vector(n)` becomes one series without
 * labels at every step). Series are sorted by labels (Prometheus's order), except that an instant
 * query containing `sort`/`sort_desc` keeps the order the operators produced, as Loki does.
 *
 * `rangeAggregationNodes` lists what the engine must compute first: every range aggregation with
 * the samples it needs, and the aggregation its sample extractor may be compiled from (with the
 * grouping of an enclosing `sum` pushed down where Loki pushes it, which cuts the series count at
 * the source without changing the answer).
 */
import { BadRequestError } from '../../errors';
import { labelsKey, type Labels } from '../../labels';
import type { MetricExpr, RangeAggregationExpr, RangeOp, VectorAggregationExpr } from '../ast';
import { scalarBinary, vectorBinary, vectorScalarBinary } from './binary';
import type { StepGrid } from './grid';
import { labelReplace } from './label-replace';
import { sortByLabels, type GridSeries, type Matrix } from './series';
import { aggregateVector } from './vector-agg';

/** One series of a matrix result: its points at the evaluation times where it has a value. */
export interface MatrixSeries {
  labels: Labels;
  points: [tsNs: bigint, value: number][];
}

/** One sample of a vector result. */
export interface VectorSample {
  labels: Labels;
  value: number;
}

/** A metric query's answer. */
export type Result =
  | { type: 'matrix'; series: MatrixSeries[] }
  | { type: 'vector'; tsNs: bigint; samples: VectorSample[] }
  | { type: 'scalar'; tsNs: bigint; value: number };

/** A range aggregation the engine must compute, and the samples it needs. */
export interface RangeNode {
  /** The node as it stands in the expression (what `rangeResults` is asked for). */
  node: RangeAggregationExpr;
  /** The aggregation to compile the sample extractor from: `node`, or a copy carrying the grouping of an enclosing `sum`. */
  extract: RangeAggregationExpr;
  /** Samples with `fromNs < ts ≤ toNs` can fall in a window; the others cannot. */
  fromNs: bigint;
  toNs: bigint;
}

/** Range aggregations whose result a `sum` may group at the source (Loki's canInjectVectorGrouping). */
const PUSHDOWN_OPS: ReadonlySet<RangeOp> = new Set<RangeOp>(['bytes_over_time', 'bytes_rate', 'sum_over_time', 'rate', 'count_over_time']);

/** What an expression evaluates to before it becomes a result. */
type Value = { kind: 'scalar'; value: number } | { kind: 'vector'; series: Matrix };

/** The range aggregations of an expression, left to right, with their sample spans over the grid. */
export function rangeAggregationNodes(expr: MetricExpr, grid: StepGrid): RangeNode[] {
  const out: RangeNode[] = [];
  const last = grid.times[grid.length - 1] ?? grid.startNs;
  const walk = (e: MetricExpr, parent: VectorAggregationExpr | null): void => {
    switch (e.kind) {
      case 'range_agg': {
        const { rangeNs, offsetNs } = e.range;
        const push = parent !== null && parent.op === 'sum' && e.grouping === null && PUSHDOWN_OPS.has(e.op);
        const extract = push ? { ...e, grouping: parent.grouping ?? { without: false, labels: [] } } : e;
        out.push({ node: e, extract, fromNs: grid.startNs - offsetNs - rangeNs, toNs: last - offsetNs });
        return;
      }
      case 'vector_agg':
        return walk(e.expr, e);
      case 'binary':
        walk(e.left, null);
        return walk(e.right, null);
      case 'label_replace':
        return walk(e.expr, null);
      case 'literal':
      case 'vector':
        return;
    }
  };
  walk(expr, null);
  return out;
}

/** True when the expression contains sort or sort_desc (Loki's `Sortable`). */
function sortable(e: MetricExpr): boolean {
  switch (e.kind) {
    case 'vector_agg':
      return e.op === 'sort' || e.op === 'sort_desc' || sortable(e.expr);
    case 'binary':
      return sortable(e.left) || sortable(e.right);
    case 'label_replace':
      return sortable(e.expr);
    default:
      return false;
  }
}

/** A vector operand, or a 400 for a scalar where Loki has no evaluator for one (`sum(1)`). */
function vectorOf(v: Value, where: string): Matrix {
  if (v.kind === 'vector') return v.series;
  throw new BadRequestError('SILT_BAD_QUERY', `unexpected expression type (literal) for ${where}`);
}

function evaluate(e: MetricExpr, grid: StepGrid, rangeResults: (node: RangeAggregationExpr) => Matrix): Value {
  const n = grid.length;
  switch (e.kind) {
    case 'literal':
      return { kind: 'scalar', value: e.value };
    case 'vector':
      return { kind: 'vector', series: [{ labels: {}, values: new Float64Array(n).fill(e.value), present: new Uint8Array(n).fill(1) }] };
    case 'range_agg':
      return { kind: 'vector', series: rangeResults(e) };
    case 'vector_agg':
      return { kind: 'vector', series: aggregateVector(e, vectorOf(evaluate(e.expr, grid, rangeResults), e.op), n) };
    case 'label_replace':
      return { kind: 'vector', series: labelReplace(e, vectorOf(evaluate(e.expr, grid, rangeResults), 'label_replace')) };
    case 'binary': {
      const l = evaluate(e.left, grid, rangeResults);
      const r = evaluate(e.right, grid, rangeResults);
      if (l.kind === 'scalar' && r.kind === 'scalar') return { kind: 'scalar', value: scalarBinary(e.op, l.value, r.value) };
      if (l.kind === 'scalar') return { kind: 'vector', series: vectorScalarBinary(e.op, e.bool, vectorOf(r, e.op), l.value, true) };
      if (r.kind === 'scalar') return { kind: 'vector', series: vectorScalarBinary(e.op, e.bool, l.series, r.value, false) };
      return { kind: 'vector', series: vectorBinary(e, l.series, r.series, n) };
    }
  }
}

/** A matrix result: series with equal labels joined (Loki appends their points to one series), sorted by labels. */
function toMatrix(series: Matrix, grid: StepGrid): MatrixSeries[] {
  const byKey = new Map<string, GridSeries[]>();
  for (const s of series) {
    const key = labelsKey(s.labels);
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [s]);
    else list.push(s);
  }
  const out: MatrixSeries[] = [];
  for (const list of byKey.values()) {
    const points: [bigint, number][] = [];
    for (let k = 0; k < grid.length; k++) for (const s of list) if (s.present[k] === 1) points.push([grid.times[k]!, s.values[k]!]);
    if (points.length > 0) out.push({ labels: list[0]!.labels, points });
  }
  return sortByLabels(out, (s) => s.labels);
}

/**
 * Evaluates a metric query over the grid, given the result of each of its range aggregations
 * (`rangeResults(node)`, from RangeAggregator.finish()).
 */
export function evaluateMetric(expr: MetricExpr, grid: StepGrid, rangeResults: (node: RangeAggregationExpr) => Matrix): Result {
  const v = evaluate(expr, grid, rangeResults);
  if (v.kind === 'scalar') {
    if (grid.instant) return { type: 'scalar', tsNs: grid.startNs, value: v.value };
    return { type: 'matrix', series: [{ labels: {}, points: grid.times.map((t) => [t, v.value]) }] };
  }
  if (!grid.instant) return { type: 'matrix', series: toMatrix(v.series, grid) };
  const samples = v.series.filter((s) => s.present[0] === 1).map((s) => ({ labels: s.labels, value: s.values[0]! }));
  return { type: 'vector', tsNs: grid.startNs, samples: sortable(expr) ? samples : sortByLabels(samples, (s) => s.labels) };
}
