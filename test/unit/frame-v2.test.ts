/** The v2 frame codec: round trips equal to v1's decoding, the column readers, needle checks and the golden fixtures. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { type BlockEntry, PayloadTimes, decodeFrameBytes, encodeFrame } from '../../core/src/block-format';
import { setOwn } from '../../core/src/frame-payload';
import { COLUMN_ATTRS, COLUMN_LINES, FRAME_V2_FIXED_HEADER, FRAME_V2_VERSION, encodeFrameV2, readFrameV2Header } from '../../core/src/frame-v2';
import { NeedleSet, decodeFrameV2, decodeFrameV2Lines, decodeFrameV2Times, frameV2MayContain, mayContainAll } from '../../core/src/frame-v2-decode';
import { UNICODE_VERSION, isDigitsToken, requiredTokens } from '../../core/src/token-filter';
import { rng } from '../support/rng';

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const T0 = 1_764_129_600_000_000_000n;
const FIXTURES = resolve(__dirname, '../fixtures');

function protoAttrs(value: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  setOwn(attrs, '__proto__', value);
  attrs.after = 'x';
  return attrs;
}

/** What v1 makes of the same entries: the shape v2 must decode to. */
function v1Decoding(entries: BlockEntry[]): BlockEntry[] {
  const frame = encodeFrame(entries, 3);
  return decodeFrameBytes(frame.bytes, frame.rawLength, frame.frameCrc)!;
}

function expectSameAsV1(entries: BlockEntry[], levels: Parameters<typeof encodeFrameV2>[1] = 3): void {
  const decoded = decodeFrameV2(encodeFrameV2(entries, levels).bytes)!;
  const want = v1Decoding(entries);
  expect(decoded).toEqual(want);
  // toEqual ignores key order and a missing versus undefined attrs: compare both as well.
  expect(decoded.map((e) => Object.keys(e))).toEqual(want.map((e) => Object.keys(e)));
  expect(decoded.map((e) => (e.attrs === undefined ? null : Object.entries(e.attrs)))).toEqual(want.map((e) => (e.attrs === undefined ? null : Object.entries(e.attrs))));
}

const shared = { level: 'info', host: 'a' };
const SAMPLE: BlockEntry[] = [
  { ts: T0, line: 'GET /health 200 1ms' },
  { ts: T0 + 1000n, line: 'GET /users/42 200 7ms', attrs: { trace_id: '4bf92f3577b34da6', user: '42' } },
  { ts: T0 - 5000n, line: 'late: arrived after its successor', attrs: shared },
  { ts: T0 + 1000n, line: '', attrs: shared },
  { ts: T0 + 2000n, line: 'héllo wörld — 日本語 🚀', attrs: { host: 'b', level: 'warn' } },
  { ts: T0 + 3000n, line: 'lone \ud800 surrogate', attrs: {} },
  { ts: T0 + 4000n, line: 'proto', attrs: protoAttrs('p') },
];

function randomEntries(rand: () => number, n: number): BlockEntry[] {
  const keys = ['a', 'b', 'c', 'trace_id', '__proto__', '1', 'ключ'];
  const words = ['GET', 'POST', '/api', 'ok', 'error', 'é', '日本', '42', 'user_7', '-', ' ', '=', '🚀'];
  let ts = T0;
  const out: BlockEntry[] = [];
  for (let i = 0; i < n; i++) {
    ts += BigInt(Math.floor(rand() * 5000) - 500) * 1000n;
    let line = '';
    for (let w = Math.floor(rand() * 12); w > 0; w--) line += words[Math.floor(rand() * words.length)];
    const entry: BlockEntry = { ts, line };
    if (rand() < 0.5) {
      const attrs: Record<string, string> = {};
      for (const k of keys) if (rand() < 0.3) setOwn(attrs, k, String(Math.floor(rand() * 100)));
      entry.attrs = attrs;
    }
    out.push(entry);
  }
  return out;
}

