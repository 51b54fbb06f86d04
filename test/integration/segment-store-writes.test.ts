/** The segment store on real LevelDB: exactly-once writes, rolls, the handle LRU, retention, crash recovery, kill -9. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { encodeBlock } from '../../core/src/block-format';
import { BlockFormatError } from '../../core/src/errors';
import * as K from '../../storage-node/src/store/keys';
import { SegmentStore, type StoredEntry } from '../../storage-node/src/store';
import { rng } from '../support/rng';
import { T0, freshDir, options, type StreamSpec, Model, collect, m, req, randomBlocks, writeAll } from '../support/segment-model';

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
      expect(replay).toEqual({ entries: 0, minTs: null, blocks: 0, skipped: 6, corrupt: 0, bytes: 0 });
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
  // A local name: the writer process below defines it too, and killBlock's source refers to it.
  const BASE = T0;
  /** The block the writer process applies at `offset`: derived from the offset alone, so the test knows every one. */
  function killBlock(offset: bigint): StreamSpec[] {
    const o = Number(offset);
    return [
      { labels: { app: 'k', n: String(o % 3) }, entries: [0, 1, 2].map((i) => ({ ts: BASE + BigInt(o * 10 + 5 - 2 * i), line: `o${o} i${i}` })) },
      { labels: { app: 'other' }, entries: [{ ts: BASE + BigInt(o * 10), line: `o${o} x` }] },
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
const BASE = ${T0}n;
const block = ${killBlock.toString().replace(/: bigint|: StreamSpec\[\]/g, '')};
(async () => {
  const store = await SegmentStore.open({ dir: process.argv[1], maxSegmentBytes: 1500, maxSegmentAgeMs: 1e9, maxOpenSegments: 3 });
  process.stdout.write('ready\\n');
  for (;;) {
    const offset = store.applied(0);
    await store.write(0, [{ offset, value: encodeBlock({ tenant: 'acme', streams: block(offset) }) }], offset + 1n);
    if (offset % 17n === 16n) await store.dropBefore(BASE + (offset - 40n) * 10n);
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
