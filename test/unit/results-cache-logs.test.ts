import { Registry } from 'prom-client';
import { cachedLogEntries, type CachedEntry, type LogCacheDeps, type CachedLogRead } from '../../query/src/cache/log-pieces';
import { createCacheMetrics, ResultsCache } from '../../query/src/cache/results-cache';
import type { FanoutStats, PartitionChanges } from '../../query/src/engine/fanout';
import type { LogEntry } from '../../query/src/engine/log-query';
import type { LogSelectorExpr } from '../../core/src/logql/ast';
import { parseExpr } from '../../core/src/logql/parser';
import type { Direction } from '../../core/src/query-params';

const S = 1_000_000_000n;
const selector = parseExpr('{app="a"} |= "x"') as LogSelectorExpr;

/** A fake store: one entry every `every` s from 0 to 1100 s, except those listed late (added by `add`). */
function store(every = 7n) {
  const ts: bigint[] = [];
  for (let t = 0n; t < 1100n * S; t += every * S) ts.push(t);
  const reads: [bigint, bigint][] = [];
  let offset = 10n;
  const entry = (t: bigint): LogEntry => ({ ts: t, line: `x ${t / S}`, labels: { app: 'a' }, pos: { ts: t, streamId: 1n, partition: 0, offset: 0n, frame: 0, index: 0 }, source: undefined as never });
  const read = (direction: Direction) =>
    async function* (start: bigint, end: bigint, stats: FanoutStats): AsyncGenerator<LogEntry> {
      reads.push([start, end]);
      stats.seen!.set(0, offset);
      const inRange = ts.filter((t) => t >= start && t < end).sort((a, b) => (a < b ? -1 : 1));
      if (direction === 'backward') inRange.reverse();
      for (const t of inRange) yield entry(t);
    };
  return { ts, reads, read, add: (t: bigint) => (ts.push(t), (offset += 1n)) };
}

function deps(changes: Map<number, PartitionChanges>, nowS = 1050n) {
  const registry = new Registry();
  const metrics = createCacheMetrics(registry, () => cache.size);
  const cache = new ResultsCache<CachedEntry[]>(1 << 20, () => metrics.evictions.inc());
  const d: LogCacheDeps = { cache, metrics, intervalNs: 100n * S, changes: async () => changes, now: () => nowS * S };
  const count = async (result: string): Promise<number> => (await metrics.requests.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { d, count };
}

const signal = new AbortController().signal;
const stats = (): FanoutStats => ({ entriesScanned: 0, bytesDecompressed: 0, nodesAsked: 0, failovers: 0 });

async function take(entries: AsyncIterable<CachedEntry>, limit: number): Promise<bigint[]> {
  const out: bigint[] = [];
  for await (const e of entries) {
    out.push(e.ts);
    if (out.length >= limit) break;
  }
  return out;
}

/** What one read of the whole range answers. */
async function direct(s: ReturnType<typeof store>, r: CachedLogRead): Promise<bigint[]> {
  return take(s.read(r.direction)(r.start, r.end, { ...stats(), seen: new Map() }), r.limit);
}

describe('query > results cache > log pieces', () => {
  it.each(['backward', 'forward'] as const)('answers %s reads as one read would, over any range and limit, and reuses past pieces', async (direction) => {
    const s = store();
    const { d, count } = deps(new Map([[0, 'none']]));
    for (const [from, to, limit] of [[250n, 1040n, 1000], [250n, 1040n, 5], [330n, 370n, 3], [0n, 1100n, 40], [199n, 801n, 30]] as const) {
      const r: CachedLogRead = { tenant: 't', selector, start: from * S, end: to * S, direction, limit };
      expect(await take(cachedLogEntries(d, r, stats(), signal, s.read(direction)), limit)).toEqual(await direct(s, r));
      // Asked again, from the cache where it can: the same answer.
      expect(await take(cachedLogEntries(d, r, stats(), signal, s.read(direction)), limit)).toEqual(await direct(s, r));
    }
    expect(await count('hit')).toBeGreaterThan(0);
  });

  it('a sliding backward window reads only the newest interval and the piece it starts inside, and stops once the limit is met', async () => {
    const s = store();
    const { d, count } = deps(new Map([[0, 'none']]));
    const r = (from: bigint, to: bigint, limit = 1000): CachedLogRead => ({ tenant: 't', selector, start: from * S, end: to * S, direction: 'backward', limit });
    await take(cachedLogEntries(d, r(250n, 1040n), stats(), signal, s.read('backward')), 1000);
    // [200,300) is started inside: a backward read reaches its older side last, so it is read whole and kept.
    expect(s.reads).toContainEqual([200n * S, 300n * S]);
    expect(s.reads).toContainEqual([1000n * S, 1040n * S]);
    s.reads.length = 0;
    await take(cachedLogEntries(d, r(260n, 1045n), stats(), signal, s.read('backward')), 1000);
    expect(s.reads).toEqual([[1000n * S, 1045n * S]]);
    expect(await count('hit')).toBe(8);
    s.reads.length = 0;
    expect(await take(cachedLogEntries(d, r(0n, 1045n, 3), stats(), signal, s.read('backward')), 3)).toHaveLength(3);
    expect(s.reads).toEqual([[1000n * S, 1045n * S]]);
  });

  it('a backward read ending inside a past interval reads that part alone and does not keep it', async () => {
    const s = store();
    const { d } = deps(new Map([[0, 'none']]));
    const r: CachedLogRead = { tenant: 't', selector, start: 150n * S, end: 350n * S, direction: 'backward', limit: 5 };
    expect(await take(cachedLogEntries(d, r, stats(), signal, s.read('backward')), 5)).toEqual(await direct(s, r));
    s.reads.length = 0;
    await take(cachedLogEntries(d, r, stats(), signal, s.read('backward')), 5);
    expect(s.reads).toEqual([[300n * S, 350n * S]]);
  });

  it('a piece changed since its snapshot is read again and shows the late entry', async () => {
    const s = store();
    const changes = new Map<number, PartitionChanges>([[0, 'none']]);
    const { d, count } = deps(changes);
    const r: CachedLogRead = { tenant: 't', selector, start: 0n, end: 1000n * S, direction: 'backward', limit: 1000 };
    await take(cachedLogEntries(d, r, stats(), signal, s.read('backward')), 1000);
    s.add(450n * S + 1n);
    changes.set(0, 450n * S + 1n);
    const again = await take(cachedLogEntries(d, r, stats(), signal, s.read('backward')), 1000);
    expect(again).toContain(450n * S + 1n);
    expect(again).toEqual(await direct(s, r));
    // The earliest change is at 450 s: the pieces ending after it, [400,500) to [900,1000), are not current.
    expect(await count('stale')).toBe(6);
  });

  it('keys pieces by tenant, query, direction and limit', async () => {
    const s = store();
    const { d, count } = deps(new Map([[0, 'none']]));
    const r: CachedLogRead = { tenant: 'a', selector, start: 0n, end: 200n * S, direction: 'backward', limit: 10 };
    await take(cachedLogEntries(d, r, stats(), signal, s.read('backward')), 10);
    await take(cachedLogEntries(d, { ...r, tenant: 'b' }, stats(), signal, s.read('backward')), 10);
    await take(cachedLogEntries(d, { ...r, limit: 11 }, stats(), signal, s.read('backward')), 11);
    await take(cachedLogEntries(d, { ...r, selector: parseExpr('{app="a"} |= "y"') as LogSelectorExpr }, stats(), signal, s.read('backward')), 10);
    expect(await count('hit')).toBe(0);
  });
});
