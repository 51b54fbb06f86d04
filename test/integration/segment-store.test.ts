/** The segment store on real LevelDB: exactly-once writes, ordered reads, rolls, LRU, retention, recovery. */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { type BlockEntry, encodeBlock } from '../../core/src/block-format';
import { decodeStoredFrame } from '../../core/src/stored-frame';
import { BlockFormatError } from '../../core/src/errors';
import { type Labels, streamId } from '../../core/src/labels';
import { type CompiledMatcher, type LabelMatcher, compileMatcher, matchesAll } from '../../core/src/matchers';
import * as K from '../../storage-node/src/store/keys';
import { comparePositions, type EntryPosition } from '../../core/src/position';
import {
  type IncomingBlock,
  type ReadRequest,
  type ReadStats,
  SegmentStore,
  type SegmentStoreOptions,
  type StoredEntry,
} from '../../storage-node/src/store';
import { rng } from '../support/rng';

const T0 = 1_764_129_600_000_000_000n;
const BIG = 1 << 30;

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-segments-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});
let dirCounter = 0;
function freshDir(): string {
  return path.join(root, `store-${++dirCounter}`);
}

function options(dir: string, over: Partial<SegmentStoreOptions> = {}): SegmentStoreOptions {
  return { dir, maxSegmentBytes: BIG, maxSegmentAgeMs: BIG, maxOpenSegments: 8, ...over };
}

interface StreamSpec {
  labels: Labels;
  entries: BlockEntry[];
}

/** What the store should hold, built alongside the blocks written to it. */
class Model {
  readonly entries: StoredEntry[] = [];

  block(partition: number, offset: bigint, tenant: string, streams: StreamSpec[]): IncomingBlock {
    streams.forEach((s, frame) => {
      const id = streamId(tenant, s.labels);
      s.entries.forEach((e, index) => {
        const out: StoredEntry = { ts: e.ts, streamId: id, partition, offset, frame, index, tenant, labels: s.labels, line: e.line };
        if (e.attrs !== undefined && Object.keys(e.attrs).length > 0) out.attrs = e.attrs;
        this.entries.push(out);
      });
    });
    return { offset, value: encodeBlock({ tenant, streams }) };
  }

  expect(req: ReadRequest): StoredEntry[] {
    const dir = req.direction === 'forward' ? 1 : -1;
    const after = req.after;
    const out = this.entries.filter(
      (e) =>
        e.tenant === req.tenant &&
        matchesAll(req.matchers, e.labels) &&
        e.ts >= req.start &&
        e.ts < req.end &&
        (req.partitions === undefined || req.partitions.includes(e.partition)) &&
        (req.maxOffsets?.get(e.partition) === undefined || e.offset < req.maxOffsets.get(e.partition)!) &&
        (after === undefined || comparePositions(e, after) * dir > 0) &&
        (req.lineFilter === undefined || req.lineFilter(e.line)),
    );
    out.sort((a, b) => comparePositions(a, b) * dir);
    return out.slice(0, req.limit);
  }
}

async function collect(store: SegmentStore, req: ReadRequest, stats?: ReadStats): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  for await (const e of store.read(req, stats)) out.push(e);
  return out;
}

function m(name: string, op: LabelMatcher['op'], value: string): CompiledMatcher {
  return compileMatcher({ name, op, value });
}

function req(over: Partial<ReadRequest> & { tenant: string }): ReadRequest {
  return { matchers: [], start: -(1n << 63n), end: 1n << 63n, direction: 'forward', limit: 1_000_000, ...over };
}

function position(e: StoredEntry): EntryPosition {
  return { ts: e.ts, streamId: e.streamId, partition: e.partition, offset: e.offset, frame: e.frame, index: e.index };
}

const STREAMS: Record<string, Labels[]> = {
  acme: [{ app: 'api', env: 'prod' }, { app: 'api', env: 'dev' }, { app: 'web', env: 'prod', host: 'h1' }, { app: 'db' }],
  globex: [{ app: 'api', env: 'prod' }, { app: 'worker', host: 'h2' }],
};

/**
 * Random blocks: tenants alternate, 1–3 streams a block, timestamps that advance with the offset
 * but jitter backwards within a frame (ties are frequent), now and then a far outlier.
 */
function randomBlocks(model: Model, rand: () => number, partitions: number[], blocksPerPartition: number, firstOffset = 0n): Map<number, IncomingBlock[]> {
  const out = new Map<number, IncomingBlock[]>();
  for (const p of partitions) {
    const blocks: IncomingBlock[] = [];
    for (let i = 0; i < blocksPerPartition; i++) {
      const offset = firstOffset + BigInt(i);
      const tenant = rand() < 0.7 ? 'acme' : 'globex';
      const pool = STREAMS[tenant]!;
      const picked = new Set<number>();
      const count = 1 + Math.floor(rand() * Math.min(3, pool.length));
      while (picked.size < count) picked.add(Math.floor(rand() * pool.length));
      const streams: StreamSpec[] = [...picked].map((s) => {
        const n = 1 + Math.floor(rand() * 12);
        const entries: BlockEntry[] = [];
        for (let j = 0; j < n; j++) {
          let ts = T0 + BigInt(Number(offset) * 10 + Math.floor(rand() * 40) - 20);
          if (rand() < 0.02) ts -= 500n;
          const entry: BlockEntry = { ts, line: `${rand() < 0.2 ? 'ERROR' : 'info'} p${p} o${offset} s${s} #${j}` };
          if (rand() < 0.3) entry.attrs = { trace: `t${j}`, n: String(j) };
          entries.push(entry);
        }
        return { labels: pool[s]!, entries };
      });
      blocks.push(model.block(p, offset, tenant, streams));
    }
    out.set(p, blocks);
  }
  return out;
}

async function writeAll(store: SegmentStore, byPartition: Map<number, IncomingBlock[]>, chunk = 3): Promise<void> {
  for (const [p, blocks] of byPartition) {
    for (let i = 0; i < blocks.length; i += chunk) {
      const part = blocks.slice(i, i + chunk);
      await store.write(p, part, part[part.length - 1]!.offset + 1n);
    }
  }
}

