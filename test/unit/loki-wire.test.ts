import { entriesOf } from '../support/push-entries';
import { isUtf8 } from 'node:buffer';
import { compressSync } from 'snappy';
import { expectWalkReadsAsDecode, len, sub, varint, wire, type Field } from '../support/proto-fields';
import { parseTimestamp } from '../../core/src/time';
import { parseLokiPush } from '../../ingest/src/protocols/loki';
import { PushRequestText, type Int64 } from '../../ingest/src/protocols/loki-proto';
import { walkPushRequest, type EntryFields } from '../../ingest/src/protocols/loki-wire';
import { INVALID_TEXT, LateField, strictTextReader } from '../../ingest/src/protocols/proto-reader';
import type { PushLimits } from '../../ingest/src/push/builder';

const S = 1_000_000_000n;
const NOW = parseTimestamp('2026-12-02T04:00:00Z');
const SECONDS = Number((NOW - 60n * S) / S);
const BAD_UTF8 = Buffer.from([0x61, 0xff]);

const ts = (seconds: number, nanos: number, ...more: Field[]): Field => sub(1, varint(1, seconds), varint(2, nanos), ...more);
const entry = (...fields: Field[]): Field => sub(2, ...fields);
const pair = (name: string | Uint8Array, value: string | Uint8Array): Field => sub(3, len(1, name), len(2, value));

/** A request with every part the walk reads, and the quirks of the wire it must read as protobufjs does. */
const RICH = wire(
  sub(
    1,
    len(1, '{app="first"}'),
    len(1, '{app="api", env="prod"}'),
    entry(ts(SECONDS, 1), len(2, 'plain line')),
    entry(ts(SECONDS, 2), len(2, 'with metadata'), pair('trace_id', 'abc'), pair('user', 'u1')),
    entry(ts(SECONDS, 3, varint(9, 1)), ts(SECONDS, 4), len(2, 'replaced'), len(2, 'last line wins')),
    entry(len(2, 'no timestamp')),
    entry(ts(SECONDS, 5), len(2, BAD_UTF8)),
    entry(ts(SECONDS, 6), len(2, 'bad metadata'), pair(BAD_UTF8, 'v')),
    entry(varint(99, 5), len(100, 'unknown'), ts(SECONDS, 7), len(2, 'after unknown fields')),
    entry(),
    varint(3, 12345),
  ),
  sub(1, len(1, '{app="empty"}')),
  sub(1, len(1, BAD_UTF8), entry(ts(SECONDS, 8), len(2, 'labels not utf-8'))),
  sub(1, entry(ts(SECONDS, 9), len(2, 'no labels'))),
  sub(1, len(1, '{app="api", env="prod"}'), entry(ts(SECONDS, 10), len(2, 'same labels again'))),
  varint(2, 7),
);

const text = (v: unknown): unknown => (v === INVALID_TEXT ? '<invalid utf-8>' : v);
const seconds = (s: Int64): number => (typeof s === 'number' ? s : s.high * 2 ** 32 + (s.low >>> 0));

/** The walk's line bytes read as the strict decode reads text. */
function lineOf(e: EntryFields, body: Buffer | undefined): unknown {
  if (e.lineStart === undefined || body === undefined) return text(e.line);
  const bytes = body.subarray(e.lineStart, e.lineEnd);
  return isUtf8(bytes) ? bytes.toString() : text(INVALID_TEXT);
}

/** An entry as plain values: the walk reuses its objects, so each is copied when handed over. */
function plainEntry(e: EntryFields, body?: Buffer): unknown {
  return {
    ts: e.timestamp === null ? null : `${seconds(e.timestamp.seconds)}:${e.timestamp.nanos}`,
    line: lineOf(e, body),
    metadata: e.structuredMetadata.map((p) => [text(p.name), text(p.value)]),
  };
}

