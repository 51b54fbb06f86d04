/**
 * The block codec: one Kafka message value holds one tenant's entries for one partition, grouped by
 * stream into independently zstd-compressed frames. docs/FORMAT.md specifies every byte.
 */
import { crc32 } from 'node:zlib';
import { CCtx, DCtx, compressBound, findFrameCompressedSize, getFrameContentSize, maxCLevel, minCLevel } from 'zstd-napi/binding';
import { BlockFormatError } from './errors';
import { I64_MAX, I64_MIN, MAX_BLOCK_ENTRIES, PayloadTimes, corrupt, parsePayload, scanPayloadTimes, setOwn, type DecodedPayload } from './frame-payload';
import { SCRATCH_RETAIN, Writer } from './byte-writer';
import { type Labels, sortedLabelPairs, streamId } from './labels';
import type { PayloadRun } from './payload-run';

export { MAX_BLOCK_ENTRIES, PayloadTimes };

/** The format version this module writes, and the only one it reads. */
export const BLOCK_FORMAT_VERSION = 1;
/** The four ASCII bytes every block starts with. */
export const BLOCK_MAGIC = 'SILT';
/** Codec byte of a block whose frames are zstd frames, the only codec of version 1. */
export const BLOCK_CODEC_ZSTD = 1;
/** Largest uncompressed payload of one frame, and of all the frames of one block together. */
export const MAX_RAW_LENGTH = 64 * 1024 * 1024;
/** zstd level `encodeBlock` uses when none is given. */
export const DEFAULT_COMPRESSION_LEVEL = 3;

/** One log entry: ts is nanoseconds since the epoch. */
export interface BlockEntry {
  ts: bigint;
  line: string;
  attrs?: Record<string, string>;
}
/** A payload run of a stream's entries and where it goes among them: before `entries[at]` (at the end when `at` is their count). */
export interface PlacedRun {
  at: number;
  run: PayloadRun;
}
/** The entries of one stream, in push order, for `encodeBlock`: objects, and runs already in the payload format placed among them. */
export interface BlockStreamInput {
  labels: Labels;
  entries: BlockEntry[];
  runs?: PlacedRun[];
}
/** Everything one block holds: one tenant, one or more streams. */
export interface BlockInput {
  tenant: string;
  streams: BlockStreamInput[];
}
/** Options of `encodeBlock`. */
export interface EncodeOptions {
  level?: number;
}
/** One row of a block's stream table: where a stream's frame is and what it holds. */
export interface BlockStreamInfo {
  streamId: bigint;
  labels: Labels;
  entryCount: number;
  minTs: bigint;
  maxTs: bigint;
  frameOffset: number;
  frameLength: number;
  rawLength: number;
  frameCrc: number;
}
/** A block's uncompressed header, read without decompressing anything. */
export interface BlockHeader {
  version: number;
  codec: number;
  tenant: string;
  entryCount: number;
  minTs: bigint;
  maxTs: bigint;
  streams: BlockStreamInfo[];
  headerLength: number;
}
/** A whole block: its header and every stream's entries. */
export interface DecodedBlock {
  header: BlockHeader;
  streams: { info: BlockStreamInfo; entries: BlockEntry[] }[];
}

const OFF_VERSION = 4;
const OFF_CODEC = 5;
const OFF_FLAGS = 6;
const OFF_CRC = 8;
const OFF_TOTAL_LENGTH = 12;
const OFF_HEADER_LENGTH = 16;
const OFF_ENTRY_COUNT = 20;
const OFF_MIN_TS = 24;
const OFF_MAX_TS = 32;
const OFF_STREAM_COUNT = 40;
const OFF_TENANT_LENGTH = 42;
const FIXED_HEADER_LENGTH = 44;
const STREAM_ROW_LENGTH = 46;
const MAGIC = Buffer.from(BLOCK_MAGIC, 'latin1');
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
let cctx: CCtx | undefined;
let dctx: DCtx | undefined;
const payloadWriter = new Writer();
const blockWriter = new Writer();
let rawScratch = Buffer.allocUnsafe(0);

