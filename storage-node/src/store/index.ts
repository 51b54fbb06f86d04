/**
 * The storage node's segment store: each partition is a sequence of segments, one classic-level
 * database each, holding a contiguous offset range. Blocks are applied exactly once (the applied
 * offset is in the same batch as the data), frames are stored as they came (still zstd) and
 * compacted per stream in the background, and reads merge every matching stream in the total
 * order of DESIGN Guarantee 5. docs/STORAGE.md.
 *
 * One file per job; an arrow is "imports" (keys.ts and manifest.ts, the on-disk layout, are
 * imported by nearly all and left out):
 *
 *   index.ts      ──▶ every file below          the SegmentStore facade, its options and types
 *   reader.ts     ──▶ merge, frame-cursor, registry, segments  read plans, `read`, the `frames` scan, `series`
 *   merge.ts      ──▶ frame-cursor, frame-cache, registry, segments  the k-way merge of one read
 *   frame-cache.ts ──▶ (keys, segments)         decoded frames kept for reads of them again
 *   frame-cursor.ts ──▶ segments                 a stream's frames, by their heads where a segment keeps them
 *   transfer.ts   ──▶ retention, writer, segments  segment dumps to a peer, staged copies from one
 *   retention.ts  ──▶ registry, writer, segments  dropBefore, per-tenant dropTenantsBefore, drop, removal of doomed segments
 *   writer.ts     ──▶ compactor, registry, segments  exactly-once apply, rolls, manifest, recovery
 *   compactor.ts  ──▶ registry, segments         compaction of small frames into bigger ones
 *   registry.ts   ──▶ segments                   stream lookups, registry cache, span floors
 *   segments.ts   ──▶ (keys, manifest)           segments, partitions, the handle cache
 *
 * dump-format.ts, the wire format of a segment dump, is imported by transfer.ts.
 * Nothing in the folder imports index.ts or reader.ts. Per-segment state lives with its job, keyed
 * by the `Segment` (mostly in a `PerSegment`, held weakly, so it goes with the segment); the handle
 * cache reaches retention and the registry only through the hooks this facade gives it.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Labels } from '../../../core/src/labels';
import { COMPACTION_FRAME_VERSION, COMPACTION_IDLE_MS, COMPACTION_QUIET_MS, COMPACTION_TARGET_ENTRIES, type CompactionCounts, Compactor } from './compactor';
import * as K from './keys';
import type { ReadStats, StoredEntry } from './merge';
import { type FrameScanRequest, type ReadRequest, Reader, type SeriesRequest, type StoredFrame } from './reader';
import { ChangeLog, type ChangesSince } from './change-log';
import { Registry } from './registry';
import { FrameCache } from './frame-cache';
import { HeadCache } from './head-cache';
import { Retention, type TenantRetentionCounts } from './retention';
import { ScanPool } from './scan-pool';
import { HandleCache, Lifecycle, Partitions } from './segments';
import { type PartitionListing, type StagedPartition, Transfer } from './transfer';
import { type ApplyResult, type IncomingBlock, Writer } from './writer';

export type { CompactionCounts } from './compactor';
export type { ReadStats, StoredEntry } from './merge';
export type { FrameScanRequest, HeadFrame, ReadRequest, SeriesRequest, StoredFrame } from './reader';
export { lineFilterFields } from './reader';
export type { ApplyResult, IncomingBlock } from './writer';
export type { LoadedSegment, PartitionListing, StagedPartition } from './transfer';
export type { TenantRetentionCounts } from './retention';

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
  /** Entries a compacted frame aims at (default 4096); frames under half of it are compacted per stream. */
  compactionTargetEntries?: number;
  /** The version of the frames compaction writes: 2 (frames v2, the default) or 1 (what a node without v2 reads). */
  compactionFrameVersion?: 1 | 2;
  /** A segment that has noted no small frame for this long (ms; default 60 s) has its small frames compacted as they are; 0: only when it rolls. */
  compactionIdleMs?: number;
  /** Bytes of frame heads (and token filters) kept in memory for reads that go by heads (default 16 MiB; 0: none). */
  headCacheBytes?: number;
  /** Bytes of frames decoded whole kept in memory for reads of the same frames again (default 32 MiB; 0: none). */
  frameCacheBytes?: number;
  /** Worker threads that decode and filter the frames of reads with line filters (default: none; a storage node runs one a core). */
  scanThreads?: number;
  /** With no write for this long (ms; default 5 s, capped by `compactionIdleMs`), every segment's small frames are compacted as they are. */
  compactionQuietMs?: number;
}

// The frame heads a store keeps in memory: a few thousand streams' heads with their filters.
const HEAD_CACHE_BYTES = 16 * 1024 * 1024;
const FRAME_CACHE_BYTES = 32 * 1024 * 1024;

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

