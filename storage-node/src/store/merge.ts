/**
 * The k-way merge of a read: one heap over segments, streams, frames and cursors over decoded
 * frames, whose keys bound what each can still yield in the total order of entries (DESIGN
 * Guarantee 5), so a segment is opened, a stream fetched and a frame decompressed only when the
 * merge reaches it. docs/STORAGE.md, "Reading".
 */
import type { BlockEntry } from '../../../core/src/block-format';
import { type NeedleSet, decodeStoredFrame } from '../../../core/src/stored-frame';
import { BinaryHeap } from '../../../core/src/binary-heap';
import { BlockFormatError } from '../../../core/src/errors';
import type { Labels } from '../../../core/src/labels';
import type { CompiledMatcher } from '../../../core/src/matchers';
import { comparePositions, type EntryPosition } from '../../../core/src/position';
import * as K from './keys';
import type { Registry, RegistryEntry } from './registry';
import { type FrameCursor, type FrameSkip, openFrameCursor } from './frame-cursor';
import { FrameCache } from './frame-cache';
import type { HeadCache } from './head-cache';
import { type ScanAhead, keptEntries } from './scan-ahead';
import type { Db, HandleCache, Segment } from './segments';

/** One entry as a read returns it; `labels` is shared by the entries of a stream and must not be mutated. */
export interface StoredEntry extends EntryPosition {
  tenant: string;
  labels: Labels;
  line: string;
  attrs?: Record<string, string>;
}

/** Work counters of a read or scan; each adds to them. */
export interface ReadStats {
  entriesScanned: number;
  bytesDecompressed: number;
  framesRead: number;
}

/** What one merged read wants, its time range already narrowed by `after`. */
export interface MergeContext {
  prefix: Buffer;
  tenant: string;
  matchers: readonly CompiledMatcher[];
  start: bigint;
  end: bigint;
  forward: boolean;
  after: EntryPosition | undefined;
  limit: number;
  lineFilter: ((line: string) => boolean) | undefined;
  mustContain: NeedleSet | undefined;
  /** Where the read's frames are decoded and filtered off the main thread, with the filters `lineFilter` was compiled from. */
  scan: ScanAhead | undefined;
  /** Frames decoded whole by earlier reads (frame-cache.ts); a frame held there is neither decompressed nor sent to the threads. */
  frames: FrameCache | undefined;
  stats: ReadStats;
}

// Frames read from LevelDB per native call of a stream's iterator (also capped by its 16 KiB
// highWaterMarkBytes, so a read that stops early has fetched little).
const STREAM_BATCH = 32;
// Streams of a segment whose first fetch starts as soon as the segment is opened.
const PREFETCH_STREAMS = 64;
// Segments of a read opened at once, before the merge reaches them.
const PREFETCH_SEGMENTS = 16;

const ITEM_SEGMENT = 0;
const ITEM_STREAM = 1;
const ITEM_FRAME = 2;
const ITEM_CURSOR = 3;
const OFFSET_MAX = 1n << 64n;

/** An item for one original frame (`run`) of a compacted frame item, in the same stream. */
function runItem(item: Item, run: { offset: bigint; frame: number }): Item {
  const c = new Item();
  c.stream = item.stream;
  c.streamId = item.streamId;
  c.partition = item.partition;
  c.offset = run.offset;
  c.frame = run.frame;
  return c;
}

/** Compares a frame's place (ts, streamId, partition, offset, frame) with a point's, ignoring the entry index. */
export function compareFramePlace(ts: bigint, streamId: bigint, partition: number, offset: bigint, frame: number, b: EntryPosition): number {
  if (ts !== b.ts) return ts < b.ts ? -1 : 1;
  if (streamId !== b.streamId) return streamId < b.streamId ? -1 : 1;
  if (partition !== b.partition) return partition < b.partition ? -1 : 1;
  if (offset !== b.offset) return offset < b.offset ? -1 : 1;
  if (frame !== b.frame) return frame < b.frame ? -1 : 1;
  return 0;
}

/**
 * Indices of a frame's entries that `keep` accepts (all when keep is null), sorted by (ts, index)
 * ascending: a frame keeps push order, so timestamps may go backwards within it.
 */
