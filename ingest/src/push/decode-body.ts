/**
 * Request bodies as sent → as meant: undoes `Content-Encoding` (identity, gzip, deflate, zstd) under
 * a cap on the decompressed size that is checked while decompressing, so a compression bomb is
 * refused after about `cap` bytes of output instead of exhausting memory.
 */
import { createGunzip, createInflate, createInflateRaw, type Gunzip, type Inflate, type InflateRaw } from 'node:zlib';
import { DCtx, DParameter, dStreamOutSize } from 'zstd-napi/binding';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../../core/src/errors';

/** Output bytes zstd decompresses between two yields to the event loop (a few ms of work). */
const ZSTD_YIELD_BYTES = 4 * 1024 * 1024;
const ZSTD_OUT_CHUNK = dStreamOutSize();
/** Output chunk of the gunzip and inflate streams: bigger than zlib's 16 KiB default, fewer callbacks. */
const ZLIB_OUT_CHUNK = 64 * 1024;

function tooLarge(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`request body is over the ${limit}-byte limit once decompressed`, { limit });
}

function corrupt(encoding: string, why: string): BadRequestError {
  return new BadRequestError('SILT_BAD_COMPRESSED_BODY', `request body is not valid ${encoding} data: ${why}`);
}

/** Inflates `raw` through a zlib stream (gunzip or inflate), stopping as soon as the output passes `cap`. */
function inflate(raw: Buffer, cap: number, z: Gunzip | Inflate | InflateRaw, encoding: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    z.on('data', (chunk: Buffer) => {
      if (settled) return;
      total += chunk.length;
      if (total > cap) {
        // Destroying stops zlib before its next chunk of work: no more output is produced.
        settled = true;
        z.destroy();
        reject(tooLarge(cap));
        return;
      }
      chunks.push(chunk);
    });
    z.on('error', (err: Error) => {
      if (settled) return;
      settled = true;
      reject(corrupt(encoding, err.message));
    });
    z.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    });
    z.end(raw);
  });
}

/**
 * True when `raw` starts with a zlib (RFC 1950) header. HTTP's `deflate` is zlib-wrapped, but Go's
 * compress/flate (which Loki reads `deflate` with) and some clients use raw DEFLATE (RFC 1951):
 * both are taken, told apart by the zlib header's method nibble and check bits.
 */
function isZlibWrapped(raw: Buffer): boolean {
  return raw.length >= 2 && (raw[0]! & 0x0f) === 8 && raw[0]! >> 4 <= 7 && ((raw[0]! << 8) | raw[1]!) % 31 === 0;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Largest zstd window the decoder accepts: enough for any frame whose content fits the cap (and for every standard level), no more. */
function zstdWindowLogMax(cap: number): number {
  return Math.min(27, Math.max(23, Math.ceil(Math.log2(Math.max(cap, 1)))));
}

async function unzstd(raw: Buffer, cap: number): Promise<Buffer> {
  const dctx = new DCtx();
  const windowLogMax = zstdWindowLogMax(cap);
  dctx.setParameter(DParameter.windowLogMax, windowLogMax);
  const chunks: Buffer[] = [];
  let total = 0;
  let sinceYield = 0;
  let src: Buffer = raw;
  let inFrame = false;
  while (true) {
    const dst = Buffer.allocUnsafe(ZSTD_OUT_CHUNK);
    let ret: number, produced: number, consumed: number;
    try {
      [ret, produced, consumed] = dctx.decompressStream(dst, src);
    } catch (err) {
      const message = (err as Error).message;
      throw corrupt('zstd', /memory/i.test(message) ? `${message} (its window is over the ${2 ** windowLogMax}-byte maximum)` : message);
    }
    src = src.subarray(consumed);
    if (produced > 0) {
      total += produced;
      if (total > cap) throw tooLarge(cap);
      chunks.push(produced === dst.length ? dst : dst.subarray(0, produced));
      sinceYield += produced;
    }
    if (src.length === 0 && (produced < dst.length || ret === 0)) {
      inFrame = ret !== 0;
      break;
    }
    if (produced === 0 && consumed === 0) throw corrupt('zstd', 'the decoder made no progress');
    if (sinceYield >= ZSTD_YIELD_BYTES) {
      sinceYield = 0;
      await yieldToEventLoop();
    }
  }
  if (inFrame) throw corrupt('zstd', 'the body ends in the middle of a frame (truncated)');
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/** Undoes Content-Encoding (identity, gzip, deflate, zstd; case-insensitive; absent = identity) with a cap on the decompressed size checked while decompressing. */
export async function decodeBody(raw: Buffer, contentEncoding: string | undefined, maxDecompressedBytes: number): Promise<Buffer> {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  switch (encoding) {
    case '':
    case 'identity':
      if (raw.length > maxDecompressedBytes) throw tooLarge(maxDecompressedBytes);
      return raw;
    case 'gzip':
    case 'x-gzip':
      return raw.length === 0 ? raw : inflate(raw, maxDecompressedBytes, createGunzip({ chunkSize: ZLIB_OUT_CHUNK }), 'gzip');
    case 'deflate': {
      if (raw.length === 0) return raw;
      const z = isZlibWrapped(raw) ? createInflate({ chunkSize: ZLIB_OUT_CHUNK }) : createInflateRaw({ chunkSize: ZLIB_OUT_CHUNK });
      return inflate(raw, maxDecompressedBytes, z, 'deflate');
    }
    case 'zstd':
      return raw.length === 0 ? raw : unzstd(raw, maxDecompressedBytes);
    default:
      throw new UnsupportedMediaTypeError(
        'SILT_UNSUPPORTED_ENCODING',
        `Content-Encoding ${JSON.stringify(contentEncoding)} is not supported: use identity, gzip, deflate or zstd (one encoding, not a list)`,
        { encoding: contentEncoding },
      );
  }
}
