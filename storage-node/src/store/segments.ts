/**
 * Segments, partitions and the handle cache. A segment is one classic-level database holding a
 * contiguous offset range of one partition; the cache opens its handle on demand, pins it while a
 * write, read or compaction uses it, and closes least recently used idle handles past a bound.
 * Every job of the store keeps its own per-segment state elsewhere (keyed by the `Segment`), so
 * this file knows none of them. docs/STORAGE.md, "Handles".
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ClassicLevel, type Iterator as LevelIterator } from 'classic-level';
import * as K from './keys';
import { type SegmentMeta, fsyncDir } from './manifest';

/** A segment's database: keys and values as raw bytes. */
export type Db = ClassicLevel<Uint8Array, Uint8Array>;
/** An iterator over a segment's database. */
export type DbIterator = LevelIterator<Db, Uint8Array, Uint8Array>;
/** A put of a batch. */
export type PutOp = { type: 'put'; key: Uint8Array; value: Uint8Array };
/** A delete of a batch. */
export type DelOp = { type: 'del'; key: Uint8Array };

// Every segment is small and many are open: keep LevelDB's per-database memory small. Frames are
// already zstd, so LevelDB's own compression is off.
const DB_OPTIONS = {
  keyEncoding: 'view',
  valueEncoding: 'view',
  compression: false,
  cacheSize: 1024 * 1024,
  writeBufferSize: 1024 * 1024,
  blockSize: 16 * 1024,
  maxFileSize: 8 * 1024 * 1024,
  maxOpenFiles: 100,
} as const;

/** An unopened handle on the database in `dir`, with the store's options; `createIfMissing` also refuses an existing one. */
export function newDb(dir: string, createIfMissing: boolean): Db {
  return new ClassicLevel<Uint8Array, Uint8Array>(dir, { ...DB_OPTIONS, createIfMissing, errorIfExists: createIfMissing });
}

