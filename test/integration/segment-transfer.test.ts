/**
 * Segment transfer on real LevelDB (storage-node/src/store/transfer.ts): a partition dumped from one
 * store and staged into another reads back the same, from a consistent snapshot even while the
 * source keeps writing; a corrupt or truncated dump, or a stream that breaks off, is refused and
 * nothing of it is adopted.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeBlock } from '../../core/src/block-format';
import { compileMatcher } from '../../core/src/matchers';
import { type ReadRequest, SegmentStore, type SegmentStoreOptions, type StoredEntry } from '../../storage-node/src/store';

const T0 = 1_764_129_600_000_000_000n;
const P = 2;

let root: string;
let counter = 0;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-transfer-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

function options(over: Partial<SegmentStoreOptions> = {}): SegmentStoreOptions {
  return { dir: path.join(root, `store-${++counter}`), maxSegmentBytes: 4_000, maxSegmentAgeMs: 1 << 30, maxOpenSegments: 8, ...over };
}

/** Writes blocks `from` to `to` (exclusive) into partition P, each of two streams of 20 numbered entries; `noisy` lines barely compress. */
async function writeBlocks(store: SegmentStore, from: number, to: number, noisy = false): Promise<void> {
  for (let o = from; o < to; o++) {
    const streams = ['api', 'web'].map((app) => ({
      labels: { app },
      entries: Array.from({ length: 20 }, (_, i) => ({
        ts: T0 + BigInt(o * 100 + i) * 1000n,
        line: `${app} block ${o} entry ${i} ${noisy ? randomBytes(200).toString('hex') : 'x'.repeat(o % 50)}`,
      })),
    }));
    await store.write(P, [{ offset: BigInt(o), value: encodeBlock({ tenant: 'acme', streams }) }], BigInt(o) + 1n);
  }
}

/** Every entry of partition P, in order; with `needle`, those whose line holds it, read as a read with a line filter goes (by frame heads). */
async function readAll(store: SegmentStore, needle?: string): Promise<string[]> {
  const req: ReadRequest = { tenant: 'acme', matchers: [compileMatcher({ name: 'app', op: '=~', value: '.+' })], start: 0n, end: 1n << 62n, direction: 'forward', limit: 1e9, partitions: [P] };
  if (needle !== undefined) Object.assign(req, { lineFilter: (line: string) => line.includes(needle), mustContain: [Buffer.from(needle)] });
  const out: string[] = [];
  for await (const e of store.read(req)) out.push(key(e));
  return out;
}

const key = (e: StoredEntry): string => `${e.offset}/${e.frame}/${e.index}:${e.line}`;

/** Every chunk of every segment's dump, per segment, as the peer would stream them. */
async function dumpAll(store: SegmentStore): Promise<{ first: bigint; chunks: Buffer[] }[]> {
  const out: { first: bigint; chunks: Buffer[] }[] = [];
  for (const seg of store.listSegments(P).segments) {
    const chunks: Buffer[] = [];
    for await (const c of store.dumpSegment(P, BigInt(seg.first))!) chunks.push(Buffer.from(c));
    out.push({ first: BigInt(seg.first), chunks });
  }
  return out;
}

async function* stream(chunks: Buffer[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c;
}

/** Half of a dump, then the error a reset connection gives. */
async function* brokenOff(chunks: Buffer[]): AsyncGenerator<Uint8Array> {
  const whole = Buffer.concat(chunks);
  yield whole.subarray(0, whole.length >> 1);
  throw new Error('connection reset');
}

/** Stages every dump into `target` and adopts it; `tamper` may change one segment's chunks. */
async function copyInto(target: SegmentStore, dumps: { first: bigint; chunks: Buffer[] }[], tamper?: (i: number, chunks: Buffer[]) => AsyncIterable<Uint8Array>): Promise<void> {
  const staged = await target.stage(P);
  let adopted = false;
  try {
    for (let i = 0; i < dumps.length; i++) await staged.load(dumps[i]!.first, tamper ? tamper(i, dumps[i]!.chunks) : stream(dumps[i]!.chunks));
    await target.adopt(staged);
    adopted = true;
  } finally {
    if (!adopted) await staged.discard();
  }
}

const stagingDirs = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));

