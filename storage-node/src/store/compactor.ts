/**
 * Compaction of small frames: frames are as small as the blocks ingest cut, and small frames
 * compress poorly (zstd needs context), so a stream's small frames of a segment are replaced, in
 * the background, by one frame of about the target size, recompressed at a level that pays off on
 * that size. docs/STORAGE.md, "Compacting frames".
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { BLOCK_FORMAT_VERSION, type BlockEntry, type EncodedFrame, decodeFrameBytes, encodeFrame } from '../../../core/src/block-format';
import { FRAME_V2_VERSION, encodeFrameV2, withoutFilter } from '../../../core/src/frame-v2';
import { storedFrameHeader } from '../../../core/src/stored-frame';
import { FrameKeyList } from './frame-key-list';
import * as K from './keys';
import type { Registry } from './registry';
import { type DelOp, type HandleCache, type Lifecycle, type Partitions, PerSegment, type PutOp, type Segment } from './segments';

/** Entries a compacted frame aims at unless the store's options say otherwise. */
export const COMPACTION_TARGET_ENTRIES = 4096;
const COMPACTION_TARGET_RAW_BYTES = 512 * 1024;
// zstd levels of compacted frames: v1 frames one level; v2 frames a higher one for the lines (the
// bulk of the bytes, and compaction runs off the write path) and a fast one for the small columns.
const COMPACTION_LEVEL_V1 = 6;
const COMPACTION_LEVELS_V2 = { lines: 9, meta: 3 };
/** The frame version compaction writes unless the store's options say otherwise. */
export const COMPACTION_FRAME_VERSION = FRAME_V2_VERSION;
// Small frames tracked per segment, and compactions queued; past these, new small frames stay as
// they are (bounds the node's memory).
const MAX_PENDING_FRAMES = 50_000;
const MAX_QUEUED_COMPACTIONS = 20_000;
// Share of wall time compaction may take while writes arrive (the rest it sleeps); with no write
// for WRITE_IDLE_MS it runs flat out.
const COMPACTION_DUTY = 0.1;
const WRITE_IDLE_MS = 1000;
/** How long a segment's small frames wait for more of their stream before they are compacted as they are, unless the store's options say otherwise. */
export const COMPACTION_IDLE_MS = 60_000;
/**
 * With no write at all for this long (or the idle time, if shorter), the load has stopped: every
 * stream's small frames are compacted as they are, rather than each waiting out its idle time
 * while reads of everything just loaded go over small v1 frames.
 */
export const COMPACTION_QUIET_MS = 5_000;
// Bytes of deleted small frames after which a segment's LevelDB is compacted (`compactRange`) even
// while compactions are queued.
const RECLAIM_BYTES = 16 * 1024 * 1024;
// Bounds of a `compactRange` over a whole segment: every key starts at or after 00; a tenant prefix
// is at most 256 bytes and starts with its length (≤ 255), so no key reaches 257 bytes of FF.
const KEY_MIN = 0x00;
const ALL_KEYS_END = new Uint8Array(257).fill(0xff);

/** Compactions done (and the small frames they replaced) and failed, since the store opened. */
export interface CompactionCounts {
  compactions: number;
  frames: number;
  failed: number;
}

/** Small frames of one stream waiting to be compacted into one. */
interface PendingFrames {
  /** The tenant prefix, a copy of its own (for the reason FrameKeyList gives). */
  prefix: Buffer;
  keys: FrameKeyList;
  entries: number;
  rawBytes: number;
  /** performance.now() when the last of them was noted. */
  lastAt: number;
}

/** Frames of one stream of one segment to compact into one. */
interface CompactionJob {
  seg: Segment;
  tenant: string;
  streamId: bigint;
  frames: PendingFrames;
}

/** What the compactor keeps of one segment. */
class SegmentCompaction {
  /** Small frames this process wrote here and has not compacted yet, per tenant and stream. */
  pending = new Map<string, Map<bigint, PendingFrames>>();
  pendingFrames = 0;
  /** Bytes of frames compactions deleted that LevelDB still keeps on disk (until a `compactRange` of the segment). */
  reclaimable = 0;
}

