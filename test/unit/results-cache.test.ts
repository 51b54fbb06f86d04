import { Registry } from 'prom-client';
import { cachedMetricQuery, type MetricCacheDeps } from '../../query/src/cache/metric-pieces';
import { createCacheMetrics, ResultsCache } from '../../query/src/cache/results-cache';
import type { PartitionChanges } from '../../query/src/engine/fanout';
import type { MetricExpr } from '../../core/src/logql/ast';
import { parseExpr } from '../../core/src/logql/parser';
import type { MatrixSeries, Result } from '../../core/src/logql/metric/evaluate';
import { StepGrid } from '../../core/src/logql/metric/grid';

const S = 1_000_000_000n;
const expr = parseExpr('sum by (app) (count_over_time({app="a"}[1m]))') as MetricExpr;

/** A fake engine: series "x" has value t/S at every point, series "y" only at even seconds; reads at offset `offset` of partition 0. */
function engine() {
  const calls: [bigint, bigint][] = [];
  let offset = 10n;
  const compute = async (grid: StepGrid, stats: { seen?: Map<number, bigint> }): Promise<Result> => {
    calls.push([grid.startNs, grid.endNs]);
    stats.seen!.set(0, offset);
    const x: MatrixSeries = { labels: { app: 'x' }, points: grid.times.map((t) => [t, Number(t / S)]) };
    const y: MatrixSeries = { labels: { app: 'y' }, points: grid.times.filter((t) => (t / S) % 2n === 0n).map((t) => [t, 1]) };
    return { type: 'matrix', series: [x, y].filter((s) => s.points.length > 0) };
  };
  return { calls, compute, setOffset: (o: bigint) => (offset = o) };
}

function deps(changes: Map<number, PartitionChanges>, maxBytes = 1 << 20, nowS = 1000n) {
  const registry = new Registry();
  const metrics = createCacheMetrics(registry, () => cache.size);
  const cache = new ResultsCache<MatrixSeries[]>(maxBytes, () => metrics.evictions.inc());
  const d: MetricCacheDeps = { cache, metrics, intervalNs: 100n * S, changes: async () => changes, concurrency: 2, now: () => nowS * S };
  const count = async (result: string): Promise<number> => (await metrics.requests.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { d, cache, count };
}

const signal = new AbortController().signal;
const stats = () => ({ entriesScanned: 0, bytesDecompressed: 0, nodesAsked: 0, failovers: 0 });

describe('query > results cache > metric pieces', () => {
  it('splits at interval multiples, computes past pieces whole, and answers as one computation would', async () => {
    const e = engine();
    const { d, count } = deps(new Map([[0, 'none']]));
    const grid = StepGrid.range(250n * S, 1010n * S, 20n * S);
    const answer = await cachedMetricQuery(d, 't', expr, grid, stats(), signal, e.compute);
    const direct = await e.compute(grid, { seen: new Map() });
    expect(answer).toEqual(direct);
    // Pieces [200,300) … [900,1000) are in the past and computed whole; [1000,1100) holds now: the request's part only.
    expect(e.calls.slice(0, -1).sort((a, b) => Number(a[0] - b[0]))).toEqual([
      [210n * S, 290n * S], [310n * S, 390n * S], [410n * S, 490n * S], [510n * S, 590n * S], [610n * S, 690n * S], [710n * S, 790n * S], [810n * S, 890n * S], [910n * S, 990n * S], [1010n * S, 1010n * S],
    ]);
    expect(await count('miss')).toBe(8);
    e.calls.length = 0;
    const slid = StepGrid.range(270n * S, 1030n * S, 20n * S);
    expect(await cachedMetricQuery(d, 't', expr, slid, stats(), signal, e.compute)).toEqual(await e.compute(slid, { seen: new Map() }));
    expect(await count('hit')).toBe(8);
    expect(e.calls).toEqual([[1010n * S, 1030n * S], [270n * S, 1030n * S]]);
  });

  it('a piece changed at or before its last point since its snapshot is computed again; one changed only after it is not', async () => {
    const e = engine();
    const changes = new Map<number, PartitionChanges>([[0, 'none']]);
    const { d, count } = deps(changes);
    const grid = StepGrid.range(200n * S, 399n * S, 10n * S);
    await cachedMetricQuery(d, 't', expr, grid, stats(), signal, e.compute);
    changes.set(0, 395n * S);
    e.calls.length = 0;
    await cachedMetricQuery(d, 't', expr, grid, stats(), signal, e.compute);
    // [200,300) ends at 290 s: untouched by a change at 395 s; [300,400) ends at 390 s: untouched too.
    expect(e.calls).toEqual([]);
    changes.set(0, 250n * S);
    await cachedMetricQuery(d, 't', expr, grid, stats(), signal, e.compute);
    expect(e.calls).toEqual([[200n * S, 290n * S], [300n * S, 390n * S]]);
    expect(await count('stale')).toBe(2);
    changes.set(0, 'unknown');
    e.calls.length = 0;
    await cachedMetricQuery(d, 't', expr, grid, stats(), signal, e.compute);
    expect(e.calls).toHaveLength(2);
  });

  it("a piece reading entries the tenant's retention has since passed is computed again", async () => {
    const e = engine();
    const { d } = deps(new Map([[0, 'none']]));
    let from = 0n;
    d.readableFrom = () => from;
    const grid = StepGrid.range(200n * S, 399n * S, 10n * S);
    await cachedMetricQuery(d, 't', expr, grid, stats(), signal, e.compute);
    e.calls.length = 0;
    // The [1m] windows of [200, 300) read entries after 140 s: once 141 s is the oldest readable, that piece is out of date.
    from = 141n * S;
    await cachedMetricQuery(d, 't', expr, grid, stats(), signal, e.compute);
    expect(e.calls).toEqual([[200n * S, 290n * S]]);
  });

  it('keys by tenant, step and phase, and stays under its byte bound, least recently used out first', async () => {
    const e = engine();
    const { d, cache } = deps(new Map([[0, 'none']]), 6000, 100_000n);
    await cachedMetricQuery(d, 'a', expr, StepGrid.range(0n, 99n * S, 10n * S), stats(), signal, e.compute);
    await cachedMetricQuery(d, 'b', expr, StepGrid.range(0n, 99n * S, 10n * S), stats(), signal, e.compute);
    await cachedMetricQuery(d, 'a', expr, StepGrid.range(5n * S, 99n * S, 10n * S), stats(), signal, e.compute);
    expect(e.calls).toHaveLength(3);
    expect(cache.size.bytes).toBeLessThanOrEqual(6000);
    for (let k = 1n; k < 20n; k++) await cachedMetricQuery(d, 'a', expr, StepGrid.range(k * 100n * S, k * 100n * S + 99n * S, 10n * S), stats(), signal, e.compute);
    expect(cache.size.bytes).toBeLessThanOrEqual(6000);
    e.calls.length = 0;
    await cachedMetricQuery(d, 'a', expr, StepGrid.range(1900n * S, 1999n * S, 10n * S), stats(), signal, e.compute);
    await cachedMetricQuery(d, 'a', expr, StepGrid.range(0n, 99n * S, 10n * S), stats(), signal, e.compute);
    expect(e.calls).toEqual([[0n, 90n * S]]);
  });
});
