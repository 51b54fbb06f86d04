/**
 * The readers of v2 frames (docs/FORMAT.md, "Frame v2"): each decompresses only the columns it
 * needs — timestamps and lengths for a count, lines for a line filter, everything for entries —
 * and a needle check consults the token filter before decompressing anything.
 */
import { crc32 } from 'node:zlib';
import { type BlockEntry, asBuffer, withPayload } from './block-format';
import { BlockFormatError } from './errors';
import { COLUMN_ATTRS, COLUMN_LENGTHS, COLUMN_LINES, COLUMN_TIMES, type FrameV2Header, readFrameV2Header } from './frame-v2';
import { I64_MAX, I64_MIN, type PayloadTimes, corrupt, cursor, readDelta, readSmallDelta, readString, readU32, setOwn } from './frame-payload';
import { UNICODE_VERSION, filterMayContain, hashTokens, isAsciiToken, isDigitsToken, requiredTokens } from './token-filter';

/** Needles of a substring line filter with the tokens every matching line has, hashed once for many frames. */
export class NeedleSet {
  /** The needles' UTF-8 bytes. */
  readonly needles: readonly Uint8Array[];
  /** Hash pairs of every required token of the needles. */
  readonly hashes: Uint32Array;
  /** Hash pairs of the pure-ASCII ones, for a frame tokenized under another Unicode version. */
  readonly asciiHashes: Uint32Array;
  /** `hashes` and `asciiHashes` less the tokens of digits only, for a frame whose filter leaves them out. */
  readonly wordHashes: Uint32Array;
  readonly asciiWordHashes: Uint32Array;

  constructor(needles: readonly Uint8Array[]) {
    this.needles = needles;
    const tokens = new Set<string>();
    for (const needle of needles) for (const t of requiredTokens(asBuffer(needle).toString('utf8'))) tokens.add(t);
    const all = [...tokens];
    this.hashes = hashTokens(checkedTokens(all, true, true));
    this.asciiHashes = hashTokens(checkedTokens(all, true, false));
    this.wordHashes = hashTokens(checkedTokens(all, false, true));
    this.asciiWordHashes = hashTokens(checkedTokens(all, false, false));
  }
}

/**
 * The required tokens a frame's filter can answer for: tokens of digits only if it holds them
 * (`digits`), tokens with non-ASCII characters if it was tokenized under this Unicode version.
 */
function checkedTokens(tokens: readonly string[], digits: boolean, sameUnicode: boolean): string[] {
  return tokens.filter((t) => (digits || !isDigitsToken(t)) && (sameUnicode || isAsciiToken(t)));
}

const EMPTY = Buffer.alloc(0);
// The scratch column of line lengths for decoders that build entries; grows, never shrinks past SCRATCH_RETAIN.
let lengthScratch = new Float64Array(0);
const SCRATCH_RETAIN = 64 * 1024;
const EXACT_SPAN = 2n ** 53n;

function sameUnicode(header: Pick<FrameV2Header, 'unicode'>): boolean {
  return header.unicode[0] === UNICODE_VERSION[0] && header.unicode[1] === UNICODE_VERSION[1];
}

/**
 * False only when the frame's token filter shows that some token in `tokens` (from requiredTokens)
 * is in none of its lines; tokens with non-ASCII characters count only when the frame was tokenized
 * under this process's Unicode version, tokens of digits only only when its filter holds them.
 */
export function mayContainAll(header: Pick<FrameV2Header, 'filter' | 'filterElsewhere' | 'digitTokens' | 'unicode'>, tokens: readonly string[]): boolean {
  if (header.filterElsewhere) return true;
  return filterMayContain(header.filter, hashTokens(checkedTokens(tokens, header.digitTokens, sameUnicode(header))));
}

/** False only when the frame's token filter shows that some needle of `set` is in none of its lines. */
export function filterAllows(header: Pick<FrameV2Header, 'filter' | 'filterElsewhere' | 'digitTokens' | 'unicode'>, set: NeedleSet): boolean {
  if (header.filterElsewhere) return true;
  const same = sameUnicode(header);
  const hashes = header.digitTokens ? (same ? set.hashes : set.asciiHashes) : same ? set.wordHashes : set.asciiWordHashes;
  return filterMayContain(header.filter, hashes);
}

