/**
 * Runs of entries already written in the frame payload format (docs/FORMAT.md "Frame payload"),
 * by a protocol that reads each line as bytes off its wire (Loki protobuf): the line's bytes go
 * from the request straight to the frame, with no string, entry object or BigInt per entry. A
 * run leaves out its first entry's timestamp delta, which depends on the entry before it in the
 * frame it joins; the block encoder writes that delta and copies the rest.
 *
 * Timestamps come as whole seconds and nanoseconds (what protobuf Timestamps hold): the delta of
 * two entries less than ~52 days apart is exact in a double, so only a larger one takes BigInt.
 */
import { Writer } from './byte-writer';
import type { BlockEntry } from './block-format';
import { parsePayload } from './frame-payload';

/** Entries in the frame payload format, the first one's timestamp delta left out. */
export interface PayloadRun {
  /** The first entry's timestamp (ns since the epoch). */
  firstTs: bigint;
  /** The last entry's timestamp, the base of the delta of whatever follows the run. */
  lastTs: bigint;
  minTs: bigint;
  maxTs: bigint;
  entries: number;
  /** UTF-8 bytes of the lines together. */
  lineBytes: number;
  bytes: Buffer;
}

/** A cut bounds the memory one run pins and lets the batcher split a push's runs across blocks. */
const RUN_BYTES = 64 * 1024;
const RUN_ENTRIES = 1024;
/** Below this many seconds apart, a delta in ns stays under 2^52 (see FAST_DELTA). */
const SMALL_SECONDS = 4_000_000;
const NS = 1_000_000_000;

function nsOf(seconds: number, nanos: number): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
}

/** Writes one stream's entries of a push into runs. */
export class RunWriter {
  // A push's share of a stream is a few KiB to tens of KiB: start where few of them need to grow.
  private readonly w = new Writer(16 * 1024);
  private readonly runs: PayloadRun[] = [];
  private start = 0;
  private entries = 0;
  private lineBytes = 0;
  private firstSeconds = 0;
  private firstNanos = 0;
  private lastSeconds = 0;
  private lastNanos = 0;
  private minSeconds = 0;
  private minNanos = 0;
  private maxSeconds = 0;
  private maxNanos = 0;

  /** The pre-encoded attrs of the frame format for "no attributes". */
  static readonly NO_ATTRS: Uint8Array = Uint8Array.of(0);

  /** Appends one entry: its line's bytes (valid UTF-8, checked by the caller), `attrs` its attributes as the frame format writes them. */
  append(seconds: number, nanos: number, line: Uint8Array, attrs: Uint8Array): void {
    const w = this.w;
    const length = line.length;
    w.reserve(20 + length + attrs.length);
    if (this.entries === 0) {
      this.firstSeconds = this.minSeconds = this.maxSeconds = seconds;
      this.firstNanos = this.minNanos = this.maxNanos = nanos;
    } else {
      const apart = seconds - this.lastSeconds;
      if (apart > -SMALL_SECONDS && apart < SMALL_SECONDS) w.smallDelta(apart * NS + (nanos - this.lastNanos));
      else w.delta(nsOf(seconds, nanos) - nsOf(this.lastSeconds, this.lastNanos));
      if (seconds < this.minSeconds || (seconds === this.minSeconds && nanos < this.minNanos)) {
        this.minSeconds = seconds;
        this.minNanos = nanos;
      } else if (seconds > this.maxSeconds || (seconds === this.maxSeconds && nanos > this.maxNanos)) {
        this.maxSeconds = seconds;
        this.maxNanos = nanos;
      }
    }
    this.lastSeconds = seconds;
    this.lastNanos = nanos;
    w.varint(length);
    w.buf.set(line, w.pos);
    w.pos += length;
    // Most entries have no attributes (one zero byte): a store, not a copy call.
    if (attrs.length === 1) w.buf[w.pos++] = attrs[0]!;
    else {
      w.buf.set(attrs, w.pos);
      w.pos += attrs.length;
    }
    this.entries++;
    this.lineBytes += length;
    if (this.entries >= RUN_ENTRIES || w.pos - this.start >= RUN_BYTES) this.cut();
  }

  /** The runs written, the last one closed; the writer is not used after. */
  finish(): PayloadRun[] {
    if (this.entries > 0) this.cut();
    return this.runs;
  }

  private cut(): void {
    this.runs.push({
      firstTs: nsOf(this.firstSeconds, this.firstNanos),
      lastTs: nsOf(this.lastSeconds, this.lastNanos),
      minTs: nsOf(this.minSeconds, this.minNanos),
      maxTs: nsOf(this.maxSeconds, this.maxNanos),
      entries: this.entries,
      lineBytes: this.lineBytes,
      bytes: this.w.buf.subarray(this.start, this.w.pos),
    });
    // Later entries go on in the same buffer, or a bigger copy of it: the run keeps its view.
    this.start = this.w.pos;
    this.entries = 0;
    this.lineBytes = 0;
  }
}

/** The attributes of one entry as the frame format writes them (a count, then names and values). */
export function encodeAttrs(attrs: Record<string, string>): Buffer {
  const w = new Writer(256);
  w.attrs(attrs);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** A run's entries as objects (for what must see them one by one: tests, plugins). */
export function runEntries(run: PayloadRun): BlockEntry[] {
  const w = new Writer(run.bytes.length + 10);
  w.delta(run.firstTs);
  w.reserve(run.bytes.length);
  run.bytes.copy(w.buf, w.pos);
  w.pos += run.bytes.length;
  return parsePayload(w.buf, w.pos).entries;
}
