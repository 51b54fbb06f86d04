/**
 * Key and value layout of one segment (one LevelDB): meta keys, quarantined blocks, and per tenant
 * the stream registry, the label index and the frames. docs/STORAGE.md specifies every byte.
 */
import type { BlockStreamInfo, EncodedFrame } from '../../../core/src/block-format';
import type { Labels } from '../../../core/src/labels';

/** First byte of the keys that belong to no tenant (a tenant prefix starts with its length, ≥ 1). */
export const KEY_SYSTEM = 0x00;
/** Tag after the tenant prefix: stream registry, `(tenant, streamId) → labels and span`. */
export const TAG_STREAM = 0x53; // 'S'
/** Tag after the tenant prefix: label index, `(tenant, name, value, streamId) → empty`. */
export const TAG_LABEL = 0x4c; // 'L'
/** Tag after the tenant prefix: frames, `(tenant, streamId, minTs, offset, frame) → frame value`. */
export const TAG_FRAME = 0x46; // 'F'
/** Tag after the tenant prefix: frame heads, the frame key's tail → what a frame's value says before its bytes (segments whose meta has `heads`). */
export const TAG_HEAD = 0x48; // 'H'
/** Tag after the tenant prefix: token filters, the frame key's tail → a v2 frame's header with its filter (segments whose meta has `heads`). */
export const TAG_FILTER = 0x47; // 'G'
/** Second byte of the segment's meta key. */
export const SYS_META = 0x4d; // 'M'
/** Second byte of a quarantined block's key. */
export const SYS_QUARANTINE = 0x51; // 'Q'

/** The segment's one meta key: `00 4D`. */
export const META_KEY: Uint8Array = Uint8Array.of(KEY_SYSTEM, SYS_META);
/** Length of a frame value's header, before the compressed frame bytes. */
export const FRAME_VALUE_HEADER = 30;
/** Layout version of frame and stream values written by this module. */
export const VALUE_LAYOUT = 1;
/** Layout of a frame value compacted from several stored frames of one stream: a run table before the frame bytes. */
export const COMPACTED_VALUE_LAYOUT = 2;
/** Bytes of one row of a compacted frame's run table: offset (u64 LE), frame (u16 LE), count (u32 LE). */
const RUN_LENGTH = 14;
/** Length of a frame key after the tenant prefix: tag, streamId, minTs, offset, frame index. */
export const FRAME_KEY_TAIL = 1 + 8 + 8 + 8 + 2;

const SIGN = 1n << 63n;
const U64 = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** A half-open key range for LevelDB iterators. */
export interface KeyRange {
  gte: Uint8Array;
  lt: Uint8Array;
}

function view(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Encodes a signed 64-bit timestamp as 8 bytes whose byte order is the numeric order (sign bit flipped, big-endian). */
export function writeOrderedTs(buf: Buffer, ts: bigint, pos: number): void {
  buf.writeBigUInt64BE(BigInt.asUintN(64, ts) ^ SIGN, pos);
}

/** Inverse of `writeOrderedTs`. */
export function readOrderedTs(bytes: Uint8Array, pos: number): bigint {
  return BigInt.asIntN(64, view(bytes).readBigUInt64BE(pos) ^ SIGN);
}

/** The key prefix of a tenant (`u8 byteLength, UTF-8 bytes`), or null for a tenant of 0 or more than 255 bytes. */
export function tenantPrefix(tenant: string): Buffer | null {
  const n = Buffer.byteLength(tenant);
  if (n === 0 || n > 255) return null;
  const buf = Buffer.allocUnsafe(1 + n);
  buf[0] = n;
  buf.write(tenant, 1);
  return buf;
}

/** The smallest key greater than every key that starts with `prefix` (prefix must not be all 0xFF). */
export function prefixEnd(prefix: Uint8Array): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  throw new RangeError('prefixEnd: prefix is all 0xFF');
}

/** Key of a quarantined (undecodable) block: `00 51 offset(u64 BE)`. */
export function quarantineKey(offset: bigint): Buffer {
  const buf = Buffer.allocUnsafe(10);
  buf[0] = KEY_SYSTEM;
  buf[1] = SYS_QUARANTINE;
  buf.writeBigUInt64BE(offset, 2);
  return buf;
}

/** Range of every quarantine key of a segment. */
export function quarantineRange(): KeyRange {
  return { gte: Uint8Array.of(KEY_SYSTEM, SYS_QUARANTINE), lt: Uint8Array.of(KEY_SYSTEM, SYS_QUARANTINE + 1) };
}

