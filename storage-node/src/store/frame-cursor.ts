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
import type { Db, DbIterator } from './segments';

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

/** Opens a cursor over a stream's frames in `db`; `heads` is the segment meta's, `skip` applies only where heads are kept. */
export function openFrameCursor(db: Db, heads: boolean, scope: FrameScope, skip: FrameSkip = {}): FrameCursor {
  if (!heads || (skip.needles === undefined && skip.fromHead === undefined)) return db.iterator({ ...rangeOf(scope, K.TAG_FRAME), reverse: scope.reverse ?? false });
  return new HeadCursor(db, scope, skip);
}

function rangeOf(scope: FrameScope, tag: number): K.KeyRange {
  return K.frameRange(scope.prefix, scope.streamId, scope.fromTs, scope.toTs, tag);
}

/** A cursor of a segment with frame heads: heads, then the filters of the v2 ones, then the frames not skipped. */
class HeadCursor implements FrameCursor {
  private readonly snapshot: ReturnType<Db['snapshot']>;
  private readonly heads: DbIterator;
  private readonly prefixLength: number;

  constructor(
    private readonly db: Db,
    scope: FrameScope,
    private readonly skip: FrameSkip,
  ) {
    this.snapshot = db.snapshot();
    this.prefixLength = scope.prefix.length;
    this.heads = db.iterator({ ...rangeOf(scope, K.TAG_HEAD), reverse: scope.reverse ?? false, snapshot: this.snapshot });
  }

  async nextv(size: number): Promise<Pairs> {
    const p = this.prefixLength;
    const { needles, fromHead } = this.skip;
    for (;;) {
      const batch = await this.heads.nextv(size);
      if (batch.length === 0) return [];
      const keys: Buffer[] = [];
      const heads: K.FrameHead[] = [];
      const filterKeys: Buffer[] = [];
      const filterOf: number[] = [];
      for (const [headKey, headValue] of batch) {
        const key = K.retagFrameKey(headKey, p, K.TAG_FRAME);
        const head = K.readFrameHead(headValue);
        if (fromHead?.(key, head)) continue;
        if (needles !== undefined && head.header.version === FRAME_V2_VERSION) {
          filterKeys.push(K.retagFrameKey(headKey, p, K.TAG_FILTER));
          filterOf.push(keys.length);
        }
        keys.push(key);
        heads.push(head);
      }
      let wanted = keys;
      if (filterKeys.length > 0) {
        const filters = await this.db.getMany(filterKeys, { snapshot: this.snapshot });
        const ruledOut = new Set<number>();
        // A v2 frame whose filter is missing is read whole: its lines column still decides.
        filters.forEach((f, i) => {
          if (f === undefined || detachedHeaderAllows(f, needles!)) return;
          ruledOut.add(filterOf[i]!);
          this.skip.onSkip?.(heads[filterOf[i]!]!);
        });
        if (ruledOut.size > 0) wanted = keys.filter((_, i) => !ruledOut.has(i));
      }
      if (wanted.length === 0) continue;
      const values = await this.db.getMany(wanted, { snapshot: this.snapshot });
      const pairs: Pairs = [];
      for (let i = 0; i < wanted.length; i++) {
        const value = values[i];
        if (value === undefined) throw new BlockFormatError('SILT_BLOCK_CORRUPT', 'a frame head without its frame');
        pairs.push([wanted[i]!, value]);
      }
      return pairs;
    }
  }

  async close(): Promise<void> {
    try {
      await this.heads.close();
    } finally {
      await this.snapshot.close();
    }
  }
}
