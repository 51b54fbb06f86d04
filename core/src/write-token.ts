/**
 * Write tokens: the per-partition Kafka offsets a push's blocks received, so a later read can wait
 * until replicas have applied them. Opaque to clients: version byte, then varint pairs, base64url.
 */
import { BadRequestError } from './errors';

/** Partition → highest offset (inclusive) that a push wrote there. */
export type WriteOffsets = Map<number, bigint>;

const TOKEN_VERSION = 1;

function pushVarint(out: number[], v: bigint): void {
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

/** Encodes offsets as an opaque, URL-safe token. */
export function encodeWriteToken(offsets: WriteOffsets): string {
  const out: number[] = [TOKEN_VERSION];
  for (const p of [...offsets.keys()].sort((a, b) => a - b)) {
    pushVarint(out, BigInt(p));
    pushVarint(out, offsets.get(p)!);
  }
  return Buffer.from(out).toString('base64url');
}

/** Decodes a token from `encodeWriteToken`; throws SILT_BAD_TOKEN on anything else. */
export function decodeWriteToken(token: string): WriteOffsets {
  const bad = (why: string): BadRequestError => new BadRequestError('SILT_BAD_TOKEN', `invalid write token: ${why}`);
  if (!/^[A-Za-z0-9_-]*$/.test(token)) throw bad('not base64url');
  const buf = Buffer.from(token, 'base64url');
  if (buf.length === 0 || buf[0] !== TOKEN_VERSION) throw bad('unknown version');
  let pos = 1;
  const readVarint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) throw bad('truncated');
      const b = buf[pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
    throw bad('varint too long');
  };
  const offsets: WriteOffsets = new Map();
  while (pos < buf.length) {
    const p = readVarint();
    if (p > 100000n) throw bad('partition out of range');
    offsets.set(Number(p), readVarint());
  }
  return offsets;
}

/** Merges `b` into `a`, keeping the higher offset per partition. */
export function mergeWriteOffsets(a: WriteOffsets, b: WriteOffsets): void {
  for (const [p, o] of b) {
    const cur = a.get(p);
    if (cur === undefined || o > cur) a.set(p, o);
  }
}
