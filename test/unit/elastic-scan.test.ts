import { entriesOf } from '../support/push-entries';
import { parseTimestamp } from '../../core/src/time';
import { parseBulk, parseBulkInSlices, type ParsedBulk } from '../../ingest/src/protocols/elastic';
import { bulkMapping, withStreamFields, type BulkMapping } from '../../ingest/src/protocols/elastic-mapping';
import { DocumentScanner } from '../../ingest/src/protocols/elastic-scan';
import type { PushLimits } from '../../ingest/src/push/builder';

const S = 1_000_000_000n;
const NOW = parseTimestamp('2026-11-26T04:00:00Z');
const limits: PushLimits = { maxLineBytes: 1024, maxLabels: 15, maxLabelValueBytes: 1024, maxLabelNameBytes: 1024, maxPastNs: 7n * 86_400n * S, maxFutureNs: 600n * S, maxAttrs: 8, maxAttrBytes: 65_536 };
const DEFAULTS = bulkMapping(['message', 'log', 'msg'], ['@timestamp', 'timestamp'], ['host.name', 'service.name', 'log.level']);

/** A document as written: members in order (keys may repeat), each value a string, null, a nested document, or raw JSON text. */
type Doc = [string, Value][];
type Value = string | null | Doc | { raw: string };

function text(doc: Doc, space: string): string {
  const value = (v: Value): string => (v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? text(v, space) : v.raw);
  return `{${space}${doc.map(([k, v]) => `${JSON.stringify(k)}${space}:${space}${value(v)}`).join(`,${space}`)}${space}}`;
}

/** A small deterministic generator (xorshift), so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const KEYS = ['message', 'log', 'msg', '@timestamp', 'timestamp', 'host', 'name', 'service', 'level', 'host.name', 'service.name', 'log.level', 'a', 'a.b', 'b', '0', '12', 'constructor', 'toString', '', 'x y'];
const STRINGS = ['GET / 200', 'x', '2026-11-26T03:59:00.123456Z', '2026-11-26', '2026-11-26T03:59:00', 'not a time', 'api', 'web', 'warn', 'a\tb'];
const OTHERS = ['42', '-1.5e3', 'true', 'false', '[1,"a"]', '[]', '"say \\"hi\\""', '"tab\\tescaped"', '{"__proto__":"p"}', '"\\u0041"'];
// Escapes of every kind JSON has, some decoding past ASCII or to a lone surrogate, and ones it does not have.
OTHERS.push('"a\\/b\\\\c\\b\\f\\n\\r"', '"caf\\u00e9"', '"\\ud800 alone"', '"nul \\u0000"', '"\\u00"', '"\\u12G4"', '"\\x"', '"ends \\"', '"2026-11-26T03:59:00\\u002e123Z"');
// Long strings (read four bytes at a time) with a raw control character, an escape, or nothing, at every offset within a word.
for (const n of [9, 10, 11, 12, 29, 30, 31, 32]) {
  OTHERS.push(`"${'a'.repeat(n)}\t${'b'.repeat(40)}"`, `"${'a'.repeat(n)}\\"${'b'.repeat(40)}"`, `"${'a'.repeat(n)}\u0001"`);
  STRINGS.push('c'.repeat(n + 40));
}

function document(next: () => number, depth: number, exotic: boolean): Doc {
  const doc: Doc = [];
  const n = Math.floor(next() * 5);
  for (let i = 0; i < n; i++) {
    const key = KEYS[Math.floor(next() * KEYS.length)]!;
    const r = next();
    let v: Value;
    if (r < 0.45) v = STRINGS[Math.floor(next() * STRINGS.length)]!;
    else if (r < 0.55) v = '';
    else if (r < 0.65) v = null;
    else if (r < 0.85 && depth < 3) v = document(next, depth + 1, exotic);
    else if (exotic) v = { raw: OTHERS[Math.floor(next() * OTHERS.length)]! };
    else v = 'plain';
    doc.push([key, v]);
  }
  return doc;
}

/** The body of `docs` (each after a create action), and the same body made non-ASCII by a refused action after them, which every document reads the JSON.parse way. */
function bodies(docs: string[]): [Buffer, Buffer] {
  const lines = docs.flatMap((d, i) => [i % 3 === 0 ? '{"create":{"_index":"logs"}}' : `{"index":{"_index":"i${i % 2}"}}`, d]);
  const body = lines.join('\n') + '\n';
  return [Buffer.from(body), Buffer.from(body + '{"delete":{"_index":"caf\u00e9"}}\n')];
}