/** `bytes` as a Buffer over the same memory (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u16Length(s: string, what: string): number {
  const n = Buffer.byteLength(s);
  if (n > U16_MAX) throw new RangeError(`block: ${what} is ${n} bytes, more than ${U16_MAX}`);
  return n;
}

interface PayloadSummary {
  minTs: bigint;
  maxTs: bigint;
}

const NO_RUNS: PlacedRun[] = [];

/** The entries of a stream input, its runs' included. */
function entryCountOf(stream: BlockStreamInput): number {
  let n = stream.entries.length;
  if (stream.runs !== undefined) for (const { run } of stream.runs) n += run.entries;
  return n;
}

// Serializes one stream's entries into `w` from its position on (see "Frame payload" in docs/FORMAT.md).
function writePayload(w: Writer, entries: BlockEntry[], runs: readonly PlacedRun[] = NO_RUNS): PayloadSummary {
  let minTs = I64_MAX;
  let maxTs = I64_MIN;
  let prev = 0n;
  let prevAttrs: Record<string, string> | undefined;
  let prevAttrsStart = 0;
  let prevAttrsEnd = 0;
  let r = 0;
  for (let i = 0; i <= entries.length; i++) {
    // A run is its entries' bytes but the first one's delta, which is relative to what precedes it here.
    for (; r < runs.length && runs[r]!.at === i; r++) {
      const run = runs[r]!.run;
      w.reserve(10 + run.bytes.length);
      w.delta(run.firstTs - prev);
      run.bytes.copy(w.buf, w.pos);
      w.pos += run.bytes.length;
      prev = run.lastTs;
      if (run.minTs < minTs) minTs = run.minTs;
      if (run.maxTs > maxTs) maxTs = run.maxTs;
    }
    if (i === entries.length) break;
    const entry = entries[i]!;
    const ts = entry.ts;
    if (ts < minTs) minTs = ts;
    if (ts > maxTs) maxTs = ts;
    const delta = ts - prev;
    prev = ts;
    const line = entry.line;
    const lineLength = Buffer.byteLength(line);
    w.reserve(10 + 5 + lineLength + 5);
    w.delta(delta);
    w.string(line, lineLength);
    const attrs = entry.attrs;
    if (attrs === undefined) {
      w.buf[w.pos++] = 0;
      continue;
    }
    // Entries often share one attrs object (a shipper's batch of one severity): its bytes are copied, not encoded again.
    if (attrs === prevAttrs) {
      const length = prevAttrsEnd - prevAttrsStart;
      w.reserve(length);
      w.buf.copy(w.buf, w.pos, prevAttrsStart, prevAttrsEnd);
      prevAttrsStart = w.pos;
      w.pos += length;
      prevAttrsEnd = w.pos;
      continue;
    }
    prevAttrs = attrs;
    prevAttrsStart = w.pos;
    w.attrs(attrs);
    prevAttrsEnd = w.pos;
  }
  if (minTs < I64_MIN || maxTs > I64_MAX) throw new RangeError(`block: timestamp outside the signed 64-bit range (${minTs}..${maxTs})`);
  return { minTs, maxTs };
}

/** One stream of a serialized block: what its stream table row says, and its payload's raw length. */
export interface SerializedStream {
  id: bigint;
  pairs: [string, string][];
  entryCount: number;
  minTs: bigint;
  maxTs: bigint;
  rawLength: number;
}

/**
 * A block with every frame's payload written but none compressed (the costly part, which may run
 * on another thread): the payloads back to back in memory of their own, which may be transferred.
 */
export interface SerializedBlock {
  tenant: string;
  tenantLength: number;
  headerLength: number;
  entryCount: number;
  streams: SerializedStream[];
  payload: Buffer;
}

/** A block's frames compressed: back to back in `frames`, with each one's length and CRC-32. */
export interface CompressedFrames {
  frames: Buffer;
  lengths: number[];
  crcs: number[];
}

function checkLevel(level: number, what: string): void {
  if (!Number.isInteger(level) || level < minCLevel() || level > maxCLevel()) throw new RangeError(`${what}: invalid zstd level ${level}`);
}

