/**
 * The v2 frame codec's layout and writer (docs/FORMAT.md, "Frame v2"): one stream's entries stored
 * by column — timestamps, line lengths, lines, attributes by key — each column its own zstd frame,
 * behind an uncompressed header with counts, time range and the token filter of the lines, so a
 * reader decompresses only the columns a query needs. frame-v2-decode.ts reads the columns.
 */
import { crc32 } from 'node:zlib';
import { CCtx, compressBound, maxCLevel, minCLevel } from 'zstd-napi/binding';
import { type BlockEntry, MAX_RAW_LENGTH, asBuffer } from './block-format';
import { FAST_DELTA, Writer } from './byte-writer';
import { BlockFormatError } from './errors';
import { I64_MAX, I64_MIN, MAX_BLOCK_ENTRIES, corrupt } from './frame-payload';
import { TOKEN_FILTER_BITS_PER_TOKEN, TOKEN_FILTER_HASHES, type TokenFilter, TokenFilterBuilder, UNICODE_VERSION } from './token-filter';

/** The version byte of a v2 frame. */
export const FRAME_V2_VERSION = 2;
/** The four ASCII bytes every v2 frame starts with. */
export const FRAME_V2_MAGIC = 'SLTF';
/** Bytes of the header before the token filter's bits. */
export const FRAME_V2_FIXED_HEADER = 124;
/** Most bit positions per token a reader accepts in a filter. */
const MAX_FILTER_HASHES = 16;

/** The columns of a v2 frame, in their stored order. */
export const COLUMN_TIMES = 0;
/** See COLUMN_TIMES. */
export const COLUMN_LENGTHS = 1;
/** See COLUMN_TIMES. */
export const COLUMN_LINES = 2;
/** See COLUMN_TIMES. */
export const COLUMN_ATTRS = 3;
const COLUMN_COUNT = 4;

/** zstd levels per column: `lines` for the lines column, `meta` for timestamps, lengths and attributes. */
export interface FrameV2Levels {
  lines: number;
  meta: number;
}

/** Where one column is and what it holds: offset and length in the frame, decompressed length, CRC-32 of its stored bytes. */
export interface FrameV2Column {
  offset: number;
  length: number;
  rawLength: number;
  crc: number;
}

/** A v2 frame's header, read without decompressing anything. */
export interface FrameV2Header {
  version: number;
  entryCount: number;
  minTs: bigint;
  maxTs: bigint;
  /** What every stored timestamp delta is a multiple of, ns (1000 for microsecond timestamps); ≥ 1. */
  tsUnit: bigint;
  /** UTF-8 bytes of all the lines together. */
  linesLength: number;
  /** Distinct attribute keys in the frame; 0 means no entry has attributes. */
  attrKeyCount: number;
  headerLength: number;
  /** Unicode version the writer tokenized with, [major, minor]. */
  unicode: [number, number];
  filter: TokenFilter;
  /** The frame's token filter is kept elsewhere (flag FLAG_FILTER_ELSEWHERE; `filter` is then empty and rules nothing out). */
  filterElsewhere: boolean;
  /** The filter holds tokens of ASCII digits only too (a frame written before FLAG_NO_DIGIT_TOKENS). */
  digitTokens: boolean;
  /** Indexed by COLUMN_TIMES … COLUMN_ATTRS. */
  columns: FrameV2Column[];
}

/** One stream's entries as a v2 frame, with what a store's value header records of it. */
export interface EncodedFrameV2 {
  bytes: Buffer;
  /** Σ of the columns' decompressed lengths. */
  rawLength: number;
  linesLength: number;
  /** CRC-32 of the whole frame. */
  frameCrc: number;
  entryCount: number;
  minTs: bigint;
  maxTs: bigint;
}

