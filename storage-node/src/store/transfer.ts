/**
 * Segment transfer, both ends of a rebuild from a peer: the peer lists a partition's segments and
 * streams each as a dump of one LevelDB snapshot (the meta with the applied offset is in the same
 * snapshot as the data, so a segment still being written is copied consistently); the rebuilding
 * node writes the dumps into fresh databases in a staging directory, verifies each, and adopts the
 * whole partition with one rename. docs/STORAGE.md, "Rebuild from a peer".
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { SiltError } from '../../../core/src/errors';
import { DumpFormatError } from '../../../core/src/errors';
import { DumpDecoder, DumpEncoder, type DumpPair } from './dump-format';
import * as K from './keys';
import { type MetaJson, type SegmentMeta, decodeSegmentMeta, fsyncDir, toJson, writeManifest } from './manifest';
import type { Retention } from './retention';
import { type Db, type HandleCache, type Lifecycle, type Partitions, type PutOp, type Segment, checkPartition, newDb, removeDir } from './segments';
import type { Writer } from './writer';

/** Pairs fetched from LevelDB per iterator call while dumping (values are frames: a few MiB at most per call). */
const DUMP_BATCH = 128;
/** Bytes of pairs written to a staged segment per LevelDB batch: bounds the receiver's memory. */
const STAGE_BATCH_BYTES = 4 * 1024 * 1024;
/** Suffix of a partition's staging directory (removed at open, like every `*.tmp`). */
const STAGING_SUFFIX = '.rebuild.tmp';

/** A partition's segments as a peer lists them, oldest first; `applied` is the partition's next offset to apply. */
export interface PartitionListing {
  partition: number;
  applied: string;
  segments: MetaJson[];
}

/** What loading one dump into a staged partition gave. */
export interface LoadedSegment {
  /** The segment's meta, or null for a segment created but never written (nothing is kept of it). */
  meta: SegmentMeta | null;
  /** Bytes of the dump taken in. */
  bytes: number;
}

function isMetaKey(key: Uint8Array): boolean {
  return key.byteLength === K.META_KEY.byteLength && key[0] === K.META_KEY[0] && key[1] === K.META_KEY[1];
}