export function frameEntryOrder(entries: readonly { ts: bigint }[], keep: ((ts: bigint, index: number) => boolean) | null): Int32Array {
  const n = entries.length;
  let sorted = true;
  let count = 0;
  let prev: bigint | undefined;
  const picked = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const ts = entries[i]!.ts;
    if (keep !== null && !keep(ts, i)) continue;
    if (prev !== undefined && ts < prev) sorted = false;
    prev = ts;
    picked[count++] = i;
  }
  const order = count === n ? picked : picked.subarray(0, count);
  if (!sorted) {
    order.sort((a, b) => {
      const ta = entries[a]!.ts;
      const tb = entries[b]!.ts;
      return ta === tb ? a - b : ta < tb ? -1 : 1;
    });
  }
  return order;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** A segment a read will visit, as it was when the read started. */
interface SegmentRead {
  seg: Segment;
  maxOffset: bigint;
  minTs: bigint;
  maxTs: bigint;
  db: Db | null;
  /** Streams of this segment still feeding the merge; the handle is released at 0. */
  live: number;
  /** The handle pinned and the matching streams listed, started ahead of the merge for the first segments. */
  opening: Promise<RegistryEntry[]> | null;
}

/** A fetched frame that can contribute to the read: its value, key fields and value header. */
interface WantedFrame {
  value: Uint8Array;
  k: K.FrameKeyFields;
  h: K.FrameValueHeader;
  /** Its key in the decoded-frame cache, made once when fetched ('' without a cache). */
  cacheKey: string;
}

/** One batch of a stream's frames: those wanted, and whether the stream had none left to give. */
interface FrameBatch {
  frames: WantedFrame[];
  last: boolean;
}

/** One matching stream of one segment: an iterator over its frames in key order. */
interface StreamRead {
  read: SegmentRead;
  labels: Labels;
  span: bigint;
  it: FrameCursor | null;
  /** The first fetch, started when the segment was expanded. */
  pending: Promise<FrameBatch> | null;
  buf: WantedFrame[];
  pos: number;
  done: boolean;
}

/** A heap item of a read. Its key is a bound on everything it will still yield (lower when forward, upper when backward), exact for cursors. */
class Item implements EntryPosition {
  ts = 0n;
  streamId = 0n;
  partition = 0;
  offset = 0n;
  frame = 0;
  index = 0;
  kind = ITEM_SEGMENT;
  segment: SegmentRead | null = null;
  stream: StreamRead | null = null;
  value: Uint8Array | null = null;
  /** The header of `value`, read once when the frame was listed. */
  header: K.FrameValueHeader | null = null;
  /** The frame's key in the decoded-frame cache ('' without one). */
  cacheKey = '';
  entries: BlockEntry[] | null = null;
  order: Int32Array | null = null;
  /** A cursor over the entries a scan thread kept: each one's index in its frame (null: `entries` holds the frame whole). */
  indexes: Int32Array | null = null;
  pos = 0;
}

function setLowBound(item: Item, ts: bigint, offset: bigint, rest: number): void {
  item.ts = ts;
  if (item.kind === ITEM_SEGMENT) {
    item.streamId = -1n;
    item.partition = -Infinity;
  }
  item.offset = offset;
  item.frame = rest;
  item.index = rest;
}

function setHighBound(item: Item, ts: bigint, offset: bigint, rest: number): void {
  item.ts = ts;
  if (item.kind === ITEM_SEGMENT) {
    item.streamId = OFFSET_MAX;
    item.partition = Infinity;
  }
  item.offset = offset;
  item.frame = rest;
  item.index = rest;
}

/** A segment of a read's plan, as it was when the read started. */
export interface PlannedSegment {
  seg: Segment;
  /** Only blocks below this offset are read (the snapshot). */
  maxOffset: bigint;
  /** The segment's time range then; it meets the read's range. */
  minTs: bigint;
  maxTs: bigint;
}

/** What a read merges: its context and its plan. */
export interface MergePlan {
  ctx: MergeContext;
  segments: readonly PlannedSegment[];
}

/**
 * Runs one read's merge: `prepare` is called at the first `next()` (so the plan is fixed then, and
 * its errors come out of the iteration) and returns what to merge, or null for nothing. Every
 * handle and iterator is let go when the merge ends or is returned.
 */
