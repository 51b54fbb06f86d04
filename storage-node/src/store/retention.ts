/**
 * Retention and drop: whole segments leave their partition at once (reads that start later never
 * see them), and their directories go once no read, scan or compaction uses them any more.
 * Per-tenant retention takes out a tenant's part of a segment: its keys, or its frames wholly past
 * the cutoff. docs/STORAGE.md, "Segment lifecycle" and "Per-tenant retention".
 */
import * as K from './keys';
import { encodeSegmentMeta } from './manifest';
import type { Registry } from './registry';
import { type Db, type DelOp, type HandleCache, type Lifecycle, type PartitionData, type Partitions, type Segment, checkPartition, removeDir } from './segments';
import type { Writer } from './writer';

/** What a sweep of per-tenant retention took out. */
export interface TenantRetentionCounts {
  /** Segments removed whole: every tenant they held was past its cutoff. */
  segments: number;
  /** Tenants' parts of segments deleted whole (registry, label index, frames). */
  tenantParts: number;
  /** Frames deleted one by one, from segments that straddle a tenant's cutoff. */
  frames: number;
}

/** The tenant prefixes of a segment's keys, one iterator seeking past each. */
async function tenantPrefixes(db: Db): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const it = db.keys({ gt: Uint8Array.of(K.KEY_SYSTEM, 0xff) });
  try {
    for (let key = await it.next(); key !== undefined; key = await it.next()) {
      const prefix = Buffer.from(key.subarray(0, 1 + key[0]!));
      out.push(prefix);
      it.seek(new Uint8Array(K.prefixEnd(prefix)));
    }
  } finally {
    await it.close();
  }
  return out;
}

/** The keys (frame, head, filter) of a tenant's frames whose newest entry is before `cutoff`, and the oldest entry among them. */
async function expiredFrames(db: Db, prefix: Buffer, cutoff: bigint, heads: boolean): Promise<{ ops: DelOp[]; frames: number; earliest: bigint | null }> {
  const ops: DelOp[] = [];
  let frames = 0;
  let earliest: bigint | null = null;
  // A segment with heads lists every frame's header in its small head values; an older one only in the frames.
  const it = db.iterator(K.tagRange(prefix, heads ? K.TAG_HEAD : K.TAG_FRAME));
  try {
    for (let kv = await it.next(); kv !== undefined; kv = await it.next()) {
      const [key, value] = kv;
      const h = K.readFrameValueHeader(value);
      if (h.maxTs >= cutoff) continue;
      frames++;
      if (earliest === null || h.minTs < earliest) earliest = h.minTs;
      ops.push({ type: 'del', key: K.retagFrameKey(key, prefix.length, K.TAG_FRAME) });
      if (heads) {
        ops.push({ type: 'del', key: Buffer.from(key) });
        ops.push({ type: 'del', key: K.retagFrameKey(key, prefix.length, K.TAG_FILTER) });
      }
    }
  } finally {
    await it.close();
  }
  return { ops, frames, earliest };
}

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
    private readonly registry: Registry,
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

  /**
   * Enforces each tenant's own retention (`cutoffOf`: the oldest entry timestamp it keeps, 0n for
   * none of its own) on every partition: a closed segment all of whose tenants are past their
   * cutoffs goes whole; a tenant's part of a closed segment wholly past its cutoff is deleted (its
   * registry and label index with its frames); elsewhere, and in the active segment (whose registry
   * the writer keeps in memory), the tenant's frames wholly past its cutoff are. Entries of a frame
   * that straddles the cutoff stay until the frame is past it; reads never return them (the read
   * APIs start at the cutoff). The change log hears of each removal before it happens.
   */
  async dropTenantsBefore(cutoffOf: (tenant: string) => bigint): Promise<TenantRetentionCounts> {
    this.life.checkOpen();
    const counts: TenantRetentionCounts = { segments: 0, tenantParts: 0, frames: 0 };
    for (const ps of [...this.parts.all()]) await ps.serialize(() => this.dropTenantsIn(ps, cutoffOf, counts));
    return counts;
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
    await this.removeSegments(ps, victims);
    return victims.length;
  }

  /** Takes `victims` out of their partition: the change log hears of it first, then the manifest; each directory goes once no read uses it. */
  private async removeSegments(ps: PartitionData, victims: readonly Segment[]): Promise<void> {
    let earliest: bigint | null = null;
    for (const v of victims) if (v.meta.minTs !== null && (earliest === null || v.meta.minTs < earliest)) earliest = v.meta.minTs;
    if (earliest !== null) this.onRemoved(ps.partition, ps.applied, earliest);
    const gone = new Set(victims);
    ps.segments = ps.segments.filter((s) => !gone.has(s));
    await this.writer.saveManifest(ps);
    const waits: Promise<void>[] = [];
    for (const seg of victims) {
      const d = this.doom(ps, seg, true);
      if (d.removal !== null) waits.push(d.removal);
    }
    await Promise.all(waits);
  }

  private async dropTenantsIn(ps: PartitionData, cutoffOf: (tenant: string) => bigint, counts: TenantRetentionCounts): Promise<void> {
    this.life.checkOpen();
    const emptied: Segment[] = [];
    for (const seg of ps.segments) {
      const { minTs, maxTs } = seg.meta;
      if (seg.doomed || minTs === null || maxTs === null) continue;
      const active = seg === ps.active;
      const db = await this.handles.acquire(seg);
      try {
        const tenants = (await tenantPrefixes(db)).map((prefix) => ({ prefix, tenant: prefix.subarray(1).toString('utf8') })).map((t) => ({ ...t, cutoff: cutoffOf(t.tenant) }));
        const past = tenants.filter((t) => t.cutoff > minTs);
        if (past.length === 0) continue;
        if (!active && past.length === tenants.length && past.every((t) => maxTs < t.cutoff)) {
          emptied.push(seg);
          continue;
        }
        for (const { prefix, tenant, cutoff } of past) {
          if (!active && maxTs < cutoff) {
            this.onRemoved(ps.partition, ps.applied, minTs);
            const range = { gte: prefix, lt: K.prefixEnd(prefix) };
            await seg.changingHeads(() => db.clear(range));
            this.registry.forget(seg, tenant);
            await db.compactRange(range.gte, range.lt);
            counts.tenantParts++;
            continue;
          }
          const expired = await expiredFrames(db, prefix, cutoff, seg.meta.heads);
          if (expired.earliest === null) continue;
          this.onRemoved(ps.partition, ps.applied, expired.earliest);
          await seg.changingHeads(() => db.batch(expired.ops));
          await db.compactRange(prefix, K.prefixEnd(prefix));
          counts.frames += expired.frames;
        }
      } finally {
        this.handles.release(seg);
      }
    }
    if (emptied.length === 0) return;
    await this.removeSegments(ps, emptied);
    counts.segments += emptied.length;
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
