/**
 * Push bodies prepared ahead of time, so the load generator is never the bottleneck: the corpus is
 * laid out as one global sequence of entries (entry i belongs to stream i mod S and takes that
 * stream's next line), cut into batches, and each batch is serialized once as JSON with fixed-width
 * timestamps. A send copies a template and writes its timestamps in place.
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

/** Builds the templates of one full cycle of the corpus (every line of every stream once, at least). */
export function buildTemplates(corpus: CorpusStream[], batch: number): BatchTemplate[] {
  const streams = corpus.length;
  const longest = Math.max(...corpus.map((s) => s.lines.length));
  const templates: BatchTemplate[] = [];
  const cycle = Math.ceil((streams * longest) / batch) * batch;
  for (let first = 0; first < cycle; first += batch) {
    // Entries grouped by stream, as a shipper's batch of several streams is.
    const byStream = new Map<number, number[]>();
    for (let i = first; i < first + batch; i++) {
      const s = i % streams;
      let list = byStream.get(s);
      if (!list) byStream.set(s, (list = []));
      list.push(i);
    }
    let json = '{"streams":[';
    const tsOffsets: number[] = [];
    const entryIndex: number[] = [];
    let lineBytes = 0;
    let firstStream = true;
    for (const [s, indexes] of byStream) {
      const stream = corpus[s]!;
      json += (firstStream ? '' : ',') + `{"labels":{"app":${JSON.stringify(stream.app)}},"entries":[`;
      firstStream = false;
      indexes.forEach((i, k) => {
        const line = stream.lines[Math.floor(i / streams) % stream.lines.length]!;
        lineBytes += Buffer.byteLength(line);
        json += (k === 0 ? '' : ',') + '{"ts":"';
        tsOffsets.push(Buffer.byteLength(json));
        entryIndex.push(i - first);
        json += `${TS_SLOT}","line":${JSON.stringify(line)}}`;
      });
      json += ']}';
    }
    json += ']}';
    templates.push({ body: Buffer.from(json, 'utf8'), tsOffsets, entryIndex, lineBytes, entries: batch });
  }
  return templates;
}

/** The body of the batch starting at global entry `seq` (a multiple of the batch size), stamped by `clock`. */
export function stampBatch(templates: BatchTemplate[], seq: number, clock: Clock): { body: Buffer; template: BatchTemplate } {
  const template = templates[Math.floor(seq / templates[0]!.entries) % templates.length]!;
  const body = Buffer.from(template.body);
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
