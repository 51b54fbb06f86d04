import { entriesOf } from '../support/push-entries';
import { SiltError } from '../../core/src/errors';
import { parseTimestamp } from '../../core/src/time';
import { checkBulkContentType, parseBulk, parseBulkInSlices, type ParsedBulk } from '../../ingest/src/protocols/elastic';
import { bulkMapping, withStreamFields, type BulkMapping } from '../../ingest/src/protocols/elastic-mapping';
import { answerFilter, esErrorType, renderBulkAnswer } from '../../ingest/src/protocols/elastic-answer';
import { PushBuilder, type PushEntry, type PushLimits } from '../../ingest/src/push/builder';

const S = 1_000_000_000n;
const MS = 1_000_000n;
const NOW = parseTimestamp('2026-11-26T04:00:00Z');
const limits: PushLimits = {
  maxLineBytes: 1024,
  maxLabels: 15,
  maxLabelValueBytes: 1024,
  maxLabelNameBytes: 1024,
  maxPastNs: 7n * 86_400n * S,
  maxFutureNs: 600n * S,
  maxAttrs: 64,
  maxAttrBytes: 65_536,
};
const DEFAULTS = bulkMapping(['message', 'log', 'msg'], ['@timestamp', 'timestamp'], ['host.name', 'service.name', 'log.level']);

function ndjson(lines: (string | object)[]): Buffer {
  return Buffer.from(lines.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('\n') + '\n');
}

function bulk(lines: (string | object)[], pathIndex?: string, mapping: BulkMapping = DEFAULTS): ParsedBulk {
  return parseBulk(ndjson(lines), { pathIndex, mapping }, NOW, limits);
}

/** Every stored entry with its labels, in stream order. */
function stored(r: ParsedBulk): (PushEntry & { labels: Record<string, string> })[] {
  return r.push.streams.flatMap((s) => entriesOf(s).map((e) => ({ labels: s.labels, ...e })));
}

