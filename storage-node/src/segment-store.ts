/**
 * The storage node's segment store: each partition is a sequence of segments, one classic-level
 * database each, holding a contiguous offset range. Blocks are applied exactly once (the applied
 * offset is in the same batch as the data), frames are stored as they came (still zstd), and reads
 * merge every matching stream in the total order of DESIGN Guarantee 5. docs/STORAGE.md.
 */
import { promises as fsp } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { ClassicLevel, type Iterator as LevelIterator } from 'classic-level';
import { BLOCK_FORMAT_VERSION, type BlockEntry, type BlockHeader, decodeFrameBytes, encodeFrame, readBlockHeader } from '../../core/src/block-format';
import { BlockFormatError } from '../../core/src/errors';
import type { Labels } from '../../core/src/labels';
import { type CompiledMatcher, matchesAll } from '../../core/src/matchers';
import * as K from './keys';
import { type SegmentMeta, decodeSegmentMeta, emptyMeta, encodeSegmentMeta, fsyncDir, readManifest, writeManifest } from './manifest';
import { comparePositions, type EntryPosition } from '../../core/src/position';
import { BinaryHeap } from '../../core/src/binary-heap';
import { compareFramePlace, frameEntryOrder } from './merge';

/** Where and how a store keeps its segments. */
export interface SegmentStoreOptions {
  /** The node's data dir; one sub-dir per partition, one LevelDB per segment. */
  dir: string;
  /** Roll the active segment when its stored bytes pass this. */
  maxSegmentBytes: number;
  /** ...or when it is older than this (wall clock since it was created). */
  maxSegmentAgeMs: number;
  /** LRU bound on open classic-level handles across all partitions (handles in use are never closed, so it may be passed while reads overlap). */
  maxOpenSegments: number;
  /** Entries a merged frame aims at (default 2048); frames under half of it are merged per stream. */
  mergeTargetEntries?: number;
}
/** One Kafka message of a partition: its offset and its value (a block). */
export interface IncomingBlock {
  offset: bigint;
  value: Uint8Array;
}
/** What one `write` did. */
export interface ApplyResult {
  entries: number;
  blocks: number;
  skipped: number;
  corrupt: number;
  bytes: number;
}
/** What the store holds of one partition. */
export interface PartitionState {
  partition: number;
  /** Next offset to apply, 0n if nothing. */
  appliedOffset: bigint;
  minTs: bigint | null;
  maxTs: bigint | null;
  segments: number;
  bytes: number;
  entries: number;
}
/** One entry as a read returns it; `labels` is shared by the entries of a stream and must not be mutated. */
export interface StoredEntry extends EntryPosition {
  tenant: string;
  labels: Labels;
  line: string;
  attrs?: Record<string, string>;
}
/** A time-range read of one tenant's matching streams. */
export interface ReadRequest {
  tenant: string;
  matchers: readonly CompiledMatcher[];
  /** Inclusive, ns. */
  start: bigint;
  /** Exclusive, ns. */
  end: bigint;
  direction: 'forward' | 'backward';
  /** Stop after this many entries. */
  limit: number;
  /** Default: all this store holds. */
  partitions?: readonly number[];
  /** Resume strictly after this position in the given direction (paging). */
  after?: EntryPosition;
  /** Snapshot: per partition, only blocks with offset < this value (a partition absent here is read up to its applied offset at the start of the read). */
  maxOffsets?: ReadonlyMap<number, bigint>;
  /** Applied before counting toward limit. */
  lineFilter?: (line: string) => boolean;
  /** UTF-8 byte strings every line `lineFilter` keeps contains: a frame lacking one is skipped before its entries are decoded. */
  mustContain?: readonly Uint8Array[];
}
/** A scan of the stored frames of a tenant's matching streams, stream by stream, in no order across streams. */
export type FrameScanRequest = Pick<ReadRequest, 'tenant' | 'matchers' | 'start' | 'end' | 'partitions' | 'maxOffsets'>;
/** One stored frame of a scan: a frame with an entry in the scan's range, of a stream that matches. */
export interface StoredFrame {
  streamId: bigint;
  /** The stream's labels; shared, not to be mutated. */
  labels: Labels;
  partition: number;
  header: K.FrameValueHeader;
  /** The frame's zstd bytes (decodeFrameBytes, decodeFrameTimes). */
  bytes: Uint8Array;
  /**
   * The entries the scan's snapshot holds, as index ranges [from, to) in the frame's order, flat;
   * null when it holds all of them (a merged frame may hold original frames applied after it).
   */
  kept: number[] | null;
}
/** A series lookup: which streams of a tenant match, in a time range. */
export interface SeriesRequest {
  tenant: string;
  matchers: readonly CompiledMatcher[];
  start: bigint;
  end: bigint;
  partitions?: readonly number[];
}
/** Work counters of a read; `read` adds to them. */
export interface ReadStats {
  entriesScanned: number;
  bytesDecompressed: number;
  framesRead: number;
}

type Db = ClassicLevel<Uint8Array, Uint8Array>;
type DbIterator = LevelIterator<Db, Uint8Array, Uint8Array>;
type PutOp = { type: 'put'; key: Uint8Array; value: Uint8Array };
type DelOp = { type: 'del'; key: Uint8Array };

// Every segment is small and many are open: keep LevelDB's per-database memory small. Frames are
// already zstd, so LevelDB's own compression is off.
const DB_OPTIONS = {
  keyEncoding: 'view',
  valueEncoding: 'view',
  compression: false,
  cacheSize: 1024 * 1024,
  writeBufferSize: 4 * 1024 * 1024,
  blockSize: 16 * 1024,
  maxFileSize: 8 * 1024 * 1024,
  maxOpenFiles: 100,
} as const;

// Frames read from LevelDB per native call of a stream's iterator (also capped by its 16 KiB
// highWaterMarkBytes, so a read that stops early has fetched little).
const STREAM_BATCH = 32;
// Streams of a segment whose first fetch starts as soon as the segment is opened.
const PREFETCH_STREAMS = 64;
// Frames of a stream fetched per native call of a scan's iterator.
const SCAN_BATCH = 64;
// Segments of a read opened at once, before the merge reaches them.
const PREFETCH_SEGMENTS = 16;

const ITEM_SEGMENT = 0;
const ITEM_STREAM = 1;
const ITEM_FRAME = 2;
const ITEM_CURSOR = 3;
const OFFSET_MAX = 1n << 64n;

// Frames are as small as the blocks ingest cut, and small frames compress poorly (zstd needs
// context). Frames under these sizes are merged, per stream, into frames of about the target size,
// recompressed at a level that pays off on that size (see docs/STORAGE.md, "Merging frames").
const MERGE_TARGET_ENTRIES = 2048;
const MERGE_TARGET_RAW_BYTES = 256 * 1024;
const MERGE_LEVEL = 6;
// Small frames tracked per segment, and merges queued; past these, new small frames stay unmerged
// (bounds the node's memory).
const MAX_PENDING_FRAMES = 50_000;
const MAX_QUEUED_MERGES = 20_000;
// Share of wall time merging may take while writes arrive (the rest it sleeps); with no write for
// WRITE_IDLE_MS it runs flat out.
const MERGE_DUTY = 0.1;
const WRITE_IDLE_MS = 1000;
// Bytes of deleted small frames after which a segment is compacted even while merges are queued.
const RECLAIM_BYTES = 16 * 1024 * 1024;
// Bounds of a compaction of a whole segment: every key starts at or after 00; a tenant prefix is
// at most 256 bytes and starts with its length (≤ 255), so no key reaches 257 bytes of FF.
const KEY_MIN = 0x00;
const ALL_KEYS_END = new Uint8Array(257).fill(0xff);