/**
 * The keys a compaction writes and deletes: the replaced frames go, with their heads in a segment
 * that keeps heads; the compacted frame comes, there with its head, and a v2 frame's filter apart
 * (its header with the filter beside it, the frame without, so the filter is stored once).
 */
function compactionOps(replaced: readonly Buffer[], prefixLength: number, version: number, frame: EncodedFrame, runs: readonly K.FrameRun[], heads: boolean): (PutOp | DelOp)[] {
  const ops: (PutOp | DelOp)[] = replaced.map((key) => ({ type: 'del', key }));
  if (!heads) {
    ops.push({ type: 'put', key: replaced[0]!, value: K.encodeCompactedFrameValue(version, frame, runs) });
    return ops;
  }
  for (const key of replaced) ops.push({ type: 'del', key: K.retagFrameKey(key, prefixLength, K.TAG_HEAD) });
  let stored = frame;
  if (version === FRAME_V2_VERSION) {
    const split = withoutFilter(frame.bytes);
    stored = { ...frame, bytes: split.frame, frameCrc: crc32(split.frame) };
    ops.push({ type: 'put', key: K.retagFrameKey(replaced[0]!, prefixLength, K.TAG_FILTER), value: split.header });
  }
  const value = K.encodeCompactedFrameValue(version, stored, runs);
  ops.push({ type: 'put', key: replaced[0]!, value });
  ops.push({ type: 'put', key: K.retagFrameKey(replaced[0]!, prefixLength, K.TAG_HEAD), value: K.encodeFrameHead(value, storedFrameHeader(version, stored.bytes)) });
  return ops;
}

/** Compacts the small frames a store's writer notes, one job at a time, under each partition's write lock. */
export class Compactor {
  /** Counters since the store opened. */
  readonly counts: CompactionCounts = { compactions: 0, frames: 0, failed: 0 };
  private readonly queue: CompactionJob[] = [];
  private running = false;
  /** performance.now() of the last write that stored anything. */
  private lastWriteAt = -Infinity;
  private readonly bySegment = new PerSegment(() => new SegmentCompaction());
  /** Segments holding noted small frames, which an idle check may close out. */
  private readonly waiting = new Set<Segment>();
  private idleTimer: NodeJS.Timeout | null = null;
  /** performance.now() of the idle check's last pass over every waiting stream. */
  private lastIdleScan = -Infinity;

  constructor(
    private readonly targetEntries: number,
    /** 2 (frames v2), or 1 to write what a node without v2 reads (a downgrade). */
    private readonly frameVersion: number,
    /** A segment whose last small frame is this old (ms) has its small frames compacted as they are; 0: only when it rolls. */
    private readonly idleMs: number,
    /** With no write for this long (ms, capped by `idleMs`), every segment's small frames are compacted as they are. */
    private readonly quietMs: number,
    private readonly parts: Partitions,
    private readonly handles: HandleCache,
    private readonly registry: Registry,
    private readonly life: Lifecycle,
  ) {}

  /** Whether a frame is small enough to be noted for compaction: under half the target. */
  isSmall(entryCount: number, rawLength: number): boolean {
    return entryCount < this.targetEntries / 2 && rawLength < COMPACTION_TARGET_RAW_BYTES / 2;
  }

  /** A write stored something: while writes arrive, compaction yields to them. */
  noteWrite(): void {
    this.lastWriteAt = performance.now();
  }

  /** Notes a small frame just committed; queues its stream's small frames once they reach the target size. */
  noteSmallFrame(seg: Segment, tenant: string, prefix: Buffer, streamId: bigint, key: Buffer, entries: number, rawBytes: number): void {
    const c = this.bySegment.of(seg);
    if (c.pendingFrames >= MAX_PENDING_FRAMES) return;
    let byStream = c.pending.get(tenant);
    if (byStream === undefined) c.pending.set(tenant, (byStream = new Map()));
    let p = byStream.get(streamId);
    if (p === undefined) {
      const own = Buffer.alloc(prefix.length);
      own.set(prefix);
      byStream.set(streamId, (p = { prefix: own, keys: new FrameKeyList(key.length), entries: 0, rawBytes: 0, lastAt: 0 }));
    }
    p.keys.push(key);
    p.entries += entries;
    p.rawBytes += rawBytes;
    c.pendingFrames++;
    p.lastAt = performance.now();
    this.waiting.add(seg);
    this.armIdleCheck();
    if (p.entries < this.targetEntries && p.rawBytes < COMPACTION_TARGET_RAW_BYTES) return;
    byStream.delete(streamId);
    c.pendingFrames -= p.keys.length;
    this.enqueue({ seg, tenant, streamId, frames: p });
  }

