/**
 * The dump of one segment, as a peer streams it to a node rebuilding the partition: a header, every
 * key/value pair of one LevelDB snapshot of the segment in key order, a trailer that counts them, and
 * a SHA-256 of everything before it. Both sides stream it in bounded chunks. docs/STORAGE.md,
 * "Rebuild from a peer".
 */
import { createHash, type Hash } from 'node:crypto';
import { DumpFormatError } from '../../../core/src/errors';

/** First 8 bytes of a dump. */
const MAGIC = Buffer.from('SILTDUMP', 'latin1');
/** Version of the dump layout. */
export const DUMP_VERSION = 1;
/** magic(8) version(1) partition(u32 LE) first(u64 LE). */
const HEADER_LENGTH = 8 + 1 + 4 + 8;
/** A record's two u32 LE lengths; a key length of 0 ends the records (a LevelDB key of a segment is never empty). */
const RECORD_HEAD = 8;
const DIGEST_LENGTH = 32;
/** Longest key and value a dump carries: a segment's keys are at most a few KiB (a chunk holds any); a quarantined block is at most Kafka's message size. */
const MAX_KEY = 192 * 1024;
const MAX_VALUE = 64 * 1024 * 1024;
const MAX_TRAILER = 64 * 1024;
/** Target size of one chunk the encoder hands out; values at least this big go out on their own, uncopied. */
const CHUNK_BYTES = 256 * 1024;

/** What a dump's trailer states; the receiver checks it against the records it read. */
export interface DumpTrailer {
  /** Key/value pairs sent. */
  pairs: number;
  /** Their key and value bytes. */
  bytes: number;
  /** The applied offset and entry count of the segment meta in the snapshot, decimal; null when the segment had no meta yet (created, never written). */
  applied: string | null;
  entries: number | null;
}

/** Encodes one segment's dump into chunks of about 256 KiB, hashing as it goes. */
export class DumpEncoder {
  private readonly hash: Hash = createHash('sha256');
  private chunk: Buffer;
  private used = 0;
  private pairs = 0;
  private bytes = 0;

  constructor(partition: number, first: bigint) {
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    MAGIC.copy(this.chunk, 0);
    this.chunk[8] = DUMP_VERSION;
    this.chunk.writeUInt32LE(partition, 9);
    this.chunk.writeBigUInt64LE(first, 13);
    this.used = HEADER_LENGTH;
  }

  /** Adds one pair; returns the chunks completed by it (often none). Chunks handed out are never written again. */
  add(key: Uint8Array, value: Uint8Array, out: Buffer[]): void {
    if (key.byteLength === 0 || key.byteLength > MAX_KEY || value.byteLength > MAX_VALUE) {
      throw new RangeError(`dump: key of ${key.byteLength} or value of ${value.byteLength} bytes out of range`);
    }
    this.pairs++;
    this.bytes += key.byteLength + value.byteLength;
    if (this.used + RECORD_HEAD + key.byteLength > CHUNK_BYTES) this.flush(out);
    this.chunk.writeUInt32LE(key.byteLength, this.used);
    this.chunk.writeUInt32LE(value.byteLength, this.used + 4);
    this.chunk.set(key, this.used + RECORD_HEAD);
    this.used += RECORD_HEAD + key.byteLength;
    if (value.byteLength >= CHUNK_BYTES / 4) {
      // A big value (a frame, a quarantined block) is handed out as it is rather than copied.
      this.flush(out);
      const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      this.hash.update(v);
      out.push(v);
      return;
    }
    if (this.used + value.byteLength > CHUNK_BYTES) this.flush(out);
    this.chunk.set(value, this.used);
    this.used += value.byteLength;
  }