export async function* mergeRead(handles: HandleCache, registry: Registry, headCache: HeadCache | null, prepare: () => MergePlan | null): AsyncGenerator<StoredEntry> {
  const plan = prepare();
  if (plan === null) return;
  const { ctx } = plan;
  const { lineFilter, limit, tenant } = ctx;
  const m = new MergeState(ctx, handles, registry, headCache);
  const { heap, before } = m;
  for (const p of plan.segments) m.addSegment(p);
  const step = ctx.forward ? 1 : -1;
  // The segments the merge reaches first are opened and matched at once: each costs LevelDB round
  // trips on the thread pool, which overlap instead of adding up one segment after the other.
  const first = heap.toArray().sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0)).slice(0, PREFETCH_SEGMENTS);
  for (const item of first) m.openSegmentRead(item.segment!);
  let emitted = 0;
  try {
    while (heap.size > 0) {
      const top = heap.peek()!;
      if (top.kind === ITEM_CURSOR) {
        // Emit a run from this frame while it stays ahead of every other item: no heap work per entry.
        const entries = top.entries!;
        const order = top.order!;
        const indexes = top.indexes;
        // The scan threads applied the line filter already.
        const filter = indexes === null ? lineFilter : undefined;
        const labels = top.stream!.labels;
        const rival = heap.runnerUp();
        let pos = top.pos;
        for (;;) {
          const i = order[pos]!;
          const e = entries[i]!;
          if (filter === undefined || filter(e.line)) {
            const index = indexes === null ? i : indexes[i]!;
            const out: StoredEntry = { ts: e.ts, streamId: top.streamId, partition: top.partition, offset: top.offset, frame: top.frame, index, tenant, labels, line: e.line };
            if (e.attrs !== undefined) out.attrs = e.attrs;
            yield out;
            if (++emitted >= limit) return;
          }
          pos += step;
          if (pos < 0 || pos >= order.length) {
            heap.pop();
            break;
          }
          const j = order[pos]!;
          top.pos = pos;
          top.ts = entries[j]!.ts;
          top.index = indexes === null ? j : indexes[j]!;
          if (rival !== undefined && !before(top, rival)) {
            heap.updateTop();
            break;
          }
        }
        continue;
      }
      heap.pop();
      if (top.kind === ITEM_FRAME) {
        if (m.scannable(top)) await m.scanFrameItem(top);
        else m.decodeFrameItem(top);
      } else if (top.kind === ITEM_STREAM) await m.advanceStream(top);
      else await m.expandSegment(top);
    }
  } finally {
    // A segment still opening is released below only once it holds its handle.
    for (const item of first) await item.segment!.opening?.catch(() => undefined);
    await m.close();
  }
}

/** The state of one read's merge and its steps; `mergeRead` drives it. */
class MergeState {
  readonly before: (a: Item, b: Item) => boolean;
  readonly heap: BinaryHeap<Item>;
  /** Segments whose handle this read pins. */
  private readonly held = new Set<SegmentRead>();
  /** Streams with an open iterator. */
  private readonly iterators = new Set<StreamRead>();
  /** What the streams' cursors skip: frames whose token filter rules out a needle, never read. */
  private readonly skip: FrameSkip;

  constructor(
    private readonly ctx: MergeContext,
    private readonly handles: HandleCache,
    private readonly registry: Registry,
    private readonly headCache: HeadCache | null,
  ) {
    this.before = ctx.forward ? (a, b) => comparePositions(a, b) < 0 : (a, b) => comparePositions(a, b) > 0;
    this.heap = new BinaryHeap<Item>(this.before);
    const { start, end, stats } = ctx;
    this.skip =
      ctx.mustContain === undefined
        ? {}
        : {
            needles: ctx.mustContain,
            // As for a frame its decoder rules out: every entry in range was looked at, by the filter.
            onSkip: ({ header: h }) => {
              if (h.maxTs >= start && h.minTs < end) stats.entriesScanned += h.entryCount;
            },
          };
  }

  /** Pushes a segment of the plan, bounded by its time range. */
  addSegment(p: PlannedSegment): void {
    const { start, end, forward } = this.ctx;
    const item = new Item();
    item.kind = ITEM_SEGMENT;
    item.segment = { seg: p.seg, maxOffset: p.maxOffset, minTs: p.minTs, maxTs: p.maxTs, db: null, live: 0, opening: null };
    if (forward) setLowBound(item, maxBig(p.minTs, start), -1n, -Infinity);
    else setHighBound(item, minBig(p.maxTs, end - 1n), OFFSET_MAX, Infinity);
    this.heap.push(item);
  }

