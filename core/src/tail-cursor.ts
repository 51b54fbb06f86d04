/**
 * Tail cursors: where a live tail stands in every partition of the logs topic, so a client can
 * resume strictly after the last entry it received (no gap, no duplicate). See docs/TAIL.md.
 *
 * Per partition the cursor holds either the next offset to read (nothing of that block delivered
 * yet), or the position (offset, frame, index) of the last entry delivered from it: `frame` is the
 * stream's row in the block's stream table, `index` the entry's place in that stream's frame. A tail
 * delivers the entries of one block in (frame, index) order, so "strictly after" is well defined.
 *
 * Wire form (opaque to clients, URL-safe): base64url of
 *   version byte (1), then per partition in increasing partition order:
 *   varint partition, varint offset, varint tag (0: nothing of `offset` delivered; k > 0: frame k−1,
 *   followed by varint index).
 * Varints are unsigned LEB128 (7 bits a byte, least significant group first), as in write tokens.
 */
import { BadRequestError } from './errors';

/** The version byte this module writes, and the only one it reads. */
export const TAIL_CURSOR_VERSION = 1;
/** Longest cursor text accepted (a Last-Event-ID header can be large, but not unbounded). */
export const MAX_TAIL_CURSOR_LENGTH = 64 * 1024;
/** Largest partition number a cursor may name. */
export const MAX_CURSOR_PARTITION = 100_000;

const MAX_OFFSET = (1n << 63n) - 1n;
const MAX_FRAME = 0xffff; // a block holds at most 65535 streams
const MAX_INDEX = 0xffffffff;

/** The last entry delivered from block `offset`: its frame (stream row) and index in that frame. */
export interface TailEntryRef {
  frame: number;
  index: number;
}

/**
 * A tail's position in one partition: resume reading at block `offset`; when `after` is set, the
 * entries of that block up to and including `after` were delivered already.
 */
export interface TailPartitionPosition {
  offset: bigint;
  after?: TailEntryRef;
}

/** Partition → position. */
export type TailCursor = Map<number, TailPartitionPosition>;

function badCursor(why: string): BadRequestError {
  return new BadRequestError('SILT_BAD_CURSOR', `invalid tail cursor: ${why}`);
}

function pushVarint(out: number[], v: bigint | number): void {
  if (typeof v === 'number') {
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    return;
  }
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

function checkPosition(partition: number, pos: TailPartitionPosition): void {
  if (!Number.isInteger(partition) || partition < 0 || partition > MAX_CURSOR_PARTITION) throw new RangeError(`tail cursor: partition ${partition} out of range`);
  if (pos.offset < 0n || pos.offset > MAX_OFFSET) throw new RangeError(`tail cursor: offset ${pos.offset} out of range`);
  if (pos.after !== undefined) {
    const { frame, index } = pos.after;
    if (!Number.isInteger(frame) || frame < 0 || frame > MAX_FRAME) throw new RangeError(`tail cursor: frame ${frame} out of range`);
    if (!Number.isInteger(index) || index < 0 || index > MAX_INDEX) throw new RangeError(`tail cursor: index ${index} out of range`);
  }
}

/** The bytes of one partition's position (partition number included). */
function positionBytes(partition: number, pos: TailPartitionPosition): Buffer {
  checkPosition(partition, pos);
  const out: number[] = [];
  pushVarint(out, partition);
  pushVarint(out, pos.offset);
  if (pos.after === undefined) {
    out.push(0);
  } else {
    pushVarint(out, pos.after.frame + 1);
    pushVarint(out, pos.after.index);
  }
  return Buffer.from(out);
}

const VERSION_BYTES = Buffer.from([TAIL_CURSOR_VERSION]);

/** Encodes a cursor as opaque URL-safe text; throws RangeError for values the format cannot hold. */
export function encodeTailCursor(cursor: ReadonlyMap<number, TailPartitionPosition>): string {
  const parts: Buffer[] = [VERSION_BYTES];
  for (const p of [...cursor.keys()].sort((a, b) => a - b)) parts.push(positionBytes(p, cursor.get(p)!));
  return Buffer.concat(parts).toString('base64url');
}

/** Decodes `encodeTailCursor` output; anything else is a 400 SILT_BAD_CURSOR. */
export function decodeTailCursor(text: string): TailCursor {
  if (typeof text !== 'string' || text.length === 0) throw badCursor('empty');
  if (text.length > MAX_TAIL_CURSOR_LENGTH) throw badCursor(`longer than ${MAX_TAIL_CURSOR_LENGTH} characters`);
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw badCursor('not base64url');
  const buf = Buffer.from(text, 'base64url');
  // Node's decoder ignores trailing bits that do not make a byte: insist on the canonical text.
  if (buf.toString('base64url') !== text) throw badCursor('not canonical base64url');
  if (buf[0] !== TAIL_CURSOR_VERSION) throw badCursor(`unknown version ${buf[0]}`);
  let pos = 1;
  const readVarint = (max: bigint, what: string): bigint => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) throw badCursor('truncated');
      const b = buf[pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        if (b === 0 && shift > 0n) throw badCursor('varint not minimal');
        if (v > max) throw badCursor(`${what} out of range`);
        return v;
      }
    }
    throw badCursor('varint too long');
  };
  const cursor: TailCursor = new Map();
  let prev = -1;
  while (pos < buf.length) {
    const partition = Number(readVarint(BigInt(MAX_CURSOR_PARTITION), 'partition'));
    if (partition <= prev) throw badCursor('partitions not in increasing order');
    prev = partition;
    const offset = readVarint(MAX_OFFSET, 'offset');
    const tag = Number(readVarint(BigInt(MAX_FRAME + 1), 'frame'));
    if (tag === 0) {
      cursor.set(partition, { offset });
    } else {
      const index = Number(readVarint(BigInt(MAX_INDEX), 'index'));
      cursor.set(partition, { offset, after: { frame: tag - 1, index } });
    }
  }
  if (cursor.size === 0) throw badCursor('no partitions');
  return cursor;
}

