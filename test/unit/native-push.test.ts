import { DEFAULT_CONFIG } from '../../core/src/config';
import type { BlockEntry } from '../../core/src/block-format';
import { BadRequestError, SiltError, UnsupportedMediaTypeError } from '../../core/src/errors';
import { parseTimestamp } from '../../core/src/time';
import { parseNativePush as parsePush } from '../../ingest/src/protocols/native';
import { pushLimits, type ParsedPush, type PushEntry, type PushLimits } from '../../ingest/src/push/builder';

const S = 1_000_000_000n;
const NOW = parseTimestamp('2026-11-26T04:00:00Z');
/** The default limits, as ingest runs with them. */
const limits: PushLimits = pushLimits(DEFAULT_CONFIG.ingest);

// PushEntry and BlockEntry must stay interchangeable.
const asBlock: BlockEntry = { ts: 1n, line: '' } as PushEntry;
const asPush: PushEntry = asBlock;
void asPush;

function json(doc: unknown, l: PushLimits = limits): ParsedPush {
  return parsePush(Buffer.from(JSON.stringify(doc)), 'application/json', undefined, NOW, l);
}

function raw(text: string | Buffer, contentType: string, labels?: string, l: PushLimits = limits): ParsedPush {
  return parsePush(Buffer.isBuffer(text) ? text : Buffer.from(text), contentType, labels, NOW, l);
}

function ndjson(lines: (string | object)[], l: PushLimits = limits): ParsedPush {
  return raw(lines.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('\n') + '\n', 'application/x-ndjson', undefined, l);
}