/** Writes every stream's payload of a block (see encodeBlock); throws RangeError for input the format cannot hold. */
export function serializeBlock(input: BlockInput): SerializedBlock {
  const { tenant, streams } = input;
  if (streams.length === 0 || streams.length > U16_MAX) throw new RangeError(`block: needs 1 to ${U16_MAX} streams, got ${streams.length}`);
  const tenantLength = u16Length(tenant, 'tenant');
  let headerLength = FIXED_HEADER_LENGTH + tenantLength;
  let entryCount = 0;
  const out: SerializedStream[] = [];
  for (const stream of streams) {
    const pairs = sortedLabelPairs(stream.labels);
    if (pairs.length > U16_MAX) throw new RangeError(`block: more than ${U16_MAX} labels`);
    headerLength += STREAM_ROW_LENGTH;
    for (const [name, value] of pairs) headerLength += 4 + u16Length(name, 'label name') + u16Length(value, 'label value');
    const count = entryCountOf(stream);
    if (count === 0) throw new RangeError('block: a stream has no entries');
    entryCount += count;
    out.push({ id: streamId(tenant, stream.labels), pairs, entryCount: count, minTs: 0n, maxTs: 0n, rawLength: 0 });
  }
  if (entryCount > MAX_BLOCK_ENTRIES) throw new RangeError(`block: ${entryCount} entries, more than ${MAX_BLOCK_ENTRIES}`);
  const all = payloadWriter;
  all.pos = 0;
  try {
    for (let i = 0; i < streams.length; i++) {
      const start = all.pos;
      const { minTs, maxTs } = writePayload(all, streams[i]!.entries, streams[i]!.runs);
      if (all.pos > MAX_RAW_LENGTH) throw new RangeError(`block: uncompressed payload over ${MAX_RAW_LENGTH} bytes`);
      Object.assign(out[i]!, { minTs, maxTs, rawLength: all.pos - start });
    }
    // Memory of its own (never Node's shared pool), so the payload can be handed to a worker thread.
    const payload = Buffer.allocUnsafeSlow(all.pos);
    all.buf.copy(payload, 0, 0, all.pos);
    return { tenant, tenantLength, headerLength, entryCount, streams: out, payload };
  } finally {
    payloadWriter.release();
  }
}

/** Compresses payloads lying back to back (`rawLengths` each) into zstd frames, each with its CRC-32; pure, so any thread may run it. */
export function compressFrames(payload: Uint8Array, rawLengths: readonly number[], level: number): CompressedFrames {
  checkLevel(level, 'block');
  cctx ??= new CCtx();
  let bound = 0;
  for (const n of rawLengths) bound += compressBound(n);
  const frames = Buffer.allocUnsafeSlow(bound);
  const lengths: number[] = [];
  const crcs: number[] = [];
  let at = 0;
  let pos = 0;
  for (const n of rawLengths) {
    const length = cctx.compress(frames.subarray(pos), payload.subarray(at, at + n), level);
    crcs.push(crc32(frames.subarray(pos, pos + length)));
    lengths.push(length);
    at += n;
    pos += length;
  }
  return { frames: frames.subarray(0, pos), lengths, crcs };
}

