/** The block codec: round trips, the golden v1 fixture, typed errors and a seeded mutation fuzz. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { compress, decompress } from 'zstd-napi';
import {
  BLOCK_FORMAT_VERSION,
  type BlockEntry,
  type BlockInput,
  type BlockStreamInput,
  MAX_BLOCK_ENTRIES,
  MAX_RAW_LENGTH,
  decodeBlock,
  decodeFrame,
  decodeFrameBytes,
  encodeFrame,
  encodeBlock,
  readBlockHeader,
} from '../../core/src/block-format';
import { BlockFormatError } from '../../core/src/errors';
import { type Labels, streamId } from '../../core/src/labels';

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const T0 = 1_764_129_600_000_000_000n;
const FIXTURES = resolve(__dirname, '../fixtures');

type ErrorCode = BlockFormatError['code'];

/** The error `fn` throws; fails the test when it returns or throws anything but a BlockFormatError. */
function blockError(fn: () => unknown): BlockFormatError {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    if (err instanceof BlockFormatError) return err;
    throw new Error(`expected a BlockFormatError, got ${String(err)}`);
  }
  throw new Error(`expected a BlockFormatError, decoded ${typeof result}`);
}

function expectCode(fn: () => unknown, code: ErrorCode): void {
  expect(blockError(fn).code).toBe(code);
}

function stream(labels: Labels, entries: BlockEntry[]): BlockStreamInput {
  return { labels, entries };
}

function roundTrip(input: BlockInput, level?: number): ReturnType<typeof decodeBlock> {
  const decoded = decodeBlock(encodeBlock(input, level === undefined ? undefined : { level }));
  expect(decoded.header.tenant).toBe(input.tenant);
  expect(decoded.streams.map((s) => s.entries)).toEqual(input.streams.map((s) => s.entries.map((e) => stripEmptyAttrs(e))));
  return decoded;
}

function stripEmptyAttrs(e: BlockEntry): BlockEntry {
  return e.attrs === undefined || Object.keys(e.attrs).length === 0 ? { ts: e.ts, line: e.line } : e;
}

// ---- a minimal reader written from docs/FORMAT.md, independent of the codec, for crafting blocks

interface Row {
  offset: number;
  frameOffset: number;
  frameLength: number;
}

function rows(block: Buffer): Row[] {
  let pos = 44 + block.readUInt16LE(42);
  const out: Row[] = [];
  for (let i = 0; i < block.readUInt16LE(40); i++) {
    out.push({ offset: pos, frameOffset: block.readUInt32LE(pos + 28), frameLength: block.readUInt32LE(pos + 32) });
    const labelCount = block.readUInt16LE(pos + 44);
    pos += 46;
    for (let j = 0; j < labelCount * 2; j++) pos += 2 + block.readUInt16LE(pos);
  }
  return out;
}

/** Rewrites the whole-block CRC-32 so a crafted block passes the checksum and meets the structural checks. */
function reseal(block: Buffer): Buffer {
  block.writeUInt32LE(crc32(block.subarray(12)), 8);
  return block;
}

/** Replaces stream `index`'s frame with `frame` (raw length `rawLength`), fixing the table, lengths and CRCs. */
function withFrame(block: Buffer, index: number, frame: Buffer, rawLength: number): Buffer {
  const table = rows(block);
  const row = table[index]!;
  const out = Buffer.concat([block.subarray(0, row.frameOffset), frame, block.subarray(row.frameOffset + row.frameLength)]);
  const shift = frame.length - row.frameLength;
  out.writeUInt32LE(frame.length, row.offset + 32);
  out.writeUInt32LE(rawLength, row.offset + 36);
  out.writeUInt32LE(crc32(frame), row.offset + 40);
  for (const later of table.slice(index + 1)) out.writeUInt32LE(later.frameOffset + shift, later.offset + 28);
  out.writeUInt32LE(out.length, 12);
  return reseal(out);
}

function withPayload(block: Buffer, index: number, payload: Buffer): Buffer {
  return withFrame(block, index, compress(payload), payload.length);
}

function rawPayload(block: Buffer, index: number): Buffer {
  const row = rows(block)[index]!;
  return decompress(block.subarray(row.frameOffset, row.frameOffset + row.frameLength));
}