const MAGIC = Buffer.from(FRAME_V2_MAGIC, 'latin1');
/** Header flag: the token filter is kept apart from the frame (by a storage node, beside it), so the frame carries none. */
export const FLAG_FILTER_ELSEWHERE = 0x01;
/** Header flag: tokens of ASCII digits only are not in the filter (frames written before it hold them). */
export const FLAG_NO_DIGIT_TOKENS = 0x02;
const KNOWN_FLAGS = FLAG_FILTER_ELSEWHERE | FLAG_NO_DIGIT_TOKENS;
const OFF_VERSION = 4;
const OFF_FLAGS = 5;
const OFF_RESERVED = 6;
const OFF_CRC = 8;
const OFF_HEADER_LENGTH = 12;
const OFF_ENTRY_COUNT = 16;
const OFF_MIN_TS = 20;
const OFF_MAX_TS = 28;
const OFF_TS_UNIT = 36;
const OFF_LINES_LENGTH = 44;
const OFF_ATTR_KEYS = 48;
const OFF_FILTER_BITS = 52;
const OFF_FILTER_HASHES = 56;
const OFF_UNICODE = 57;
const OFF_RESERVED2 = 59;
const OFF_COLUMNS = 60;
const COLUMN_ROW = 16;
const U32_MAX = 0xffffffff;

let cctx: CCtx | undefined;
const timesOut = new Writer();
const lengthsOut = new Writer();
const linesOut = new Writer();
const attrsOut = new Writer();
const frameOut = new Writer();
const tokens = new TokenFilterBuilder();

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < minCLevel() || level > maxCLevel()) throw new RangeError(`frame: invalid zstd level ${level}`);
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const r = a % b;
    a = b;
    b = r;
  }
  return a;
}

interface TimeSummary {
  minTs: bigint;
  maxTs: bigint;
  /** The greatest common divisor of the deltas (1 when some delta is not below FAST_DELTA or all are 0). */
  unit: number;
}

function summarizeTimes(entries: BlockEntry[]): TimeSummary {
  let minTs = entries[0]!.ts;
  let maxTs = minTs;
  let prev = minTs;
  let unit = 0;
  for (const { ts } of entries) {
    if (ts < minTs) minTs = ts;
    else if (ts > maxTs) maxTs = ts;
    if (unit !== 1) {
      const d = Math.abs(Number(ts - prev));
      unit = d < FAST_DELTA ? gcd(d, unit) : 1;
    }
    prev = ts;
  }
  // The first delta, from minTs, is a multiple too: it is a sum of the others.
  return { minTs, maxTs, unit: unit === 0 ? 1 : unit };
}

function writeString(w: Writer, s: string): void {
  const n = Buffer.byteLength(s);
  w.reserve(5 + n);
  w.string(s, n);
}

/**
 * The attributes column: key names in order of first use, the distinct key sequences ("shapes"),
 * each entry's shape (0 for none), then each key's values in entry order.
 */
function writeAttrs(entries: BlockEntry[]): number {
  const w = attrsOut;
  const keyIndex = new Map<string, number>();
  const keyNames: string[] = [];
  const values: string[][] = [];
  const shapeIds = new Map<string, number>();
  const shapes: number[][] = [];
  const entryShapes = new Uint32Array(entries.length);
  let prevAttrs: Record<string, string> | undefined;
  let prevShape = 0;
  for (let i = 0; i < entries.length; i++) {
    const attrs = entries[i]!.attrs;
    if (attrs === undefined) continue;
    const keys = Object.keys(attrs);
    if (keys.length === 0) continue;
    // Entries often share one attrs object, or at least its keys: the shape is looked up once.
    let shape = prevShape;
    if (attrs !== prevAttrs) {
      const signature = JSON.stringify(keys);
      shape = shapeIds.get(signature) ?? 0;
      if (shape === 0) {
        const indexes = keys.map((key) => {
          let k = keyIndex.get(key);
          if (k === undefined) {
            k = keyNames.length;
            keyIndex.set(key, k);
            keyNames.push(key);
            values.push([]);
          }
          return k;
        });
        shapes.push(indexes);
        shape = shapes.length;
        shapeIds.set(signature, shape);
      }
      prevAttrs = attrs;
      prevShape = shape;
    }
    entryShapes[i] = shape;
    for (const k of shapes[shape - 1]!) values[k]!.push(attrs[keyNames[k]!]!);
  }
  w.pos = 0;
  if (keyNames.length === 0) return 0;
  for (const name of keyNames) writeString(w, name);
  w.reserve(5);
  w.varint(shapes.length);
  for (const shape of shapes) {
    w.reserve(5 * (shape.length + 1));
    w.varint(shape.length);
    for (const k of shape) w.varint(k);
  }
  w.reserve(5 * entries.length);
  for (let i = 0; i < entries.length; i++) w.varint(entryShapes[i]!);
  for (const list of values) for (const v of list) writeString(w, v);
  return keyNames.length;
}