function thrown(f: () => unknown): SiltError {
  try {
    f();
  } catch (err) {
    if (err instanceof SiltError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

/** The codes of a result's rejections, as `stream:entry:code`. */
function codes(r: ParsedPush): string[] {
  return r.rejected.map((x) => `${x.stream}:${x.entry}:${x.code}`);
}

describe('ingest > parse push > content type', () => {
  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON;charset="UTF-8"',
    'application/json; charset=utf8',
    'application/json ; foo=bar',
  ])('accepts %s as JSON', (ct) => {
    const r = parsePush(Buffer.from('{"streams":[]}'), ct, undefined, NOW, limits);
    expect(r).toEqual({ streams: [], accepted: 0, rejected: [] });
  });

  it.each(['application/x-ndjson', 'application/ndjson', 'application/jsonlines', 'application/x-ndjson; charset=utf-8'])('accepts %s as NDJSON', (ct) => {
    expect(raw('{"labels":{"a":"1"},"line":"x"}\n', ct).accepted).toBe(1);
  });

  it.each([
    [undefined, /missing/],
    ['', /missing/],
    ['application/xml', /"application\/xml"/],
    ['application/x-protobuf', /"application\/x-protobuf"/],
    ['text/html', /"text\/html"/],
    ['application/json; charset=latin1', /charset "latin1"/],
    ['text/plain; charset=utf-16', /charset "utf-16"/],
  ])('refuses %j with 415', (ct, message) => {
    const err = thrown(() => parsePush(Buffer.from('{}'), ct, '{a="1"}', NOW, limits));
    expect(err).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(err).toMatchObject({ status: 415, code: 'SILT_UNSUPPORTED_CONTENT_TYPE' });
    expect(err.message).toMatch(message);
  });
});

describe('ingest > parse push > json', () => {
  it('accepts a valid push with every timestamp form', () => {
    const r = json({
      streams: [
        {
          labels: { app: 'api', host: 'h1' },
          entries: [
            { ts: '2026-11-26T03:59:59.123456789Z', line: 'rfc', attrs: { trace_id: 'ab12' } },
            { ts: `${NOW - S + 1n}`, line: 'ns string' },
            { ts: Number(NOW / 1_000_000n) - 500, line: 'ms number' },
            { ts: Number(NOW / S) - 1, line: 's number' },
            { ts: `${NOW / S - 1n}.25`, line: 's fraction' },
            { line: 'no ts' },
            { ts: null, line: 'null ts', attrs: {} },
            { ts: '2026-11-26T06:00:00+02:00', line: 'offset', attrs: null },
          ],
        },
      ],
    });
    expect(r.rejected).toEqual([]);
    expect(r.accepted).toBe(8);
    expect(r.streams).toHaveLength(1);
    expect(r.streams[0]!.labels).toEqual({ app: 'api', host: 'h1' });
    expect(r.streams[0]!.entries).toEqual([
      { ts: NOW - S + 123_456_789n, line: 'rfc', attrs: { trace_id: 'ab12' } },
      { ts: NOW - S + 1n, line: 'ns string' },
      { ts: NOW - S / 2n, line: 'ms number' },
      { ts: NOW - S, line: 's number' },
      { ts: NOW - S + S / 4n, line: 's fraction' },
      { ts: NOW, line: 'no ts' },
      { ts: NOW, line: 'null ts' },
      { ts: NOW, line: 'offset' },
    ]);
    expect('attrs' in r.streams[0]!.entries[6]!).toBe(false);
  });

  it('accepts an empty line and a leading BOM', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ streams: [{ labels: { a: '1' }, entries: [{ line: '' }] }] }))]);
    expect(raw(body, 'application/json').accepted).toBe(1);
  });

  it('refuses a body that is not valid UTF-8', () => {
    const body = Buffer.concat([Buffer.from('{"streams":[{"labels":{"a":"1"},"entries":[{"line":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}]}')]);
    const err = thrown(() => raw(body, 'application/json'));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err).toMatchObject({ status: 400, code: 'SILT_INVALID_UTF8' });
    // UTF-8-encoded surrogates are invalid too.
    expect(thrown(() => raw(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), 'application/json')).code).toBe('SILT_INVALID_UTF8');
  });

  it('refuses malformed JSON with the parser position', () => {
    const err = thrown(() => raw('{"streams":[}', 'application/json'));
    expect(err).toMatchObject({ status: 400, code: 'SILT_MALFORMED_JSON' });
    expect(err.message).toMatch(/at position 12 \(line 1, column 13\)/);
    expect(thrown(() => raw('', 'application/json')).code).toBe('SILT_MALFORMED_JSON');
  });

  it.each([
    ['{\n  "streams": [\n    {"labels": tru}\n  ]\n}', 'at position 35 (line 3, column 19)'],
    ['{"streams":[{"labels":{"a":"1"},"entries":[{"line":"x\\q"}]}]}', 'at position 54 (line 1, column 55)'],
    ['{"streams":[]} extra', 'at position 15 (line 1, column 16)'],
    ['{"streams":[', 'at position 12 (line 1, column 13)'],
    ['['.repeat(100_000), 'at position 100000'],
  ])('locates the syntax error of %j', (body, where) => {
    const err = thrown(() => raw(body, 'application/json'));
    expect(err.code).toBe('SILT_MALFORMED_JSON');
    expect(err.message).toContain(where);
  });

  it.each([
    ['an array', '[]', /not an array/],
    ['a string', '"streams"', /not a string/],
    ['null', 'null', /not null/],
    ['no streams', '{"stream":[]}', /"streams" is missing/],
    ['streams as an object', '{"streams":{}}', /"streams" must be an array, not an object/],
  ])('refuses %s at the top level', (_name, body, message) => {
    const err = thrown(() => raw(body, 'application/json'));
    expect(err).toMatchObject({ status: 400, code: 'SILT_BAD_PUSH_SHAPE' });
    expect(err.message).toMatch(message);
  });

  it('rejects every entry of a stream with invalid labels, keeping the other streams', () => {
    const r = json({
      streams: [
        { labels: { 'bad-name': 'x' }, entries: [{ line: 'a' }, { line: 'b' }] },
        { labels: { app: 'ok' }, entries: [{ line: 'c' }] },
        { labels: {}, entries: [{ line: 'd' }] },
        { entries: [{ line: 'e' }] },
        { labels: { app: '' }, entries: 'nope' },
      ],
    });
    expect(codes(r)).toEqual(['0:0:SILT_BAD_LABELS', '0:1:SILT_BAD_LABELS', '2:0:SILT_BAD_LABELS', '3:0:SILT_BAD_LABELS', '4:-1:SILT_BAD_LABELS']);
    expect(r.rejected[0]!.reason).toMatch(/"bad-name"/);
    expect(r.rejected[4]!.reason).toMatch(/"app" has an empty value/);
    expect(r.accepted).toBe(1);
    expect(r.streams).toEqual([{ labels: { app: 'ok' }, entries: [{ ts: NOW, line: 'c' }] }]);
  });

  it('rejects a stream without an entries array, or that is not an object, with entry -1', () => {
    const r = json({ streams: [{ labels: { app: 'a' } }, { labels: { app: 'a' }, entries: {} }, null, 'x', { labels: { app: 'a' }, entries: [] }] });
    expect(codes(r)).toEqual(['0:-1:SILT_BAD_PUSH_SHAPE', '1:-1:SILT_BAD_PUSH_SHAPE', '2:-1:SILT_BAD_PUSH_SHAPE', '3:-1:SILT_BAD_PUSH_SHAPE']);
    expect(r.rejected[0]!.reason).toMatch(/no "entries"/);
    expect(r.streams).toEqual([]);
  });

  it.each([
    ['null', null, /not null/],
    ['a string', 'line', /not a string/],
    ['an array', ['x'], /not an array/],
  ])('rejects an entry that is %s', (_name, entry, reason) => {
    const r = json({ streams: [{ labels: { a: '1' }, entries: [entry] }] });
    expect(codes(r)).toEqual(['0:0:SILT_BAD_ENTRY']);
    expect(r.rejected[0]!.reason).toMatch(reason);
  });

  it.each([
    ['missing', { ts: '1764129600' }, /no "line"/],
    ['a number', { line: 42 }, /"line" must be a string, not a number/],
    ['null', { line: null }, /not null/],
    ['an object', { line: { msg: 'x' } }, /not an object/],
  ])('rejects an entry whose line is %s', (_name, entry, reason) => {
    const r = json({ streams: [{ labels: { a: '1' }, entries: [entry] }] });
    expect(codes(r)).toEqual(['0:0:SILT_BAD_ENTRY']);
    expect(r.rejected[0]!.reason).toMatch(reason);
  });

  it('rejects a line over the limit in UTF-8 bytes, not UTF-16 units', () => {
    const r = json({
      streams: [
        {
          labels: { a: '1' },
          entries: [
            { line: 'x'.repeat(300_000) },
            { line: 'x'.repeat(262_144) },
            { line: 'é'.repeat(131_072) },
            { line: 'é'.repeat(131_073) },
            { line: '😀'.repeat(65_537) },
            { line: '✓'.repeat(87_381) },
          ],
        },
      ],
    });
    expect(codes(r)).toEqual(['0:0:SILT_LINE_TOO_LONG', '0:3:SILT_LINE_TOO_LONG', '0:4:SILT_LINE_TOO_LONG']);
    expect(r.rejected[0]!.reason).toBe('line is 300000 bytes, over the 262144-byte limit');
    expect(r.rejected[1]!.reason).toBe('line is 262146 bytes, over the 262144-byte limit');
    expect(r.rejected[2]!.reason).toBe('line is 262148 bytes, over the 262144-byte limit');
    expect(r.accepted).toBe(3);
  });

  it('rejects a line with a lone surrogate as invalid UTF-8 and keeps a valid pair', () => {
    const body = '{"streams":[{"labels":{"a":"1"},"entries":[{"line":"x\\ud800y"},{"line":"\\ud83d\\ude00"},{"line":"\\udc00"}]}]}';
    const r = raw(body, 'application/json');
    expect(codes(r)).toEqual(['0:0:SILT_INVALID_UTF8', '0:2:SILT_INVALID_UTF8']);
    expect(r.rejected[0]!.reason).toMatch(/lone surrogate/);
    expect(r.streams[0]!.entries).toEqual([{ ts: NOW, line: '😀' }]);
  });

  it.each([
    ['garbage', 'yesterday'],
    ['a boolean', true],
    ['an object', { s: 1 }],
    ['a negative number', -1],
    ['an impossible date', '2026-02-30T00:00:00Z'],
  ])('rejects a timestamp that is %s', (_name, ts) => {
    const r = json({ streams: [{ labels: { a: '1' }, entries: [{ ts, line: 'x' }] }] });
    expect(codes(r)).toEqual(['0:0:SILT_BAD_TIMESTAMP']);
    expect(r.rejected[0]!.reason).toMatch(/^timestamp /);
  });

  it('rejects timestamps outside the past and future bounds, inclusive of the bounds themselves', () => {
    const r = json({
      streams: [
        {
          labels: { a: '1' },
          entries: [
            { ts: '2026-11-18T04:00:00Z', line: '8 days old' },
            { ts: '2026-11-19T04:00:00Z', line: 'exactly 7 days old' },
            { ts: '2026-11-19T03:59:59.999999999Z', line: '1 ns too old' },
            { ts: '2026-11-26T04:10:00Z', line: 'exactly 10 minutes ahead' },
            { ts: '2026-11-26T04:10:00.000000001Z', line: '1 ns too new' },
            { ts: '2026-11-26T05:00:00Z', line: 'an hour ahead' },
            { ts: 0, line: 'epoch' },
          ],
        },
      ],
    });
    expect(codes(r)).toEqual(['0:0:SILT_TOO_OLD', '0:2:SILT_TOO_OLD', '0:4:SILT_TOO_NEW', '0:5:SILT_TOO_NEW', '0:6:SILT_TOO_OLD']);
    expect(r.rejected[0]!.reason).toBe('timestamp 2026-11-18T04:00:00.000000000Z is 8 days before the receive time, older than the 7 days limit');
    expect(r.rejected[3]!.reason).toBe('timestamp 2026-11-26T05:00:00.000000000Z is 1 hour after the receive time, beyond the 10 minutes limit');
    expect(r.streams[0]!.entries.map((e) => e.line)).toEqual(['exactly 7 days old', 'exactly 10 minutes ahead']);
  });

  it.each([
    ['an array', ['a'], /"attrs" must be an object/],
    ['a string', 'k=v', /"attrs" must be an object/],
    ['a number value', { k: 1 }, /attribute "k" must have a string value, not a number/],
    ['a null value', { k: null }, /not null/],
    ['a nested object', { k: { v: 'x' } }, /not an object/],
    ['an empty name', { '': 'v' }, /names must not be empty/],
    ['a lone surrogate', { k: '\ud800' }, /"k" is not valid UTF-8/],
    ['too many', Object.fromEntries(Array.from({ length: 65 }, (_v, i) => [`k${i}`, 'v'])), /65 attributes, over the limit of 64/],
    ['too many bytes', { k: 'é'.repeat(32_768) }, /attributes are 65537 bytes, over the 65536-byte limit/],
  ])('rejects attrs that are %s', (_name, attrs, reason) => {
    const r = json({ streams: [{ labels: { a: '1' }, entries: [{ line: 'x', attrs }] }] });
    expect(codes(r)).toEqual(['0:0:SILT_BAD_ATTRS']);
    expect(r.rejected[0]!.reason).toMatch(reason);
  });

  it('accepts attrs at the limits', () => {
    const many = Object.fromEntries(Array.from({ length: 64 }, (_v, i) => [`k${i}`, 'v']));
    const r = json({ streams: [{ labels: { a: '1' }, entries: [{ line: 'x', attrs: many }, { line: 'y', attrs: { k: 'é'.repeat(32_767) + 'x' } }] }] });
    expect(r.rejected).toEqual([]);
    expect(r.streams[0]!.entries[0]!.attrs).toEqual(many);
  });

  it('keeps valid entries of a mixed request and sorts the rejections by stream then entry', () => {
    const r = json({
      streams: [
        { labels: { app: 'a' }, entries: [{ line: 'a0' }, { line: 1 }, { line: 'a2', ts: 'bad' }, { line: 'a3' }] },
        { labels: { app: 'b' }, entries: [{ line: 'b0', attrs: [] }, { line: 'b1' }] },
        { labels: { app: 'c' }, entries: [{ line: 'c0', ts: '2020-01-01T00:00:00Z' }] },
      ],
    });
    expect(codes(r)).toEqual(['0:1:SILT_BAD_ENTRY', '0:2:SILT_BAD_TIMESTAMP', '1:0:SILT_BAD_ATTRS', '2:0:SILT_TOO_OLD']);
    expect(r.accepted).toBe(3);
    expect(r.streams.map((s) => [s.labels.app, s.entries.map((e) => e.line)])).toEqual([
      ['a', ['a0', 'a3']],
      ['b', ['b1']],
    ]);
  });

  it('merges streams with the same label set, in any label order, keeping first-seen order', () => {
    const r = json({
      streams: [
        { labels: { app: 'a', host: 'h' }, entries: [{ line: '1' }] },
        { labels: { app: 'b' }, entries: [{ line: '2' }] },
        { labels: { host: 'h', app: 'a' }, entries: [{ line: '3' }, { line: '4' }] },
        { labels: { app: 'b' }, entries: [{ line: '5' }] },
      ],
    });
    expect(r.accepted).toBe(5);
    expect(r.streams).toEqual([
      { labels: { app: 'a', host: 'h' }, entries: ['1', '3', '4'].map((line) => ({ ts: NOW, line })) },
      { labels: { app: 'b' }, entries: ['2', '5'].map((line) => ({ ts: NOW, line })) },
    ]);
  });
});