  /** Closes the iterators still open and releases the handles still pinned. */
  async close(): Promise<void> {
    for (const s of this.iterators) {
      if (s.pending !== null) await s.pending.catch(() => undefined);
      await s.it!.close().catch(() => undefined);
    }
    for (const r of this.held) this.handles.release(r.seg);
  }

  /** Pins a segment's handle for the read (released with `held`) and lists its matching streams; once per segment. */
  openSegmentRead(r: SegmentRead): Promise<RegistryEntry[]> {
    r.opening ??= (async () => {
      // Removed by retention or drop since the read started: its entries are gone.
      if (r.seg.doomed) return [];
      const db = await this.handles.acquire(r.seg);
      this.held.add(r);
      r.db = db;
      return this.registry.matchStreams(r.seg, db, this.ctx);
    })();
    // Awaited by expandSegment, or by the read's cleanup: never an unhandled rejection.
    r.opening.catch(() => undefined);
    return r.opening;
  }

  private openStream(s: StreamRead, streamId: bigint): void {
    const ctx = this.ctx;
    // A compaction may have widened the span since this read loaded the registry: an iterator created now sees no frame wider than this.
    s.span = this.registry.streamSpan(s.read.seg, ctx.tenant, streamId, s.span);
    // Frames are keyed by minTs; one holding an entry ≥ start has minTs ≥ start − span.
    const scope = { prefix: ctx.prefix, streamId, fromTs: ctx.start - s.span, toTs: ctx.end, reverse: !ctx.forward };
    s.it = openFrameCursor(s.read.db!, s.read.seg, scope, this.skip, this.headCache);
    this.iterators.add(s);
    s.pending = this.fetch(s, streamId);
    // Awaited later (or never, if the read stops first): never an unhandled rejection.
    s.pending.catch(() => undefined);
  }

  async expandSegment(item: Item): Promise<void> {
    const ctx = this.ctx;
    const r = item.segment!;
    const matched = await this.openSegmentRead(r);
    for (const m of matched) {
      const s: StreamRead = { read: r, labels: m.labels, span: m.span, it: null, pending: null, buf: [], pos: 0, done: false };
      const si = new Item();
      si.kind = ITEM_STREAM;
      si.stream = s;
      si.streamId = m.streamId;
      si.partition = r.seg.partition;
      if (ctx.forward) setLowBound(si, maxBig(r.minTs, ctx.start), -1n, -Infinity);
      else setHighBound(si, minBig(r.maxTs, ctx.end - 1n), OFFSET_MAX, Infinity);
      // The first streams' first fetches start now, so their latencies overlap on the thread pool;
      // with many streams the rest open when the merge reaches them.
      if (r.live < PREFETCH_STREAMS) this.openStream(s, m.streamId);
      r.live++;
      this.heap.push(si);
    }
    if (r.live === 0 && this.held.delete(r)) this.handles.release(r.seg);
  }

  /** A stream's fetched frame with its key fields and value header, or null when it cannot contribute to the read. */
  private wanted(s: StreamRead, streamId: bigint, key: Uint8Array, value: Uint8Array): WantedFrame | null {
    const { start, end, forward, after, prefix } = this.ctx;
    const k = K.decodeFrameKey(key, prefix.length);
    const h = K.readFrameValueHeader(value);
    if (h.maxTs < start || h.minTs >= end) return null;
    // A compacted frame holds many offsets; its original frames are checked one by one once decoded.
    const cacheKey = this.ctx.frames === undefined ? '' : FrameCache.keyOf(s.read.seg, streamId, h);
    if (h.layout === K.COMPACTED_VALUE_LAYOUT) return { value, k, h, cacheKey };
    if (k.offset >= s.read.maxOffset) return null;
    if (after !== undefined) {
      const partition = s.read.seg.partition;
      if (forward && compareFramePlace(h.maxTs, streamId, partition, k.offset, k.frame, after) < 0) return null;
      if (!forward && compareFramePlace(h.minTs, streamId, partition, k.offset, k.frame, after) > 0) return null;
    }
    return { value, k, h, cacheKey };
  }