function checkOptions(o: SegmentStoreOptions): void {
  if (typeof o.dir !== 'string' || o.dir === '') throw new RangeError('segment store: dir is required');
  if (!(o.maxSegmentBytes > 0)) throw new RangeError('segment store: maxSegmentBytes must be positive');
  if (!(o.maxSegmentAgeMs > 0)) throw new RangeError('segment store: maxSegmentAgeMs must be positive');
  if (!Number.isInteger(o.maxOpenSegments) || o.maxOpenSegments < 1) throw new RangeError('segment store: maxOpenSegments must be a positive integer');
  if (o.compactionTargetEntries !== undefined && !(Number.isInteger(o.compactionTargetEntries) && o.compactionTargetEntries >= 8)) {
    throw new RangeError('segment store: compactionTargetEntries must be an integer ≥ 8');
  }
  if (o.compactionIdleMs !== undefined && !(Number.isInteger(o.compactionIdleMs) && o.compactionIdleMs >= 0)) {
    throw new RangeError('segment store: compactionIdleMs must be an integer ≥ 0');
  }
  if (o.compactionQuietMs !== undefined && !(Number.isInteger(o.compactionQuietMs) && o.compactionQuietMs >= 1)) {
    throw new RangeError('segment store: compactionQuietMs must be an integer ≥ 1');
  }
  if (o.headCacheBytes !== undefined && !(Number.isInteger(o.headCacheBytes) && o.headCacheBytes >= 0)) throw new RangeError('segment store: headCacheBytes must be an integer ≥ 0');
  if (o.frameCacheBytes !== undefined && !(Number.isInteger(o.frameCacheBytes) && o.frameCacheBytes >= 0)) throw new RangeError('segment store: frameCacheBytes must be an integer ≥ 0');
  if (o.scanThreads !== undefined && !(Number.isInteger(o.scanThreads) && o.scanThreads >= 0 && o.scanThreads <= 64)) {
    throw new RangeError('segment store: scanThreads must be an integer from 0 to 64');
  }
  if (o.compactionFrameVersion !== undefined && o.compactionFrameVersion !== 1 && o.compactionFrameVersion !== 2) {
    throw new RangeError('segment store: compactionFrameVersion must be 1 or 2');
  }
}

/** An offset no read reaches: tracking of a dropped partition starts there, so every question about it is answered unknown. */
const UNTRACKED = 2n ** 63n;

/** The segments of every partition a storage node holds, with exactly-once writes and ordered reads. */
export class SegmentStore {
  /** Compactions done (and the small frames they replaced) and failed, since the store opened. */
  readonly compactionCounts: Readonly<CompactionCounts>;
  private readonly life = new Lifecycle();
  private readonly parts: Partitions;
  private readonly handles: HandleCache;
  private readonly compactor: Compactor;
  private readonly writer: Writer;
  private readonly retention: Retention;
  private readonly reader: Reader;
  private readonly scanPool: ScanPool | null;
  private readonly headCache: HeadCache | null;
  private readonly frameCache: FrameCache | null;
  private readonly transfer: Transfer;
  private readonly changes = new ChangeLog();

  private constructor(options: SegmentStoreOptions) {
    const life = this.life;
    const parts = (this.parts = new Partitions(options.dir));
    // The hooks reach jobs built after the cache, which need it themselves.
    const handles = (this.handles = new HandleCache(options.maxOpenSegments, parts, life, {
      doomedIdle: (seg) => this.retention.doomedIdle(seg),
      closing: (seg) => registry.dropCache(seg),
    }));
    const registry = new Registry(handles, life);
    this.compactor = new Compactor(options.compactionTargetEntries ?? COMPACTION_TARGET_ENTRIES, options.compactionFrameVersion ?? COMPACTION_FRAME_VERSION, options.compactionIdleMs ?? COMPACTION_IDLE_MS, options.compactionQuietMs ?? COMPACTION_QUIET_MS, parts, handles, registry, life);
    this.compactionCounts = this.compactor.counts;
    this.writer = new Writer(options, parts, handles, registry, this.compactor, life);
    this.retention = new Retention(parts, handles, registry, this.writer, life, (partition, applied, earliest) => this.changes.record(partition, applied, applied, earliest));
    this.scanPool = options.scanThreads ? new ScanPool(options.scanThreads) : null;
    this.headCache = options.headCacheBytes === 0 ? null : new HeadCache(options.headCacheBytes ?? HEAD_CACHE_BYTES);
    this.frameCache = options.frameCacheBytes === 0 ? null : new FrameCache(options.frameCacheBytes ?? FRAME_CACHE_BYTES);
    this.reader = new Reader(parts, handles, registry, life, this.scanPool, this.headCache, this.frameCache);
    this.transfer = new Transfer(options.dir, parts, handles, this.writer, this.retention, life);
  }

  /** Opens (or creates) the store in `options.dir`, recovering every partition from its segments. */
  static async open(options: SegmentStoreOptions): Promise<SegmentStore> {
    checkOptions(options);
    const store = new SegmentStore({ ...options });
    await fsp.mkdir(options.dir, { recursive: true });
    for (const name of await fsp.readdir(options.dir)) {
      const full = path.join(options.dir, name);
      // `.tmp`: a partition's copy from a peer that never got adopted (transfer.ts).
      if (name.endsWith('.deleting') || name.endsWith('.tmp')) {
        await fsp.rm(full, { recursive: true, force: true });
        continue;
      }
      const partition = K.parsePartitionDirName(name);
      if (partition === null || !(await fsp.stat(full)).isDirectory()) continue;
      await store.writer.recover(partition, full);
    }
    return store;
  }