describe('ingest > parse push > ndjson', () => {
  it('accepts one entry per line and groups them by label set in order', () => {
    const r = ndjson([
      { labels: { app: 'a' }, ts: '2026-11-26T03:00:00Z', line: 'a1', attrs: { k: 'v' } },
      { labels: { app: 'b' }, line: 'b1' },
      { labels: { app: 'a' }, ts: Number(NOW / 1_000_000n) - 3_599_999, line: 'a2' },
      { line: 'b2', labels: { app: 'b' } },
    ]);
    expect(r.rejected).toEqual([]);
    expect(r.accepted).toBe(4);
    expect(r.streams).toEqual([
      {
        labels: { app: 'a' },
        entries: [
          { ts: NOW - 3600n * S, line: 'a1', attrs: { k: 'v' } },
          { ts: NOW - 3600n * S + 1_000_000n, line: 'a2' },
        ],
      },
      { labels: { app: 'b' }, entries: [{ ts: NOW, line: 'b1' }, { ts: NOW, line: 'b2' }] },
    ]);
  });

  it('groups lines whose labels differ only in order', () => {
    const r = ndjson([
      { labels: { app: 'a', host: 'h' }, line: '1' },
      { labels: { host: 'h', app: 'a' }, line: '2' },
    ]);
    expect(r.streams).toHaveLength(1);
    expect(r.streams[0]!.entries.map((e) => e.line)).toEqual(['1', '2']);
  });

  it('skips empty and blank lines, strips CR, and numbers rejections by physical line', () => {
    const body = '\r\n{"labels":{"a":"1"},"line":"x"}\r\n  \n\n{"labels":{"a":"1"},"line":5}\n{"labels":{"a":"1"},"line":"y"}';
    const r = raw(body, 'application/x-ndjson');
    expect(codes(r)).toEqual(['4:0:SILT_BAD_ENTRY']);
    expect(r.streams[0]!.entries.map((e) => e.line)).toEqual(['x', 'y']);
  });

  it('rejects a malformed JSON line alone and keeps the others', () => {
    const r = ndjson([{ labels: { a: '1' }, line: 'ok1' }, '{"labels":{"a":"1"},"line":"broken"', { labels: { a: '1' }, line: 'ok2' }]);
    expect(codes(r)).toEqual(['1:0:SILT_MALFORMED_JSON']);
    expect(r.rejected[0]!.reason).toMatch(/^line is not valid JSON: .*position/);
    expect(r.accepted).toBe(2);
  });

  it('rejects invalid UTF-8 in one NDJSON line and keeps the others', () => {
    const body = Buffer.concat([
      Buffer.from('{"labels":{"a":"1"},"line":"é ok"}\n{"labels":{"a":"1"},"line":"bad '),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}\n{"labels":{"a":"1"},"line":"ok2"}\n'),
    ]);
    const r = raw(body, 'application/x-ndjson');
    expect(codes(r)).toEqual(['1:0:SILT_INVALID_UTF8']);
    expect(r.streams[0]!.entries.map((e) => e.line)).toEqual(['é ok', 'ok2']);
  });

  it('rejects a lone surrogate escape in one line', () => {
    const r = raw('{"labels":{"a":"1"},"line":"\\udfff"}\n{"labels":{"a":"1"},"line":"ok"}\n', 'application/x-ndjson');
    expect(codes(r)).toEqual(['0:0:SILT_INVALID_UTF8']);
    expect(r.accepted).toBe(1);
  });

  it('rejects each kind of bad line with entry 0', () => {
    const r = ndjson([
      '[1,2]',
      '"text"',
      { line: 'no labels' },
      { labels: 'app=a', line: 'x' },
      { labels: { 'a-b': '1' }, line: 'x' },
      { labels: { 'a-b': '1' }, line: 'same bad labels again' },
      { labels: { a: '1' }, line: 'x'.repeat(300_000) },
      { labels: { a: '1' }, line: 'x', ts: 'soon' },
      { labels: { a: '1' }, line: 'x', ts: '2026-01-01T00:00:00Z' },
      { labels: { a: '1' }, line: 'x', ts: '2027-01-01T00:00:00Z' },
      { labels: { a: '1' }, line: 'x', attrs: { k: 2 } },
      { labels: { a: '1' }, line: 'fine' },
    ]);
    expect(codes(r)).toEqual([
      '0:0:SILT_BAD_ENTRY',
      '1:0:SILT_BAD_ENTRY',
      '2:0:SILT_BAD_LABELS',
      '3:0:SILT_BAD_LABELS',
      '4:0:SILT_BAD_LABELS',
      '5:0:SILT_BAD_LABELS',
      '6:0:SILT_LINE_TOO_LONG',
      '7:0:SILT_BAD_TIMESTAMP',
      '8:0:SILT_TOO_OLD',
      '9:0:SILT_TOO_NEW',
      '10:0:SILT_BAD_ATTRS',
    ]);
    expect(r.rejected[5]!.reason).toMatch(/"a-b"/);
    expect(r.accepted).toBe(1);
  });

  it('accepts an empty body', () => {
    expect(raw('', 'application/x-ndjson')).toEqual({ streams: [], accepted: 0, rejected: [] });
  });
});