function openLocks(dir: string): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir) && target.endsWith('/LOCK')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Handles are closed in the background after a read: wait (bounded) for the count to settle. */
async function settledLocks(dir: string, max: number): Promise<number> {
  for (let i = 0; i < 100 && openLocks(dir) > max; i++) await new Promise((r) => setTimeout(r, 10));
  return openLocks(dir);
}

async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

function segmentDirs(dir: string, partition: number): string[] {
  const p = path.join(dir, K.partitionDirName(partition));
  return fs.existsSync(p) ? fs.readdirSync(p).filter((n) => n.startsWith('seg-')).sort() : [];
}

const MATCHER_SETS: CompiledMatcher[][] = [
  [],
  [m('app', '=', 'api')],
  [m('app', '!=', 'api')],
  [m('app', '=~', 'a.*|w.b')],
  [m('app', '!~', 'web|db')],
  [m('env', '=', '')],
  [m('app', '=', 'api'), m('env', '=', 'prod')],
  [m('host', '=~', 'h.+'), m('app', '!=', 'worker')],
  [m('app', '=', 'nope')],
];

describe('storage node > segment store > reads', () => {
  const model = new Model();
  let store: SegmentStore;
  let dir: string;

  beforeAll(async () => {
    dir = freshDir();
    // Small segments: every read below crosses segments and partitions.
    store = await SegmentStore.open(options(dir, { maxSegmentBytes: 6000, maxOpenSegments: 64 }));
    await writeAll(store, randomBlocks(model, rng(7), [0, 1, 2], 60));
    // Rolls queue compactions of their small frames; the stats compared below need them done.
    await store.compactionsSettled();
  });
  afterAll(async () => {
    await store.close();
  });

  it('spreads the data over several segments per partition', () => {
    expect(store.partitions()).toEqual([0, 1, 2]);
    for (const p of [0, 1, 2]) {
      const st = store.state(p);
      expect(st.appliedOffset).toBe(60n);
      expect(st.segments).toBeGreaterThan(3);
      expect(st.entries).toBe(model.entries.filter((e) => e.partition === p).length);
    }
  });

  it('reads back every entry in order, both directions, with each matcher op', async () => {
    for (const tenant of ['acme', 'globex']) {
      for (const matchers of MATCHER_SETS) {
        for (const direction of ['forward', 'backward'] as const) {
          const r = req({ tenant, matchers, direction });
          expect(await collect(store, r)).toEqual(model.expect(r));
        }
      }
    }
  });

  it('cuts time ranges through frames and stops at the limit', async () => {
    const rand = rng(11);
    for (let i = 0; i < 60; i++) {
      const a = T0 + BigInt(Math.floor(rand() * 700) - 50);
      const b = a + BigInt(Math.floor(rand() * 200));
      const r = req({
        tenant: rand() < 0.8 ? 'acme' : 'globex',
        matchers: MATCHER_SETS[Math.floor(rand() * MATCHER_SETS.length)]!,
        start: a,
        end: b,
        direction: rand() < 0.5 ? 'forward' : 'backward',
        limit: rand() < 0.5 ? 1 + Math.floor(rand() * 30) : 1_000_000,
        partitions: rand() < 0.3 ? [1, 2] : undefined,
        lineFilter: rand() < 0.3 ? (line) => line.startsWith('ERROR') : undefined,
      });
      expect(await collect(store, r)).toEqual(model.expect(r));
    }
  });

  it('skips frames that lack a required substring without decoding them: same entries, same entries scanned', async () => {
    for (const needle of ['ERROR', 'o1', 's2 #1', 'absent', 'p1 o']) {
      for (const direction of ['forward', 'backward'] as const) {
        const base = req({ tenant: 'acme', direction, start: T0 - 100n, end: T0 + 1000n, lineFilter: (line) => line.includes(needle) });
        const plain = { entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 };
        const skipping = { entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 };
        const want = await collect(store, base, plain);
        expect(want).toEqual(model.expect(base));
        expect(await collect(store, { ...base, mustContain: [Buffer.from(needle)] }, skipping)).toEqual(want);
        expect(skipping).toEqual(plain);
      }
    }
  });

  it('pages through everything with `after` and small limits: every entry once, in order', async () => {
    for (const direction of ['forward', 'backward'] as const) {
      for (const [limit, end] of [
        [1, T0 + 80n],
        [7, T0 + 300n],
        [50, T0 + 1000n],
      ] as const) {
        const base = req({ tenant: 'acme', direction, limit, start: T0 + 20n, end });
        const all = model.expect({ ...base, limit: 1_000_000 });
        const paged: StoredEntry[] = [];
        let after: EntryPosition | undefined;
        for (;;) {
          const page = await collect(store, { ...base, after });
          paged.push(...page);
          if (page.length < limit) break;
          after = position(page[page.length - 1]!);
        }
        expect(paged).toEqual(all);
      }
    }
  });

  it('resumes with `after` at ties of timestamp (same ts, other stream or position)', async () => {
    const all = model.expect(req({ tenant: 'acme' }));
    const ties = all.filter((e, i) => i > 0 && all[i - 1]!.ts === e.ts).slice(0, 20);
    expect(ties.length).toBeGreaterThan(5);
    for (const e of ties) {
      for (const direction of ['forward', 'backward'] as const) {
        const r = req({ tenant: 'acme', direction, after: position(e), limit: 5 });
        expect(await collect(store, r)).toEqual(model.expect(r));
      }
    }
  });

  it('counts its work and stops decompressing once the limit is met', async () => {
    const full: ReadStats = { entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 };
    await collect(store, req({ tenant: 'acme' }), full);
    const one: ReadStats = { entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 };
    const got = await collect(store, req({ tenant: 'acme', matchers: [m('app', '=', 'db')], limit: 1 }), one);
    expect(got).toHaveLength(1);
    expect(full.entriesScanned).toBe(model.entries.filter((e) => e.tenant === 'acme').length);
    expect(full.bytesDecompressed).toBeGreaterThan(0);
    expect(one.framesRead).toBeLessThanOrEqual(3 * 2);
    expect(one.framesRead).toBeLessThan(full.framesRead / 10);
  });

  it('reads only blocks below maxOffsets (a snapshot)', async () => {
    const maxOffsets = new Map([
      [0, 10n],
      [1, 33n],
    ]);
    for (const direction of ['forward', 'backward'] as const) {
      const r = req({ tenant: 'acme', direction, maxOffsets });
      const got = await collect(store, r);
      expect(got).toEqual(model.expect(r));
      expect(got.some((e) => e.partition === 0 && e.offset >= 10n)).toBe(false);
      expect(got.some((e) => e.partition === 2 && e.offset === 59n)).toBe(true);
    }
  });

  it('never shows one tenant the entries of another, whatever the matchers', async () => {
    for (const matchers of MATCHER_SETS) {
      for (const e of await collect(store, req({ tenant: 'globex', matchers }))) expect(e.tenant).toBe('globex');
    }
    expect(await collect(store, req({ tenant: 'acm' }))).toEqual([]);
    expect(await collect(store, req({ tenant: 'acmex' }))).toEqual([]);
    expect(await collect(store, req({ tenant: 'nobody', matchers: [m('app', '=', 'api')] }))).toEqual([]);
  });
});

