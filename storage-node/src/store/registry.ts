/**
 * The stream registry of each segment as this process knows it: which streams a read matches
 * (the label index, or the tenant's registry scanned once and cached per open handle), the
 * writer's view of the active segment's streams and spans, and the span floors compaction raises
 * before it commits a wider frame. docs/STORAGE.md, "Reading" and "Compacting frames".
 */
import type { BlockHeader } from '../../../core/src/block-format';
import type { Labels } from '../../../core/src/labels';
import { type CompiledMatcher, matchesAll } from '../../../core/src/matchers';
import * as K from './keys';
import { type Db, type HandleCache, type Lifecycle, PerSegment, type Segment } from './segments';

/** A stream of a segment's registry. */
export interface RegistryEntry {
  streamId: bigint;
  /** Shared by every user of the entry; not to be mutated. */
  labels: Labels;
  /** The widest `maxTs − minTs` of the stream's frames in the segment, as committed. */
  span: bigint;
}

/** Which streams of a segment a lookup wants. */
export interface StreamQuery {
  tenant: string;
  /** The tenant's key prefix. */
  prefix: Buffer;
  matchers: readonly CompiledMatcher[];
}

/** Tenant → stream id → committed span: the streams a writer knows a segment has. */
export type KnownStreams = Map<string, Map<bigint, bigint>>;

// A tenant's registry, once scanned, is cached per open segment up to this many streams.
const REGISTRY_CACHE_MAX = 50_000;

/** What this process knows of one segment's registry. */
class SegmentRegistry {
  /** The writer's view (only the active segment has one). */
  known: KnownStreams | null = null;
  /** True when `known` lists every registered stream (a segment this process created). */
  complete = false;
  /** Readers' cache of the decoded registry, per tenant; dropped with the handle. */
  cache = new Map<string, RegistryEntry[]>();
  /** Tenants whose registry a background scan was started for since the handle opened. */
  fills = new Set<string>();
  /** Bumped by every commit that changes the registry, so a scan that raced one is not cached. */
  version = 0;
  /** Per tenant and stream, at least the span of every compacted frame committed or being committed by this process. */
  spanFloor = new Map<string, Map<bigint, bigint>>();
}

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

/** The registries of a store's segments, as seen by its writer, compactor and readers. */
export class Registry {
  private readonly bySegment = new PerSegment(() => new SegmentRegistry());

  constructor(
    private readonly handles: HandleCache,
    private readonly life: Lifecycle,
  ) {}

  // ---- the writer's view ----

  /** A segment this process just created: it has no stream yet, so the writer's view of it is complete. */
  created(seg: Segment): void {
    const r = this.bySegment.of(seg);
    r.known = new Map();
    r.complete = true;
  }

  /** A segment that gets no more writes: its writer's view goes. */
  sealed(seg: Segment): void {
    const r = this.bySegment.of(seg);
    r.known = null;
    r.complete = false;
  }

