/** v2 frames that are cut, changed or crafted: every failure is a typed BlockFormatError, and nothing is allocated for a hostile size. */
import { crc32 } from 'node:zlib';
import { compress, decompress } from 'zstd-napi';
import { type BlockEntry, MAX_RAW_LENGTH, PayloadTimes } from '../../core/src/block-format';
import { BlockFormatError } from '../../core/src/errors';
import { setOwn } from '../../core/src/frame-payload';
import { COLUMN_ATTRS, COLUMN_LENGTHS, COLUMN_LINES, COLUMN_TIMES, FRAME_V2_FIXED_HEADER, encodeFrameV2, readDetachedFrameV2Header, readFrameV2Header, withoutFilter } from '../../core/src/frame-v2';
import { NeedleSet, detachedHeaderAllows } from '../../core/src/stored-frame';
import { decodeFrameV2, decodeFrameV2Lines, decodeFrameV2Times, frameV2MayContain, mayContainAll } from '../../core/src/frame-v2-decode';
import { UNICODE_VERSION, requiredTokens } from '../../core/src/token-filter';
import { rng } from '../support/rng';

type ErrorCode = BlockFormatError['code'];
const T0 = 1_764_129_600_000_000_000n;

/** What fn throws, or undefined. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

function expectCode(fn: () => unknown, code: ErrorCode): void {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(BlockFormatError);
  expect((err as BlockFormatError).code).toBe(code);
}

const attrs: Record<string, string> = { level: 'info' };
setOwn(attrs, '__proto__', 'p');
const ENTRIES: BlockEntry[] = Array.from({ length: 40 }, (_, i) => ({
  ts: T0 + BigInt(i * 1000),
  line: `GET /item/${i} 200 ${i % 7}ms`,
  ...(i % 3 === 0 ? { attrs } : i % 3 === 1 ? { attrs: { user: String(i), level: 'warn' } } : {}),
}));
const BASE = encodeFrameV2(ENTRIES, 3).bytes;

// ---- a minimal reader and writer from docs/FORMAT.md, independent of the codec, for crafting frames

const COLUMNS_AT = 60;

function column(frame: Buffer, c: number): { offset: number; length: number; rawLength: number } {
  const at = COLUMNS_AT + 16 * c;
  return { offset: frame.readUInt32LE(at), length: frame.readUInt32LE(at + 4), rawLength: frame.readUInt32LE(at + 8) };
}

function rawColumn(frame: Buffer, c: number): Buffer {
  const { offset, length, rawLength } = column(frame, c);
  const stored = frame.subarray(offset, offset + length);
  return length === rawLength ? Buffer.from(stored) : decompress(stored);
}

/** The frame with the columns replaced (raw bytes, or [stored bytes, rawLength]), the header patched, table and CRCs rewritten. */
function craft(frame: Buffer, opts: { raw?: Record<number, Buffer>; stored?: Record<number, [Buffer, number]>; patch?: (header: Buffer) => void } = {}): Buffer {
  const headerLength = frame.readUInt32LE(12);
  const header = Buffer.from(frame.subarray(0, headerLength));
  const parts: Buffer[] = [];
  let offset = headerLength;
  for (let c = 0; c < 4; c++) {
    let stored: Buffer;
    let rawLength: number;
    if (opts.stored?.[c] !== undefined) [stored, rawLength] = opts.stored[c]!;
    else if (opts.raw?.[c] !== undefined) {
      rawLength = opts.raw[c]!.length;
      stored = rawLength === 0 ? Buffer.alloc(0) : compress(opts.raw[c]!);
    } else {
      const col = column(frame, c);
      stored = frame.subarray(col.offset, col.offset + col.length);
      rawLength = col.rawLength;
    }
    const at = COLUMNS_AT + 16 * c;
    header.writeUInt32LE(offset, at);
    header.writeUInt32LE(stored.length, at + 4);
    header.writeUInt32LE(rawLength, at + 8);
    header.writeUInt32LE(stored.length === 0 ? 0 : crc32(stored), at + 12);
    parts.push(stored);
    offset += stored.length;
  }
  opts.patch?.(header);
  return reseal(Buffer.concat([header, ...parts]));
}

function reseal(frame: Buffer): Buffer {
  frame.writeUInt32LE(crc32(frame.subarray(12, frame.readUInt32LE(12))), 8);
  return frame;
}