describe('storage node > segment store > compacting small frames', () => {
  const model = new Model();
  let store: SegmentStore;
  let dir: string;
  const randomRead = (rand: () => number): ReadRequest => {
    const a = T0 + BigInt(Math.floor(rand() * 1700) - 100);
    return req({
      tenant: rand() < 0.8 ? 'acme' : 'globex',
      matchers: MATCHER_SETS[Math.floor(rand() * MATCHER_SETS.length)]!,
      start: a,
      end: a + BigInt(1 + Math.floor(rand() * 600)),
      direction: rand() < 0.5 ? 'forward' : 'backward',
      limit: rand() < 0.5 ? 1 + Math.floor(rand() * 40) : 1_000_000,
      maxOffsets: rand() < 0.3 ? new Map([[0, BigInt(Math.floor(rand() * 160))], [1, BigInt(Math.floor(rand() * 160))]]) : undefined,
    });
  };
  const framesWritten = (): number => new Set(model.entries.map((e) => `${e.partition}/${e.offset}/${e.frame}`)).size;

  beforeAll(async () => {
    dir = freshDir();
    // A small compaction target so a few hundred blocks compact many times; small segments so rolls flush too.
    store = await SegmentStore.open(options(dir, { maxSegmentBytes: 40_000, maxOpenSegments: 64, compactionTargetEntries: 64 }));
    await writeAll(store, randomBlocks(model, rng(21), [0, 1], 160));
  });
  afterAll(async () => {
    await store.close();
  });

  it('answers every read exactly as before while frames are being compacted', async () => {
    const rand = rng(22);
    const reads = Array.from({ length: 40 }, () => randomRead(rand));
    const answers = await Promise.all([...reads.map((r) => collect(store, r)), store.compactionsSettled().then(() => [])]);
    reads.forEach((r, i) => expect(answers[i]).toEqual(model.expect(r)));
    expect(store.compactionCounts.compactions).toBeGreaterThan(10);
    expect(store.compactionCounts.failed).toBe(0);
  });

  it('reads fewer, bigger frames once compacted, and answers random reads, pages and snapshots like the model', async () => {
    await store.compactionsSettled();
    const stats = { entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 };
    const everything = req({ tenant: 'acme' });
    expect(await collect(store, everything, stats)).toEqual(model.expect(everything));
    expect(stats.framesRead).toBeLessThan(framesWritten() / 3);
    const rand = rng(23);
    for (let i = 0; i < 80; i++) {
      const r = randomRead(rand);
      expect(await collect(store, r)).toEqual(model.expect(r));
    }
    for (const direction of ['forward', 'backward'] as const) {
      const base = req({ tenant: 'acme', direction, limit: 7, start: T0 + 100n, end: T0 + 900n });
      const paged: StoredEntry[] = [];
      for (let after: EntryPosition | undefined; ; ) {
        const page = await collect(store, { ...base, after });
        paged.push(...page);
        if (page.length < base.limit) break;
        after = position(page[page.length - 1]!);
      }
      expect(paged).toEqual(model.expect({ ...base, limit: 1_000_000 }));
    }
  });

  it('scans frames stream by stream: the entries each frame keeps, in range, are exactly a read\'s, for random ranges and snapshots', async () => {
    await store.compactionsSettled();
    const rand = rng(25);
    const key = (e: { streamId: bigint; ts: bigint; line: string }): string => `${e.streamId}/${e.ts}/${e.line}`;
    let partial = 0;
    for (let i = 0; i < 60; i++) {
      const r = { ...randomRead(rand), direction: 'forward' as const, limit: 1_000_000 };
      const scanned: string[] = [];
      for await (const f of store.frames(r)) {
        const entries = decodeStoredFrame(f.header.version, f.bytes, f.header.rawLength, f.header.frameCrc)!;
        expect(entries.length).toBe(f.header.entryCount);
        const kept = f.kept ?? [0, entries.length];
        if (f.kept !== null) partial++;
        for (let k = 0; k < kept.length; k += 2) {
          for (const e of entries.slice(kept[k], kept[k + 1])) if (e.ts >= r.start && e.ts < r.end) scanned.push(key({ streamId: f.streamId, ts: e.ts, line: e.line }));
        }
      }
      expect(scanned.sort()).toEqual(model.expect(r).map(key).sort());
    }
    // Some snapshots cut through compacted frames, so kept ranges were exercised.
    expect(partial).toBeGreaterThan(0);
  });

  it('keeps compacted frames readable across a restart', async () => {
    await store.close();
    store = await SegmentStore.open(options(dir, { maxSegmentBytes: 40_000, maxOpenSegments: 64, compactionTargetEntries: 64 }));
    const rand = rng(24);
    for (let i = 0; i < 30; i++) {
      const r = randomRead(rand);
      expect(await collect(store, r)).toEqual(model.expect(r));
    }
  });
});

