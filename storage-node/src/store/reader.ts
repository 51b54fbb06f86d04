/**
 * Reads of a store: the k-way merged `read` (ordered per DESIGN Guarantee 5), the stream-by-stream
 * `frames` scan aggregations use, and `series`. Each fixes its plan — the segments of every
 * partition and the offsets applied — when it starts, so blocks applied meanwhile are never seen.
 * docs/STORAGE.md, "Reading".
 */
import { BlockFormatError } from '../../../core/src/errors';
import type { Labels } from '../../../core/src/labels';
import { compileLineFilter, type LineFilter, requiredSubstrings } from '../../../core/src/logql';
import type { CompiledMatcher } from '../../../core/src/matchers';
import type { EntryPosition } from '../../../core/src/position';
import { NeedleSet, checkStoredFrameVersion } from '../../../core/src/stored-frame';
import * as K from './keys';
import { type MergePlan, type PlannedSegment, type ReadStats, type StoredEntry, mergeRead } from './merge';
import type { Registry, RegistryEntry } from './registry';
import { type FrameCursor, openFrameCursor } from './frame-cursor';
import type { FrameCache } from './frame-cache';
import type { HeadCache } from './head-cache';
import { ScanAhead } from './scan-ahead';
import type { ScanPool } from './scan-pool';
import type { Db, HandleCache, Lifecycle, Partitions, Segment } from './segments';

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
  /** The LogQL line filters `lineFilter` was compiled from: with them, a store with scan threads filters frames on those. */
  scanFilters?: readonly LineFilter[];
}

/** What a read that keeps only lines passing `filters` carries: the compiled filter, the substrings it requires, the filters for the scan threads. */
export function lineFilterFields(filters: readonly LineFilter[]): Pick<ReadRequest, 'lineFilter' | 'mustContain' | 'scanFilters'> {
  if (filters.length === 0) return {};
  return { lineFilter: compileLineFilter(filters)!, mustContain: requiredSubstrings(filters).map((s) => Buffer.from(s, 'utf8')), scanFilters: filters };
}

/** A scan of the stored frames of a tenant's matching streams, stream by stream, in no order across streams. */
export interface FrameScanRequest extends Pick<ReadRequest, 'tenant' | 'matchers' | 'start' | 'end' | 'partitions' | 'maxOffsets'> {
  /**
   * Takes a frame from what its head says, without its bytes (an aggregation counting it from
   * its header); a frame taken is not read, nor yielded. Asked where a segment keeps frame heads.
   */
  fromHead?: (frame: HeadFrame) => boolean;
}

/** A frame of a scan as its head tells it, before its bytes are read: a StoredFrame without `bytes`, with what a v2 frame's header adds. */
export interface HeadFrame extends Omit<StoredFrame, 'bytes'> {
  /** UTF-8 bytes of its lines; null for a v1 frame. */
  linesLength: number | null;
  /** Distinct attribute keys (0: no structured metadata); null for a v1 frame. */
  attrKeyCount: number | null;
}

/** One stored frame of a scan: a frame with an entry in the scan's range, of a stream that matches. */
export interface StoredFrame {
  streamId: bigint;
  /** The stream's labels; shared, not to be mutated. */
  labels: Labels;
  partition: number;
  header: K.FrameValueHeader;
  /** The frame's bytes, of version `header.version` (core/src/stored-frame.ts). */
  bytes: Uint8Array;
  /**
   * The entries the scan's snapshot holds, as index ranges [from, to) in the frame's order, flat;
   * null when it holds all of them (a compacted frame may hold original frames applied after it).
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

// Frames of a stream fetched per native call of a scan's iterator.
const SCAN_BATCH = 64;
// Streams of a segment whose first fetch a scan has started, the one it reads included.
const SCAN_STREAMS_AHEAD = 8;

/** A segment a scan has pinned, with its matching streams. */
interface ScanSegment {
  seg: Segment;
  db: Db;
  streams: RegistryEntry[];
}

/** What a scan of one segment needs to know beside the segment. */
interface ScanScope {
  prefix: Buffer;
  tenant: string;
  start: bigint;
  end: bigint;
  partition: number;
  maxOffset: bigint;
}

/** One stream of a segment being scanned: its iterator and the fetch in flight. */
interface StreamScan {
  m: RegistryEntry;
  it: FrameCursor;
  pending: Promise<[Uint8Array, Uint8Array][]>;
}

/** Answers a store's reads, scans and series lookups. */
export class Reader {
  constructor(
    private readonly parts: Partitions,
    private readonly handles: HandleCache,
    private readonly registry: Registry,
    private readonly life: Lifecycle,
    private readonly scanPool: ScanPool | null,
    private readonly headCache: HeadCache | null,
    private readonly frameCache: FrameCache | null,
  ) {}

  /** Reads one tenant's matching entries of [start, end), ordered per DESIGN Guarantee 5. */
  read(request: ReadRequest, stats?: ReadStats): AsyncGenerator<StoredEntry> {
    return mergeRead(this.handles, this.registry, this.headCache, () => this.mergePlan(request, stats));
  }