  /** Queues every stream's remaining small frames of a segment that will get no more writes. */
  sealed(seg: Segment): void {
    this.waiting.delete(seg);
    const c = this.bySegment.of(seg);
    for (const [tenant, byStream] of c.pending) {
      for (const [streamId, frames] of byStream) if (frames.keys.length > 1) this.enqueue({ seg, tenant, streamId, frames });
    }
    c.pending = new Map();
    c.pendingFrames = 0;
  }

  /** Stops the idle check (the store is closing). */
  stop(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /**
   * A stream that stops receiving leaves its last small frames short of the target, uncompacted for
   * as long as its segment stays active; the idle check compacts them as they are once the stream
   * has noted none for `idleMs`, or once the store has had no write for `quietMs` (a lone small
   * frame is left as it is: there is nothing to join it to).
   */
  private armIdleCheck(): void {
    if (this.idleTimer !== null || this.idleMs <= 0 || this.life.closed) return;
    const quietMs = Math.min(this.idleMs, this.quietMs);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.life.closed) return;
      const now = performance.now();
      const quiet = now - this.lastWriteAt >= quietMs;
      // The check comes round often enough to see the store fall quiet; while writes arrive, only
      // streams idle for `idleMs` qualify, and a pass every half of that finds them in time.
      if (!quiet && now - this.lastIdleScan < this.idleMs / 2) {
        this.armIdleCheck();
        return;
      }
      this.lastIdleScan = now;
      for (const seg of this.waiting) {
        const c = this.bySegment.of(seg);
        for (const [tenant, byStream] of c.pending) {
          for (const [streamId, frames] of byStream) {
            if (seg.doomed || (!quiet && now - frames.lastAt < this.idleMs)) continue;
            byStream.delete(streamId);
            c.pendingFrames -= frames.keys.length;
            if (frames.keys.length > 1) this.enqueue({ seg, tenant, streamId, frames });
          }
          if (byStream.size === 0) c.pending.delete(tenant);
        }
        if (seg.doomed || c.pending.size === 0) this.waiting.delete(seg);
      }
      if (this.waiting.size > 0) this.armIdleCheck();
    }, quietMs / 2);
    this.idleTimer.unref();
  }

  /** Small frames noted and not yet queued: they wait for more of their stream, or for the idle check. */
  pending(): number {
    let n = 0;
    for (const seg of this.waiting) n += this.bySegment.of(seg).pendingFrames;
    return n;
  }

  /** Streams whose small frames wait to be compacted, plus one while a job or a `compactRange` runs. */
  queued(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /** Resolves when no compaction is queued or running. */
  async settled(): Promise<void> {
    while (this.running) await this.life.settleRunning();
  }

  private enqueue(job: CompactionJob): void {
    if (this.queue.length >= MAX_QUEUED_COMPACTIONS) return;
    this.queue.push(job);
    if (this.running) return;
    this.running = true;
    this.life.track(this.run());
  }

  /** Runs queued jobs one at a time, each under its partition's write lock. */
  private async run(): Promise<void> {
    try {
      const touched = new Set<Segment>();
      while ((this.queue.length > 0 || touched.size > 0) && !this.life.closed) {
        const started = performance.now();
        const job = this.queue.shift();
        if (job === undefined) {
          // Caught up: give the space of every replaced frame back.
          const seg = touched.values().next().value!;
          touched.delete(seg);
          await this.reclaim(seg);
        } else {
          const ps = this.parts.get(job.seg.partition);
          if (ps === undefined || job.seg.doomed) continue;
          try {
            await ps.serialize(() => this.compactLocked(job));
          } catch {
            // The frames stay as they were: compaction only ever saves space and time.
            this.counts.failed++;
          }
          touched.add(job.seg);
          if (this.bySegment.of(job.seg).reclaimable >= RECLAIM_BYTES) {
            touched.delete(job.seg);
            await this.reclaim(job.seg);
          }
        }
        // Under write load compaction yields most of the time to writes and reads: it falls behind,
        // and catches up once the load drops.
        const now = performance.now();
        const loaded = now - this.lastWriteAt < WRITE_IDLE_MS;
        if (loaded && (this.queue.length > 0 || touched.size > 0) && !this.life.closed) await sleep((now - started) * (1 / COMPACTION_DUTY - 1));
      }
    } finally {
      this.running = false;
    }
  }

  /** Compacts a segment's whole LevelDB so the frames compactions deleted leave the disk (LevelDB alone would keep them until its own compactions reach them). */
  private async reclaim(seg: Segment): Promise<void> {
    const c = this.bySegment.of(seg);
    if (seg.doomed || c.reclaimable === 0) return;
    const db = await this.handles.acquire(seg);
    try {
      c.reclaimable = 0;
      await db.compactRange(Uint8Array.of(KEY_MIN), ALL_KEYS_END);
    } catch {
      this.counts.failed++;
    } finally {
      this.handles.release(seg);
    }
  }

  /**
   * Replaces one stream's small frames by one compacted frame, keyed like the first of them in key
   * order (whose minTs is the least), with a run table that keeps each original frame's place in
   * the entry order; one atomic batch, so a read sees either the small frames or the compacted one.
   */
  private async compactLocked(job: CompactionJob): Promise<void> {
    const { seg, tenant, streamId } = job;
    if (seg.doomed) return;
    const prefix = job.frames.prefix;
    const keys = job.frames.keys.keys().sort(Buffer.compare);
    const registryKey = K.streamKey(prefix, streamId);
    const db = await this.handles.acquire(seg);
    try {
      const [values, registry] = await Promise.all([db.getMany(keys), db.get(registryKey)]);
      const entries: BlockEntry[] = [];
      const runs: K.FrameRun[] = [];
      const replaced: Buffer[] = [];
      for (let i = 0; i < keys.length; i++) {
        const value = values[i];
        if (value === undefined) continue;
        const h = K.readFrameValueHeader(value);
        if (h.layout !== K.VALUE_LAYOUT || h.version !== BLOCK_FORMAT_VERSION) continue;
        const k = K.decodeFrameKey(keys[i]!, prefix.length);
        const part = decodeFrameBytes(K.frameValueBytes(value), h.rawLength, h.frameCrc)!;
        for (const e of part) entries.push(e);
        runs.push({ offset: k.offset, frame: k.frame, count: part.length });
        replaced.push(keys[i]!);
      }
      if (replaced.length < 2 || registry === undefined) return;
      const frame: EncodedFrame = this.frameVersion === FRAME_V2_VERSION ? encodeFrameV2(entries, COMPACTION_LEVELS_V2) : encodeFrame(entries, COMPACTION_LEVEL_V1);
      const span = frame.maxTs - frame.minTs;
      this.registry.raiseSpanFloor(seg, tenant, streamId, span);

      const ops = compactionOps(replaced, prefix.length, this.frameVersion, frame, runs, seg.meta.heads);
      const { labels, maxSpan } = K.decodeStreamValue(registry);
      if (span > maxSpan) ops.push({ type: 'put', key: registryKey, value: K.encodeStreamValue(labels, span) });
      await seg.changingHeads(() => db.batch(ops));
      const c = this.bySegment.of(seg);
      for (let i = 0; i < keys.length; i++) if (values[i] !== undefined) c.reclaimable += values[i]!.length;
      if (span > maxSpan) this.registry.spanWidened(seg, tenant, streamId, span);
      this.counts.compactions++;
      this.counts.frames += replaced.length;
    } finally {
      this.handles.release(seg);
    }
  }
}