/** The block's bytes: the header and stream table of `block`, then its compressed frames. */
export function assembleBlock(block: SerializedBlock, compressed: CompressedFrames): Buffer {
  const { tenant, tenantLength, headerLength, streams } = block;
  const totalLength = headerLength + compressed.frames.length;
  if (totalLength > U32_MAX) throw new RangeError(`block: ${totalLength} bytes, more than ${U32_MAX}`);
  const buf = Buffer.allocUnsafe(totalLength);
  compressed.frames.copy(buf, headerLength);
  let minTs = streams[0]!.minTs;
  let maxTs = streams[0]!.maxTs;
  for (const s of streams) {
    if (s.minTs < minTs) minTs = s.minTs;
    if (s.maxTs > maxTs) maxTs = s.maxTs;
  }
  MAGIC.copy(buf, 0);
  buf[OFF_VERSION] = BLOCK_FORMAT_VERSION;
  buf[OFF_CODEC] = BLOCK_CODEC_ZSTD;
  buf.writeUInt16LE(0, OFF_FLAGS);
  buf.writeUInt32LE(totalLength, OFF_TOTAL_LENGTH);
  buf.writeUInt32LE(headerLength, OFF_HEADER_LENGTH);
  buf.writeUInt32LE(block.entryCount, OFF_ENTRY_COUNT);
  buf.writeBigInt64LE(minTs, OFF_MIN_TS);
  buf.writeBigInt64LE(maxTs, OFF_MAX_TS);
  buf.writeUInt16LE(streams.length, OFF_STREAM_COUNT);
  buf.writeUInt16LE(tenantLength, OFF_TENANT_LENGTH);
  let pos = FIXED_HEADER_LENGTH + buf.write(tenant, FIXED_HEADER_LENGTH, tenantLength);
  let frameOffset = headerLength;
  for (let i = 0; i < streams.length; i++) {
    const s = streams[i]!;
    const frameLength = compressed.lengths[i]!;
    buf.writeBigUInt64LE(s.id, pos);
    buf.writeUInt32LE(s.entryCount, pos + 8);
    buf.writeBigInt64LE(s.minTs, pos + 12);
    buf.writeBigInt64LE(s.maxTs, pos + 20);
    buf.writeUInt32LE(frameOffset, pos + 28);
    buf.writeUInt32LE(frameLength, pos + 32);
    buf.writeUInt32LE(s.rawLength, pos + 36);
    buf.writeUInt32LE(compressed.crcs[i]!, pos + 40);
    buf.writeUInt16LE(s.pairs.length, pos + 44);
    pos += STREAM_ROW_LENGTH;
    for (const [name, value] of s.pairs) {
      pos = buf.writeUInt16LE(Buffer.byteLength(name), pos);
      pos += buf.write(name, pos);
      pos = buf.writeUInt16LE(Buffer.byteLength(value), pos);
      pos += buf.write(value, pos);
    }
    frameOffset += frameLength;
  }
  buf.writeUInt32LE(crc32(buf.subarray(OFF_TOTAL_LENGTH, totalLength)), OFF_CRC);
  return buf;
}

/** Encodes one tenant's streams into a block on this thread; throws RangeError for input the format cannot hold. */
export function encodeBlock(input: BlockInput, options: EncodeOptions = {}): Buffer {
  const level = options.level ?? DEFAULT_COMPRESSION_LEVEL;
  checkLevel(level, 'block');
  const block = serializeBlock(input);
  return assembleBlock(block, compressFrames(block.payload, rawLengthsOf(block), level));
}

/** Each frame's raw length, in stream order: what `compressFrames` cuts a serialized block's payload by. */
export function rawLengthsOf(block: SerializedBlock): number[] {
  return block.streams.map((s) => s.rawLength);
}

/** One stream's entries as a stand-alone frame: what a stream table row says of it, and its zstd bytes. */
export interface EncodedFrame {
  bytes: Buffer;
  rawLength: number;
  frameCrc: number;
  entryCount: number;
  minTs: bigint;
  maxTs: bigint;
}

/**
 * Encodes entries as one stand-alone frame (the payload and zstd of a block's frame, without the
 * block around it), which decodeFrameBytes reads back; used to merge small frames into bigger ones.
 */
export function encodeFrame(entries: BlockEntry[], level: number): EncodedFrame {
  checkLevel(level, 'frame');
  if (entries.length === 0 || entries.length > MAX_BLOCK_ENTRIES) throw new RangeError(`frame: needs 1 to ${MAX_BLOCK_ENTRIES} entries, got ${entries.length}`);
  cctx ??= new CCtx();
  try {
    payloadWriter.pos = 0;
    const { minTs, maxTs } = writePayload(payloadWriter, entries);
    const rawLength = payloadWriter.pos;
    if (rawLength > MAX_RAW_LENGTH) throw new RangeError(`frame: uncompressed payload over ${MAX_RAW_LENGTH} bytes`);
    const out = blockWriter;
    out.pos = 0;
    out.reserve(compressBound(rawLength));
    const n = cctx.compress(out.buf.subarray(0, out.buf.length), payloadWriter.buf.subarray(0, rawLength), level);
    const bytes = Buffer.from(out.buf.subarray(0, n));
    return { bytes, rawLength, frameCrc: crc32(bytes), entryCount: entries.length, minTs, maxTs };
  } finally {
    payloadWriter.release();
    blockWriter.release();
  }
}

