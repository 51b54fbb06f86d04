/**
 * Push bodies prepared ahead of time, so the load generator is never the bottleneck: the corpus is
 * laid out as one global sequence of entries (entry i belongs to stream i mod S and takes that
 * stream's next line), cut into batches, and each batch is serialized once as JSON with fixed-width
 * timestamps. A send copies a template and writes its timestamps in place.
 *
 * Replayed as it is, every cycle of the corpus would repeat the last one's lines exactly, which
 * block compression exploits as real logs never allow. So from the second cycle on every run of
 * digits in the lines is rewritten in place (`varyRun`): the number it spells is shifted by an
 * amount that depends on the cycle and the run's length only, modulo its width. The templates stay,
 * and so do the relations between the numbers of one cycle (consecutive times, ids, addresses
 * still look alike, as in real logs), but no cycle repeats the one before exactly (a line without
 * a digit still repeats, as constant lines of real logs do).
 */
import type { CorpusStream } from '../../test/support/corpus';

/** One batch of the cycle, serialized, with where its timestamps go. */
export interface BatchTemplate {
  body: Buffer;
  /** Byte offset of each entry's 19-digit timestamp, in global-sequence order within the batch. */
  tsOffsets: number[];
  /** Index within the batch (0…batch-1) of the entry at each `tsOffsets` position. */
  entryIndex: number[];
  /** UTF-8 bytes of the lines (what "raw" means in MB/s and compression ratios). */
  lineBytes: number;
  /** Every run of ASCII digits inside the lines (not in JSON escapes), which each cycle varies: byte offset and length, flat. */
  digitRuns: number[];
  entries: number;
}

/** Where the virtual clock starts and how fast it runs: entry i is stamped `baseMs` + i·`stepUs` µs. */
export interface Clock {
  baseMs: number;
  /** Whole microseconds, so that i·stepUs stays an exact integer for any span of days. */
  stepUs: number;
}

const TS_DIGITS = 19;
const TS_SLOT = '0'.repeat(TS_DIGITS);

/** The entries of one batch that belong to one stream, in global-sequence order. */
export interface BatchStream {
  stream: CorpusStream;
  /** Index within the batch (0…batch-1) of each entry. */
  entryIndex: number[];
  lines: string[];
}

/** Batches in one full cycle of the corpus (every line of every stream once, at least). */
export function cycleBatches(corpus: CorpusStream[], batch: number): number {
  const longest = Math.max(...corpus.map((s) => s.lines.length));
  return Math.ceil((corpus.length * longest) / batch);
}

/** The entries of the cycle's batch `k`, grouped by stream (in order of first appearance) as a shipper's batch of several streams is. */
export function batchStreams(corpus: CorpusStream[], batch: number, k: number): BatchStream[] {
  const streams = corpus.length;
  const first = k * batch;
  const byStream = new Map<number, BatchStream>();
  for (let i = first; i < first + batch; i++) {
    const s = i % streams;
    const stream = corpus[s]!;
    let group = byStream.get(s);
    if (!group) byStream.set(s, (group = { stream, entryIndex: [], lines: [] }));
    group.entryIndex.push(i - first);
    group.lines.push(stream.lines[Math.floor(i / streams) % stream.lines.length]!);
  }
  return [...byStream.values()];
}

/** Which stream (index into `corpus`) each global entry belongs to: the cycle's layout of batchStreams, repeated. */
export function streamOfEntry(corpus: CorpusStream[], batch: number): (seq: number) => number {
  const cycle = cycleBatches(corpus, batch) * batch;
  return (seq) => (seq % cycle) % corpus.length;
}

/** The corpus line (as cycle 0 holds it: later cycles vary its digits) of each global entry: the cycle's layout of batchStreams, repeated. */
export function lineOfEntry(corpus: CorpusStream[], batch: number): (seq: number) => string {
  const cycle = cycleBatches(corpus, batch) * batch;
  const streams = corpus.length;
  return (seq) => {
    const i = seq % cycle;
    const lines = corpus[i % streams]!.lines;
    return lines[Math.floor(i / streams) % lines.length]!;
  };
}

