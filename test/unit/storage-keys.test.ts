/** The segment key layout: byte order equals the order reads need, and tenants never share a prefix. */
import type { BlockStreamInfo } from '../../core/src/block-format';
import * as K from '../../storage-node/src/store/keys';
import { rng } from '../support/rng';

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const U64_MAX = (1n << 64n) - 1n;

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function inRange(key: Uint8Array, range: K.KeyRange): boolean {
  return cmpBytes(key, range.gte) >= 0 && cmpBytes(key, range.lt) < 0;
}

describe('storage node > keys > timestamps', () => {
  it('orders encoded timestamps as numbers and round-trips them', () => {
    const rand = rng(1);
    const values = [I64_MIN, I64_MIN + 1n, -1n, 0n, 1n, I64_MAX - 1n, I64_MAX, 1_764_129_600_000_000_000n];
    for (let i = 0; i < 200; i++) values.push(BigInt.asIntN(64, BigInt(Math.floor(rand() * 2 ** 53)) * BigInt(Math.floor(rand() * 2 ** 20) - 2 ** 19)));
    const encoded = values.map((ts) => {
      const buf = Buffer.alloc(8);
      K.writeOrderedTs(buf, ts, 0);
      expect(K.readOrderedTs(buf, 0)).toBe(ts);
      return { ts, buf };
    });
    encoded.sort((a, b) => Buffer.compare(a.buf, b.buf));
    for (let i = 1; i < encoded.length; i++) expect(encoded[i - 1]!.ts <= encoded[i]!.ts).toBe(true);
  });
});

describe('storage node > keys > tenant prefix', () => {
  it('is the length then the bytes, and refuses empty or over-long tenants', () => {
    expect([...K.tenantPrefix('ab')!]).toEqual([2, 0x61, 0x62]);
    expect(K.tenantPrefix('')).toBeNull();
    expect(K.tenantPrefix('x'.repeat(255))!.length).toBe(256);
    expect(K.tenantPrefix('x'.repeat(256))).toBeNull();
  });

  it('keeps a tenant that is a prefix of another out of its ranges', () => {
    const a = K.tenantPrefix('a')!;
    const ab = K.tenantPrefix('ab')!;
    const keysOfAb = [K.streamKey(ab, 1n), K.frameKey(ab, 0n, 0n, 0n, 0), K.labelIndexKey(ab, 'app', 'x', 5n)];
    const rangesOfA = [K.streamRange(a), K.frameRange(a, 0n, I64_MIN, I64_MAX + 1n), K.labelIndexRange(a, 'app', 'x')];
    for (const key of keysOfAb) for (const range of rangesOfA) expect(inRange(key, range)).toBe(false);
    // And no tenant key falls in the system range (first byte 0).
    for (const key of keysOfAb) expect(key[0]).not.toBe(K.KEY_SYSTEM);
  });
});

