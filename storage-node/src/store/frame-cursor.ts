/**
 * One stream's frames in one segment, in key order, as `[frame key, frame value]` pairs: what an
 * iterator over the stream's frame keys gives. In a segment with frame heads (its meta's `heads`)
 * the heads are read first, so a frame the read can do without is never read whole: a v2 frame
 * whose token filter rules out a needle, or a frame an aggregation takes from its head alone. Heads,
 * filters and frames are read from one LevelDB snapshot, taken when the cursor opens, so the pairs
 * are exactly those an iterator opened then would give, less the frames skipped. docs/STORAGE.md,
 * "Frame heads".
 */
import { BlockFormatError } from '../../../core/src/errors';
import { FRAME_V2_VERSION } from '../../../core/src/frame-v2';
import { type NeedleSet, detachedHeaderAllows } from '../../../core/src/stored-frame';
import * as K from './keys';
import { type CachedHead, HeadCache, type StreamHeads } from './head-cache';
import type { Db, DbIterator, Segment } from './segments';

/** What a cursor may skip on what a frame's head says. */
export interface FrameSkip {
  /** A read's needles: a v2 frame whose token filter rules one of them out is skipped. */
  needles?: NeedleSet;
  /** Takes a frame from its head alone (`key` is the frame's key); a frame taken is skipped. */
  fromHead?: (key: Uint8Array, head: K.FrameHead) => boolean;
  /** Told of each frame the needles ruled out. */
  onSkip?: (head: K.FrameHead) => void;
}

/** Where a cursor reads: one stream's frames whose minTs is in [fromTs, toTs). */
export interface FrameScope {
  prefix: Uint8Array;
  streamId: bigint;
  fromTs: bigint;
  toTs: bigint;
  /** Newest key first. */
  reverse?: boolean;
}

type Pairs = [Uint8Array, Uint8Array][];

/** A stream's frames in key order; `nextv` gives up to `size` pairs, and none once done. */
export interface FrameCursor {
  nextv(size: number): Promise<Pairs>;
  close(): Promise<void>;
}

/**
 * Opens a cursor over a stream's frames in `db`, the handle of `seg`; `skip` applies only where the
 * segment keeps heads, which are then taken from `cache` when it holds them, and put there when not.
 */
export function openFrameCursor(db: Db, seg: Segment, scope: FrameScope, skip: FrameSkip = {}, cache: HeadCache | null = null): FrameCursor {
  if (!seg.meta.heads || (skip.needles === undefined && skip.fromHead === undefined)) return db.iterator({ ...rangeOf(scope, K.TAG_FRAME), reverse: scope.reverse ?? false });
  return new HeadCursor(db, seg, scope, skip, cache);
}

function rangeOf(scope: FrameScope, tag: number): K.KeyRange {
  return K.frameRange(scope.prefix, scope.streamId, scope.fromTs, scope.toTs, tag);
}

// Heads read per native call when a stream's heads are read whole for the cache.
const FILL_BATCH = 1024;

/** A cursor of a segment with frame heads: heads, then the filters of the v2 ones, then the frames not skipped. */
class HeadCursor implements FrameCursor {
  private readonly snapshot: ReturnType<Db['snapshot']>;
  /** The heads in the scope, from LevelDB when the cache is not used. */
  private heads: DbIterator | null = null;
  /** The stream's heads cached (or being read whole, then cached) for the generation of the snapshot. */
  private entry: StreamHeads | null = null;
  private filling: Promise<void> | null = null;
  /** Where the next head of the scope is in `entry`, and where the scope ends. */
  private pos = 0;
  private stop = 0;
  private readonly prefixLength: number;

  constructor(
    private readonly db: Db,
    private readonly seg: Segment,
    private readonly scope: FrameScope,
    private readonly skip: FrameSkip,
    private readonly cache: HeadCache | null,
  ) {
    this.snapshot = db.snapshot();
    this.prefixLength = scope.prefix.length;
    // Read in the tick the snapshot was taken: cached heads of this generation are the snapshot's.
    const gen = cache === null ? null : HeadCache.stableGen(seg);
    if (gen === null) {
      this.heads = db.iterator({ ...rangeOf(scope, K.TAG_HEAD), reverse: scope.reverse ?? false, snapshot: this.snapshot });
      return;
    }
    const cached = cache!.get(seg, scope.streamId, gen);
    if (cached !== undefined) this.place(cached);
    else {
      this.filling = this.fill(gen);
      // Awaited by the first nextv, or by close: never an unhandled rejection.
      this.filling.catch(() => undefined);
    }
  }

