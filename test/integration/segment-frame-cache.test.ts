/**
 * The segment store's decoded-frame cache on real LevelDB: reads answered from cached frames equal
 * the model's (with and without scan threads, on pages and snapshots), a frame compaction rewrote
 * is never answered from its old decoding, and the cache stays within its bound.
 */
import { type ReadRequest, type ReadStats, SegmentStore, lineFilterFields } from '../../storage-node/src/store';
import { rng } from '../support/rng';
import { T0, freshDir, options, Model, collect, req, readPaged, randomBlocks, randomRead, writeAll } from '../support/segment-model';

const stats = (): ReadStats => ({ entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 });

describe('storage node > segment store > decoded-frame cache', () => {
  const model = new Model();
  const dir = freshDir();
  let store: SegmentStore;

  beforeAll(async () => {
    // No idle compaction: the frames stay as written until the test compacts them.
    store = await SegmentStore.open(options(dir, { maxOpenSegments: 64, compactionTargetEntries: 256, compactionIdleMs: 0, scanThreads: 2, frameCacheBytes: 8 * 1024 * 1024 }));
    await writeAll(store, randomBlocks(model, rng(71), [0, 1], 120, 0n, 12));
  });
  afterAll(async () => {
    await store.close();
  });

  it('a range read again is answered from cached frames, decompressing nothing, as the model answers it', async () => {
    const r = req({ tenant: 'acme', direction: 'backward', limit: 1_000_000 });
    const first = stats();
    expect(await collect(store, r, first)).toEqual(model.expect(r));
    expect(first.bytesDecompressed).toBeGreaterThan(0);
    const hitsBefore = store.framesCached().hits;
    const again = stats();
    expect(await collect(store, r, again)).toEqual(model.expect(r));
    expect(again.bytesDecompressed).toBe(0);
    expect(store.framesCached().hits - hitsBefore).toBe(again.framesRead);
    expect(store.framesCached().bytes).toBeGreaterThan(0);
  });

  it('random reads, filtered reads and pages after the cache filled answer as the model does', async () => {
    const rand = rng(72);
    for (let i = 0; i < 80; i++) {
      const r: ReadRequest = rand() < 0.5 ? randomRead(rand) : { ...randomRead(rand), ...lineFilterFields([{ op: '|=', value: rand() < 0.5 ? 'ERROR' : ' w1' }]) };
      expect(await collect(store, r)).toEqual(model.expect(r));
    }
    for (const direction of ['forward', 'backward'] as const) {
      const base = req({ tenant: 'acme', direction, limit: 7, start: T0 + 40n, end: T0 + 1300n });
      expect(await readPaged(store, base)).toEqual(model.expect({ ...base, limit: 1_000_000 }));
    }
  });

  it('frames rewritten by compaction, and entries written since, are read as they are now', async () => {
    const r = req({ tenant: 'acme', direction: 'forward', limit: 1_000_000 });
    await collect(store, r);
    await writeAll(store, randomBlocks(model, rng(73), [0, 1], 120, 120n, 12));
    await store.compactionsSettled();
    expect(await collect(store, r)).toEqual(model.expect(r));
    expect(await collect(store, req({ tenant: 'globex', direction: 'backward', limit: 1_000_000 }))).toEqual(model.expect(req({ tenant: 'globex', direction: 'backward', limit: 1_000_000 })));
  });

  it('stays within its bound, and a store without one decodes every time', async () => {
    const small = await SegmentStore.open(options(freshDir(), { frameCacheBytes: 64 * 1024 }));
    const none = await SegmentStore.open(options(freshDir(), { frameCacheBytes: 0 }));
    try {
      const m1 = new Model();
      const m2 = new Model();
      await writeAll(small, randomBlocks(m1, rng(74), [0], 200, 0n, 30));
      await writeAll(none, randomBlocks(m2, rng(74), [0], 200, 0n, 30));
      const r = req({ tenant: 'acme', direction: 'backward', limit: 1_000_000 });
      for (let i = 0; i < 3; i++) expect(await collect(small, r)).toEqual(m1.expect(r));
      expect(small.framesCached().bytes).toBeLessThanOrEqual(64 * 1024);
      const twice = stats();
      await collect(none, r);
      await collect(none, r, twice);
      expect(twice.bytesDecompressed).toBeGreaterThan(0);
      expect(none.framesCached()).toEqual({ bytes: 0, hits: 0, misses: 0 });
    } finally {
      await small.close();
      await none.close();
    }
  });
});