  /** Ends the dump: the end mark, the trailer and the digest go into the last chunks. */
  finish(meta: { applied: bigint; entries: number } | null, out: Buffer[]): void {
    const trailer: DumpTrailer = { pairs: this.pairs, bytes: this.bytes, applied: meta === null ? null : meta.applied.toString(), entries: meta === null ? null : meta.entries };
    const json = Buffer.from(JSON.stringify(trailer), 'utf8');
    if (this.used + 8 + json.length > CHUNK_BYTES) this.flush(out);
    this.chunk.writeUInt32LE(0, this.used);
    this.chunk.writeUInt32LE(json.length, this.used + 4);
    json.copy(this.chunk, this.used + 8);
    this.used += 8 + json.length;
    this.flush(out);
    out.push(this.hash.digest());
  }

  private flush(out: Buffer[]): void {
    if (this.used === 0) return;
    const done = this.chunk.subarray(0, this.used);
    this.hash.update(done);
    out.push(done);
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
  }
}

/** Where the decoder is in the dump. */
const enum Step {
  Header,
  KeyLength,
  ValueLength,
  Key,
  Value,
  TrailerLength,
  Trailer,
  Digest,
  Done,
}

/** One key/value pair of a dump. */
export interface DumpPair {
  key: Uint8Array;
  value: Uint8Array;
}

/**
 * Decodes a dump chunk by chunk, as it arrives: pairs come out as soon as they are whole (a pair
 * split across chunks is copied once into a buffer of its size, never re-concatenated), and `end`
 * throws unless the dump was whole, of the segment asked for, and its digest matches.
 */
export class DumpDecoder {
  private readonly hash: Hash = createHash('sha256');
  private step = Step.Header;
  /** Bytes the current step needs, and the buffer it fills when they straddle chunks. */
  private need = HEADER_LENGTH;
  private fill: Buffer | null = null;
  private filled = 0;
  private keyLength = 0;
  private valueLength = 0;
  private key: Uint8Array | null = null;
  private lastKey: Buffer | null = null;
  private pairs = 0;
  private bytes = 0;
  private trailer: DumpTrailer | null = null;
  private digest: Buffer | null = null;
  /** False once the digest starts. */
  private hashing = true;

  constructor(
    private readonly partition: number,
    private readonly first: bigint,
  ) {}

