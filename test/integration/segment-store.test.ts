/** The segment store on real LevelDB: ordered reads, paging, snapshots, compaction of small frames, frame versions. */
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeStoredFrame } from '../../core/src/stored-frame';
import * as K from '../../storage-node/src/store/keys';
import { type ReadRequest, type ReadStats, SegmentStore } from '../../storage-node/src/store';
import { rng } from '../support/rng';
import { T0, freshDir, options, type StreamSpec, Model, collect, m, req, position, readPaged, randomBlocks, writeAll, MATCHER_SETS, expectCompactedWhole } from '../support/segment-model';

describe('storage node > segment store > reads', () => {
  const model = new Model();
  let store: SegmentStore;
  let dir: string;

  beforeAll(async () => {
    dir = freshDir();
    // Small segments: every read below crosses segments and partitions. No decoded-frame cache: the
    // work a read counts is its own (segment-frame-cache.test.ts reads through the cache).
    store = await SegmentStore.open(options(dir, { maxSegmentBytes: 6000, maxOpenSegments: 64, frameCacheBytes: 0 }));
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
        expect(await readPaged(store, base)).toEqual(model.expect({ ...base, limit: 1_000_000 }));
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
      expect(await readPaged(store, base)).toEqual(model.expect({ ...base, limit: 1_000_000 }));
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