  /** The next batch of a stream's frames, those wanted kept; with scan threads, they are offered to them as the batch arrives. */
  private async fetch(s: StreamRead, streamId: bigint): Promise<FrameBatch> {
    const raw = await s.it!.nextv(STREAM_BATCH);
    const frames: WantedFrame[] = [];
    for (const [key, value] of raw) {
      const w = this.wanted(s, streamId, key, value);
      if (w !== null) frames.push(w);
    }
    const cache = this.ctx.frames;
    this.ctx.scan?.offer(cache === undefined ? frames : frames.filter((f) => !cache.has(f.cacheKey)));
    return { frames, last: raw.length === 0 };
  }

  /** Reads a stream's next frame that can contribute and pushes it, then re-pushes the stream with a bound on its unread frames. */
  async advanceStream(item: Item): Promise<void> {
    const s = item.stream!;
    const r = s.read;
    const { end, forward } = this.ctx;
    if (s.it === null) this.openStream(s, item.streamId);
    const it = s.it!;
    for (;;) {
      if (s.pos >= s.buf.length) {
        if (s.done) break;
        const pending = s.pending;
        s.pending = null;
        const batch = await (pending ?? this.fetch(s, item.streamId));
        s.buf = batch.frames;
        s.pos = 0;
        s.done = batch.last;
        continue;
      }
      const { value, k, h, cacheKey } = s.buf[s.pos++]!;
      if (s.pos >= s.buf.length && s.pending === null) {
        // Double buffering: the next batch is fetched while this one is merged.
        s.pending = this.fetch(s, item.streamId);
        s.pending.catch(() => undefined);
      }
      const compacted = h.layout === K.COMPACTED_VALUE_LAYOUT;
      const f = new Item();
      f.kind = ITEM_FRAME;
      f.stream = s;
      f.value = value;
      f.header = h;
      f.cacheKey = cacheKey;
      f.streamId = item.streamId;
      f.partition = item.partition;
      f.offset = k.offset;
      f.frame = k.frame;
      if (forward) {
        f.ts = h.minTs;
        f.index = -Infinity;
        // Unread frames come after this one in key order (minTs, offset, frame).
        item.ts = k.minTs;
        item.offset = k.offset;
        item.frame = k.frame;
        item.index = Infinity;
      } else {
        f.ts = minBig(h.maxTs, end - 1n);
        f.index = Infinity;
        if (compacted) {
          // Its newest entries may come from any of its original frames.
          f.offset = OFFSET_MAX;
          f.frame = Infinity;
        }
        // Unread frames have minTs ≤ this one's, so every entry of theirs is ≤ minTs + span.
        item.ts = minBig(k.minTs + s.span, end - 1n);
        item.offset = OFFSET_MAX;
        item.frame = Infinity;
        item.index = Infinity;
      }
      this.heap.push(f);
      this.heap.push(item);
      return;
    }
    this.iterators.delete(s);
    await it.close();
    if (--r.live === 0) {
      this.held.delete(r);
      this.handles.release(r.seg);
    }
  }

  /** Whether a frame item is decoded on the scan threads. */
  scannable(item: Item): boolean {
    const { scan, frames } = this.ctx;
    if (scan === undefined || !scan.takes(item.header!)) return false;
    return frames === undefined || !frames.has(item.cacheKey);
  }

  /** As decodeFrameItem, for a frame scanned on a thread: pushes cursors over the entries it kept. */
  async scanFrameItem(item: Item): Promise<void> {
    const h = item.header!;
    const kept = await this.ctx.scan!.take(item.value!, h);
    const value = item.value!;
    item.value = null;
    item.header = null;
    const st = this.ctx.stats;
    st.framesRead++;
    st.bytesDecompressed += h.rawLength;
    st.entriesScanned += h.entryCount;
    if (kept === null || kept.indexes.length === 0) return;
    if (h.layout !== K.COMPACTED_VALUE_LAYOUT) {
      if (this.toCursor(item, keptEntries(kept, 0, kept.indexes.length), h, kept.indexes)) this.heap.push(item);
      return;
    }
    const maxOffset = item.stream!.read.maxOffset;
    const { indexes } = kept;
    let at = 0;
    let k = 0;
    for (const run of K.frameValueRuns(value)) {
      const from = k;
      while (k < indexes.length && indexes[k]! < at + run.count) k++;
      const base = at;
      at += run.count;
      if (run.offset >= maxOffset || k === from) continue;
      const c = runItem(item, run);
      const local = indexes.slice(from, k);
      for (let i = 0; i < local.length; i++) local[i]! -= base;
      if (this.toCursor(c, keptEntries(kept, from, k), h, local)) this.heap.push(c);
    }
    if (at !== h.entryCount) throw new BlockFormatError('SILT_BLOCK_CORRUPT', `compacted frame: runs hold ${at} entries, the frame ${h.entryCount}`);
  }