describe('storage node > keys > frames', () => {
  it('sorts frame keys by stream, minTs, offset, frame and decodes them', () => {
    const prefix = K.tenantPrefix('acme')!;
    const rand = rng(2);
    const fields: K.FrameKeyFields[] = [];
    for (let i = 0; i < 300; i++) {
      fields.push({
        streamId: [0n, 7n, U64_MAX][Math.floor(rand() * 3)]!,
        minTs: [I64_MIN, -5n, 0n, 5n, I64_MAX][Math.floor(rand() * 5)]!,
        offset: BigInt(Math.floor(rand() * 5)) * (rand() < 0.1 ? 1n << 60n : 1n),
        frame: Math.floor(rand() * 3) * (rand() < 0.1 ? 20000 : 1),
      });
    }
    const keyed = fields.map((f) => ({ f, key: K.frameKey(prefix, f.streamId, f.minTs, f.offset, f.frame) }));
    for (const { f, key } of keyed) expect(K.decodeFrameKey(key, prefix.length)).toEqual(f);
    keyed.sort((a, b) => cmpBytes(a.key, b.key));
    const tuple = (f: K.FrameKeyFields): bigint[] => [f.streamId, f.minTs, f.offset, BigInt(f.frame)];
    for (let i = 1; i < keyed.length; i++) {
      const x = tuple(keyed[i - 1]!.f);
      const y = tuple(keyed[i]!.f);
      const c = x.findIndex((v, j) => v !== y[j]);
      if (c >= 0) expect(x[c]! < y[c]!).toBe(true);
    }
  });

  it('ranges one stream by minTs in [from, to), clamping beyond the 64-bit range', () => {
    const prefix = K.tenantPrefix('acme')!;
    const key = (id: bigint, ts: bigint): Buffer => K.frameKey(prefix, id, ts, 3n, 1);
    const r = K.frameRange(prefix, 7n, -10n, 10n);
    expect(inRange(key(7n, -10n), r)).toBe(true);
    expect(inRange(key(7n, 9n), r)).toBe(true);
    expect(inRange(key(7n, 10n), r)).toBe(false);
    expect(inRange(key(7n, -11n), r)).toBe(false);
    expect(inRange(key(6n, 0n), r)).toBe(false);
    expect(inRange(key(8n, 0n), r)).toBe(false);
    const all = K.frameRange(prefix, 7n, I64_MIN - 5n, I64_MAX + 5n);
    expect(inRange(key(7n, I64_MIN), all)).toBe(true);
    expect(inRange(key(7n, I64_MAX), all)).toBe(true);
    expect(inRange(key(8n, I64_MIN), all)).toBe(false);
    const top = K.frameRange(prefix, U64_MAX, I64_MIN, I64_MAX + 1n);
    expect(inRange(key(U64_MAX, I64_MAX), top)).toBe(true);
    const empty = K.frameRange(prefix, 7n, 5n, I64_MIN);
    expect(cmpBytes(empty.gte, empty.lt) >= 0).toBe(true);
  });

  it('round-trips a frame value header and keeps the frame bytes as they were', () => {
    const info: BlockStreamInfo = { streamId: 1n, labels: {}, entryCount: 12, minTs: -3n, maxTs: I64_MAX, frameOffset: 0, frameLength: 4, rawLength: 99, frameCrc: 0xdeadbeef };
    const frame = Uint8Array.of(1, 2, 3, 4);
    const value = K.encodeFrameValue(1, info, frame);
    expect(K.readFrameValueHeader(value)).toEqual({ layout: 1, version: 1, rawLength: 99, frameCrc: 0xdeadbeef, entryCount: 12, minTs: -3n, maxTs: I64_MAX });
    expect([...K.frameValueBytes(value)]).toEqual([1, 2, 3, 4]);
    expect(K.frameValueRuns(value)).toEqual([]);
    expect(() => K.readFrameValueHeader(value.subarray(0, 10))).toThrow();
  });

  it('round-trips a merged frame value: header, run table, frame bytes', () => {
    const runs = [
      { offset: 7n, frame: 2, count: 3 },
      { offset: (1n << 64n) - 1n, frame: 65535, count: 1 },
    ];
    const frame = { bytes: Buffer.of(9, 8, 7), rawLength: 40, frameCrc: 0x01020304, entryCount: 4, minTs: I64_MIN, maxTs: 5n };
    const value = K.encodeCompactedFrameValue(1, frame, runs);
    expect(value.length).toBe(30 + 4 + 2 * 14 + 3);
    expect(K.readFrameValueHeader(value)).toEqual({ layout: K.COMPACTED_VALUE_LAYOUT, version: 1, rawLength: 40, frameCrc: 0x01020304, entryCount: 4, minTs: I64_MIN, maxTs: 5n });
    expect(K.frameValueRuns(value)).toEqual(runs);
    expect([...K.frameValueBytes(value)]).toEqual([9, 8, 7]);
    expect(() => K.frameValueRuns(value.subarray(0, 40))).toThrow();
    const unknown = Buffer.from(value);
    unknown[0] = 3;
    expect(() => K.readFrameValueHeader(unknown)).toThrow();
  });
});

describe('storage node > keys > frame heads', () => {
  const runs = [
    { offset: 7n, frame: 2, count: 3 },
    { offset: 9n, frame: 0, count: 2 },
    { offset: (1n << 33n) + 5n, frame: 1, count: 4 },
    { offset: 8n, frame: 1, count: 1 },
  ];
  const compacted = K.encodeCompactedFrameValue(2, { bytes: Buffer.of(9, 8, 7), rawLength: 40, frameCrc: 1, entryCount: 10, minTs: -5n, maxTs: 5n }, runs);

  it('keeps what a value says before its bytes, and a v2 frame\'s lines length and attribute keys; unknown for v1', () => {
    const head = K.encodeFrameHead(compacted, { linesLength: 123, attrKeyCount: 2 });
    expect(head.length).toBe(30 + 4 + 4 * 14 + 8);
    const read = K.readFrameHead(head);
    expect(read.header).toEqual(K.readFrameValueHeader(compacted));
    expect({ linesLength: read.linesLength, attrKeyCount: read.attrKeyCount }).toEqual({ linesLength: 123, attrKeyCount: 2 });
    expect(K.frameValueRuns(head)).toEqual(runs);
    const v1 = K.encodeFrameValue(1, { rawLength: 9, frameCrc: 2, entryCount: 3, minTs: 1n, maxTs: 2n } as never, Uint8Array.of(1, 2));
    const v1Head = K.readFrameHead(K.encodeFrameHead(v1, null));
    expect(v1Head).toMatchObject({ header: K.readFrameValueHeader(v1), linesLength: null, attrKeyCount: null });
    expect(() => K.readFrameHead(head.subarray(0, head.length - 1))).toThrow('frame head of');
  });

  it('gives the entries of runs below an offset as joined index ranges, read in place', () => {
    expect(K.runsBelow(compacted, 1n << 64n)).toEqual({ kept: [0, 10], total: 10 });
    expect(K.runsBelow(compacted, 9n)).toEqual({ kept: [0, 3, 9, 10], total: 10 });
    expect(K.runsBelow(compacted, 10n)).toEqual({ kept: [0, 5, 9, 10], total: 10 });
    expect(K.runsBelow(compacted, (1n << 33n) + 6n)).toEqual({ kept: [0, 10], total: 10 });
    expect(K.runsBelow(compacted, 7n)).toEqual({ kept: [], total: 10 });
  });

  it('moves a frame key to the head and filter families and back, keeping its order within each', () => {
    const prefix = K.tenantPrefix('acme')!;
    const key = K.frameKey(prefix, 5n, -3n, 9n, 2);
    const head = K.retagFrameKey(key, prefix.length, K.TAG_HEAD);
    expect(head[prefix.length]).toBe(K.TAG_HEAD);
    expect(K.decodeFrameKey(head, prefix.length)).toEqual(K.decodeFrameKey(key, prefix.length));
    expect(K.retagFrameKey(head, prefix.length, K.TAG_FRAME)).toEqual(key);
    const range = K.frameRange(prefix, 5n, -3n, 0n, K.TAG_HEAD);
    expect(Buffer.compare(range.gte, head) <= 0 && Buffer.compare(head, range.lt) < 0).toBe(true);
    expect(Buffer.compare(K.retagFrameKey(key, prefix.length, K.TAG_FILTER), range.gte)).toBeLessThan(0);
  });
});