  /** Partitions with any data or applied offset, ascending. */
  partitions(): number[] {
    return this.parts.held();
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
    const from = this.applied(partition);
    const result = await this.writer.write(partition, blocks, nextOffset);
    if (result.minTs !== null) this.changes.record(partition, from, nextOffset - 1n, result.minTs);
    return result;
  }

  /** The earliest entry timestamp a change (a write, a removal) of `partition` at or after `offset` touched. */
  changesSince(partition: number, offset: bigint): ChangesSince {
    return this.changes.since(partition, offset, this.applied(partition));
  }

  /** Reads one tenant's matching entries of [start, end), ordered per DESIGN Guarantee 5; the plan is fixed at the first `next()`. */
  read(request: ReadRequest, stats?: ReadStats): AsyncGenerator<StoredEntry> {
    return this.reader.read(request, stats);
  }

  /** The frames of a tenant's matching streams with entries in [start, end), stream by stream, in a read's snapshot (for aggregations). */
  frames(request: FrameScanRequest, stats?: ReadStats): AsyncGenerator<StoredFrame> {
    return this.reader.frames(request, stats);
  }

  /** The label sets of a tenant's matching streams registered in a segment overlapping [start, end). */
  series(request: SeriesRequest): Promise<Labels[]> {
    return this.reader.series(request);
  }

  /** Retention: removes whole segments whose newest entry ts < cutoffNs; returns how many were removed. */
  dropBefore(cutoffNs: bigint): Promise<number> {
    return this.retention.dropBefore(cutoffNs);
  }

  /** Enforces per-tenant retention (`cutoffOf`: the oldest entry ts a tenant keeps, 0n for none of its own); see Retention.dropTenantsBefore. */
  dropTenantsBefore(cutoffOf: (tenant: string) => bigint): Promise<TenantRetentionCounts> {
    return this.retention.dropTenantsBefore(cutoffOf);
  }

  /** Removes every segment of a partition (not used for replication; for an operator or a test). */
  drop(partition: number): Promise<void> {
    // Whatever a reader computed from the partition before is unknown to be current from now on.
    this.changes.reset(partition, UNTRACKED);
    return this.retention.drop(partition);
  }

  /** A partition's segments as a peer rebuilding it lists them (docs/STORAGE.md, "Rebuild from a peer"). */
  listSegments(partition: number): PartitionListing {
    return this.transfer.list(partition);
  }

  /** The dump of one segment (one LevelDB snapshot) as chunks; null when the store has no such segment. */
  dumpSegment(partition: number, first: bigint): AsyncGenerator<Buffer> | null {
    return this.transfer.dump(partition, first);
  }

  /** Starts copying a partition from a peer into a staging directory; nothing is visible until `adopt`. */
  stage(partition: number): Promise<StagedPartition> {
    return this.transfer.stage(partition);
  }

  /** Replaces the store's copy of a partition by a fully loaded staged one, atomically. */
  async adopt(staged: StagedPartition): Promise<void> {
    await this.transfer.adopt(staged);
    // The copy's entries came in without a record of when: only changes from its applied offset on are known.
    this.changes.reset(staged.partition, this.applied(staged.partition));
  }

  /** Bytes of frame heads and filters the store keeps in memory now. */
  headsCachedBytes(): number {
    return this.headCache?.bytes ?? 0;
  }

  /** Bytes of decoded frames the store keeps in memory now, and its lookups found and not found since it opened. */
  framesCached(): { bytes: number; hits: number; misses: number } {
    const c = this.frameCache;
    return { bytes: c?.bytes ?? 0, hits: c?.hits ?? 0, misses: c?.misses ?? 0 };
  }

  /** Frames the store's reads had decoded and filtered on its scan threads since it opened. */
  framesScannedOnThreads(): number {
    return this.scanPool?.framesSent ?? 0;
  }

  /** Streams whose small frames wait to be compacted, plus one while compacting. */
  compactionsQueued(): number {
    return this.compactor.queued();
  }

  /** Small frames noted for compaction and not yet queued (waiting for more of their stream, or for the idle check). */
  smallFramesPending(): number {
    return this.compactor.pending();
  }

  /** Resolves when no compaction of small frames is queued or running. */
  compactionsSettled(): Promise<void> {
    return this.compactor.settled();
  }

  /** Closes every handle; reads still running fail. */
  async close(): Promise<void> {
    if (this.life.closed) return;
    this.life.closed = true;
    this.compactor.stop();
    await Promise.all([...this.parts.all()].map((ps) => ps.settled()));
    await this.handles.closeAll();
    this.retention.removeRemaining();
    await this.life.drain();
    await this.scanPool?.close();
  }
}