/** Fills timesOut, lengthsOut, linesOut and the token builder from the entries; returns Σ line bytes. */
function writeLineColumns(entries: BlockEntry[], { minTs, unit }: TimeSummary): number {
  timesOut.pos = 0;
  lengthsOut.pos = 0;
  linesOut.pos = 0;
  let prev = minTs;
  let linesLength = 0;
  for (const entry of entries) {
    timesOut.reserve(10);
    // With a unit above 1 every delta is below FAST_DELTA, so it divides exactly as a double.
    if (unit === 1) timesOut.delta(entry.ts - prev);
    else timesOut.smallDelta(Number(entry.ts - prev) / unit);
    prev = entry.ts;
    const line = entry.line;
    const n = Buffer.byteLength(line);
    linesLength += n;
    if (linesLength > MAX_RAW_LENGTH) throw new RangeError(`frame: lines over ${MAX_RAW_LENGTH} bytes`);
    lengthsOut.reserve(5);
    lengthsOut.varint(n);
    linesOut.reserve(n);
    const start = linesOut.pos;
    // As in Writer.string: pure ASCII is copied as latin1, far cheaper than UTF-8 encoding.
    linesOut.pos += linesOut.buf.write(line, start, n, n === line.length ? 'latin1' : 'utf8');
    tokens.addUtf8(linesOut.buf, start, linesOut.pos);
  }
  return linesLength;
}

function compressColumn(src: Writer, level: number, row: FrameV2Column): void {
  const out = frameOut;
  row.offset = out.pos;
  row.rawLength = src.pos;
  if (src.pos === 0) {
    row.length = 0;
    row.crc = 0;
    return;
  }
  out.reserve(compressBound(src.pos));
  row.length = cctx!.compress(out.buf.subarray(out.pos), src.buf.subarray(0, src.pos), level);
  // A column zstd cannot shrink (a few bytes of a small frame) is stored as it is: length = rawLength says so.
  if (row.length >= src.pos) {
    src.buf.copy(out.buf, out.pos, 0, src.pos);
    row.length = src.pos;
  }
  row.crc = crc32(out.buf.subarray(out.pos, out.pos + row.length));
  out.pos += row.length;
}

/**
 * Encodes one stream's entries, in the order given, as a v2 frame: `levels` is one zstd level for
 * every column or one for the lines and one for the rest. Throws RangeError for input the format
 * cannot hold (no entries, more than MAX_BLOCK_ENTRIES, columns over MAX_RAW_LENGTH together).
 */
