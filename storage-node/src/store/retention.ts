/**
 * Retention and drop: whole segments leave their partition at once (reads that start later never
 * see them), and their directories go once no read, scan or compaction uses them any more.
 * docs/STORAGE.md, "Segment lifecycle".
 */
import * as K from './keys';
import { encodeSegmentMeta } from './manifest';
import { type HandleCache, type Lifecycle, type PartitionData, type Partitions, type Segment, checkPartition, removeDir } from './segments';
import type { Writer } from './writer';

/** A segment taken out of its partition whose directory is not gone yet. */
interface Doomed {
  ps: PartitionData;
  /** Remove the directory when the last user leaves (retention); false for drop, which removes the partition itself. */
  autoRemove: boolean;
  removal: Promise<void> | null;
}

/** Removes a store's expired segments and dropped partitions. */
export class Retention {
  private readonly doomed = new Map<Segment, Doomed>();

  constructor(
    private readonly parts: Partitions,
    private readonly handles: HandleCache,
    private readonly writer: Writer,
    private readonly life: Lifecycle,
    /** Entries from `earliest` on left partition `partition` (applied offset `applied`): the change log hears of it. */
    private readonly onRemoved: (partition: number, applied: bigint, earliest: bigint) => void,
  ) {}

  /** Removes whole closed (or active, if its newest entry is old) segments whose newest entry ts < cutoffNs; returns how many were removed. Never touches anything else. */
  async dropBefore(cutoffNs: bigint): Promise<number> {
    this.life.checkOpen();
    let removed = 0;
    for (const ps of [...this.parts.all()]) removed += await ps.serialize(() => this.dropExpired(ps, cutoffNs));
    return removed;
  }

  /** Removes every segment of a partition (not used for replication; for an operator or a test). */
  async drop(partition: number): Promise<void> {
    this.life.checkOpen();
    checkPartition(partition);
    const ps = this.parts.get(partition);
    if (ps === undefined) return;
    await ps.serialize(async () => {
      const segs = [...ps.segments];
      for (const [seg, d] of this.doomed) if (d.ps === ps) segs.push(seg);
      ps.segments = [];
      ps.applied = 0n;
      ps.manifestDirty = false;
      for (const seg of segs) if (!seg.doomed) this.doom(ps, seg, false);
      // Readers finish with what they hold; then the partition directory goes in one rename.
      await Promise.all(segs.map((seg) => this.handles.whenIdle(seg)));
      await Promise.all(segs.map((seg) => (this.doomed.get(seg)?.removal ?? this.handles.close(seg)).catch(() => undefined)));
      for (const seg of segs) this.doomed.delete(seg);
      await removeDir(ps.dir);
    });
  }

  /** The handle cache's hook: the last user of a doomed segment left, so retention may remove it now. */
  doomedIdle(seg: Segment): void {
    const d = this.doomed.get(seg);
    if (d !== undefined && d.autoRemove && d.removal === null && !this.life.closed) this.startRemoval(seg, d);
  }

  /** At close, once every handle is closed: starts the removals readers were holding up. */
  removeRemaining(): void {
    for (const [seg, d] of this.doomed) if (d.autoRemove && d.removal === null) this.startRemoval(seg, d);
  }

  private async dropExpired(ps: PartitionData, cutoff: bigint): Promise<number> {
    this.life.checkOpen();
    const expired = (s: Segment): boolean => s.meta.maxTs !== null && s.meta.maxTs < cutoff;
    const victims = ps.segments.filter(expired);
    if (victims.length === 0) return 0;
    let earliest: bigint | null = null;
    for (const v of victims) if (v.meta.minTs !== null && (earliest === null || v.meta.minTs < earliest)) earliest = v.meta.minTs;
    if (earliest !== null) this.onRemoved(ps.partition, ps.applied, earliest);
    if (expired(ps.active!)) {
      // The applied offset lives in the active segment: an empty successor carries it on.
      const seg = await this.writer.createSegment(ps, ps.applied);
      const db = await this.handles.acquire(seg);
      try {
        await db.batch([{ type: 'put', key: K.META_KEY, value: encodeSegmentMeta(seg.meta) }]);
      } finally {
        this.handles.release(seg);
      }
    }
    ps.segments = ps.segments.filter((s) => !expired(s));
    await this.writer.saveManifest(ps);
    const waits: Promise<void>[] = [];
    for (const seg of victims) {
      const d = this.doom(ps, seg, true);
      if (d.removal !== null) waits.push(d.removal);
    }
    await Promise.all(waits);
    return victims.length;
  }

  private doom(ps: PartitionData, seg: Segment, autoRemove: boolean): Doomed {
    seg.doomed = true;
    const d: Doomed = { ps, autoRemove, removal: null };
    this.doomed.set(seg, d);
    if (autoRemove && !this.handles.inUse(seg)) this.startRemoval(seg, d);
    return d;
  }

  private startRemoval(seg: Segment, d: Doomed): void {
    const p = (async () => {
      await this.handles.close(seg);
      await removeDir(seg.dir);
      this.doomed.delete(seg);
    })();
    d.removal = p;
    this.life.track(p);
  }
}
