/**
 * Metric queries as map-reduce: each range aggregation of the expression is computed over the
 * step grid by the storage nodes (map: partials per series and segment of the partitions each
 * holds), in parallel; the query service merges the partials, finishes the windows (reduce) and
 * evaluates the expression on the results (vector aggregations, binary operators, …).
 */
import type { MetricExpr, RangeAggregationExpr } from '../../../core/src/logql/ast';
import { evaluateMetric, rangeAggregationNodes, type RangeNode, type Result } from '../../../core/src/logql/metric/evaluate';
import type { StepGrid } from '../../../core/src/logql/metric/grid';
import { RangeAggregator } from '../../../core/src/logql/metric/range-agg';
import type { Matrix } from '../../../core/src/logql/metric/series';
import { formatExpr } from '../../../core/src/logql/format';
import type { Fanout, FanoutStats } from './fanout';
import type { ReadCounters } from './log-query';

/** Computes one range aggregation over the grid: RangeAggregator.finish() of every sample it covers. */
export type RangeSource = (range: RangeNode, grid: StepGrid, signal: AbortSignal, stats: FanoutStats, counters: ReadCounters) => Promise<Matrix>;

/**
 * A RangeSource computed where the data lives: every storage node aggregates the partitions it is
 * asked about into partials (`POST /internal/v1/aggregate`) and only those cross the wire; they are
 * merged here and every window finished. The injected grouping of an enclosing `sum` travels with
 * the aggregation, so the nodes already group their series by it.
 */
export function nodeRangeSource(fanout: Fanout, tenant: string, token?: string): RangeSource {
  return async (range, grid, signal, stats) => {
    const aggregator = new RangeAggregator(range.node, grid);
    const body = {
      query: formatExpr(range.node),
      grouping: range.extract === range.node ? null : range.extract.grouping,
      start: grid.startNs.toString(),
      end: grid.endNs.toString(),
      step: grid.stepNs.toString(),
    };
    await fanout.aggregate(tenant, body, token, signal, stats, (partials) => aggregator.merge(partials));
    return aggregator.finish();
  };
}

/** Evaluates a metric query over `grid`, computing its range aggregations from `source`, all at once. */
export async function evaluateMetricQuery(expr: MetricExpr, grid: StepGrid, source: RangeSource, signal: AbortSignal, stats: FanoutStats, counters: ReadCounters): Promise<Result> {
  const nodes = rangeAggregationNodes(expr, grid);
  // The first failure (a pipeline error, a node that cannot answer) stops the other reads.
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let matrices: Matrix[];
  try {
    matrices = await Promise.all(
      nodes.map((n) =>
        source(n, grid, controller.signal, stats, counters).catch((err: unknown) => {
          controller.abort(err);
          throw err;
        }),
      ),
    );
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  const results = new Map<RangeAggregationExpr, Matrix>(nodes.map((n, i) => [n.node, matrices[i]!]));
  return evaluateMetric(expr, grid, (node) => results.get(node)!);
}