export function encodeFrameV2(entries: BlockEntry[], levels: number | FrameV2Levels): EncodedFrameV2 {
  const { lines: linesLevel, meta: metaLevel } = typeof levels === 'number' ? { lines: levels, meta: levels } : levels;
  checkLevel(linesLevel);
  checkLevel(metaLevel);
  if (entries.length === 0 || entries.length > MAX_BLOCK_ENTRIES) throw new RangeError(`frame: needs 1 to ${MAX_BLOCK_ENTRIES} entries, got ${entries.length}`);
  const times = summarizeTimes(entries);
  const { minTs, maxTs } = times;
  if (minTs < I64_MIN || maxTs > I64_MAX) throw new RangeError(`frame: timestamp outside the signed 64-bit range (${minTs}..${maxTs})`);
  cctx ??= new CCtx();
  try {
    const linesLength = writeLineColumns(entries, times);
    const filter = tokens.build(TOKEN_FILTER_BITS_PER_TOKEN, TOKEN_FILTER_HASHES);
    const attrKeyCount = writeAttrs(entries);
    const rawLength = timesOut.pos + lengthsOut.pos + linesOut.pos + attrsOut.pos;
    if (rawLength > MAX_RAW_LENGTH) throw new RangeError(`frame: columns over ${MAX_RAW_LENGTH} bytes`);
    if (filter.bitCount > U32_MAX) throw new RangeError('frame: token filter over 2^32 bits');

    const headerLength = FRAME_V2_FIXED_HEADER + filter.bits.length;
    const out = frameOut;
    out.pos = 0;
    out.reserve(headerLength);
    out.pos = headerLength;
    const columns: FrameV2Column[] = [];
    const sources = [timesOut, lengthsOut, linesOut, attrsOut];
    for (let c = 0; c < COLUMN_COUNT; c++) {
      const row = { offset: 0, length: 0, rawLength: 0, crc: 0 };
      compressColumn(sources[c]!, c === COLUMN_LINES ? linesLevel : metaLevel, row);
      columns.push(row);
    }
    const total = out.pos;
    if (total > U32_MAX) throw new RangeError(`frame: ${total} bytes, more than ${U32_MAX}`);

    const buf = out.buf;
    MAGIC.copy(buf, 0);
    buf[OFF_VERSION] = FRAME_V2_VERSION;
    buf[OFF_FLAGS] = FLAG_NO_DIGIT_TOKENS;
    buf.writeUInt16LE(0, OFF_RESERVED);
    buf.writeUInt32LE(headerLength, OFF_HEADER_LENGTH);
    buf.writeUInt32LE(entries.length, OFF_ENTRY_COUNT);
    buf.writeBigInt64LE(minTs, OFF_MIN_TS);
    buf.writeBigInt64LE(maxTs, OFF_MAX_TS);
    buf.writeBigUInt64LE(BigInt(times.unit), OFF_TS_UNIT);
    buf.writeUInt32LE(linesLength, OFF_LINES_LENGTH);
    buf.writeUInt32LE(attrKeyCount, OFF_ATTR_KEYS);
    buf.writeUInt32LE(filter.bitCount, OFF_FILTER_BITS);
    buf[OFF_FILTER_HASHES] = filter.bitCount === 0 ? 0 : filter.hashes;
    buf[OFF_UNICODE] = UNICODE_VERSION[0];
    buf[OFF_UNICODE + 1] = UNICODE_VERSION[1];
    buf[OFF_RESERVED2] = 0;
    columns.forEach((col, c) => {
      const at = OFF_COLUMNS + c * COLUMN_ROW;
      buf.writeUInt32LE(col.offset, at);
      buf.writeUInt32LE(col.length, at + 4);
      buf.writeUInt32LE(col.rawLength, at + 8);
      buf.writeUInt32LE(col.crc, at + 12);
    });
    buf.set(filter.bits, FRAME_V2_FIXED_HEADER);
    buf.writeUInt32LE(crc32(buf.subarray(OFF_HEADER_LENGTH, headerLength)), OFF_CRC);
    const bytes = Buffer.from(buf.subarray(0, total));
    return { bytes, rawLength, linesLength, frameCrc: crc32(bytes), entryCount: entries.length, minTs, maxTs };
  } finally {
    tokens.clear();
    for (const w of [timesOut, lengthsOut, linesOut, attrsOut, frameOut]) w.release();
  }
}

function truncated(message: string): BlockFormatError {
  return new BlockFormatError('SILT_BLOCK_TRUNCATED', `truncated frame: ${message}`);
}