describe('storage node > segment store > frame versions', () => {
  it('reads a store whose frames were compacted as v1, appends and compacts v2 frames to it, and answers every read like the model', async () => {
    const model = new Model();
    const dir = freshDir();
    const opts = { maxSegmentBytes: 40_000, maxOpenSegments: 64, compactionTargetEntries: 64 };
    let store = await SegmentStore.open(options(dir, { ...opts, compactionFrameVersion: 1 }));
    await writeAll(store, randomBlocks(model, rng(31), [0, 1], 80));
    await store.compactionsSettled();
    await store.close();
    store = await SegmentStore.open(options(dir, opts));
    try {
      await writeAll(store, randomBlocks(model, rng(32), [0, 1], 80, 80n));
      await store.compactionsSettled();
      const versions = new Map<number, number>();
      for await (const f of store.frames(req({ tenant: 'acme' }))) if (f.header.layout === K.COMPACTED_VALUE_LAYOUT) versions.set(f.header.version, (versions.get(f.header.version) ?? 0) + 1);
      expect(versions.get(1)).toBeGreaterThan(0);
      expect(versions.get(2)).toBeGreaterThan(0);
      const rand = rng(33);
      for (let i = 0; i < 40; i++) {
        const a = T0 + BigInt(Math.floor(rand() * 1700) - 100);
        // A needle the token filters of v2 frames can rule out (or not) before decompressing.
        const needle = rand() < 0.3 ? (rand() < 0.5 ? 'ERROR' : ' s9 ') : undefined;
        const r = req({
          tenant: rand() < 0.8 ? 'acme' : 'globex',
          matchers: MATCHER_SETS[Math.floor(rand() * MATCHER_SETS.length)]!,
          start: a,
          end: a + BigInt(1 + Math.floor(rand() * 600)),
          direction: rand() < 0.5 ? 'forward' : 'backward',
          lineFilter: needle === undefined ? undefined : (line) => line.includes(needle),
          mustContain: needle === undefined ? undefined : [Buffer.from(needle)],
        });
        expect(await collect(store, r)).toEqual(model.expect(r));
      }
      const all = req({ tenant: 'acme' });
      expect(await collect(store, all)).toEqual(model.expect(all));
    } finally {
      await store.close();
    }
  });
});

/** The store compacted something, nothing failed, and every tenant's entries read back as the model has them. */
async function expectCompactedWhole(store: SegmentStore, model: Model): Promise<void> {
  expect(store.compactionCounts.compactions).toBeGreaterThan(0);
  expect(store.compactionCounts.failed).toBe(0);
  for (const tenant of ['acme', 'globex']) {
    const all = req({ tenant });
    expect(await collect(store, all)).toEqual(model.expect(all));
  }
}

describe('storage node > segment store > idle streams', () => {
  it('compacts a stream\'s small frames short of the target once it has noted none for compactionIdleMs, and not before', async () => {
    const model = new Model();
    const dir = freshDir();
    const store = await SegmentStore.open(options(dir, { compactionTargetEntries: 100_000, compactionIdleMs: 1000 }));
    try {
      await writeAll(store, randomBlocks(model, rng(41), [0], 30));
      expect(store.compactionCounts.compactions).toBe(0);
      await sleep(2500);
      await store.compactionsSettled();
      await expectCompactedWhole(store, model);
    } finally {
      await store.close();
    }
  });
});

describe('storage node > segment store > quiet store', () => {
  it('compacts every stream\'s small frames once no write has come for compactionQuietMs, long before their idle time', async () => {
    const model = new Model();
    const store = await SegmentStore.open(options(freshDir(), { compactionTargetEntries: 100_000, compactionIdleMs: 600_000, compactionQuietMs: 500 }));
    try {
      await writeAll(store, randomBlocks(model, rng(43), [0], 30));
      expect(store.smallFramesPending()).toBeGreaterThan(0);
      await sleep(1500);
      await store.compactionsSettled();
      expect(store.smallFramesPending()).toBe(0);
      await expectCompactedWhole(store, model);
    } finally {
      await store.close();
    }
  });

  it('refuses a compactionQuietMs below 1 ms', async () => {
    await expect(SegmentStore.open(options(freshDir(), { compactionQuietMs: 0 }))).rejects.toThrow('compactionQuietMs must be an integer ≥ 1');
  });
});

describe('storage node > segment store > many streams', () => {
  it('merges more streams than a read prefetches, through the label index and the cached registry', async () => {
    const model = new Model();
    const rand = rng(51);
    const store = await SegmentStore.open(options(freshDir()));
    try {
      for (let o = 0; o < 4; o++) {
        const streams: StreamSpec[] = Array.from({ length: 50 }, (_, s) => ({
          labels: { app: s % 2 === 0 ? 'even' : 'odd', n: String(s + 50 * (o % 2)) },
          entries: Array.from({ length: 3 }, (_, i) => ({ ts: T0 + BigInt(Math.floor(rand() * 100)), line: `o${o} s${s} i${i}` })),
        }));
        await store.write(0, [model.block(0, BigInt(o), 'acme', streams)], BigInt(o + 1));
      }
      // Fresh handles: `=` goes through the label index; `[]` scans and caches the registry; then `=` uses the cache.
      const queries = [[m('app', '=', 'even')], [], [m('app', '=', 'even')], [m('n', '=~', '1.*')], [m('app', '=', 'odd'), m('n', '!=', '3')]];
      for (const matchers of queries) {
        for (const direction of ['forward', 'backward'] as const) {
          const r = req({ tenant: 'acme', matchers, direction });
          const got = await collect(store, r);
          expect(got).toEqual(model.expect(r));
          expect(got.length).toBeGreaterThan(0);
        }
      }
    } finally {
      await store.close();
    }
  });
});

