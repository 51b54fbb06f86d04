/**
 * A metric range query through the results cache, split like Loki's query frontend splits it: the
 * step grid is cut at multiples of `cache.splitIntervalMs`, and each piece — the grid's points in
 * one interval — is an answer of its own. A piece wholly in the past is computed in full (even
 * where the request covers only part of it, so the next request of a sliding window finds it) and
 * cached; the piece still filling up (the interval holding now) is computed for the request only.
 * LogQL's metric operators work step by step, so a point's value does not depend on which piece
 * computed it, and the pieces' series are joined by labels.
 */
import { labelsKey } from '../../../core/src/labels';
import { formatExpr } from '../../../core/src/logql/format';
import type { MetricExpr } from '../../../core/src/logql/ast';
import { rangeAggregationNodes, type MatrixSeries, type Result } from '../../../core/src/logql/metric/evaluate';
import { StepGrid } from '../../../core/src/logql/metric/grid';
import { sortByLabels } from '../../../core/src/logql/metric/series';
import type { FanoutStats } from '../engine/fanout';
import { addPieceStats, type CacheMetrics, type ChangesSource, type PieceStore } from './results-cache';

/** One piece of a request's grid. */
interface Piece {
  key: string;
  /** The points computed: the whole interval's when cacheable, else the request's part of it. */
  grid: StepGrid;
  cacheable: boolean;
}

/** How a piece is computed: the metric engine over `grid`, its reads counted in `stats` (whose `seen` the cache keeps). */
export type ComputePiece = (grid: StepGrid, stats: FanoutStats) => Promise<Result>;

/** What the cached path needs. */
export interface MetricCacheDeps {
  cache: PieceStore<MatrixSeries[]>;
  metrics: CacheMetrics;
  intervalNs: bigint;
  changes: (offsets: ReadonlyMap<number, bigint>, signal: AbortSignal) => ReturnType<ChangesSource>;
  /** Pieces computed at once. */
  concurrency: number;
  /** The oldest entry timestamp a tenant may read now (its retention); 0n for no bound. */
  readableFrom?: (tenant: string) => bigint;
  now?: () => bigint;
}

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

/** Estimated bytes of a piece's series. */
function bytesOf(series: readonly MatrixSeries[]): number {
  let n = 64;
  for (const s of series) {
    n += 96 + s.points.length * 40;
    for (const k in s.labels) n += 2 * (k.length + s.labels[k]!.length) + 32;
  }
  return n;
}

/** The pieces of `grid` (a range grid) for `tenant`'s `expr`. */
function piecesOf(tenant: string, expr: MetricExpr, grid: StepGrid, intervalNs: bigint, nowNs: bigint): Piece[] {
  const step = grid.stepNs;
  const phase = mod(grid.startNs, step);
  const text = formatExpr(expr);
  const out: Piece[] = [];
  for (let lo = grid.startNs - mod(grid.startNs, intervalNs); lo <= grid.endNs; lo += intervalNs) {
    const hi = lo + intervalNs;
    const first = lo + mod(phase - lo, step);
    if (first >= hi) continue;
    const last = first + ((hi - 1n - first) / step) * step;
    const cacheable = hi <= nowNs;
    const from = cacheable ? first : first < grid.startNs ? grid.startNs : first;
    const to = cacheable ? last : last > grid.endNs ? grid.startNs + ((grid.endNs - grid.startNs) / step) * step : last;
    if (to < from) continue;
    out.push({ key: `${tenant}\n${text}\n${step}\n${phase}\n${lo}`, grid: StepGrid.range(from, to, step), cacheable });
  }
  return out;
}

/** Runs `tasks` with at most `limit` at once. */
async function pooled<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

/** `expr` over the range grid `grid` for `tenant`, cached piece by piece; see the module comment. */
export async function cachedMetricQuery(
  deps: MetricCacheDeps,
  tenant: string,
  expr: MetricExpr,
  grid: StepGrid,
  stats: FanoutStats,
  signal: AbortSignal,
  compute: ComputePiece,
): Promise<Result> {
  const nowNs = deps.now?.() ?? BigInt(Date.now()) * 1_000_000n;
  const pieces = piecesOf(tenant, expr, grid, deps.intervalNs, nowNs);
  const cacheable = pieces.filter((p) => p.cacheable).map((p) => p.key);
  const { hits, stale } = await deps.cache.current(cacheable, (offsets) => deps.changes(offsets, signal), deps.readableFrom?.(tenant) ?? 0n);
  deps.metrics.requests.inc({ kind: 'metric', result: 'hit' }, hits.size);
  deps.metrics.requests.inc({ kind: 'metric', result: 'stale' }, stale);
  deps.metrics.requests.inc({ kind: 'metric', result: 'miss' }, cacheable.length - hits.size);
  const answers = await pooled(
    pieces.map((piece) => async (): Promise<MatrixSeries[]> => {
      const hit = hits.get(piece.key);
      if (hit !== undefined) return hit;
      const pieceStats: FanoutStats = { entriesScanned: 0, bytesDecompressed: 0, nodesAsked: 0, failovers: 0, seen: new Map() };
      const result = await compute(piece.grid, pieceStats);
      addPieceStats(stats, pieceStats);
      if (result.type !== 'matrix') throw new Error(`a range query answered ${result.type}, not matrix`);
      if (piece.cacheable) {
        const dataEndNs = piece.grid.times[piece.grid.times.length - 1]!;
        // A window covers (from, to]: its first entry can be one past `from`.
        const dataStartNs = rangeAggregationNodes(expr, piece.grid).reduce((min, n) => (n.fromNs + 1n < min ? n.fromNs + 1n : min), piece.grid.startNs);
        deps.cache.put(piece.key, { value: result.series, snapshot: pieceStats.seen!, dataStartNs, dataEndNs, bytes: bytesOf(result.series) });
      }
      return result.series;
    }),
    deps.concurrency,
  );
  const joined = new Map<string, MatrixSeries>();
  for (const series of answers) {
    for (const s of series) {
      const points = s.points.filter(([t]) => t >= grid.startNs && t <= grid.endNs);
      if (points.length === 0) continue;
      const key = labelsKey(s.labels);
      const into = joined.get(key);
      if (into === undefined) joined.set(key, { labels: s.labels, points });
      else into.points.push(...points);
    }
  }
  return { type: 'matrix', series: sortByLabels([...joined.values()], (s) => s.labels) };
}