  /** Takes in the next chunk; the pairs it completes are appended to `out` (they may share the chunk's memory). */
  push(chunk: Uint8Array, out: DumpPair[]): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let pos = 0;
    while (pos < buf.length) {
      if (this.step === Step.Done) throw new DumpFormatError('SILT_DUMP_FORMAT', 'dump: bytes after the digest');
      if (this.step === Step.Digest && this.hashing) {
        // Everything before the digest is hashed, chunk by chunk; the digest itself is not.
        this.hash.update(buf.subarray(0, pos));
        this.hashing = false;
      }
      let field: Buffer;
      if (this.fill === null && buf.length - pos >= this.need) {
        field = buf.subarray(pos, pos + this.need);
        pos += this.need;
      } else {
        if (this.fill === null) {
          this.fill = Buffer.allocUnsafe(this.need);
          this.filled = 0;
        }
        const n = Math.min(this.need - this.filled, buf.length - pos);
        buf.copy(this.fill, this.filled, pos, pos + n);
        this.filled += n;
        pos += n;
        if (this.filled < this.need) break;
        field = this.fill;
        this.fill = null;
      }
      this.take(field, out);
    }
    if (this.hashing) this.hash.update(buf);
  }

  /** The stream ended: returns the trailer of a whole, verified dump, or throws. */
  end(): DumpTrailer {
    if (this.step !== Step.Done) throw new DumpFormatError('SILT_DUMP_TRUNCATED', `dump of partition ${this.partition} segment ${this.first} ended early`);
    const expected = this.hash.digest();
    if (!expected.equals(this.digest!)) throw new DumpFormatError('SILT_DUMP_CHECKSUM', `dump of partition ${this.partition} segment ${this.first}: SHA-256 mismatch`);
    const t = this.trailer!;
    if (t.pairs !== this.pairs || t.bytes !== this.bytes) {
      throw new DumpFormatError('SILT_DUMP_FORMAT', `dump: trailer counts ${t.pairs} pairs of ${t.bytes} bytes, read ${this.pairs} of ${this.bytes}`);
    }
    return t;
  }

  private take(field: Buffer, out: DumpPair[]): void {
    switch (this.step) {
      case Step.Header: {
        if (!field.subarray(0, 8).equals(MAGIC)) throw new DumpFormatError('SILT_DUMP_FORMAT', 'dump: bad magic');
        if (field[8] !== DUMP_VERSION) throw new DumpFormatError('SILT_DUMP_FORMAT', `dump: version ${field[8]} unknown`);
        const partition = field.readUInt32LE(9);
        const first = field.readBigUInt64LE(13);
        if (partition !== this.partition || first !== this.first) {
          throw new DumpFormatError('SILT_DUMP_FORMAT', `dump is of partition ${partition} segment ${first}, not ${this.partition} segment ${this.first}`);
        }
        return this.next(Step.KeyLength, 4);
      }
      case Step.KeyLength: {
        this.keyLength = field.readUInt32LE(0);
        if (this.keyLength > MAX_KEY) throw new DumpFormatError('SILT_DUMP_FORMAT', `dump: key length ${this.keyLength} out of range`);
        return this.next(this.keyLength === 0 ? Step.TrailerLength : Step.ValueLength, 4);
      }
      case Step.ValueLength: {
        this.valueLength = field.readUInt32LE(0);
        if (this.valueLength > MAX_VALUE) throw new DumpFormatError('SILT_DUMP_FORMAT', `dump: value length ${this.valueLength} out of range`);
        return this.next(Step.Key, this.keyLength);
      }
      case Step.Key: {
        if (this.lastKey !== null && Buffer.compare(this.lastKey, field) >= 0) throw new DumpFormatError('SILT_DUMP_FORMAT', 'dump: keys out of order');
        this.key = field;
        this.lastKey = field;
        if (this.valueLength > 0) return this.next(Step.Value, this.valueLength);
        this.emit(new Uint8Array(0), out);
        return this.next(Step.KeyLength, 4);
      }
      case Step.Value: {
        this.emit(field, out);
        return this.next(Step.KeyLength, 4);
      }
      case Step.TrailerLength: {
        const n = field.readUInt32LE(0);
        if (n === 0 || n > MAX_TRAILER) throw new DumpFormatError('SILT_DUMP_FORMAT', `dump: trailer length ${n} out of range`);
        return this.next(Step.Trailer, n);
      }
      case Step.Trailer: {
        this.trailer = parseTrailer(field);
        return this.next(Step.Digest, DIGEST_LENGTH);
      }
      case Step.Digest: {
        this.digest = Buffer.from(field);
        this.step = Step.Done;
        return;
      }
      case Step.Done:
        return;
    }
  }

  private emit(value: Uint8Array, out: DumpPair[]): void {
    this.pairs++;
    this.bytes += this.key!.byteLength + value.byteLength;
    out.push({ key: this.key!, value });
    this.key = null;
  }

  private next(step: Step, need: number): void {
    this.step = step;
    this.need = need;
  }
}

function parseTrailer(field: Buffer): DumpTrailer {
  let t: unknown;
  try {
    t = JSON.parse(field.toString('utf8'));
  } catch {
    throw new DumpFormatError('SILT_DUMP_FORMAT', 'dump: trailer is not JSON');
  }
  const o = t as Record<string, unknown>;
  const count = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const metaOk = (o.applied === null && o.entries === null) || (typeof o.applied === 'string' && /^[0-9]{1,20}$/.test(o.applied) && count(o.entries));
  if (o === null || typeof o !== 'object' || !count(o.pairs) || !count(o.bytes) || !metaOk) throw new DumpFormatError('SILT_DUMP_FORMAT', 'dump: malformed trailer');
  return { pairs: o.pairs as number, bytes: o.bytes as number, applied: o.applied as string | null, entries: o.entries as number | null };
}