describe('storage node > segment store > writes', () => {
  it('skips blocks below the applied offset (replays add nothing)', async () => {
    const dir = freshDir();
    const model = new Model();
    const blocks = randomBlocks(model, rng(21), [4], 10).get(4)!;
    const store = await SegmentStore.open(options(dir));
    try {
      const first = await store.write(4, blocks.slice(0, 6), 6n);
      expect(first).toMatchObject({ blocks: 6, skipped: 0, corrupt: 0 });
      expect(first.entries).toBe(model.entries.filter((e) => e.offset < 6n).length);
      expect(first.bytes).toBeGreaterThan(0);
      const replay = await store.write(4, blocks.slice(0, 6), 6n);
      expect(replay).toEqual({ entries: 0, blocks: 0, skipped: 6, corrupt: 0, bytes: 0 });
      const overlap = await store.write(4, blocks.slice(3, 10), 10n);
      expect(overlap).toMatchObject({ blocks: 4, skipped: 3 });
      // An older next offset never moves the applied offset back.
      await store.write(4, blocks.slice(0, 2), 2n);
      expect(store.applied(4)).toBe(10n);
      for (const tenant of ['acme', 'globex']) expect(await collect(store, req({ tenant }))).toEqual(model.expect(req({ tenant })));
      // A batch with no blocks (e.g. only control records) still advances the offset.
      await store.write(4, [], 15n);
      expect(store.applied(4)).toBe(15n);
      expect(store.state(4).entries).toBe(model.entries.length);
    } finally {
      await store.close();
    }
  });

  it('does not show a running read the blocks applied after it started', async () => {
    const model = new Model();
    const store = await SegmentStore.open(options(freshDir()));
    try {
      await writeAll(store, randomBlocks(model, rng(27), [0], 10));
      const seen = model.expect(req({ tenant: 'acme' }));
      const it = store.read(req({ tenant: 'acme' }));
      const got: StoredEntry[] = [(await it.next()).value as StoredEntry];
      // Same streams, same time range, into the same (active) segment.
      await writeAll(store, randomBlocks(model, rng(28), [0], 10, 10n));
      for await (const e of { [Symbol.asyncIterator]: () => it }) got.push(e);
      expect(got).toEqual(seen);
      expect(await collect(store, req({ tenant: 'acme' }))).toEqual(model.expect(req({ tenant: 'acme' })));
    } finally {
      await store.close();
    }
  });

  it('stores and orders timestamps over the whole signed 64-bit range, frames spanning all of it', async () => {
    const I64_MIN = -(1n << 63n);
    const I64_MAX = (1n << 63n) - 1n;
    const model = new Model();
    const store = await SegmentStore.open(options(freshDir()));
    try {
      const wide = [I64_MAX, 0n, I64_MIN, -1n, 5n, I64_MAX, I64_MIN + 1n].map((ts, i) => ({ ts, line: `w${i}` }));
      const narrow = [3n, 4n, -2n].map((ts, i) => ({ ts, line: `n${i}` }));
      await store.write(0, [model.block(0, 0n, 'acme', [{ labels: { app: 'wide' }, entries: wide }, { labels: { app: 'narrow' }, entries: narrow }])], 1n);
      await store.write(0, [model.block(0, 1n, 'acme', [{ labels: { app: 'narrow' }, entries: [{ ts: 0n, line: 'later' }] }])], 2n);
      for (const direction of ['forward', 'backward'] as const) {
        for (const [start, end] of [
          [I64_MIN, I64_MAX + 1n],
          [-1n, 5n],
          [I64_MAX, I64_MAX + 1n],
          [I64_MIN, I64_MIN + 2n],
        ] as const) {
          const r = req({ tenant: 'acme', direction, start, end });
          expect(await collect(store, r)).toEqual(model.expect(r));
        }
      }
    } finally {
      await store.close();
    }
  });

  it('checks its arguments', async () => {
    const store = await SegmentStore.open(options(freshDir()));
    try {
      const b = new Model().block(0, 5n, 'acme', [{ labels: { a: '1' }, entries: [{ ts: 1n, line: 'x' }] }]);
      await expect(store.write(0, [b], 5n)).rejects.toThrow(RangeError);
      await expect(store.write(0, [b, { ...b }], 7n)).rejects.toThrow(RangeError);
      await expect(store.write(-1, [], 1n)).rejects.toThrow(RangeError);
    } finally {
      await store.close();
    }
    await expect(SegmentStore.open(options(freshDir(), { maxOpenSegments: 0 }))).rejects.toThrow(RangeError);
  });

  it('keeps the applied offset and data across close and reopen', async () => {
    const dir = freshDir();
    const model = new Model();
    const byPartition = randomBlocks(model, rng(22), [0, 3], 25);
    let store = await SegmentStore.open(options(dir, { maxSegmentBytes: 8000 }));
    await writeAll(store, byPartition);
    const before = [store.state(0), store.state(3)];
    await store.close();
    await expect(store.write(0, [], 100n)).rejects.toThrow(/closed/);
    store = await SegmentStore.open(options(dir, { maxSegmentBytes: 8000 }));
    try {
      expect(store.partitions()).toEqual([0, 3]);
      expect([store.state(0), store.state(3)]).toEqual(before);
      expect(store.applied(3)).toBe(25n);
      expect(store.applied(9)).toBe(0n);
      for (const direction of ['forward', 'backward'] as const) {
        const r = req({ tenant: 'acme', direction });
        expect(await collect(store, r)).toEqual(model.expect(r));
      }
      // Writing continues where it stopped, and the replay of the last blocks is skipped.
      const more = randomBlocks(model, rng(23), [3], 5, 25n).get(3)!;
      const res = await store.write(3, [...byPartition.get(3)!.slice(-2), ...more], 30n);
      expect(res).toMatchObject({ skipped: 2, blocks: 5 });
      expect(await collect(store, req({ tenant: 'globex' }))).toEqual(model.expect(req({ tenant: 'globex' })));
    } finally {
      await store.close();
    }
  });

  it('rolls by size into many segments and reads across them', async () => {
    const dir = freshDir();
    const model = new Model();
    const store = await SegmentStore.open(options(dir, { maxSegmentBytes: 1500 }));
    try {
      await writeAll(store, randomBlocks(model, rng(24), [0], 40), 2);
      const dirs = segmentDirs(dir, 0);
      expect(dirs.length).toBeGreaterThanOrEqual(6);
      expect(store.state(0).segments).toBe(dirs.length);
      // Directory names carry each segment's first offset.
      const firsts = dirs.map((n) => K.parseSegmentDirName(n)!);
      expect(firsts[0]).toBe(0n);
      for (const f of firsts) expect(f % 2n).toBe(0n);
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'p-0', 'manifest.json'), 'utf8')) as { segments: { first: string }[] };
      expect(manifest.segments.map((s) => BigInt(s.first))).toEqual(firsts.slice(0, -1));
      for (const direction of ['forward', 'backward'] as const) {
        const r = req({ tenant: 'acme', direction, matchers: [m('app', '=~', 'api|db')] });
        expect(await collect(store, r)).toEqual(model.expect(r));
      }
    } finally {
      await store.close();
    }
  });

  it('rolls by age', async () => {
    const dir = freshDir();
    const model = new Model();
    const now = jest.spyOn(Date, 'now');
    let clock = 1_000_000;
    now.mockImplementation(() => clock);
    const store = await SegmentStore.open(options(dir, { maxSegmentAgeMs: 60_000 }));
    try {
      const blocks = randomBlocks(model, rng(25), [0], 6).get(0)!;
      for (const b of blocks) {
        await store.write(0, [b], b.offset + 1n);
        clock += 25_000;
      }
      // Writes every 25 s: the segment is 75 s old at the fourth write, which starts a new one.
      expect(segmentDirs(dir, 0)).toEqual([0n, 3n].map(K.segmentDirName));
      const r = req({ tenant: 'acme', direction: 'backward' });
      expect(await collect(store, r)).toEqual(model.expect(r));
    } finally {
      now.mockRestore();
      await store.close();
    }
  });

  it('bounds open handles with an LRU: maxOpenSegments 2 with 10 segments still reads everything', async () => {
    const dir = freshDir();
    const model = new Model();
    const store = await SegmentStore.open(options(dir, { maxSegmentBytes: 1, maxOpenSegments: 2 }));
    try {
      // maxSegmentBytes 1: every write after the first starts a new segment.
      await writeAll(store, randomBlocks(model, rng(26), [0], 10), 1);
      expect(store.state(0).segments).toBe(10);
      expect(await settledLocks(dir, 2)).toBeLessThanOrEqual(2);
      for (const direction of ['forward', 'backward'] as const) {
        for (const tenant of ['acme', 'globex']) {
          const r = req({ tenant, direction });
          expect(await collect(store, r)).toEqual(model.expect(r));
          expect(await settledLocks(dir, 2)).toBeLessThanOrEqual(2);
        }
      }
      // Two interleaved reads, each holding segments, then both finish: still within the bound.
      const a = store.read(req({ tenant: 'acme' }));
      const b = store.read(req({ tenant: 'acme', direction: 'backward' }));
      expect((await a.next()).done).toBe(false);
      expect((await b.next()).done).toBe(false);
      await a.return(undefined);
      await b.return(undefined);
      expect(await settledLocks(dir, 2)).toBeLessThanOrEqual(2);
    } finally {
      await store.close();
    }
    expect(openLocks(dir)).toBe(0);
  });

  it('quarantines a corrupt block, counts it and still advances the offset', async () => {
    const dir = freshDir();
    const model = new Model();
    const good = model.block(0, 0n, 'acme', [{ labels: { app: 'a' }, entries: [{ ts: T0, line: 'one' }] }]);
    const flipped = Buffer.from(new Model().block(0, 1n, 'acme', [{ labels: { app: 'a' }, entries: [{ ts: T0, line: 'lost' }] }]).value);
    flipped[flipped.length - 3] = flipped[flipped.length - 3]! ^ 0xff;
    const truncated = encodeBlock({ tenant: 'acme', streams: [{ labels: { app: 'a' }, entries: [{ ts: T0, line: 'cut' }] }] }).subarray(0, 30);
    const notABlock = Buffer.from('{"hello":"world"}');
    const after = model.block(0, 4n, 'acme', [{ labels: { app: 'a' }, entries: [{ ts: T0 + 1n, line: 'two' }] }]);
    let store = await SegmentStore.open(options(dir));
    const res = await store.write(
      0,
      [good, { offset: 1n, value: flipped }, { offset: 2n, value: truncated }, { offset: 3n, value: notABlock }, after],
      5n,
    );
    expect(res).toMatchObject({ blocks: 2, corrupt: 3, entries: 2, skipped: 0 });
    expect(store.applied(0)).toBe(5n);
    expect((await collect(store, req({ tenant: 'acme' }))).map((e) => e.line)).toEqual(['one', 'two']);
    await store.close();
    // The raw bytes are kept, with the reason, for forensics.
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path.join(dir, 'p-0', segmentDirs(dir, 0)[0]!), { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open({ createIfMissing: false });
    const q = await db.iterator(K.quarantineRange()).all();
    await db.close();
    const found = q.map(([k, v]) => ({ offset: Buffer.from(k).readBigUInt64BE(2), ...K.decodeQuarantine(v) }));
    expect(found.map((f) => [f.offset, f.code])).toEqual([
      [1n, 'SILT_BLOCK_CHECKSUM'],
      [2n, 'SILT_BLOCK_TRUNCATED'],
      [3n, 'SILT_BLOCK_MAGIC'],
    ]);
    expect(Buffer.from(found[0]!.block).equals(flipped)).toBe(true);
    store = await SegmentStore.open(options(dir));
    expect(store.applied(0)).toBe(5n);
    await store.close();
  });

  it('throws on an unknown block version and stores nothing of that write', async () => {
    const store = await SegmentStore.open(options(freshDir()));
    try {
      const model = new Model();
      const ok = model.block(0, 0n, 'acme', [{ labels: { app: 'a' }, entries: [{ ts: T0, line: 'ok' }] }]);
      const future = Buffer.from(new Model().block(0, 1n, 'acme', [{ labels: { app: 'a' }, entries: [{ ts: T0, line: 'v2' }] }]).value);
      future[4] = 2;
      const err = await store.write(0, [ok, { offset: 1n, value: future }], 2n).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BlockFormatError);
      expect((err as BlockFormatError).code).toBe('SILT_BLOCK_VERSION');
      expect((err as BlockFormatError).details).toMatchObject({ version: 2, partition: 0, offset: '1' });
      expect(store.applied(0)).toBe(0n);
      expect(await collect(store, req({ tenant: 'acme' }))).toEqual([]);
      // Once the block before it is written alone, the store moves on to it and stops again.
      await store.write(0, [ok], 1n);
      await expect(store.write(0, [{ offset: 1n, value: future }], 2n)).rejects.toThrow(BlockFormatError);
      expect(store.applied(0)).toBe(1n);
    } finally {
      await store.close();
    }
  });
});