  /** The writer's view of the active segment, completed from the database for the streams of these headers. */
  async knownStreams(seg: Segment, db: Db, headers: readonly (BlockHeader | { code: string })[]): Promise<KnownStreams> {
    const r = this.bySegment.of(seg);
    const known = (r.known ??= new Map());
    if (r.complete) return known;
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

  /** A write batch committed: `known` (from `knownStreams`) learns the new streams and wider spans in `fresh`, and readers' cache of their tenants goes. */
  committed(seg: Segment, known: KnownStreams, fresh: KnownStreams): void {
    if (fresh.size === 0) return;
    const r = this.bySegment.of(seg);
    r.version++;
    for (const [tenant, spans] of fresh) {
      r.cache.delete(tenant);
      r.fills.delete(tenant);
      let t = known.get(tenant);
      if (t === undefined) known.set(tenant, (t = new Map()));
      for (const [id, span] of spans) t.set(id, span);
    }
  }

  // ---- spans widened by compaction ----

  /** Called before a compacted frame of this span commits, so a read that loads the registry meanwhile still bounds the stream's frames by it. */
  raiseSpanFloor(seg: Segment, tenant: string, streamId: bigint, span: bigint): void {
    const floors = this.bySegment.of(seg).spanFloor;
    let t = floors.get(tenant);
    if (t === undefined) floors.set(tenant, (t = new Map()));
    if (span > (t.get(streamId) ?? -1n)) t.set(streamId, span);
  }

  /** A compaction committed a wider span to a stream's registry value: the writer's view and readers' cache learn it. */
  spanWidened(seg: Segment, tenant: string, streamId: bigint, span: bigint): void {
    const r = this.bySegment.of(seg);
    const known = r.known?.get(tenant);
    const had = known?.get(streamId);
    if (had !== undefined && span > had) known!.set(streamId, span);
    r.cache.delete(tenant);
    r.fills.delete(tenant);
    r.version++;
  }

  /** A stream's span in a segment: what its registry entry said, or more if a compaction has widened it since. */
  streamSpan(seg: Segment, tenant: string, streamId: bigint, span: bigint): bigint {
    const floor = this.bySegment.peek(seg)?.spanFloor.get(tenant)?.get(streamId);
    return floor !== undefined && floor > span ? floor : span;
  }

  // ---- readers ----

  /** The registry entries of a segment that match `q`; `db` is the segment's pinned handle. */
  async matchStreams(seg: Segment, db: Db, q: StreamQuery): Promise<RegistryEntry[]> {
    const { matchers, tenant, prefix } = q;
    const r = this.bySegment.of(seg);
    let all = r.cache.get(tenant);
    if (all === undefined) {
      const eq = matchers.find((m) => m.op === '=' && m.value !== '');
      if (eq !== undefined) {
        // The index answers this read; the registry is cached meanwhile, so the next read of the
        // segment needs no round trip at all.
        if (!r.fills.has(tenant)) this.life.track(this.fill(seg, r, tenant, prefix));
        return (await indexedStreams(db, prefix, eq)).filter((e) => matchesAll(matchers, e.labels));
      }
      all = await this.scanAndCache(seg, r, db, tenant, prefix);
    }
    return all.filter((e) => matchesAll(matchers, e.labels));
  }

  /** A tenant's registry of a closed segment was deleted (its retention passed the whole segment): nothing cached of it stays. */
  forget(seg: Segment, tenant: string): void {
    const r = this.bySegment.peek(seg);
    if (r === undefined) return;
    r.cache.delete(tenant);
    r.version++;
  }

  /** The segment's handle is closing: the readers' cache goes with it. */
  dropCache(seg: Segment): void {
    const r = this.bySegment.peek(seg);
    if (r === undefined) return;
    r.cache = new Map();
    r.fills = new Set();
  }

  /** Scans a tenant's registry of a segment, and caches it unless too big or a commit changed the registry meanwhile (the scan may predate it). */
  private async scanAndCache(seg: Segment, r: SegmentRegistry, db: Db, tenant: string, prefix: Buffer): Promise<RegistryEntry[]> {
    const version = r.version;
    const all = await scanRegistry(db, prefix);
    if (all.length <= REGISTRY_CACHE_MAX && version === r.version && this.handles.isOpenWith(seg, db)) r.cache.set(tenant, all);
    return all;
  }

  /** Caches a tenant's registry of a segment in the background; tried once per tenant while the handle stays open. */
  private async fill(seg: Segment, r: SegmentRegistry, tenant: string, prefix: Buffer): Promise<void> {
    r.fills.add(tenant);
    if (seg.doomed) return;
    const db = await this.handles.acquire(seg).catch(() => null);
    if (db === null) return;
    try {
      await this.scanAndCache(seg, r, db, tenant, prefix);
    } catch {
      // Only a cache: reads use the index meanwhile.
    } finally {
      this.handles.release(seg);
    }
  }
}