/** A copy of `cursor` that has delivered the entry (offset, frame, index) of `partition`. */
export function advanceTailCursor(cursor: ReadonlyMap<number, TailPartitionPosition>, partition: number, offset: bigint, frame: number, index: number): TailCursor {
  const next: TailCursor = new Map(cursor);
  const pos = { offset, after: { frame, index } };
  checkPosition(partition, pos);
  next.set(partition, pos);
  return next;
}

/**
 * True when the entry (offset, frame, index) comes after `pos`, i.e. resuming at `pos` must deliver
 * it; false when it was delivered already (or lies before the position).
 */
export function isAfterPosition(pos: TailPartitionPosition, offset: bigint, frame: number, index: number): boolean {
  if (offset !== pos.offset) return offset > pos.offset;
  const after = pos.after;
  if (after === undefined) return true;
  return frame > after.frame || (frame === after.frame && index > after.index);
}

/**
 * Builds cursor texts incrementally, one per delivered entry: only the changed partition is
 * re-encoded, so an event id costs one small encode plus a concatenation.
 */
export class TailCursorBuilder {
  private readonly partitions: number[];
  private readonly bytes: Buffer[];
  private readonly slot = new Map<number, number>();
  private readonly positions: TailCursor;

  constructor(initial: ReadonlyMap<number, TailPartitionPosition>) {
    this.partitions = [...initial.keys()].sort((a, b) => a - b);
    this.positions = new Map();
    this.bytes = [VERSION_BYTES];
    for (const p of this.partitions) {
      const pos = initial.get(p)!;
      this.slot.set(p, this.bytes.length);
      this.bytes.push(positionBytes(p, pos));
      this.positions.set(p, { offset: pos.offset, ...(pos.after ? { after: { ...pos.after } } : {}) });
    }
  }

  /** Sets one partition's position (a partition not seen before is added). */
  set(partition: number, pos: TailPartitionPosition): void {
    const encoded = positionBytes(partition, pos);
    this.positions.set(partition, pos);
    const at = this.slot.get(partition);
    if (at !== undefined) {
      this.bytes[at] = encoded;
      return;
    }
    // A new partition: rebuild the order (rare: partition counts do not change in Silt).
    this.partitions.push(partition);
    this.partitions.sort((a, b) => a - b);
    const byPartition = new Map<number, Buffer>();
    for (const [p, i] of this.slot) byPartition.set(p, this.bytes[i]!);
    byPartition.set(partition, encoded);
    this.bytes.length = 1;
    this.slot.clear();
    for (const p of this.partitions) {
      this.slot.set(p, this.bytes.length);
      this.bytes.push(byPartition.get(p)!);
    }
  }

  /** The position of one partition, or undefined. */
  get(partition: number): TailPartitionPosition | undefined {
    return this.positions.get(partition);
  }

  /** A copy of every partition's position. */
  snapshot(): TailCursor {
    return new Map(this.positions);
  }

  /** The cursor text of the current positions. */
  toString(): string {
    return Buffer.concat(this.bytes).toString('base64url');
  }
}