/** Reads and checks a block's header and stream table; verifies the block's and every frame's CRC-32. */
export function readBlockHeader(block: Uint8Array): BlockHeader {
  const buf = asBuffer(block);
  const len = buf.length;
  for (let i = 0; i < MAGIC.length && i < len; i++) {
    if (buf[i] !== MAGIC[i]) throw new BlockFormatError('SILT_BLOCK_MAGIC', 'not a Silt block: bad magic');
  }
  if (len <= OFF_VERSION) throw new BlockFormatError('SILT_BLOCK_TRUNCATED', `truncated block: ${len} bytes`);
  const version = buf[OFF_VERSION]!;
  if (version !== BLOCK_FORMAT_VERSION) {
    throw new BlockFormatError('SILT_BLOCK_VERSION', `unsupported block format version ${version} (this reader knows ${BLOCK_FORMAT_VERSION})`, { version });
  }
  if (len < FIXED_HEADER_LENGTH) throw new BlockFormatError('SILT_BLOCK_TRUNCATED', `truncated block: ${len} bytes`);
  const codec = buf[OFF_CODEC]!;
  if (codec !== BLOCK_CODEC_ZSTD) throw corrupt(`unknown codec ${codec}`);
  const flags = buf.readUInt16LE(OFF_FLAGS);
  if (flags !== 0) throw corrupt(`unknown flags ${flags}`);
  const totalLength = buf.readUInt32LE(OFF_TOTAL_LENGTH);
  if (totalLength > len) throw new BlockFormatError('SILT_BLOCK_TRUNCATED', `truncated block: ${len} of ${totalLength} bytes`);
  if (totalLength < len) throw corrupt(`${len - totalLength} bytes after the end of the block`);
  if (crc32(buf.subarray(OFF_TOTAL_LENGTH)) !== buf.readUInt32LE(OFF_CRC)) throw new BlockFormatError('SILT_BLOCK_CHECKSUM', 'block checksum mismatch');

  const headerLength = buf.readUInt32LE(OFF_HEADER_LENGTH);
  if (headerLength < FIXED_HEADER_LENGTH || headerLength > totalLength) throw corrupt(`header length ${headerLength} out of range`);
  const entryCount = buf.readUInt32LE(OFF_ENTRY_COUNT);
  if (entryCount > MAX_BLOCK_ENTRIES) throw corrupt(`${entryCount} entries, more than ${MAX_BLOCK_ENTRIES}`);
  const minTs = buf.readBigInt64LE(OFF_MIN_TS);
  const maxTs = buf.readBigInt64LE(OFF_MAX_TS);
  const streamCount = buf.readUInt16LE(OFF_STREAM_COUNT);
  if (streamCount === 0) throw corrupt('no streams');
  let pos = OFF_TENANT_LENGTH;
  const readString = (): string => {
    if (pos + 2 > headerLength) throw corrupt('header string past the end of the header');
    const n = buf.readUInt16LE(pos);
    pos += 2;
    if (pos + n > headerLength) throw corrupt('header string past the end of the header');
    pos += n;
    return buf.toString('utf8', pos - n, pos);
  };
  const tenant = readString();

  const streams: BlockStreamInfo[] = [];
  let nextFrame = headerLength;
  let entrySum = 0;
  let rawSum = 0;
  let seenMin = I64_MAX;
  let seenMax = I64_MIN;
  for (let i = 0; i < streamCount; i++) {
    if (pos + STREAM_ROW_LENGTH > headerLength) throw corrupt('stream table past the end of the header');
    const id = buf.readBigUInt64LE(pos);
    const count = buf.readUInt32LE(pos + 8);
    const sMin = buf.readBigInt64LE(pos + 12);
    const sMax = buf.readBigInt64LE(pos + 20);
    const frameOffset = buf.readUInt32LE(pos + 28);
    const frameLength = buf.readUInt32LE(pos + 32);
    const rawLength = buf.readUInt32LE(pos + 36);
    const frameCrc = buf.readUInt32LE(pos + 40);
    const labelCount = buf.readUInt16LE(pos + 44);
    pos += STREAM_ROW_LENGTH;
    const labels: Labels = {};
    let prevName: string | undefined;
    for (let j = 0; j < labelCount; j++) {
      const name = readString();
      const value = readString();
      if (prevName !== undefined && !(name > prevName)) throw corrupt(`stream ${i}: labels not sorted by name`);
      prevName = name;
      setOwn(labels, name, value);
    }
    if (count === 0) throw corrupt(`stream ${i}: no entries`);
    if (sMin > sMax) throw corrupt(`stream ${i}: min timestamp after max timestamp`);
    if (frameOffset !== nextFrame) throw corrupt(`stream ${i}: frame at ${frameOffset}, expected ${nextFrame}`);
    if (frameLength > totalLength - frameOffset) throw corrupt(`stream ${i}: frame past the end of the block`);
    nextFrame += frameLength;
    rawSum += rawLength;
    if (rawSum > MAX_RAW_LENGTH) throw corrupt(`uncompressed payload over ${MAX_RAW_LENGTH} bytes`);
    if (streamId(tenant, labels) !== id) throw corrupt(`stream ${i}: stream id does not match tenant and labels`);
    if (crc32(buf.subarray(frameOffset, nextFrame)) !== frameCrc) throw new BlockFormatError('SILT_BLOCK_CHECKSUM', `stream ${i}: frame checksum mismatch`);
    entrySum += count;
    if (sMin < seenMin) seenMin = sMin;
    if (sMax > seenMax) seenMax = sMax;
    streams.push({ streamId: id, labels, entryCount: count, minTs: sMin, maxTs: sMax, frameOffset, frameLength, rawLength, frameCrc });
  }
  if (pos !== headerLength) throw corrupt(`stream table ends at ${pos}, header length says ${headerLength}`);
  if (nextFrame !== totalLength) throw corrupt(`frames end at ${nextFrame}, block length says ${totalLength}`);
  if (entrySum !== entryCount) throw corrupt(`entry count ${entryCount} differs from the streams' sum ${entrySum}`);
  if (seenMin !== minTs || seenMax !== maxTs) throw corrupt('block time range differs from the streams\' time ranges');
  return { version, codec, tenant, entryCount, minTs, maxTs, streams, headerLength };
}