  /** Reads the stream's heads whole from the snapshot into the cache. */
  private async fill(gen: number): Promise<void> {
    const it = this.db.iterator({ ...rangeOf({ ...this.scope, fromTs: -(1n << 64n), toTs: 1n << 64n }, K.TAG_HEAD), snapshot: this.snapshot });
    const heads: CachedHead[] = [];
    try {
      for (;;) {
        const batch = await it.nextv(FILL_BATCH);
        if (batch.length === 0) break;
        for (const [headKey, headValue] of batch) heads.push(this.cachedHead(headKey, headValue));
      }
    } finally {
      await it.close();
    }
    this.place(this.cache!.put(this.seg, this.scope.streamId, gen, heads));
  }

  private cachedHead(headKey: Uint8Array, headValue: Uint8Array): CachedHead {
    const key = K.retagFrameKey(headKey, this.prefixLength, K.TAG_FRAME);
    return { key, minTs: K.decodeFrameKey(key, this.prefixLength).minTs, head: K.readFrameHead(headValue), filter: null };
  }

  /** Takes the scope's heads from a cached stream (in key order, so by minTs). */
  private place(entry: StreamHeads): void {
    const { fromTs, toTs, reverse } = this.scope;
    const lo = firstAtOrAbove(entry.heads, fromTs);
    const hi = Math.max(lo, firstAtOrAbove(entry.heads, toTs));
    this.entry = entry;
    this.pos = reverse ? hi - 1 : lo;
    this.stop = reverse ? lo - 1 : hi;
  }

  /** Up to `size` next heads of the scope, in the cursor's order. */
  private async nextHeads(size: number): Promise<CachedHead[]> {
    if (this.heads !== null) return (await this.heads.nextv(size)).map(([k, v]) => this.cachedHead(k, v));
    if (this.filling !== null) {
      await this.filling;
      this.filling = null;
    }
    const all = this.entry!.heads;
    const out: CachedHead[] = [];
    const step = this.scope.reverse ? -1 : 1;
    while (out.length < size && this.pos !== this.stop) {
      out.push(all[this.pos]!);
      this.pos += step;
    }
    return out;
  }

  async nextv(size: number): Promise<Pairs> {
    const { needles, fromHead } = this.skip;
    for (;;) {
      const batch = await this.nextHeads(size);
      if (batch.length === 0) return [];
      const wanted: CachedHead[] = [];
      const unread: CachedHead[] = [];
      for (const h of batch) {
        if (fromHead?.(h.key, h.head)) continue;
        if (needles !== undefined && h.head.header.version === FRAME_V2_VERSION && h.filter === null) unread.push(h);
        wanted.push(h);
      }
      if (unread.length > 0) {
        const filters = await this.db.getMany(unread.map((h) => K.retagFrameKey(h.key, this.prefixLength, K.TAG_FILTER)), { snapshot: this.snapshot });
        unread.forEach((h, i) => {
          if (this.entry !== null) this.cache!.addFilter(this.entry, h, filters[i]);
          else h.filter = filters[i];
        });
      }
      let kept = wanted;
      if (needles !== undefined) {
        kept = [];
        // A v1 frame, or a v2 frame whose filter is missing, is read whole: its lines still decide.
        for (const h of wanted) {
          if (h.filter == null || detachedHeaderAllows(h.filter, needles)) kept.push(h);
          else this.skip.onSkip?.(h.head);
        }
      }
      if (kept.length === 0) continue;
      const values = await this.db.getMany(
        kept.map((h) => h.key),
        { snapshot: this.snapshot },
      );
      const pairs: Pairs = [];
      for (let i = 0; i < kept.length; i++) {
        const value = values[i];
        if (value === undefined) throw new BlockFormatError('SILT_BLOCK_CORRUPT', 'a frame head without its frame');
        pairs.push([kept[i]!.key, value]);
      }
      return pairs;
    }
  }

  async close(): Promise<void> {
    try {
      await this.filling?.catch(() => undefined);
      await this.heads?.close();
    } finally {
      await this.snapshot.close();
    }
  }
}

/** The index of the first head whose minTs is ≥ ts (heads in key order). */
function firstAtOrAbove(heads: readonly CachedHead[], ts: bigint): number {
  let lo = 0;
  let hi = heads.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (heads[mid]!.minTs < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
