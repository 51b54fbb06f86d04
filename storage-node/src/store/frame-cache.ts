/**
 * Decoded frames kept in memory, within a byte budget, the least recently used dropped first, so
 * that a dashboard or an explorer asking the same recent range again decompresses nothing twice.
 * An entry is keyed by what identifies the frame's bytes — its segment (ids are never reused in a
 * process), stream, value header (layout, version, time range, entry count, raw length) and the
 * CRC-32 of its bytes — so a frame that compaction or retention rewrote under the same LevelDB key
 * has another key here, and a cached frame is never invalidated, only aged out. Only frames decoded
 * whole are kept (the read's range covered them, and no needle ruled them out): any later read of
 * the frame can use them, whatever its range or filters, as the merge filters entries after.
 * Entries are shared by the reads that use them and are never mutated.
 */
import type { BlockEntry } from '../../../core/src/block-format';
import type * as K from './keys';
import type { Segment } from './segments';

// What an entry costs beside its lines: the entry object, its bigint, the array slot.
const ENTRY_OVERHEAD = 64;
// What a cached frame costs beside its entries: the key string, the map slot.
const FRAME_OVERHEAD = 200;

interface Cached {
  entries: BlockEntry[];
  bytes: number;
}

/** The decoded-frame cache of one store; see the module comment. */
export class FrameCache {
  private readonly frames = new Map<string, Cached>();
  private held = 0;
  /** Frames found and not found since the store opened. */
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes the cache holds now. */
  get bytes(): number {
    return this.held;
  }

  /** The cache key of a stream's frame in a segment, from its value header. */
  static keyOf(seg: Segment, streamId: bigint, h: K.FrameValueHeader): string {
    return `${seg.id}/${streamId}/${h.layout}.${h.version}/${h.minTs}/${h.maxTs}/${h.entryCount}/${h.rawLength}/${h.frameCrc}`;
  }

  /** Whether the frame of `key` is held, without counting a lookup or changing the eviction order. */
  has(key: string): boolean {
    return this.frames.has(key);
  }

  /** The frame's entries, if held (then the most recently used). */
  get(key: string): BlockEntry[] | undefined {
    const c = this.frames.get(key);
    if (c === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.frames.delete(key);
    this.frames.set(key, c);
    return c.entries;
  }

  /** Keeps a frame decoded whole; one larger than a quarter of the budget is not kept. */
  put(key: string, entries: BlockEntry[]): void {
    let bytes = FRAME_OVERHEAD + key.length;
    for (const e of entries) {
      bytes += ENTRY_OVERHEAD + 2 * e.line.length;
      if (e.attrs !== undefined) for (const k in e.attrs) bytes += 48 + 2 * (k.length + e.attrs[k]!.length);
    }
    if (bytes > this.maxBytes / 4 || this.frames.has(key)) return;
    this.frames.set(key, { entries, bytes });
    this.held += bytes;
    for (const [k, c] of this.frames) {
      if (this.held <= this.maxBytes) break;
      this.frames.delete(k);
      this.held -= c.bytes;
    }
  }
}