/** A parse as comparable text: bigints as decimals, attribute order kept. */
function shown(r: ParsedBulk, dropLast: boolean): string {
  const cut = <T>(a: T[]): T[] => (dropLast ? a.slice(0, -1) : a);
  return JSON.stringify({ items: cut(r.items), streams: r.push.streams, accepted: r.push.accepted, rejected: cut(r.push.rejected) }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function compare(docs: string[], mapping: BulkMapping): void {
  const [ascii, other] = bodies(docs);
  const fast = parseBulk(ascii, { pathIndex: undefined, mapping }, NOW, limits);
  const slow = parseBulk(other, { pathIndex: undefined, mapping }, NOW, limits);
  expect(shown(fast, false)).toBe(shown(slow, true));
  // Both ways count every line's bytes, for the batcher.
  const bytes = fast.push.streams.map((s) => entriesOf(s).reduce((n, e) => n + Buffer.byteLength(e.line), 0));
  expect([fast.push.lineBytes ?? [], slow.push.lineBytes ?? []]).toEqual([bytes, bytes]);
}

describe('ingest > elastic bulk > documents read without JSON.parse', () => {
  const mappings: [string, BulkMapping][] = [
    ['the default fields', DEFAULTS],
    ['stream fields that are prefixes, dotted and inherited names', withStreamFields(DEFAULTS, 'host,a.b,constructor,,name')],
  ];

  it.each(mappings)('maps every document exactly as JSON.parse and the mapper do (%s)', (_what, mapping) => {
    for (let seed = 1; seed <= 300; seed++) {
      const next = random(seed);
      const docs = Array.from({ length: 12 }, (_, i) => text(document(next, 0, seed % 2 === 0), i % 4 === 0 ? ' ' : ''));
      // A document of one shape repeated with other values, as shippers send them.
      docs.push(docs[0]!.replace(/"x"/g, '"y"'), docs[0]!);
      try {
        compare(docs, mapping);
      } catch (err) {
        throw new Error(`seed ${seed}: ${(err as Error).message}`);
      }
    }
  });

  it.each(mappings)('maps runs of documents of one layout with other values exactly as JSON.parse does, whatever differs (%s)', (_what, mapping) => {
    const values = ['GET / 200', 'x', '', 'a\tb', 'say "hi"', 'back\\slash', 'c'.repeat(45), '2026-11-26T03:59:00.123456Z', 'not a time'];
    for (let seed = 1; seed <= 200; seed++) {
      const next = random(seed);
      const pick = (): string => values[Math.floor(next() * values.length)]!;
      const layout = (a: string, b: string, c: string, space: string): string =>
        text([['@timestamp', b], ['message', a], ['service', [['name', c]]], ['log', [['level', next() < 0.2 ? '' : 'info']]]], space);
      // Mostly the same layout, its values changed; now and then another spacing, another key, or a value that is not a string.
      const docs = Array.from({ length: 30 }, () => {
        const r = next();
        if (r < 0.1) return layout(pick(), pick(), pick(), ' ');
        if (r < 0.15) return layout(pick(), pick(), pick(), '').replace('"message"', '"msg"');
        if (r < 0.2) return layout(pick(), pick(), pick(), '').replace(/"info"/, 'null');
        return layout(pick(), next() < 0.5 ? '2026-11-26T03:59:00.123456Z' : pick(), next() < 0.5 ? 'api' : pick(), '');
      });
      try {
        compare(docs, mapping);
      } catch (err) {
        throw new Error(`seed ${seed}: ${(err as Error).message}`);
      }
    }
  });

  it('reads a shipper’s documents without JSON.parse', () => {
    const docs = Array.from({ length: 50 }, (_, i) => text([['@timestamp', '2026-11-26T03:59:00.123456Z'], ['message', `line ${i}`], ['service', [['name', `svc${i % 3}`]]], ['extra', [['k', 'v']]]], ''));
    const ascii = Buffer.from(docs.map((d) => `{"create":{"_index":"logs"}}\n${d}\n`).join(''));
    const parse = jest.spyOn(JSON, 'parse');
    const scan = jest.spyOn(DocumentScanner.prototype as unknown as { scan: () => boolean }, 'scan');
    try {
      const r = parseBulk(ascii, { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits);
      // Only the first document is scanned token by token: the others fit its layout.
      expect(scan).toHaveBeenCalledTimes(1);
      expect(r.push.accepted).toBe(50);
      expect(r.push.streams[0]!.labels).toEqual({ service_name: 'svc0', index: 'logs' });
      expect(entriesOf(r.push.streams[0]!)[0]).toEqual({ ts: parseTimestamp('2026-11-26T03:59:00.123456Z'), line: 'line 0', attrs: { 'extra.k': 'v' } });
      // Only the first action line is parsed: the others repeat it.
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
      scan.mockRestore();
    }
  });

  it('tells label values apart whose bytes hash alike', () => {
    // "Aa" and "BB" have one hash: each document must still get its own value.
    const names = ['Aa', 'BB', 'Aa', 'BB'];
    const ascii = Buffer.from(names.map((name, i) => `{"create":{"_index":"x"}}\n{"message":"m${i}","service":{"name":"${name}"}}\n`).join(''));
    const r = parseBulk(ascii, { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits);
    expect(r.push.streams.map((s) => [s.labels.service_name, entriesOf(s).map((e) => e.line)])).toEqual([
      ['Aa', ['m0', 'm2']],
      ['BB', ['m1', 'm3']],
    ]);
  });

  it('keeps streams in the order of their first accepted document, and refusals in body order, in slices of any size', async () => {
    const doc = (service: string, message: string, ts = '2026-11-26T03:59:00Z') => text([['@timestamp', ts], ['message', message], ['service', [['name', service]]]], '');
    const docs = [doc('a', 'a1', 'not a time'), doc('b', 'b1'), doc('a', 'a2'), doc('b', 'x'.repeat(2000)), doc('c', 'c1'), '{"message":"say \\"b2\\"","service":{"name":"b"}}', doc('a', 'a3')];
    const body = Buffer.from(docs.map((d) => `{"create":{"_index":"logs"}}\n${d}\n`).join(''));
    const whole = parseBulk(body, { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits);
    expect(whole.push.streams.map((s) => [s.labels.service_name, entriesOf(s).map((e) => e.line)])).toEqual([
      ['b', ['b1', 'say "b2"']],
      ['a', ['a2', 'a3']],
      ['c', ['c1']],
    ]);
    expect(whole.push.rejected.map((r) => `${r.stream}:${r.code}`)).toEqual(['0:SILT_BAD_TIMESTAMP', '3:SILT_LINE_TOO_LONG']);
    // Slices end anywhere: each adds what it read, and the outcome is the same.
    for (const slice of [1, 100, 300]) expect(shown(await parseBulkInSlices(body, { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits, slice), false)).toBe(shown(whole, false));
  });

  it('reads a document whose values have escapes without JSON.parse of the whole document, its line as the decoded text', () => {
    const docs = ['{"message":"say \\"hi\\" \\u00e9","service":{"name":"a\\/b"}}', '{"message":"plain","service":{"name":"a\\/b"}}', '{"message":"tab\\tthen","@timestamp":"2026-11-26T03:59:00\\u002e5Z"}'];
    compare(docs, DEFAULTS);
    const [ascii] = bodies(docs);
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const r = parseBulk(ascii, { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits);
      expect(r.push.streams.map((s) => [s.labels.service_name, entriesOf(s).map((e) => e.line)])).toEqual([
        ['a/b', ['say "hi" é']],
        ['a/b', ['plain']],
        [undefined, ['tab\tthen']],
      ]);
      expect(entriesOf(r.push.streams[2]!)[0]!.ts).toBe(parseTimestamp('2026-11-26T03:59:00.5Z'));
      // Only the action lines (one per distinct line) and the escaped strings are parsed.
      expect(parse.mock.calls.every(([text]) => !String(text).startsWith('{"message"'))).toBe(true);
    } finally {
      parse.mockRestore();
    }
  });

  it('reads documents with escaped keys, numbers, arrays, __proto__ or a broken syntax the JSON.parse way, with its errors', () => {
    const docs = ['{"mess\\u0061ge":"escaped key"}', '{"message":"say \\"hi\\""}', '{"message":"n","n":1}', '{"message":"a","tags":["x"]}', '{"__proto__":"p","message":"m"}', '{"message":"cut', '{"message":"x",}', '{"message":"tab\there"}', '{} x', ' {"message" : "spaced"} '];
    compare(docs, DEFAULTS);
    const [ascii] = bodies(docs);
    const r = parseBulk(ascii, { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits);
    expect(r.items.map((i) => i.code)).toEqual([null, null, null, null, null, 'SILT_MALFORMED_JSON', 'SILT_MALFORMED_JSON', 'SILT_MALFORMED_JSON', 'SILT_MALFORMED_JSON', null]);
  });
});