describe('storage node > keys > registry, label index, quarantine', () => {
  it('round-trips stream values and reads the span alone', () => {
    const value = K.encodeStreamValue({ app: 'api', __proto__x: 'y' }, 12345n);
    expect(K.decodeStreamValue(value)).toEqual({ labels: { app: 'api', __proto__x: 'y' }, maxSpan: 12345n });
    expect(K.streamValueSpan(value)).toBe(12345n);
    // A frame may span the whole 64-bit range of timestamps.
    expect(K.decodeStreamValue(K.encodeStreamValue({}, U64_MAX)).maxSpan).toBe(U64_MAX);
    expect(K.streamIdOfStreamKey(K.streamKey(K.tenantPrefix('t')!, U64_MAX))).toBe(U64_MAX);
  });

  it('separates label names from values and a value from its extensions', () => {
    const p = K.tenantPrefix('t')!;
    const r = K.labelIndexRange(p, 'a', 'bc');
    expect(inRange(K.labelIndexKey(p, 'a', 'bc', 1n), r)).toBe(true);
    expect(inRange(K.labelIndexKey(p, 'ab', 'c', 1n), r)).toBe(false);
    expect(inRange(K.labelIndexKey(p, 'a', 'bcd', 1n), r)).toBe(false);
    expect(inRange(K.labelIndexKey(p, 'a', 'b', 1n), r)).toBe(false);
    expect(K.streamIdOfLabelIndexKey(K.labelIndexKey(p, 'a', 'bc', 42n))).toBe(42n);
  });

  it('keeps a quarantined block with its reason', () => {
    const raw = Uint8Array.of(9, 8, 7);
    const q = K.decodeQuarantine(K.encodeQuarantine('SILT_BLOCK_CHECKSUM', 'bad', raw));
    expect(q.code).toBe('SILT_BLOCK_CHECKSUM');
    expect(q.message).toBe('bad');
    expect([...q.block]).toEqual([9, 8, 7]);
    const key = K.quarantineKey(258n);
    expect([...key]).toEqual([0, 0x51, 0, 0, 0, 0, 0, 0, 1, 2]);
    expect(inRange(key, K.quarantineRange())).toBe(true);
    expect(inRange(K.META_KEY, K.quarantineRange())).toBe(false);
  });
});

describe('storage node > keys > directory names', () => {
  it('names segments by zero-padded first offset so names sort like offsets', () => {
    expect(K.segmentDirName(42n)).toBe('seg-00000000000000000042');
    expect(K.parseSegmentDirName('seg-00000000000000000042')).toBe(42n);
    expect(K.parseSegmentDirName('seg-00000000000000000042.tmp')).toBeNull();
    expect(K.parseSegmentDirName('seg-42')).toBeNull();
    const offsets = [0n, 9n, 10n, 99n, 12345678901234n, (1n << 63n) - 1n];
    const names = offsets.map(K.segmentDirName);
    expect([...names].sort()).toEqual(names);
    expect(() => K.segmentDirName(-1n)).toThrow(RangeError);
  });

  it('names partitions p-<n>', () => {
    expect(K.partitionDirName(7)).toBe('p-7');
    expect(K.parsePartitionDirName('p-7')).toBe(7);
    expect(K.parsePartitionDirName('p-07')).toBeNull();
    expect(K.parsePartitionDirName('p-7.deleting')).toBeNull();
  });
});
