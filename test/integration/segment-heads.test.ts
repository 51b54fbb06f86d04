/** The segment store's frame heads on real LevelDB: kept for every frame, read instead of frames where they suffice, and segments without them still read alike. */
import fs from 'node:fs';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { FRAME_V2_VERSION, readDetachedFrameV2Header } from '../../core/src/frame-v2';
import { decodeStoredFrame, storedFrameHeader } from '../../core/src/stored-frame';
import * as K from '../../storage-node/src/store/keys';
import { MANIFEST_FILE, decodeSegmentMeta, encodeSegmentMeta } from '../../storage-node/src/store/manifest';
import { type HeadFrame, type ReadRequest, type ReadStats, SegmentStore, type StoredEntry } from '../../storage-node/src/store';
import { rng } from '../support/rng';
import { Model, collect, freshDir, options, randomBlocks, randomRead, writeAll } from '../support/segment-model';

type Db = ClassicLevel<Uint8Array, Uint8Array>;

const OPTS = { maxSegmentBytes: 40_000, maxOpenSegments: 64, compactionTargetEntries: 64 };

/** Every segment database of a store's data dir (the store must be closed). */
function segmentPaths(dir: string): string[] {
  const out: string[] = [];
  for (const p of fs.readdirSync(dir).filter((n) => /^p-\d+$/.test(n))) {
    for (const s of fs.readdirSync(path.join(dir, p)).filter((n) => /^seg-\d+$/.test(n))) out.push(path.join(dir, p, s));
  }
  return out;
}

async function withDb<T>(at: string, use: (db: Db) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(at, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: false });
  await db.open();
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

/** A key's tag, for the tenant-prefixed keys of a segment; null for the system keys. */
function tagOf(key: Uint8Array): number | null {
  return key[0] === 0 ? null : key[key[0]! + 1]!;
}

/** A key without its tag: the same for a frame, its head and its filter. */
function tail(key: Uint8Array): string {
  const p = key[0]! + 1;
  return Buffer.concat([key.subarray(0, p), key.subarray(p + 1)]).toString('hex');
}

/** Copies a store's data dir and removes its frame heads and filters, and the `heads` flag from every meta: a store as a version before heads left it. */
async function withoutHeads(dir: string): Promise<string> {
  const copy = freshDir();
  fs.cpSync(dir, copy, { recursive: true });
  for (const p of fs.readdirSync(copy).filter((n) => /^p-\d+$/.test(n))) fs.rmSync(path.join(copy, p, MANIFEST_FILE), { force: true });
  for (const at of segmentPaths(copy)) {
    await withDb(at, async (db) => {
      const dels: { type: 'del'; key: Uint8Array }[] = [];
      for await (const key of db.keys()) if (tagOf(key) === K.TAG_HEAD || tagOf(key) === K.TAG_FILTER) dels.push({ type: 'del', key });
      const meta = decodeSegmentMeta((await db.get(K.META_KEY))!);
      await db.batch([...dels, { type: 'put', key: K.META_KEY, value: encodeSegmentMeta({ ...meta, heads: false }) }]);
    });
  }
  return copy;
}

const noStats = (): ReadStats => ({ entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 });

/** Entries per stream in a scan's range and snapshot: taken from heads where `fromHead` takes them, else decoded from the frames yielded. */
async function countPerStream(store: SegmentStore, r: ReadRequest, take: boolean): Promise<{ counts: Map<bigint, number>; fromHeads: number; yielded: number }> {
  const counts = new Map<bigint, number>();
  const add = (id: bigint, n: number): void => void (n > 0 && counts.set(id, (counts.get(id) ?? 0) + n));
  let fromHeads = 0;
  let yielded = 0;
  // As an aggregation takes a frame: whole, of v2, every entry in range.
  const fromHead = (f: HeadFrame): boolean => {
    if (f.kept !== null || f.header.version !== FRAME_V2_VERSION || f.header.minTs < r.start || f.header.maxTs >= r.end) return false;
    add(f.streamId, f.header.entryCount);
    fromHeads++;
    return true;
  };
  for await (const f of store.frames({ ...r, fromHead: take ? fromHead : undefined })) {
    yielded++;
    const entries = decodeStoredFrame(f.header.version, f.bytes, f.header.rawLength, f.header.frameCrc)!;
    const kept = f.kept ?? [0, entries.length];
    for (let k = 0; k < kept.length; k += 2) add(f.streamId, entries.slice(kept[k], kept[k + 1]).filter((e) => e.ts >= r.start && e.ts < r.end).length);
  }
  return { counts, fromHeads, yielded };
}