describe('storage node > segment store > retention and drop', () => {
  /** One segment per block, block i holding timestamps T0 + 100 i … T0 + 100 i + 9. */
  async function timeSliced(dir: string, count: number, partition = 0): Promise<{ store: SegmentStore; model: Model }> {
    const model = new Model();
    const store = await SegmentStore.open(options(dir, { maxSegmentBytes: 1 }));
    for (let i = 0; i < count; i++) {
      const entries = Array.from({ length: 10 }, (_, j) => ({ ts: T0 + BigInt(100 * i + 9 - j), line: `b${i} e${j}` }));
      const b = model.block(partition, BigInt(i), 'acme', [{ labels: { app: 'a' }, entries }]);
      await store.write(partition, [b], BigInt(i + 1));
    }
    return { store, model };
  }

  it('drops exactly the segments whose newest entry is older than the cutoff', async () => {
    const dir = freshDir();
    const { store, model } = await timeSliced(dir, 6);
    try {
      expect(segmentDirs(dir, 0)).toHaveLength(6);
      // Segment 2 holds T0+200..T0+209: a cutoff of T0+209 keeps it (an entry is ≥ cutoff).
      expect(await store.dropBefore(T0 + 209n)).toBe(2);
      expect(segmentDirs(dir, 0)).toEqual([2n, 3n, 4n, 5n].map(K.segmentDirName));
      expect(await store.dropBefore(T0 + 209n)).toBe(0);
      expect(store.state(0)).toMatchObject({ segments: 4, entries: 40, minTs: T0 + 200n, appliedOffset: 6n });
      const r = req({ tenant: 'acme' });
      expect(await collect(store, r)).toEqual(model.expect(r).filter((e) => e.offset >= 2n));
    } finally {
      await store.close();
    }
  });

  it('drops an old active segment but keeps the applied offset, across a reopen', async () => {
    const dir = freshDir();
    const { store } = await timeSliced(dir, 3);
    expect(await store.dropBefore(T0 + 10_000n)).toBe(3);
    expect(store.applied(0)).toBe(3n);
    expect(store.state(0)).toMatchObject({ entries: 0, minTs: null, segments: 1 });
    expect(await collect(store, req({ tenant: 'acme' }))).toEqual([]);
    await store.close();
    const again = await SegmentStore.open(options(dir));
    try {
      expect(again.applied(0)).toBe(3n);
      expect((await again.write(0, [], 3n)).blocks).toBe(0);
      const model = new Model();
      await again.write(0, [model.block(0, 3n, 'acme', [{ labels: { app: 'a' }, entries: [{ ts: T0, line: 'new' }] }])], 4n);
      expect(await collect(again, req({ tenant: 'acme' }))).toEqual(model.entries);
    } finally {
      await again.close();
    }
  });

  it('lets a running read finish on a segment that retention removes', async () => {
    const dir = freshDir();
    const { store, model } = await timeSliced(dir, 4);
    try {
      const it = store.read(req({ tenant: 'acme', limit: 1000 }));
      const got: StoredEntry[] = [(await it.next()).value as StoredEntry];
      expect(await store.dropBefore(T0 + 50n)).toBe(1);
      // The segment is out of the store already, but its directory waits for the reader.
      expect(store.state(0).segments).toBe(3);
      expect(segmentDirs(dir, 0)).toHaveLength(4);
      for await (const e of { [Symbol.asyncIterator]: () => it }) got.push(e);
      expect(got).toEqual(model.expect(req({ tenant: 'acme' })));
      await eventually(() => segmentDirs(dir, 0).length === 3);
      expect(segmentDirs(dir, 0)).toHaveLength(3);
    } finally {
      await store.close();
    }
  });

  it('drops a whole partition', async () => {
    const dir = freshDir();
    const { store } = await timeSliced(dir, 3, 5);
    try {
      await store.drop(5);
      expect(store.partitions()).toEqual([]);
      expect(store.applied(5)).toBe(0n);
      expect(fs.existsSync(path.join(dir, 'p-5'))).toBe(false);
      const model = new Model();
      await store.write(5, [model.block(5, 0n, 'acme', [{ labels: { app: 'a' }, entries: [{ ts: T0, line: 'again' }] }])], 1n);
      expect(await collect(store, req({ tenant: 'acme' }))).toEqual(model.entries);
    } finally {
      await store.close();
    }
  });
});