/** Value of a quarantined block: `u32 LE reasonLength, reason JSON {code,message}, raw block bytes`. */
export function encodeQuarantine(code: string, message: string, block: Uint8Array): Buffer {
  const reason = Buffer.from(JSON.stringify({ code, message }));
  const buf = Buffer.allocUnsafe(4 + reason.length + block.byteLength);
  buf.writeUInt32LE(reason.length, 0);
  reason.copy(buf, 4);
  buf.set(block, 4 + reason.length);
  return buf;
}

/** Inverse of `encodeQuarantine`. */
export function decodeQuarantine(value: Uint8Array): { code: string; message: string; block: Uint8Array } {
  const buf = view(value);
  const n = buf.readUInt32LE(0);
  const reason = JSON.parse(buf.toString('utf8', 4, 4 + n)) as { code: string; message: string };
  return { code: reason.code, message: reason.message, block: buf.subarray(4 + n) };
}

/** The maxSpan of a registry value, without parsing its labels. */
export function streamValueSpan(value: Uint8Array): bigint {
  const buf = view(value);
  if (buf[0] !== VALUE_LAYOUT) throw new Error(`stream value layout ${buf[0]} unknown`);
  return buf.readBigUInt64BE(1);
}

/** Key of a stream's registry entry: `prefix 53 streamId(u64 BE)`. */
export function streamKey(prefix: Uint8Array, streamId: bigint): Buffer {
  const buf = Buffer.allocUnsafe(prefix.length + 9);
  buf.set(prefix, 0);
  buf[prefix.length] = TAG_STREAM;
  buf.writeBigUInt64BE(streamId, prefix.length + 1);
  return buf;
}

/** Range of a tenant's keys of one tag (TAG_STREAM, TAG_FRAME, …). */
export function tagRange(prefix: Uint8Array, tag: number): KeyRange {
  const gte = Buffer.allocUnsafe(prefix.length + 1);
  gte.set(prefix, 0);
  gte[prefix.length] = tag;
  return { gte, lt: prefixEnd(gte) };
}

/** Range of a tenant's stream registry. */
export function streamRange(prefix: Uint8Array): KeyRange {
  return tagRange(prefix, TAG_STREAM);
}

/** The stream id of a registry key. */
export function streamIdOfStreamKey(key: Uint8Array): bigint {
  return view(key).readBigUInt64BE(key.byteLength - 8);
}

/** Registry value: `u8 layout, u64 BE maxSpan, labels as JSON`; maxSpan is the largest maxTs − minTs of the stream's frames in this segment. */
export function encodeStreamValue(labels: Labels, maxSpan: bigint): Buffer {
  const json = Buffer.from(JSON.stringify(labels));
  const buf = Buffer.allocUnsafe(9 + json.length);
  buf[0] = VALUE_LAYOUT;
  buf.writeBigUInt64BE(maxSpan, 1);
  json.copy(buf, 9);
  return buf;
}

/** Inverse of `encodeStreamValue`. */
export function decodeStreamValue(value: Uint8Array): { labels: Labels; maxSpan: bigint } {
  const buf = view(value);
  if (buf[0] !== VALUE_LAYOUT) throw new Error(`stream value layout ${buf[0]} unknown`);
  return { maxSpan: buf.readBigUInt64BE(1), labels: JSON.parse(buf.toString('utf8', 9)) as Labels };
}

function labelIndexPrefixInto(prefix: Uint8Array, name: string, value: string, extra: number): { buf: Buffer; pos: number } {
  const nameLength = Buffer.byteLength(name);
  const valueLength = Buffer.byteLength(value);
  if (nameLength > 0xffff || valueLength > 0xffff) throw new RangeError('label name or value over 65535 bytes');
  const buf = Buffer.allocUnsafe(prefix.length + 1 + 2 + nameLength + 2 + valueLength + extra);
  buf.set(prefix, 0);
  let pos = prefix.length;
  buf[pos++] = TAG_LABEL;
  pos = buf.writeUInt16BE(nameLength, pos);
  pos += buf.write(name, pos);
  pos = buf.writeUInt16BE(valueLength, pos);
  pos += buf.write(value, pos);
  return { buf, pos };
}