/** fsyncs every file of a directory, then the directory: a closed LevelDB's log is otherwise only in the page cache. */
async function fsyncTree(dir: string): Promise<void> {
  for (const name of await fsp.readdir(dir)) {
    const fh = await fsp.open(path.join(dir, name), 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  await fsyncDir(dir);
}

/** A partition being copied from a peer into a staging directory; nothing of it is visible until the store adopts it. */
export class StagedPartition {
  /** Meta of the segments loaded so far, oldest first. */
  readonly segments: SegmentMeta[] = [];
  private emptySeen = false;
  private closed = false;

  constructor(
    readonly partition: number,
    readonly dir: string,
    private readonly onClose: () => void,
  ) {}

  /** The next offset to apply once adopted: the newest loaded segment's applied offset (0n when none). */
  get applied(): bigint {
    return this.segments[this.segments.length - 1]?.applied ?? 0n;
  }

  /**
   * Writes the dump of segment `first` (streamed as `chunks`) into a fresh database, verifying it as
   * it comes; throws `DumpFormatError` (or the stream's own error) on anything short of a whole,
   * matching dump, after which the staged partition must be discarded.
   */
  async load(first: bigint, chunks: AsyncIterable<Uint8Array>): Promise<LoadedSegment> {
    if (this.closed) throw new Error('staged partition is closed');
    const prev = this.segments[this.segments.length - 1];
    if (this.emptySeen || (prev !== undefined && (first <= prev.first || first < prev.applied))) {
      throw new DumpFormatError('SILT_DUMP_FORMAT', `segment ${first} of partition ${this.partition} does not follow the segments copied before it`);
    }
    const segDir = path.join(this.dir, K.segmentDirName(first));
    const db = newDb(segDir, true);
    await db.open({ createIfMissing: true, errorIfExists: true });
    let open = true;
    try {
      const decoder = new DumpDecoder(this.partition, first);
      const pairs: DumpPair[] = [];
      let ops: PutOp[] = [];
      let batchBytes = 0;
      let bytes = 0;
      let meta: SegmentMeta | null = null;
      for await (const chunk of chunks) {
        bytes += chunk.byteLength;
        decoder.push(chunk, pairs);
        for (const p of pairs) {
          if (meta === null && isMetaKey(p.key)) meta = this.checkMeta(p.value, first);
          ops.push({ type: 'put', key: p.key, value: p.value });
          batchBytes += p.key.byteLength + p.value.byteLength;
        }
        pairs.length = 0;
        if (batchBytes >= STAGE_BATCH_BYTES) {
          await db.batch(ops);
          ops = [];
          batchBytes = 0;
        }
      }
      const trailer = decoder.end();
      if ((trailer.applied === null) !== (meta === null) || (meta !== null && (trailer.applied !== meta.applied.toString() || trailer.entries !== meta.entries))) {
        throw new DumpFormatError('SILT_DUMP_FORMAT', `dump of partition ${this.partition} segment ${first}: trailer and segment meta disagree`);
      }
      if (ops.length > 0) await db.batch(ops);
      open = false;
      await db.close();
      if (meta === null) {
        // Created by a roll on the peer and never written: holds nothing, so nothing of it is kept.
        await fsp.rm(segDir, { recursive: true, force: true });
        this.emptySeen = true;
      } else {
        await fsyncTree(segDir);
        this.segments.push(meta);
      }
      return { meta, bytes };
    } finally {
      if (open) await db.close().catch(() => undefined);
    }
  }

  /** Removes the staging directory: nothing of the copy is kept. */
  async discard(): Promise<void> {
    this.close();
    await fsp.rm(this.dir, { recursive: true, force: true });
  }

  /** Writes the manifest of the staged segments and makes the directory durable, ready for the rename that adopts it. */
  async seal(): Promise<void> {
    if (this.segments.length === 0) throw new DumpFormatError('SILT_DUMP_FORMAT', `the peer's copy of partition ${this.partition} holds no segment`);
    await writeManifest(this.dir, this.partition, this.segments.slice(0, -1));
    await fsyncDir(this.dir);
  }

  /** Marks the staging done (adopted or discarded), freeing the partition for another staging. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private checkMeta(value: Uint8Array, first: bigint): SegmentMeta {
    let meta: SegmentMeta;
    try {
      meta = decodeSegmentMeta(value);
    } catch (err) {
      throw new DumpFormatError('SILT_DUMP_FORMAT', `dump of partition ${this.partition} segment ${first}: unreadable segment meta (${(err as Error).message})`);
    }
    if (meta.first !== first) throw new DumpFormatError('SILT_DUMP_FORMAT', `dump of segment ${first} holds the meta of segment ${meta.first}`);
    return meta;
  }
}

/** Both ends of segment transfer for one store. */
export class Transfer {
  private readonly staging = new Set<number>();

  constructor(
    private readonly dir: string,
    private readonly parts: Partitions,
    private readonly handles: HandleCache,
    private readonly writer: Writer,
    private readonly retention: Retention,
    private readonly life: Lifecycle,
  ) {}

  /** The partition's segments now, oldest first (empty when the store holds nothing of it). */
  list(partition: number): PartitionListing {
    checkPartition(partition);
    const ps = this.parts.get(partition);
    const segments = (ps?.segments ?? []).filter((s) => !s.doomed).map((s) => toJson(s.meta));
    return { partition, applied: (ps?.applied ?? 0n).toString(), segments };
  }

  /** The dump of one segment as chunks, or null when the store has no such segment (retention may have removed it since it was listed). */
  dump(partition: number, first: bigint): AsyncGenerator<Buffer> | null {
    this.life.checkOpen();
    checkPartition(partition);
    const seg = this.parts.get(partition)?.segments.find((s) => s.first === first);
    return seg === undefined || seg.doomed ? null : this.dumpSegment(seg);
  }

  /** Starts a staging directory for `partition`, empty; one at a time per partition. */
  async stage(partition: number): Promise<StagedPartition> {
    this.life.checkOpen();
    checkPartition(partition);
    if (this.staging.has(partition)) throw new SiltError('SILT_REBUILD_BUSY', 409, true, `partition ${partition} is already being copied`);
    this.staging.add(partition);
    const dir = path.join(this.dir, K.partitionDirName(partition) + STAGING_SUFFIX);
    try {
      await fsp.rm(dir, { recursive: true, force: true });
      await fsp.mkdir(dir, { recursive: true });
    } catch (err) {
      this.staging.delete(partition);
      throw err;
    }
    return new StagedPartition(partition, dir, () => this.staging.delete(partition));
  }

  /**
   * Replaces whatever the store holds of the staged partition by the staged copy: the manifest is
   * written and everything fsynced, the old partition dropped, and the staging directory renamed into
   * place in one step, then loaded as at open. A crash before the rename leaves only a `*.tmp`
   * directory (removed at open): the partition then holds nothing and is copied again.
   */
  async adopt(staged: StagedPartition): Promise<void> {
    this.life.checkOpen();
    try {
      await staged.seal();
      await this.retention.drop(staged.partition);
      const ps = this.parts.open(staged.partition);
      await ps.serialize(async () => {
        this.life.checkOpen();
        if (ps.segments.length > 0 || ps.applied > 0n) throw new Error(`segment store: partition ${staged.partition} was written while it was being copied`);
        await removeDir(ps.dir);
        await fsp.rename(staged.dir, ps.dir);
        await fsyncDir(this.dir);
        await this.writer.recover(staged.partition, ps.dir);
      });
    } finally {
      staged.close();
    }
  }

  private async *dumpSegment(seg: Segment): AsyncGenerator<Buffer> {
    const db: Db = await this.handles.acquire(seg);
    try {
      if (seg.doomed) throw new SiltError('SILT_SEGMENT_GONE', 404, true, `segment ${seg.first} of partition ${seg.partition} was removed`);
      // The iterator reads one snapshot: the meta (applied offset) it meets first matches the data after it.
      const it = db.iterator();
      try {
        const encoder = new DumpEncoder(seg.partition, seg.first);
        const out: Buffer[] = [];
        let meta: { applied: bigint; entries: number } | null = null;
        let pending = it.nextv(DUMP_BATCH);
        for (let batch = await pending; batch.length > 0; batch = await pending) {
          pending = it.nextv(DUMP_BATCH);
          pending.catch(() => undefined);
          for (const [key, value] of batch) {
            if (meta === null && isMetaKey(key)) meta = decodeSegmentMeta(value);
            encoder.add(key, value, out);
          }
          for (const chunk of out.splice(0)) yield chunk;
        }
        encoder.finish(meta, out);
        for (const chunk of out) yield chunk;
      } finally {
        await it.close();
      }
    } finally {
      this.handles.release(seg);
    }
  }
}
