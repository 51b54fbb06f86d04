import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { CompressStream, compress } from 'zstd-napi';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../core/src/errors';
import { decodeBody } from '../../ingest/src/push/decode-body';

const MiB = 1024 * 1024;
const text = Buffer.from('{"labels":{"app":"api"},"line":"GET / 200 é ✓"}\n'.repeat(2000));

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** A zstd frame written by the streaming compressor, whose header carries no content size. */
async function zstdStreamed(data: Buffer, windowLog?: number): Promise<Buffer> {
  const stream = new CompressStream(windowLog === undefined ? {} : { windowLog });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  for (let i = 0; i < data.length; i += 10_000) stream.write(data.subarray(i, i + 10_000));
  stream.end();
  await done;
  return Buffer.concat(chunks);
}

describe('ingest > decode body > identity', () => {
  it.each([undefined, '', 'identity', 'IDENTITY', ' identity '])('passes the body through for %j', async (encoding) => {
    await expect(decodeBody(text, encoding, 64 * MiB)).resolves.toBe(text);
  });

  it('refuses an identity body over the cap with 413', async () => {
    const err = await errorOf(decodeBody(text, undefined, 100));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ status: 413, code: 'SILT_PAYLOAD_TOO_LARGE', details: { limit: 100 } });
  });
});

describe('ingest > decode body > gzip', () => {
  it.each(['gzip', 'GZIP', 'Gzip', 'x-gzip'])('round-trips with Content-Encoding %s', async (encoding) => {
    expect((await decodeBody(gzipSync(text), encoding, 64 * MiB)).equals(text)).toBe(true);
  });

  it('decodes concatenated gzip members', async () => {
    const body = Buffer.concat([gzipSync(text), gzipSync(Buffer.from('tail\n'))]);
    expect((await decodeBody(body, 'gzip', 64 * MiB)).toString()).toBe(text.toString() + 'tail\n');
  });

  it('accepts exactly the cap', async () => {
    await expect(decodeBody(gzipSync(text), 'gzip', text.length)).resolves.toHaveLength(text.length);
    await expect(decodeBody(gzipSync(text), 'gzip', text.length - 1)).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  it('returns an empty body as is', async () => {
    await expect(decodeBody(Buffer.alloc(0), 'gzip', 10)).resolves.toHaveLength(0);
  });

  it('refuses a 10 GiB gzip bomb with 413 quickly, after about the cap of output', async () => {
    // 160 gzip members of 64 MiB of zeros each: ~10 MiB sent, 10 GiB once decompressed.
    const member = gzipSync(Buffer.alloc(64 * MiB));
    const bomb = Buffer.concat(Array.from({ length: 160 }, () => member));
    const started = Date.now();
    const err = await errorOf(decodeBody(bomb, 'gzip', 16 * MiB));
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ status: 413, details: { limit: 16 * MiB } });
    // Inflating all of it takes many seconds; stopping at the cap takes a few tens of ms.
    expect(elapsed).toBeLessThan(1500);
  });

  it('refuses truncated gzip with 400', async () => {
    const gz = gzipSync(text);
    const err = await errorOf(decodeBody(gz.subarray(0, gz.length - 10), 'gzip', 64 * MiB));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err).toMatchObject({ status: 400, code: 'SILT_BAD_COMPRESSED_BODY' });
  });

  it('refuses data that is not gzip with 400', async () => {
    await expect(decodeBody(text, 'gzip', 64 * MiB)).rejects.toMatchObject({ status: 400, code: 'SILT_BAD_COMPRESSED_BODY' });
    const gz = gzipSync(text);
    gz[gz.length - 6] ^= 0xff; // corrupt the CRC-32 trailer
    await expect(decodeBody(gz, 'gzip', 64 * MiB)).rejects.toMatchObject({ status: 400, code: 'SILT_BAD_COMPRESSED_BODY' });
  });
});