  private mergePlan(request: ReadRequest, stats: ReadStats | undefined): MergePlan | null {
    this.life.checkOpen();
    const forward = request.direction === 'forward';
    if (!forward && request.direction !== 'backward') throw new RangeError(`segment store: bad direction ${String(request.direction)}`);
    const { after, tenant, limit } = request;
    let { start, end } = request;
    if (after !== undefined) {
      if (forward && after.ts > start) start = after.ts;
      if (!forward && after.ts + 1n < end) end = after.ts + 1n;
    }
    const prefix = K.tenantPrefix(tenant);
    if (!(limit > 0) || start >= end || prefix === null) return null;
    const ctx = {
      prefix,
      tenant,
      matchers: request.matchers,
      start,
      end,
      forward,
      after,
      limit,
      lineFilter: request.lineFilter,
      mustContain: request.mustContain?.length ? new NeedleSet(request.mustContain) : undefined,
      scan: this.scanPool !== null && request.lineFilter !== undefined && request.scanFilters?.length ? new ScanAhead(this.scanPool, request.scanFilters, start, end, forward) : undefined,
      frames: this.frameCache ?? undefined,
      stats: stats ?? { entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 },
    };
    return { ctx, segments: this.plan(request.partitions, request.maxOffsets, start, end) };
  }

  /** The segments a read or scan of [start, end) visits under its snapshot, each partition once. */
  private plan(partitions: readonly number[] | undefined, maxOffsets: ReadonlyMap<number, bigint> | undefined, start: bigint, end: bigint): PlannedSegment[] {
    const plan: PlannedSegment[] = [];
    const seen = new Set<number>();
    for (const p of partitions ?? this.parts.held()) {
      const ps = this.parts.get(p);
      if (seen.has(p) || ps === undefined) continue;
      seen.add(p);
      const cap = maxOffsets?.get(p);
      const maxOffset = cap !== undefined && cap < ps.applied ? cap : ps.applied;
      for (const seg of ps.segments) {
        const { minTs, maxTs } = seg.meta;
        if (seg.doomed || minTs === null || maxTs === null || seg.first >= maxOffset || maxTs < start || minTs >= end) continue;
        plan.push({ seg, maxOffset, minTs, maxTs });
      }
    }
    return plan;
  }

  /**
   * The frames of a tenant's matching streams that hold entries in [start, end), within the same
   * snapshot a read would see, one stream after the other: for aggregations, which need each
   * entry once but no order across streams, so nothing is merged or decoded here. Entries outside
   * [start, end) that share a frame with entries inside are the caller's to skip.
   */
  async *frames(request: FrameScanRequest, stats?: ReadStats): AsyncGenerator<StoredFrame> {
    this.life.checkOpen();
    const { tenant, matchers, start, end } = request;
    const prefix = K.tenantPrefix(tenant);
    if (prefix === null || start >= end) return;
    const plan = this.plan(request.partitions, request.maxOffsets, start, end);
    const q = { matchers, tenant, prefix };
    // The next segment is opened and its streams listed while this one is scanned: each costs
    // LevelDB round trips on the thread pool, which then overlap with the scan.
    const opening: (Promise<ScanSegment | null> | undefined)[] = [];
    const open = (i: number): Promise<ScanSegment | null> => (opening[i] ??= this.openForScan(plan[i]!.seg, q));
    let done = 0;
    try {
      for (let i = 0; i < plan.length; i++) {
        const opened = await open(i);
        if (i + 1 < plan.length) open(i + 1).catch(() => undefined);
        done = i + 1;
        if (opened === null) continue;
        try {
          const scope = { prefix, tenant, start, end, partition: plan[i]!.seg.partition, maxOffset: plan[i]!.maxOffset };
          for await (const frame of this.scanStreams(opened, scope, request.fromHead)) {
            if (stats !== undefined) stats.framesRead++;
            yield frame;
          }
        } finally {
          this.handles.release(opened.seg);
        }
      }
    } finally {
      // A segment opened ahead and never scanned (the scan stopped early) gives its handle back.
      for (let i = done; i < opening.length; i++) {
        const opened = await opening[i]?.catch(() => null);
        if (opened) this.handles.release(opened.seg);
      }
    }
  }

  /** Pins a segment's handle for a scan and lists its matching streams; null when retention or drop removed it since the scan started. */
  private async openForScan(seg: Segment, q: { matchers: readonly CompiledMatcher[]; tenant: string; prefix: Buffer }): Promise<ScanSegment | null> {
    if (seg.doomed) return null;
    const db = await this.handles.acquire(seg);
    try {
      return { seg, db, streams: await this.registry.matchStreams(seg, db, q) };
    } catch (err) {
      this.handles.release(seg);
      throw err;
    }
  }