/** Entries per stream the model holds in a scan's range and snapshot (a scan has no limit and no line filter). */
function modelCounts(model: Model, r: ReadRequest): Map<bigint, number> {
  const counts = new Map<bigint, number>();
  for (const e of model.expect({ ...r, limit: 1e9, lineFilter: undefined })) counts.set(e.streamId, (counts.get(e.streamId) ?? 0) + 1);
  return counts;
}

// ' s1 ' and ' s2 ' are whole words some frames lack; 'ERROR' most frames hold; ' p7 ' no frame holds.
const NEEDLES = [' s1 ', ' s2 ', 'ERROR', ' p7 ', 'o1'];

describe('storage node > segment store > frame heads', () => {
  const model = new Model();
  let dir: string;
  let store: SegmentStore;

  beforeAll(async () => {
    dir = freshDir();
    store = await SegmentStore.open(options(dir, OPTS));
    await writeAll(store, randomBlocks(model, rng(61), [0, 1], 160));
    await store.compactionsSettled();
  });
  afterAll(async () => {
    await store.close();
  });

  it('keeps a head for every frame, equal to what its value says, and the filter of every v2 frame beside it instead of in it, through writes and compactions', async () => {
    expect(store.compactionCounts.compactions).toBeGreaterThan(10);
    await store.close();
    let v2 = 0;
    for (const at of segmentPaths(dir)) {
      await withDb(at, async (db) => {
        expect(decodeSegmentMeta((await db.get(K.META_KEY))!).heads).toBe(true);
        const frames = new Map<string, Uint8Array>();
        const heads = new Map<string, Uint8Array>();
        const filters = new Map<string, Uint8Array>();
        for await (const [key, value] of db.iterator()) {
          const byTag = new Map([[K.TAG_FRAME, frames], [K.TAG_HEAD, heads], [K.TAG_FILTER, filters]]).get(tagOf(key) ?? -1);
          byTag?.set(tail(key), value);
        }
        expect([...heads.keys()].sort()).toEqual([...frames.keys()].sort());
        const versioned = [...frames].filter(([, v]) => K.readFrameValueHeader(v).version === FRAME_V2_VERSION).map(([t]) => t);
        expect([...filters.keys()].sort()).toEqual(versioned.sort());
        for (const [t, value] of frames) {
          const header = K.readFrameValueHeader(value);
          const own = storedFrameHeader(header.version, K.frameValueBytes(value));
          expect(Buffer.from(heads.get(t)!)).toEqual(K.encodeFrameHead(value, own));
          if (own === null) continue;
          v2++;
          // The filter is stored once, beside the frame: the frame's header says so and carries none.
          const filter = readDetachedFrameV2Header(filters.get(t)!);
          expect(own.filterElsewhere).toBe(true);
          expect(own.filter.bitCount).toBe(0);
          expect(filter.filterElsewhere).toBe(false);
          expect(filter.filter.bitCount).toBeGreaterThan(0);
          expect({ ...filter, filter: null, headerLength: 0, columns: filter.columns.map((c) => c.rawLength) }).toEqual({ ...own, filter: null, filterElsewhere: false, headerLength: 0, columns: own.columns.map((c) => c.rawLength) });
        }
      });
    }
    expect(v2).toBeGreaterThan(10);
    store = await SegmentStore.open(options(dir, OPTS));
  });

  it('takes frames from their heads for aggregation scans: those are never yielded, and every count matches the model', async () => {
    const rand = rng(62);
    let fromHeads = 0;
    let yielded = 0;
    for (let i = 0; i < 60; i++) {
      const r = randomRead(rand);
      const got = await countPerStream(store, r, true);
      expect(got.counts).toEqual(modelCounts(model, r));
      fromHeads += got.fromHeads;
      yielded += got.yielded;
      // Without `fromHead` every frame is yielded: the same frames, less those the heads answered.
      const all = await countPerStream(store, r, false);
      expect(all.counts).toEqual(got.counts);
      expect(all.yielded).toBeGreaterThanOrEqual(got.yielded + got.fromHeads);
    }
    expect(fromHeads).toBeGreaterThan(0);
    expect(yielded).toBeGreaterThan(0);
  });

  it('answers reads with needles like the model, reading fewer frames than a store without heads (the ruled-out ones never leave LevelDB)', async () => {
    const plain = await SegmentStore.open(options(await withoutHeads(dir), OPTS));
    try {
      const rand = rng(63);
      let withHeads = 0;
      let without = 0;
      for (let i = 0; i < 80; i++) {
        const r = randomRead(rand, NEEDLES[i % NEEDLES.length]);
        const a = noStats();
        const b = noStats();
        const expected: StoredEntry[] = model.expect(r);
        expect(await collect(store, r, a)).toEqual(expected);
        expect(await collect(plain, r, b)).toEqual(expected);
        withHeads += a.framesRead;
        without += b.framesRead;
        // A frame ruled out by its filter counts its entries as scanned, as when it is decoded and ruled out.
        if (r.limit === 1_000_000) expect(a.entriesScanned).toBe(b.entriesScanned);
      }
      expect(withHeads).toBeLessThan(without);
    } finally {
      await plain.close();
    }
  });

  it('reads a store without heads (as written before them) like the model, and gives only its new segments heads as it goes on', async () => {
    await store.close();
    const copy = await withoutHeads(dir);
    store = await SegmentStore.open(options(dir, OPTS));
    const old = await SegmentStore.open(options(copy, OPTS));
    const oldModel = new Model();
    oldModel.entries.push(...model.entries);
    try {
      const rand = rng(64);
      for (let i = 0; i < 40; i++) {
        const r = randomRead(rand, i % 2 === 0 ? NEEDLES[i % NEEDLES.length] : undefined);
        expect(await collect(old, r)).toEqual(model.expect(r));
        expect((await countPerStream(old, r, true)).counts).toEqual(modelCounts(model, r));
      }
      await writeAll(old, randomBlocks(oldModel, rng(65), [0, 1], 80, 160n));
      await old.compactionsSettled();
      for (let i = 0; i < 40; i++) {
        const r = randomRead(rand, i % 2 === 0 ? NEEDLES[i % NEEDLES.length] : undefined);
        expect(await collect(old, r)).toEqual(oldModel.expect(r));
        expect((await countPerStream(old, r, true)).counts).toEqual(modelCounts(oldModel, r));
      }
    } finally {
      await old.close();
    }
    const flags = await Promise.all(segmentPaths(copy).map((at) => withDb(at, async (db) => decodeSegmentMeta((await db.get(K.META_KEY))!).heads)));
    expect(flags).toContain(false);
    expect(flags).toContain(true);
  });
});