function decompressFrame(frame: Buffer, rawLength: number): Buffer {
  if (!Number.isInteger(rawLength) || rawLength < 0 || rawLength > MAX_RAW_LENGTH) throw corrupt(`raw length ${rawLength} out of range`);
  // The zstd frame header must agree with rawLength before anything is allocated, so a hostile
  // length costs nothing; anything zstd rejects is corruption, never a native error.
  let contentSize: number | null;
  let frameSize: number;
  try {
    contentSize = getFrameContentSize(frame);
    frameSize = findFrameCompressedSize(frame);
  } catch {
    throw corrupt('not a zstd frame');
  }
  if (contentSize !== rawLength) throw corrupt(`zstd frame holds ${contentSize ?? 'an unknown number of'} bytes, expected ${rawLength}`);
  if (frameSize !== frame.length) throw corrupt('bytes after the zstd frame');
  if (rawScratch.length < rawLength) rawScratch = Buffer.allocUnsafe(Math.max(rawLength, rawScratch.length * 2));
  dctx ??= new DCtx();
  let n: number;
  try {
    n = dctx.decompress(rawScratch.subarray(0, rawLength), frame);
  } catch (err) {
    throw corrupt(`zstd: ${(err as Error).message}`);
  }
  if (n !== rawLength) throw corrupt(`zstd frame decompressed to ${n} bytes, expected ${rawLength}`);
  return rawScratch;
}