function asNeedleSet(mustContain: readonly Uint8Array[] | NeedleSet): NeedleSet {
  return mustContain instanceof NeedleSet ? mustContain : new NeedleSet(mustContain);
}

/** Verifies column `c`'s CRC and decompresses it into scratch for `use(raw, rawLength)`. */
function withColumn<T>(buf: Buffer, header: FrameV2Header, c: number, use: (raw: Buffer, n: number) => T): T {
  const col = header.columns[c]!;
  const stored = buf.subarray(col.offset, col.offset + col.length);
  if (crc32(stored) !== col.crc) throw new BlockFormatError('SILT_BLOCK_CHECKSUM', `frame column ${c} checksum mismatch`);
  if (col.rawLength === 0) return use(EMPTY, 0);
  if (col.length === col.rawLength) return use(stored, col.rawLength);
  return withPayload(stored, col.rawLength, (raw) => use(raw, col.rawLength));
}

function containsAll(raw: Buffer, n: number, needles: readonly Uint8Array[]): boolean {
  const lines = raw.subarray(0, n);
  for (const needle of needles) if (lines.indexOf(needle) < 0) return false;
  return true;
}

/** Reads the lengths column into dst[0, entryCount); they must add up to the lines column's length. */
function readLengths(buf: Buffer, header: FrameV2Header, dst: Float64Array): void {
  withColumn(buf, header, COLUMN_LENGTHS, (raw, n) => {
    let pos = 0;
    let sum = 0;
    for (let i = 0; i < header.entryCount; i++) {
      const length = readU32(raw, pos, n);
      pos = cursor;
      sum += length;
      dst[i] = length;
    }
    if (pos !== n) throw corrupt('length column longer than its entries');
    if (sum !== header.linesLength) throw corrupt(`line lengths add up to ${sum}, header says ${header.linesLength}`);
  });
}

function scratchLengths(n: number): Float64Array {
  if (lengthScratch.length < n) lengthScratch = new Float64Array(Math.max(n, lengthScratch.length * 2));
  return lengthScratch;
}

function releaseScratch(): void {
  if (lengthScratch.length > SCRATCH_RETAIN) lengthScratch = new Float64Array(0);
}

/** The entries' timestamps, checked against the header's range. */
function readTimestamps(buf: Buffer, header: FrameV2Header): bigint[] {
  return withColumn(buf, header, COLUMN_TIMES, (raw, n) => {
    const out = new Array<bigint>(header.entryCount);
    const unit = header.tsUnit;
    const unitN = Number(unit);
    let prev = header.minTs;
    let min = I64_MAX;
    let max = I64_MIN;
    let pos = 0;
    for (let i = 0; i < out.length; i++) {
      const small = readSmallDelta(raw, pos, n);
      const step = small * unitN;
      let ts = Number.isSafeInteger(step) ? prev + BigInt(step) : prev + readDelta(raw, pos, n) * unit;
      pos = cursor;
      if (ts > I64_MAX || ts < I64_MIN) ts = BigInt.asIntN(64, ts);
      prev = ts;
      if (ts < min) min = ts;
      if (ts > max) max = ts;
      out[i] = ts;
    }
    if (pos !== n) throw corrupt('timestamp column longer than its entries');
    if (min !== header.minTs || max !== header.maxTs) throw corrupt('timestamps differ from the header\'s time range');
    return out;
  });
}

