import { isUtf8 } from 'node:buffer';
import { entriesOf } from '../support/push-entries';
import { expectWalkReadsAsDecode, fixed32, fixed64, len, sub, varint, wire, type Field } from '../support/proto-fields';
import { DEFAULT_CONFIG } from '../../core/src/config';
import { parseTimestamp } from '../../core/src/time';
import { parseOtlpLogs } from '../../ingest/src/protocols/otlp';
import { decodeExportLogsRequest } from '../../ingest/src/protocols/otlp-proto';
import { INVALID_TEXT, LateField, uint64Of } from '../../ingest/src/protocols/proto-reader';
import { walkLogsRequest } from '../../ingest/src/protocols/otlp-wire';
import type { OtlpMessage } from '../../ingest/src/protocols/otlp-value';
import type { PushLimits } from '../../ingest/src/push/builder';

const kv = (n: number, key: string | Uint8Array, ...value: Field[]): Field => sub(n, len(1, key), sub(2, ...value));
const record = (...fields: Field[]): Field => sub(2, ...fields);

const S = 1_000_000_000n;
const NOW = parseTimestamp('2026-11-26T04:00:00Z');
const T = NOW - 60n * S;
const BAD_UTF8 = Buffer.from([0x61, 0xff]);

/** A request with every part the walk reads or leaves to protobufjs, and the quirks of the wire it must read as protobufjs does. */
const RICH = wire(
  sub(
    1,
    sub(1, kv(1, 'service.name', len(1, 'checkout')), kv(1, 'host.name', len(1, 'h1'))),
    sub(
      2,
      sub(1, len(1, 'scope'), len(2, '1.0'), kv(3, 'lib', varint(2, 1)), varint(4, 2)),
      record(fixed64(1, T), varint(2, 9), len(3, 'INFO'), sub(5, len(1, 'plain line'))),
      record(fixed64(1, T + 1n), varint(2, 9), len(3, 'INFO'), sub(5, len(1, 'same severity'))),
      record(fixed64(1, T + 2n), varint(2, 13), len(3, 'WARN'), sub(5, len(1, 'other severity')), kv(6, 'k', len(1, 'v')), kv(6, 'n', varint(3, 7))),
      record(sub(5, varint(3, 42)), fixed64(11, T + 3n), varint(7, 1), fixed32(8, 1), len(9, Buffer.alloc(16, 1)), len(10, Buffer.alloc(8, 2)), len(12, 'ev')),
      record(sub(5, len(1, 'first'), varint(2, 1))),
      record(sub(5, len(1, 'replaced')), sub(5, len(1, 'last body wins'))),
      record(len(3, BAD_UTF8), sub(5, len(1, BAD_UTF8))),
      record(varint(99, 5), len(100, 'unknown'), sub(5, len(1, 'after unknown fields'))),
      record(),
    ),
    sub(2, record(fixed64(1, T), sub(5, len(1, 'a scope without scope')))),
    varint(3, 1),
  ),
  sub(1, sub(2, record(fixed64(1, T), sub(5, len(1, 'no resource'))))),
  sub(1, sub(1, kv(1, 'service.name', len(1, 'first'))), sub(1, kv(1, 'service.name', len(1, 'last resource wins'))), sub(2, record(fixed64(1, T)))),
  sub(1),
  varint(2, 7),
);