describe('storage node > segment store > crash recovery', () => {
  async function populated(dir: string): Promise<{ store: SegmentStore; model: Model }> {
    const model = new Model();
    const store = await SegmentStore.open(options(dir, { maxSegmentBytes: 2000 }));
    await writeAll(store, randomBlocks(model, rng(31), [0, 1], 20));
    return { store, model };
  }

  async function expectIntact(dir: string, model: Model, applied = 20n): Promise<void> {
    const store = await SegmentStore.open(options(dir, { maxSegmentBytes: 2000 }));
    try {
      expect(store.applied(0)).toBe(applied);
      expect(store.applied(1)).toBe(applied);
      for (const tenant of ['acme', 'globex']) expect(await collect(store, req({ tenant }))).toEqual(model.expect(req({ tenant })));
    } finally {
      await store.close();
    }
  }

  it('opens a copy of the data dir taken while the store is open (as kill -9 would leave it)', async () => {
    const dir = freshDir();
    const { store, model } = await populated(dir);
    const copy = freshDir();
    fs.cpSync(dir, copy, { recursive: true });
    await store.close();
    await expectIntact(copy, model);
  });

  it('rebuilds a deleted or stale manifest from the segments', async () => {
    const dir = freshDir();
    const { store, model } = await populated(dir);
    await store.close();
    expect(segmentDirs(dir, 0).length).toBeGreaterThan(2);
    fs.rmSync(path.join(dir, 'p-0', 'manifest.json'));
    // Stale: lists a segment that is gone, and is missing the others.
    fs.writeFileSync(
      path.join(dir, 'p-1', 'manifest.json'),
      JSON.stringify({
        layout: 1,
        partition: 1,
        segments: [{ layout: 1, first: '999', applied: '1000', minTs: '0', maxTs: '1', entries: 5, bytes: 5, blocks: 1, corrupt: 0, maxSpan: '1', createdMs: 0 }],
      }),
    );
    fs.writeFileSync(path.join(dir, 'p-0', 'manifest.json.123.1.tmp'), 'half');
    await expectIntact(dir, model);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'p-1', 'manifest.json'), 'utf8')) as { segments: { first: string }[] };
    expect(manifest.segments.map((s) => K.segmentDirName(BigInt(s.first)))).toEqual(segmentDirs(dir, 1).slice(0, -1));
    expect(fs.readdirSync(path.join(dir, 'p-0')).some((n) => n.endsWith('.tmp'))).toBe(false);
  });

  it('removes a new segment that a roll created but never wrote, and leftovers of creation and removal', async () => {
    const dir = freshDir();
    const { store, model } = await populated(dir);
    await store.close();
    // A roll that crashed after creating the database, before its first batch.
    const empty = new ClassicLevel(path.join(dir, 'p-0', K.segmentDirName(20n)));
    await empty.open();
    await empty.close();
    fs.mkdirSync(path.join(dir, 'p-0', `${K.segmentDirName(21n)}.tmp`));
    fs.mkdirSync(path.join(dir, 'p-1', `${segmentDirs(dir, 1)[0]!}.deleting`));
    fs.mkdirSync(path.join(dir, 'p-7.deleting'));
    await expectIntact(dir, model);
    expect(segmentDirs(dir, 0)).not.toContain(K.segmentDirName(20n));
    expect(fs.readdirSync(path.join(dir, 'p-0')).filter((n) => !n.startsWith('seg-') || n.includes('.'))).toEqual(['manifest.json']);
    expect(fs.existsSync(path.join(dir, 'p-7.deleting'))).toBe(false);
    // The next roll can take that name again.
    const again = await SegmentStore.open(options(dir, { maxSegmentBytes: 1 }));
    try {
      const more = randomBlocks(model, rng(32), [0], 1, 20n).get(0)!;
      await again.write(0, more, 21n);
      expect(segmentDirs(dir, 0)).toContain(K.segmentDirName(20n));
      expect(again.applied(0)).toBe(21n);
      expect(await collect(again, req({ tenant: 'acme' }))).toEqual(model.expect(req({ tenant: 'acme' })));
    } finally {
      await again.close();
    }
  });
});