function varint(v: bigint): number[] {
  const out: number[] = [];
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function zigzag(v: bigint): bigint {
  return v < 0n ? (-v << 1n) - 1n : v << 1n;
}

/** A frame payload built by hand: [ts, line, attrs] per entry, ts absolute (deltas computed here). */
function payloadOf(entries: [bigint, string, [string, string][]][]): Buffer {
  const bytes: number[] = [];
  let prev = 0n;
  for (const [ts, line, attrs] of entries) {
    bytes.push(...varint(zigzag(BigInt.asIntN(64, ts - prev))));
    prev = ts;
    const strings = [line, ...attrs.flat()];
    bytes.push(...varint(BigInt(Buffer.byteLength(line))), ...Buffer.from(line));
    bytes.push(...varint(BigInt(attrs.length)));
    for (const s of strings.slice(1)) bytes.push(...varint(BigInt(Buffer.byteLength(s))), ...Buffer.from(s));
  }
  return Buffer.from(bytes);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sampleBlock(streamCount = 3, perStream = 20): Buffer {
  const streams: BlockStreamInput[] = [];
  for (let s = 0; s < streamCount; s++) {
    const entries: BlockEntry[] = [];
    for (let i = 0; i < perStream; i++) {
      entries.push({
        ts: T0 + BigInt(i * 1_000_003 - (i % 5 === 0 ? 5_000_000 : 0)),
        line: `svc-${s} request ${i} took ${(i * 37) % 101}ms ✓`,
        ...(i % 3 === 0 ? { attrs: { trace_id: `t${s}-${i}`, 'ключ': 'значение' } } : {}),
      });
    }
    streams.push(stream({ app: `svc-${s}`, zone: s % 2 === 0 ? 'a' : 'b' }, entries));
  }
  return encodeBlock({ tenant: 'acme', streams });
}

describe('core > block format', () => {
  describe('round trip', () => {
    it('keeps unicode lines byte for byte', () => {
      const lines = ['héllo wörld', '日本語のログ', '🚀🔥 emoji 👩‍👩‍👧', 'combining é vs é', 'nul \u0000 inside', 'multi\nline\r\nentry', '\u{10FFFF}'];
      roundTrip({ tenant: 'acme', streams: [stream({ app: 'api' }, lines.map((line, i) => ({ ts: T0 + BigInt(i), line })))] });
    });

    it('keeps attrs that entries share as one object, interleaved with others, exactly as if each had its own', () => {
      const shared = { severity_text: 'INFO', 'sévérité': '9' };
      const other = { trace_id: 'ab12' };
      const empty = {};
      const attrs = [shared, shared, other, shared, empty, empty, undefined, shared, { ...shared }, shared];
      const entries = attrs.map((a, i) => (a === undefined ? { ts: T0 + BigInt(i), line: `l${i}` } : { ts: T0 + BigInt(i), line: `l${i}`, attrs: a }));
      const copies = entries.map((e) => ('attrs' in e && e.attrs ? { ...e, attrs: { ...e.attrs } } : e));
      const sharedBlock = encodeBlock({ tenant: 'acme', streams: [stream({ app: 'api' }, entries)] });
      expect(sharedBlock.equals(encodeBlock({ tenant: 'acme', streams: [stream({ app: 'api' }, copies)] }))).toBe(true);
      roundTrip({ tenant: 'acme', streams: [stream({ app: 'api' }, entries)] });
    });

    it('keeps an empty line', () => {
      roundTrip({ tenant: 'acme', streams: [stream({ app: 'api' }, [{ ts: T0, line: '' }, { ts: T0, line: 'x' }, { ts: T0 + 1n, line: '' }])] });
    });

    it('keeps a 256 KiB line, ASCII and multi-byte', () => {
      const ascii = 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(8192).slice(0, 256 * 1024);
      const wide = 'ж'.repeat(128 * 1024);
      expect(Buffer.byteLength(ascii)).toBe(256 * 1024);
      expect(Buffer.byteLength(wide)).toBe(256 * 1024);
      roundTrip({ tenant: 'acme', streams: [stream({ app: 'api' }, [{ ts: T0, line: ascii }, { ts: T0 + 1n, line: wide }])] });
    });

    it('keeps attributes, and decodes empty attributes as absent', () => {
      const attrs = { trace_id: 'ab12', 'clé': 'välue', empty: '', __proto__key: 'x', '': 'empty key' };
      const decoded = roundTrip({
        tenant: 'acme',
        streams: [stream({ app: 'api' }, [{ ts: T0, line: 'a', attrs }, { ts: T0 + 1n, line: 'b', attrs: {} }, { ts: T0 + 2n, line: 'c' }])],
      });
      const entries = decoded.streams[0]!.entries;
      expect(Object.keys(entries[0]!.attrs!)).toEqual(Object.keys(attrs));
      expect('attrs' in entries[1]!).toBe(false);
      expect('attrs' in entries[2]!).toBe(false);
    });

    it('keeps a "__proto__" attribute and label as own properties', () => {
      const attrs = JSON.parse('{"__proto__":"p","k":"v"}') as Record<string, string>;
      const labels = JSON.parse('{"__proto__":"x","app":"api"}') as Labels;
      const decoded = decodeBlock(encodeBlock({ tenant: 'acme', streams: [stream(labels, [{ ts: T0, line: 'l', attrs }])] }));
      const got = decoded.streams[0]!;
      expect(Object.getPrototypeOf(got.entries[0]!.attrs)).toBe(Object.prototype);
      expect(Object.entries(got.entries[0]!.attrs!)).toEqual([['__proto__', 'p'], ['k', 'v']]);
      expect(Object.entries(got.info.labels)).toEqual([['__proto__', 'x'], ['app', 'api']]);
      expect(got.info.streamId).toBe(streamId('acme', labels));
    });

    it('keeps many streams, each with its labels sorted and its stream id', () => {
      const streams = Array.from({ length: 1000 }, (_, s) =>
        stream({ pod: `pod-${s}`, app: `app-${s % 7}`, namespace: 'default' }, Array.from({ length: 1 + (s % 3) }, (_, i) => ({ ts: T0 + BigInt(s * 10 + i), line: `s${s} e${i}` }))),
      );
      const decoded = roundTrip({ tenant: 'team.a-1', streams });
      expect(decoded.header.streams.map((info) => [Object.entries(info.labels), info.streamId])).toEqual(
        streams.map((s) => [[['app', s.labels.app], ['namespace', 'default'], ['pod', s.labels.pod]], streamId('team.a-1', s.labels)]),
      );
    });

    it('keeps a block of one entry', () => {
      const decoded = roundTrip({ tenant: 'acme', streams: [stream({}, [{ ts: T0, line: 'only' }])] });
      expect(decoded.header).toMatchObject({ version: BLOCK_FORMAT_VERSION, codec: 1, entryCount: 1, minTs: T0, maxTs: T0 });
      expect(decoded.header.streams[0]!.labels).toEqual({});
    });

    it('keeps timestamps to the nanosecond across the whole signed 64-bit range', () => {
      const big = 2n ** 52n;
      const tss = [
        0n, 1n, 2n, 1n, -1n, 0n,
        I64_MAX, I64_MAX - 1n, I64_MAX, I64_MIN, I64_MIN + 1n, I64_MAX, 0n, I64_MIN,
        T0, T0 + 1n, T0 + 2n, T0 + 1n, T0 + 1_000_000_000n,
        T0 + big - 1n, T0 + big, T0 + big + 1n, T0, T0 - big, T0 - big + 1n, T0 - big - 1n, T0 + (1n << 49n), T0 + (1n << 56n), T0,
      ];
      const decoded = roundTrip({ tenant: 'acme', streams: [stream({ app: 'ts' }, tss.map((ts, i) => ({ ts, line: String(i) })))] });
      expect(decoded.streams[0]!.entries.map((e) => e.ts)).toEqual(tss);
      expect(decoded.header.minTs).toBe(I64_MIN);
      expect(decoded.header.maxTs).toBe(I64_MAX);
    });

    it('keeps push order when timestamps go backwards within a stream', () => {
      const tss = [T0 + 5n, T0 + 3n, T0 + 9n, T0 + 1n, T0 + 3n, T0 - 7n];
      const decoded = roundTrip({ tenant: 'acme', streams: [stream({ app: 'ooo' }, tss.map((ts, i) => ({ ts, line: `e${i}` })))] });
      const info = decoded.header.streams[0]!;
      expect(info.minTs).toBe(T0 - 7n);
      expect(info.maxTs).toBe(T0 + 9n);
    });

    it('describes the block in its header: counts, time ranges and contiguous frames', () => {
      const block = sampleBlock(4, 10);
      const header = readBlockHeader(block);
      expect(header.entryCount).toBe(40);
      let next = header.headerLength;
      for (const info of header.streams) {
        expect(info.frameOffset).toBe(next);
        next += info.frameLength;
        expect(info.frameCrc).toBe(crc32(block.subarray(info.frameOffset, info.frameOffset + info.frameLength)));
      }
      expect(next).toBe(block.length);
      expect(header.minTs).toBe(header.streams.reduce((m, s) => (s.minTs < m ? s.minTs : m), I64_MAX));
    });

    it('encodes deterministically, at any level, and defaults to level 3', () => {
      const input: BlockInput = { tenant: 'acme', streams: [stream({ app: 'api' }, [{ ts: T0, line: 'x'.repeat(500) }, { ts: T0 + 1n, line: 'y' }])] };
      expect(encodeBlock(input).equals(encodeBlock(input, { level: 3 }))).toBe(true);
      expect(encodeBlock(input, { level: 9 }).equals(encodeBlock(input, { level: 9 }))).toBe(true);
      for (const level of [-5, 1, 19]) roundTrip(input, level);
    });

    it('decodes one stream without touching the others, from the block or from a frame stored alone', () => {
      const block = sampleBlock(3, 5);
      const header = readBlockHeader(block);
      const all = decodeBlock(block);
      const info = header.streams[1]!;
      const damaged = Buffer.from(block);
      damaged[header.streams[0]!.frameOffset + 2]! ^= 0xff;
      expect(decodeFrame(damaged, info)).toEqual(all.streams[1]!.entries);
      const stored = new Uint8Array(block.subarray(info.frameOffset, info.frameOffset + info.frameLength));
      expect(decodeFrameBytes(stored, info.rawLength, info.frameCrc)).toEqual(all.streams[1]!.entries);
    });

    it('encodes entries as one stand-alone frame that decodes back exactly, at any level', () => {
      const entries = decodeBlock(sampleBlock(1, 50)).streams[0]!.entries;
      for (const level of [1, 6]) {
        const f = encodeFrame(entries, level);
        expect({ entryCount: f.entryCount, minTs: f.minTs, maxTs: f.maxTs }).toEqual({ entryCount: 50, minTs: entries.reduce((m, e) => (e.ts < m ? e.ts : m), entries[0]!.ts), maxTs: entries.reduce((m, e) => (e.ts > m ? e.ts : m), entries[0]!.ts) });
        expect(decodeFrameBytes(f.bytes, f.rawLength, f.frameCrc)).toEqual(entries);
      }
      expect(() => encodeFrame([], 3)).toThrow(RangeError);
      expect(() => encodeFrame(entries, 99)).toThrow(RangeError);
    });

    it('skips a stored frame lacking a required byte string, and decodes it when every one is there', () => {
      const block = sampleBlock(2, 20);
      const info = readBlockHeader(block).streams[0]!;
      const stored = block.subarray(info.frameOffset, info.frameOffset + info.frameLength);
      const entries = decodeBlock(block).streams[0]!.entries;
      const present = entries[entries.length - 1]!.line.slice(0, 4);
      expect(decodeFrameBytes(stored, info.rawLength, info.frameCrc, [Buffer.from(present)])).toEqual(entries);
      expect(decodeFrameBytes(stored, info.rawLength, info.frameCrc, [Buffer.from(present), Buffer.from('not in any line')])).toBeNull();
      expect(decodeFrameBytes(stored, info.rawLength, info.frameCrc, [])).toEqual(entries);
      // The checksum is still verified first.
      expectCode(() => decodeFrameBytes(stored, info.rawLength, info.frameCrc ^ 1, [Buffer.from('not in any line')]), 'SILT_BLOCK_CHECKSUM');
    });

    it('reads any Uint8Array view, not only a Buffer at offset 0', () => {
      const block = sampleBlock(2, 3);
      const backing = new Uint8Array(block.length + 10);
      backing.set(block, 7);
      const view = backing.subarray(7, 7 + block.length);
      expect(decodeBlock(view)).toEqual(decodeBlock(block));
    });

    it('refuses input it cannot represent with a RangeError', () => {
      const one = [{ ts: T0, line: 'x' }];
      expect(() => encodeBlock({ tenant: 'acme', streams: [] })).toThrow(RangeError);
      expect(() => encodeBlock({ tenant: 'acme', streams: [stream({ app: 'a' }, [])] })).toThrow(RangeError);
      expect(() => encodeBlock({ tenant: 'acme', streams: [stream({ app: 'a' }, [{ ts: I64_MAX + 1n, line: 'x' }])] })).toThrow(RangeError);
      expect(() => encodeBlock({ tenant: 'acme', streams: [stream({ app: 'a' }, [{ ts: I64_MIN - 1n, line: 'x' }])] })).toThrow(RangeError);
      expect(() => encodeBlock({ tenant: 'acme', streams: [stream({ app: 'a' }, one)] }, { level: 1.5 })).toThrow(RangeError);
      expect(() => encodeBlock({ tenant: 'acme', streams: [stream({ app: 'a' }, one)] }, { level: 99 })).toThrow(RangeError);
      expect(() => encodeBlock({ tenant: 'acme', streams: [stream({ app: 'v'.repeat(70000) }, one)] })).toThrow(RangeError);
      const many = Array.from({ length: MAX_BLOCK_ENTRIES + 1 }, () => ({ ts: T0, line: '' }));
      expect(() => encodeBlock({ tenant: 'acme', streams: [stream({ app: 'a' }, many)] })).toThrow(RangeError);
      // the encoder recovers from a refused block
      roundTrip({ tenant: 'acme', streams: [stream({ app: 'a' }, one)] });
    });
  });

  describe('golden fixture v1', () => {
    const bin = readFileSync(resolve(FIXTURES, 'block-v1.bin'));
    const expected = JSON.parse(readFileSync(resolve(FIXTURES, 'block-v1.json'), 'utf8')) as {
      level: number;
      length: number;
      crc32: number;
      header: { version: number; codec: number; tenant: string; entryCount: number; minTs: string; maxTs: string; headerLength: number };
      streams: {
        info: { streamId: string; labels: Labels; entryCount: number; minTs: string; maxTs: string; frameOffset: number; frameLength: number; rawLength: number; frameCrc: number };
        entries: { ts: string; line: string; attrs?: Record<string, string> }[];
      }[];
    };

    it('decodes block-v1.bin to block-v1.json, field by field', () => {
      expect(bin.length).toBe(expected.length);
      const { header, streams } = decodeBlock(bin);
      expect(header.version).toBe(expected.header.version);
      expect(header.codec).toBe(expected.header.codec);
      expect(header.tenant).toBe(expected.header.tenant);
      expect(header.entryCount).toBe(expected.header.entryCount);
      expect(header.minTs).toBe(BigInt(expected.header.minTs));
      expect(header.maxTs).toBe(BigInt(expected.header.maxTs));
      expect(header.headerLength).toBe(expected.header.headerLength);
      expect(streams).toHaveLength(expected.streams.length);
      streams.forEach(({ info, entries }, i) => {
        const want = expected.streams[i]!;
        expect(info.streamId).toBe(BigInt(want.info.streamId));
        expect(Object.entries(info.labels)).toEqual(Object.entries(want.info.labels));
        expect(info.entryCount).toBe(want.info.entryCount);
        expect(info.minTs).toBe(BigInt(want.info.minTs));
        expect(info.maxTs).toBe(BigInt(want.info.maxTs));
        expect(info.frameOffset).toBe(want.info.frameOffset);
        expect(info.frameLength).toBe(want.info.frameLength);
        expect(info.rawLength).toBe(want.info.rawLength);
        expect(info.frameCrc).toBe(want.info.frameCrc);
        expect(entries).toHaveLength(want.entries.length);
        entries.forEach((entry, j) => {
          const w = want.entries[j]!;
          expect(entry.ts).toBe(BigInt(w.ts));
          expect(entry.line).toBe(w.line);
          expect(entry.attrs === undefined ? undefined : Object.entries(entry.attrs)).toEqual(w.attrs === undefined ? undefined : Object.entries(w.attrs));
        });
        expect(decodeFrame(bin, info)).toEqual(entries);
      });
    });

    it('re-encodes the same input to the same bytes', () => {
      const input: BlockInput = {
        tenant: expected.header.tenant,
        streams: expected.streams.map((s) => ({
          labels: s.info.labels,
          entries: s.entries.map((e) => ({ ts: BigInt(e.ts), line: e.line, ...(e.attrs === undefined ? {} : { attrs: e.attrs }) })),
        })),
      };
      expect(encodeBlock(input, { level: expected.level }).equals(bin)).toBe(true);
    });

    it('lays out the bytes as docs/FORMAT.md says', () => {
      expect(bin.subarray(0, 4).toString('latin1')).toBe('SILT');
      expect([bin[4], bin[5], bin.readUInt16LE(6)]).toEqual([1, 1, 0]);
      expect(bin.readUInt32LE(8)).toBe(expected.crc32);
      expect(bin.readUInt32LE(8)).toBe(crc32(bin.subarray(12)));
      expect(bin.readUInt32LE(12)).toBe(bin.length);
      expect(bin.readUInt32LE(16)).toBe(expected.header.headerLength);
      expect(bin.readUInt32LE(20)).toBe(expected.header.entryCount);
      expect(bin.readBigInt64LE(24)).toBe(BigInt(expected.header.minTs));
      expect(bin.readBigInt64LE(32)).toBe(BigInt(expected.header.maxTs));
      expect(bin.readUInt16LE(40)).toBe(expected.streams.length);
      expect(bin.toString('utf8', 44, 44 + bin.readUInt16LE(42))).toBe(expected.header.tenant);
      rows(bin).forEach((row, i) => {
        const want = expected.streams[i]!;
        expect(bin.readBigUInt64LE(row.offset)).toBe(BigInt(want.info.streamId));
        expect(bin.readUInt32LE(row.offset + 8)).toBe(want.info.entryCount);
        expect(bin.readBigInt64LE(row.offset + 12)).toBe(BigInt(want.info.minTs));
        expect(bin.readBigInt64LE(row.offset + 20)).toBe(BigInt(want.info.maxTs));
        expect([row.frameOffset, row.frameLength]).toEqual([want.info.frameOffset, want.info.frameLength]);
        expect(bin.readUInt32LE(row.offset + 36)).toBe(want.info.rawLength);
        expect(bin.readUInt32LE(row.offset + 40)).toBe(want.info.frameCrc);
        expect(bin.readUInt16LE(row.offset + 44)).toBe(Object.keys(want.info.labels).length);
        const payload = payloadOf(want.entries.map((e) => [BigInt(e.ts), e.line, Object.entries(e.attrs ?? {})]));
        expect(rawPayload(bin, i).equals(payload)).toBe(true);
      });
    });
  });

  describe('typed errors', () => {
    const fixture = readFileSync(resolve(FIXTURES, 'block-v1.bin'));
    const large = sampleBlock(5, 200);

    it('rejects a truncated block at every length', () => {
      const wrong: string[] = [];
      for (const block of [fixture, large]) {
        for (let len = 0; len < block.length; len++) {
          const cut = block.subarray(0, len);
          for (const decode of [readBlockHeader, decodeBlock]) {
            const code = blockError(() => decode(cut)).code;
            if (code !== 'SILT_BLOCK_TRUNCATED') wrong.push(`${decode.name} at ${len} of ${block.length}: ${code}`);
          }
        }
      }
      expect(wrong).toEqual([]);
    });

    it('rejects a wrong magic', () => {
      for (const bytes of [Buffer.from('SILK'), Buffer.from('{"streams":[]}'), Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0]), Buffer.from('X')]) {
        expectCode(() => decodeBlock(bytes), 'SILT_BLOCK_MAGIC');
      }
      const block = Buffer.from(fixture);
      block[0] = 0x73;
      expectCode(() => readBlockHeader(block), 'SILT_BLOCK_MAGIC');
    });

    it('rejects an unknown version, however short the rest', () => {
      for (const version of [0, 2, 3, 255]) {
        const block = Buffer.from(fixture);
        block[4] = version;
        const err = blockError(() => decodeBlock(block));
        expect(err.code).toBe('SILT_BLOCK_VERSION');
        expect(err.details).toEqual({ version });
        expectCode(() => readBlockHeader(Buffer.from([...Buffer.from('SILT'), version])), 'SILT_BLOCK_VERSION');
      }
    });

    it('names the right error for a flipped bit at every offset', () => {
      const { headerLength } = readBlockHeader(fixture);
      for (let offset = 0; offset < fixture.length; offset++) {
        for (const bit of [0x01, 0x80]) {
          const block = Buffer.from(fixture);
          block[offset]! ^= bit;
          const code = blockError(() => decodeBlock(block)).code;
          if (offset < 4) expect(code).toBe('SILT_BLOCK_MAGIC');
          else if (offset === 4) expect(code).toBe('SILT_BLOCK_VERSION');
          else if (offset < 8) expect(code).toBe('SILT_BLOCK_CORRUPT');
          else if (offset < 12) expect(code).toBe('SILT_BLOCK_CHECKSUM');
          else if (offset < 16) expect(['SILT_BLOCK_TRUNCATED', 'SILT_BLOCK_CORRUPT']).toContain(code);
          else expect(code).toBe('SILT_BLOCK_CHECKSUM');
          if (offset >= headerLength) {
            const info = readBlockHeader(fixture).streams.find((s) => offset < s.frameOffset + s.frameLength)!;
            expectCode(() => decodeFrame(block, info), 'SILT_BLOCK_CHECKSUM');
          }
        }
      }
    });

    it('rejects a frame stored alone whose bytes, CRC or raw length are wrong', () => {
      const info = readBlockHeader(fixture).streams[0]!;
      const frame = Buffer.from(fixture.subarray(info.frameOffset, info.frameOffset + info.frameLength));
      expectCode(() => decodeFrameBytes(frame, info.rawLength, info.frameCrc ^ 1), 'SILT_BLOCK_CHECKSUM');
      expectCode(() => decodeFrameBytes(frame.subarray(1), info.rawLength, crc32(frame.subarray(1))), 'SILT_BLOCK_CORRUPT');
      expectCode(() => decodeFrameBytes(frame.subarray(0, -1), info.rawLength, crc32(frame.subarray(0, -1))), 'SILT_BLOCK_CORRUPT');
      for (const rawLength of [0, info.rawLength - 1, info.rawLength + 1, MAX_RAW_LENGTH + 1, -1, 1.5, NaN]) {
        expectCode(() => decodeFrameBytes(frame, rawLength, info.frameCrc), 'SILT_BLOCK_CORRUPT');
      }
      expectCode(() => decodeFrameBytes(Buffer.alloc(0), 0, 0), 'SILT_BLOCK_CORRUPT');
      const twice = Buffer.concat([frame, frame]);
      expectCode(() => decodeFrameBytes(twice, info.rawLength * 2, crc32(twice)), 'SILT_BLOCK_CORRUPT');
    });

    it('rejects a header whose lengths point past the end', () => {
      const pointing = (mutate: (b: Buffer, table: Row[]) => void): Buffer => {
        const block = Buffer.from(fixture);
        mutate(block, rows(block));
        return reseal(block);
      };
      expectCode(() => decodeBlock(pointing((b) => b.writeUInt32LE(b.length + 1, 12))), 'SILT_BLOCK_TRUNCATED');
      expectCode(() => decodeBlock(pointing((b) => b.writeUInt32LE(b.length - 1, 12))), 'SILT_BLOCK_CORRUPT');
      expectCode(() => decodeBlock(pointing((b) => b.writeUInt32LE(b.length + 1, 16))), 'SILT_BLOCK_CORRUPT');
      expectCode(() => decodeBlock(pointing((b) => b.writeUInt32LE(43, 16))), 'SILT_BLOCK_CORRUPT');
      expectCode(() => decodeBlock(pointing((b) => b.writeUInt16LE(0xffff, 42))), 'SILT_BLOCK_CORRUPT');
      expectCode(() => decodeBlock(pointing((b) => b.writeUInt16LE(4, 40))), 'SILT_BLOCK_CORRUPT');
      expectCode(() => decodeBlock(pointing((b, t) => b.writeUInt32LE(0xffffffff, t[2]!.offset + 32))), 'SILT_BLOCK_CORRUPT');
      expectCode(() => decodeBlock(pointing((b, t) => b.writeUInt32LE(b.length, t[2]!.offset + 28))), 'SILT_BLOCK_CORRUPT');
      expectCode(() => decodeBlock(pointing((b, t) => b.writeUInt16LE(0xffff, t[2]!.offset + 46))), 'SILT_BLOCK_CORRUPT');
      expectCode(() => decodeBlock(pointing((b, t) => b.writeUInt16LE(0xffff, t[2]!.offset + 44))), 'SILT_BLOCK_CORRUPT');
      expectCode(() => decodeBlock(pointing((b, t) => b.writeUInt32LE(MAX_RAW_LENGTH + 1, t[0]!.offset + 36))), 'SILT_BLOCK_CORRUPT');
      const info = readBlockHeader(fixture).streams[2]!;
      expectCode(() => decodeFrame(fixture.subarray(0, -1), info), 'SILT_BLOCK_TRUNCATED');
      expectCode(() => decodeFrame(fixture, { ...info, frameLength: info.frameLength + 1e9 }), 'SILT_BLOCK_TRUNCATED');
      expectCode(() => decodeFrame(fixture, { ...info, frameOffset: -1 }), 'SILT_BLOCK_CORRUPT');
    });

    it('rejects a header that disagrees with itself even when its checksum is right', () => {
      const crafted = (mutate: (b: Buffer, table: Row[]) => void): Buffer => {
        const block = Buffer.from(fixture);
        mutate(block, rows(block));
        return reseal(block);
      };
      const cases: [string, (b: Buffer, t: Row[]) => void][] = [
        ['unknown codec', (b) => (b[5] = 2)],
        ['unknown flag', (b) => b.writeUInt16LE(1, 6)],
        ['entry count', (b) => b.writeUInt32LE(10, 20)],
        ['too many entries', (b) => b.writeUInt32LE(MAX_BLOCK_ENTRIES + 1, 20)],
        ['block min ts', (b) => b.writeBigInt64LE(I64_MIN + 1n, 24)],
        ['block max ts', (b) => b.writeBigInt64LE(0n, 32)],
        ['no streams', (b) => b.writeUInt16LE(0, 40)],
        ['stream id', (b, t) => (b[t[1]!.offset]! ^= 1)],
        ['stream entry count 0', (b, t) => b.writeUInt32LE(0, t[1]!.offset + 8)],
        ['stream min after max', (b, t) => b.writeBigInt64LE(I64_MAX, t[0]!.offset + 12)],
        ['label value', (b, t) => (b[t[1]!.offset + 46 + 2 + 3 + 2]! ^= 0x20)],
        ['frames overlap', (b, t) => b.writeUInt32LE(t[1]!.frameOffset - 1, t[1]!.offset + 28)],
        ['frame crc', (b, t) => (b[t[0]!.offset + 40]! ^= 1)],
        ['stream min ts', (b, t) => b.writeBigInt64LE(I64_MIN + 1n, t[2]!.offset + 12)],
      ];
      for (const [name, mutate] of cases) {
        const err = blockError(() => decodeBlock(crafted(mutate)));
        expect([name, err.code]).toEqual([name, name === 'frame crc' ? 'SILT_BLOCK_CHECKSUM' : 'SILT_BLOCK_CORRUPT']);
      }
      // Unsorted labels: swap a stream's two label pairs, which keeps every length.
      const labelled = encodeBlock({ tenant: 'acme', streams: [stream({ aa: 'x', bb: 'y' }, [{ ts: T0, line: 'l' }])] });
      const start = rows(labelled)[0]!.offset + 46;
      const swapped = Buffer.concat([labelled.subarray(0, start), labelled.subarray(start + 10, start + 20), labelled.subarray(start, start + 10), labelled.subarray(start + 20)]);
      expectCode(() => decodeBlock(reseal(swapped)), 'SILT_BLOCK_CORRUPT');
    });

    it('rejects frames whose zstd data or payload is malformed', () => {
      const entries: [bigint, string, [string, string][]][] = [[T0, 'a', []], [T0 + 5n, 'bc', [['k', 'v']]]];
      const good = payloadOf(entries);
      const base = encodeBlock({ tenant: 'acme', streams: [stream({ app: 'x' }, [{ ts: T0, line: 'a' }, { ts: T0 + 5n, line: 'bc', attrs: { k: 'v' } }])] });
      expect(rawPayload(base, 0).equals(good)).toBe(true);
      expect(decodeBlock(withPayload(base, 0, good)).streams[0]!.entries).toEqual(decodeBlock(base).streams[0]!.entries);
      const cases: [string, Buffer][] = [
        ['trailing byte', Buffer.concat([good, Buffer.from([0])])],
        ['cut inside a line', good.subarray(0, good.length - 8)],
        ['varint over 64 bits', Buffer.from([...Array(10).fill(0xff), 0x01, 0, 0])],
        ['10th varint byte over 1', Buffer.from([...Array(9).fill(0x80), 0x02, 0, 0])],
        ['length over 32 bits', Buffer.from([0x02, 0xff, 0xff, 0xff, 0xff, 0x1f])],
        ['line past the end', Buffer.from([0x02, 0x7f, 0x61])],
        ['repeated attribute', payloadOf([[T0, 'a', [['k', 'v'], ['k', 'w']]], [T0 + 5n, 'bc', [['k', 'v']]]])],
        ['one entry fewer', payloadOf(entries.slice(0, 1))],
        ['different time range', payloadOf([[T0, 'a', []], [T0 + 6n, 'bc', [['k', 'v']]]])],
      ];
      for (const [name, payload] of cases) {
        const err = blockError(() => decodeBlock(withPayload(base, 0, payload)));
        expect([name, err.code]).toEqual([name, 'SILT_BLOCK_CORRUPT']);
      }
      const info = readBlockHeader(base).streams[0]!;
      const frame = base.subarray(info.frameOffset, info.frameOffset + info.frameLength);
      const garbage = Buffer.from(frame);
      garbage.fill(0x41, 4);
      for (const bad of [garbage, Buffer.from('not zstd at all'), compress(Buffer.from('x')).subarray(0, 6)]) {
        expectCode(() => decodeBlock(withFrame(base, 0, bad, info.rawLength)), 'SILT_BLOCK_CORRUPT');
      }
      // 64 MiB of zeros is 22 million empty entries: refused once the entry cap is reached.
      const bomb = compress(Buffer.alloc(MAX_RAW_LENGTH));
      expectCode(() => decodeFrameBytes(bomb, MAX_RAW_LENGTH - 1, crc32(bomb)), 'SILT_BLOCK_CORRUPT');
      expect(blockError(() => decodeFrameBytes(bomb, MAX_RAW_LENGTH, crc32(bomb))).message).toMatch(/more than 1048576 entries/);
    });
  });

  describe('fuzz', () => {
    const bases = [readFileSync(resolve(FIXTURES, 'block-v1.bin')), sampleBlock(3, 20), sampleBlock(1, 3)];

    function mutate(rand: () => number, block: Buffer): Buffer {
      let out = Buffer.from(block);
      const steps = 1 + Math.floor(rand() * 3);
      for (let s = 0; s < steps; s++) {
        const at = Math.floor(rand() * Math.max(out.length, 1));
        switch (Math.floor(rand() * 4)) {
          case 0:
            if (out.length > 0) out[at]! ^= 1 << Math.floor(rand() * 8);
            break;
          case 1:
            if (out.length > 0) out[at] = Math.floor(rand() * 256);
            break;
          case 2:
            out = out.subarray(0, at);
            break;
          default: {
            const inserted = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256)));
            out = Buffer.concat([out.subarray(0, at), inserted, out.subarray(at)]);
          }
        }
      }
      return out;
    }

    /** Decodes every way there is; anything but success or a BlockFormatError fails the test. */
    function decodeAll(block: Buffer, seen: Map<string, number>): void {
      let outcome = 'ok';
      try {
        const { header } = decodeBlock(block);
        for (const info of header.streams) decodeFrame(block, info);
      } catch (err) {
        if (!(err instanceof BlockFormatError)) throw err;
        outcome = err.code;
      }
      seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
    }

    it('survives random mutations of whole blocks', () => {
      const rand = mulberry32(0x5117);
      const seen = new Map<string, number>();
      for (let i = 0; i < 3000; i++) decodeAll(mutate(rand, bases[i % bases.length]!), seen);
      expect([...seen.keys()]).toEqual(expect.arrayContaining(['SILT_BLOCK_CHECKSUM', 'SILT_BLOCK_CORRUPT', 'SILT_BLOCK_MAGIC', 'SILT_BLOCK_TRUNCATED', 'SILT_BLOCK_VERSION']));
    });

    it('survives mutated headers whose length and checksum are recomputed', () => {
      const rand = mulberry32(0xb10c);
      const seen = new Map<string, number>();
      for (let i = 0; i < 3000; i++) {
        const base = bases[i % bases.length]!;
        const headerLength = base.readUInt32LE(16);
        const header = mutate(rand, base.subarray(12, headerLength));
        const block = Buffer.concat([base.subarray(0, 12), header, base.subarray(headerLength)]);
        if (rand() < 0.8 && block.length >= 16) block.writeUInt32LE(block.length, 12);
        if (block.length >= 16) reseal(block);
        decodeAll(block, seen);
      }
      expect(seen.get('SILT_BLOCK_CORRUPT')).toBeGreaterThan(1000);
    });

    it('survives mutated zstd frames whose checksums are recomputed', () => {
      const rand = mulberry32(0xf4a3);
      const seen = new Map<string, number>();
      for (let i = 0; i < 2000; i++) {
        const base = bases[i % bases.length]!;
        const table = rows(base);
        const index = Math.floor(rand() * table.length);
        const row = table[index]!;
        const frame = mutate(rand, base.subarray(row.frameOffset, row.frameOffset + row.frameLength));
        decodeAll(withFrame(base, index, frame, base.readUInt32LE(row.offset + 36)), seen);
        const rawLength = rand() < 0.5 ? base.readUInt32LE(row.offset + 36) : Math.floor(rand() * 4096);
        try {
          decodeFrameBytes(frame, rawLength, crc32(frame));
        } catch (err) {
          if (!(err instanceof BlockFormatError)) throw err;
        }
      }
      expect(seen.get('SILT_BLOCK_CORRUPT')).toBeGreaterThan(1000);
    });

    it('survives mutated frame payloads, recompressed', () => {
      const rand = mulberry32(0x9a71);
      const seen = new Map<string, number>();
      const payloads = bases.map((b) => rows(b).map((_, i) => rawPayload(b, i)));
      for (let i = 0; i < 2000; i++) {
        const b = i % bases.length;
        const index = Math.floor(rand() * payloads[b]!.length);
        const payload = mutate(rand, payloads[b]![index]!);
        decodeAll(withPayload(bases[b]!, index, payload), seen);
        const frame = compress(payload);
        try {
          decodeFrameBytes(frame, payload.length, crc32(frame));
          seen.set('frame ok', (seen.get('frame ok') ?? 0) + 1);
        } catch (err) {
          if (!(err instanceof BlockFormatError)) throw err;
        }
      }
      expect(seen.get('SILT_BLOCK_CORRUPT')).toBeGreaterThan(1000);
      expect(seen.get('frame ok')).toBeGreaterThan(100);
    });
  });
});