/** Label index key: `prefix 4C u16 BE nameLength, name, u16 BE valueLength, value, streamId(u64 BE)`. */
export function labelIndexKey(prefix: Uint8Array, name: string, value: string, streamId: bigint): Buffer {
  const { buf, pos } = labelIndexPrefixInto(prefix, name, value, 8);
  buf.writeBigUInt64BE(streamId, pos);
  return buf;
}

/** Range of the label index keys of one (tenant, name, value): one key per stream id. */
export function labelIndexRange(prefix: Uint8Array, name: string, value: string): KeyRange {
  const { buf } = labelIndexPrefixInto(prefix, name, value, 0);
  return { gte: buf, lt: prefixEnd(buf) };
}

/** The stream id of a label index key (its last 8 bytes). */
export function streamIdOfLabelIndexKey(key: Uint8Array): bigint {
  return view(key).readBigUInt64BE(key.byteLength - 8);
}

/** Frame key: `prefix 46 streamId(u64 BE) minTs(ordered i64) offset(u64 BE) frame(u16 BE)`. */
export function frameKey(prefix: Uint8Array, streamId: bigint, minTs: bigint, offset: bigint, frame: number): Buffer {
  const p = prefix.length;
  const buf = Buffer.allocUnsafe(p + FRAME_KEY_TAIL);
  buf.set(prefix, 0);
  buf[p] = TAG_FRAME;
  buf.writeBigUInt64BE(streamId, p + 1);
  writeOrderedTs(buf, minTs, p + 9);
  buf.writeBigUInt64BE(offset, p + 17);
  buf.writeUInt16BE(frame, p + 25);
  return buf;
}

/** A copy of a frame key with another tag (TAG_HEAD, TAG_FILTER, TAG_FRAME): the same frame's key in that family. */
export function retagFrameKey(key: Uint8Array, prefixLength: number, tag: number): Buffer {
  const buf = Buffer.from(key);
  buf[prefixLength] = tag;
  return buf;
}

/** Fields of a frame key after the tenant prefix. */
export interface FrameKeyFields {
  streamId: bigint;
  minTs: bigint;
  offset: bigint;
  frame: number;
}

/** Decodes a frame key whose tenant prefix is `prefixLength` bytes. */
export function decodeFrameKey(key: Uint8Array, prefixLength: number): FrameKeyFields {
  const buf = view(key);
  return {
    streamId: buf.readBigUInt64BE(prefixLength + 1),
    minTs: readOrderedTs(buf, prefixLength + 9),
    offset: buf.readBigUInt64BE(prefixLength + 17),
    frame: buf.readUInt16BE(prefixLength + 25),
  };
}

/** Range of one stream's frames whose minTs is in [fromTs, toTs) (their heads with `tag` TAG_HEAD); bounds outside the i64 range are clamped. */
export function frameRange(prefix: Uint8Array, streamId: bigint, fromTs: bigint, toTs: bigint, tag = TAG_FRAME): KeyRange {
  const p = prefix.length;
  const base = Buffer.allocUnsafe(p + 17);
  base.set(prefix, 0);
  base[p] = tag;
  base.writeBigUInt64BE(streamId, p + 1);
  const streamPrefix = base.subarray(0, p + 9);
  const gte = Buffer.from(base);
  if (fromTs <= I64_MIN) gte.fill(0, p + 9);
  else if (fromTs > I64_MAX) return { gte: prefixEnd(streamPrefix), lt: prefixEnd(streamPrefix) };
  else writeOrderedTs(gte, fromTs, p + 9);
  let lt: Buffer;
  if (toTs > I64_MAX) lt = prefixEnd(streamPrefix);
  else if (toTs <= I64_MIN) lt = Buffer.from(streamPrefix);
  else {
    lt = Buffer.from(base);
    writeOrderedTs(lt, toTs, p + 9);
  }
  return { gte, lt };
}

/** Header of a stored frame, read without decompressing it. */
export interface FrameValueHeader {
  /** VALUE_LAYOUT for a frame as a block held it, COMPACTED_VALUE_LAYOUT for compacted frames. */
  layout: number;
  /** Version of the frame's bytes: 1, a block's frame; 2, a frame v2 (core/src/stored-frame.ts reads both). */
  version: number;
  rawLength: number;
  frameCrc: number;
  entryCount: number;
  minTs: bigint;
  maxTs: bigint;
}

/** One of the frames a compacted frame was made of: its entries, in order, are the compacted frame's next `count`. */
export interface FrameRun {
  offset: bigint;
  frame: number;
  count: number;
}