/** Decompresses `frame` into the scratch buffer for `use`, then lets an oversized scratch buffer go. */
export function withPayload<T>(frame: Buffer, rawLength: number, use: (raw: Buffer) => T): T {
  try {
    return use(decompressFrame(frame, rawLength));
  } finally {
    if (rawScratch.length > SCRATCH_RETAIN) rawScratch = Buffer.allocUnsafe(0);
  }
}

function decodePayload(frame: Buffer, rawLength: number): DecodedPayload {
  return withPayload(frame, rawLength, (raw) => parsePayload(raw, rawLength));
}

function checkAgainstInfo(decoded: DecodedPayload, info: BlockStreamInfo): BlockEntry[] {
  if (decoded.entries.length !== info.entryCount) throw corrupt(`frame holds ${decoded.entries.length} entries, stream table says ${info.entryCount}`);
  if (decoded.minTs !== info.minTs || decoded.maxTs !== info.maxTs) throw corrupt('frame time range differs from the stream table');
  return decoded.entries;
}

/** Decodes the entries of one stream of a block, decompressing that stream's frame only. */
export function decodeFrame(block: Uint8Array, info: BlockStreamInfo): BlockEntry[] {
  const buf = asBuffer(block);
  const { frameOffset, frameLength } = info;
  if (!Number.isInteger(frameOffset) || !Number.isInteger(frameLength) || frameOffset < 0 || frameLength < 0) throw corrupt('invalid frame position');
  if (frameOffset + frameLength > buf.length) throw new BlockFormatError('SILT_BLOCK_TRUNCATED', `truncated block: frame ends at ${frameOffset + frameLength}, block has ${buf.length} bytes`);
  const frame = buf.subarray(frameOffset, frameOffset + frameLength);
  if (crc32(frame) !== info.frameCrc) throw new BlockFormatError('SILT_BLOCK_CHECKSUM', 'frame checksum mismatch');
  return checkAgainstInfo(decodePayload(frame, info.rawLength), info);
}

/**
 * Decodes a frame stored on its own, given the raw length and CRC-32 from its stream table row.
 * With `mustContain`, returns null, without parsing a single entry, when the decompressed payload
 * lacks one of those byte strings (no line in it can contain that string either).
 */
export function decodeFrameBytes(frame: Uint8Array, rawLength: number, frameCrc: number, mustContain?: readonly Uint8Array[]): BlockEntry[] | null {
  const buf = asBuffer(frame);
  if (crc32(buf) !== frameCrc) throw new BlockFormatError('SILT_BLOCK_CHECKSUM', 'frame checksum mismatch');
  return withPayload(buf, rawLength, (raw) => {
    if (mustContain !== undefined) {
      const payload = raw.subarray(0, rawLength);
      for (const needle of mustContain) if (payload.indexOf(needle) < 0) return null;
    }
    return parsePayload(raw, rawLength).entries;
  });
}

/**
 * Reads the timestamps and line lengths of a frame stored on its own (see decodeFrameBytes) into
 * `out`, without building its entries; false when the frame needs decodeFrameBytes instead (an
 * entry with attributes, or times beyond exact doubles: see scanPayloadTimes).
 */
export function decodeFrameTimes(frame: Uint8Array, rawLength: number, frameCrc: number, entryCount: number, out: PayloadTimes): boolean {
  const buf = asBuffer(frame);
  if (crc32(buf) !== frameCrc) throw new BlockFormatError('SILT_BLOCK_CHECKSUM', 'frame checksum mismatch');
  return withPayload(buf, rawLength, (raw) => scanPayloadTimes(raw, rawLength, entryCount, out));
}

/** Decodes a whole block: header and every stream's entries. */
export function decodeBlock(block: Uint8Array): DecodedBlock {
  const buf = asBuffer(block);
  const header = readBlockHeader(buf);
  // readBlockHeader has verified every frame's CRC, so frames are decompressed without a second pass.
  const streams = header.streams.map((info) => ({
    info,
    entries: checkAgainstInfo(decodePayload(buf.subarray(info.frameOffset, info.frameOffset + info.frameLength), info.rawLength), info),
  }));
  return { header, streams };
}