class Segment {
  db: Db | null = null;
  opening: Promise<Db> | null = null;
  closing: Promise<void> | null = null;
  /** Users of the handle (writes and reads); a used handle is never closed or removed. */
  refs = 0;
  lastUse = 0;
  doomed = false;
  /** Remove the directory when the last user leaves (retention); false for drop, which removes the partition itself. */
  autoRemove = true;
  removal: Promise<void> | null = null;
  idleWaiters: (() => void)[] = [];
  /** Writer's view of the stream registry: tenant → stream id → committed maxSpan. */
  streams: Map<string, Map<bigint, bigint>> | null = null;
  /** True when `streams` is known to list every registered stream (a segment this process created). */
  streamsComplete = false;
  /** Readers' cache of the decoded stream registry, per tenant; dropped with the handle. */
  registry = new Map<string, RegistryEntry[]>();
  /** Tenants whose registry a background scan was started for since the handle opened. */
  registryFills = new Set<string>();
  /** Bumped by every write that changes the registry, so a scan that raced a write is not cached. */
  registryVersion = 0;
  /** Small frames this process wrote here and has not merged yet, per tenant and stream. */
  pending = new Map<string, Map<bigint, PendingFrames>>();
  pendingFrames = 0;
  /** Per tenant and stream, at least the span of every merged frame committed or being committed by this process. */
  spanFloor = new Map<string, Map<bigint, bigint>>();
  /** Bytes of frames merges deleted that LevelDB still keeps on disk (until a compaction of the segment). */
  reclaimable = 0;

  constructor(
    readonly partition: number,
    readonly first: bigint,
    readonly dir: string,
    public meta: SegmentMeta,
  ) {}
}

class PartitionData {
  /** Ascending by first offset; the last one is the active segment. */
  segments: Segment[] = [];
  /** Segments removed from `segments` whose directory is not gone yet. */
  readonly doomed = new Set<Segment>();
  applied = 0n;
  lock: Promise<void> = Promise.resolve();
  manifestDirty = false;

  constructor(
    readonly partition: number,
    readonly dir: string,
  ) {}

  get active(): Segment | undefined {
    return this.segments[this.segments.length - 1];
  }
}

/** Small frames of one stream waiting to be merged into one. */
interface PendingFrames {
  prefix: Buffer;
  keys: Buffer[];
  entries: number;
  rawBytes: number;
}

