/**
 * RFC 6587 framing of syslog over one TCP or TLS stream, told apart per message as the RFC
 * suggests: a frame that starts with a non-zero digit is octet-counted (`LEN SP MSG`), anything else
 * runs to a trailer, LF or NUL (non-transparent framing; a CR before the LF is left for the parser
 * to trim). Memory is bounded whatever the peer sends: at most `keepBytes` of one message are held
 * (the rest is counted and skipped, and the message is delivered as cut), and a message longer than
 * `maxBytes`, or a count announcing one, ends the stream.
 */
import { isUtf8 } from 'node:buffer';

/** Why a stream cannot go on: a count over the limit, or no trailer within it. */
export type FramingError = 'frame_too_large' | 'line_too_long';

/**
 * Receives one message: bytes [start, end) of `buf`, valid only during the call; `size` is the
 * message's whole length (more than end − start when it was cut); `utf8` true means those bytes are
 * known to be valid UTF-8 (false: unknown).
 */
export type FrameHandler = (buf: Buffer, start: number, end: number, size: number, utf8: boolean) => void;

const LF = 10;
const CR = 13;
const NUL = 0;
const SP = 32;

const START = 0;
const COUNT = 1;
const OCTETS = 2;
const LINE = 3;

/** A frame that starts with more digits than this is a line that happens to start with a number. */
const MAX_COUNT_DIGITS = 20;

/** Splits one stream into syslog messages; see the module comment. */
export class SyslogFramer {
  private state = START;
  /** The octet count being read, and its digits (replayed as line bytes when no SP follows). */
  private count = 0;
  private readonly digits = Buffer.alloc(MAX_COUNT_DIGITS);
  private digitCount = 0;
  /** Bytes of the current octet-counted frame still to come. */
  private remaining = 0;
  /** The current message's bytes held so far (copies), their total, and every byte seen of it. */
  private readonly parts: Buffer[] = [];
  private kept = 0;
  private seen = 0;

  constructor(
    private readonly keepBytes: number,
    private readonly maxBytes: number,
    private readonly onFrame: FrameHandler,
  ) {}

  /** Feeds the next chunk of the stream; returns null, or why the stream must be closed (messages before that point were delivered). */
  push(chunk: Buffer): FramingError | null {
    const n = chunk.length;
    const utf8 = isUtf8(chunk);
    let p = 0;
    // The next NUL at or after p (-1: none left in this chunk, -2: not searched yet), so a chunk is scanned for NULs once, not once per message.
    let nul = -2;
    while (p < n) {
      if (this.state === START) {
        const c = chunk[p]!;
        if (c === LF || c === CR || c === NUL) {
          p++;
        } else if (c > 48 && c <= 57) {
          this.state = COUNT;
          this.count = 0;
          this.digitCount = 0;
        } else {
          this.state = LINE;
        }
      } else if (this.state === COUNT) {
        const c = chunk[p]!;
        if (c >= 48 && c <= 57 && this.digitCount < MAX_COUNT_DIGITS) {
          this.digits[this.digitCount++] = c;
          this.count = this.count * 10 + (c - 48);
          p++;
        } else if (c === SP && this.digitCount < MAX_COUNT_DIGITS) {
          if (this.count > this.maxBytes) return 'frame_too_large';
          this.state = OCTETS;
          this.remaining = this.count;
          p++;
        } else {
          this.state = LINE;
          this.keep(this.digits, 0, this.digitCount);
          this.seen = this.digitCount;
        }
      } else if (this.state === OCTETS) {
        const take = Math.min(this.remaining, n - p);
        if (this.seen === 0 && take === this.remaining) {
          this.emit(chunk, p, p + take, this.count, utf8);
          this.remaining = 0;
        } else {
          this.keep(chunk, p, p + take);
          this.seen += take;
          this.remaining -= take;
          if (this.remaining === 0) this.emitKept(this.count);
        }
        p += take;
        if (this.remaining === 0) this.state = START;
      } else {
        const lf = chunk.indexOf(LF, p);
        if (nul === -2 || (nul >= 0 && nul < p)) nul = chunk.indexOf(NUL, p);
        const t = lf < 0 ? nul : nul < 0 ? lf : Math.min(lf, nul);
        const end = t < 0 ? n : t;
        const size = this.seen + (end - p);
        if (size > this.maxBytes) return 'line_too_long';
        if (t < 0) {
          this.keep(chunk, p, n);
          this.seen = size;
          p = n;
        } else {
          if (this.seen === 0) {
            this.emit(chunk, p, t, size, utf8);
          } else {
            this.keep(chunk, p, t);
            this.emitKept(size);
          }
          this.state = START;
          p = t + 1;
        }
      }
    }
    return null;
  }

  /** The stream ended: a message without its trailer (or with fewer octets than counted) is delivered as it stands. */
  end(): void {
    if (this.state === COUNT) {
      this.keep(this.digits, 0, this.digitCount);
      this.seen = this.digitCount;
      this.emitKept(this.seen);
    } else if (this.state === LINE && this.seen > 0) {
      this.emitKept(this.seen);
    } else if (this.state === OCTETS && this.seen > 0) {
      this.emitKept(this.count);
    }
    this.state = START;
  }

  /** Copies [s, e) of `buf` into the held part of the message, up to `keepBytes` in all. */
  private keep(buf: Buffer, s: number, e: number): void {
    const end = Math.min(e, s + this.keepBytes - this.kept);
    if (end <= s) return;
    this.parts.push(Buffer.from(buf.subarray(s, end)));
    this.kept += end - s;
  }

  private emit(buf: Buffer, s: number, e: number, size: number, utf8: boolean): void {
    this.onFrame(buf, s, Math.min(e, s + this.keepBytes), size, utf8);
  }

  private emitKept(size: number): void {
    const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.kept);
    this.parts.length = 0;
    this.kept = 0;
    this.seen = 0;
    this.onFrame(buf, 0, buf.length, size, isUtf8(buf));
  }
}