function writeFrameValueHeader(buf: Buffer, layout: number, version: number, f: Pick<FrameValueHeader, 'rawLength' | 'frameCrc' | 'entryCount' | 'minTs' | 'maxTs'>): void {
  buf[0] = layout;
  buf[1] = version;
  buf.writeUInt32LE(f.rawLength, 2);
  buf.writeUInt32LE(f.frameCrc, 6);
  buf.writeUInt32LE(f.entryCount, 10);
  buf.writeBigInt64LE(f.minTs, 14);
  buf.writeBigInt64LE(f.maxTs, 22);
}

/**
 * Frame value: `u8 layout, u8 block version, u32 LE rawLength, u32 LE frameCrc, u32 LE entryCount,
 * i64 LE minTs, i64 LE maxTs` (30 bytes) then the frame's compressed bytes as they were in the block.
 */
export function encodeFrameValue(blockVersion: number, info: BlockStreamInfo, frame: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_VALUE_HEADER + frame.byteLength);
  writeFrameValueHeader(buf, VALUE_LAYOUT, blockVersion, info);
  buf.set(frame, FRAME_VALUE_HEADER);
  return buf;
}

/** Compacted frame value: the 30-byte header (layout 2, the frame's version), `u32 LE` run count, the runs, then the frame bytes. */
export function encodeCompactedFrameValue(version: number, frame: EncodedFrame, runs: readonly FrameRun[]): Buffer {
  const start = FRAME_VALUE_HEADER + 4 + runs.length * RUN_LENGTH;
  const buf = Buffer.allocUnsafe(start + frame.bytes.length);
  writeFrameValueHeader(buf, COMPACTED_VALUE_LAYOUT, version, frame);
  buf.writeUInt32LE(runs.length, FRAME_VALUE_HEADER);
  let pos = FRAME_VALUE_HEADER + 4;
  for (const r of runs) {
    buf.writeBigUInt64LE(r.offset, pos);
    buf.writeUInt16LE(r.frame, pos + 8);
    buf.writeUInt32LE(r.count, pos + 10);
    pos += RUN_LENGTH;
  }
  frame.bytes.copy(buf, start);
  return buf;
}

/** Reads a frame value's header; throws on an unknown layout or a value shorter than its header. */
export function readFrameValueHeader(value: Uint8Array): FrameValueHeader {
  const buf = view(value);
  const layout = buf[0];
  if (buf.length < FRAME_VALUE_HEADER || (layout !== VALUE_LAYOUT && layout !== COMPACTED_VALUE_LAYOUT)) throw new Error(`frame value layout ${layout} unknown or value truncated`);
  return {
    layout,
    version: buf[1]!,
    rawLength: buf.readUInt32LE(2),
    frameCrc: buf.readUInt32LE(6),
    entryCount: buf.readUInt32LE(10),
    minTs: buf.readBigInt64LE(14),
    maxTs: buf.readBigInt64LE(22),
  };
}

function runCount(buf: Buffer): number {
  if (buf[0] !== COMPACTED_VALUE_LAYOUT) return 0;
  const n = buf.readUInt32LE(FRAME_VALUE_HEADER);
  if (buf.length < FRAME_VALUE_HEADER + 4 + n * RUN_LENGTH) throw new Error('compacted frame value truncated');
  return n;
}

/** Marks a head's lines length and attribute key count as unknown: a v1 frame tells them only once decoded. */
const HEAD_UNKNOWN = 0xffffffff;

/** A frame head as `readFrameHead` reads it. */
export interface FrameHead {
  /** The head as stored: `frameValueRuns` reads a compacted frame's runs from it. */
  bytes: Uint8Array;
  header: FrameValueHeader;
  /** UTF-8 bytes of the frame's lines together; null for a v1 frame. */
  linesLength: number | null;
  /** Distinct attribute keys of the frame (0: no entry has structured metadata); null for a v1 frame. */
  attrKeyCount: number | null;
}

/**
 * A frame's head: its value up to the frame bytes (the 30-byte header, and a compacted value's run
 * table), then `u32 LE linesLength` and `u32 LE attrKeyCount` from a v2 frame's header
 * (0xFFFFFFFF each for a v1 frame). `frameValueRuns` and `readFrameValueHeader` read it as they read the value.
 */