/** A value with Buffers as hex, bigints and Longs as decimal, the invalid-text mark named, and only own fields: comparable across both readers. */
function plain(v: unknown): unknown {
  if (v === INVALID_TEXT) return '<invalid utf-8>';
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `hex:${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null) {
    const long = v as { low?: unknown; high?: unknown };
    if (typeof long.low === 'number' && typeof long.high === 'number') return `long:${long.high}:${long.low}`;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined && !(Array.isArray(x) && x.length === 0)) out[k] = plain(x);
    }
    return out;
  }
  return v;
}

/** What the walk hands over, as plain values. */
function walked(body: Buffer): unknown[] {
  const seen: unknown[] = [];
  walkLogsRequest(body, {
    resource: (index, resource) => seen.push({ resource: index, value: plain(resource) }),
    scope: (scope) => seen.push({ scope: plain(scope) }),
    // The wire's timestamps go back on the record as the strict decode gives them (bigints; these
    // fixtures never send an explicit 0), and a string body handed over as where its bytes are is
    // read as the strict decode reads text.
    record: (r, wire) => {
      const times: Record<string, bigint> = {};
      if ((wire.timeLow | wire.timeHigh) !== 0) times.timeUnixNano = uint64Of(wire.timeLow, wire.timeHigh);
      if ((wire.observedLow | wire.observedHigh) !== 0) times.observedTimeUnixNano = uint64Of(wire.observedLow, wire.observedHigh);
      if (wire.bodyStart < 0) seen.push({ record: plain({ ...r, ...times }) });
      else {
        const bytes = body.subarray(wire.bodyStart, wire.bodyEnd);
        seen.push({ record: plain({ ...r, ...times, body: { stringValue: isUtf8(bytes) ? bytes.toString() : INVALID_TEXT } }) });
      }
    },
  });
  return seen;
}

/** The same, read off protobufjs's decode of the whole request. */
function decoded(body: Buffer): unknown[] {
  const seen: unknown[] = [];
  const request = decodeExportLogsRequest(body) as { resourceLogs: { resource: OtlpMessage | null; scopeLogs: { scope: OtlpMessage | null; logRecords: OtlpMessage[] }[] }[] };
  request.resourceLogs.forEach((rl, index) => {
    seen.push({ resource: index, value: plain(rl.resource) });
    for (const sl of rl.scopeLogs) {
      seen.push({ scope: plain(sl.scope) });
      for (const r of sl.logRecords) seen.push({ record: plain(r) });
    }
  });
  return seen;
}

const limits: PushLimits = { maxLineBytes: 262_144, maxLabels: 15, maxLabelValueBytes: 1024, maxLabelNameBytes: 1024, maxPastNs: 7n * 86_400n * S, maxFutureNs: 600n * S, maxAttrs: 64, maxAttrBytes: 65_536 };
const parse = (body: Buffer) => parseOtlpLogs(body, 'protobuf', NOW, limits, new Set(DEFAULT_CONFIG.ingest.otlpStreamAttributes));

describe('ingest > otlp wire > walk', () => {
  it('hands over every resource, scope and record as protobufjs decodes them, in order', () => {
    const seen = walked(RICH);
    expect(seen).toEqual(decoded(RICH));
    expect(seen.filter((x) => 'record' in (x as object))).toHaveLength(12);
  });

  it('reads what protobufjs reads of every cut and corrupted variant of a request, and throws wherever it throws', () => {
    expectWalkReadsAsDecode(RICH, decoded, walked);
  });

  it('throws LateField for a resource or scope after what it belongs to, and the request still maps as a whole decode maps it', () => {
    const lateResource = wire(sub(1, sub(2, record(fixed64(1, T), sub(5, len(1, 'x')))), sub(1, kv(1, 'service.name', len(1, 'late')))));
    const lateScope = wire(sub(1, sub(1, kv(1, 'service.name', len(1, 'a'))), sub(2, record(fixed64(1, T), sub(5, len(1, 'y'))), sub(1, len(1, 'late-scope')))));
    for (const body of [lateResource, lateScope]) expect(() => walked(body)).toThrow(LateField);
    expect(parse(lateResource).streams.map((s) => s.labels)).toEqual([{ service_name: 'late' }]);
    expect(entriesOf(parse(lateScope).streams[0]!)[0]!.attrs).toEqual({ scope_name: 'late-scope' });
  });
});

describe('ingest > otlp wire > parse', () => {
  it('maps a request read by the walk as its whole decode is mapped', () => {
    const r = parse(RICH);
    expect(r.accepted).toBe(11);
    expect(r.rejected.map((x) => `${x.stream}:${x.entry}:${x.code}`)).toEqual(['0:6:SILT_INVALID_UTF8']);
    expect(r.streams.map((s) => s.labels)).toEqual([{ service_name: 'checkout' }, { service_name: 'unknown_service' }, { service_name: 'last resource wins' }]);
    const lines = r.streams.flatMap((s) => entriesOf(s).map((e) => e.line));
    expect(lines).toEqual(['plain line', 'same severity', 'other severity', '42', 'first', 'last body wins', 'after unknown fields', '', 'a scope without scope', 'no resource', '']);
    const [first, second] = entriesOf(r.streams[0]!);
    const shared = { host_name: 'h1', scope_name: 'scope', scope_version: '1.0', lib: 'true', scope_dropped_attributes_count: '2', severity_number: '9', severity_text: 'INFO' };
    expect([first!.attrs, second!.attrs]).toEqual([shared, shared]);
    // Every line went into payload runs, the int 42 rendered as text among them, so every line's bytes are counted.
    expect(r.streams.every((s) => s.runs !== undefined && s.entries.length === 0)).toBe(true);
    expect(r.lineBytes).toEqual(r.streams.map((s) => entriesOf(s).reduce((n, e) => n + Buffer.byteLength(e.line), 0)));
  });

  it('maps a plain record (timestamp, severity, string body) as the whole decode maps it, every near variant too', () => {
    const body = (text: string | Uint8Array): Field => sub(5, len(1, text));
    const variants: Field[][] = [
      [fixed64(1, T), varint(2, 9), len(3, 'INFO'), body('plain')],
      [varint(2, 9), len(3, 'INFO'), body('no time: the receive time')],
      [fixed64(11, T + 5n), varint(2, 9), body('observed time only')],
      [fixed64(1, T), fixed64(11, T + 5n), body('both times: observed_timestamp')],
      [fixed64(1, T), varint(2, 2147483647), len(3, 'X'), body('the largest severity')],
      [fixed64(1, T), varint(2, -3), body('a negative severity')],
      [fixed64(1, T), varint(2, 9), len(3, ''), body('empty severity text')],
      [fixed64(1, T), len(3, BAD_UTF8), body('bad severity text')],
      [fixed64(1, T), varint(2, 9), body(BAD_UTF8)],
      [fixed64(1, T), len(3, BAD_UTF8), body(BAD_UTF8)],
      [fixed64(1, T - 30n * 86_400n * S), body('too old')],
      [fixed64(1, 1n << 63n), body('past int64')],
      [fixed64(1, T), varint(2, 9), body('x'.repeat(300_000))],
      [fixed64(1, T), varint(99, 1), body('an unknown field')],
      [fixed64(1, T), varint(7, 0), body('dropped count 0 on the wire')],
      [fixed64(1, T), varint(7, 3), fixed32(8, 1), body('a dropped count and flags')],
      [fixed64(1, T), len(9, Buffer.alloc(16)), body('an all-zero trace id')],
      [fixed64(1, T), len(12, ''), body('an empty event name')],
      [fixed64(1, T), body('first'), body('second body wins')],
      [fixed64(1, T), sub(5, varint(3, 7))],
      [fixed64(1, T), varint(2, 5), varint(2, 17), len(3, 'A'), len(3, 'B'), body('the last severity wins')],
    ];
    const records = variants.map((fields) => record(...fields));
    const request = wire(sub(1, sub(1, kv(1, 'service.name', len(1, 'svc'))), sub(2, ...records)));
    // A last resource after its scope_logs makes the walk throw, so the same records are mapped off the whole decode.
    const late = wire(sub(1, sub(2, record(fixed64(1, T), body('late'))), sub(1, kv(1, 'service.name', len(1, 'late')))));
    const viaWalk = parse(request);
    const viaDecode = parse(Buffer.concat([request, late]));
    expect(viaDecode.streams.map((s) => s.labels)).toEqual([{ service_name: 'svc' }, { service_name: 'late' }]);
    expect(viaWalk.rejected).toEqual(viaDecode.rejected);
    expect(viaWalk.rejected.map((r) => `${r.entry}:${r.code}`)).toEqual(['7:SILT_INVALID_UTF8', '8:SILT_INVALID_UTF8', '9:SILT_INVALID_UTF8', '10:SILT_TOO_OLD', '11:SILT_BAD_TIMESTAMP', '12:SILT_LINE_TOO_LONG']);
    expect(entriesOf(viaWalk.streams[0]!)[9]!.attrs).toEqual({ dropped_attributes_count: '3', flags: '1' });
    expect(entriesOf(viaWalk.streams[0]!)).toEqual(entriesOf(viaDecode.streams[0]!));
    expect(viaWalk.accepted).toBe(variants.length - 6);
  });

  it('counts the lines’ bytes by their wire length when every body is one string (or none)', () => {
    const r = parse(wire(sub(1, sub(2, record(fixed64(1, T), sub(5, len(1, 'zwölf'))), record(fixed64(1, T)), record(fixed64(1, T), sub(5, len(1, '€'))))), sub(1, sub(1, kv(1, 'service.name', len(1, 'b'))), sub(2, record(fixed64(1, T), sub(5, len(1, 'abc')))))));
    expect(r.streams.map((s) => entriesOf(s).map((e) => e.line))).toEqual([['zwölf', '', '€'], ['abc']]);
    expect(r.lineBytes).toEqual([9, 3]);
  });
});
