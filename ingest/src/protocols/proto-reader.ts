/**
 * What the protobuf walkers and decoders of ingest's protocols share (OTLP, Loki push): protobufjs's
 * Buffer reader with strict UTF-8 text and fixed64 as bigint, and the sub-message bounds a walk
 * keeps exactly as protobufjs's generated decoders keep them, so a walk throws wherever the object
 * decode would.
 */
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';

/** What a text field that is not valid UTF-8 on the wire decodes to: the mapper refuses the records it belongs to. */
export const INVALID_TEXT: unknown = Object.freeze({ invalidUtf8: true });

/** One 64-bit word seen as two 32-bit halves: setting the halves and reading the word makes one bigint, where shifting and adding makes four. */
const HALVES = new Uint32Array(2);
const WHOLE = new BigUint64Array(HALVES.buffer);
/** Index of the low half in HALVES: typed arrays use the platform's byte order. */
const LOW = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;

/** The unsigned 64-bit integer whose 32-bit halves are `low` and `high`. */
export function uint64Of(low: number, high: number): bigint {
  HALVES[LOW] = low;
  HALVES[LOW ^ 1] = high;
  return WHOLE[0]!;
}

/** Node's Buffer decodes UTF-8 with `utf8Slice` (what protobufjs's own Buffer reader calls), without `toString`'s argument handling. */
interface Utf8Slicing {
  utf8Slice(start: number, end: number): string;
}

/**
 * protobufjs's Buffer reader with strict text: its own `string()` turns invalid UTF-8 into U+FFFD
 * and cuts a string that runs past the end. Node's decoder replaces every invalid sequence with
 * U+FFFD, so only text that holds one is checked against its bytes (with `isUtf8`); decoding text
 * in place this way spares the Buffer view a `bytes` field costs per value.
 */
export class StrictTextReader extends protobuf.BufferReader {
  override string(): string {
    const length = this.uint32();
    const start = this.pos;
    const end = start + length;
    if (end > this.len) throw new RangeError(`index out of range: ${start} + ${length} > ${this.len}`);
    this.pos = end;
    const s = (this.buf as unknown as Utf8Slicing).utf8Slice(start, end);
    if (s.indexOf('\uFFFD') >= 0 && !isUtf8(this.buf.subarray(start, end))) return INVALID_TEXT as string;
    return s;
  }

  /**
   * A fixed64 (the records' timestamps) as a bigint, which the mapper wants, rather than the
   * LongBits and Long protobufjs makes of each: two objects of garbage per record. The typings
   * say Long; `timestampNs` reads both.
   */
  override fixed64(): ReturnType<protobuf.Reader['fixed64']> {
    const low = this.fixed32();
    return uint64Of(low, this.fixed32()) as unknown as ReturnType<protobuf.Reader['fixed64']>;
  }
}

/** A reader of `body` with strict text (and fixed64 as bigint). */
export function strictTextReader(body: Buffer): protobuf.Reader {
  return new StrictTextReader(body);
}

/**
 * Thrown by a walk for a field that comes after what it qualifies (a resource after its records,
 * a stream's labels after its entries): protobuf allows any field order, but encoders write fields
 * in number order, so such a request is left to the object decode rather than read twice.
 */
export class LateField extends Error {}

/** True when `buf` holds the same `length` bytes at `a` as at `b` (both in bounds). */
export function sameBytes(buf: Uint8Array, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

function outOfRange(): RangeError {
  return new RangeError('index out of range');
}

/** Enters a sub-message of `length` bytes at the reader's position, as protobufjs does: returns the outer bound to restore. */
export function enter(r: protobuf.Reader, length: number): number {
  const end = r.pos + length;
  if (end > r.len) throw outOfRange();
  const outer = r.len;
  r.len = end;
  return outer;
}

/** Leaves a sub-message entered with `enter`, which must have been read to its end exactly. */
export function leave(r: protobuf.Reader, outer: number): void {
  if (r.pos !== r.len) throw outOfRange();
  r.len = outer;
}