describe('core/frame-v2', () => {
  describe('encodeFrameV2 and decodeFrameV2', () => {
    it('decodes every entry exactly as v1 decodes it: order, attrs and their key order, __proto__, no attrs for none or empty', () => {
      expectSameAsV1(SAMPLE);
      const decoded = decodeFrameV2(encodeFrameV2(SAMPLE, 3).bytes)!;
      expect(Object.getPrototypeOf(decoded[6]!.attrs)).toBe(Object.prototype);
      expect(Object.hasOwn(decoded[6]!.attrs!, '__proto__')).toBe(true);
      expect(decoded[4]!.attrs).toEqual({ host: 'b', level: 'warn' });
      expect(Object.keys(decoded[4]!.attrs!)).toEqual(['host', 'level']);
      expect('attrs' in decoded[5]!).toBe(false);
    });

    it('round-trips random frames at several levels, per-column levels included', () => {
      const rand = rng(2);
      for (let round = 0; round < 30; round++) expectSameAsV1(randomEntries(rand, 1 + Math.floor(rand() * 300)), round % 2 === 0 ? 1 + (round % 9) : { lines: 9, meta: 1 });
    });

    it('keeps the extremes of the signed 64-bit range and deltas that wrap around 64 bits', () => {
      expectSameAsV1([
        { ts: 0n, line: 'the epoch' },
        { ts: I64_MIN, line: 'first representable nanosecond' },
        { ts: I64_MAX, line: 'a delta that wraps around 64 bits' },
        { ts: I64_MAX - 1n, line: 'back by one' },
      ]);
      expectSameAsV1([{ ts: I64_MAX, line: 'only' }]);
      expectSameAsV1([{ ts: 5n, line: 'x' }, { ts: 5n + 2n ** 60n, line: 'a delta beyond doubles' }, { ts: 7n, line: 'and back' }]);
    });

    it('writes the header a store needs: counts, time range, raw sizes, whole-frame CRC, the attribute key count', () => {
      const frame = encodeFrameV2(SAMPLE, 3);
      const header = readFrameV2Header(frame.bytes);
      expect(frame.entryCount).toBe(SAMPLE.length);
      expect([frame.minTs, frame.maxTs]).toEqual([T0 - 5000n, T0 + 4000n]);
      expect([header.version, header.entryCount, header.minTs, header.maxTs]).toEqual([FRAME_V2_VERSION, SAMPLE.length, T0 - 5000n, T0 + 4000n]);
      expect(frame.linesLength).toBe(SAMPLE.reduce((n, e) => n + Buffer.byteLength(e.line), 0));
      expect(header.linesLength).toBe(frame.linesLength);
      expect(frame.rawLength).toBe(header.columns.reduce((n, c) => n + c.rawLength, 0));
      expect(header.attrKeyCount).toBe(6);
      expect(header.unicode).toEqual([...UNICODE_VERSION]);
      expect(header.headerLength).toBe(FRAME_V2_FIXED_HEADER + header.filter.bitCount / 8);
      expect(frame.frameCrc).toBe(crc32(frame.bytes));
      const plain = readFrameV2Header(encodeFrameV2([{ ts: T0, line: 'a' }, { ts: T0, line: 'b', attrs: {} }], 3).bytes);
      expect(plain.attrKeyCount).toBe(0);
      expect(plain.columns[COLUMN_ATTRS]).toEqual({ offset: plain.columns[COLUMN_LINES]!.offset + plain.columns[COLUMN_LINES]!.length, length: 0, rawLength: 0, crc: 0 });
    });

    it('stores deltas in the largest unit they share', () => {
      const unit = (ts: bigint[]): bigint => readFrameV2Header(encodeFrameV2(ts.map((t) => ({ ts: t, line: '' })), 3).bytes).tsUnit;
      expect(unit([T0, T0 + 3000n, T0 + 1000n])).toBe(1000n);
      expect(unit([T0, T0 + 2_000_000n, T0 + 5_000_000n])).toBe(1_000_000n);
      expect(unit([T0, T0 + 1000n, T0 + 1001n])).toBe(1n);
      expect(unit([T0, T0])).toBe(1n);
      expect(unit([0n, 2n ** 60n])).toBe(1n);
    });

    it('stores a column zstd cannot shrink as it is, and an empty one as nothing', () => {
      const header = readFrameV2Header(encodeFrameV2([{ ts: T0, line: '' }], 3).bytes);
      expect(header.columns.map((c) => [c.length, c.rawLength])).toEqual([[1, 1], [1, 1], [0, 0], [0, 0]]);
      expect(decodeFrameV2(encodeFrameV2([{ ts: T0, line: '' }], 3).bytes)).toEqual([{ ts: T0, line: '' }]);
    });

    it('throws RangeError for input the format cannot hold', () => {
      expect(() => encodeFrameV2([], 3)).toThrow(RangeError);
      expect(() => encodeFrameV2([{ ts: T0, line: 'x' }], 0.5)).toThrow(RangeError);
      expect(() => encodeFrameV2([{ ts: T0, line: 'x' }], { lines: 3, meta: 99 })).toThrow(RangeError);
      expect(() => encodeFrameV2([{ ts: I64_MAX + 1n, line: 'x' }], 3)).toThrow(RangeError);
      // A failed encode leaves nothing behind for the next one.
      expect(decodeFrameV2(encodeFrameV2([{ ts: T0, line: 'after' }], 3).bytes)).toEqual([{ ts: T0, line: 'after' }]);
    });
  });

  describe('decodeFrameV2Times', () => {
    it('reads timestamps relative to the first and line lengths, attributes or not', () => {
      const rand = rng(3);
      const out = new PayloadTimes();
      for (const entries of [SAMPLE, randomEntries(rand, 500), randomEntries(rand, 3)]) {
        expect(decodeFrameV2Times(encodeFrameV2(entries, 3).bytes, out)).toBe(true);
        expect(out.count).toBe(entries.length);
        expect(out.base).toBe(entries[0]!.ts);
        expect([...out.rel.subarray(0, out.count)]).toEqual(entries.map((e) => Number(e.ts - entries[0]!.ts)));
        expect([...out.bytes.subarray(0, out.count)]).toEqual(entries.map((e) => Buffer.byteLength(e.line)));
      }
    });

    it('declines a frame spanning 2^53 ns or more, and reads one just below', () => {
      const out = new PayloadTimes();
      expect(decodeFrameV2Times(encodeFrameV2([{ ts: 0n, line: 'a' }, { ts: 2n ** 53n, line: 'b' }], 3).bytes, out)).toBe(false);
      expect(decodeFrameV2Times(encodeFrameV2([{ ts: 2n ** 53n - 1n, line: 'a' }, { ts: 0n, line: 'b' }, { ts: 1n, line: '' }], 3).bytes, out)).toBe(true);
      expect([out.base, ...out.rel.subarray(0, 3)]).toEqual([2n ** 53n - 1n, 0, -(2 ** 53 - 1), -(2 ** 53 - 2)]);
    });
  });

  describe('decodeFrameV2Lines', () => {
    it('gives the lines in entry order', () => {
      expect(decodeFrameV2Lines(encodeFrameV2(SAMPLE, 3).bytes)).toEqual(v1Decoding(SAMPLE).map((e) => e.line));
    });
  });

  describe('decodeFrameV2 with a time range', () => {
    const rand = rng(71);
    // Timestamps that go back and forth within the frame, as pushes leave them.
    const entries: BlockEntry[] = Array.from({ length: 300 }, (_, i) => ({ ts: T0 + BigInt(i * 1000 + Math.floor(rand() * 5000)), line: `line ${i} ünï`, ...(i % 7 === 0 ? { attrs: { k: `v${i}` } } : {}) }));
    const frame = encodeFrameV2(entries, 3).bytes;
    const whole = decodeFrameV2(frame)!;

    it('keeps every entry in place, the lines outside the range empty and every other field as decoded whole', () => {
      for (const [start, end] of [[T0 + 50_000n, T0 + 60_000n], [T0 - 10n, T0 + 3000n], [T0 + 290_000n, T0 + 400_000n], [T0 + 1n, T0 + 1n]] as const) {
        const got = decodeFrameV2(frame, undefined, { start, end })!;
        expect(got.map((e) => ({ ...e, line: '' }))).toEqual(whole.map((e) => ({ ...e, line: '' })));
        got.forEach((e, i) => expect(e.line).toBe(e.ts >= start && e.ts < end ? whole[i]!.line : ''));
      }
    });

    it('decodes every line when the range holds the whole frame, and still rules out needles', () => {
      expect(decodeFrameV2(frame, undefined, { start: T0, end: T0 + 10_000_000n })).toEqual(whole);
      expect(decodeFrameV2(frame, [Buffer.from('absent')], { start: T0 + 50_000n, end: T0 + 60_000n })).toBeNull();
    });
  });

  describe('needle checks', () => {
    const frame = encodeFrameV2(SAMPLE, 3).bytes;
    const needles = (...s: string[]): Uint8Array[] => s.map((x) => Buffer.from(x));

    it('rules a frame out by its token filter or by the lines column, like decodeFrameBytes with mustContain', () => {
      expect(decodeFrameV2(frame, needles('/users/', '7ms'))).toEqual(decodeFrameV2(frame));
      expect(decodeFrameV2(frame, needles(' 日本語 '))).not.toBeNull();
      expect(decodeFrameV2(frame, needles(' absent '))).toBeNull();
      expect(decodeFrameV2(frame, needles('absent'))).toBeNull();
      expect(decodeFrameV2(frame, needles('GET', 'nowhere'))).toBeNull();
      // A needle found only in attributes is no line's.
      expect(decodeFrameV2(frame, needles('4bf92f3577b34da6'))).toBeNull();
      expect(decodeFrameV2Lines(frame, new NeedleSet(needles(' health/ ')))).toBeNull();
      expect(decodeFrameV2Lines(frame, new NeedleSet(needles('/health ')))).toEqual(v1Decoding(SAMPLE).map((e) => e.line));
      expect(frameV2MayContain(frame, needles(' 200 '))).toBe(true);
      expect(frameV2MayContain(frame, needles(' 201 '))).toBe(false);
      expect(frameV2MayContain(frame, needles(''))).toBe(true);
      expect(mayContainAll(readFrameV2Header(frame), requiredTokens(' 200 '))).toBe(true);
      expect(mayContainAll(readFrameV2Header(frame), requiredTokens('x unknownword y'))).toBe(false);
      expect(mayContainAll(readFrameV2Header(frame), [])).toBe(true);
    });

    it('never rules out a frame that has a line containing the needle, for random lines and needles', () => {
      const rand = rng(4);
      const alphabet = ['a', 'b', 'Z', '0', '7', '_', ' ', '.', '-', 'é', '日', '—', '\u0301', '𝐀', '🚀', '\ud835', '\udc00'];
      let ruledOut = 0;
      for (let round = 0; round < 300; round++) {
        const lines = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Array.from({ length: Math.floor(rand() * 30) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''));
        const bytes = encodeFrameV2(lines.map((line, i) => ({ ts: T0 + BigInt(i), line })), 1).bytes;
        const header = readFrameV2Header(bytes);
        for (let k = 0; k < 30; k++) {
          const line = lines[Math.floor(rand() * lines.length)]!;
          const start = Math.floor(rand() * (line.length + 1));
          const needle = rand() < 0.7 ? line.slice(start, start + 1 + Math.floor(rand() * 10)) : Array.from({ length: 1 + Math.floor(rand() * 6) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
          const bytesNeedle = Buffer.from(needle);
          // The lines column is matched as UTF-8 bytes; the filter must also hold for a UTF-16 substring.
          const inBytes = lines.some((l) => Buffer.from(l).includes(bytesNeedle));
          const inUnits = lines.some((l) => l.includes(needle));
          const may = frameV2MayContain(bytes, [bytesNeedle]);
          const filter = mayContainAll(header, requiredTokens(needle));
          expect({ needle, lines, may: inBytes ? may : true, filter: inBytes || inUnits ? filter : true }).toEqual({ needle, lines, may: true, filter: true });
          if (!inBytes && !may) ruledOut++;
        }
      }
      expect(ruledOut).toBeGreaterThan(100);
    });
  });

  describe('golden fixtures v2', () => {
    const expected = JSON.parse(readFileSync(resolve(FIXTURES, 'frame-v2.json'), 'utf8')) as {
      level: number;
      unicode: [number, number];
      frames: {
        file: string;
        length: number;
        frameCrc: number;
        header: { entryCount: number; minTs: string; maxTs: string; tsUnit: string; linesLength: number; attrKeyCount: number; headerLength: number; filterBits: number; filterHashes: number };
        entries: { ts: string; line: string; attrs?: Record<string, string> }[];
      }[];
    };

    it.each(expected.frames.map((f) => [f.file, f] as const))('decodes %s to frame-v2.json, field by field, and re-encodes to the same columns', (file, want) => {
      const bin = readFileSync(resolve(FIXTURES, file));
      expect(bin.length).toBe(want.length);
      const h = readFrameV2Header(bin);
      expect({
        entryCount: h.entryCount,
        minTs: String(h.minTs),
        maxTs: String(h.maxTs),
        tsUnit: String(h.tsUnit),
        linesLength: h.linesLength,
        attrKeyCount: h.attrKeyCount,
        headerLength: h.headerLength,
        filterBits: h.filter.bitCount,
        filterHashes: h.filter.hashes,
      }).toEqual(want.header);
      expect(h.unicode).toEqual(expected.unicode);
      const entries = want.entries.map((e) => {
        const entry: BlockEntry = { ts: BigInt(e.ts), line: e.line };
        if (e.attrs !== undefined) entry.attrs = e.attrs;
        return entry;
      });
      const decoded = decodeFrameV2(bin)!;
      expect(decoded).toEqual(entries);
      expect(decoded.map((e) => (e.attrs === undefined ? null : Object.entries(e.attrs)))).toEqual(entries.map((e) => (e.attrs === undefined ? null : Object.entries(e.attrs))));
      for (const e of entries) for (const t of requiredTokens(` ${e.line} `)) expect(mayContainAll(h, [t])).toBe(true);
      // Written before filters left out tokens of digits only: its filter holds them, and says so.
      expect(h.digitTokens).toBe(true);
      for (const e of entries) for (const t of requiredTokens(` ${e.line} `).filter(isDigitsToken)) expect(mayContainAll(h, [t])).toBe(true);
      // Pins zstd 1.5.7 at the recorded level: the columns re-encode to the same bytes; the header
      // differs in its flags and filter only (the tokenizer's Unicode version is recorded in it).
      const again = encodeFrameV2(entries, expected.level);
      const h2 = readFrameV2Header(again.bytes);
      expect(again.bytes.subarray(h2.headerLength).equals(bin.subarray(h.headerLength))).toBe(true);
      expect(h2.digitTokens).toBe(false);
      expect({ ...h2, filter: null, digitTokens: null, headerLength: null, columns: h2.columns.map((c) => ({ ...c, offset: c.offset - h2.headerLength })) }).toEqual({
        ...h,
        filter: null,
        digitTokens: null,
        headerLength: null,
        columns: h.columns.map((c) => ({ ...c, offset: c.offset - h.headerLength })),
        ...(UNICODE_VERSION[0] === expected.unicode[0] && UNICODE_VERSION[1] === expected.unicode[1] ? {} : { unicode: h2.unicode }),
      });
      expect(decodeFrameV2(again.bytes)).toEqual(decoded);
    });
  });
});