export function encodeFrameHead(value: Uint8Array, v2: { linesLength: number; attrKeyCount: number } | null): Buffer {
  const buf = view(value);
  const end = bytesStart(buf);
  const head = Buffer.allocUnsafe(end + 8);
  buf.copy(head, 0, 0, end);
  head.writeUInt32LE(v2?.linesLength ?? HEAD_UNKNOWN, end);
  head.writeUInt32LE(v2?.attrKeyCount ?? HEAD_UNKNOWN, end + 4);
  return head;
}

/** Reads a frame head (see encodeFrameHead); throws when it is not one. */
export function readFrameHead(head: Uint8Array): FrameHead {
  const buf = view(head);
  const header = readFrameValueHeader(buf);
  const end = bytesStart(buf);
  if (buf.length !== end + 8) throw new Error(`frame head of ${buf.length} bytes, expected ${end + 8}`);
  const linesLength = buf.readUInt32LE(end);
  const attrKeyCount = buf.readUInt32LE(end + 4);
  return { bytes: head, header, linesLength: linesLength === HEAD_UNKNOWN ? null : linesLength, attrKeyCount: attrKeyCount === HEAD_UNKNOWN ? null : attrKeyCount };
}

/** Where a frame value's frame bytes start: after its header and, compacted, its run table (also where a head's summary starts). */
function bytesStart(buf: Buffer): number {
  return buf[0] === COMPACTED_VALUE_LAYOUT ? FRAME_VALUE_HEADER + 4 + runCount(buf) * RUN_LENGTH : FRAME_VALUE_HEADER;
}

/** The compressed frame bytes of a frame value. */
export function frameValueBytes(value: Uint8Array): Uint8Array {
  const buf = view(value);
  return buf.subarray(bytesStart(buf));
}

/**
 * The entries of a compacted frame value (or its head) whose runs came from offsets below
 * `maxOffset`, as flat index ranges [from, to) with adjacent ranges joined, and the entries of all
 * its runs; read in place, with no object per run (a scan asks this of every compacted frame).
 */
export function runsBelow(value: Uint8Array, maxOffset: bigint): { kept: number[]; total: number } {
  const buf = view(value);
  const n = runCount(buf);
  const capped = maxOffset >= 1n << 64n;
  const maxHigh = capped ? 0 : Number(maxOffset >> 32n);
  const maxLow = capped ? 0 : Number(maxOffset & 0xffffffffn);
  const kept: number[] = [];
  let at = 0;
  for (let i = 0, pos = FRAME_VALUE_HEADER + 4; i < n; i++, pos += RUN_LENGTH) {
    const high = buf.readUInt32LE(pos + 4);
    const count = buf.readUInt32LE(pos + 10);
    if (capped || high < maxHigh || (high === maxHigh && buf.readUInt32LE(pos) < maxLow)) {
      if (kept.length > 0 && kept[kept.length - 1] === at) kept[kept.length - 1] = at + count;
      else kept.push(at, at + count);
    }
    at += count;
  }
  return { kept, total: at };
}

/** The run table of a compacted frame value (empty for a frame as a block held it). */
export function frameValueRuns(value: Uint8Array): FrameRun[] {
  const buf = view(value);
  const n = runCount(buf);
  const runs: FrameRun[] = [];
  for (let i = 0, pos = FRAME_VALUE_HEADER + 4; i < n; i++, pos += RUN_LENGTH) {
    runs.push({ offset: buf.readBigUInt64LE(pos), frame: buf.readUInt16LE(pos + 8), count: buf.readUInt32LE(pos + 10) });
  }
  return runs;
}

/** Directory name of a partition: `p-<partition>`. */
export function partitionDirName(partition: number): string {
  return `p-${partition}`;
}

/** The partition of a directory name, or null if it is not one. */
export function parsePartitionDirName(name: string): number | null {
  const m = /^p-(0|[1-9][0-9]{0,8})$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Directory name of a segment: `seg-<first offset, 20 digits>`. */
export function segmentDirName(firstOffset: bigint): string {
  if (firstOffset < 0n || firstOffset > U64) throw new RangeError(`segment offset ${firstOffset} out of range`);
  return `seg-${firstOffset.toString().padStart(20, '0')}`;
}

/** The first offset of a segment directory name, or null if it is not one. */
export function parseSegmentDirName(name: string): bigint | null {
  const m = /^seg-([0-9]{20})$/.exec(name);
  return m ? BigInt(m[1]!) : null;
}
