import { assembleBlock, compressFrames, decodeBlock, encodeBlock, rawLengthsOf, serializeBlock, type BlockInput } from '../../core/src/block-format';
import { FramePool } from '../../core/src/zstd-pool';

const input = (n: number): BlockInput => ({
  tenant: 'acme',
  streams: [
    { labels: { app: 'api' }, entries: Array.from({ length: n }, (_, i) => ({ ts: BigInt(i) * 1_000n, line: `GET /item/${i} 200 ${i % 7}ms` })) },
    { labels: { app: 'db', zone: 'ü' }, entries: [{ ts: 5n, line: 'checkpoint', attrs: { lsn: '0/16B3748' } }] },
  ],
});

describe('core > zstd pool', () => {
  let pool: FramePool;
  beforeAll(() => {
    pool = new FramePool(2);
  });
  afterAll(() => pool.close());

  it('compresses a serialized block on worker threads into the same bytes as on this thread', async () => {
    const jobs = [1, 50, 2_000].map(async (n) => {
      const block = serializeBlock(input(n));
      const bytes = assembleBlock(block, await pool.compress(block.payload, rawLengthsOf(block), 3));
      expect(bytes.equals(encodeBlock(input(n), { level: 3 }))).toBe(true);
      expect(decodeBlock(bytes).streams.map((s) => s.entries.length)).toEqual([n, 1]);
    });
    await Promise.all(jobs);
  });

  it('fails a job the worker cannot do, and goes on compressing the next ones', async () => {
    const block = serializeBlock(input(3));
    await expect(pool.compress(block.payload, rawLengthsOf(block), 99)).rejects.toThrow(/frame compression failed: block: invalid zstd level 99/);
    const again = serializeBlock(input(3));
    const frames = await pool.compress(again.payload, rawLengthsOf(again), 1);
    const here = serializeBlock(input(3));
    expect(frames.frames.equals(compressFrames(here.payload, rawLengthsOf(here), 1).frames)).toBe(true);
  });

  it('refuses a pool without threads', () => {
    expect(() => new FramePool(0)).toThrow(RangeError);
  });
});
