import { entriesOf } from '../support/push-entries';
import protobuf from 'protobufjs';
import { double, fixed32, fixed64, len, sub, varint, wire, type Field } from '../support/proto-fields';
import { DEFAULT_CONFIG } from '../../core/src/config';
import { SiltError, UnavailableError, BadRequestError } from '../../core/src/errors';
import { MAX_TIMESTAMP_NS, parseTimestamp } from '../../core/src/time';
import { otlpEncoding, parseOtlpLogs, type OtlpEncoding } from '../../ingest/src/protocols/otlp';
import { contentTypeOf, errorEncoding, exportResponse, statusResponse } from '../../ingest/src/protocols/otlp-reply';
import type { ParsedPush, PushLimits, Rejection } from '../../ingest/src/push/builder';

const S = 1_000_000_000n;
const NOW = parseTimestamp('2026-11-26T04:00:00Z');
const T = NOW - 1000n * S + 123_456_789n;
const limits: PushLimits = { maxLineBytes: 262_144, maxLabels: 15, maxLabelValueBytes: 1024, maxLabelNameBytes: 1024, maxPastNs: 7n * 86_400n * S, maxFutureNs: 600n * S, maxAttrs: 64, maxAttrBytes: 65_536 };
const STREAM_ATTRIBUTES = new Set(DEFAULT_CONFIG.ingest.otlpStreamAttributes);


// AnyValue members (string_value=1 … bytes_value=7) as the fields of an AnyValue.
const pString = (s: string | Uint8Array): Field[] => [len(1, s)];
const pBool = (b: boolean): Field[] => [varint(2, b ? 1 : 0)];
const pInt = (v: number | string): Field[] => [varint(3, v)];
const pDouble = (v: number): Field[] => [double(4, v)];
const pArray = (...values: Field[][]): Field[] => [sub(5, ...values.map((v) => sub(1, ...v)))];
const pKvlist = (...kvs: [string | Uint8Array, Field[]][]): Field[] => [sub(6, ...kvs.map(([k, v]) => sub(1, len(1, k), sub(2, ...v))))];
const pBytes = (b: Uint8Array): Field[] => [len(7, b)];
/** A KeyValue as field `n` of its parent (Resource.attributes=1, InstrumentationScope.attributes=3, LogRecord.attributes=6). */
const pAttr = (n: number, key: string | Uint8Array, value: Field[]): Field => sub(n, len(1, key), sub(2, ...value));

type PAttrs = [string | Uint8Array, Field[]][];
interface PRecord {
  time?: bigint;
  observed?: bigint;
  severity?: number;
  severityText?: string;
  body?: Field[];
  attrs?: PAttrs;
  dropped?: number;
  flags?: number;
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  eventName?: string;
}
/** A LogRecord as ScopeLogs.log_records (2): time_unix_nano=1 … event_name=12. */
function pRecord(r: PRecord): Field {
  const opt = <V>(v: V | undefined, f: (v: V) => Field): Field[] => (v === undefined ? [] : [f(v)]);
  return sub(
    2,
    ...opt(r.time, (v) => fixed64(1, v)),
    ...opt(r.severity, (v) => varint(2, v)),
    ...opt(r.severityText, (v) => len(3, v)),
    ...opt(r.body, (v) => sub(5, ...v)),
    ...(r.attrs ?? []).map(([k, v]) => pAttr(6, k, v)),
    ...opt(r.dropped, (v) => varint(7, v)),
    ...opt(r.flags, (v) => fixed32(8, v)),
    ...opt(r.traceId, (v) => len(9, v)),
    ...opt(r.spanId, (v) => len(10, v)),
    ...opt(r.observed, (v) => fixed64(11, v)),
    ...opt(r.eventName, (v) => len(12, v)),
  );
}
/** ResourceLogs.scope_logs (2): ScopeLogs{scope=1 InstrumentationScope{name=1, version=2, attributes=3, dropped_attributes_count=4}, log_records=2}. */
function pScopeLogs(s: { name?: string; version?: string; attrs?: PAttrs; dropped?: number; records: PRecord[] }): Field {
  const scope = [...(s.name === undefined ? [] : [len(1, s.name)]), ...(s.version === undefined ? [] : [len(2, s.version)]), ...(s.attrs ?? []).map(([k, v]) => pAttr(3, k, v))];
  if (s.dropped !== undefined) scope.push(varint(4, s.dropped));
  return sub(2, ...(scope.length > 0 ? [sub(1, ...scope)] : []), ...s.records.map(pRecord));
}
function pResourceLogs(resourceAttrs: PAttrs, scopes: Parameters<typeof pScopeLogs>[0][]): Field {
  return sub(1, sub(1, ...resourceAttrs.map(([k, v]) => pAttr(1, k, v))), ...scopes.map(pScopeLogs)); // request.resource_logs = 1, resource = 1
}

function parse(body: Buffer | string, encoding: OtlpEncoding, l: PushLimits = limits): ParsedPush {
  return parseOtlpLogs(Buffer.isBuffer(body) ? body : Buffer.from(body), encoding, NOW, l, STREAM_ATTRIBUTES);
}
const proto = (...resources: Field[]): ParsedPush => parse(wire(...resources), 'protobuf');
const json = (doc: unknown, l?: PushLimits): ParsedPush => parse(JSON.stringify(doc), 'json', l);

