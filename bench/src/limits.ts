/**
 * The physical limits of this machine for the corpus, measured on one core in this process: zstd
 * compress and decompress speed (the level ingest uses, ~1 MiB blocks) and JSON.parse of the lines
 * as NDJSON objects. Every Silt figure is also reported as a ratio to the limit it is bound by.
 */
import { CCtx, DCtx, compressBound } from 'zstd-napi/binding';
import type { CorpusStream } from '../../test/support/corpus';

/** What one core can do with the corpus. */
export interface PhysicalLimits {
  zstdLevel: number;
  blockBytes: number;
  /** Raw bytes over compressed bytes of the corpus in `blockBytes` blocks. */
  zstdRatio: number;
  /** The same at zstd level 3: the bound one stored copy is judged by. */
  zstd3Ratio: number;
  compressMBps: number;
  decompressMBps: number;
  jsonParseLinesPerS: number;
  jsonParseMBps: number;
  /** Average UTF-8 bytes of a line (without the newline). */
  bytesPerLine: number;
  lines: number;
  corpusBytes: number;
}

const BLOCK_BYTES = 1024 * 1024;

/** Runs `fn` repeatedly for at least `minMs` and returns passes per second. */
function rate(fn: () => void, minMs: number): number {
  fn(); // warm-up: JIT and allocations
  let passes = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    fn();
    passes++;
    elapsed = performance.now() - started;
  }
  return (passes * 1000) / elapsed;
}

/** Measures the limits for `corpus` (all streams' lines, one per line) at zstd `level`. */
export function measureLimits(corpus: CorpusStream[], level: number, minMs = 2000): PhysicalLimits {
  const lines = corpus.flatMap((s) => s.lines);
  const text = Buffer.from(lines.join('\n') + '\n', 'utf8');
  const blocks: Buffer[] = [];
  for (let off = 0; off < text.length; off += BLOCK_BYTES) blocks.push(text.subarray(off, Math.min(text.length, off + BLOCK_BYTES)));

  const cctx = new CCtx();
  const dctx = new DCtx();
  const scratch = Buffer.allocUnsafe(compressBound(BLOCK_BYTES));
  const compressed = blocks.map((b) => Buffer.from(scratch.subarray(0, cctx.compress(scratch, b, level))));
  const compressedBytes = compressed.reduce((n, b) => n + b.length, 0);
  const level3Bytes = blocks.reduce((n, b) => n + cctx.compress(scratch, b, 3), 0);
  const out = Buffer.allocUnsafe(BLOCK_BYTES);
  const compressPerS = rate(() => {
    for (const b of blocks) cctx.compress(scratch, b, level);
  }, minMs);
  const decompressPerS = rate(() => {
    for (const c of compressed) dctx.decompress(out, c);
  }, minMs);

  // The shape a shipper sends: one JSON object per line, with labels and a timestamp.
  const ndjson = corpus.flatMap((s) => s.lines.map((line, i) => JSON.stringify({ labels: { app: s.app }, ts: String(1_700_000_000_000_000_000n + BigInt(i)), line })));
  const ndjsonBytes = ndjson.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
  const parsePerS = rate(() => {
    for (const l of ndjson) JSON.parse(l);
  }, minMs);

  const mb = text.length / 1e6;
  return {
    zstdLevel: level,
    blockBytes: BLOCK_BYTES,
    zstdRatio: text.length / compressedBytes,
    zstd3Ratio: text.length / level3Bytes,
    compressMBps: compressPerS * mb,
    decompressMBps: decompressPerS * mb,
    jsonParseLinesPerS: parsePerS * ndjson.length,
    jsonParseMBps: (parsePerS * ndjsonBytes) / 1e6,
    bytesPerLine: (text.length - lines.length) / lines.length,
    lines: lines.length,
    corpusBytes: text.length,
  };
}
