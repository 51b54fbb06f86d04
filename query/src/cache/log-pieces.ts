/**
 * A log range query through the results cache. The range is cut at multiples of
 * `cache.splitIntervalMs`, and each piece holds the first `limit` entries of its interval in the
 * query's direction, after the pipeline. The first `limit` entries of the whole range are then the
 * first `limit` of the pieces' entries taken in order: a piece cannot miss one, as every entry it
 * dropped comes after `limit` others of the same interval.
 *
 * A piece is cached only when its interval is wholly in the past and the request covers the side of
 * it that the direction reads first (the newest for backward, the oldest for forward); the request's
 * part of such a piece is a prefix of its entries. The piece a backward request starts in the middle
 * of (or a forward one ends in) is read for the request alone, as is the interval holding now.
 * Pieces are read lazily, in order, so a request whose `limit` fills early reads no more of them.
 */
import type { Labels } from '../../../core/src/labels';
import { formatExpr } from '../../../core/src/logql/format';
import type { FanoutStats } from '../engine/fanout';
import type { LogEntry, LogRead } from '../engine/log-query';
import { addPieceStats, type CacheMetrics, type ChangesSource, type PieceStore } from './results-cache';

/** An entry as a piece keeps it: what a log answer shows of it. */
export type CachedEntry = Pick<LogEntry, 'ts' | 'line' | 'labels'>;

/** How a piece is read: the entries of [start, end) in the query's direction, its reads counted in `stats` and the offsets it read at put in `stats.seen`. */
export type ReadPiece = (start: bigint, end: bigint, stats: FanoutStats) => AsyncIterable<LogEntry>;

/** What the cached path of log queries needs. */
export interface LogCacheDeps {
  cache: PieceStore<CachedEntry[]>;
  metrics: CacheMetrics;
  intervalNs: bigint;
  changes: (offsets: ReadonlyMap<number, bigint>, signal: AbortSignal) => ReturnType<ChangesSource>;
  /** The oldest entry timestamp a tenant may read now (its retention); 0n for no bound. */
  readableFrom?: (tenant: string) => bigint;
  now?: () => bigint;
}

/** What a log query asks of the cache: a read without a cursor. */
export type CachedLogRead = Pick<LogRead, 'tenant' | 'selector' | 'start' | 'end' | 'direction' | 'limit'>;

/** One piece of a request's range: the interval [lo, hi), the part of it read, and whether that part is the whole interval kept. */
interface Piece {
  key: string;
  lo: bigint;
  hi: bigint;
  from: bigint;
  to: bigint;
  cacheable: boolean;
}

const floorTo = (a: bigint, m: bigint): bigint => a - (((a % m) + m) % m);

/** Estimated bytes of a piece's entries (UTF-16 strings, shared label objects counted per entry). */
function bytesOf(entries: readonly CachedEntry[]): number {
  let n = 64;
  let labels: Labels | undefined;
  for (const e of entries) {
    n += 64 + 2 * e.line.length;
    if (e.labels !== labels) {
      labels = e.labels;
      for (const k in labels) n += 2 * (k.length + labels[k]!.length) + 32;
    }
  }
  return n;
}

/** The pieces of `read`'s range, in the order its direction reads them. */
function piecesOf(read: CachedLogRead, intervalNs: bigint, nowNs: bigint): Piece[] {
  const text = formatExpr(read.selector);
  const out: Piece[] = [];
  for (let lo = floorTo(read.start, intervalNs); lo < read.end; lo += intervalNs) {
    const hi = lo + intervalNs;
    const from = lo < read.start ? read.start : lo;
    const to = hi > read.end ? read.end : hi;
    const readsFirstSide = read.direction === 'backward' ? to === hi : from === lo;
    const cacheable = hi <= nowNs && readsFirstSide;
    out.push({ key: `${read.tenant}\n${text}\n${read.direction}\n${read.limit}\n${lo}`, lo, hi, from, to, cacheable });
  }
  return read.direction === 'backward' ? out.reverse() : out;
}

/** `read`'s entries in order, from cached pieces where they are current; see the module comment. */
export async function* cachedLogEntries(deps: LogCacheDeps, read: CachedLogRead, stats: FanoutStats, signal: AbortSignal, readPiece: ReadPiece): AsyncGenerator<CachedEntry> {
  const nowNs = deps.now?.() ?? BigInt(Date.now()) * 1_000_000n;
  const pieces = piecesOf(read, deps.intervalNs, nowNs);
  const cacheable = pieces.filter((p) => p.cacheable).map((p) => p.key);
  const { hits, stale } = await deps.cache.current(cacheable, (offsets) => deps.changes(offsets, signal), deps.readableFrom?.(read.tenant) ?? 0n);
  deps.metrics.requests.inc({ kind: 'log', result: 'hit' }, hits.size);
  deps.metrics.requests.inc({ kind: 'log', result: 'stale' }, stale);
  deps.metrics.requests.inc({ kind: 'log', result: 'miss' }, cacheable.length - hits.size);
  for (const piece of pieces) {
    let entries = hits.get(piece.key);
    if (entries === undefined) {
      const pieceStats: FanoutStats = { entriesScanned: 0, bytesDecompressed: 0, nodesAsked: 0, failovers: 0, seen: new Map() };
      const [start, end] = piece.cacheable ? [piece.lo, piece.hi] : [piece.from, piece.to];
      entries = [];
      for await (const e of readPiece(start, end, pieceStats)) {
        entries.push({ ts: e.ts, line: e.line, labels: e.labels });
        if (entries.length >= read.limit) break;
      }
      addPieceStats(stats, pieceStats);
      if (piece.cacheable) deps.cache.put(piece.key, { value: entries, snapshot: pieceStats.seen!, dataStartNs: piece.lo, dataEndNs: piece.hi - 1n, bytes: bytesOf(entries) });
    }
    for (const e of entries) if (e.ts >= piece.from && e.ts < piece.to) yield e;
  }
}