/**
 * Splits a v2 frame into its header with the token filter (bytes `[0, headerLength)`, as
 * readDetachedFrameV2Header reads them) and the same frame without the filter, flagged
 * FLAG_FILTER_ELSEWHERE: a store that keeps filters beside its frames keeps each filter once.
 */
export function withoutFilter(frame: Uint8Array): { frame: Buffer; header: Buffer } {
  const buf = asBuffer(frame);
  const h = readFrameV2Header(buf);
  const header = Buffer.from(buf.subarray(0, h.headerLength));
  const cut = h.headerLength - FRAME_V2_FIXED_HEADER;
  const out = Buffer.allocUnsafe(buf.length - cut);
  buf.copy(out, 0, 0, FRAME_V2_FIXED_HEADER);
  buf.copy(out, FRAME_V2_FIXED_HEADER, h.headerLength);
  out[OFF_FLAGS] = buf[OFF_FLAGS]! | FLAG_FILTER_ELSEWHERE;
  out.writeUInt32LE(FRAME_V2_FIXED_HEADER, OFF_HEADER_LENGTH);
  out.writeUInt32LE(0, OFF_FILTER_BITS);
  out[OFF_FILTER_HASHES] = 0;
  for (let c = 0; c < COLUMN_COUNT; c++) out.writeUInt32LE(h.columns[c]!.offset - cut, OFF_COLUMNS + c * COLUMN_ROW);
  out.writeUInt32LE(crc32(out.subarray(OFF_HEADER_LENGTH, FRAME_V2_FIXED_HEADER)), OFF_CRC);
  return { frame: out, header };
}

/**
 * Reads and checks a v2 frame's header (its own CRC-32, the column table against the frame's
 * length); decompresses nothing and verifies no column's CRC (each reader checks the columns it reads).
 */
export function readFrameV2Header(frame: Uint8Array): FrameV2Header {
  return readHeader(asBuffer(frame), true);
}

/**
 * Reads and checks a v2 frame's header kept apart from its columns (the bytes `[0, headerLength)`
 * exactly, as a storage node stores a frame's token filter): as readFrameV2Header, but the column
 * table is checked against itself only, since the columns are not there.
 */
export function readDetachedFrameV2Header(header: Uint8Array): FrameV2Header {
  const buf = asBuffer(header);
  const h = readHeader(buf, false);
  if (h.headerLength !== buf.length) throw corrupt(`detached header of ${buf.length} bytes, its length field says ${h.headerLength}`);
  return h;
}