describe('ingest > parse push > text', () => {
  const labels = '{app="api",host="h1"}';

  it('takes labels from the parameter and one entry per line at the receive time', () => {
    const r = raw('first\r\nsecond\n\nfourth é\n', 'text/plain; charset=utf-8', labels);
    expect(r.rejected).toEqual([]);
    expect(r.accepted).toBe(4);
    expect(r.streams).toEqual([
      {
        labels: { app: 'api', host: 'h1' },
        entries: ['first', 'second', '', 'fourth é'].map((line) => ({ ts: NOW, line })),
      },
    ]);
  });

  it('keeps a last line without a newline and strips only one CR', () => {
    const r = raw('a\r\r\nb', 'text/plain', labels);
    expect(r.streams[0]!.entries.map((e) => e.line)).toEqual(['a\r', 'b']);
  });

  it.each([
    ['', []],
    ['\n', ['']],
    ['x\n\n', ['x', '']],
    ['\ufeffbom\n', ['bom']],
  ])('splits %j into %j', (body, lines) => {
    const r = raw(body, 'text/plain', labels);
    expect(r.accepted).toBe(lines.length);
    expect(r.streams.flatMap((s) => s.entries.map((e) => e.line))).toEqual(lines);
  });

  it.each([
    ['missing', undefined, /need the stream labels/],
    ['empty', '', /need the stream labels/],
    ['not a label set', 'app=api', /position 0/],
    ['a regex matcher', '{app=~"a"}', /only = matchers/],
    ['empty braces', '{}', /empty/],
    ['a reserved name', '{__name__="x"}', /reserved/],
  ])('refuses the whole request when labels are %s', (_name, param, message) => {
    const err = thrown(() => raw('line\n', 'text/plain', param));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err).toMatchObject({ status: 400, code: 'SILT_BAD_LABELS' });
    expect(err.message).toMatch(message);
  });

  it('rejects only the line with invalid UTF-8', () => {
    const body = Buffer.concat([Buffer.from('ok\n'), Buffer.from([0x61, 0xc3]), Buffer.from('\nok2\n')]);
    const r = raw(body, 'text/plain', labels);
    expect(codes(r)).toEqual(['0:1:SILT_INVALID_UTF8']);
    expect(r.streams[0]!.entries.map((e) => e.line)).toEqual(['ok', 'ok2']);
  });

  it('rejects an over-long line by its bytes', () => {
    const small = { ...limits, maxLineBytes: 4 };
    const r = raw('abcd\néé\nabcde\néée\n', 'text/plain', labels, small);
    expect(codes(r)).toEqual(['0:2:SILT_LINE_TOO_LONG', '0:3:SILT_LINE_TOO_LONG']);
    expect(r.rejected[0]!.reason).toBe('line is 5 bytes, over the 4-byte limit');
    expect(r.accepted).toBe(2);
  });
});