/** Per entry, its attributes or undefined (see writeAttrs in frame-v2.ts for the layout). */
function readAttrs(buf: Buffer, header: FrameV2Header): (Record<string, string> | undefined)[] {
  return withColumn(buf, header, COLUMN_ATTRS, (raw, n) => {
    const keyCount = header.attrKeyCount;
    const entryCount = header.entryCount;
    // Every key, shape and value takes at least one byte: a hostile count fails before it allocates.
    if (keyCount > n) throw corrupt(`${keyCount} attribute keys in ${n} bytes`);
    const keys: string[] = [];
    let pos = 0;
    for (let k = 0; k < keyCount; k++) {
      keys.push(readString(raw, pos, n));
      pos = cursor;
    }
    const shapeCount = readU32(raw, pos, n);
    pos = cursor;
    if (shapeCount > n - pos) throw corrupt(`${shapeCount} attribute shapes in ${n - pos} bytes`);
    const shapes: number[][] = [];
    const keyUses = new Uint32Array(keyCount);
    // seenIn[k] = 1 + the last shape that named key k, so a repeat is found in one step.
    const seenIn = new Uint32Array(keyCount);
    for (let s = 0; s < shapeCount; s++) {
      const size = readU32(raw, pos, n);
      pos = cursor;
      if (size === 0 || size > keyCount) throw corrupt(`attribute shape of ${size} keys`);
      const shape: number[] = [];
      for (let j = 0; j < size; j++) {
        const k = readU32(raw, pos, n);
        pos = cursor;
        if (k >= keyCount || seenIn[k] === s + 1) throw corrupt(`attribute shape ${s}: key ${k} repeated or unknown`);
        seenIn[k] = s + 1;
        shape.push(k);
      }
      shapes.push(shape);
    }
    const entryShapes = new Uint32Array(entryCount);
    for (let i = 0; i < entryCount; i++) {
      const s = readU32(raw, pos, n);
      pos = cursor;
      if (s > shapeCount) throw corrupt(`entry ${i}: attribute shape ${s} of ${shapeCount}`);
      entryShapes[i] = s;
      if (s > 0) for (const k of shapes[s - 1]!) keyUses[k]!++;
    }
    const values: string[][] = [];
    for (let k = 0; k < keyCount; k++) {
      if (keyUses[k] === 0) throw corrupt(`attribute key ${k} used by no entry`);
      const list: string[] = [];
      for (let j = 0; j < keyUses[k]!; j++) {
        list.push(readString(raw, pos, n));
        pos = cursor;
      }
      values.push(list);
    }
    if (pos !== n) throw corrupt('attribute column longer than its entries');
    const next = new Uint32Array(keyCount);
    const out = new Array<Record<string, string> | undefined>(entryCount);
    for (let i = 0; i < entryCount; i++) {
      const s = entryShapes[i]!;
      if (s === 0) continue;
      const attrs: Record<string, string> = {};
      for (const k of shapes[s - 1]!) setOwn(attrs, keys[k]!, values[k]![next[k]!++]!);
      out[i] = attrs;
    }
    return out;
  });
}

/** A time range [start, end) in ns. */
export interface TimeRange {
  start: bigint;
  end: bigint;
}

/**
 * The lines, from the lengths and lines columns; null when a needle's bytes are not in the lines
 * column. With `ts` and `range`, a line whose timestamp is outside the range is left empty: making
 * a string of every line of a big frame is most of its decoding, and a narrow read needs few.
 */
function readLines(buf: Buffer, header: FrameV2Header, needles: NeedleSet | undefined, ts?: readonly bigint[], range?: TimeRange): string[] | null {
  try {
    const lengths = scratchLengths(header.entryCount);
    readLengths(buf, header, lengths);
    return withColumn(buf, header, COLUMN_LINES, (raw, n) => {
      if (needles !== undefined && !containsAll(raw, n, needles.needles)) return null;
      const lines = new Array<string>(header.entryCount);
      let pos = 0;
      for (let i = 0; i < lines.length; i++) {
        const end = pos + lengths[i]!;
        const t = ts?.[i];
        lines[i] = t !== undefined && (t < range!.start || t >= range!.end) ? '' : raw.toString('utf8', pos, end);
        pos = end;
      }
      return lines;
    });
  } finally {
    releaseScratch();
  }
}

/**
 * Decodes every entry of a v2 frame, as decodeFrameBytes decodes a v1 frame. With `mustContain`,
 * returns null when a needle is certainly in no line: first by the token filter, without
 * decompressing anything, then by the lines column's bytes, before any entry is built. With
 * `range`, an entry whose timestamp is outside it keeps its place but decodes with an empty line
 * (a reader that only yields entries in range never looks at it).
 */