  /** The frames of one segment's matching streams, stream after stream, the first fetches of the next few streams started ahead. */
  private async *scanStreams(opened: ScanSegment, scope: ScanScope, fromHead: FrameScanRequest['fromHead']): AsyncGenerator<StoredFrame> {
    const { db, seg, streams } = opened;
    const { prefix, tenant, start, end, partition, maxOffset } = scope;
    // A frame with nothing in range or in the snapshot is taken too: there is nothing to read.
    const take =
      fromHead &&
      ((m: RegistryEntry, key: Uint8Array, head: K.FrameHead): boolean => {
        const kept = keptEntries(key, head.bytes, head.header, prefix.length, maxOffset, start, end);
        if (kept === undefined) return true;
        checkStoredFrameVersion(head.header.version);
        return fromHead({ streamId: m.streamId, labels: m.labels, partition, header: head.header, kept, linesLength: head.linesLength, attrKeyCount: head.attrKeyCount });
      });
    const startStream = (m: RegistryEntry): StreamScan => {
      const fromTs = start - this.registry.streamSpan(seg, tenant, m.streamId, m.span);
      const skip = take && { fromHead: (key: Uint8Array, head: K.FrameHead): boolean => take(m, key, head) };
      const it = openFrameCursor(db, seg, { prefix, streamId: m.streamId, fromTs, toTs: end }, skip, this.headCache);
      const pending = it.nextv(SCAN_BATCH);
      // Awaited below, or at cleanup: never an unhandled rejection.
      pending.catch(() => undefined);
      return { m, it, pending };
    };
    const ahead: StreamScan[] = [];
    let next = 0;
    try {
      while (next < streams.length && ahead.length < SCAN_STREAMS_AHEAD) ahead.push(startStream(streams[next++]!));
      while (ahead.length > 0) {
        const s = ahead[0]!;
        for (let batch = await s.pending; batch.length > 0; batch = await s.pending) {
          // The next batch is fetched while this one is used.
          s.pending = s.it.nextv(SCAN_BATCH);
          s.pending.catch(() => undefined);
          for (const [key, value] of batch) {
            const frame = scannedFrame(key, value, prefix.length, s.m, partition, maxOffset, start, end);
            if (frame !== null) yield frame;
          }
        }
        ahead.shift();
        await s.it.close();
        if (next < streams.length) ahead.push(startStream(streams[next++]!));
      }
    } finally {
      for (const s of ahead) {
        await s.pending.catch(() => undefined);
        await s.it.close().catch(() => undefined);
      }
    }
  }

  /**
   * The label sets of a tenant's streams that match `matchers` and are registered in a segment
   * overlapping [start, end): per segment, as Loki answers per chunk, so a stream may be listed for
   * a range it only borders. Reads only the stream registries, never frames.
   */
  async series(request: SeriesRequest): Promise<Labels[]> {
    this.life.checkOpen();
    const { tenant, matchers, start, end } = request;
    const prefix = K.tenantPrefix(tenant);
    const found = new Map<bigint, Labels>();
    if (prefix === null || start >= end) return [];
    for (const p of request.partitions ?? this.parts.held()) {
      const ps = this.parts.get(p);
      if (ps === undefined) continue;
      for (const seg of [...ps.segments]) {
        const m = seg.meta;
        if (seg.doomed || m.minTs === null || m.maxTs === null || m.maxTs < start || m.minTs >= end) continue;
        const db = await this.handles.acquire(seg);
        try {
          for (const e of await this.registry.matchStreams(seg, db, { matchers, tenant, prefix })) found.set(e.streamId, e.labels);
        } finally {
          this.handles.release(seg);
        }
      }
    }
    return [...found.values()];
  }
}

/** A scan's frame from its key and value, or null when it holds nothing in range or in the snapshot. */
function scannedFrame(key: Uint8Array, value: Uint8Array, prefixLength: number, stream: RegistryEntry, partition: number, maxOffset: bigint, start: bigint, end: bigint): StoredFrame | null {
  const h = K.readFrameValueHeader(value);
  const kept = keptEntries(key, value, h, prefixLength, maxOffset, start, end);
  if (kept === undefined) return null;
  checkStoredFrameVersion(h.version);
  return { streamId: stream.streamId, labels: stream.labels, partition, header: h, bytes: K.frameValueBytes(value), kept };
}

/**
 * The entries of a stored frame (`headOrValue` its value or its head, `h` their header) a scan's
 * snapshot holds, as StoredFrame's `kept`; undefined when it holds none, or none in [start, end).
 */
function keptEntries(key: Uint8Array, headOrValue: Uint8Array, h: K.FrameValueHeader, prefixLength: number, maxOffset: bigint, start: bigint, end: bigint): number[] | null | undefined {
  if (h.maxTs < start || h.minTs >= end) return undefined;
  if (h.layout === K.COMPACTED_VALUE_LAYOUT) {
    const { kept, total } = K.runsBelow(headOrValue, maxOffset);
    if (total !== h.entryCount) throw new BlockFormatError('SILT_BLOCK_CORRUPT', `compacted frame: runs hold ${total} entries, the frame ${h.entryCount}`);
    if (kept.length === 0) return undefined;
    return kept.length === 2 && kept[0] === 0 && kept[1] === total ? null : kept;
  }
  return K.decodeFrameKey(key, prefixLength).offset >= maxOffset ? undefined : null;
}