/** Frames of one stream of one segment to merge into one. */
interface MergeJob {
  seg: Segment;
  tenant: string;
  streamId: bigint;
  frames: PendingFrames;
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

/** One matching stream of one segment: an iterator over its frames in key order. */
interface StreamRead {
  read: SegmentRead;
  labels: Labels;
  span: bigint;
  it: DbIterator | null;
  /** The first fetch, started when the segment was expanded. */
  pending: Promise<[Uint8Array, Uint8Array][]> | null;
  buf: [Uint8Array, Uint8Array][];
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
  entries: BlockEntry[] | null = null;
  order: Int32Array | null = null;
  pos = 0;
}

interface ReadContext {
  prefix: Buffer;
  tenant: string;
  matchers: readonly CompiledMatcher[];
  start: bigint;
  end: bigint;
  forward: boolean;
  after: EntryPosition | undefined;
  stats: ReadStats;
  mustContain: readonly Uint8Array[] | undefined;
}

/** Why a block is quarantined instead of stored. */
interface Quarantined {
  code: string;
  message: string;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

// Renames first so a crash mid-way leaves a `.deleting` directory (removed at open), never a
// half-deleted database under a segment's name.
async function removeDir(dir: string): Promise<void> {
  const doomed = `${dir}.deleting`;
  try {
    await fsp.rename(dir, doomed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await fsyncDir(path.dirname(dir));
  await fsp.rm(doomed, { recursive: true, force: true });
}

function newDb(dir: string, createIfMissing: boolean): Db {
  return new ClassicLevel<Uint8Array, Uint8Array>(dir, { ...DB_OPTIONS, createIfMissing, errorIfExists: createIfMissing });
}

async function readMetaOf(dir: string, first: bigint): Promise<SegmentMeta | null> {
  const db = newDb(dir, false);
  await db.open({ createIfMissing: false });
  try {
    const value = await db.get(K.META_KEY);
    if (value === undefined) return null;
    const meta = decodeSegmentMeta(value);
    if (meta.first !== first) throw new Error(`segment ${dir}: meta says first offset ${meta.first}`);
    return meta;
  } finally {
    await db.close();
  }
}

/** A stream of a segment's registry. */
interface RegistryEntry {
  streamId: bigint;
  labels: Labels;
  span: bigint;
}

// A tenant's registry, once scanned, is cached per open segment up to this many streams.
const REGISTRY_CACHE_MAX = 50_000;

async function scanRegistry(db: Db, prefix: Buffer): Promise<RegistryEntry[]> {
  const entries = await db.iterator(K.streamRange(prefix)).all();
  return entries.map(([key, value]) => {
    const { labels, maxSpan } = K.decodeStreamValue(value);
    return { streamId: K.streamIdOfStreamKey(key), labels, span: maxSpan };
  });
}

// An `=` matcher with a value names its streams through the label index; `=""` also matches
// streams without the label, which the index cannot list.
async function indexedStreams(db: Db, prefix: Buffer, eq: CompiledMatcher): Promise<RegistryEntry[]> {
  const keys = await db.keys(K.labelIndexRange(prefix, eq.name, eq.value)).all();
  if (keys.length === 0) return [];
  const ids = keys.map(K.streamIdOfLabelIndexKey);
  const values = await db.getMany(ids.map((id) => K.streamKey(prefix, id)));
  const out: RegistryEntry[] = [];
  for (let i = 0; i < ids.length; i++) {
    const value = values[i];
    if (value === undefined) continue;
    const { labels, maxSpan } = K.decodeStreamValue(value);
    out.push({ streamId: ids[i]!, labels, span: maxSpan });
  }
  return out;
}

function checkOptions(o: SegmentStoreOptions): void {
  if (typeof o.dir !== 'string' || o.dir === '') throw new RangeError('segment store: dir is required');
  if (!(o.maxSegmentBytes > 0)) throw new RangeError('segment store: maxSegmentBytes must be positive');
  if (!(o.maxSegmentAgeMs > 0)) throw new RangeError('segment store: maxSegmentAgeMs must be positive');
  if (!Number.isInteger(o.maxOpenSegments) || o.maxOpenSegments < 1) throw new RangeError('segment store: maxOpenSegments must be a positive integer');
  if (o.mergeTargetEntries !== undefined && !(Number.isInteger(o.mergeTargetEntries) && o.mergeTargetEntries >= 8)) throw new RangeError('segment store: mergeTargetEntries must be an integer ≥ 8');
}

function checkPartition(partition: number): void {
  if (!Number.isSafeInteger(partition) || partition < 0) throw new RangeError(`segment store: bad partition ${partition}`);
}

/** The segments of every partition a storage node holds, with exactly-once writes and ordered reads. */
export class SegmentStore {
  private readonly parts = new Map<number, PartitionData>();
  /** Segments whose handle is open, opening or closing. */
  private readonly openSet = new Set<Segment>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly mergeQueue: MergeJob[] = [];
  private merging = false;
  /** performance.now() of the last write that stored anything. */
  private lastWriteAt = -Infinity;
  /** Resolves when no merge of small frames is queued or running. */
  async mergesSettled(): Promise<void> {
    while (this.merging) await Promise.all([...this.background]);
  }

  /** Merges of small frames done (and the frames they replaced) and failed, since the store opened. */
  readonly mergeCounts = { merges: 0, frames: 0, failed: 0 };

  /** Streams whose small frames wait to be merged. */
  mergesQueued(): number {
    return this.mergeQueue.length + (this.merging ? 1 : 0);
  }
  private clock = 0;
  private closed = false;

  private readonly mergeTarget: number;

  private constructor(private readonly options: SegmentStoreOptions) {
    this.mergeTarget = options.mergeTargetEntries ?? MERGE_TARGET_ENTRIES;
  }

  /** Opens (or creates) the store in `options.dir`, recovering every partition from its segments. */
  static async open(options: SegmentStoreOptions): Promise<SegmentStore> {
    checkOptions(options);
    const store = new SegmentStore({ ...options });
    await fsp.mkdir(options.dir, { recursive: true });
    for (const name of await fsp.readdir(options.dir)) {
      const full = path.join(options.dir, name);
      if (name.endsWith('.deleting')) {
        await fsp.rm(full, { recursive: true, force: true });
        continue;
      }
      const partition = K.parsePartitionDirName(name);
      if (partition === null || !(await fsp.stat(full)).isDirectory()) continue;
      await store.loadPartition(partition, full);
    }
    return store;
  }

  /** Partitions with any data or applied offset, ascending. */
  partitions(): number[] {
    const out: number[] = [];
    for (const ps of this.parts.values()) if (ps.segments.length > 0 || ps.applied > 0n) out.push(ps.partition);
    return out.sort((a, b) => a - b);
  }

  /** What the store holds of a partition (zeros when it holds nothing). */
  state(partition: number): PartitionState {
    const ps = this.parts.get(partition);
    const out: PartitionState = { partition, appliedOffset: ps?.applied ?? 0n, minTs: null, maxTs: null, segments: 0, bytes: 0, entries: 0 };
    if (ps === undefined) return out;
    for (const seg of ps.segments) {
      const m = seg.meta;
      out.segments++;
      out.bytes += m.bytes;
      out.entries += m.entries;
      if (m.minTs !== null && (out.minTs === null || m.minTs < out.minTs)) out.minTs = m.minTs;
      if (m.maxTs !== null && (out.maxTs === null || m.maxTs > out.maxTs)) out.maxTs = m.maxTs;
    }
    return out;
  }

  /** The next offset to apply of a partition; 0n when unknown. */
  applied(partition: number): bigint {
    return this.parts.get(partition)?.applied ?? 0n;
  }

  /** Applies consecutive Kafka messages of one partition in ONE atomic LevelDB batch together with the new applied offset (nextOffset); blocks with offset < applied are skipped (replays are harmless). */
  async write(partition: number, blocks: readonly IncomingBlock[], nextOffset: bigint): Promise<ApplyResult> {
    this.checkOpen();
    checkPartition(partition);
    if (typeof nextOffset !== 'bigint' || nextOffset < 0n) throw new RangeError(`segment store: bad next offset ${String(nextOffset)}`);
    let prev = -1n;
    for (const b of blocks) {
      if (typeof b.offset !== 'bigint' || b.offset <= prev) throw new RangeError(`segment store: block offsets must be ascending bigints ≥ 0 (got ${String(b.offset)} after ${prev})`);
      prev = b.offset;
    }
    if (prev >= nextOffset) throw new RangeError(`segment store: next offset ${nextOffset} is not after the last block (${prev})`);
    const ps = this.partition(partition);
    return this.serialize(ps, () => this.applyLocked(ps, blocks, nextOffset));
  }

  /** Reads one tenant's matching entries of [start, end), ordered per DESIGN Guarantee 5. */
  async *read(request: ReadRequest, stats?: ReadStats): AsyncGenerator<StoredEntry> {
    this.checkOpen();
    const st = stats ?? { entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 };
    const forward = request.direction === 'forward';
    if (!forward && request.direction !== 'backward') throw new RangeError(`segment store: bad direction ${String(request.direction)}`);
    const { after, lineFilter, tenant, limit } = request;
    let { start, end } = request;
    if (after !== undefined) {
      if (forward && after.ts > start) start = after.ts;
      if (!forward && after.ts + 1n < end) end = after.ts + 1n;
    }
    const prefix = K.tenantPrefix(tenant);
    if (!(limit > 0) || start >= end || prefix === null) return;
    const ctx: ReadContext = { prefix, tenant, matchers: request.matchers, start, end, forward, after, stats: st, mustContain: request.mustContain?.length ? request.mustContain : undefined };
    const before = forward ? (a: Item, b: Item): boolean => comparePositions(a, b) < 0 : (a: Item, b: Item): boolean => comparePositions(a, b) > 0;
    const heap = new BinaryHeap<Item>(before);
    const step = forward ? 1 : -1;

    // The plan is fixed now: the segments each partition has and the offsets applied, so blocks
    // applied while the read runs are never seen.
    const seen = new Set<number>();
    for (const p of request.partitions ?? this.partitions()) {
      if (seen.has(p)) continue;
      seen.add(p);
      const ps = this.parts.get(p);
      if (ps === undefined) continue;
      const cap = request.maxOffsets?.get(p);
      const maxOffset = cap !== undefined && cap < ps.applied ? cap : ps.applied;
      for (const seg of ps.segments) {
        const m = seg.meta;
        if (seg.doomed || m.minTs === null || m.maxTs === null || seg.first >= maxOffset || m.maxTs < start || m.minTs >= end) continue;
        const item = new Item();
        item.kind = ITEM_SEGMENT;
        item.segment = { seg, maxOffset, minTs: m.minTs, maxTs: m.maxTs, db: null, live: 0, opening: null };
        if (forward) this.setLowBound(item, maxBig(m.minTs, start), -1n, -Infinity);
        else this.setHighBound(item, minBig(m.maxTs, end - 1n), OFFSET_MAX, Infinity);
        heap.push(item);
      }
    }

    const held = new Set<SegmentRead>();
    const iterators = new Set<StreamRead>();
    // The segments the merge reaches first are opened and matched at once: each costs LevelDB round
    // trips on the thread pool, which overlap instead of adding up one segment after the other.
    const first = heap.toArray().sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0)).slice(0, PREFETCH_SEGMENTS);
    for (const item of first) this.openSegmentRead(item.segment!, ctx, held);
    let emitted = 0;
    try {
      while (heap.size > 0) {
        const top = heap.peek()!;
        if (top.kind === ITEM_CURSOR) {
          // Emit a run from this frame while it stays ahead of every other item: no heap work per entry.
          const entries = top.entries!;
          const order = top.order!;
          const labels = top.stream!.labels;
          const rival = heap.runnerUp();
          let pos = top.pos;
          for (;;) {
            const i = order[pos]!;
            const e = entries[i]!;
            if (lineFilter === undefined || lineFilter(e.line)) {
              const out: StoredEntry = { ts: e.ts, streamId: top.streamId, partition: top.partition, offset: top.offset, frame: top.frame, index: i, tenant, labels, line: e.line };
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
            top.index = j;
            if (rival !== undefined && !before(top, rival)) {
              heap.updateTop();
              break;
            }
          }
          continue;
        }
        heap.pop();
        if (top.kind === ITEM_FRAME) {
          this.decodeFrameItem(top, ctx, heap);
        } else if (top.kind === ITEM_STREAM) {
          await this.advanceStream(top, ctx, heap, iterators, held);
        } else {
          await this.expandSegment(top, ctx, heap, held, iterators);
        }
      }
    } finally {
      // A segment still opening is released below only once it holds its handle.
      for (const item of first) await item.segment!.opening?.catch(() => undefined);
      for (const s of iterators) {
        if (s.pending !== null) await s.pending.catch(() => undefined);
        await s.it!.close().catch(() => undefined);
      }
      for (const r of held) this.release(r.seg);
    }
  }

  /**
   * The frames of a tenant's matching streams that hold entries in [start, end), within the same
   * snapshot a read would see, one stream after the other: for aggregations, which need each
   * entry once but no order across streams, so nothing is merged or decoded here. Entries outside
   * [start, end) that share a frame with entries inside are the caller's to skip.
   */
  async *frames(request: FrameScanRequest, stats?: ReadStats): AsyncGenerator<StoredFrame> {
    this.checkOpen();
    const { tenant, matchers, start, end } = request;
    const prefix = K.tenantPrefix(tenant);
    if (prefix === null || start >= end) return;
    // The plan is fixed now, as a read's is.
    const plan: { seg: Segment; maxOffset: bigint }[] = [];
    const seen = new Set<number>();
    for (const p of request.partitions ?? this.partitions()) {
      const ps = this.parts.get(p);
      if (seen.has(p) || ps === undefined) continue;
      seen.add(p);
      const cap = request.maxOffsets?.get(p);
      const maxOffset = cap !== undefined && cap < ps.applied ? cap : ps.applied;
      for (const seg of ps.segments) {
        const m = seg.meta;
        if (seg.doomed || m.minTs === null || m.maxTs === null || seg.first >= maxOffset || m.maxTs < start || m.minTs >= end) continue;
        plan.push({ seg, maxOffset });
      }
    }
    for (const { seg, maxOffset } of plan) {
      // Removed by retention or drop since the scan started: its entries are gone.
      if (seg.doomed) continue;
      const db = await this.acquire(seg);
      try {
        for (const m of await this.matchStreams(seg, db, { matchers, tenant, prefix })) {
          const range = K.frameRange(prefix, m.streamId, start - this.streamSpan(seg, tenant, m.streamId, m.span), end);
          const it = db.iterator({ gte: range.gte, lt: range.lt });
          let pending = it.nextv(SCAN_BATCH);
          try {
            for (let batch = await pending; batch.length > 0; batch = await pending) {
              // The next batch is fetched while this one is used.
              pending = it.nextv(SCAN_BATCH);
              pending.catch(() => undefined);
              for (const [key, value] of batch) {
                const frame = this.scannedFrame(key, value, prefix.length, m, seg.partition, maxOffset, start, end);
                if (frame === null) continue;
                if (stats !== undefined) stats.framesRead++;
                yield frame;
              }
            }
          } finally {
            await pending.catch(() => undefined);
            await it.close();
          }
        }
      } finally {
        this.release(seg);
      }
    }
  }

  /** A scan's frame from its key and value, or null when it holds nothing in range or in the snapshot. */
  private scannedFrame(key: Uint8Array, value: Uint8Array, prefixLength: number, stream: RegistryEntry, partition: number, maxOffset: bigint, start: bigint, end: bigint): StoredFrame | null {
    const h = K.readFrameValueHeader(value);
    if (h.maxTs < start || h.minTs >= end) return null;
    if (h.version !== BLOCK_FORMAT_VERSION) {
      throw new BlockFormatError('SILT_BLOCK_VERSION', `stored frame of block format version ${h.version} (this reader knows ${BLOCK_FORMAT_VERSION})`, { version: h.version });
    }
    let kept: number[] | null = null;
    if (h.layout === K.MERGED_VALUE_LAYOUT) {
      const runs = K.frameValueRuns(value);
      let at = 0;
      for (const run of runs) {
        if (run.offset < maxOffset) {
          // Adjacent kept runs make one range.
          if (kept !== null && kept[kept.length - 1] === at) kept[kept.length - 1] = at + run.count;
          else (kept ??= []).push(at, at + run.count);
        }
        at += run.count;
      }
      if (at !== h.entryCount) throw new BlockFormatError('SILT_BLOCK_CORRUPT', `merged frame: runs hold ${at} entries, the frame ${h.entryCount}`);
      if (kept === null) return null;
      if (kept.length === 2 && kept[0] === 0 && kept[1] === at) kept = null;
    } else if (K.decodeFrameKey(key, prefixLength).offset >= maxOffset) return null;
    return { streamId: stream.streamId, labels: stream.labels, partition, header: h, bytes: K.frameValueBytes(value), kept };
  }

  /** A stream's span in a segment: what the registry said, or more if a merge has widened it since (its floor is raised before a merged frame commits). */
  private streamSpan(seg: Segment, tenant: string, streamId: bigint, span: bigint): bigint {
    const floor = seg.spanFloor.get(tenant)?.get(streamId);
    return floor !== undefined && floor > span ? floor : span;
  }

  /** Pins a segment's handle for a read (released with the read's `held`) and lists its matching streams; once per segment of a read. */
  private openSegmentRead(r: SegmentRead, ctx: ReadContext, held: Set<SegmentRead>): Promise<RegistryEntry[]> {
    r.opening ??= (async () => {
      // Removed by retention or drop since the read started: its entries are gone.
      if (r.seg.doomed) return [];
      const db = await this.acquire(r.seg);
      held.add(r);
      r.db = db;
      return this.matchStreams(r.seg, db, ctx);
    })();
    // Awaited by expandSegment, or by the read's cleanup: never an unhandled rejection.
    r.opening.catch(() => undefined);
    return r.opening;
  }

  /**
   * The label sets of a tenant's streams that match `matchers` and are registered in a segment
   * overlapping [start, end): per segment, as Loki answers per chunk, so a stream may be listed for
   * a range it only borders. Reads only the stream registries, never frames.
   */
  async series(request: SeriesRequest): Promise<Labels[]> {
    this.checkOpen();
    const { tenant, matchers, start, end } = request;
    const prefix = K.tenantPrefix(tenant);
    const found = new Map<bigint, Labels>();
    if (prefix === null || start >= end) return [];
    for (const p of request.partitions ?? this.partitions()) {
      const ps = this.parts.get(p);
      if (ps === undefined) continue;
      for (const seg of [...ps.segments]) {
        const m = seg.meta;
        if (seg.doomed || m.minTs === null || m.maxTs === null || m.maxTs < start || m.minTs >= end) continue;
        const db = await this.acquire(seg);
        try {
          for (const e of await this.matchStreams(seg, db, { matchers, tenant, prefix })) found.set(e.streamId, e.labels);
        } finally {
          this.release(seg);
        }
      }
    }
    return [...found.values()];
  }

  /** Retention: removes whole closed (or active, if its newest entry is old) segments whose newest entry ts < cutoffNs; returns how many were removed. Never touches anything else. */
  async dropBefore(cutoffNs: bigint): Promise<number> {
    this.checkOpen();
    let removed = 0;
    for (const ps of [...this.parts.values()]) removed += await this.serialize(ps, () => this.dropExpired(ps, cutoffNs));
    return removed;
  }

  /** Removes every segment of a partition (not used for replication; for an operator or a test). */
  async drop(partition: number): Promise<void> {
    this.checkOpen();
    checkPartition(partition);
    const ps = this.parts.get(partition);
    if (ps === undefined) return;
    await this.serialize(ps, async () => {
      const segs = [...ps.segments, ...ps.doomed];
      ps.segments = [];
      ps.applied = 0n;
      ps.manifestDirty = false;
      for (const seg of segs) if (!seg.doomed) this.doom(ps, seg, false);
      // Readers finish with what they hold; then the partition directory goes in one rename.
      await Promise.all(segs.map((seg) => this.whenIdle(seg)));
      await Promise.all(segs.map((seg) => (seg.removal ?? this.closeDb(seg)).catch(() => undefined)));
      for (const seg of segs) ps.doomed.delete(seg);
      await removeDir(ps.dir);
    });
  }

  /** Closes every handle; reads still running fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.parts.values()].map((ps) => ps.lock));
    await Promise.all([...this.openSet].map((seg) => this.closeDb(seg).catch(() => undefined)));
    for (const ps of this.parts.values()) {
      for (const seg of ps.doomed) if (seg.autoRemove && seg.removal === null) this.startRemoval(ps, seg);
    }
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  // ---- writing ----

  private async applyLocked(ps: PartitionData, blocks: readonly IncomingBlock[], nextOffset: bigint): Promise<ApplyResult> {
    this.checkOpen();
    const result: ApplyResult = { entries: 0, blocks: 0, skipped: 0, corrupt: 0, bytes: 0 };
    const applied = ps.applied;
    let firstIndex = 0;
    while (firstIndex < blocks.length && blocks[firstIndex]!.offset < applied) firstIndex++;
    result.skipped = firstIndex;
    const newApplied = maxBig(applied, nextOffset);
    if (firstIndex === blocks.length && newApplied === applied) return result;

    // Headers first: an unknown version stops the write before anything is stored.
    const headers: (BlockHeader | Quarantined)[] = [];
    for (let i = firstIndex; i < blocks.length; i++) {
      const block = blocks[i]!;
      try {
        const header = readBlockHeader(block.value);
        headers.push(K.tenantPrefix(header.tenant) === null ? { code: 'SILT_BLOCK_TENANT', message: 'tenant is empty or over 255 bytes' } : header);
      } catch (err) {
        if (!(err instanceof BlockFormatError)) throw err;
        if (err.code === 'SILT_BLOCK_VERSION') {
          throw new BlockFormatError('SILT_BLOCK_VERSION', `partition ${ps.partition} offset ${block.offset}: ${err.message}`, {
            ...(err.details as object),
            partition: ps.partition,
            offset: block.offset.toString(),
          });
        }
        headers.push({ code: err.code, message: err.message });
      }
    }

    let seg = ps.active;
    if (seg === undefined || this.shouldRoll(seg)) {
      seg = await this.createSegment(ps, firstIndex < blocks.length ? blocks[firstIndex]!.offset : applied);
    }
    const db = await this.acquire(seg);
    try {
      const known = await this.knownStreams(seg, db, headers);
      const fresh = new Map<string, Map<bigint, bigint>>();
      const ops: PutOp[] = [];
      const meta: SegmentMeta = { ...seg.meta };
      const small: { tenant: string; prefix: Buffer; streamId: bigint; key: Buffer; entries: number; rawBytes: number }[] = [];
      let bytes = 0;
      for (let i = 0; i < headers.length; i++) {
        const h = headers[i]!;
        const block = blocks[firstIndex + i]!;
        if (!('streams' in h)) {
          const key = K.quarantineKey(block.offset);
          const value = K.encodeQuarantine(h.code, h.message, block.value);
          ops.push({ type: 'put', key, value });
          bytes += key.length + value.length;
          result.corrupt++;
          meta.corrupt++;
          continue;
        }
        const prefix = K.tenantPrefix(h.tenant)!;
        const tenantKnown = known.get(h.tenant);
        let tenantFresh = fresh.get(h.tenant);
        const streams = h.streams;
        for (let j = 0; j < streams.length; j++) {
          const s = streams[j]!;
          const key = K.frameKey(prefix, s.streamId, s.minTs, block.offset, j);
          const value = K.encodeFrameValue(h.version, s, block.value.subarray(s.frameOffset, s.frameOffset + s.frameLength));
          ops.push({ type: 'put', key, value });
          bytes += key.length + value.length;
          if (s.entryCount < this.mergeTarget / 2 && s.rawLength < MERGE_TARGET_RAW_BYTES / 2) small.push({ tenant: h.tenant, prefix, streamId: s.streamId, key, entries: s.entryCount, rawBytes: s.rawLength });
          const span = s.maxTs - s.minTs;
          const had = tenantFresh?.get(s.streamId) ?? tenantKnown?.get(s.streamId);
          if (had === undefined || span > had) {
            const rk = K.streamKey(prefix, s.streamId);
            const rv = K.encodeStreamValue(s.labels, had === undefined ? span : maxBig(span, had));
            ops.push({ type: 'put', key: rk, value: rv });
            bytes += rk.length + rv.length;
            if (had === undefined) {
              for (const name of Object.keys(s.labels)) {
                const lk = K.labelIndexKey(prefix, name, s.labels[name]!, s.streamId);
                ops.push({ type: 'put', key: lk, value: new Uint8Array(0) });
                bytes += lk.length;
              }
            }
            if (tenantFresh === undefined) fresh.set(h.tenant, (tenantFresh = new Map()));
            tenantFresh.set(s.streamId, had === undefined ? span : maxBig(span, had));
          }
          if (meta.minTs === null || s.minTs < meta.minTs) meta.minTs = s.minTs;
          if (meta.maxTs === null || s.maxTs > meta.maxTs) meta.maxTs = s.maxTs;
          if (span > meta.maxSpan) meta.maxSpan = span;
        }
        meta.entries += h.entryCount;
        meta.blocks++;
        result.entries += h.entryCount;
        result.blocks++;
      }
      meta.applied = newApplied;
      meta.bytes += bytes;
      ops.push({ type: 'put', key: K.META_KEY, value: encodeSegmentMeta(meta) });
      await db.batch(ops);
      // Committed: only now does memory learn of it.
      seg.meta = meta;
      ps.applied = newApplied;
      if (fresh.size > 0) seg.registryVersion++;
      for (const [tenant, spans] of fresh) {
        seg.registry.delete(tenant);
        seg.registryFills.delete(tenant);
        let t = known.get(tenant);
        if (t === undefined) known.set(tenant, (t = new Map()));
        for (const [id, span] of spans) t.set(id, span);
      }
      result.bytes = bytes;
      this.lastWriteAt = performance.now();
      for (const f of small) this.addPending(seg, f.tenant, f.prefix, f.streamId, f.key, f.entries, f.rawBytes);
    } finally {
      this.release(seg);
    }
    if (ps.manifestDirty) await this.saveManifest(ps);
    return result;
  }

  // ---- merging small frames ----

  /** Notes a small frame just committed; queues its stream's small frames for merging once they reach the target size. */
  private addPending(seg: Segment, tenant: string, prefix: Buffer, streamId: bigint, key: Buffer, entries: number, rawBytes: number): void {
    if (seg.pendingFrames >= MAX_PENDING_FRAMES) return;
    let byStream = seg.pending.get(tenant);
    if (byStream === undefined) seg.pending.set(tenant, (byStream = new Map()));
    let p = byStream.get(streamId);
    if (p === undefined) byStream.set(streamId, (p = { prefix, keys: [], entries: 0, rawBytes: 0 }));
    p.keys.push(key);
    p.entries += entries;
    p.rawBytes += rawBytes;
    seg.pendingFrames++;
    if (p.entries < this.mergeTarget && p.rawBytes < MERGE_TARGET_RAW_BYTES) return;
    byStream.delete(streamId);
    seg.pendingFrames -= p.keys.length;
    this.queueMerge({ seg, tenant, streamId, frames: p });
  }

  /** Queues every stream's remaining small frames of a segment that will get no more writes. */
  private flushPending(seg: Segment): void {
    for (const [tenant, byStream] of seg.pending) {
      for (const [streamId, frames] of byStream) if (frames.keys.length > 1) this.queueMerge({ seg, tenant, streamId, frames });
    }
    seg.pending = new Map();
    seg.pendingFrames = 0;
  }

  private queueMerge(job: MergeJob): void {
    if (this.mergeQueue.length >= MAX_QUEUED_MERGES) return;
    this.mergeQueue.push(job);
    if (this.merging) return;
    this.merging = true;
    this.track(this.runMerges());
  }

  /** Merges queued jobs one at a time, each under its partition's write lock. */
  private async runMerges(): Promise<void> {
    try {
      const touched = new Set<Segment>();
      while ((this.mergeQueue.length > 0 || touched.size > 0) && !this.closed) {
        const started = performance.now();
        const job = this.mergeQueue.shift();
        if (job === undefined) {
          // Caught up: give the space of every merged frame back.
          const seg = touched.values().next().value!;
          touched.delete(seg);
          await this.reclaim(seg);
        } else {
          const ps = this.parts.get(job.seg.partition);
          if (ps === undefined || job.seg.doomed) continue;
          try {
            await this.serialize(ps, () => this.mergeLocked(job));
          } catch {
            // The frames stay as they were: merging only ever saves space and time.
            this.mergeCounts.failed++;
          }
          touched.add(job.seg);
          if (job.seg.reclaimable >= RECLAIM_BYTES) {
            touched.delete(job.seg);
            await this.reclaim(job.seg);
          }
        }
        // Under write load merging yields most of the time to writes and reads: it falls behind, and
        // catches up once the load drops.
        const now = performance.now();
        const loaded = now - this.lastWriteAt < WRITE_IDLE_MS;
        if (loaded && (this.mergeQueue.length > 0 || touched.size > 0) && !this.closed) await sleep((now - started) * (1 / MERGE_DUTY - 1));
      }
    } finally {
      this.merging = false;
    }
  }

  /** Compacts a segment's whole LevelDB so the frames merges deleted leave the disk (LevelDB alone would keep them until its own compactions reach them). */
  private async reclaim(seg: Segment): Promise<void> {
    if (seg.doomed || seg.reclaimable === 0) return;
    const db = await this.acquire(seg);
    try {
      seg.reclaimable = 0;
      await db.compactRange(Uint8Array.of(KEY_MIN), ALL_KEYS_END);
    } catch {
      this.mergeCounts.failed++;
    } finally {
      this.release(seg);
    }
  }

  /**
   * Replaces one stream's small frames by one merged frame, keyed like the first of them in key order
   * (whose minTs is the least), with a run table that keeps each original frame's place in the entry
   * order; one atomic batch, so a read sees either the small frames or the merged one.
   */
  private async mergeLocked(job: MergeJob): Promise<void> {
    const { seg, tenant, streamId } = job;
    if (seg.doomed) return;
    const prefix = job.frames.prefix;
    const keys = [...job.frames.keys].sort(Buffer.compare);
    const registryKey = K.streamKey(prefix, streamId);
    const db = await this.acquire(seg);
    try {
      const [values, registry] = await Promise.all([db.getMany(keys), db.get(registryKey)]);
      const entries: BlockEntry[] = [];
      const runs: K.FrameRun[] = [];
      const merged: Buffer[] = [];
      for (let i = 0; i < keys.length; i++) {
        const value = values[i];
        if (value === undefined) continue;
        const h = K.readFrameValueHeader(value);
        if (h.layout !== K.VALUE_LAYOUT || h.version !== BLOCK_FORMAT_VERSION) continue;
        const k = K.decodeFrameKey(keys[i]!, prefix.length);
        const part = decodeFrameBytes(K.frameValueBytes(value), h.rawLength, h.frameCrc)!;
        for (const e of part) entries.push(e);
        runs.push({ offset: k.offset, frame: k.frame, count: part.length });
        merged.push(keys[i]!);
      }
      if (merged.length < 2 || registry === undefined) return;
      const frame = encodeFrame(entries, MERGE_LEVEL);
      const span = frame.maxTs - frame.minTs;
      let floors = seg.spanFloor.get(tenant);
      if (floors === undefined) seg.spanFloor.set(tenant, (floors = new Map()));
      if (span > (floors.get(streamId) ?? -1n)) floors.set(streamId, span);

      const ops: (PutOp | DelOp)[] = merged.map((key) => ({ type: 'del', key }));
      ops.push({ type: 'put', key: merged[0]!, value: K.encodeMergedFrameValue(frame, runs) });
      const { labels, maxSpan } = K.decodeStreamValue(registry);
      if (span > maxSpan) ops.push({ type: 'put', key: registryKey, value: K.encodeStreamValue(labels, span) });
      await db.batch(ops);
      for (let i = 0; i < keys.length; i++) if (values[i] !== undefined) seg.reclaimable += values[i]!.length;
      if (span > maxSpan) {
        const known = seg.streams?.get(tenant);
        if (known?.has(streamId)) known.set(streamId, maxBig(known.get(streamId)!, span));
        seg.registry.delete(tenant);
        seg.registryFills.delete(tenant);
        seg.registryVersion++;
      }
      this.mergeCounts.merges++;
      this.mergeCounts.frames += merged.length;
    } finally {
      this.release(seg);
    }
  }

  /** The writer's registry view of the active segment, completed from the database for the streams of these headers. */
  private async knownStreams(seg: Segment, db: Db, headers: readonly (BlockHeader | Quarantined)[]): Promise<Map<string, Map<bigint, bigint>>> {
    const known = (seg.streams ??= new Map());
    if (seg.streamsComplete) return known;
    const lookups: { tenant: string; id: bigint; key: Buffer }[] = [];
    const asked = new Map<string, Set<bigint>>();
    for (const h of headers) {
      if (!('streams' in h)) continue;
      const t = known.get(h.tenant);
      let a = asked.get(h.tenant);
      for (const s of h.streams) {
        if (t?.has(s.streamId) || a?.has(s.streamId)) continue;
        if (a === undefined) asked.set(h.tenant, (a = new Set()));
        a.add(s.streamId);
        lookups.push({ tenant: h.tenant, id: s.streamId, key: K.streamKey(K.tenantPrefix(h.tenant)!, s.streamId) });
      }
    }
    if (lookups.length === 0) return known;
    const values = await db.getMany(lookups.map((l) => l.key));
    for (let i = 0; i < lookups.length; i++) {
      const value = values[i];
      if (value === undefined) continue;
      const { tenant, id } = lookups[i]!;
      let t = known.get(tenant);
      if (t === undefined) known.set(tenant, (t = new Map()));
      t.set(id, K.streamValueSpan(value));
    }
    return known;
  }

  private shouldRoll(seg: Segment): boolean {
    // A segment that covers no offset yet is never rolled: the next one would take its name.
    if (seg.meta.applied <= seg.first) return false;
    return seg.meta.bytes >= this.options.maxSegmentBytes || Date.now() - seg.meta.createdMs >= this.options.maxSegmentAgeMs;
  }

  /** Creates an empty segment and makes it the partition's active one; the manifest is updated after its first batch. */
  private async createSegment(ps: PartitionData, first: bigint): Promise<Segment> {
    await fsp.mkdir(ps.dir, { recursive: true });
    const dir = path.join(ps.dir, K.segmentDirName(first));
    if (await exists(dir)) throw new Error(`segment store: segment ${dir} already exists`);
    // The database is created under a temporary name and renamed once complete, so a crash never
    // leaves a half-created database under a segment's name.
    const tmp = `${dir}.tmp`;
    await fsp.rm(tmp, { recursive: true, force: true });
    const db = newDb(tmp, true);
    await db.open({ createIfMissing: true, errorIfExists: true });
    await db.close();
    await fsp.rename(tmp, dir);
    await fsyncDir(ps.dir);
    const prev = ps.active;
    if (prev !== undefined) {
      prev.streams = null;
      prev.streamsComplete = false;
      ps.manifestDirty = true;
      this.flushPending(prev);
    }
    const seg = new Segment(ps.partition, first, dir, emptyMeta(first, ps.applied, Date.now()));
    seg.streams = new Map();
    seg.streamsComplete = true;
    ps.segments.push(seg);
    return seg;
  }

  private async saveManifest(ps: PartitionData): Promise<void> {
    ps.manifestDirty = false;
    try {
      await writeManifest(
        ps.dir,
        ps.partition,
        ps.segments.slice(0, -1).map((s) => s.meta),
      );
    } catch {
      // A cache: a stale or missing manifest is rebuilt from the segments at open.
      ps.manifestDirty = true;
    }
  }

  // ---- retention ----

  private async dropExpired(ps: PartitionData, cutoff: bigint): Promise<number> {
    this.checkOpen();
    const expired = (s: Segment): boolean => s.meta.maxTs !== null && s.meta.maxTs < cutoff;
    const victims = ps.segments.filter(expired);
    if (victims.length === 0) return 0;
    if (expired(ps.active!)) {
      // The applied offset lives in the active segment: an empty successor carries it on.
      const seg = await this.createSegment(ps, ps.applied);
      const db = await this.acquire(seg);
      try {
        await db.batch([{ type: 'put', key: K.META_KEY, value: encodeSegmentMeta(seg.meta) }]);
      } finally {
        this.release(seg);
      }
    }
    ps.segments = ps.segments.filter((s) => !expired(s));
    await this.saveManifest(ps);
    const waits: Promise<void>[] = [];
    for (const seg of victims) {
      this.doom(ps, seg, true);
      if (seg.removal !== null) waits.push(seg.removal);
    }
    await Promise.all(waits);
    return victims.length;
  }

  private doom(ps: PartitionData, seg: Segment, autoRemove: boolean): void {
    seg.doomed = true;
    seg.autoRemove = autoRemove;
    seg.streams = null;
    ps.doomed.add(seg);
    if (autoRemove && seg.refs === 0) this.startRemoval(ps, seg);
  }

  private startRemoval(ps: PartitionData, seg: Segment): void {
    const p = (async () => {
      await this.closeDb(seg);
      await removeDir(seg.dir);
      ps.doomed.delete(seg);
    })();
    seg.removal = p;
    this.track(p);
  }

  // ---- handles ----

  /** Opens (if needed) and pins a segment's handle; pair with `release`. */
  private async acquire(seg: Segment): Promise<Db> {
    seg.refs++;
    seg.lastUse = ++this.clock;
    try {
      for (;;) {
        this.checkOpen();
        if (seg.closing !== null) {
          await seg.closing.catch(() => undefined);
          continue;
        }
        if (seg.db !== null) {
          this.evict();
          return seg.db;
        }
        if (seg.opening === null) {
          const db = newDb(seg.dir, false);
          this.openSet.add(seg);
          seg.opening = db.open({ createIfMissing: false }).then(
            () => {
              seg.db = db;
              seg.opening = null;
              return db;
            },
            (err: unknown) => {
              seg.opening = null;
              this.openSet.delete(seg);
              throw err;
            },
          );
        }
        await seg.opening;
      }
    } catch (err) {
      this.release(seg);
      throw err;
    }
  }

  private release(seg: Segment): void {
    seg.refs--;
    if (seg.refs > 0) return;
    if (seg.doomed) {
      const ps = this.parts.get(seg.partition);
      if (seg.autoRemove && seg.removal === null && ps !== undefined && !this.closed) this.startRemoval(ps, seg);
    } else {
      this.evict();
    }
    const waiters = seg.idleWaiters.splice(0);
    for (const w of waiters) w();
  }

  private whenIdle(seg: Segment): Promise<void> {
    return seg.refs === 0 ? Promise.resolve() : new Promise((resolve) => seg.idleWaiters.push(resolve));
  }

  /** Closes least recently used idle handles beyond the bound, segments no longer active first. */
  private evict(): void {
    let open = 0;
    for (const s of this.openSet) if (s.closing === null) open++;
    while (open > this.options.maxOpenSegments) {
      let victim: Segment | null = null;
      let victimActive = true;
      for (const s of this.openSet) {
        if (s.db === null || s.closing !== null || s.refs > 0) continue;
        const active = this.parts.get(s.partition)?.active === s;
        if (victim === null || (victimActive && !active) || (active === victimActive && s.lastUse < victim.lastUse)) {
          victim = s;
          victimActive = active;
        }
      }
      if (victim === null) return;
      void this.closeDb(victim).catch(() => undefined);
      open--;
    }
  }

  private closeDb(seg: Segment): Promise<void> {
    if (seg.closing !== null) return seg.closing;
    if (seg.opening !== null) return seg.opening.then(() => this.closeDb(seg), () => undefined);
    const db = seg.db;
    if (db === null) return Promise.resolve();
    seg.registry = new Map();
    seg.registryFills = new Set();
    const p = db.close().finally(() => {
      seg.db = null;
      seg.closing = null;
      this.openSet.delete(seg);
    });
    seg.closing = p;
    this.track(p);
    return p;
  }

  // ---- reading ----

  private setLowBound(item: Item, ts: bigint, offset: bigint, rest: number): void {
    item.ts = ts;
    if (item.kind === ITEM_SEGMENT) {
      item.streamId = -1n;
      item.partition = -Infinity;
    }
    item.offset = offset;
    item.frame = rest;
    item.index = rest;
  }

  private setHighBound(item: Item, ts: bigint, offset: bigint, rest: number): void {
    item.ts = ts;
    if (item.kind === ITEM_SEGMENT) {
      item.streamId = OFFSET_MAX;
      item.partition = Infinity;
    }
    item.offset = offset;
    item.frame = rest;
    item.index = rest;
  }

  /** The registry entries of a segment that match the read's matchers. */
  private async matchStreams(seg: Segment, db: Db, ctx: Pick<ReadContext, 'matchers' | 'tenant' | 'prefix'>): Promise<RegistryEntry[]> {
    const { matchers, tenant, prefix } = ctx;
    let all = seg.registry.get(tenant);
    if (all === undefined) {
      const eq = matchers.find((m) => m.op === '=' && m.value !== '');
      if (eq !== undefined) {
        // The index answers this read; the registry is cached meanwhile, so the next read of the
        // segment needs no round trip at all.
        if (!seg.registryFills.has(tenant)) this.track(this.fillRegistry(seg, tenant, prefix));
        return (await indexedStreams(db, prefix, eq)).filter((e) => matchesAll(matchers, e.labels));
      }
      all = await this.scanAndCache(seg, db, tenant, prefix);
    }
    return all.filter((e) => matchesAll(matchers, e.labels));
  }

  /** Scans a tenant's registry of a segment, and caches it unless too big or a write changed the registry meanwhile (the scan may predate it). */
  private async scanAndCache(seg: Segment, db: Db, tenant: string, prefix: Buffer): Promise<RegistryEntry[]> {
    const version = seg.registryVersion;
    const all = await scanRegistry(db, prefix);
    if (all.length <= REGISTRY_CACHE_MAX && version === seg.registryVersion && seg.db === db) seg.registry.set(tenant, all);
    return all;
  }

  /** Caches a tenant's registry of a segment in the background; tried once per tenant while the handle stays open. */
  private async fillRegistry(seg: Segment, tenant: string, prefix: Buffer): Promise<void> {
    seg.registryFills.add(tenant);
    if (seg.doomed) return;
    const db = await this.acquire(seg).catch(() => null);
    if (db === null) return;
    try {
      await this.scanAndCache(seg, db, tenant, prefix);
    } catch {
      // Only a cache: reads use the index meanwhile.
    } finally {
      this.release(seg);
    }
  }

  private openStream(s: StreamRead, streamId: bigint, ctx: ReadContext, iterators: Set<StreamRead>): void {
    // A merge may have widened the span since this read loaded the registry: an iterator created now sees no frame wider than this.
    s.span = this.streamSpan(s.read.seg, ctx.tenant, streamId, s.span);
    // Frames are keyed by minTs; one holding an entry ≥ start has minTs ≥ start − span.
    const range = K.frameRange(ctx.prefix, streamId, ctx.start - s.span, ctx.end);
    s.it = s.read.db!.iterator({ gte: range.gte, lt: range.lt, reverse: !ctx.forward });
    iterators.add(s);
    s.pending = s.it.nextv(STREAM_BATCH);
    // Awaited later (or never, if the read stops first): never an unhandled rejection.
    s.pending.catch(() => undefined);
  }

  private async expandSegment(item: Item, ctx: ReadContext, heap: BinaryHeap<Item>, held: Set<SegmentRead>, iterators: Set<StreamRead>): Promise<void> {
    const r = item.segment!;
    const matched = await this.openSegmentRead(r, ctx, held);
    for (const m of matched) {
      const s: StreamRead = { read: r, labels: m.labels, span: m.span, it: null, pending: null, buf: [], pos: 0, done: false };
      const si = new Item();
      si.kind = ITEM_STREAM;
      si.stream = s;
      si.streamId = m.streamId;
      si.partition = r.seg.partition;
      if (ctx.forward) this.setLowBound(si, maxBig(r.minTs, ctx.start), -1n, -Infinity);
      else this.setHighBound(si, minBig(r.maxTs, ctx.end - 1n), OFFSET_MAX, Infinity);
      // The first streams' first fetches start now, so their latencies overlap on the thread pool;
      // with many streams the rest open when the merge reaches them.
      if (r.live < PREFETCH_STREAMS) this.openStream(s, m.streamId, ctx, iterators);
      r.live++;
      heap.push(si);
    }
    if (r.live === 0 && held.delete(r)) this.release(r.seg);
  }

  /** Reads a stream's next frame that can contribute and pushes it, then re-pushes the stream with a bound on its unread frames. */
  private async advanceStream(item: Item, ctx: ReadContext, heap: BinaryHeap<Item>, iterators: Set<StreamRead>, held: Set<SegmentRead>): Promise<void> {
    const s = item.stream!;
    const r = s.read;
    const { start, end, forward, after, prefix } = ctx;
    if (s.it === null) this.openStream(s, item.streamId, ctx, iterators);
    const it = s.it!;
    for (;;) {
      if (s.pos >= s.buf.length) {
        if (s.done) break;
        const pending = s.pending;
        s.pending = null;
        s.buf = await (pending ?? it.nextv(STREAM_BATCH));
        s.pos = 0;
        if (s.buf.length === 0) {
          s.done = true;
          break;
        }
      }
      const [key, value] = s.buf[s.pos++]!;
      if (s.pos >= s.buf.length && s.pending === null) {
        // Double buffering: the next batch is fetched while this one is merged.
        s.pending = it.nextv(STREAM_BATCH);
        s.pending.catch(() => undefined);
      }
      const k = K.decodeFrameKey(key, prefix.length);
      const h = K.readFrameValueHeader(value);
      if (h.maxTs < start || h.minTs >= end) continue;
      // A merged frame holds many offsets; its original frames are checked one by one once decoded.
      const merged = h.layout === K.MERGED_VALUE_LAYOUT;
      if (!merged && k.offset >= r.maxOffset) continue;
      if (after !== undefined && !merged) {
        if (forward && compareFramePlace(h.maxTs, item.streamId, item.partition, k.offset, k.frame, after) < 0) continue;
        if (!forward && compareFramePlace(h.minTs, item.streamId, item.partition, k.offset, k.frame, after) > 0) continue;
      }
      const f = new Item();
      f.kind = ITEM_FRAME;
      f.stream = s;
      f.value = value;
      f.header = h;
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
        if (merged) {
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
      heap.push(f);
      heap.push(item);
      return;
    }
    iterators.delete(s);
    await it.close();
    if (--r.live === 0) {
      held.delete(r);
      this.release(r.seg);
    }
  }

  /** Decompresses a frame item and pushes a cursor over the entries it holds that are wanted (one per original frame of a merged one). */
  private decodeFrameItem(item: Item, ctx: ReadContext, heap: BinaryHeap<Item>): void {
    const value = item.value!;
    const h = item.header!;
    item.value = null;
    item.header = null;
    if (h.version !== BLOCK_FORMAT_VERSION) {
      throw new BlockFormatError('SILT_BLOCK_VERSION', `stored frame of block format version ${h.version} (this reader knows ${BLOCK_FORMAT_VERSION})`, { version: h.version });
    }
    const entries = decodeFrameBytes(K.frameValueBytes(value), h.rawLength, h.frameCrc, ctx.mustContain);
    const st = ctx.stats;
    st.framesRead++;
    st.bytesDecompressed += h.rawLength;
    // A frame skipped by its bytes had every entry looked at, just not one by one.
    st.entriesScanned += entries?.length ?? h.entryCount;
    if (entries === null) return;
    if (h.layout !== K.MERGED_VALUE_LAYOUT) {
      if (this.toCursor(item, entries, h, ctx)) heap.push(item);
      return;
    }
    // Each original frame keeps its own place in the entry order: (offset, frame, index within it).
    const maxOffset = item.stream!.read.maxOffset;
    let at = 0;
    for (const run of K.frameValueRuns(value)) {
      const part = entries.slice(at, at + run.count);
      at += run.count;
      if (run.offset >= maxOffset) continue;
      const c = new Item();
      c.stream = item.stream;
      c.streamId = item.streamId;
      c.partition = item.partition;
      c.offset = run.offset;
      c.frame = run.frame;
      if (this.toCursor(c, part, h, ctx)) heap.push(c);
    }
    if (at !== entries.length) throw new BlockFormatError('SILT_BLOCK_CORRUPT', `merged frame: runs hold ${at} entries, the frame ${entries.length}`);
  }

  /** Makes `item` a cursor over `entries` in order, keeping those in range and past `after`; false when none is. */
  private toCursor(item: Item, entries: BlockEntry[], h: K.FrameValueHeader, ctx: ReadContext): boolean {
    const { start, end, after, forward } = ctx;
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
    const order = frameEntryOrder(entries, keep);
    if (order.length === 0) return false;
    item.kind = ITEM_CURSOR;
    item.entries = entries;
    item.order = order;
    item.pos = forward ? 0 : order.length - 1;
    const j = order[item.pos]!;
    item.ts = entries[j]!.ts;
    item.index = j;
    return true;
  }

  // ---- partitions ----

  private partition(partition: number): PartitionData {
    let ps = this.parts.get(partition);
    if (ps === undefined) {
      ps = new PartitionData(partition, path.join(this.options.dir, K.partitionDirName(partition)));
      this.parts.set(partition, ps);
    }
    return ps;
  }

  private serialize<T>(ps: PartitionData, fn: () => Promise<T>): Promise<T> {
    const run = ps.lock.then(fn);
    ps.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async loadPartition(partition: number, dir: string): Promise<void> {
    const found: { first: bigint; dir: string }[] = [];
    for (const name of await fsp.readdir(dir)) {
      const full = path.join(dir, name);
      if (name.endsWith('.tmp') || name.endsWith('.deleting')) {
        await fsp.rm(full, { recursive: true, force: true });
        continue;
      }
      const first = K.parseSegmentDirName(name);
      if (first !== null) found.push({ first, dir: full });
    }
    found.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    const cached = await readManifest(dir);
    const segments: Segment[] = [];
    // The newest segment with a meta key is the active one; a newer one without it was created by a
    // roll that never committed its first batch.
    let newest: Segment | undefined;
    let i = found.length - 1;
    for (; i >= 0; i--) {
      const meta = await readMetaOf(found[i]!.dir, found[i]!.first);
      if (meta !== null) {
        newest = new Segment(partition, found[i]!.first, found[i]!.dir, meta);
        break;
      }
      await removeDir(found[i]!.dir);
    }
    for (let j = 0; j < i; j++) {
      const { first, dir: segDir } = found[j]!;
      const meta = cached?.get(first) ?? (await readMetaOf(segDir, first));
      if (meta === null) await removeDir(segDir);
      else segments.push(new Segment(partition, first, segDir, meta));
    }
    if (newest !== undefined) segments.push(newest);
    const ps = this.partition(partition);
    ps.segments = segments;
    for (const seg of segments) if (seg.meta.applied > ps.applied) ps.applied = seg.meta.applied;
    const closed = segments.slice(0, -1);
    const upToDate = cached !== null && cached.size === closed.length && closed.every((s) => cached.has(s.first));
    if (!upToDate && (closed.length > 0 || cached !== null)) await this.saveManifest(ps);
  }

  private track(p: Promise<unknown>): void {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.background.add(settled);
    void settled.then(() => this.background.delete(settled));
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('segment store is closed');
  }
}