function readHeader(buf: Buffer, whole: boolean): FrameV2Header {
  const len = buf.length;
  for (let i = 0; i < MAGIC.length && i < len; i++) if (buf[i] !== MAGIC[i]) throw corrupt('not a v2 frame: bad magic');
  if (len <= OFF_VERSION) throw truncated(`${len} bytes`);
  const version = buf[OFF_VERSION]!;
  if (version !== FRAME_V2_VERSION) {
    throw new BlockFormatError('SILT_BLOCK_VERSION', `unsupported frame version ${version} (this reader knows ${FRAME_V2_VERSION})`, { version });
  }
  if (len < FRAME_V2_FIXED_HEADER) throw truncated(`${len} bytes`);
  const headerLength = buf.readUInt32LE(OFF_HEADER_LENGTH);
  if (headerLength < FRAME_V2_FIXED_HEADER) throw corrupt(`header length ${headerLength} out of range`);
  if (headerLength > len) throw truncated(`header of ${headerLength} bytes, frame has ${len}`);
  if (crc32(buf.subarray(OFF_HEADER_LENGTH, headerLength)) !== buf.readUInt32LE(OFF_CRC)) throw new BlockFormatError('SILT_BLOCK_CHECKSUM', 'frame header checksum mismatch');
  const flags = buf[OFF_FLAGS]!;
  if ((flags & ~KNOWN_FLAGS) !== 0 || buf.readUInt16LE(OFF_RESERVED) !== 0 || buf[OFF_RESERVED2] !== 0) throw corrupt('reserved header bits set');

  const entryCount = buf.readUInt32LE(OFF_ENTRY_COUNT);
  if (entryCount === 0 || entryCount > MAX_BLOCK_ENTRIES) throw corrupt(`${entryCount} entries, outside 1 … ${MAX_BLOCK_ENTRIES}`);
  const minTs = buf.readBigInt64LE(OFF_MIN_TS);
  const maxTs = buf.readBigInt64LE(OFF_MAX_TS);
  if (minTs > maxTs) throw corrupt('min timestamp after max timestamp');
  const tsUnit = buf.readBigUInt64LE(OFF_TS_UNIT);
  if (tsUnit === 0n) throw corrupt('timestamp unit 0');
  const linesLength = buf.readUInt32LE(OFF_LINES_LENGTH);
  const attrKeyCount = buf.readUInt32LE(OFF_ATTR_KEYS);
  const bitCount = buf.readUInt32LE(OFF_FILTER_BITS);
  const hashes = buf[OFF_FILTER_HASHES]!;
  if (bitCount % 8 !== 0 || FRAME_V2_FIXED_HEADER + bitCount / 8 !== headerLength) throw corrupt(`filter of ${bitCount} bits does not fill the header`);
  if (bitCount === 0 ? hashes !== 0 : hashes === 0 || hashes > MAX_FILTER_HASHES) throw corrupt(`${hashes} filter hashes`);
  const filterElsewhere = (flags & FLAG_FILTER_ELSEWHERE) !== 0;
  if (filterElsewhere && bitCount !== 0) throw corrupt('a filter in a frame whose filter is kept elsewhere');

  const columns: FrameV2Column[] = [];
  let next = headerLength;
  let rawSum = 0;
  for (let c = 0; c < COLUMN_COUNT; c++) {
    const at = OFF_COLUMNS + c * COLUMN_ROW;
    const col = { offset: buf.readUInt32LE(at), length: buf.readUInt32LE(at + 4), rawLength: buf.readUInt32LE(at + 8), crc: buf.readUInt32LE(at + 12) };
    if (col.offset !== next) throw corrupt(`column ${c} at ${col.offset}, expected ${next}`);
    if ((col.length === 0) !== (col.rawLength === 0) || (col.length === 0 && col.crc !== 0)) throw corrupt(`column ${c}: empty and not empty`);
    rawSum += col.rawLength;
    if (rawSum > MAX_RAW_LENGTH) throw corrupt(`columns over ${MAX_RAW_LENGTH} bytes`);
    next += col.length;
    columns.push(col);
  }
  const [times, lengths, lines, attrs] = columns as [FrameV2Column, FrameV2Column, FrameV2Column, FrameV2Column];
  // Each varint takes 1 to 10 (timestamps) or 1 to 5 (lengths) bytes, one per entry.
  if (times.rawLength < entryCount || times.rawLength > 10 * entryCount) throw corrupt('timestamp column size does not fit the entry count');
  if (lengths.rawLength < entryCount || lengths.rawLength > 5 * entryCount) throw corrupt('length column size does not fit the entry count');
  if (lines.rawLength !== linesLength) throw corrupt(`lines column holds ${lines.rawLength} bytes, header says ${linesLength}`);
  if ((attrs.rawLength === 0) !== (attrKeyCount === 0)) throw corrupt('attribute column and key count disagree');
  if (whole && next > len) throw truncated(`columns end at ${next}, frame has ${len} bytes`);
  if (whole && next < len) throw corrupt(`${len - next} bytes after the last column`);
  return {
    version,
    entryCount,
    minTs,
    maxTs,
    tsUnit,
    linesLength,
    attrKeyCount,
    headerLength,
    unicode: [buf[OFF_UNICODE]!, buf[OFF_UNICODE + 1]!],
    filter: { bits: buf.subarray(FRAME_V2_FIXED_HEADER, headerLength), bitCount, hashes },
    filterElsewhere,
    digitTokens: (flags & FLAG_NO_DIGIT_TOKENS) === 0,
    columns,
  };
}
