/**
 * The bytes of one request body as ingest's protocols read lines out of it: a UTF-8 check and a
 * copy per entry, of ranges mostly under a few hundred bytes. `isUtf8` needs a view object of each
 * range, which costs more than checking a line of a hundred bytes: a source sees its memory once
 * as 32-bit words, which confirm ASCII (most log lines are) a word at a time.
 */
import { isUtf8 } from 'node:buffer';

/** Ranges this short are checked byte by byte: no word loop setup. */
const SHORT = 16;

/** A body's bytes, with the word view its ranges are checked through (made on first need). */
export class ByteSource {
  private words: Int32Array<ArrayBufferLike> | null = null;

  constructor(readonly bytes: Uint8Array) {}

  /** True when `bytes[start, end)` is valid UTF-8. */
  isUtf8(start: number, end: number): boolean {
    const src = this.bytes;
    const offset = src.byteOffset;
    let high = 0;
    if (end - start < SHORT) {
      for (let i = start; i < end; i++) high |= src[i]!;
    } else {
      // Whole words of the underlying memory, so aligned; the bytes around them one by one.
      const words = (this.words ??= new Int32Array(src.buffer, 0, src.buffer.byteLength >>> 2));
      const firstWord = (offset + start + 3) >>> 2;
      const lastWord = (offset + end) >>> 2;
      const headEnd = (firstWord << 2) - offset;
      for (let i = start; i < headEnd; i++) high |= src[i]!;
      for (let w = firstWord; w < lastWord; w++) high |= words[w]!;
      for (let i = (lastWord << 2) - offset; i < end; i++) high |= src[i]!;
    }
    if ((high & 0x80808080) === 0) return true;
    return isUtf8(new Uint8Array(src.buffer, offset + start, end - start));
  }

  /** Copies `bytes[start, end)` to `dst` at `at`: through a Uint8Array view, which costs less than the Buffer `subarray` or `copy` would make. */
  copyTo(dst: Uint8Array, at: number, start: number, end: number): void {
    const src = this.bytes;
    dst.set(new Uint8Array(src.buffer, src.byteOffset + start, end - start), at);
  }
}
