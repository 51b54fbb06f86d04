/**
 * The reader of the version 1 frame payload (docs/FORMAT.md, "Frame payload"): per entry a zigzag
 * varint timestamp delta, the line (varint length, UTF-8), and the attributes (varint count, then
 * key and value strings). `parsePayload` builds every entry; `scanPayloadTimes` reads only the
 * timestamps and line lengths, for aggregations that need nothing else.
 */
import { BlockFormatError } from './errors';
import type { BlockEntry } from './block-format';

/** Most entries one block (or one stored frame) may hold. */
export const MAX_BLOCK_ENTRIES = 1024 * 1024;
/** The signed 64-bit range every timestamp lies in. */
export const I64_MIN = -(1n << 63n);
/** See I64_MIN. */
export const I64_MAX = (1n << 63n) - 1n;
const U32_MAX = 0xffffffff;

/** The error of a block or frame whose bytes break the format. */
export function corrupt(message: string, details?: unknown): BlockFormatError {
  return new BlockFormatError('SILT_BLOCK_CORRUPT', `corrupt block: ${message}`, details);
}

/** Sets an own property, also for "__proto__" (label names and attribute keys come from the wire; a plain assignment of it would replace the prototype). */
export function setOwn(obj: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** A frame payload's entries and the time range they span. */
export interface DecodedPayload {
  entries: BlockEntry[];
  minTs: bigint;
  maxTs: bigint;
}

// The frame readers return a value and leave the position after it here, so the per-entry loop
// allocates nothing for bookkeeping.
/** Where the last varint or string reader of this module stopped. */
export let cursor = 0;

/** A varint of at most 5 bytes whose value fits in 32 bits, read from buf[pos..end). */
export function readU32(buf: Buffer, pos: number, end: number): number {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    if (pos >= end) throw corrupt('varint past the end of the frame');
    const b = buf[pos++]!;
    value += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (value > U32_MAX) break;
      cursor = pos;
      return value;
    }
    mul *= 128;
  }
  throw corrupt('varint over 32 bits');
}

/** A zigzag varint delta of up to 7 bytes (49 bits, exact as a double) as a number, or NaN when it is longer. */
export function readSmallDelta(buf: Buffer, pos: number, end: number): number {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 7; i++) {
    if (pos >= end) throw corrupt('varint past the end of the frame');
    const b = buf[pos++]!;
    value += (b & 0x7f) * mul;
    if (b < 0x80) {
      cursor = pos;
      return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    }
    mul *= 128;
  }
  return NaN;
}

/** A zigzag varint64 delta as a bigint. */
export function readDelta(buf: Buffer, pos: number, end: number): bigint {
  const small = readSmallDelta(buf, pos, end);
  if (!Number.isNaN(small)) return BigInt(small);
  // Over 49 bits (rare: the first entry's delta from 0, or a jump of days): the bytes again, as a bigint.
  let big = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos >= end) throw corrupt('varint past the end of the frame');
    const b = buf[pos++]!;
    if (shift === 63n && b > 1) break;
    big |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) {
      cursor = pos;
      return big & 1n ? -((big + 1n) >> 1n) : big >> 1n;
    }
  }
  throw corrupt('varint over 64 bits');
}

/** A varint32 length and that many UTF-8 bytes, as a string. */
export function readString(buf: Buffer, pos: number, end: number): string {
  const n = readU32(buf, pos, end);
  pos = cursor;
  if (n > end - pos) throw corrupt('string past the end of the frame');
  cursor = pos + n;
  return buf.toString('utf8', pos, pos + n);
}

/** Parses a frame payload held in buf[0..end) into its entries. */
export function parsePayload(buf: Buffer, end: number): DecodedPayload {
  const entries: BlockEntry[] = [];
  let prev = 0n;
  let minTs = I64_MAX;
  let maxTs = I64_MIN;
  let pos = 0;
  while (pos < end) {
    if (entries.length === MAX_BLOCK_ENTRIES) throw corrupt(`frame holds more than ${MAX_BLOCK_ENTRIES} entries`);
    let ts = prev + readDelta(buf, pos, end);
    if (ts > I64_MAX || ts < I64_MIN) ts = BigInt.asIntN(64, ts);
    prev = ts;
    if (ts < minTs) minTs = ts;
    if (ts > maxTs) maxTs = ts;
    const line = readString(buf, cursor, end);
    const attrCount = readU32(buf, cursor, end);
    pos = cursor;
    if (attrCount === 0) {
      entries.push({ ts, line });
      continue;
    }
    const attrs: Record<string, string> = {};
    for (let i = 0; i < attrCount; i++) {
      const key = readString(buf, pos, end);
      const value = readString(buf, cursor, end);
      pos = cursor;
      if (Object.hasOwn(attrs, key)) throw corrupt(`attribute ${JSON.stringify(key)} repeated`);
      setOwn(attrs, key, value);
    }
    entries.push({ ts, line, attrs });
  }
  return { entries, minTs, maxTs };
}


/** The timestamps and line lengths of a frame's entries, in reusable columns. */
export class PayloadTimes {
  /** The timestamp of the first entry, ns. */
  base = 0n;
  /** How many entries the columns hold. */
  count = 0;
  /** Per entry, its timestamp − base, ns (an exact double). */
  rel = new Float64Array(0);
  /** Per entry, its line's UTF-8 length. */
  bytes = new Float64Array(0);

  /** Makes room for n entries (the columns grow, never shrink, so a scan allocates only on growth). */
  reserve(n: number): void {
    if (this.rel.length >= n) return;
    const size = Math.max(n, this.rel.length * 2);
    this.rel = new Float64Array(size);
    this.bytes = new Float64Array(size);
  }
}

/**
 * Reads the timestamps and line lengths of the payload in buf[0..end) into `out`, skipping the
 * lines' bytes, for at most `expected` entries. False, with `out` unusable, when the payload is one
 * this fast path does not handle — an entry with attributes (its sample may depend on them), a delta
 * or a span beyond exact doubles, a timestamp outside the signed 64-bit range — so the caller parses
 * it whole instead. Corrupt bytes throw as parsePayload would.
 */
export function scanPayloadTimes(buf: Buffer, end: number, expected: number, out: PayloadTimes): boolean {
  if (end === 0) {
    out.count = 0;
    return true;
  }
  if (expected > MAX_BLOCK_ENTRIES) throw corrupt(`frame holds more than ${MAX_BLOCK_ENTRIES} entries`);
  out.reserve(expected);
  const rel = out.rel;
  const bytes = out.bytes;
  const base = readDelta(buf, 0, end);
  if (base > I64_MAX || base < I64_MIN) return false;
  let pos = cursor;
  let t = 0;
  let min = 0;
  let max = 0;
  let n = 0;
  for (;;) {
    const length = readU32(buf, pos, end);
    pos = cursor + length;
    if (pos > end) throw corrupt('string past the end of the frame');
    if (readU32(buf, pos, end) !== 0) return false;
    pos = cursor;
    // More entries than the header says: the full parse decides what that frame holds.
    if (n === expected) return false;
    rel[n] = t;
    bytes[n] = length;
    n++;
    if (pos >= end) break;
    const d = readSmallDelta(buf, pos, end);
    if (Number.isNaN(d)) return false;
    pos = cursor;
    t += d;
    if (t < min) min = t;
    else if (t > max) max = t;
  }
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || base + BigInt(min) < I64_MIN || base + BigInt(max) > I64_MAX) return false;
  out.base = base;
  out.count = n;
  return true;
}