function thrown(f: () => unknown): SiltError {
  try {
    f();
  } catch (err) {
    if (err instanceof SiltError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

/** Rejections as `stream:entry:code`. */
function codes(r: ParsedPush): string[] {
  return r.rejected.map((x) => `${x.stream}:${x.entry}:${x.code}`);
}

// One record with every field of the mapping, in both encodings.
const FULL_RESOURCE: PAttrs = [
  ...[['service.name', pString('checkout')], ['service.namespace', pString('shop')], ['host.name', pString('h1')], ['k8s.pod.name', pString('pod-1')]],
  ...[['process.pid', pInt(42)], ['deployment.environment', pString('prod')]],
] as PAttrs;
const FULL_SCOPE = { name: 'io.shop.cart', version: '1.4.2', attrs: [['lib.flag', pBool(true)]] as PAttrs, dropped: 3 };
const FULL_RECORD: PRecord = {
  ...{ time: T, observed: T + 5n, severity: 17, severityText: 'ERROR', body: pString('payment failed'), dropped: 2, flags: 1, eventName: 'payment.failed' },
  ...{ traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'), spanId: Buffer.from('eee19b7ec3c1b174', 'hex') },
  attrs: [
    ...[['http.status_code', pInt(502)], ['ratio', pDouble(0.25)], ['tags', pArray(pString('a'), pInt(1))], ['blob', pBytes(Uint8Array.from([1, 2, 3]))]],
    ['user', pKvlist(['id', pString('u1')], ['geo', pKvlist(['country', pString('de')])])],
  ] as PAttrs,
};
const FULL_LABELS = { service_name: 'checkout', service_namespace: 'shop', k8s_pod_name: 'pod-1', deployment_environment: 'prod' };
const FULL_ATTRS = {
  ...{ host_name: 'h1', process_pid: '42', lib_flag: 'true', scope_name: 'io.shop.cart', scope_version: '1.4.2', scope_dropped_attributes_count: '3' },
  ...{ http_status_code: '502', ratio: '0.25', tags: '["a",1]', user_id: 'u1', user_geo_country: 'de', blob: 'AQID', observed_timestamp: String(T + 5n) },
  ...{ severity_number: '17', severity_text: 'ERROR', dropped_attributes_count: '2', flags: '1', event_name: 'payment.failed' },
  ...{ trace_id: '5b8efff798038103d269b633813fc60c', span_id: 'eee19b7ec3c1b174' },
};
const jString = (s: string) => ({ stringValue: s });
const jAttr = (key: string, value: unknown) => ({ key, value });
const jKvlist = (...values: unknown[]) => ({ kvlistValue: { values } });
const FULL_JSON = {
  resourceLogs: [
    {
      resource: {
        attributes: [
          ...[['service.name', 'checkout'], ['service.namespace', 'shop'], ['host.name', 'h1'], ['k8s.pod.name', 'pod-1']].map(([k, v]) => jAttr(k!, jString(v!))),
          jAttr('process.pid', { intValue: '42' }),
          jAttr('deployment.environment', jString('prod')),
        ],
      },
      scopeLogs: [
        {
          scope: { name: 'io.shop.cart', version: '1.4.2', attributes: [jAttr('lib.flag', { boolValue: true })], droppedAttributesCount: 3 },
          logRecords: [
            {
              ...{ timeUnixNano: String(T), observedTimeUnixNano: String(T + 5n), severityNumber: 17, severityText: 'ERROR', body: jString('payment failed') },
              attributes: [
                ...[jAttr('http.status_code', { intValue: 502 }), jAttr('ratio', { doubleValue: 0.25 }), jAttr('tags', { arrayValue: { values: [jString('a'), { intValue: '1' }] } })],
                ...[jAttr('user', jKvlist(jAttr('id', jString('u1')), jAttr('geo', jKvlist(jAttr('country', jString('de')))))), jAttr('blob', { bytesValue: 'AQID' })],
              ],
              ...{ droppedAttributesCount: 2, flags: 1, traceId: '5B8EFFF798038103D269B633813FC60C', spanId: 'eee19b7ec3c1b174', eventName: 'payment.failed' },
            },
          ],
        },
      ],
    },
  ],
};

/** A minimal JSON request: one resource with `resourceAttrs` (name → string value), one scope, these records. */
function jRequest(records: unknown[], resourceAttrs: Record<string, string> = { 'service.name': 'svc' }): { resourceLogs: unknown[] } {
  return { resourceLogs: [{ resource: { attributes: Object.entries(resourceAttrs).map(([key, v]) => jAttr(key, jString(v))) }, scopeLogs: [{ logRecords: records }] }] };
}
/** A protobuf request of one resource (`service.name` "a") and one scope holding `records`. */
const protoRecords = (...records: PRecord[]): ParsedPush => proto(pResourceLogs([['service.name', pString('a')]], [{ records }]));
/** The one entry a request of one accepted record produced. */
function only(r: ParsedPush): { labels: Record<string, string>; ts: bigint; line: string; attrs?: Record<string, string> } {
  expect(r.rejected).toEqual([]);
  expect(r.streams).toHaveLength(1);
  expect(entriesOf(r.streams[0]!)).toHaveLength(1);
  return { labels: r.streams[0]!.labels, ...entriesOf(r.streams[0]!)[0]! };
}

describe('ingest > otlp logs > content type', () => {
  it.each([
    ['application/x-protobuf', 'protobuf'],
    ['application/json', 'json'],
    ['Application/JSON; charset=utf-8', 'json'],
    ['application/x-protobuf; proto=opentelemetry', 'protobuf'],
  ])('reads %s as %s', (ct, encoding) => {
    expect(otlpEncoding(ct)).toBe(encoding);
  });

  it.each(['text/plain', 'application/protobuf', 'application/x-ndjson'])('refuses %s with 415', (ct) => {
    const err = thrown(() => otlpEncoding(ct));
    expect([err.status, err.code]).toEqual([415, 'SILT_UNSUPPORTED_CONTENT_TYPE']);
  });

  it('refuses a missing Content-Type with 415', () => {
    expect(thrown(() => otlpEncoding(undefined)).status).toBe(415);
  });
});

describe('ingest > otlp logs > protobuf mapping', () => {
  it('maps every field of a record: labels from listed resource attributes, everything else to attrs', () => {
    const e = only(proto(pResourceLogs(FULL_RESOURCE, [{ ...FULL_SCOPE, records: [FULL_RECORD] }])));
    expect(e).toEqual({ labels: FULL_LABELS, ts: T, line: 'payment failed', attrs: FULL_ATTRS });
  });

  it('groups the records of resources with the same labels into one stream, in order', () => {
    const res = (host: string) => pResourceLogs([['service.name', pString('a')], ['host.name', pString(host)]], [{ records: [{ time: T, body: pString(host) }] }]);
    const r = proto(res('h1'), res('h2'));
    expect(r.streams).toHaveLength(1);
    expect(entriesOf(r.streams[0]!).map((e) => [e.line, e.attrs])).toEqual([['h1', { host_name: 'h1' }], ['h2', { host_name: 'h2' }]]);
  });

  it('renders int64 values exactly, past 2^53 and negative', () => {
    const e = only(protoRecords({ time: T, attrs: [['max', pInt('9223372036854775807')], ['min', pInt('-9223372036854775808')], ['neg', pInt(-5)], ['zero', pInt(0)]] }));
    expect(e.attrs).toEqual({ max: '9223372036854775807', min: '-9223372036854775808', neg: '-5', zero: '0' });
  });

  it.each<[string, Field[], string]>([
    ['a string', pString('plain text'), 'plain text'],
    ['a map (keys sorted, values typed)', pKvlist(['z', pInt(1)], ['a', pString('x')], ['m', pDouble(1.5)], ['b', pBool(false)]), '{"a":"x","b":false,"m":1.5,"z":1}'],
    ['a map with a repeated key (the last kept)', pKvlist(['k', pString('first')], ['k', pString('last')]), '{"k":"last"}'],
    ['an array with nested values', pArray(pString('a'), pArray(pInt(1), pInt(2)), pKvlist(['k', pBytes(Uint8Array.from([255]))]), []), '["a",[1,2],{"k":"/w=="},null]'],
    ['an int', pInt(42), '42'],
    ['a bool', pBool(true), 'true'],
    ['a double', pDouble(1e21), '1e+21'],
    ['bytes', pBytes(Buffer.from('hi')), 'aGk='],
    ['an empty value', [], ''],
  ])('turns a body of %s into the line', (_what, body, line) => {
    expect(only(protoRecords({ time: T, body })).line).toBe(line);
  });

  it('keeps a valid U+FFFD in text as it is', () => {
    expect(only(protoRecords({ time: T, body: pString('bad \uFFFD char') })).line).toBe('bad \uFFFD char');
  });
});

describe('ingest > otlp logs > JSON mapping', () => {
  it('maps every field as the protobuf encoding does (int64 as strings or numbers, ids as hex in any case)', () => {
    expect(only(json(FULL_JSON))).toEqual({ labels: FULL_LABELS, ts: T, line: 'payment failed', attrs: FULL_ATTRS });
  });

  it('accepts the proto field names (snake_case) as the Collector does', () => {
    const record = {
      ...{ time_unix_nano: String(T), severity_number: 9, severity_text: 'INFO', body: { kvlist_value: { values: [{ key: 'n', value: { int_value: '7' } }] } } },
      ...{ trace_id: '5b8efff798038103d269b633813fc60c', span_id: 'eee19b7ec3c1b174', event_name: 'ev', dropped_attributes_count: 1 },
    };
    const doc = { resource_logs: [{ resource: { attributes: [{ key: 'service.name', value: { string_value: 'svc' } }] }, scope_logs: [{ log_records: [record] }] }] };
    expect(only(json(doc))).toEqual({
      labels: { service_name: 'svc' },
      ts: T,
      line: '{"n":7}',
      attrs: { severity_number: '9', severity_text: 'INFO', trace_id: '5b8efff798038103d269b633813fc60c', span_id: 'eee19b7ec3c1b174', event_name: 'ev', dropped_attributes_count: '1' },
    });
  });

  it('reads 64-bit integers given as strings and as numbers alike', () => {
    const r = json(
      jRequest([
        { timeUnixNano: String(T), attributes: [{ key: 'n', value: { intValue: '9007199254740993' } }] },
        { timeUnixNano: Number(T / 1000n) * 1000, attributes: [{ key: 'n', value: { intValue: 12 } }] },
      ]),
    );
    expect(r.rejected).toEqual([]);
    expect(entriesOf(r.streams[0]!).map((e) => [e.ts, e.attrs!.n])).toEqual([
      [T, '9007199254740993'],
      [BigInt(Number(T / 1000n) * 1000), '12'],
    ]);
  });

  it('reads severityNumber given as its enum name', () => {
    expect(only(json(jRequest([{ timeUnixNano: String(T), severityNumber: 'SEVERITY_NUMBER_WARN2' }]))).attrs).toEqual({ severity_number: '14' });
  });

  it('reads special doubles given as strings', () => {
    const e = only(json(jRequest([{ timeUnixNano: String(T), attributes: [{ key: 'nan', value: { doubleValue: 'NaN' } }, { key: 'inf', value: { doubleValue: '-Infinity' } }, { key: 's', value: { doubleValue: '2.50' } }] }])));
    expect(e.attrs).toEqual({ nan: 'NaN', inf: '-Infinity', s: '2.5' });
  });

  it('ignores unknown fields and JSON nulls', () => {
    const e = only(json({ extra: 1, resourceLogs: [{ resource: null, schemaUrl: 'x', scopeLogs: [{ scope: null, logRecords: [{ timeUnixNano: String(T), body: null, attributes: null, future: { a: 1 } }] }] }] }));
    expect(e).toEqual({ labels: { service_name: 'unknown_service' }, ts: T, line: '' });
  });
});

describe('ingest > otlp logs > stream labels', () => {
  it('labels a resource without service.name, or with an empty one, service_name="unknown_service"', () => {
    const r = json({ resourceLogs: [...jRequest([{}], { 'k8s.namespace.name': 'ns' }).resourceLogs, ...jRequest([{}], { 'service.name': '' }).resourceLogs] });
    expect(r.rejected).toEqual([]);
    expect(r.streams.map((s) => s.labels)).toEqual([{ k8s_namespace_name: 'ns', service_name: 'unknown_service' }, { service_name: 'unknown_service' }]);
  });

  it('takes only the configured resource attributes as labels', () => {
    const doc = jRequest([{ timeUnixNano: String(T) }], { 'service.name': 'svc', team: 'pay' });
    const r = parseOtlpLogs(Buffer.from(JSON.stringify(doc)), 'json', NOW, limits, new Set(['team']));
    expect(only(r)).toMatchObject({ labels: { team: 'pay' }, attrs: { service_name: 'svc' } });
  });

  it('flattens a map-valued stream attribute into labels and leaves out empty values', () => {
    const attributes = [jAttr('service.name', jString('svc')), jAttr('service.namespace', jString('')), jAttr('k8s.pod.name', jKvlist(jAttr('uid', jString('u-1'))))];
    const doc = { resourceLogs: [{ resource: { attributes }, scopeLogs: [{ logRecords: [{ timeUnixNano: String(T) }] }] }] };
    expect(only(json(doc)).labels).toEqual({ service_name: 'svc', k8s_pod_name_uid: 'u-1' });
  });

  it('rejects every record of a resource with more stream labels than the limit (SILT_BAD_LABELS), and keeps the others', () => {
    const small = { ...limits, maxLabels: 3 };
    const wide = { 'service.name': 'a', 'service.namespace': 'b', 'k8s.pod.name': 'c', 'k8s.namespace.name': 'd' };
    const wideLogs = { resource: jRequest([], wide).resourceLogs.map((rl) => (rl as { resource: unknown }).resource)[0], scopeLogs: [{ logRecords: [{}] }, { logRecords: [{}, {}] }] };
    const doc = { resourceLogs: [wideLogs, ...jRequest([{ timeUnixNano: String(T), body: jString('kept') }]).resourceLogs] };
    const r = json(doc, small);
    expect(codes(r)).toEqual(['0:0:SILT_BAD_LABELS', '0:1:SILT_BAD_LABELS', '0:2:SILT_BAD_LABELS']);
    expect(r.rejected[0]!.reason).toMatch(/4 labels, over the limit of 3/);
    expect(r.accepted).toBe(1);
    expect(r.streams.map((s) => entriesOf(s).map((e) => e.line))).toEqual([['kept']]);
  });
});

describe('ingest > otlp logs > attribute names and precedence', () => {
  it.each([
    ['http.request.method', 'http_request_method'],
    ['a..b__c', 'a_b_c'],
    ['1st', 'key_1st'],
    ['_private', '_private'],
    ['__meta__', '__meta__'],
    ['ünïcode', '_n_code'],
    ['CamelCase', 'CamelCase'],
  ])('names attribute %s as %s (Loki’s OTLP label namer)', (key, name) => {
    expect(only(json(jRequest([{ timeUnixNano: String(T), attributes: [{ key, value: jString('v') }] }]))).attrs).toEqual({ [name]: 'v' });
  });

  it('rejects a record with an attribute key that has no letter or digit (SILT_BAD_ATTRS)', () => {
    const r = json(jRequest([{ timeUnixNano: String(T), attributes: [{ key: '.', value: jString('v') }] }, { timeUnixNano: String(T) }]));
    expect(codes(r)).toEqual(['0:0:SILT_BAD_ATTRS']);
    expect(r.accepted).toBe(1);
  });

  it('lets the record’s attributes win over scope and resource ones, and its own fields over its attributes', () => {
    const record = { timeUnixNano: String(T), severityText: 'WARN', attributes: [jAttr('tier', jString('record')), jAttr('severity.text', jString('attr'))] };
    const resource = { attributes: [jAttr('service.name', jString('svc')), jAttr('zone', jString('resource')), jAttr('tier', jString('resource'))] };
    const doc = { resourceLogs: [{ resource, scopeLogs: [{ scope: { name: 'sc', attributes: [jAttr('zone', jString('scope'))] }, logRecords: [record] }] }] };
    expect(only(json(doc)).attrs).toEqual({ zone: 'scope', tier: 'record', scope_name: 'sc', severity_text: 'WARN' });
  });

  // Records that carry only a severity share one attributes object: none may see another's fields.
  it('gives each record of a scope its own severity and fields, however severities and extra fields interleave', () => {
    const info = { time: T, severity: 9, severityText: 'INFO' };
    const records: PRecord[] = [info, info, { ...info, eventName: 'ev' }, { ...info, severity: 13, severityText: 'WARN' }, info, { ...info, attrs: [['k', pString('v')]] }, { time: T }, info];
    const scope = { name: 'sc', records };
    const r = proto(pResourceLogs([['service.name', pString('a')], ['host.name', pString('h')]], [scope]));
    expect(r.rejected).toEqual([]);
    const base = { host_name: 'h', scope_name: 'sc' };
    const asInfo = { ...base, severity_number: '9', severity_text: 'INFO' };
    expect(entriesOf(r.streams[0]!).map((e) => e.attrs)).toEqual([
      asInfo,
      asInfo,
      { ...asInfo, event_name: 'ev' },
      { ...base, severity_number: '13', severity_text: 'WARN' },
      asInfo,
      { ...base, k: 'v', severity_number: '9', severity_text: 'INFO' },
      base,
      asInfo,
    ]);
    expect(Object.keys(entriesOf(r.streams[0]!)[5]!.attrs!)).toEqual(['host_name', 'scope_name', 'k', 'severity_number', 'severity_text']);
  });
});

describe('ingest > otlp logs > timestamps', () => {
  it('takes timeUnixNano, exact to the nanosecond, and keeps observedTimeUnixNano as an attribute', () => {
    expect(only(protoRecords({ time: T, observed: T + 1n }))).toMatchObject({ ts: T, attrs: { observed_timestamp: String(T + 1n) } });
  });

  it('falls back to observedTimeUnixNano when timeUnixNano is 0 or absent', () => {
    expect(only(protoRecords({ time: 0n, observed: T + 7n }))).toEqual({ labels: { service_name: 'a' }, ts: T + 7n, line: '' });
    expect(only(protoRecords({ observed: T + 8n })).ts).toBe(T + 8n);
  });

  it('refuses a timeUnixNano past 2^63 − 1 ns, read from its fixed64 halves, and keeps the other records', () => {
    const r = protoRecords({ time: 1n << 63n }, { time: (1n << 64n) - 1n }, { time: MAX_TIMESTAMP_NS - 1n }, { time: T });
    expect(codes(r)).toEqual(['0:0:SILT_BAD_TIMESTAMP', '0:1:SILT_BAD_TIMESTAMP', '0:2:SILT_TOO_NEW']);
    expect(r.rejected[0]!.reason).toContain('2262-04-11T23:47:16.854775807Z');
    expect(r.accepted).toBe(1);
  });

  it('falls back to the receive time when both are 0 or absent', () => {
    expect(only(protoRecords({ time: 0n, observed: 0n })).ts).toBe(NOW);
    expect(only(json(jRequest([{ body: jString('x') }]))).ts).toBe(NOW);
  });

  it('rejects records older or newer than the bounds with the builder’s codes', () => {
    const r = protoRecords({ time: NOW - 8n * 86_400n * S }, { time: NOW + 3600n * S }, { time: T });
    expect(codes(r)).toEqual(['0:0:SILT_TOO_OLD', '0:1:SILT_TOO_NEW']);
    expect(r.accepted).toBe(1);
  });

  it('rejects a JSON timestamp that is not an integer of nanoseconds (SILT_BAD_TIMESTAMP)', () => {
    const r = json(jRequest([{ timeUnixNano: 'soon' }, { timeUnixNano: 1.5 }, { timeUnixNano: String(T) }]));
    expect(codes(r)).toEqual(['0:0:SILT_BAD_TIMESTAMP', '0:1:SILT_BAD_TIMESTAMP']);
  });
});

describe('ingest > otlp logs > refused records', () => {
  it('rejects a record whose trace or span id has the wrong length, and treats all-zero ids as absent', () => {
    const r = protoRecords({ time: T, traceId: Buffer.alloc(15, 1) }, { time: T, spanId: Buffer.alloc(9, 1) }, { time: T, traceId: Buffer.alloc(16), spanId: Buffer.alloc(8) });
    expect(codes(r)).toEqual(['0:0:SILT_BAD_ENTRY', '0:1:SILT_BAD_ENTRY']);
    expect(entriesOf(r.streams[0]!)[0]!.attrs).toBeUndefined();
  });

  it('rejects a JSON trace id that is not hex', () => {
    expect(codes(json(jRequest([{ timeUnixNano: String(T), traceId: 'zz8efff798038103d269b633813fc60c' }])))).toEqual(['0:0:SILT_BAD_ENTRY']);
  });

  it('rejects an unknown severityNumber name and a log record that is not an object', () => {
    expect(codes(json(jRequest([{ severityNumber: 'LOUD' }, 7, { timeUnixNano: String(T) }])))).toEqual(['0:0:SILT_BAD_ENTRY', '0:1:SILT_BAD_ENTRY']);
  });

  it('rejects JSON values of the wrong type in attributes (SILT_BAD_ATTRS) and bodies (SILT_BAD_ENTRY)', () => {
    const r = json(jRequest([{ attributes: [jAttr('n', { intValue: 1.5 })] }, { attributes: [jAttr('b', { boolValue: 'yes' })] }, { attributes: { key: 'x' } }, { body: { stringValue: 5 } }, { body: 'not an AnyValue' }]));
    expect(codes(r)).toEqual(['0:0:SILT_BAD_ATTRS', '0:1:SILT_BAD_ATTRS', '0:2:SILT_BAD_ATTRS', '0:3:SILT_BAD_ENTRY', '0:4:SILT_BAD_ENTRY']);
    expect(r.rejected[0]!.reason).toMatch(/^attribute "n" of log record attributes: /);
  });

  it('rejects a line over the limit with the builder’s code', () => {
    const r = json(jRequest([{ body: jString('x'.repeat(limits.maxLineBytes + 1)) }]));
    expect(codes(r)).toEqual(['0:0:SILT_LINE_TOO_LONG']);
  });

  it('indexes rejections by resource, and by record across the resource’s scopes', () => {
    const r = proto(
      pResourceLogs([['service.name', pString('a')]], [{ records: [{ time: T }] }]),
      pResourceLogs([['service.name', pString('b')]], [{ records: [{ time: T }, { time: 1n }] }, { records: [{ time: T }, { time: 2n }] }]),
    );
    expect(codes(r)).toEqual(['1:1:SILT_TOO_OLD', '1:3:SILT_TOO_OLD']);
    expect(r.accepted).toBe(3);
  });
});

describe('ingest > otlp logs > invalid UTF-8 in protobuf', () => {
  const BAD = Buffer.from([0x61, 0xff, 0x62]);
  const OVERLONG = Buffer.from([0xc0, 0xaf]);
  const SURROGATE = Buffer.from([0xed, 0xa0, 0x80]);

  it.each([
    ['a string body', { time: T, body: pString(BAD) }],
    ['an overlong sequence', { time: T, body: pString(OVERLONG) }],
    ['an encoded surrogate', { time: T, body: pString(SURROGATE) }],
    ['an attribute key', { time: T, attrs: [[BAD, pString('v')]] }],
    ['an attribute value', { time: T, attrs: [['k', pString(BAD)]] }],
    ['a key inside a map body', { time: T, body: pKvlist([BAD, pInt(1)]) }],
  ] as [string, PRecord][])('rejects the record with SILT_INVALID_UTF8 in %s, and keeps the others', (_what, bad) => {
    const r = protoRecords(bad, { time: T, body: pString('ok') });
    expect(codes(r)).toEqual(['0:0:SILT_INVALID_UTF8']);
    expect(entriesOf(r.streams[0]!).map((e) => e.line)).toEqual(['ok']);
  });

  it('rejects every record of a resource whose attributes hold invalid UTF-8', () => {
    const r = proto(pResourceLogs([['service.name', pString(BAD)]], [{ records: [{ time: T }, { time: T }] }]), pResourceLogs([['service.name', pString('b')]], [{ records: [{ time: T }] }]));
    expect(codes(r)).toEqual(['0:0:SILT_INVALID_UTF8', '0:1:SILT_INVALID_UTF8']);
    expect(r.accepted).toBe(1);
  });

  it('rejects every record of a scope whose name is invalid UTF-8', () => {
    const body = wire(sub(1, sub(1, pAttr(1, 'service.name', pString('a'))), sub(2, sub(1, len(1, BAD)), pRecord({ time: T })), sub(2, pRecord({ time: T }))));
    const r = parse(body, 'protobuf');
    expect(codes(r)).toEqual(['0:0:SILT_INVALID_UTF8']);
    expect(r.accepted).toBe(1);
  });
});

describe('ingest > otlp logs > whole-request refusals', () => {
  it('answers an empty protobuf body and an empty JSON object with no entries', () => {
    expect(parse(Buffer.alloc(0), 'protobuf')).toEqual({ streams: [], accepted: 0, rejected: [] });
    expect(json({})).toEqual({ streams: [], accepted: 0, rejected: [] });
  });

  it.each([
    ['garbage', Buffer.from('this is not protobuf at all')],
    ['a wire type that does not exist', Buffer.from([0x0f, 0x01])],
    ['a length past the end', Buffer.from([0x0a, 0x7f, 0x0a])],
  ])('refuses %s with 400 SILT_MALFORMED_PROTOBUF', (_what, body) => {
    const err = thrown(() => parse(body, 'protobuf'));
    expect([err.status, err.code]).toEqual([400, 'SILT_MALFORMED_PROTOBUF']);
  });

  it('refuses a truncated request with 400 SILT_MALFORMED_PROTOBUF, at every cut', () => {
    const body = wire(pResourceLogs(FULL_RESOURCE, [{ ...FULL_SCOPE, records: [FULL_RECORD, FULL_RECORD] }]));
    for (let cut = 1; cut < body.length; cut++) {
      let err: SiltError | undefined;
      try {
        parse(body.subarray(0, cut), 'protobuf');
      } catch (e) {
        err = e as SiltError;
      }
      expect([cut, err?.status, err?.code]).toEqual([cut, 400, 'SILT_MALFORMED_PROTOBUF']);
    }
  });

  it('refuses AnyValues nested past the depth limit with 400, in protobuf and JSON, without a crash', () => {
    let p: Field[] = pString('leaf');
    for (let i = 0; i < 40; i++) p = pArray(p);
    const deepProto = thrown(() => protoRecords({ time: T, body: p }));
    expect([deepProto.status, deepProto.code]).toEqual([400, 'SILT_TOO_DEEP']);

    // Built inside out as bytes: AnyValue{array_value=5: ArrayValue{values=1: inner}}, 3000 times.
    let inner = wire(...pString('leaf'));
    for (let i = 0; i < 3000; i++) inner = wire(len(5, wire(len(1, inner))));
    const deeperProto = thrown(() => parse(wire(sub(1, sub(1, pAttr(1, 'service.name', pString('a'))), sub(2, sub(2, fixed64(1, T), len(5, inner))))), 'protobuf'));
    expect([deeperProto.status, deeperProto.code]).toEqual([400, 'SILT_MALFORMED_PROTOBUF']);

    let j: unknown = jString('leaf');
    for (let i = 0; i < 40; i++) j = { kvlistValue: { values: [{ key: 'k', value: j }] } };
    const deepJson = thrown(() => json(jRequest([{ attributes: [{ key: 'deep', value: j }] }])));
    expect([deepJson.status, deepJson.code]).toEqual([400, 'SILT_TOO_DEEP']);

    const deeperJson = thrown(() => parse(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":${'{"arrayValue":{"values":['.repeat(20000)}${']}}'.repeat(20000)}}]}]}]}`, 'json'));
    expect([deeperJson.status, deeperJson.code]).toEqual([400, 'SILT_TOO_DEEP']);
  });

  it('accepts nesting within the limit', () => {
    let j: unknown = jString('leaf');
    for (let i = 0; i < 30; i++) j = { arrayValue: { values: [j] } };
    expect(only(json(jRequest([{ body: j }]))).line).toBe('['.repeat(30) + '"leaf"' + ']'.repeat(30));
  });

  it.each([
    ['not JSON', '{"resourceLogs":[', 'SILT_MALFORMED_JSON'],
    ['not an object', '[1,2]', 'SILT_BAD_PUSH_SHAPE'],
    ['resourceLogs not an array', '{"resourceLogs":{}}', 'SILT_BAD_PUSH_SHAPE'],
    ['a ResourceLogs not an object', '{"resourceLogs":[1]}', 'SILT_BAD_PUSH_SHAPE'],
    ['scopeLogs not an array', '{"resourceLogs":[{"scopeLogs":"x"}]}', 'SILT_BAD_PUSH_SHAPE'],
    ['logRecords not an array', '{"resourceLogs":[{"scopeLogs":[{"logRecords":7}]}]}', 'SILT_BAD_PUSH_SHAPE'],
    ['a resource not an object', '{"resourceLogs":[{"resource":"r","scopeLogs":[]}]}', 'SILT_BAD_PUSH_SHAPE'],
  ])('refuses a JSON body that is %s with 400', (_what, body, code) => {
    const err = thrown(() => parse(body, 'json'));
    expect([err.status, err.code]).toEqual([400, code]);
  });

  it('names the bad part of the envelope', () => {
    const err = thrown(() => parse('{"resourceLogs":[{"scopeLogs":[{},{"logRecords":{}}]}]}', 'json'));
    expect(err.message).toBe('resourceLogs[0].scopeLogs[1].logRecords must be an array, not an object');
  });

  it('refuses a JSON body that is not UTF-8 with SILT_INVALID_UTF8', () => {
    expect(thrown(() => parse(Buffer.from([0x7b, 0xff, 0x7d]), 'json')).code).toBe('SILT_INVALID_UTF8');
  });
});

describe('ingest > otlp logs > answers', () => {
  const rejection = (stream: number, entry: number, code: string, reason: string): Rejection => ({ stream, entry, code, reason });
  /** The fields of a protobuf message as [field number, wire type, value], read with protobufjs's Reader. */
  function fields(buf: Uint8Array): [number, number, unknown][] {
    const r = protobuf.Reader.create(buf);
    const out: [number, number, unknown][] = [];
    while (r.pos < r.len) {
      const tag = r.uint32();
      const wt = tag & 7;
      out.push([tag >>> 3, wt, wt === 0 ? r.int64().toString() : wt === 2 ? r.bytes() : (r.skipType(wt), null)]);
    }
    return out;
  }

  it('answers full success with an empty message in either encoding', () => {
    expect(exportResponse('protobuf', [], 5)).toEqual(Buffer.alloc(0));
    expect(exportResponse('json', [], 5).toString()).toBe('{}');
  });

  it('answers partial success with the count and a summary per code (protobuf: partial_success=1 {rejected_log_records=1, error_message=2})', () => {
    const rejected = [rejection(0, 1, 'SILT_BAD_LABELS', 'too many'), rejection(0, 2, 'SILT_BAD_LABELS', 'too many'), rejection(1, 0, 'SILT_TOO_OLD', 'old')];
    const message = '3 of 10 log records rejected: 2 SILT_BAD_LABELS (first: resourceLogs[0] log record 1: too many); 1 SILT_TOO_OLD (first: resourceLogs[1] log record 0: old)';
    const top = fields(exportResponse('protobuf', rejected, 10));
    expect(top.map(([n, wt]) => [n, wt])).toEqual([[1, 2]]);
    const inner = fields(top[0]![2] as Uint8Array);
    expect(inner.map(([n, wt, v]) => [n, wt, v instanceof Uint8Array ? Buffer.from(v).toString() : v])).toEqual([[1, 0, '3'], [2, 2, message]]);
    expect(JSON.parse(exportResponse('json', rejected, 10).toString())).toEqual({ partialSuccess: { rejectedLogRecords: '3', errorMessage: message } });
  });

  it('answers an error with a google.rpc.Status (code=1, message=2, details=3 as Any{type_url=1, value=2})', () => {
    const err = new BadRequestError('SILT_MALFORMED_PROTOBUF', 'bad bytes');
    const status = fields(statusResponse('protobuf', err));
    expect(status.map(([n, wt]) => [n, wt])).toEqual([[1, 0], [2, 2], [3, 2], [3, 2]]);
    expect(status[0]![2]).toBe('3');
    expect(Buffer.from(status[1]![2] as Uint8Array).toString()).toBe('bad bytes');
    const details = status.slice(2).map(([, , v]) => fields(v as Uint8Array));
    expect(details.map((d) => Buffer.from(d[0]![2] as Uint8Array).toString())).toEqual(['type.googleapis.com/google.rpc.ErrorInfo', 'type.googleapis.com/google.rpc.BadRequest']);
    const errorInfo = fields(details[0]![1]![2] as Uint8Array).map(([n, , v]) => [n, Buffer.from(v as Uint8Array).toString()]);
    expect(errorInfo).toEqual([[1, 'SILT_MALFORMED_PROTOBUF'], [2, 'silt']]);
    expect(JSON.parse(statusResponse('json', err).toString())).toEqual({
      code: 3,
      message: 'bad bytes',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SILT_MALFORMED_PROTOBUF', domain: 'silt' },
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ description: 'bad bytes' }] },
      ],
    });
  });

  it('carries a RetryInfo with the Retry-After delay on 503', () => {
    const err = new UnavailableError('Kafka is down', 7);
    expect(JSON.parse(statusResponse('json', err).toString())).toEqual({
      code: 14,
      message: 'Kafka is down',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SILT_KAFKA_UNAVAILABLE', domain: 'silt' },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' },
      ],
    });
    // Status.details[1] → Any.value → RetryInfo.retry_delay → Duration{seconds=1}.
    const any = fields(fields(statusResponse('protobuf', err))[3]![2] as Uint8Array);
    expect(Buffer.from(any[0]![2] as Uint8Array).toString()).toBe('type.googleapis.com/google.rpc.RetryInfo');
    const retryInfo = fields(any[1]![2] as Uint8Array);
    expect(fields(retryInfo[0]![2] as Uint8Array)).toEqual([[1, 0, '7']]);
  });

  it('answers errors in the request’s encoding: protobuf for protobuf, JSON for the rest', () => {
    expect(errorEncoding('application/x-protobuf')).toBe('protobuf');
    expect(errorEncoding(['application/x-protobuf; charset=binary'])).toBe('protobuf');
    expect(errorEncoding('application/json')).toBe('json');
    expect(errorEncoding('text/plain')).toBe('json');
    expect(errorEncoding(undefined)).toBe('json');
    expect([contentTypeOf('protobuf'), contentTypeOf('json')]).toEqual(['application/x-protobuf', 'application/json']);
  });
});
