/**
 * Compression on real logs: the Loghub samples (https://github.com/logpai/loghub), one stream per
 * file, packed into blocks of at most 1 MiB of line bytes, must shrink at least 8 times.
 */
import { type BlockStreamInput, decodeBlock, encodeBlock } from '../../core/src/block-format';
import { loadCorpus } from '../support/corpus';

const BLOCK_RAW_LIMIT = 1024 * 1024;

describe('core > block compression', () => {
  it('compresses the loghub corpus at least 8 times in blocks of at most 1 MiB', () => {
    let ts = 1_764_129_600_000_000_000n;
    const corpus = loadCorpus();
    expect(corpus.length).toBeGreaterThanOrEqual(16);
    const streams: { stream: BlockStreamInput; bytes: number }[] = corpus.map(({ app, lines }) => {
      const entries = lines.map((line) => ({ ts: (ts += 1_000_000n), line }));
      return { stream: { labels: { app }, entries }, bytes: lines.reduce((n, line) => n + Buffer.byteLength(line), 0) };
    });

    const blocks: BlockStreamInput[][] = [[]];
    let blockBytes = 0;
    for (const { stream, bytes } of streams) {
      expect(bytes).toBeLessThanOrEqual(BLOCK_RAW_LIMIT);
      if (blockBytes + bytes > BLOCK_RAW_LIMIT) {
        blocks.push([]);
        blockBytes = 0;
      }
      blocks.at(-1)!.push(stream);
      blockBytes += bytes;
    }

    let compressed = 0;
    for (const group of blocks) {
      const block = encodeBlock({ tenant: 'bench', streams: group });
      compressed += block.length;
      const decoded = decodeBlock(block);
      expect(decoded.streams.map((s) => s.entries)).toEqual(group.map((s) => s.entries));
    }
    const raw = streams.reduce((n, s) => n + s.bytes, 0);
    expect(raw).toBeGreaterThan(4_000_000);
    expect(compressed * 8).toBeLessThanOrEqual(raw);
  });
});