/** Builds the templates of one full cycle of the corpus. */
export function buildTemplates(corpus: CorpusStream[], batch: number): BatchTemplate[] {
  const templates: BatchTemplate[] = [];
  for (let k = 0; k < cycleBatches(corpus, batch); k++) {
    let json = '{"streams":[';
    const tsOffsets: number[] = [];
    const entryIndex: number[] = [];
    let lineBytes = 0;
    const digitRuns: number[] = [];
    batchStreams(corpus, batch, k).forEach((group, g) => {
      json += (g === 0 ? '' : ',') + `{"labels":{"app":${JSON.stringify(group.stream.app)}},"entries":[`;
      group.lines.forEach((line, n) => {
        lineBytes += Buffer.byteLength(line);
        json += (n === 0 ? '' : ',') + '{"ts":"';
        tsOffsets.push(Buffer.byteLength(json));
        entryIndex.push(group.entryIndex[n]!);
        json += `${TS_SLOT}","line":`;
        digitRunsOf(JSON.stringify(line), Buffer.byteLength(json), digitRuns);
        json += `${JSON.stringify(line)}}`;
      });
      json += ']}';
    });
    json += ']}';
    templates.push({ body: Buffer.from(json, 'utf8'), tsOffsets, entryIndex, lineBytes, digitRuns, entries: batch });
  }
  return templates;
}

/** Adds to `out` each run of digits of a JSON string literal as (byte offset from `at`, the encoded string's first byte; length), skipping escapes such as `\u001b`. */
function digitRunsOf(encoded: string, at: number, out: number[]): void {
  let bytes = at;
  let runStart = -1;
  const close = (): void => {
    if (runStart >= 0) out.push(runStart, bytes - runStart);
    runStart = -1;
  };
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i);
    if (c === 0x5c) {
      close();
      // An escape is ASCII: `\uXXXX` is six bytes, any other two.
      const skip = encoded[i + 1] === 'u' ? 5 : 1;
      i += skip;
      bytes += skip + 1;
      continue;
    }
    if (c >= 0x30 && c <= 0x39) {
      if (runStart < 0) runStart = bytes;
    } else close();
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? (i++, 4) : 3;
  }
  close();
}

/** Widest piece of a digit run shifted as one number (exact in a double). */
const RUN_PIECE = 15;

/**
 * Rewrites the digits `buf[at … at + length)` for replay cycle `cycle`: the number they spell (per
 * piece of at most 15 digits) plus cycle × 7919, modulo 10^width, zero-padded; cycle 0 leaves them.
 */
export function varyRun(buf: Buffer, at: number, length: number, cycle: number): void {
  if (cycle === 0) return;
  for (let from = at; from < at + length; from += RUN_PIECE) {
    const width = Math.min(RUN_PIECE, at + length - from);
    const mod = 10 ** width;
    let v = 0;
    for (let i = from; i < from + width; i++) v = v * 10 + (buf[i]! - 0x30);
    v = (v + ((cycle * 7919) % mod)) % mod;
    for (let i = from + width - 1; i >= from; i--) {
      buf[i] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    }
  }
}

/** Which template of the cycle the batch starting at global entry `seq` (a multiple of the batch size) takes its entries from. */
export function cycleIndex(templates: BatchTemplate[], seq: number): number {
  return Math.floor(seq / templates[0]!.entries) % templates.length;
}

/** The body of the batch starting at global entry `seq` (a multiple of the batch size), stamped by `clock`. */
export function stampBatch(templates: BatchTemplate[], seq: number, clock: Clock): { body: Buffer; template: BatchTemplate } {
  const template = templates[cycleIndex(templates, seq)]!;
  const body = Buffer.from(template.body);
  const cycle = Math.floor(seq / (templates.length * template.entries));
  const runs = template.digitRuns;
  for (let k = 0; cycle > 0 && k < runs.length; k += 2) varyRun(body, runs[k]!, runs[k + 1]!, cycle);
  for (let k = 0; k < template.tsOffsets.length; k++) {
    const us = (seq + template.entryIndex[k]!) * clock.stepUs;
    const ms = clock.baseMs + Math.floor(us / 1000);
    body.write(String(ms) + String((us % 1000) * 1000).padStart(6, '0'), template.tsOffsets[k]!, 'latin1');
  }
  return { body, template };
}

/** A virtual clock that spreads `totalEntries` over about `spanMs`, ending `endsBeforeNowMs` before now. */
export function clockFor(totalEntries: number, spanMs: number, endsBeforeNowMs: number): Clock {
  const stepUs = Math.max(1, Math.floor((spanMs * 1000) / totalEntries));
  return { baseMs: Date.now() - endsBeforeNowMs - Math.ceil((stepUs * totalEntries) / 1000), stepUs };
}

/** The timestamp, in ns, of global entry `seq`. */
export function stampOf(clock: Clock, seq: number): bigint {
  return BigInt(clock.baseMs) * 1_000_000n + BigInt(seq * clock.stepUs) * 1000n;
}