describe('storage node > store > segment transfer', () => {
  let source: SegmentStore;
  let expected: string[];

  beforeAll(async () => {
    source = await SegmentStore.open(options());
    await writeBlocks(source, 0, 60);
    expected = await readAll(source);
  });
  afterAll(async () => {
    await source.close();
  });

  it('copies every segment of a partition: the copy reads back the same, at the same applied offset, and after a reopen', async () => {
    expect(source.listSegments(P).segments.length).toBeGreaterThan(4);
    const opts = options();
    const target = await SegmentStore.open(opts);
    await copyInto(target, await dumpAll(source));
    expect(target.applied(P)).toBe(60n);
    expect(await readAll(target)).toEqual(expected);
    expect(target.state(P)).toEqual(source.state(P));
    // Applying Kafka from the copied offset goes on where the copy ends; a replay below it is skipped.
    await writeBlocks(target, 58, 62);
    expect((await readAll(target)).length).toBe(expected.length + 2 * 2 * 20);
    await target.close();
    const reopened = await SegmentStore.open(opts);
    expect(reopened.applied(P)).toBe(62n);
    expect((await readAll(reopened)).slice(0, expected.length)).toEqual(expected);
    await reopened.close();
  });

  it('replaces what a node held of the partition before, and only that partition', async () => {
    const target = await SegmentStore.open(options());
    await writeBlocks(target, 0, 5);
    await target.write(P + 1, [{ offset: 0n, value: encodeBlock({ tenant: 'acme', streams: [{ labels: { app: 'other' }, entries: [{ ts: T0, line: 'kept' }] }] }) }], 1n);
    await copyInto(target, await dumpAll(source));
    expect(await readAll(target)).toEqual(expected);
    expect(target.applied(P + 1)).toBe(1n);
    await target.close();
  });

  it('reads a partition it replaced by frame heads from the copy, not from the heads it kept in memory of the one before', async () => {
    const opts = options();
    const written = await SegmentStore.open(opts);
    await writeBlocks(written, 0, 5, true);
    await written.close();
    // Reopened, its segments are as unchanged in memory as the copies will be: only their identity tells them apart.
    const target = await SegmentStore.open(opts);
    const before = await readAll(target, ' entry 1');
    expect(before.length).toBeGreaterThan(0);
    expect(target.headsCachedBytes()).toBeGreaterThan(0);
    await copyInto(target, await dumpAll(source));
    expect(await readAll(target, ' entry 1')).toEqual(await readAll(source, ' entry 1'));
    await target.close();
  });

  it('copies the active segment as one snapshot while the source keeps writing', async () => {
    const live = await SegmentStore.open(options({ maxSegmentBytes: 1 << 30 }));
    await writeBlocks(live, 0, 300, true);
    const before = await readAll(live);
    const chunks: Buffer[] = [];
    const dump = live.dumpSegment(P, 0n)!;
    // The first chunk (256 KiB) comes while most of the segment is still to be read from LevelDB.
    chunks.push(Buffer.from((await dump.next()).value as Buffer));
    await writeBlocks(live, 300, 340, true);
    for await (const c of dump) chunks.push(Buffer.from(c));
    expect(chunks.length).toBeGreaterThan(4);
    const target = await SegmentStore.open(options());
    await copyInto(target, [{ first: 0n, chunks }]);
    expect(target.applied(P)).toBe(300n);
    expect(await readAll(target)).toEqual(before);
    await target.close();
    await live.close();
  });

  describe('refuses a bad dump and adopts nothing of the partition', () => {
    const refused = async (tamper: (i: number, chunks: Buffer[]) => AsyncIterable<Uint8Array>, code: string | RegExp): Promise<void> => {
      const opts = options();
      const target = await SegmentStore.open(opts);
      const dumps = await dumpAll(source);
      const attempt = copyInto(target, dumps, tamper);
      if (typeof code === 'string') await expect(attempt).rejects.toMatchObject({ code });
      else await expect(attempt).rejects.toThrow(code);
      expect(target.applied(P)).toBe(0n);
      expect(target.partitions()).toEqual([]);
      expect(await readAll(target)).toEqual([]);
      expect(stagingDirs(opts.dir)).toEqual([]);
      expect(fs.existsSync(path.join(opts.dir, `p-${P}`))).toBe(false);
      await target.close();
      // Nothing half-copied comes back at open either.
      const reopened = await SegmentStore.open(opts);
      expect(reopened.partitions()).toEqual([]);
      await reopened.close();
    };
    const last = (i: number, dumps: number): boolean => i === dumps - 1;

    it('a changed byte in a later segment (checksum)', async () => {
      const n = source.listSegments(P).segments.length;
      await refused((i, chunks) => {
        if (!last(i, n)) return stream(chunks);
        const bad = chunks.map((c) => Buffer.from(c));
        // A stream's labels are stored as JSON in the registry: one letter of them changes.
        const all = bad[0]!;
        all[all.indexOf('"app"') + 2] ^= 0x20;
        return stream(bad);
      }, 'SILT_DUMP_CHECKSUM');
    });

    it('a dump cut short', async () => {
      await refused((i, chunks) => {
        if (i !== 1) return stream(chunks);
        const whole = Buffer.concat(chunks);
        return stream([whole.subarray(0, whole.length - 40)]);
      }, 'SILT_DUMP_TRUNCATED');
    });

    it('a stream that breaks off (the peer killed mid-way)', async () => {
      await refused((i, chunks) => (i === 2 ? brokenOff(chunks) : stream(chunks)), /connection reset/);
    });

    it('the dump of another segment', async () => {
      const dumps = await dumpAll(source);
      await refused((i) => stream(dumps[i === 1 ? 2 : i === 2 ? 1 : i]!.chunks), 'SILT_DUMP_FORMAT');
    });
  });
});