/** Removes a segment's or a partition's directory; a crash mid-way leaves a `.deleting` directory (removed at open), never a half-deleted database under its name. */
export async function removeDir(dir: string): Promise<void> {
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

/** Throws a RangeError unless `partition` is a partition number. */
export function checkPartition(partition: number): void {
  if (!Number.isSafeInteger(partition) || partition < 0) throw new RangeError(`segment store: bad partition ${partition}`);
}

// Segments made by this process so far: each one's id.
let segmentsMade = 0;

/** One segment of a partition: where it lives and what its meta says. */
export class Segment {
  /** Set once retention or drop took it out of its partition: a read, scan or compaction that reaches it now skips it, its entries being gone. */
  doomed = false;
  /** Unique among the process's segments, even later ones of the same directory (a partition copied from a peer reuses names). */
  readonly id = ++segmentsMade;
  /** Moves on when a batch that may change the segment's frame heads starts (head-cache.ts). */
  headsGen = 0;
  /** Such batches running now. */
  headsChanging = 0;

  /** Runs `batch`, a write that may change the segment's frame heads, so that no cached heads outlive it (head-cache.ts). */
  async changingHeads<T>(batch: () => Promise<T>): Promise<T> {
    this.headsGen++;
    this.headsChanging++;
    try {
      return await batch();
    } finally {
      this.headsChanging--;
    }
  }

  constructor(
    readonly partition: number,
    readonly first: bigint,
    readonly dir: string,
    public meta: SegmentMeta,
  ) {}
}

/** One partition: its segments, applied offset and write lock. */
export class PartitionData {
  /** Ascending by first offset; the last one is the active segment. */
  segments: Segment[] = [];
  /** The next offset to apply. */
  applied = 0n;
  /** The closed segments changed since the manifest was written. */
  manifestDirty = false;
  private lock: Promise<void> = Promise.resolve();

  constructor(
    readonly partition: number,
    readonly dir: string,
  ) {}

  /** The segment writes go to, if any. */
  get active(): Segment | undefined {
    return this.segments[this.segments.length - 1];
  }

  /** Runs `fn` after everything queued on this partition before it: writes, compactions and retention never overlap within a partition. */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Resolves once everything queued so far has run. */
  settled(): Promise<void> {
    return this.lock;
  }
}

/** One job's state of each segment, made on first use; held weakly, so it goes with the segment once nothing else holds that. */
export class PerSegment<T> {
  private readonly states = new WeakMap<Segment, T>();

  constructor(private readonly make: (seg: Segment) => T) {}

  /** The segment's state, made now if it has none. */
  of(seg: Segment): T {
    let state = this.states.get(seg);
    if (state === undefined) this.states.set(seg, (state = this.make(seg)));
    return state;
  }

  /** The segment's state, if it has any. */
  peek(seg: Segment): T | undefined {
    return this.states.get(seg);
  }
}

/** Every partition of a store, by number. */
export class Partitions {
  private readonly byNumber = new Map<number, PartitionData>();

  constructor(private readonly dir: string) {}

  /** A partition's data, if the store has seen it. */
  get(partition: number): PartitionData | undefined {
    return this.byNumber.get(partition);
  }

  /** A partition's data, created empty (and without a directory yet) on first use. */
  open(partition: number): PartitionData {
    let ps = this.byNumber.get(partition);
    if (ps === undefined) {
      ps = new PartitionData(partition, path.join(this.dir, K.partitionDirName(partition)));
      this.byNumber.set(partition, ps);
    }
    return ps;
  }

  /** Every partition seen, in no order. */
  all(): IterableIterator<PartitionData> {
    return this.byNumber.values();
  }

  /** Partitions with any data or applied offset, ascending. */
  held(): number[] {
    const out: number[] = [];
    for (const ps of this.byNumber.values()) if (ps.segments.length > 0 || ps.applied > 0n) out.push(ps.partition);
    return out.sort((a, b) => a - b);
  }
}

/** Whether the store is closed, and the background work its close waits for: shared by every job of one store. */
export class Lifecycle {
  /** Set by the store's close. */
  closed = false;
  private readonly background = new Set<Promise<unknown>>();

  /** Throws once the store is closed. */
  checkOpen(): void {
    if (this.closed) throw new Error('segment store is closed');
  }

  /** Runs `p` in the background; close waits for it, and its failure is never unhandled. */
  track(p: Promise<unknown>): void {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.background.add(settled);
    void settled.then(() => this.background.delete(settled));
  }

  /** Resolves once the background work running now has settled (work it starts meanwhile is not waited for). */
  async settleRunning(): Promise<void> {
    await Promise.all([...this.background]);
  }

  /** Resolves once no background work is left, including work started meanwhile. */
  async drain(): Promise<void> {
    while (this.background.size > 0) await this.settleRunning();
  }
}

/** What the jobs keeping per-handle state are told by the handle cache. */
export interface HandleHooks {
  /** The last user of a doomed segment left: it may be removed now. */
  doomedIdle(seg: Segment): void;
  /** A segment's handle starts closing: whatever was cached from it goes. */
  closing(seg: Segment): void;
}

/** The handle of one segment and its users. */
interface Handle {
  seg: Segment;
  db: Db | null;
  opening: Promise<Db> | null;
  closing: Promise<void> | null;
  /** Users of the handle (writes, reads, compactions); a used handle is never closed or removed. */
  refs: number;
  lastUse: number;
  idleWaiters: (() => void)[];
}

/** The open classic-level handles of a store, bounded by an LRU over the idle ones. */
export class HandleCache {
  private readonly handles = new PerSegment<Handle>((seg) => ({ seg, db: null, opening: null, closing: null, refs: 0, lastUse: 0, idleWaiters: [] }));
  /** Handles open, opening or closing. */
  private readonly open = new Set<Handle>();
  private clock = 0;

  constructor(
    private readonly maxOpen: number,
    private readonly parts: Partitions,
    private readonly life: Lifecycle,
    private readonly hooks: HandleHooks,
  ) {}

  /** Opens (if needed) and pins a segment's handle; pair with `release`. */
  async acquire(seg: Segment): Promise<Db> {
    const h = this.handles.of(seg);
    h.refs++;
    h.lastUse = ++this.clock;
    try {
      for (;;) {
        this.life.checkOpen();
        if (h.closing !== null) {
          await h.closing.catch(() => undefined);
          continue;
        }
        if (h.db !== null) {
          this.evict();
          return h.db;
        }
        if (h.opening === null) {
          const db = newDb(seg.dir, false);
          this.open.add(h);
          h.opening = db.open({ createIfMissing: false }).then(
            () => {
              h.db = db;
              h.opening = null;
              return db;
            },
            (err: unknown) => {
              h.opening = null;
              this.open.delete(h);
              throw err;
            },
          );
        }
        await h.opening;
      }
    } catch (err) {
      this.release(seg);
      throw err;
    }
  }

  /** Unpins a handle `acquire` returned. */
  release(seg: Segment): void {
    const h = this.handles.of(seg);
    h.refs--;
    if (h.refs > 0) return;
    if (seg.doomed) this.hooks.doomedIdle(seg);
    else this.evict();
    const waiters = h.idleWaiters.splice(0);
    for (const w of waiters) w();
  }

  /** Whether anything holds the segment's handle. */
  inUse(seg: Segment): boolean {
    return (this.handles.peek(seg)?.refs ?? 0) > 0;
  }

  /** Resolves once nothing holds the segment's handle. */
  whenIdle(seg: Segment): Promise<void> {
    const h = this.handles.of(seg);
    return h.refs === 0 ? Promise.resolve() : new Promise((resolve) => h.idleWaiters.push(resolve));
  }

  /** Whether `db` is still the segment's open handle (a cache filled from a handle closed since is stale). */
  isOpenWith(seg: Segment, db: Db): boolean {
    return this.handles.peek(seg)?.db === db;
  }

  /** Closes a segment's handle (after it finishes opening, if it is). */
  close(seg: Segment): Promise<void> {
    const h = this.handles.peek(seg);
    if (h === undefined) return Promise.resolve();
    if (h.closing !== null) return h.closing;
    if (h.opening !== null) return h.opening.then(() => this.close(seg), () => undefined);
    const db = h.db;
    if (db === null) return Promise.resolve();
    this.hooks.closing(seg);
    const p = db.close().finally(() => {
      h.db = null;
      h.closing = null;
      this.open.delete(h);
    });
    h.closing = p;
    this.life.track(p);
    return p;
  }

  /** Closes every handle, ignoring failures (for the store's close). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.open].map((h) => this.close(h.seg).catch(() => undefined)));
  }

  /** Closes least recently used idle handles beyond the bound, segments no longer active first. */
  private evict(): void {
    let open = 0;
    for (const h of this.open) if (h.closing === null) open++;
    while (open > this.maxOpen) {
      let victim: Handle | null = null;
      let victimActive = true;
      for (const h of this.open) {
        if (h.db === null || h.closing !== null || h.refs > 0) continue;
        const active = this.parts.get(h.seg.partition)?.active === h.seg;
        if (victim === null || (victimActive && !active) || (active === victimActive && h.lastUse < victim.lastUse)) {
          victim = h;
          victimActive = active;
        }
      }
      if (victim === null) return;
      void this.close(victim.seg).catch(() => undefined);
      open--;
    }
  }
}