describe('storage node > segment store > kill -9', () => {
  /** The block the writer process applies at `offset`: derived from the offset alone, so the test knows every one. */
  function killBlock(offset: bigint): StreamSpec[] {
    const o = Number(offset);
    return [
      { labels: { app: 'k', n: String(o % 3) }, entries: [0, 1, 2].map((i) => ({ ts: T0 + BigInt(o * 10 + 5 - 2 * i), line: `o${o} i${i}` })) },
      { labels: { app: 'other' }, entries: [{ ts: T0 + BigInt(o * 10), line: `o${o} x` }] },
    ];
  }

  // A separate process that writes one block per call, rolling often and sometimes applying
  // retention, until it is killed. TypeScript is compiled on the fly with swc, as jest does.
  const WRITER = `
const fs = require('node:fs');
const swc = require(${JSON.stringify(require.resolve('@swc/core'))});
require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), { filename, jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } });
  module._compile(code, filename);
};
const { SegmentStore } = require(${JSON.stringify(path.resolve(__dirname, '../../storage-node/src/store/index.ts'))});
const { encodeBlock } = require(${JSON.stringify(path.resolve(__dirname, '../../core/src/block-format.ts'))});
const T0 = ${T0}n;
const block = ${killBlock.toString().replace(/: bigint|: StreamSpec\[\]/g, '')};
(async () => {
  const store = await SegmentStore.open({ dir: process.argv[1], maxSegmentBytes: 1500, maxSegmentAgeMs: 1e9, maxOpenSegments: 3 });
  process.stdout.write('ready\\n');
  for (;;) {
    const offset = store.applied(0);
    await store.write(0, [{ offset, value: encodeBlock({ tenant: 'acme', streams: block(offset) }) }], offset + 1n);
    if (offset % 17n === 16n) await store.dropBefore(T0 + (offset - 40n) * 10n);
  }
})();
`;

  it('stays consistent when the writer is killed at random points', async () => {
    const dir = freshDir();
    const rand = rng(41);
    let lastApplied = 0n;
    for (let round = 0; round < 5; round++) {
      const child = spawn(process.execPath, ['-e', WRITER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.on('exit', () => reject(new Error(`writer exited: ${stderr}`)));
      });
      await new Promise((r) => setTimeout(r, 40 + rand() * 200));
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');

      const store = await SegmentStore.open(options(dir));
      try {
        const applied = store.applied(0);
        expect(applied).toBeGreaterThan(lastApplied);
        lastApplied = applied;
        // Every block below the applied offset is there exactly once (retention aside), nothing above it.
        const got = await collect(store, req({ tenant: 'acme', matchers: [m('app', '=', 'k')] }));
        const floor = got.length > 0 ? got[0]!.offset : applied;
        const model = new Model();
        for (let o = floor; o < applied; o++) model.block(0, o, 'acme', killBlock(o));
        expect(got).toEqual(model.expect(req({ tenant: 'acme', matchers: [m('app', '=', 'k')] })));
        expect(store.state(0).entries).toBe(Number(applied - floor) * 4);
        expect(fs.readdirSync(path.join(dir, 'p-0')).filter((n) => n.includes('.') && n !== 'manifest.json')).toEqual([]);
      } finally {
        await store.close();
      }
    }
    expect(lastApplied).toBeGreaterThan(20n);
  });
});
