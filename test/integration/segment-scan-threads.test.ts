/** The segment store's scan threads on real LevelDB: reads with line filters decoded and filtered off the event loop answer exactly as on it. */
import type { LineFilter } from '../../core/src/logql';
import { type ReadRequest, SegmentStore, lineFilterFields } from '../../storage-node/src/store';
import { rng } from '../support/rng';
import { T0, freshDir, options, Model, collect, req, readPaged, randomBlocks, randomRead, writeAll } from '../support/segment-model';

/** Filter lists a read may carry: substrings present, absent, negated, regexes, and several at once. */
const FILTERS: LineFilter[][] = [
  [{ op: '|=', value: 'ERROR' }],
  [{ op: '!=', value: 'ERROR' }],
  [{ op: '|=', value: 'no such word' }],
  [{ op: '|~', value: 'o1[0-9] s' }],
  [{ op: '!~', value: 'w9[0-9][0-9]' }],
  [
    { op: '|=', value: ' w1' },
    { op: '!=', value: 'info' },
  ],
  [{ op: '|=', value: 's0 #' }],
];

/** A read carrying `filters` as the read API builds it. */
function filtered(r: ReadRequest, filters: LineFilter[]): ReadRequest {
  return { ...r, ...lineFilterFields(filters) };
}

describe('storage node > segment store > scan threads', () => {
  const model = new Model();
  // Long lines and a compaction target of 256 entries: compacted frames pass the size a scan
  // thread takes (16 KiB raw). No idle compaction, so that the frames stay as they are between opens;
  // no decoded-frame cache, so that every read decodes (segment-frame-cache.test.ts has it with threads).
  const STORE = { maxOpenSegments: 64, compactionTargetEntries: 256, compactionIdleMs: 0, frameCacheBytes: 0 };
  const dir = freshDir();
  let store: SegmentStore;
  const randomFilteredRead = (rand: () => number): ReadRequest => filtered(randomRead(rand), FILTERS[Math.floor(rand() * FILTERS.length)]!);

  beforeAll(async () => {
    store = await SegmentStore.open(options(dir, { ...STORE, scanThreads: 2 }));
    await writeAll(store, randomBlocks(model, rng(41), [0, 1], 160, 0n, 12));
    await store.compactionsSettled();
  });
  afterAll(async () => {
    await store.close();
  });

  it('answers random filtered reads, snapshots and limits like the model, with the frames decoded on the threads', async () => {
    const rand = rng(42);
    for (let i = 0; i < 120; i++) {
      const r = randomFilteredRead(rand);
      expect(await collect(store, r)).toEqual(model.expect(r));
    }
    expect(store.framesScannedOnThreads()).toBeGreaterThan(100);
  });

  it('pages through a filtered range in both directions without a gap or a repeat', async () => {
    for (const direction of ['forward', 'backward'] as const) {
      for (const filters of FILTERS) {
        const base = filtered(req({ tenant: 'acme', direction, limit: 9, start: T0 + 50n, end: T0 + 1400n }), filters);
        expect(await readPaged(store, base)).toEqual(model.expect({ ...base, limit: 1_000_000 }));
      }
    }
  });

  it('runs many filtered reads at once, each answered whole', async () => {
    const rand = rng(43);
    const reads = Array.from({ length: 16 }, () => ({ ...randomFilteredRead(rand), limit: 1_000_000 }));
    const answers = await Promise.all(reads.map((r) => collect(store, r)));
    reads.forEach((r, i) => expect(answers[i]).toEqual(model.expect(r)));
  });

  it('counts what a filtered read looked at as a read on the event loop does', async () => {
    const reads = FILTERS.map((filters) => filtered(req({ tenant: 'acme' }), filters));
    const statsOf = async (scanThreads: number): Promise<unknown[]> => {
      await store.close();
      store = await SegmentStore.open(options(dir, { ...STORE, scanThreads }));
      const out: unknown[] = [];
      for (const r of reads) {
        const stats = { entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 };
        out.push({ entries: await collect(store, r, stats), stats });
      }
      return out;
    };
    const onLoop = await statsOf(0);
    expect(store.framesScannedOnThreads()).toBe(0);
    expect(await statsOf(2)).toEqual(onLoop);
    expect(store.framesScannedOnThreads()).toBeGreaterThan(0);
  });
});
