/**
 * Frame heads kept in memory, per segment and stream, so that a count or a needle read that goes
 * by heads reads none from LevelDB twice while the segment does not change (docs/STORAGE.md,
 * "Frame heads"). A cached stream is valid for one generation of its segment: every batch that may
 * change the segment's heads (a write, a compaction) moves the generation on when it starts, and
 * while one runs nothing is taken from or put in the cache, since a snapshot taken then may see the
 * batch or not. A cursor reads the generation in the same tick as it takes its LevelDB snapshot,
 * so what it finds cached for that generation is exactly what the snapshot holds.
 */
import type * as K from './keys';
import type { Segment } from './segments';

/** One frame as its head says, with its frame key. */
export interface CachedHead {
  /** The frame's key (tag TAG_FRAME). */
  key: Buffer;
  minTs: bigint;
  head: K.FrameHead;
  /** Its v2 header with the token filter (`T 47`): null until read, undefined when the segment has none for it. */
  filter: Uint8Array | undefined | null;
}

/** One stream's heads in one segment, in key order, as of one generation of the segment. */
export interface StreamHeads {
  /** The segment and stream, as the cache keys them. */
  id: string;
  gen: number;
  heads: CachedHead[];
  /** What the entry holds, as counted against the cache's budget. */
  bytes: number;
}

// What an entry and a head cost beside their bytes (objects, the key string, the map slot).
const ENTRY_OVERHEAD = 160;
const HEAD_OVERHEAD = 120;

/** The heads of recently read streams, within a byte budget, the least recently used dropped first. */
export class HeadCache {
  private readonly entries = new Map<string, StreamHeads>();
  private held = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes the cache holds now. */
  get bytes(): number {
    return this.held;
  }

  /** The generation a snapshot of `seg` taken in this tick holds, or null while a batch that may change its heads runs. */
  static stableGen(seg: Segment): number | null {
    return seg.headsChanging > 0 ? null : seg.headsGen;
  }

  /** A stream's heads cached for generation `gen` of its segment. */
  get(seg: Segment, streamId: bigint, gen: number): StreamHeads | undefined {
    const key = entryKey(seg, streamId);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.gen !== gen) {
      this.held -= entry.bytes;
      return undefined;
    }
    this.entries.set(key, entry);
    return entry;
  }

  /** Caches a stream's heads, read from a snapshot of generation `gen`; returns the entry (cached or not, when over budget). */
  put(seg: Segment, streamId: bigint, gen: number, heads: CachedHead[]): StreamHeads {
    let bytes = ENTRY_OVERHEAD;
    for (const h of heads) bytes += HEAD_OVERHEAD + h.key.length + h.head.bytes.length;
    const key = entryKey(seg, streamId);
    const entry: StreamHeads = { id: key, gen, heads, bytes };
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.held -= old.bytes;
    }
    if (bytes > this.maxBytes / 4) return entry;
    this.entries.set(key, entry);
    this.held += bytes;
    this.evict();
    return entry;
  }

  /** Notes a filter read into a cached head of `entry` (its bytes now count). */
  addFilter(entry: StreamHeads, head: CachedHead, filter: Uint8Array | undefined): void {
    head.filter = filter;
    const bytes = filter?.length ?? 0;
    entry.bytes += bytes;
    // Only an entry still in the cache holds memory the cache must answer for.
    if (this.entries.get(entry.id) === entry) {
      this.held += bytes;
      this.evict();
    }
  }

  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.held <= this.maxBytes) return;
      this.entries.delete(key);
      this.held -= entry.bytes;
    }
  }
}

function entryKey(seg: Segment, streamId: bigint): string {
  return `${seg.id}/${streamId}`;
}