function walked(body: Buffer): unknown[] {
  const seen: unknown[] = [];
  walkPushRequest(body, {
    stream: (index, labels) => seen.push({ stream: index, labels: text(labels) }),
    entry: (index, e) => seen.push({ entry: index, value: plainEntry(e, body) }),
    end: (entries) => seen.push({ end: entries }),
  });
  return seen;
}

function decoded(body: Buffer): unknown[] {
  const seen: unknown[] = [];
  const request = PushRequestText.decode(strictTextReader(body)) as unknown as { streams: { labels: unknown; entries: EntryFields[] }[] };
  request.streams.forEach((s, index) => {
    seen.push({ stream: index, labels: text(s.labels) });
    s.entries.forEach((e, j) => seen.push({ entry: j, value: plainEntry(e) }));
    seen.push({ end: s.entries.length });
  });
  return seen;
}

const limits: PushLimits = { maxLineBytes: 262_144, maxLabels: 15, maxLabelValueBytes: 1024, maxLabelNameBytes: 1024, maxPastNs: 7n * 86_400n * S, maxFutureNs: 600n * S, maxAttrs: 64, maxAttrBytes: 65_536 };
const parse = (body: Buffer) => parseLokiPush(compressSync(body) as Buffer, 'application/x-protobuf', NOW, limits, 1 << 24);

describe('ingest > loki wire > walk', () => {
  it('hands over every stream and entry as protobufjs decodes them, in order', () => {
    const seen = walked(RICH);
    expect(seen).toEqual(decoded(RICH));
    expect(seen.filter((x) => 'entry' in (x as object))).toHaveLength(11);
  });

  it('reads what protobufjs reads of every cut and corrupted variant of a request, and throws wherever it throws', () => {
    expectWalkReadsAsDecode(RICH, decoded, walked);
  });

  it('maps a request the same through the walk as through the whole decode, rejections and line lengths included', async () => {
    const parsed = await parse(RICH);
    expect(parsed.streams.map((s) => [s.labels, entriesOf(s).map((e) => e.line)])).toEqual([
      [{ app: 'api', env: 'prod' }, ['plain line', 'with metadata', 'last line wins', 'after unknown fields', 'same labels again']],
    ]);
    expect(entriesOf(parsed.streams[0]!)[1]!.attrs).toEqual({ trace_id: 'abc', user: 'u1' });
    expect(entriesOf(parsed.streams[0]!)[2]!.ts).toBe(BigInt(SECONDS) * S + 4n);
    expect(parsed.lineBytes).toEqual([entriesOf(parsed.streams[0]!).reduce((n, e) => n + Buffer.byteLength(e.line), 0)]);
    expect(parsed.rejected.map((r) => [r.stream, r.entry, r.code])).toEqual([
      [0, 3, 'SILT_TOO_OLD'],
      [0, 4, 'SILT_INVALID_UTF8'],
      [0, 5, 'SILT_INVALID_UTF8'],
      [0, 7, 'SILT_TOO_OLD'],
      [2, 0, 'SILT_INVALID_UTF8'],
      [3, 0, 'SILT_BAD_LABELS'],
    ]);
    const multibyte = await parse(wire(sub(1, len(1, '{app="ünï"}'), entry(ts(SECONDS, 1), len(2, 'naïve line')), entry(ts(SECONDS, 2), len(2, 'x')))));
    expect(multibyte.lineBytes).toEqual([Buffer.byteLength('naïve line') + 1]);
  });

  it('throws LateField for labels after a stream\'s entries, and the request still maps as a whole decode maps it', async () => {
    const late = wire(sub(1, entry(ts(SECONDS, 1), len(2, 'early entry')), len(1, '{app="late"}')));
    expect(() => walked(late)).toThrow(LateField);
    const parsed = await parse(late);
    expect(parsed.streams.map((s) => [s.labels, entriesOf(s).map((e) => e.line)])).toEqual([[{ app: 'late' }, ['early entry']]]);
  });
});