  /** Decompresses a frame item and pushes a cursor over the entries it holds that are wanted (one per original frame of a compacted one). */
  decodeFrameItem(item: Item): void {
    const ctx = this.ctx;
    const value = item.value!;
    const h = item.header!;
    item.value = null;
    item.header = null;
    const cache = ctx.frames;
    const key = item.cacheKey;
    const st = ctx.stats;
    st.framesRead++;
    let entries = cache?.get(key) ?? null;
    if (entries === null) {
      // Only the lines in range are made strings: the cursors below yield no other entry.
      entries = decodeStoredFrame(h.version, K.frameValueBytes(value), h.rawLength, h.frameCrc, ctx.mustContain, ctx);
      st.bytesDecompressed += h.rawLength;
      // A frame the read's range covers was decoded whole: any later read can use it.
      if (entries !== null && cache !== undefined && h.minTs >= ctx.start && h.maxTs < ctx.end) cache.put(key, entries);
    }
    // A frame skipped by its bytes had every entry looked at, just not one by one.
    st.entriesScanned += entries?.length ?? h.entryCount;
    if (entries === null) return;
    if (h.layout !== K.COMPACTED_VALUE_LAYOUT) {
      if (this.toCursor(item, entries, h)) this.heap.push(item);
      return;
    }
    // Each original frame keeps its own place in the entry order: (offset, frame, index within it).
    const maxOffset = item.stream!.read.maxOffset;
    let at = 0;
    for (const run of K.frameValueRuns(value)) {
      const part = entries.slice(at, at + run.count);
      at += run.count;
      if (run.offset >= maxOffset) continue;
      const c = runItem(item, run);
      if (this.toCursor(c, part, h)) this.heap.push(c);
    }
    if (at !== entries.length) throw new BlockFormatError('SILT_BLOCK_CORRUPT', `compacted frame: runs hold ${at} entries, the frame ${entries.length}`);
  }

  /**
   * Makes `item` a cursor over `entries` in order, keeping those in range and past `after`; false
   * when none is. `indexes` gives each entry's index in its frame when `entries` are only some.
   */
  private toCursor(item: Item, entries: BlockEntry[], h: K.FrameValueHeader, indexes: Int32Array | null = null): boolean {
    const { start, end, after, forward } = this.ctx;
    let keep: ((ts: bigint, index: number) => boolean) | null = null;
    const cutsTime = h.minTs < start || h.maxTs >= end;
    // Only a frame whose range reaches `after` needs the entry-by-entry comparison.
    const cutsAfter =
      after !== undefined &&
      (forward
        ? compareFramePlace(h.minTs, item.streamId, item.partition, item.offset, item.frame, after) <= 0
        : compareFramePlace(h.maxTs, item.streamId, item.partition, item.offset, item.frame, after) >= 0);
    if (cutsAfter) {
      const a = after!;
      const place = compareFramePlace(a.ts, item.streamId, item.partition, item.offset, item.frame, a);
      keep = (ts, i) => {
        if (ts < start || ts >= end) return false;
        const c = ts !== a.ts ? (ts < a.ts ? -1 : 1) : place !== 0 ? place : i < a.index ? -1 : i > a.index ? 1 : 0;
        return forward ? c > 0 : c < 0;
      };
    } else if (cutsTime) {
      keep = (ts) => ts >= start && ts < end;
    }
    const inFrame = keep === null || indexes === null ? keep : (ts: bigint, i: number): boolean => keep(ts, indexes[i]!);
    const order = frameEntryOrder(entries, inFrame);
    if (order.length === 0) return false;
    item.kind = ITEM_CURSOR;
    item.entries = entries;
    item.order = order;
    item.indexes = indexes;
    item.pos = forward ? 0 : order.length - 1;
    const j = order[item.pos]!;
    item.ts = entries[j]!.ts;
    item.index = indexes === null ? j : indexes[j]!;
    return true;
  }
}