describe('ingest > decode body > deflate', () => {
  it.each([
    ['zlib-wrapped (RFC 1950)', deflateSync],
    ['raw DEFLATE (RFC 1951, as Go\'s compress/flate reads it)', deflateRawSync],
  ])('round-trips %s', async (_what, compress) => {
    for (const encoding of ['deflate', 'DEFLATE']) expect((await decodeBody(compress(text), encoding, 64 * MiB)).equals(text)).toBe(true);
    const small = Buffer.from('x');
    expect((await decodeBody(compress(small), 'deflate', 64 * MiB)).equals(small)).toBe(true);
  });

  it('accepts exactly the cap', async () => {
    await expect(decodeBody(deflateSync(text), 'deflate', text.length)).resolves.toHaveLength(text.length);
    await expect(decodeBody(deflateRawSync(text), 'deflate', text.length - 1)).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  it('returns an empty body as is', async () => {
    await expect(decodeBody(Buffer.alloc(0), 'deflate', 10)).resolves.toHaveLength(0);
  });

  it('refuses a deflate bomb with 413', async () => {
    // 256 MiB of zeros deflates to about 256 KiB.
    const bomb = deflateSync(Buffer.alloc(256 * MiB));
    const err = await errorOf(decodeBody(bomb, 'deflate', 16 * MiB));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ status: 413, details: { limit: 16 * MiB } });
  });

  it('refuses truncated or corrupt deflate with 400', async () => {
    for (const z of [deflateSync(text), deflateRawSync(text)]) {
      const err = await errorOf(decodeBody(z.subarray(0, z.length - 10), 'deflate', 64 * MiB));
      expect(err).toBeInstanceOf(BadRequestError);
      expect(err).toMatchObject({ status: 400, code: 'SILT_BAD_COMPRESSED_BODY' });
      expect((err as Error).message).toMatch(/not valid deflate data/);
    }
    const z = deflateSync(text);
    z[z.length - 1] ^= 0xff; // corrupt the Adler-32 trailer
    await expect(decodeBody(z, 'deflate', 64 * MiB)).rejects.toMatchObject({ status: 400, code: 'SILT_BAD_COMPRESSED_BODY' });
  });
});

describe('ingest > decode body > zstd', () => {
  it.each(['zstd', 'ZSTD', 'Zstd'])('round-trips with Content-Encoding %s', async (encoding) => {
    expect((await decodeBody(compress(text), encoding, 64 * MiB)).equals(text)).toBe(true);
  });

  it('decodes a streamed frame without a content size, and concatenated frames', async () => {
    const streamed = await zstdStreamed(text);
    expect((await decodeBody(streamed, 'zstd', 64 * MiB)).equals(text)).toBe(true);
    const two = Buffer.concat([compress(text), streamed]);
    expect((await decodeBody(two, 'zstd', 64 * MiB)).equals(Buffer.concat([text, text]))).toBe(true);
  });

  it('accepts exactly the cap', async () => {
    await expect(decodeBody(compress(text), 'zstd', text.length)).resolves.toHaveLength(text.length);
    await expect(decodeBody(compress(text), 'zstd', text.length - 1)).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  it('refuses a 10 GiB zstd bomb with 413 quickly', async () => {
    const frame = compress(Buffer.alloc(16 * MiB));
    const bomb = Buffer.concat(Array.from({ length: 640 }, () => frame));
    const started = Date.now();
    const err = await errorOf(decodeBody(bomb, 'zstd', 8 * MiB));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ status: 413, details: { limit: 8 * MiB } });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('yields to the event loop while decompressing a big body', async () => {
    const big = Buffer.alloc(24 * MiB, 'abcdefgh');
    let ticked = false;
    setImmediate(() => {
      ticked = true;
    });
    const out = await decodeBody(compress(big), 'zstd', 64 * MiB);
    expect(out.equals(big)).toBe(true);
    expect(ticked).toBe(true);
  });

  it('refuses truncated zstd with 400', async () => {
    for (const z of [compress(text), await zstdStreamed(text)]) {
      const err = await errorOf(decodeBody(z.subarray(0, z.length - 5), 'zstd', 64 * MiB));
      expect(err).toBeInstanceOf(BadRequestError);
      expect(err).toMatchObject({ status: 400, code: 'SILT_BAD_COMPRESSED_BODY' });
    }
  });

  it('refuses a frame that asks for a decoding window far beyond the cap, before allocating it', async () => {
    const frame = await zstdStreamed(text, 29); // a 512 MiB window declared in the frame header
    const err = await errorOf(decodeBody(frame, 'zstd', 64 * MiB));
    expect(err).toMatchObject({ status: 400, code: 'SILT_BAD_COMPRESSED_BODY' });
    expect((err as Error).message).toMatch(/memory|window/i);
  });

  it('refuses data that is not zstd with 400', async () => {
    await expect(decodeBody(text, 'zstd', 64 * MiB)).rejects.toMatchObject({ status: 400, code: 'SILT_BAD_COMPRESSED_BODY' });
  });
});

describe('ingest > decode body > unknown encodings', () => {
  it.each(['br', 'compress', 'deflate, gzip', 'gzip, zstd', 'gzip,identity', 'snappy'])('refuses %j with 415', async (encoding) => {
    const err = await errorOf(decodeBody(text, encoding, 64 * MiB));
    expect(err).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(err).toMatchObject({ status: 415, code: 'SILT_UNSUPPORTED_ENCODING' });
    expect((err as Error).message).toContain(JSON.stringify(encoding));
  });
});