export function decodeFrameV2(frame: Uint8Array, mustContain?: readonly Uint8Array[] | NeedleSet, range?: TimeRange): BlockEntry[] | null {
  const buf = asBuffer(frame);
  const header = readFrameV2Header(buf);
  const needles = mustContain === undefined ? undefined : asNeedleSet(mustContain);
  if (needles !== undefined && !filterAllows(header, needles)) return null;
  const cuts = range !== undefined && (header.minTs < range.start || header.maxTs >= range.end);
  let ts = cuts ? readTimestamps(buf, header) : undefined;
  const lines = readLines(buf, header, needles, ts, range);
  if (lines === null) return null;
  ts ??= readTimestamps(buf, header);
  const attrs = header.attrKeyCount === 0 ? undefined : readAttrs(buf, header);
  const entries: BlockEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const a = attrs?.[i];
    entries.push(a === undefined ? { ts: ts[i]!, line: lines[i]! } : { ts: ts[i]!, line: lines[i]!, attrs: a });
  }
  return entries;
}

/**
 * The lines of a v2 frame, in entry order, decompressing its lengths and lines columns only (never
 * the attributes); null under `mustContain` as for decodeFrameV2.
 */
export function decodeFrameV2Lines(frame: Uint8Array, mustContain?: readonly Uint8Array[] | NeedleSet): string[] | null {
  const buf = asBuffer(frame);
  const header = readFrameV2Header(buf);
  const needles = mustContain === undefined ? undefined : asNeedleSet(mustContain);
  if (needles !== undefined && !filterAllows(header, needles)) return null;
  return readLines(buf, header, needles);
}

/**
 * False when some needle is in no line of the frame: the token filter first, then, only if it
 * cannot rule the frame out, the lines column's bytes. True may still be a frame whose needle
 * spans two lines; the caller's line filter decides per line.
 */
export function frameV2MayContain(frame: Uint8Array, mustContain: readonly Uint8Array[] | NeedleSet): boolean {
  const buf = asBuffer(frame);
  const header = readFrameV2Header(buf);
  const needles = asNeedleSet(mustContain);
  if (!filterAllows(header, needles)) return false;
  return withColumn(buf, header, COLUMN_LINES, (raw, n) => containsAll(raw, n, needles.needles));
}

/**
 * Reads a v2 frame's timestamps and line lengths into `out`, decompressing those two columns only.
 * False, with `out` unusable, when the frame spans 2^53 ns or more (relative times would not be
 * exact doubles) so the caller decodes the entries instead. Unlike decodeFrameTimes, attributes do
 * not make it fail: a caller whose sample depends on them checks `attrKeyCount` in the header.
 * `header`, when the caller has read it already, saves reading it again.
 */
export function decodeFrameV2Times(frame: Uint8Array, out: PayloadTimes, header: FrameV2Header = readFrameV2Header(frame)): boolean {
  const buf = asBuffer(frame);
  if (header.maxTs - header.minTs >= EXACT_SPAN) return false;
  const span = Number(header.maxTs - header.minTs);
  const unit = Number(header.tsUnit);
  const count = header.entryCount;
  out.reserve(count);
  const rel = out.rel;
  const first = withColumn(buf, header, COLUMN_TIMES, (raw, n) => {
    // t is each timestamp − minTs, exact since the span is below 2^53; so is every step of a valid frame.
    let t = 0;
    let first = 0;
    let sawMin = false;
    let sawMax = false;
    let pos = 0;
    for (let i = 0; i < count; i++) {
      let step = readSmallDelta(raw, pos, n) * unit;
      if (!Number.isSafeInteger(step)) step = Number(readDelta(raw, pos, n) * header.tsUnit);
      pos = cursor;
      if (!Number.isSafeInteger(step)) throw corrupt('timestamp step beyond the header\'s time range');
      t += step;
      if (!(t >= 0 && t <= span)) throw corrupt('timestamp outside the header\'s time range');
      if (t === 0) sawMin = true;
      if (t === span) sawMax = true;
      if (i === 0) first = t;
      rel[i] = t - first;
    }
    if (pos !== n) throw corrupt('timestamp column longer than its entries');
    if (!sawMin || !sawMax) throw corrupt('timestamps differ from the header\'s time range');
    return first;
  });
  readLengths(buf, header, out.bytes);
  out.base = header.minTs + BigInt(first);
  out.count = count;
  return true;
}
