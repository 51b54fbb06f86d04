/**
 * The results cache of the query service: pieces of answers, by key, bounded in bytes, least
 * recently used out first. A piece remembers the offsets its read saw per partition and the last
 * entry timestamp its answer depends on; it is handed out only after the storage nodes confirm no
 * change since those offsets touched an entry at or before that timestamp (`Fanout.changesSince`),
 * so an answer from the cache is the answer a read would give now.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FanoutStats, PartitionChanges } from '../engine/fanout';

/** One cached piece. */
export interface CachedPiece<T> {
  value: T;
  /** Per partition, the applied offset the piece's read saw. */
  snapshot: ReadonlyMap<number, bigint>;
  /** The earliest and the latest entry timestamp the piece's answer depends on (ns). */
  dataStartNs: bigint;
  dataEndNs: bigint;
  /** Estimated bytes it holds. */
  bytes: number;
}

/** What the cache needs to tell whether pieces are current: per partition, the earliest timestamp changed since an offset. */
export type ChangesSource = (offsets: ReadonlyMap<number, bigint>) => Promise<Map<number, PartitionChanges>>;

/** Adds the read counters of a piece computed on its own to its request's. */
export function addPieceStats(into: FanoutStats, from: FanoutStats): void {
  into.entriesScanned += from.entriesScanned;
  into.bytesDecompressed += from.bytesDecompressed;
  into.nodesAsked += from.nodesAsked;
  into.failovers += from.failovers;
}

/** Counters of a cache, in the query service's registry. */
export interface CacheMetrics {
  requests: Counter<'kind' | 'result'>;
  evictions: Counter<string>;
}

/** Creates the cache's metrics. */
export function createCacheMetrics(registry: Registry, cache: () => { bytes: number; entries: number }): CacheMetrics {
  const registers = [registry];
  new Gauge({
    name: 'silt_query_cache_bytes',
    help: 'Bytes of answers the results cache holds',
    registers,
    collect() {
      this.set(cache().bytes);
    },
  });
  new Gauge({
    name: 'silt_query_cache_entries',
    help: 'Pieces of answers the results cache holds',
    registers,
    collect() {
      this.set(cache().entries);
    },
  });
  return {
    requests: new Counter({
      name: 'silt_query_cache_requests_total',
      help: 'Pieces looked up in the results cache, by kind of query and result: hit, miss, or stale (held but changed since)',
      labelNames: ['kind', 'result'],
      registers,
    }),
    evictions: new Counter({ name: 'silt_query_cache_evictions_total', help: 'Pieces the results cache let go to stay under cache.maxBytes', registers }),
  };
}

/** What a kind of query needs of the cache: storing pieces and taking the current ones. */
export interface PieceStore<T> {
  put(key: string, piece: CachedPiece<T>): void;
  current(keys: readonly string[], changes: ChangesSource, readableFrom?: bigint): Promise<{ hits: Map<string, T>; stale: number }>;
}

/** The cache; see the module comment. */
export class ResultsCache<T> implements PieceStore<T> {
  private readonly pieces = new Map<string, CachedPiece<T>>();
  private held = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly evicted: () => void,
  ) {}

  /** Bytes and pieces held. */
  get size(): { bytes: number; entries: number } {
    return { bytes: this.held, entries: this.pieces.size };
  }

  /** Stores a piece (replacing one of the same key), then lets the least recently used go until under the bound. */
  put(key: string, piece: CachedPiece<T>): void {
    if (piece.bytes > this.maxBytes) return;
    this.remove(key);
    this.pieces.set(key, piece);
    this.held += piece.bytes;
    for (const [k] of this.pieces) {
      if (this.held <= this.maxBytes) break;
      this.remove(k);
      this.evicted();
    }
  }

  /**
   * The pieces of `keys` that are held and still current, by key; held pieces that changed since are
   * dropped. One question to the storage nodes for all of them. A piece depending on entries older
   * than `readableFrom` (the tenant's retention has since passed them) is not current either.
   */
  async current(keys: readonly string[], changes: ChangesSource, readableFrom = 0n): Promise<{ hits: Map<string, T>; stale: number }> {
    const held: [string, CachedPiece<T>][] = [];
    for (const k of keys) {
      const p = this.pieces.get(k);
      if (p !== undefined) held.push([k, p]);
    }
    const hits = new Map<string, T>();
    if (held.length === 0) return { hits, stale: 0 };
    // The earliest offset any piece saw, per partition: what changed since it covers what changed since each.
    const since = new Map<number, bigint>();
    for (const [, p] of held) for (const [part, o] of p.snapshot) if (!since.has(part) || o < since.get(part)!) since.set(part, o);
    const changed = await changes(since);
    let stale = 0;
    for (const [k, p] of held) {
      // A piece that recorded no offsets cannot be shown unchanged.
      let fresh = p.dataStartNs >= readableFrom && p.snapshot.size > 0;
      for (const part of p.snapshot.keys()) {
        const c = changed.get(part) ?? 'unknown';
        if (c === 'unknown' || (c !== 'none' && c <= p.dataEndNs)) fresh = false;
      }
      if (fresh) {
        // Recently used: to the back of the eviction order.
        this.pieces.delete(k);
        this.pieces.set(k, p);
        hits.set(k, p.value);
      } else {
        this.remove(k);
        stale++;
      }
    }
    return { hits, stale };
  }

  /**
   * The pieces of one kind of answer, in this cache's byte bound: its keys are prefixed by `kind`,
   * so a value stored through a view is only ever read back through a view of the same kind.
   */
  view<V extends T>(kind: string): PieceStore<V> {
    const prefix = `${kind}\n`;
    return {
      put: (key, piece) => this.put(prefix + key, piece),
      current: async (keys, changes, readableFrom) => {
        const { hits, stale } = await this.current(
          keys.map((k) => prefix + k),
          changes,
          readableFrom,
        );
        const out = new Map<string, V>();
        for (const [k, v] of hits) out.set(k.slice(prefix.length), v as V);
        return { hits: out, stale };
      },
    };
  }

  private remove(key: string): void {
    const p = this.pieces.get(key);
    if (p === undefined) return;
    this.pieces.delete(key);
    this.held -= p.bytes;
  }
}
