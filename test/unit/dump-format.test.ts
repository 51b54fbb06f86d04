/** The segment dump format (storage-node/src/store/dump-format.ts): round trips over any chunking, and every way a dump can be refused. */
import { DumpDecoder, DumpEncoder, type DumpPair, type DumpTrailer } from '../../storage-node/src/store/dump-format';
import { rng } from '../support/rng';

const PARTITION = 3;
const FIRST = 1234n;

function key(i: number): Buffer {
  const k = Buffer.alloc(9);
  k[0] = 0x01;
  k.writeBigUInt64BE(BigInt(i), 1);
  return k;
}

/** Pairs in key order: small values, empty ones, and a few past the encoder's "send as is" size. */
function pairs(n: number): DumpPair[] {
  const random = rng(7);
  const out: DumpPair[] = [];
  for (let i = 0; i < n; i++) {
    const size = i % 97 === 5 ? 100_000 + Math.floor(random() * 200_000) : i % 11 === 0 ? 0 : Math.floor(random() * 3000);
    const value = Buffer.alloc(size);
    for (let j = 0; j < size; j += 101) value[j] = (i + j) & 0xff;
    out.push({ key: key(i), value });
  }
  return out;
}

function encode(input: DumpPair[], meta: { applied: bigint; entries: number } | null = { applied: 99n, entries: 5 }): Buffer {
  const chunks: Buffer[] = [];
  const enc = new DumpEncoder(PARTITION, FIRST);
  for (const p of input) enc.add(p.key, p.value, chunks);
  enc.finish(meta, chunks);
  return Buffer.concat(chunks);
}

/** Decodes `bytes` fed in chunks cut at the given sizes (cycled). */
function decode(bytes: Buffer, sizes: number[], partition = PARTITION, first = FIRST): { pairs: DumpPair[]; trailer: DumpTrailer } {
  const dec = new DumpDecoder(partition, first);
  const out: DumpPair[] = [];
  let pos = 0;
  for (let i = 0; pos < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    // Each chunk is its own copy, as a socket's would be.
    dec.push(Buffer.from(bytes.subarray(pos, pos + n)), out);
    pos += n;
  }
  return { pairs: out.map((p) => ({ key: Buffer.from(p.key), value: Buffer.from(p.value) })), trailer: dec.end() };
}

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('storage node > store > dump format', () => {
  const input = pairs(600);
  const bytes = encode(input);

  it.each([
    ['one chunk', 600, [1 << 30]],
    ['1-byte chunks', 40, [1]],
    ['chunks of 7 and 64 KiB', 600, [7, 65536]],
    ['chunks of 3, 1000 and 100001 bytes', 600, [3, 1000, 100_001]],
  ])('gives back every pair and the trailer, fed in %s', (_what, n, sizes) => {
    const some = input.slice(0, n);
    const { pairs: got, trailer } = decode(encode(some), sizes);
    expect(got.length).toBe(some.length);
    for (let i = 0; i < some.length; i++) {
      expect(Buffer.compare(got[i]!.key, some[i]!.key)).toBe(0);
      expect(Buffer.compare(got[i]!.value, some[i]!.value)).toBe(0);
    }
    expect(trailer).toEqual({ pairs: some.length, bytes: some.reduce((sum, p) => sum + p.key.length + p.value.length, 0), applied: '99', entries: 5 });
  });

  it('carries a segment without meta as such', () => {
    expect(decode(encode(input.slice(0, 3), null), [100]).trailer).toMatchObject({ applied: null, entries: null, pairs: 3 });
  });

  it('refuses any changed byte, by its checksum or its layout', () => {
    const random = rng(11);
    for (let round = 0; round < 200; round++) {
      const bad = Buffer.from(bytes);
      const at = Math.floor(random() * bad.length);
      bad[at] ^= 1 << Math.floor(random() * 8);
      const code = codeOf(() => decode(bad, [4096]));
      expect(['SILT_DUMP_CHECKSUM', 'SILT_DUMP_FORMAT', 'SILT_DUMP_TRUNCATED']).toContain(code);
    }
    // A changed value byte keeps the layout whole: only the checksum can tell.
    const bad = Buffer.from(bytes);
    bad[bytes.indexOf(input[1]!.value.subarray(0, 200)) + 100] ^= 0x40;
    expect(codeOf(() => decode(bad, [4096]))).toBe('SILT_DUMP_CHECKSUM');
  });

  it('refuses a truncated dump wherever it is cut, and bytes after its end', () => {
    for (const cut of [0, 10, 21, 25, 1000, bytes.length - 33, bytes.length - 32, bytes.length - 1]) {
      expect(codeOf(() => decode(bytes.subarray(0, cut), [512]))).toBe('SILT_DUMP_TRUNCATED');
    }
    expect(codeOf(() => decode(Buffer.concat([bytes, Buffer.of(0)]), [512]))).toBe('SILT_DUMP_FORMAT');
  });

  it('refuses the dump of another segment or partition', () => {
    expect(codeOf(() => decode(bytes, [512], PARTITION, FIRST + 1n))).toBe('SILT_DUMP_FORMAT');
    expect(codeOf(() => decode(bytes, [512], PARTITION + 1, FIRST))).toBe('SILT_DUMP_FORMAT');
  });

  it('refuses keys out of order', () => {
    const swapped = [...input.slice(0, 10)];
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    expect(codeOf(() => decode(encode(swapped), [512]))).toBe('SILT_DUMP_FORMAT');
  });
});