function varints(values: number[]): Buffer {
  const out: number[] = [];
  for (let v of values) {
    while (v > 0x7f) {
      out.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
  }
  return Buffer.from(out);
}

function str(s: string): Buffer {
  return Buffer.concat([varints([Buffer.byteLength(s)]), Buffer.from(s)]);
}

const decoders: [string, (f: Buffer) => unknown][] = [
  ['decodeFrameV2', (f) => decodeFrameV2(f)],
  ['decodeFrameV2Lines', (f) => decodeFrameV2Lines(f)],
  ['decodeFrameV2Times', (f) => decodeFrameV2Times(f, new PayloadTimes())],
  ['frameV2MayContain', (f) => frameV2MayContain(f, [Buffer.from('GET')])],
];

describe('core/frame-v2 errors', () => {
  it('the crafting helper rebuilds the frame it was given', () => {
    expect(craft(BASE).equals(BASE)).toBe(true);
    expect(decodeFrameV2(craft(BASE, { raw: { [COLUMN_LINES]: rawColumn(BASE, COLUMN_LINES) } }))).toEqual(decodeFrameV2(BASE));
  });

  it('reports a frame cut at any length as truncated', () => {
    for (let n = 0; n < BASE.length; n++) {
      const cut = BASE.subarray(0, n);
      expectCode(() => readFrameV2Header(cut), 'SILT_BLOCK_TRUNCATED');
      expectCode(() => decodeFrameV2(cut), 'SILT_BLOCK_TRUNCATED');
    }
  });

  it('checks magic and version by value, before anything else', () => {
    const badMagic = Buffer.from(BASE);
    badMagic[1] = 0x41;
    expectCode(() => readFrameV2Header(badMagic), 'SILT_BLOCK_CORRUPT');
    for (const version of [0, 1, 3, 255]) {
      const other = Buffer.from(BASE.subarray(0, 5));
      other[4] = version;
      expectCode(() => readFrameV2Header(other), 'SILT_BLOCK_VERSION');
      expect((thrown(() => readFrameV2Header(other)) as BlockFormatError).details).toEqual({ version });
    }
  });

  it('reports a changed header byte as a checksum mismatch, a changed column byte when that column is read', () => {
    const header = Buffer.from(BASE);
    header[130]! ^= 0x10;
    expectCode(() => readFrameV2Header(header), 'SILT_BLOCK_CHECKSUM');
    const crcField = Buffer.from(BASE);
    crcField[9]! ^= 1;
    expectCode(() => readFrameV2Header(crcField), 'SILT_BLOCK_CHECKSUM');
    for (const c of [COLUMN_TIMES, COLUMN_LENGTHS, COLUMN_LINES, COLUMN_ATTRS]) {
      const changed = Buffer.from(BASE);
      changed[column(BASE, c).offset + 2]! ^= 0x40;
      expect(readFrameV2Header(changed).entryCount).toBe(ENTRIES.length);
      expectCode(() => decodeFrameV2(changed), 'SILT_BLOCK_CHECKSUM');
    }
    const attrsChanged = Buffer.from(BASE);
    attrsChanged[column(BASE, COLUMN_ATTRS).offset + 2]! ^= 0x40;
    expect(decodeFrameV2Lines(attrsChanged)).toEqual(ENTRIES.map((e) => e.line));
    expect(decodeFrameV2Times(attrsChanged, new PayloadTimes())).toBe(true);
  });

  it('consults the token filter before the lines column: a needle it rules out never decompresses a thing', () => {
    const linesChanged = Buffer.from(BASE);
    linesChanged[column(BASE, COLUMN_LINES).offset + 2]! ^= 0x40;
    expect(frameV2MayContain(linesChanged, [Buffer.from(' absent ')])).toBe(false);
    expect(decodeFrameV2(linesChanged, [Buffer.from(' absent ')])).toBeNull();
    expect(decodeFrameV2Lines(linesChanged, [Buffer.from(' absent ')])).toBeNull();
    expectCode(() => frameV2MayContain(linesChanged, [Buffer.from(' 200 ')]), 'SILT_BLOCK_CHECKSUM');
    expectCode(() => frameV2MayContain(linesChanged, [Buffer.from('absent')]), 'SILT_BLOCK_CHECKSUM');
  });

  it('reads a header kept apart from its columns, checked as in the frame, and nothing longer or shorter', () => {
    const h = readFrameV2Header(BASE);
    const detached = Buffer.from(BASE.subarray(0, h.headerLength));
    expect(readDetachedFrameV2Header(detached)).toEqual(h);
    expect(detachedHeaderAllows(detached, new NeedleSet([Buffer.from(' absent ')]))).toBe(false);
    expect(detachedHeaderAllows(detached, new NeedleSet([Buffer.from(' 200 ')]))).toBe(true);
    expectCode(() => readDetachedFrameV2Header(BASE.subarray(0, h.headerLength + 1)), 'SILT_BLOCK_CORRUPT');
    expectCode(() => readDetachedFrameV2Header(detached.subarray(0, h.headerLength - 1)), 'SILT_BLOCK_TRUNCATED');
    const changed = Buffer.from(detached);
    changed[h.headerLength - 1]! ^= 0x01;
    expectCode(() => readDetachedFrameV2Header(changed), 'SILT_BLOCK_CHECKSUM');
  });

  it('splits a frame from its filter: the frame decodes alike and rules nothing out, the header alone holds the filter', () => {
    const { frame, header } = withoutFilter(BASE);
    const h = readFrameV2Header(BASE);
    expect(header).toEqual(BASE.subarray(0, h.headerLength));
    expect(frame.length).toBe(BASE.length - h.filter.bits.length);
    const own = readFrameV2Header(frame);
    expect(own).toMatchObject({ filterElsewhere: true, headerLength: FRAME_V2_FIXED_HEADER, filter: { bitCount: 0, hashes: 0 }, entryCount: h.entryCount, linesLength: h.linesLength });
    expect(decodeFrameV2(frame)).toEqual(decodeFrameV2(BASE));
    expect(frameV2MayContain(BASE, [Buffer.from(' absent ')])).toBe(false);
    expect(decodeFrameV2(frame, [Buffer.from(' absent ')])).toBeNull();
    expect(mayContainAll(own, ['absent'])).toBe(true);
    expect(decodeFrameV2(frame, [Buffer.from(' 200 ')])).toEqual(decodeFrameV2(BASE));
    // Other flag bits stay reserved, and a frame that says its filter is elsewhere carries none.
    expectCode(() => readFrameV2Header(craft(frame, { patch: (hd) => (hd[5] = 0x07) })), 'SILT_BLOCK_CORRUPT');
    expectCode(() => readFrameV2Header(craft(BASE, { patch: (hd) => (hd[5] = 0x01) })), 'SILT_BLOCK_CORRUPT');
  });

  it('trusts non-ASCII tokens only from a frame tokenized under the same Unicode version', () => {
    const frame = encodeFrameV2([{ ts: T0, line: 'a 日本語 b' }], 3).bytes;
    const other = craft(frame, { patch: (h) => h.writeUInt8((UNICODE_VERSION[0] + 1) % 256, 57) });
    expect(readFrameV2Header(other).unicode[0]).not.toBe(UNICODE_VERSION[0]);
    expect(mayContainAll(readFrameV2Header(frame), requiredTokens(' 中文 '))).toBe(false);
    expect(mayContainAll(readFrameV2Header(other), requiredTokens(' 中文 '))).toBe(true);
    expect(mayContainAll(readFrameV2Header(other), requiredTokens(' 中文 zz '))).toBe(false);
    expect(mayContainAll(readFrameV2Header(other), requiredTokens(' 日本語 a '))).toBe(true);
  });

  describe('structure (all SILT_BLOCK_CORRUPT)', () => {
    const patched = (patch: (h: Buffer) => void): Buffer => craft(BASE, { patch });
    it.each<[string, () => Buffer]>([
      ['flags', () => patched((h) => (h[5] = 1))],
      ['reserved bytes', () => patched((h) => h.writeUInt16LE(1, 6))],
      ['the last reserved byte', () => patched((h) => (h[59] = 1))],
      ['entry count 0', () => patched((h) => h.writeUInt32LE(0, 16))],
      ['entry count over the limit', () => patched((h) => h.writeUInt32LE(1024 * 1024 + 1, 16))],
      ['min after max', () => patched((h) => h.writeBigInt64LE(T0 + 10n ** 12n, 20))],
      ['timestamp unit 0', () => patched((h) => h.writeBigUInt64LE(0n, 36))],
      ['filter bits not a whole byte', () => patched((h) => h.writeUInt32LE(h.readUInt32LE(52) - 1, 52))],
      ['filter not filling the header', () => patched((h) => h.writeUInt32LE(h.readUInt32LE(52) - 8, 52))],
      ['no filter hashes', () => patched((h) => (h[56] = 0))],
      ['too many filter hashes', () => patched((h) => (h[56] = 17))],
      ['lines length differing from the column', () => patched((h) => h.writeUInt32LE(h.readUInt32LE(44) + 1, 44))],
      ['attribute keys without a column', () => craft(BASE, { raw: { [COLUMN_ATTRS]: Buffer.alloc(0) } })],
      ['a column not where the previous ends', () => patched((h) => h.writeUInt32LE(h.readUInt32LE(COLUMNS_AT + 16) + 1, COLUMNS_AT + 16))],
      ['an empty column claiming raw bytes', () => craft(BASE, { stored: { [COLUMN_ATTRS]: [Buffer.alloc(0), 5] } })],
      ['columns over 64 MiB together', () => craft(BASE, { stored: { [COLUMN_LINES]: [rawColumn(BASE, COLUMN_LINES).subarray(0, 8), MAX_RAW_LENGTH] } })],
      ['a timestamp column too small for the entries', () => craft(BASE, { raw: { [COLUMN_TIMES]: varints([0, 2, 2]) } })],
      ['a length column too large for the entries', () => craft(BASE, { raw: { [COLUMN_LENGTHS]: Buffer.alloc(5 * ENTRIES.length + 1, 0x80) } })],
      ['bytes after the last column', () => reseal(Buffer.concat([BASE, Buffer.from([0])]))],
    ])('%s', (_what, make) => {
      expectCode(() => readFrameV2Header(make()), 'SILT_BLOCK_CORRUPT');
    });
  });

  describe('column content (all SILT_BLOCK_CORRUPT)', () => {
    const times = rawColumn(BASE, COLUMN_TIMES);
    const lengths = rawColumn(BASE, COLUMN_LENGTHS);
    const attrsRaw = rawColumn(BASE, COLUMN_ATTRS);
    const n = ENTRIES.length;
    // The base frame's attributes column: keys level, __proto__, user; shapes [level, __proto__] and [user, level].
    const attrColumn = (shapes: number[][], entryShapes: number[], values: string[], keys = ['level', '__proto__', 'user']): Buffer =>
      Buffer.concat([...keys.map(str), varints([shapes.length]), ...shapes.map((s) => varints([s.length, ...s])), varints(entryShapes), ...values.map(str)]);

    it('the attribute helper rebuilds the base column', () => {
      const entryShapes = ENTRIES.map((_, i) => (i % 3 === 0 ? 1 : i % 3 === 1 ? 2 : 0));
      const levels = ENTRIES.flatMap((_, i) => (i % 3 === 0 ? ['info'] : i % 3 === 1 ? ['warn'] : []));
      const protos = ENTRIES.flatMap((_, i) => (i % 3 === 0 ? ['p'] : []));
      const users = ENTRIES.flatMap((_, i) => (i % 3 === 1 ? [String(i)] : []));
      expect(attrColumn([[0, 1], [2, 0]], entryShapes, [...levels, ...protos, ...users]).equals(attrsRaw)).toBe(true);
    });

    it.each<[string, () => Buffer]>([
      ['a timestamp column with a delta too many', () => craft(BASE, { raw: { [COLUMN_TIMES]: Buffer.concat([times, varints([0])]) } })],
      ['timestamps outside the header range', () => craft(BASE, { raw: { [COLUMN_TIMES]: varints(Array.from({ length: n }, (_, i) => (i === 0 ? 2 : 0))) } })],
      ['a timestamp varint over 64 bits', () => craft(BASE, { raw: { [COLUMN_TIMES]: Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), times.subarray(1)]) } })],
      ['a timestamp column ending in a varint', () => craft(BASE, { raw: { [COLUMN_TIMES]: Buffer.concat([times.subarray(0, times.length - 1), Buffer.from([0x80])]) } })],
      ['lengths that do not add up to the lines', () => craft(BASE, { raw: { [COLUMN_LENGTHS]: Buffer.concat([lengths.subarray(0, n - 1), varints([0])]) } })],
      ['a length column with a length too many', () => craft(BASE, { raw: { [COLUMN_LENGTHS]: Buffer.concat([lengths, varints([0])]) } })],
      ['a zstd frame holding other than the raw length', () => craft(BASE, { stored: { [COLUMN_LINES]: [compress(rawColumn(BASE, COLUMN_LINES).subarray(1)), column(BASE, COLUMN_LINES).rawLength] } })],
      ['bytes that are no zstd frame', () => craft(BASE, { stored: { [COLUMN_LINES]: [Buffer.alloc(20, 0x55), column(BASE, COLUMN_LINES).rawLength] } })],
      ['a shape naming a key twice', () => craft(BASE, { raw: { [COLUMN_ATTRS]: attrColumn([[0, 0], [2, 1]], new Array(n).fill(1), []) } })],
      ['a shape naming an unknown key', () => craft(BASE, { raw: { [COLUMN_ATTRS]: attrColumn([[0, 3]], new Array(n).fill(1), []) } })],
      ['an empty shape', () => craft(BASE, { raw: { [COLUMN_ATTRS]: attrColumn([[]], new Array(n).fill(1), []) } })],
      ['an entry of an unknown shape', () => craft(BASE, { raw: { [COLUMN_ATTRS]: attrColumn([[0, 1, 2]], new Array(n).fill(2), []) } })],
      ['a key no entry has', () => craft(BASE, { raw: { [COLUMN_ATTRS]: attrColumn([[0, 1]], new Array(n).fill(0), []) } })],
      ['values missing', () => craft(BASE, { raw: { [COLUMN_ATTRS]: attrColumn([[0, 1, 2]], new Array(n).fill(1), ['a']) } })],
      ['a value too many', () => craft(BASE, { raw: { [COLUMN_ATTRS]: Buffer.concat([attrsRaw, str('extra')]) } })],
      ['a hostile shape count', () => craft(BASE, { raw: { [COLUMN_ATTRS]: Buffer.concat([...['level', '__proto__', 'user'].map(str), varints([0xffffffff])]) } })],
      ['a hostile key count', () => craft(BASE, { patch: (h) => h.writeUInt32LE(0xffffffff, 48) })],
      ['a hostile string length', () => craft(BASE, { raw: { [COLUMN_ATTRS]: Buffer.concat([varints([0xfffffff0]), Buffer.from('level')]) } })],
    ])('%s', (_what, make) => {
      expectCode(() => decodeFrameV2(make()), 'SILT_BLOCK_CORRUPT');
    });

    it('allocates nothing for a column that claims more bytes than its zstd frame holds', () => {
      const claimed = 60 * 1024 * 1024;
      const hostile = craft(BASE, { stored: { [COLUMN_LINES]: [compress(Buffer.from('GET tiny')), claimed] }, patch: (h) => h.writeUInt32LE(claimed, 44) });
      expect(readFrameV2Header(hostile).linesLength).toBe(claimed);
      const before = process.memoryUsage().arrayBuffers;
      expectCode(() => frameV2MayContain(hostile, [Buffer.from('GET')]), 'SILT_BLOCK_CORRUPT');
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
    });

    it('checks what decodeFrameV2Times and decodeFrameV2Lines read too', () => {
      const out = new PayloadTimes();
      const badTimes = craft(BASE, { raw: { [COLUMN_TIMES]: varints(Array.from({ length: n }, (_, i) => (i === 0 ? 2 : 0))) } });
      expectCode(() => decodeFrameV2Times(badTimes, out), 'SILT_BLOCK_CORRUPT');
      const hugeStep = craft(BASE, { raw: { [COLUMN_TIMES]: Buffer.concat([Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), times.subarray(1)]) } });
      expectCode(() => decodeFrameV2Times(hugeStep, out), 'SILT_BLOCK_CORRUPT');
      const neverMax = craft(BASE, { raw: { [COLUMN_TIMES]: varints(new Array(n).fill(0)) } });
      expectCode(() => decodeFrameV2Times(neverMax, out), 'SILT_BLOCK_CORRUPT');
      const badLengths = craft(BASE, { raw: { [COLUMN_LENGTHS]: Buffer.concat([lengths.subarray(0, n - 1), varints([0])]) } });
      expectCode(() => decodeFrameV2Lines(badLengths), 'SILT_BLOCK_CORRUPT');
      expectCode(() => decodeFrameV2Times(badLengths, out), 'SILT_BLOCK_CORRUPT');
    });
  });

  it('answers every random single-byte change and cut with a BlockFormatError or the same entries', () => {
    const rand = rng(9);
    const want = decodeFrameV2(BASE);
    for (let round = 0; round < 3000; round++) {
      const f = Buffer.from(BASE);
      const changes = 1 + Math.floor(rand() * 3);
      for (let i = 0; i < changes; i++) f[Math.floor(rand() * f.length)] = Math.floor(rand() * 256);
      const mutated = rand() < 0.2 ? f.subarray(0, Math.floor(rand() * f.length)) : f;
      for (const [, decode] of decoders) {
        try {
          const result = decode(mutated);
          if (decode === decoders[0]![1]) expect(result).toEqual(want);
        } catch (err) {
          if (!(err instanceof BlockFormatError)) throw err;
        }
      }
    }
  });
});
