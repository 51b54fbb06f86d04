/**
 * The writer: applies Kafka blocks exactly once (the applied offset is in the same LevelDB batch
 * as the data), rolls the active segment, keeps the manifest of closed segments, and recovers a
 * partition from its segments at open. docs/STORAGE.md, "Writing", "Segment lifecycle" and
 * "Recovery at open".
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { type BlockHeader, readBlockHeader } from '../../../core/src/block-format';
import { BlockFormatError } from '../../../core/src/errors';
import type { Compactor } from './compactor';
import * as K from './keys';
import { type SegmentMeta, decodeSegmentMeta, emptyMeta, encodeSegmentMeta, fsyncDir, readManifest, writeManifest } from './manifest';
import type { KnownStreams, Registry } from './registry';
import { type HandleCache, type Lifecycle, type PartitionData, type Partitions, type PutOp, Segment, checkPartition, newDb, removeDir } from './segments';

/** One Kafka message of a partition: its offset and its value (a block). */
export interface IncomingBlock {
  offset: bigint;
  value: Uint8Array;
}

/** What one `write` did. */
export interface ApplyResult {
  entries: number;
  /** The earliest entry timestamp written; null when nothing readable was. */
  minTs: bigint | null;
  blocks: number;
  skipped: number;
  corrupt: number;
  bytes: number;
}

/** When the active segment rolls. */
export interface RollLimits {
  /** Roll when its stored bytes pass this. */
  maxSegmentBytes: number;
  /** ...or when it is older than this (wall clock since it was created). */
  maxSegmentAgeMs: number;
}

/** Why a block is quarantined instead of stored. */
interface Quarantined {
  code: string;
  message: string;
}

/** A small frame of a batch, noted for compaction once the batch commits. */
interface SmallFrame {
  tenant: string;
  prefix: Buffer;
  streamId: bigint;
  key: Buffer;
  entries: number;
  rawBytes: number;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
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

/** Applies blocks to the active segments of a store's partitions, and creates and recovers segments. */
export class Writer {
  constructor(
    private readonly limits: RollLimits,
    private readonly parts: Partitions,
    private readonly handles: HandleCache,
    private readonly registry: Registry,
    private readonly compactor: Compactor,
    private readonly life: Lifecycle,
  ) {}

  /** Applies consecutive Kafka messages of one partition in one atomic batch together with the new applied offset (nextOffset); blocks below the applied offset are skipped (replays are harmless). */
  async write(partition: number, blocks: readonly IncomingBlock[], nextOffset: bigint): Promise<ApplyResult> {
    this.life.checkOpen();
    checkPartition(partition);
    if (typeof nextOffset !== 'bigint' || nextOffset < 0n) throw new RangeError(`segment store: bad next offset ${String(nextOffset)}`);
    let prev = -1n;
    for (const b of blocks) {
      if (typeof b.offset !== 'bigint' || b.offset <= prev) throw new RangeError(`segment store: block offsets must be ascending bigints ≥ 0 (got ${String(b.offset)} after ${prev})`);
      prev = b.offset;
    }
    if (prev >= nextOffset) throw new RangeError(`segment store: next offset ${nextOffset} is not after the last block (${prev})`);
    const ps = this.parts.open(partition);
    return ps.serialize(() => this.applyLocked(ps, blocks, nextOffset));
  }

  private async applyLocked(ps: PartitionData, blocks: readonly IncomingBlock[], nextOffset: bigint): Promise<ApplyResult> {
    this.life.checkOpen();
    const result: ApplyResult = { entries: 0, minTs: null, blocks: 0, skipped: 0, corrupt: 0, bytes: 0 };
    const applied = ps.applied;
    let firstIndex = 0;
    while (firstIndex < blocks.length && blocks[firstIndex]!.offset < applied) firstIndex++;
    result.skipped = firstIndex;
    const newApplied = applied > nextOffset ? applied : nextOffset;
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
    const db = await this.handles.acquire(seg);
    try {
      const known = await this.registry.knownStreams(seg, db, headers);
      const fresh: KnownStreams = new Map();
      const ops: PutOp[] = [];
      const meta: SegmentMeta = { ...seg.meta };
      const small: SmallFrame[] = [];
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
          if (meta.heads) {
            // A block's frames are v1: their heads say what their value header says, no more.
            const hk = K.retagFrameKey(key, prefix.length, K.TAG_HEAD);
            const hv = K.encodeFrameHead(value, null);
            ops.push({ type: 'put', key: hk, value: hv });
            bytes += hk.length + hv.length;
          }
          if (this.compactor.isSmall(s.entryCount, s.rawLength)) small.push({ tenant: h.tenant, prefix, streamId: s.streamId, key, entries: s.entryCount, rawBytes: s.rawLength });
          const span = s.maxTs - s.minTs;
          const had = tenantFresh?.get(s.streamId) ?? tenantKnown?.get(s.streamId);
          if (had === undefined || span > had) {
            // A registry value is rewritten only to widen its span; `had` includes spans compaction committed.
            const rk = K.streamKey(prefix, s.streamId);
            const rv = K.encodeStreamValue(s.labels, span);
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
            tenantFresh.set(s.streamId, span);
          }
          if (meta.minTs === null || s.minTs < meta.minTs) meta.minTs = s.minTs;
          if (result.minTs === null || s.minTs < result.minTs) result.minTs = s.minTs;
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
      await seg.changingHeads(() => db.batch(ops));
      // Committed: only now does memory learn of it.
      seg.meta = meta;
      ps.applied = newApplied;
      this.registry.committed(seg, known, fresh);
      result.bytes = bytes;
      this.compactor.noteWrite();
      for (const f of small) this.compactor.noteSmallFrame(seg, f.tenant, f.prefix, f.streamId, f.key, f.entries, f.rawBytes);
    } finally {
      this.handles.release(seg);
    }
    if (ps.manifestDirty) await this.saveManifest(ps);
    return result;
  }

  private shouldRoll(seg: Segment): boolean {
    // A segment that covers no offset yet is never rolled: the next one would take its name.
    if (seg.meta.applied <= seg.first) return false;
    return seg.meta.bytes >= this.limits.maxSegmentBytes || Date.now() - seg.meta.createdMs >= this.limits.maxSegmentAgeMs;
  }

  /** Creates an empty segment and makes it the partition's active one (the previous one is sealed); the manifest is updated after its first batch. */
  async createSegment(ps: PartitionData, first: bigint): Promise<Segment> {
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
      this.registry.sealed(prev);
      ps.manifestDirty = true;
      this.compactor.sealed(prev);
    }
    const seg = new Segment(ps.partition, first, dir, emptyMeta(first, ps.applied, Date.now()));
    this.registry.created(seg);
    ps.segments.push(seg);
    return seg;
  }

  /** Rewrites the partition's manifest of closed segments; a failure leaves it dirty for the next write. */
  async saveManifest(ps: PartitionData): Promise<void> {
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

  /** Loads a partition's segments from its directory at open, removing what a crash left half-made. */
  async recover(partition: number, dir: string): Promise<void> {
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
    const ps = this.parts.open(partition);
    ps.segments = segments;
    for (const seg of segments) if (seg.meta.applied > ps.applied) ps.applied = seg.meta.applied;
    const closed = segments.slice(0, -1);
    const upToDate = cached !== null && cached.size === closed.length && closed.every((s) => cached.has(s.first));
    if (!upToDate && (closed.length > 0 || cached !== null)) await this.saveManifest(ps);
  }
}
