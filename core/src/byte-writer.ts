/** The growable output buffer the block and frame encoders write through, and the bound under which they write a timestamp delta without BigInt. */

// Below this magnitude a delta survives Number() exactly and its zigzag stays a safe integer,
// so the common case does no BigInt arithmetic beyond one subtraction.
export const FAST_DELTA = 2 ** 52;
// One oversized block must not pin its scratch memory for the life of the process.
export const SCRATCH_RETAIN = 4 * 1024 * 1024;

/** A growable output buffer reused across calls, so encoding allocates only on growth. */
export class Writer {
  buf: Buffer;
  pos = 0;

  constructor(private readonly initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  reserve(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Needs `reserve` first; `v` is a non-negative safe integer. */
  varint(v: number): void {
    const buf = this.buf;
    let p = this.pos;
    while (v > 0x7fffffff) {
      buf[p++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
  }

  /** Needs `reserve` first; `v` is in [0, 2^64). */
  bigVarint(v: bigint): void {
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  /** Needs `reserve` first (10 bytes): a zigzag varint of `d`, an exact integer with |d| < FAST_DELTA. */
  smallDelta(d: number): void {
    this.varint(d < 0 ? -2 * d - 1 : 2 * d);
  }

  /** Needs `reserve` first (10 bytes): a zigzag varint of `delta` taken as a signed 64-bit integer. */
  delta(delta: bigint): void {
    const d = Number(delta);
    if (d > -FAST_DELTA && d < FAST_DELTA) this.smallDelta(d);
    else {
      const wrapped = BigInt.asIntN(64, delta);
      this.bigVarint(wrapped < 0n ? (-wrapped << 1n) - 1n : wrapped << 1n);
    }
  }

  /** Needs `reserve` first (5 + byteLength). */
  string(s: string, byteLength: number): void {
    this.varint(byteLength);
    // As many bytes as UTF-16 units means pure ASCII, whose UTF-8 is its latin1: a plain copy, far cheaper than UTF-8 encoding.
    this.pos += this.buf.write(s, this.pos, byteLength, byteLength === s.length ? 'latin1' : 'utf8');
  }

  /** An entry's attributes as the frame payload writes them: a varint count, then each name and value (reserves what it needs). */
  attrs(attrs: Record<string, string>): void {
    const names = Object.keys(attrs);
    this.reserve(5);
    this.varint(names.length);
    for (const name of names) {
      const value = attrs[name]!;
      const nameLength = Buffer.byteLength(name);
      const valueLength = Buffer.byteLength(value);
      this.reserve(10 + nameLength + valueLength);
      this.string(name, nameLength);
      this.string(value, valueLength);
    }
  }

  release(): void {
    if (this.buf.length > SCRATCH_RETAIN) this.buf = Buffer.allocUnsafe(this.initial);
  }
}