describe('storage node > segment store > frame heads > in memory', () => {
  const model = new Model();
  let store: SegmentStore;
  const blocks = randomBlocks(model, rng(71), [0, 1], 180);
  /** The blocks of both partitions from `from` up to `to` (by position). */
  const slice = (from: number, to: number): Map<number, typeof blocks extends Map<number, infer B> ? B : never> => new Map([...blocks].map(([p, b]) => [p, b.slice(from, to)]));
  /** Needle reads and counts per stream, each checked against what the model holds of the blocks written so far. */
  const check = async (rand: () => number, written: number): Promise<void> => {
    const upTo = (r: ReadRequest): ReadRequest => ({ ...r, maxOffsets: new Map([0, 1].map((p) => [p, BigInt(Math.min(written, Number(r.maxOffsets?.get(p) ?? 1e9)))])) });
    for (let i = 0; i < 12; i++) {
      const r = upTo(randomRead(rand, NEEDLES[Math.floor(rand() * NEEDLES.length)]));
      expect(await collect(store, r)).toEqual(model.expect(r));
      const s = upTo({ ...randomRead(rand), direction: 'forward' as const, limit: 1_000_000 });
      expect((await countPerStream(store, s, true)).counts).toEqual(modelCounts(model, s));
    }
  };

  afterAll(async () => {
    await store.close();
  });

  it('answers from heads kept in memory what LevelDB holds, as writes and compactions change them', async () => {
    store = await SegmentStore.open(options(freshDir(), OPTS));
    const rand = rng(72);
    for (const [from, to] of [[0, 60], [60, 120], [120, 180]] as const) {
      // Reads run while the blocks are written and their small frames compacted, and once both are done.
      await Promise.all([writeAll(store, slice(from, to)), check(rand, from)]);
      await Promise.all([store.compactionsSettled(), check(rand, to)]);
      await check(rand, to);
      expect(store.headsCachedBytes()).toBeGreaterThan(0);
    }
    expect(store.compactionCounts.compactions).toBeGreaterThan(10);
  });

  it('keeps within its budget, and reads alike beyond it', async () => {
    await store.close();
    const dir = freshDir();
    store = await SegmentStore.open(options(dir, { ...OPTS, headCacheBytes: 6000 }));
    await writeAll(store, blocks);
    await store.compactionsSettled();
    await check(rng(73), 180);
    expect(store.headsCachedBytes()).toBeGreaterThan(0);
    expect(store.headsCachedBytes()).toBeLessThanOrEqual(6000);
  });
});