/** Each item as `action:status:code` (201 for a stored document). */
function outcomes(r: ParsedBulk): string[] {
  return r.items.map((i) => `${i.action}:${i.code === null ? 201 : 400}:${i.code ?? ''}`);
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

const create = (index?: string, id?: string) => ({ create: { ...(index === undefined ? {} : { _index: index }), ...(id === undefined ? {} : { _id: id }) } });

describe('ingest > elastic bulk > content type', () => {
  it.each([
    'application/x-ndjson',
    'application/json',
    'application/json; charset=UTF-8',
    'application/vnd.elasticsearch+x-ndjson; compatible-with=9',
    'application/vnd.elasticsearch+json;compatible-with=8',
    ['application/x-ndjson', 'application/x-ndjson'],
  ])('accepts %p', (ct) => {
    expect(() => checkBulkContentType(ct)).not.toThrow();
  });

  it.each([['text/plain'], ['application/x-protobuf'], [undefined], ['application/json; charset=latin1']])('refuses %p with 415 SILT_UNSUPPORTED_CONTENT_TYPE', (ct) => {
    const err = thrown(() => checkBulkContentType(ct));
    expect([err.status, err.code]).toEqual([415, 'SILT_UNSUPPORTED_CONTENT_TYPE']);
  });
});

describe('ingest > elastic bulk > mapping', () => {
  it('takes stream labels from nested objects and flat dotted keys alike, and leaves them out of attrs', () => {
    const r = bulk([
      create('app'),
      { message: 'nested', host: { name: 'h1', ip: '10.0.0.1' }, service: { name: 'api' }, log: { level: 'info', offset: 7 } },
      create('app'),
      { message: 'flat', 'host.name': 'h1', 'host.ip': '10.0.0.2', 'service.name': 'api', 'log.level': 'info' },
    ]);
    expect(outcomes(r)).toEqual(['create:201:', 'create:201:']);
    expect(r.push.streams).toHaveLength(1);
    expect(r.push.streams[0]!.labels).toEqual({ index: 'app', host_name: 'h1', service_name: 'api', log_level: 'info' });
    expect(stored(r).map((e) => [e.line, e.attrs])).toEqual([
      ['nested', { 'host.ip': '10.0.0.1', 'log.offset': '7' }],
      ['flat', { 'host.ip': '10.0.0.2' }],
    ]);
  });

  it('prefers the flat key when a field is given both flat and nested', () => {
    const r = bulk([create('app'), { message: 'm', 'host.name': 'flat', host: { name: 'nested' } }]);
    expect(stored(r)[0]!.labels).toEqual({ index: 'app', host_name: 'flat' });
    expect(stored(r)[0]!.attrs).toBeUndefined();
  });

  it('leaves a consumed field out of attrs however its dotted name is split into keys, and keeps what only looks like it', () => {
    const mapping = bulkMapping(['message'], ['@timestamp'], ['a.b.c', '.x']);
    const r = bulk([create('app'), { message: 'm', a: { b: { c: 'v' } }, 'a.b': { c: 'w', d: 'kept' }, '': { x: 'y' }, '.x': 'dot' }], undefined, mapping);
    expect(stored(r)[0]!.labels).toEqual({ index: 'app', a_b_c: 'v', _x: 'dot' });
    // A top-level "" key's fields are named as top-level ones: `x`, not `.x`.
    expect(stored(r)[0]!.attrs).toEqual({ 'a.b.d': 'kept', x: 'y' });
    const none = bulk([create('app'), { message: 'm', 'a.b': { x: '1' } }], undefined, mapping);
    expect(stored(none)[0]!.attrs).toEqual({ 'a.b.x': '1' });
  });

  it('flattens every other field with dots; arrays, numbers and booleans become JSON text; nulls and empty strings are left out', () => {
    const r = bulk([
      create('app'),
      {
        message: 'm',
        user: { id: 1, name: 'ann', roles: ['a', 'b'], meta: { deep: { er: true } } },
        ratio: 0.25,
        ok: false,
        gone: null,
        empty: '',
        list: [{ a: 1 }, [2, 3], null],
        'already.dotted': { x: 'y' },
        nothing: {},
      },
    ]);
    expect(stored(r)[0]!.attrs).toEqual({
      'user.id': '1',
      'user.name': 'ann',
      'user.roles': '["a","b"]',
      'user.meta.deep.er': 'true',
      ratio: '0.25',
      ok: 'false',
      list: '[{"a":1},[2,3],null]',
      'already.dotted.x': 'y',
    });
  });

  it('takes the line from the first message field present, leaving the others in attrs', () => {
    const r = bulk([
      create('app'),
      { message: 'from message', log: 'from log', msg: 'from msg' },
      create('app'),
      { log: 'from log', msg: 'from msg' },
      create('app'),
      { msg: 'from msg', level: 'x' },
      create('app'),
      // ECS: `log` is an object (log.level, log.file.path), not a message.
      { log: { file: { path: '/var/log/a' } }, msg: 'ecs' },
      create('app'),
      { message: 42 },
    ]);
    expect(stored(r).map((e) => [e.line, e.attrs])).toEqual([
      ['from message', { log: 'from log', msg: 'from msg' }],
      ['from log', { msg: 'from msg' }],
      ['from msg', { level: 'x' }],
      ['ecs', { 'log.file.path': '/var/log/a' }],
      ['42', undefined],
    ]);
  });

  it('stores the whole document as the line when no message field is present, its fields still in attrs', () => {
    const text = '{"event":"login","user":{"id":7}}';
    const r = parseBulk(Buffer.from(`{"index":{"_index":"app"}}\n${text}\n`), { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits);
    expect(stored(r).map((e) => [e.line, e.attrs])).toEqual([[text, { event: 'login', 'user.id': '7' }]]);
  });

  it.each([
    ['RFC 3339 with nanoseconds', '2026-11-26T03:59:00.123456789Z', NOW - 60n * S + 123_456_789n],
    ['RFC 3339 with an offset', '2026-11-26T05:59:00.5+02:00', NOW - 60n * S + 500n * MS],
    ['a date-time without offset (UTC, as Elasticsearch reads it)', '2026-11-26T03:59:00.250', NOW - 60n * S + 250n * MS],
    ['a date alone (midnight UTC)', '2026-11-26', NOW - 4n * 3600n * S],
    ['epoch milliseconds as a number', Number((NOW - 60n * S) / MS), NOW - 60n * S],
    ['epoch milliseconds as a string', String((NOW - 60n * S) / MS + 1n), NOW - 60n * S + MS],
  ])('reads @timestamp as %s', (_name, ts, want) => {
    const r = bulk([create('app'), { '@timestamp': ts, message: 'm' }]);
    expect(outcomes(r)).toEqual(['create:201:']);
    expect(stored(r)[0]!.ts).toBe(want);
    expect(stored(r)[0]!.attrs).toBeUndefined();
  });

  it('falls back to `timestamp`, then to the receive time', () => {
    const r = bulk([create('app'), { timestamp: '2026-11-26T03:00:00Z', message: 'a', '@version': '1' }, create('app'), { message: 'b' }]);
    expect(stored(r).map((e) => [e.line, e.ts, e.attrs])).toEqual([
      ['a', NOW - 3600n * S, { '@version': '1' }],
      ['b', NOW, undefined],
    ]);
  });

  it('replaces the stream fields with ?_stream_fields (as VictoriaLogs does), turning other characters of a name into _', () => {
    const mapping = withStreamFields(DEFAULTS, ' app , kubernetes.pod-name,,');
    const r = bulk([create('app'), { message: 'm', app: 'web', kubernetes: { 'pod-name': 'p-1' }, host: { name: 'h1' } }], undefined, mapping);
    expect(stored(r)[0]!.labels).toEqual({ index: 'app', app: 'web', kubernetes_pod_name: 'p-1' });
    expect(stored(r)[0]!.attrs).toEqual({ 'host.name': 'h1' });
    expect(withStreamFields(DEFAULTS, '')).toBe(DEFAULTS);
    expect(withStreamFields(DEFAULTS, undefined)).toBe(DEFAULTS);
  });

  it('leaves out stream labels whose field is absent, null or empty, and turns non-string values into text', () => {
    const r = bulk([
      create('app'),
      { message: 'a', host: { name: '' }, service: { name: null }, log: { level: 3 } },
      create('app'),
      { message: 'b', 'host.name': true },
    ]);
    expect(r.push.streams.map((s) => s.labels)).toEqual([
      { index: 'app', log_level: '3' },
      { index: 'app', host_name: 'true' },
    ]);
  });

  it('targets the path index unless the action names its own _index', () => {
    const r = bulk([{ index: {} }, { message: 'to path' }, create('own'), { message: 'to own' }, create(), { message: 'to path again' }], 'from-path');
    expect(r.items.map((i) => i.index)).toEqual(['from-path', 'own', 'from-path']);
    expect(stored(r).map((e) => `${e.labels.index}:${e.line}`)).toEqual(['from-path:to path', 'from-path:to path again', 'own:to own']);
  });

  it('validates each distinct label set once and groups documents by it, whatever the order', () => {
    const lines: object[] = [];
    for (let i = 0; i < 300; i++) lines.push(create('app'), { message: `m${i}`, host: { name: `h${i % 3}` } });
    const validate = jest.spyOn(PushBuilder.prototype, 'slot');
    const r = bulk(lines);
    expect(validate).toHaveBeenCalledTimes(3);
    validate.mockRestore();
    expect(r.push.accepted).toBe(300);
    expect(r.push.streams.map((s) => [s.labels.host_name, entriesOf(s).length])).toEqual([
      ['h0', 100],
      ['h1', 100],
      ['h2', 100],
    ]);
    expect(entriesOf(r.push.streams[1]!).slice(0, 2).map((e) => e.line)).toEqual(['m1', 'm4']);
  });
});

describe('ingest > elastic bulk > per-item errors', () => {
  it('refuses delete (no source line) and update (its source line consumed) item by item, keeping the others', () => {
    const r = bulk([
      create('app'),
      { message: 'one' },
      { delete: { _index: 'app', _id: 'x1' } },
      { update: { _index: 'app', _id: 'x2' } },
      { doc: { message: 'not stored' } },
      { index: { _index: 'app' } },
      { message: 'two' },
    ]);
    expect(outcomes(r)).toEqual(['create:201:', 'delete:400:SILT_UNSUPPORTED_ACTION', 'update:400:SILT_UNSUPPORTED_ACTION', 'index:201:']);
    expect(r.items.map((i) => i.id)).toEqual([null, 'x1', 'x2', null]);
    expect(stored(r).map((e) => e.line)).toEqual(['one', 'two']);
    expect(r.push.rejected.map((x) => `${x.stream}:${x.entry}:${x.code}`)).toEqual(['1:0:SILT_UNSUPPORTED_ACTION', '2:0:SILT_UNSUPPORTED_ACTION']);
  });

  it('fails a broken document line in the middle and stores the documents around it', () => {
    const r = bulk([create('app'), { message: 'before' }, create('app'), '{"message":"broken', create('app'), { message: 'after' }]);
    expect(outcomes(r)).toEqual(['create:201:', 'create:400:SILT_MALFORMED_JSON', 'create:201:']);
    expect(r.items[1]!.reason).toMatch(/^document is not valid JSON: .* \(line 1, column \d+\)$/);
    expect(stored(r).map((e) => e.line)).toEqual(['before', 'after']);
  });

  it('fails a document that is not an object, or is empty', () => {
    const r = bulk([create('app'), '[1,2]', create('app'), '', create('app'), { message: 'ok' }]);
    expect(outcomes(r)).toEqual(['create:400:SILT_BAD_ENTRY', 'create:400:SILT_MALFORMED_JSON', 'create:201:']);
  });

  it('fails an action line that is not one; its source is consumed unless the next line is itself an action', () => {
    const r = bulk([
      'not json',
      { message: 'source of the broken action' },
      { bogus: {} },
      create('app'),
      { message: 'kept' },
      { create: 'not an object' },
      { message: 'source again' },
      { create: {}, index: {} },
      { message: 'and again' },
      create('app'),
      { message: 'last' },
    ]);
    expect(outcomes(r)).toEqual([
      'index:400:SILT_BAD_ACTION',
      'index:400:SILT_BAD_ACTION',
      'create:201:',
      'index:400:SILT_BAD_ACTION',
      'index:400:SILT_BAD_ACTION',
      'create:201:',
    ]);
    expect(r.items[1]!.reason).toBe('unknown action "bogus": expected one of create, delete, index, update');
    expect(stored(r).map((e) => e.line)).toEqual(['kept', 'last']);
  });

  it('fails an action with no index when the path names none either (its source consumed)', () => {
    const r = bulk([{ index: {} }, { message: 'lost' }, create('app'), { message: 'kept' }]);
    expect(outcomes(r)).toEqual(['index:400:SILT_MISSING_INDEX', 'create:201:']);
    expect(r.items[0]!.reason).toBe('Validation Failed: 1: index is missing;');
    expect(stored(r).map((e) => e.line)).toEqual(['kept']);
  });

  it.each([
    ['a timestamp that is no date', { '@timestamp': 'yesterday', message: 'm' }, 'SILT_BAD_TIMESTAMP'],
    ['a timestamp older than the bound', { '@timestamp': '2026-11-01T00:00:00Z', message: 'm' }, 'SILT_TOO_OLD'],
    ['a timestamp past the future bound', { '@timestamp': '2026-11-26T05:00:00Z', message: 'm' }, 'SILT_TOO_NEW'],
    ['a line over the limit', { message: 'x'.repeat(1025) }, 'SILT_LINE_TOO_LONG'],
    ['more attributes than allowed', Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`f${i}`, 'v'])), 'SILT_BAD_ATTRS'],
    ['a stream label value over the limit', { message: 'm', host: { name: 'h'.repeat(1025) } }, 'SILT_BAD_LABELS'],
  ])('fails the document with %s, alone', (_name, doc, code) => {
    const r = bulk([create('app'), { message: 'first' }, create('app'), doc, create('app'), { message: 'third' }]);
    expect(outcomes(r)).toEqual(['create:201:', `create:400:${code}`, 'create:201:']);
    expect(r.push.rejected.map((x) => [x.stream, x.code])).toEqual([[1, code]]);
    expect(stored(r).map((e) => e.line)).toEqual(['first', 'third']);
  });

  it('fails a document that is not valid UTF-8, alone', () => {
    const body = Buffer.concat([ndjson([create('app'), { message: 'ok' }, create('app')]), Buffer.from('{"message":"\xff"}\n', 'latin1'), ndjson([create('app'), { message: 'ok too' }])]);
    const r = parseBulk(body, { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits);
    expect(outcomes(r)).toEqual(['create:201:', 'create:400:SILT_INVALID_UTF8', 'create:201:']);
  });

  it('fails the last action when the body ends before its document', () => {
    const r = parseBulk(Buffer.from('{"create":{"_index":"a"}}\n{"message":"m"}\n{"create":{"_index":"a"}}'), { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits);
    expect(outcomes(r)).toEqual(['create:201:', 'create:400:SILT_BAD_ENTRY']);
  });

  it('refuses a body without a single action as a whole (SILT_EMPTY_BULK)', () => {
    const err = thrown(() => parseBulk(Buffer.from('\n \n\r\n'), { pathIndex: 'a', mapping: DEFAULTS }, NOW, limits));
    expect([err.status, err.code]).toEqual([400, 'SILT_EMPTY_BULK']);
  });
});

describe('ingest > elastic bulk > deep nesting', () => {
  const nested = (depth: number) => '{"a":'.repeat(depth) + '"leaf"' + '}'.repeat(depth);

  it('fails a document nested past 64 levels with SILT_TOO_DEEP, not a crash, and keeps the others', () => {
    const r = parseBulk(
      Buffer.from(`{"create":{"_index":"a"}}\n${nested(100)}\n{"create":{"_index":"a"}}\n${nested(200_000)}\n{"create":{"_index":"a"}}\n${nested(60)}\n`),
      { pathIndex: undefined, mapping: DEFAULTS },
      NOW,
      limits,
    );
    expect(outcomes(r)).toEqual(['create:400:SILT_TOO_DEEP', 'create:400:SILT_TOO_DEEP', 'create:201:']);
    expect(Object.keys(stored(r)[0]!.attrs!)).toEqual([Array.from({ length: 60 }, () => 'a').join('.')]);
  });

  it.each([
    ['an array', (deep: string) => `{"message":"m","v":[${deep}]}`],
    ['a stream field value', (deep: string) => `{"message":"m","host":{"name":${deep}}}`],
  ])('fails a document whose %s nests past 64 levels with SILT_TOO_DEEP before stringifying it', (_name, doc) => {
    const r = parseBulk(Buffer.from(`{"create":{"_index":"a"}}\n${doc(nested(100))}\n{"create":{"_index":"a"}}\n${doc(nested(100_000))}\n`), { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits);
    expect(outcomes(r)).toEqual(['create:400:SILT_TOO_DEEP', 'create:400:SILT_TOO_DEEP']);
    expect(r.items[0]!.reason).toMatch(/^document nests arrays and objects more than 64 levels deep \(at position \d+\)$/);
  });

  it('stores a deep array as its JSON text', () => {
    const deepArray = '['.repeat(40) + ']'.repeat(40);
    const r = parseBulk(Buffer.from(`{"create":{"_index":"a"}}\n{"message":"m","v":${deepArray}}\n`), { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits);
    expect(stored(r)[0]!.attrs).toEqual({ v: deepArray });
  });
});

describe('ingest > elastic bulk > alignment', () => {
  it('answers exactly one item per action, in order, for any mix', () => {
    const lines: (string | object)[] = [];
    const want: string[] = [];
    for (let i = 0; i < 200; i++) {
      switch (i % 5) {
        case 0:
          lines.push(create('app'), { message: `m${i}` });
          want.push('create:201:');
          break;
        case 1:
          lines.push({ delete: { _index: 'app', _id: String(i) } });
          want.push('delete:400:SILT_UNSUPPORTED_ACTION');
          break;
        case 2:
          lines.push({ index: { _index: 'app', _id: `id${i}` } }, '{oops');
          want.push('index:400:SILT_MALFORMED_JSON');
          break;
        case 3:
          lines.push({ update: { _index: 'app', _id: String(i) } }, { doc: {} });
          want.push('update:400:SILT_UNSUPPORTED_ACTION');
          break;
        case 4:
          lines.push({ index: { _index: 'app', _id: `id${i}` } }, { message: `m${i}` });
          want.push('index:201:');
          break;
      }
    }
    const r = bulk(lines);
    expect(outcomes(r)).toEqual(want);
    expect(r.push.accepted).toBe(80);
    expect(r.push.rejected.map((x) => x.stream)).toEqual(want.flatMap((w, i) => (w.includes(':400:') ? [i] : [])));
  });

  it('parses the same in slices as at once, with CRLF line ends too', async () => {
    const lines: object[] = [];
    for (let i = 0; i < 500; i++) lines.push(create(`i${i % 4}`), { message: `line ${i} ${'é'.repeat(i % 7)}`, host: { name: `h${i % 5}` } });
    const body = Buffer.from(ndjson(lines).toString().replace(/\n/g, '\r\n'));
    const whole = parseBulk(body, { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits);
    const sliced = await parseBulkInSlices(body, { pathIndex: undefined, mapping: DEFAULTS }, NOW, limits, 97);
    expect(whole.push.accepted).toBe(500);
    expect(sliced).toEqual(whole);
  });
});

describe('ingest > elastic bulk > answer', () => {
  it('renders one item per action: 201 created with a unique _id, or 400 with an Elasticsearch error', () => {
    const r = bulk([create('app'), { message: 'a' }, create('app', 'given-1'), { message: 'b' }, { delete: { _index: 'app', _id: 'd' } }, create('app'), '{x', create('app'), { message: 'c' }]);
    const answer = JSON.parse(renderBulkAnswer(r.items, 12, 'PFX').toString());
    const shards = { total: 1, successful: 1, failed: 0 };
    expect(answer).toEqual({
      took: 12,
      errors: true,
      items: [
        { create: { _index: 'app', _id: 'PFX0', _version: 1, result: 'created', _shards: shards, _seq_no: 0, _primary_term: 1, status: 201 } },
        { create: { _index: 'app', _id: 'given-1', _version: 1, result: 'created', _shards: shards, _seq_no: 1, _primary_term: 1, status: 201 } },
        {
          delete: {
            _index: 'app',
            _id: 'd',
            status: 400,
            error: { type: 'illegal_argument_exception', reason: `SILT_UNSUPPORTED_ACTION: ${r.items[2]!.reason}` },
          },
        },
        { create: { _index: 'app', _id: null, status: 400, error: { type: 'document_parsing_exception', reason: `SILT_MALFORMED_JSON: ${r.items[3]!.reason}` } } },
        { create: { _index: 'app', _id: 'PFX4', _version: 1, result: 'created', _shards: shards, _seq_no: 4, _primary_term: 1, status: 201 } },
      ],
    });
  });

  it('says errors:false when every item was stored, and escapes what it echoes', () => {
    const r = bulk([create('we"ird\\ix', 'id "q"'), { message: 'a' }]);
    expect(JSON.parse(renderBulkAnswer(r.items, 0, 'P').toString())).toMatchObject({ errors: false, items: [{ create: { _index: 'we"ird\\ix', _id: 'id "q"', status: 201 } }] });
  });

  it('writes what it echoes as UTF-8, and grows past its first guess of the size', () => {
    const long = 'é✓'.repeat(500);
    const r = bulk([create('índex', long), { message: 'a' }, create('índex'), { message: 'b' }]);
    const answer = renderBulkAnswer(r.items, 0, 'P');
    expect(JSON.parse(answer.toString('utf8')).items.map((i: { create: { _index: string; _id: string } }) => [i.create._index, i.create._id])).toEqual([
      ['índex', long],
      ['índex', 'P1'],
    ]);
  });


  it.each([
    ['SILT_BAD_TIMESTAMP', 400, 'document_parsing_exception'],
    ['SILT_TOO_DEEP', 400, 'document_parsing_exception'],
    ['SILT_LINE_TOO_LONG', 400, 'illegal_argument_exception'],
    ['SILT_TOO_OLD', 400, 'illegal_argument_exception'],
    ['SILT_MISSING_INDEX', 400, 'action_request_validation_exception'],
    ['SILT_BAD_COMPRESSED_BODY', 400, 'parse_exception'],
    ['SILT_PAYLOAD_TOO_LARGE', 413, 'content_too_long_exception'],
    ['SILT_KAFKA_UNAVAILABLE', 503, 'unavailable_shards_exception'],
    ['SILT_RATE_LIMITED', 429, 'es_rejected_execution_exception'],
    ['SILT_INTERNAL', 500, 'exception'],
  ])('maps %s (%d) to %s', (code, status, type) => {
    expect(esErrorType(code, status)).toBe(type);
  });
});

describe('ingest > elastic bulk > filter_path', () => {
  const mixed = () => bulk([create('app'), { message: 'a' }, { delete: { _index: 'app', _id: 'd' } }, { index: { _index: 'app', _id: 'i' } }, '{x', create('app'), { message: 'c' }]);
  const filtered = (r: ParsedBulk, param: string) => JSON.parse(renderBulkAnswer(r.items, 7, 'P', answerFilter(param)).toString());
  const parsingError = (r: ParsedBulk, i: number) => ({ type: 'document_parsing_exception', reason: `SILT_MALFORMED_JSON: ${r.items[i]!.reason}` });

  it("keeps Logstash's errors,items.*.error,items.*.status: every item, with only its status and error", () => {
    const r = mixed();
    expect(filtered(r, 'errors,items.*.error,items.*.status')).toEqual({
      errors: true,
      items: [
        { create: { status: 201 } },
        { delete: { status: 400, error: { type: 'illegal_argument_exception', reason: `SILT_UNSUPPORTED_ACTION: ${r.items[1]!.reason}` } } },
        { index: { status: 400, error: parsingError(r, 2) } },
        { create: { status: 201 } },
      ],
    });
    expect(renderBulkAnswer(bulk([create('app'), { message: 'a' }]).items, 7, 'P', answerFilter('errors,items.*.error,items.*.status')).toString()).toBe(
      '{"errors":false,"items":[{"create":{"status":201}}]}',
    );
  });

  it("keeps Filebeat's per-action paths, leaving out the items of the actions it does not name", () => {
    const r = mixed();
    const param = 'errors,items.index.status,items.index.error,items.create.status,items.create.error,items.update.status,items.update.error';
    expect(filtered(r, param)).toEqual({ errors: true, items: [{ create: { status: 201 } }, { index: { status: 400, error: parsingError(r, 2) } }, { create: { status: 201 } }] });
  });

  it('leaves out items, and the items key, that keep nothing; keeps subfields; a path below a scalar keeps nothing', () => {
    const ok = bulk([create('app', 'x'), { message: 'a' }]);
    expect(renderBulkAnswer(ok.items, 7, 'P', answerFilter('errors,items.*.error')).toString()).toBe('{"errors":false}');
    expect(filtered(ok, ' took , items.*._shards.failed,items.create._id,items.*.error.type')).toEqual({ took: 7, items: [{ create: { _id: 'x', _shards: { failed: 0 } } }] });
    expect(filtered(mixed(), 'items.*.error.type')).toEqual({
      items: [{ delete: { error: { type: 'illegal_argument_exception' } } }, { index: { error: { type: 'document_parsing_exception' } } }],
    });
    expect(filtered(ok, 'errors.x,items.*.status.code,nothing')).toEqual({});
  });

  it('keeps whole what a path ends on: an item, the items, every key', () => {
    const r = mixed();
    const full = JSON.parse(renderBulkAnswer(r.items, 7, 'P').toString());
    expect(filtered(r, 'items.create')).toEqual({ items: [full.items[0], full.items[3]] });
    expect(filtered(r, 'items')).toEqual({ items: full.items });
    expect(filtered(r, '*')).toEqual(full);
    expect(filtered(r, 'items.*,took')).toEqual({ took: 7, items: full.items });
  });

  it.each([undefined, '', ' , ', '-took', 'items.**.status', 'it*', 'items..status', 'items\\.x', ['errors', 'items']])('answers in full for %p', (param) => {
    expect(answerFilter(param)).toBeNull();
  });
});
