import { entriesOf } from '../support/push-entries';
import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import protobuf from 'protobufjs';
import { compressSync } from 'snappy';
import { DEFAULT_CONFIG, type IngestSettings } from '../../core/src/config';
import { SiltError, UnavailableError } from '../../core/src/errors';
import { baseServerOptions, installErrorHandling } from '../../core/src/http';
import { createLogger } from '../../core/src/logger';
import { parseTimestamp } from '../../core/src/time';
import type { Distributor, PushOutcome } from '../../ingest/src/distributor';
import type { IngestMetrics } from '../../ingest/src/metrics';
import { parseLokiPush } from '../../ingest/src/protocols/loki';
import { PushRequest } from '../../ingest/src/protocols/loki-proto';
import { pushLimits, type ParsedPush, type PushLimits } from '../../ingest/src/push/builder';
import type { IngestContext } from '../../ingest/src/routes/context';
import { registerLokiRoutes } from '../../ingest/src/routes/loki';

const S = 1_000_000_000n;
const NOW = parseTimestamp('2026-11-26T04:00:00Z');
const MiB = 1024 * 1024;
const CAP = 64 * MiB;
/** The default limits, as ingest runs with them. */
const limits: PushLimits = pushLimits(DEFAULT_CONFIG.ingest);

/** A nanosecond timestamp string `seconds` before NOW (plus `nanos`). */
function ns(secondsAgo: number, nanos = 0): string {
  return String(NOW - BigInt(secondsAgo) * S + BigInt(nanos));
}

function json(doc: unknown, contentType = 'application/json'): Promise<ParsedPush> {
  return parseLokiPush(Buffer.from(JSON.stringify(doc)), contentType, NOW, limits, CAP);
}

interface ProtoEntry {
  ts?: bigint;
  line: string | Buffer;
  sm?: [string | Buffer, string | Buffer][];
}

/** The protobuf of a PushRequest (text as given: strings, or Buffers for bytes that are not UTF-8). */
function protoBytes(streams: { labels: string | Buffer; entries: ProtoEntry[] }[]): Buffer {
  const message = {
    streams: streams.map((s) => ({
      labels: Buffer.from(s.labels),
      entries: s.entries.map((e) => ({
        ...(e.ts === undefined ? {} : { timestamp: { seconds: Number(e.ts / S), nanos: Number(e.ts % S) } }),
        line: Buffer.from(e.line),
        structuredMetadata: (e.sm ?? []).map(([name, value]) => ({ name: Buffer.from(name), value: Buffer.from(value) })),
      })),
    })),
  };
  return Buffer.from(PushRequest.encode(PushRequest.fromObject(message)).finish());
}

/** A snappy-compressed (block format) PushRequest, as Loki's clients send it. */
function proto(streams: { labels: string | Buffer; entries: ProtoEntry[] }[]): Buffer {
  return compressSync(protoBytes(streams));
}

function parseProto(body: Buffer, contentType: string | undefined = 'application/x-protobuf', cap = CAP): Promise<ParsedPush> {
  return parseLokiPush(body, contentType, NOW, limits, cap);
}

async function thrown(p: Promise<unknown>): Promise<SiltError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SiltError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

/** The rejections as `stream:entry:code`. */
function codes(r: ParsedPush): string[] {
  return r.rejected.map((x) => `${x.stream}:${x.entry}:${x.code}`);
}

/** A varint, as the snappy block format's length preamble is written. */
function varint(n: number): Buffer {
  const w = protobuf.Writer.create();
  w.uint32(n);
  return Buffer.from(w.finish());
}

describe('ingest > loki push > json', () => {
  it('decodes streams, values, nanosecond timestamps and structured metadata', async () => {
    const r = await json({
      streams: [
        {
          stream: { app: 'api', host: 'h1' },
          values: [
            [ns(3, 123_456_789), 'first'],
            [ns(2), 'second', {}],
            [ns(1), 'third', { trace_id: 'ab12', 'user.id': 'u1' }],
            [ns(1), 'fourth', null],
          ],
        },
        { stream: { app: 'worker' }, values: [[ns(1), 'w1']] },
      ],
    });
    expect(r.rejected).toEqual([]);
    expect(r.accepted).toBe(5);
    expect(r.streams.map((s) => s.labels)).toEqual([{ app: 'api', host: 'h1' }, { app: 'worker' }]);
    expect(entriesOf(r.streams[0]!)).toEqual([
      { ts: NOW - 3n * S + 123_456_789n, line: 'first' },
      { ts: NOW - 2n * S, line: 'second' },
      { ts: NOW - S, line: 'third', attrs: { trace_id: 'ab12', 'user.id': 'u1' } },
      { ts: NOW - S, line: 'fourth' },
    ]);
    // winston-loki's third element is `{}` on every value: no attrs, not empty ones.
    expect('attrs' in entriesOf(r.streams[0]!)[1]!).toBe(false);
  });

  it('groups streams with the same labels in any order', async () => {
    const r = await json({
      streams: [
        { stream: { a: '1', b: '2' }, values: [[ns(2), 'x']] },
        { stream: { b: '2', a: '1' }, values: [[ns(1), 'y']] },
      ],
    });
    expect(r.streams).toHaveLength(1);
    expect(entriesOf(r.streams[0]!).map((e) => e.line)).toEqual(['x', 'y']);
  });

  it('takes timestamps as Loki does (a decimal string of ns, optionally signed +) and in every native form', async () => {
    const r = await json({
      streams: [
        {
          stream: { app: 'ts' },
          values: [
            [ns(5, 7), 'ns'],
            ['+' + ns(4), 'plus'],
            ['2026-11-26T03:59:57.5Z', 'rfc3339'],
            [Number(NOW / 1_000_000n) - 2000, 'ms number'],
            [String(NOW / S - 1n), 's string'],
          ],
        },
      ],
    });
    expect(r.rejected).toEqual([]);
    expect(entriesOf(r.streams[0]!).map((e) => e.ts)).toEqual([NOW - 5n * S + 7n, NOW - 4n * S, NOW - 2500_000_000n, NOW - 2n * S, NOW - S]);
  });

  it('rejects bad timestamps entry by entry and keeps the rest', async () => {
    const r = await json({
      streams: [
        {
          stream: { app: 'ts' },
          values: [
            [ns(1), 'good'],
            [null, 'null'],
            [true, 'bool'],
            ['12ab', 'text'],
            ['-' + ns(1), 'negative'],
            [String(NOW - 8n * 86_400n * S), 'old'],
            [String(NOW + 3600n * S), 'future'],
          ],
        },
      ],
    });
    expect(r.accepted).toBe(1);
    expect(entriesOf(r.streams[0]!).map((e) => e.line)).toEqual(['good']);
    expect(codes(r)).toEqual(['0:1:SILT_BAD_TIMESTAMP', '0:2:SILT_BAD_TIMESTAMP', '0:3:SILT_BAD_TIMESTAMP', '0:4:SILT_BAD_TIMESTAMP', '0:5:SILT_TOO_OLD', '0:6:SILT_TOO_NEW']);
    expect(r.rejected[0]!.reason).toMatch(/string of nanoseconds/);
  });

  it('rejects values that are not [ts, line] or [ts, line, {metadata}]', async () => {
    const r = await json({
      streams: [
        {
          stream: { app: 'v' },
          values: [[ns(1)], [ns(1), 'a', {}, 'extra'], 'line', [ns(1), 42], [ns(1), 'sm', { n: 1 }], [ns(1), 'sm', ['x']], [ns(1), 'ok']],
        },
      ],
    });
    expect(codes(r)).toEqual(['0:0:SILT_BAD_ENTRY', '0:1:SILT_BAD_ENTRY', '0:2:SILT_BAD_ENTRY', '0:3:SILT_BAD_ENTRY', '0:4:SILT_BAD_ATTRS', '0:5:SILT_BAD_ATTRS']);
    expect(r.rejected[1]!.reason).toMatch(/an array of 4/);
    expect(r.accepted).toBe(1);
  });

  it('drops labels with an empty value as Loki does, and refuses a stream left without labels', async () => {
    const r = await json({
      streams: [
        { stream: { app: 'api', env: '' }, values: [[ns(1), 'kept']] },
        { stream: {}, values: [[ns(1), 'a'], [ns(1), 'b']] },
        { stream: { only: '' }, values: [[ns(1), 'c']] },
        { values: [[ns(1), 'd']] },
        { stream: {}, values: [] },
      ],
    });
    expect(r.streams.map((s) => s.labels)).toEqual([{ app: 'api' }]);
    expect(codes(r)).toEqual(['1:0:SILT_BAD_LABELS', '1:1:SILT_BAD_LABELS', '2:0:SILT_BAD_LABELS', '3:0:SILT_BAD_LABELS', '4:-1:SILT_BAD_LABELS']);
    expect(r.rejected[0]!.reason).toMatch(/at least one label/);
  });

  it('refuses invalid label names, reserved names and non-string values for every entry of the stream', async () => {
    const r = await json({
      streams: [
        { stream: { 'bad-name': 'x' }, values: [[ns(1), 'a']] },
        { stream: { __name__: 'x' }, values: [[ns(1), 'b']] },
        { stream: { n: 1 }, values: [[ns(1), 'c']] },
        { stream: 'app=x', values: [[ns(1), 'd']] },
        { stream: { ok: 'yes' }, values: [[ns(1), 'e']] },
      ],
    });
    expect(codes(r)).toEqual(['0:0:SILT_BAD_LABELS', '1:0:SILT_BAD_LABELS', '2:0:SILT_BAD_LABELS', '3:0:SILT_BAD_LABELS']);
    expect(r.accepted).toBe(1);
  });

  it('reads a body without streams as an empty push, as Loki does, and refuses other shapes', async () => {
    await expect(json({})).resolves.toEqual({ streams: [], accepted: 0, rejected: [] });
    await expect(json({ streams: null })).resolves.toEqual({ streams: [], accepted: 0, rejected: [] });
    await expect(json({ streams: [] })).resolves.toEqual({ streams: [], accepted: 0, rejected: [] });
    expect(await thrown(json({ streams: 'x' }))).toMatchObject({ status: 400, code: 'SILT_BAD_PUSH_SHAPE' });
    expect(await thrown(json([1, 2]))).toMatchObject({ status: 400, code: 'SILT_BAD_PUSH_SHAPE' });
    const r = await json({ streams: [7, { stream: { a: '1' }, values: 'x' }, { stream: { a: '1' } }] });
    expect(codes(r)).toEqual(['0:-1:SILT_BAD_PUSH_SHAPE', '1:-1:SILT_BAD_PUSH_SHAPE']);
  });

  it('refuses malformed JSON, an empty body and invalid UTF-8 as whole requests', async () => {
    expect(await thrown(parseLokiPush(Buffer.from('{"streams":['), 'application/json', NOW, limits, CAP))).toMatchObject({ status: 400, code: 'SILT_MALFORMED_JSON' });
    expect(await thrown(parseLokiPush(Buffer.alloc(0), 'application/json', NOW, limits, CAP))).toMatchObject({ status: 400, code: 'SILT_EMPTY_BODY' });
    const bad = Buffer.concat([Buffer.from('{"streams":[{"stream":{"a":"1"},"values":[["1","'), Buffer.from([0xc3, 0x28]), Buffer.from('"]]}]}')]);
    expect(await thrown(parseLokiPush(bad, 'application/json', NOW, limits, CAP))).toMatchObject({ status: 400, code: 'SILT_INVALID_UTF8' });
  });

  it('answers deep nesting with a 400-class outcome, never a stack overflow', async () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const asBody = await thrown(parseLokiPush(Buffer.from(deep), 'application/json', NOW, limits, CAP));
    expect(asBody).toMatchObject({ status: 400, code: 'SILT_BAD_PUSH_SHAPE' });
    const inside = `{"streams":[{"stream":{"a":"1"},"values":[["${ns(1)}",${deep}],["${ns(1)}","x",{"k":${deep}}],["${ns(1)}","ok"]]},${deep}]}`;
    const r = await parseLokiPush(Buffer.from(inside), 'application/json', NOW, limits, CAP);
    expect(codes(r)).toEqual(['0:0:SILT_BAD_ENTRY', '0:1:SILT_BAD_ATTRS', '1:-1:SILT_BAD_PUSH_SHAPE']);
    expect(r.accepted).toBe(1);
  });

  it.each(['application/json', 'application/json; charset=utf-8', 'Application/JSON'])('reads %s as JSON', async (ct) => {
    expect((await json({ streams: [{ stream: { a: '1' }, values: [[ns(1), 'x']] }] }, ct)).accepted).toBe(1);
  });

  it('refuses a charset other than UTF-8 with 415', async () => {
    expect(await thrown(json({ streams: [] }, 'application/json; charset=latin1'))).toMatchObject({ status: 415, code: 'SILT_UNSUPPORTED_CONTENT_TYPE' });
  });
});

describe('ingest > loki push > protobuf', () => {
  it('decodes labels, lines, Timestamp seconds and nanos, and structured metadata', async () => {
    const r = await parseProto(
      proto([
        {
          labels: '{app="api", host="h1"}',
          entries: [
            { ts: NOW - 2n * S + 999_999_999n, line: 'one' },
            { ts: NOW - S + 1n, line: 'two ✓', sm: [['trace_id', 'ab12'], ['user.id', 'ü']] },
          ],
        },
        { labels: '{app="worker"}', entries: [{ ts: NOW - S, line: '' }] },
      ]),
    );
    expect(r.rejected).toEqual([]);
    expect(r.streams.map((s) => s.labels)).toEqual([{ app: 'api', host: 'h1' }, { app: 'worker' }]);
    expect(entriesOf(r.streams[0]!)).toEqual([
      { ts: NOW - 2n * S + 999_999_999n, line: 'one' },
      { ts: NOW - S + 1n, line: 'two ✓', attrs: { trace_id: 'ab12', 'user.id': 'ü' } },
    ]);
    expect(entriesOf(r.streams[1]!)).toEqual([{ ts: NOW - S, line: '' }]);
  });

  it.each([undefined, '', 'application/x-protobuf', 'application/octet-stream', 'text/plain'])('reads Content-Type %j as protobuf, as Loki does', async (ct) => {
    const r = await parseProto(proto([{ labels: '{a="1"}', entries: [{ ts: NOW - S, line: 'x' }] }]), ct);
    expect(r.accepted).toBe(1);
  });

  it('reads label values with Go escapes as Loki does', async () => {
    const r = await parseProto(proto([{ labels: '{a="x\\"y", b="tab\\there", c=`raw\\n`, d="", e="é"}', entries: [{ ts: NOW - S, line: 'x' }] }]));
    expect(r.streams[0]!.labels).toEqual({ a: 'x"y', b: 'tab\there', c: 'raw\\n', e: 'é' });
  });

  it("reads winston-loki's loosely escaped labels (raw quotes and backslashes) as it meant them", async () => {
    // winston-loki builds `{level="${level}",${key}="${value}"…}` with no escaping at all.
    const labels = '{level="info",app="say "hi" now",path="C:\\dir\\x",job="a, b=c"}';
    const r = await parseProto(proto([{ labels, entries: [{ ts: NOW - S, line: 'x' }] }]));
    expect(r.rejected).toEqual([]);
    expect(r.streams[0]!.labels).toEqual({ level: 'info', app: 'say "hi" now', path: 'C:\\dir\\x', job: 'a, b=c' });
  });

  it('refuses labels that neither reading accepts, and empty label sets', async () => {
    const r = await parseProto(
      proto([
        { labels: '{a=}', entries: [{ ts: NOW - S, line: 'x' }] },
        { labels: '{}', entries: [{ ts: NOW - S, line: 'y' }, { ts: NOW - S, line: 'z' }] },
        { labels: '', entries: [{ ts: NOW - S, line: 'w' }] },
        { labels: '{a="1"', entries: [] },
        { labels: '{__x="1"}', entries: [{ ts: NOW - S, line: 'v' }] },
      ]),
    );
    expect(codes(r)).toEqual(['0:0:SILT_BAD_LABELS', '1:0:SILT_BAD_LABELS', '1:1:SILT_BAD_LABELS', '2:0:SILT_BAD_LABELS', '3:-1:SILT_BAD_LABELS', '4:0:SILT_BAD_LABELS']);
    expect(r.accepted).toBe(0);
  });

  it('keeps one stream for a labels string sent twice', async () => {
    const r = await parseProto(
      proto([
        { labels: '{a="1"}', entries: [{ ts: NOW - 2n * S, line: 'x' }] },
        { labels: '{a="1"}', entries: [{ ts: NOW - S, line: 'y' }] },
      ]),
    );
    expect(r.streams).toHaveLength(1);
    expect(entriesOf(r.streams[0]!).map((e) => e.line)).toEqual(['x', 'y']);
  });

  const invalid = Buffer.from([0x6f, 0x6b, 0xc3, 0x28]);

  it.each([
    ['a line', [{ labels: '{a="1"}', entries: [{ ts: NOW - S, line: 'good' }, { ts: NOW - S, line: invalid }] }], ['0:1:SILT_INVALID_UTF8'], ['good']],
    ['structured metadata', [{ labels: '{a="1"}', entries: [{ ts: NOW - S, line: 'good' }, { ts: NOW - S, line: 'bad sm', sm: [['k', invalid]] }] }], ['0:1:SILT_INVALID_UTF8'], ['good']],
    [
      'a label value',
      [
        { labels: '{a="1"}', entries: [{ ts: NOW - S, line: 'good' }] },
        { labels: Buffer.concat([Buffer.from('{a="'), invalid, Buffer.from('"}')]), entries: [{ ts: NOW - S, line: 'l1' }, { ts: NOW - S, line: 'l2' }] },
      ],
      ['1:0:SILT_INVALID_UTF8', '1:1:SILT_INVALID_UTF8'],
      ['good'],
    ],
  ] as [string, { labels: string | Buffer; entries: ProtoEntry[] }[], string[], string[]][])(
    'refuses invalid UTF-8 in %s with SILT_INVALID_UTF8 and keeps the rest',
    async (_where, streams, rejected, kept) => {
      const r = await parseProto(proto(streams));
      expect(codes(r)).toEqual(rejected);
      expect(r.streams.flatMap((s) => entriesOf(s).map((e) => e.line))).toEqual(kept);
    },
  );

  it('keeps a real U+FFFD, in a body that also holds invalid UTF-8 or not', async () => {
    const real = 'a real U+FFFD: \ufffd';
    const alone = await parseProto(proto([{ labels: '{a="\ufffd"}', entries: [{ ts: NOW - S, line: real, sm: [['k', '\ufffd']] }] }]));
    expect(alone.rejected).toEqual([]);
    expect(alone.streams[0]!.labels).toEqual({ a: '\ufffd' });
    expect(entriesOf(alone.streams[0]!)).toEqual([{ ts: NOW - S, line: real, attrs: { k: '\ufffd' } }]);
    const mixed = await parseProto(proto([{ labels: '{a="1"}', entries: [{ ts: NOW - S, line: real }, { ts: NOW - S, line: invalid }] }]));
    expect(codes(mixed)).toEqual(['0:1:SILT_INVALID_UTF8']);
    expect(entriesOf(mixed.streams[0]!).map((e) => e.line)).toEqual([real]);
  });

  it('rejects invalid and absent Timestamps entry by entry', async () => {
    const message = {
      streams: [
        {
          labels: Buffer.from('{a="1"}'),
          entries: [
            { timestamp: { seconds: Number(NOW / S) - 1, nanos: 5 }, line: Buffer.from('ok') },
            { timestamp: { seconds: Number(NOW / S), nanos: 1_000_000_000 }, line: Buffer.from('nanos too big') },
            { timestamp: { seconds: -5, nanos: 0 }, line: Buffer.from('negative') },
            { line: Buffer.from('absent') },
            // 1970-01-01T00:00:01.795665599Z: as one integer of ns (1795665599), its magnitude would say "seconds", i.e. NOW - 1 s.
            { timestamp: { seconds: 1, nanos: Number(NOW / S) - 1 - 1_000_000_000 }, line: Buffer.from('1970') },
            { timestamp: { seconds: 99_999_999, nanos: 999_999_999 }, line: Buffer.from('1973') },
          ],
        },
      ],
    };
    const r = await parseProto(compressSync(Buffer.from(PushRequest.encode(PushRequest.fromObject(message)).finish())));
    expect(codes(r)).toEqual(['0:1:SILT_BAD_TIMESTAMP', '0:2:SILT_BAD_TIMESTAMP', '0:3:SILT_TOO_OLD', '0:4:SILT_TOO_OLD', '0:5:SILT_TOO_OLD']);
    expect(r.rejected[3]!.reason).toMatch(/^timestamp 1970-01-01T00:00:01\.\d{9}Z /);
    expect(r.rejected[4]!.reason).toMatch(/^timestamp 1973-03-03T09:46:39\.999999999Z /);
    expect(entriesOf(r.streams[0]!)).toEqual([{ ts: NOW - S + 5n, line: 'ok' }]);
  });

  it('refuses malformed and truncated protobuf with 400 SILT_MALFORMED_PROTOBUF', async () => {
    const whole = protoBytes([{ labels: '{a="1"}', entries: [{ ts: NOW - S, line: 'a line of some length' }] }]);
    for (const bad of [whole.subarray(0, whole.length - 5), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from([0x0f, 0x01, 0x02]), Buffer.from('this is not protobuf at all')]) {
      expect(await thrown(parseProto(compressSync(bad)))).toMatchObject({ status: 400, code: 'SILT_MALFORMED_PROTOBUF' });
    }
  });

  it('refuses truncated and corrupt snappy with 400 SILT_BAD_COMPRESSED_BODY', async () => {
    const body = proto([{ labels: '{a="1"}', entries: [{ ts: NOW - S, line: 'x'.repeat(500) }] }]);
    for (const bad of [body.subarray(0, body.length - 3), body.subarray(0, 1), Buffer.from([0x80]), Buffer.from('{"streams":[]}')]) {
      const err = await thrown(parseProto(bad));
      expect(err).toMatchObject({ status: 400, code: 'SILT_BAD_COMPRESSED_BODY' });
      expect(err.message).toMatch(/snappy/);
    }
    expect((await thrown(parseProto(Buffer.from('{"streams":[]}'), 'text/plain'))).message).toMatch(/Content-Type "text\/plain" is read as snappy-compressed protobuf/);
  });

  it('refuses a snappy bomb with 413 from its length preamble, before decompressing', async () => {
    // A 6-byte body announcing 2 GiB: decompressing it would allocate that much (and then fail as corrupt).
    const bomb = Buffer.concat([varint(2 ** 31), Buffer.from([0x00])]);
    const err = await thrown(parseProto(bomb));
    expect(err).toMatchObject({ status: 413, code: 'SILT_PAYLOAD_TOO_LARGE', details: { limit: CAP } });
    // Exactly the cap is allowed through to decompression (which then finds this body corrupt).
    expect(await thrown(parseProto(Buffer.concat([varint(1000), Buffer.from([0x00])]), undefined, 1000))).toMatchObject({ status: 400, code: 'SILT_BAD_COMPRESSED_BODY' });
    expect(await thrown(parseProto(Buffer.concat([varint(1001), Buffer.from([0x00])]), undefined, 1000))).toMatchObject({ status: 413 });
  });

  it('decompresses a large body off the event loop', async () => {
    const entries = Array.from({ length: 20_000 }, (_, i) => ({ ts: NOW - S + BigInt(i), line: `line ${i} `.padEnd(300, 'x') }));
    const body = proto([{ labels: '{a="big"}', entries }]);
    expect(protobuf.Reader.create(body).uint32()).toBeGreaterThan(4 * MiB);
    // Every libuv pool thread busy first, so the decompression cannot finish before the loop turns
    // (a fast pool would otherwise finish it before the check phase, and the test would race).
    const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const busy = Array.from({ length: pool }, () => promisify(pbkdf2)('busy', 'pool', 200_000, 32, 'sha256'));
    let ticked = false;
    setImmediate(() => {
      ticked = true;
    });
    const r = await parseProto(body);
    expect(ticked).toBe(true);
    await Promise.all(busy);
    expect(r.accepted).toBe(20_000);
    expect(entriesOf(r.streams[0]!)[19_999]).toEqual({ ts: NOW - S + 19_999n, line: 'line 19999 '.padEnd(300, 'x') });
  });

  it('refuses an empty body and takes an empty PushRequest', async () => {
    expect(await thrown(parseProto(Buffer.alloc(0)))).toMatchObject({ status: 400, code: 'SILT_EMPTY_BODY' });
    await expect(parseProto(compressSync(Buffer.alloc(0)))).resolves.toEqual({ streams: [], accepted: 0, rejected: [] });
  });
});

/** What the fake distributor was given, and how it answers. */
interface FakeDistributor {
  pushes: { tenant: string; parsed: ParsedPush }[];
  fail: Error | null;
}

async function lokiApp(settings: Partial<IngestSettings> = {}): Promise<{ app: FastifyInstance; fake: FakeDistributor }> {
  const s: IngestSettings = { ...DEFAULT_CONFIG.ingest, ...settings };
  const fake: FakeDistributor = { pushes: [], fail: null };
  const distributor = {
    admit: () => undefined,
    push: async (tenant: string, parsed: ParsedPush): Promise<PushOutcome> => {
      if (fake.fail) throw fake.fail;
      fake.pushes.push({ tenant, parsed });
      return { accepted: parsed.accepted, rejected: parsed.rejected, token: 'tok-1' };
    },
  } as unknown as Distributor;
  const logger = createLogger('silent');
  const tenantLimits = { ...limits, maxPastNs: 10n * 365n * 86_400n * S };
  const ctx: IngestContext = { distributor, limitsFor: () => tenantLimits, settings: s, metrics: {} as IngestMetrics, logger };
  const app = Fastify({ ...baseServerOptions(), bodyLimit: s.bodyLimitBytes });
  installErrorHandling(app, logger);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  registerLokiRoutes(app, ctx);
  await app.ready();
  return { app, fake };
}

/** A JSON push of `lines` to one stream, stamped now. */
function jsonBody(lines: string[], labels: Record<string, string> = { app: 'route' }): Buffer {
  const t = String(BigInt(Date.now()) * 1_000_000n);
  return Buffer.from(JSON.stringify({ streams: [{ stream: labels, values: lines.map((l) => [t, l]) }] }));
}

describe('ingest > loki push > route', () => {
  let app: FastifyInstance;
  let fake: FakeDistributor;

  beforeAll(async () => {
    ({ app, fake } = await lokiApp({ bodyLimitBytes: MiB }));
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    fake.pushes = [];
    fake.fail = null;
  });

  function push(payload: Buffer, headers: Record<string, string>) {
    return app.inject({ method: 'POST', url: '/loki/api/v1/push', payload, headers });
  }

  it('answers 204 with no body and the write token in X-Silt-Token', async () => {
    const res = await push(jsonBody(['a', 'b']), { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect(res.headers['x-silt-token']).toBe('tok-1');
    expect(fake.pushes).toHaveLength(1);
    expect(fake.pushes[0]!.tenant).toBe('default');
    expect(entriesOf(fake.pushes[0]!.parsed.streams[0]!).map((e) => e.line)).toEqual(['a', 'b']);
  });

  it('takes the first value of a repeated X-Scope-OrgID', async () => {
    const res = await push(jsonBody(['a']), { 'content-type': 'application/json', 'x-scope-orgid': 't, t' });
    expect(res.statusCode).toBe(204);
    expect(fake.pushes[0]!.tenant).toBe('t');
    const bad = await push(jsonBody(['a']), { 'content-type': 'application/json', 'x-scope-orgid': 'no spaces allowed' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(/^SILT_BAD_TENANT: /);
  });

  it('stores the valid entries and answers 400 in plain text with the count and the first reasons', async () => {
    const t = String(BigInt(Date.now()) * 1_000_000n);
    const values: unknown[] = [[t, 'good']];
    for (let i = 0; i < 12; i++) values.push(['bad', `bad ${i}`]);
    const res = await push(Buffer.from(JSON.stringify({ streams: [{ stream: { app: 'r' }, values }] })), { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers['x-silt-token']).toBe('tok-1');
    const lines = res.body.trimEnd().split('\n');
    expect(lines[0]).toBe('12 entries rejected, 1 accepted and stored');
    expect(lines[1]).toMatch(/^stream 0, entry 1: SILT_BAD_TIMESTAMP: timestamp "bad"/);
    expect(lines).toHaveLength(12);
    expect(lines[11]).toBe('… and 2 more');
    expect(fake.pushes[0]!.parsed.accepted).toBe(1);
  });

  it('decodes gzip and deflate (zlib-wrapped and raw) bodies, and gzip around snappy protobuf', async () => {
    for (const [encoding, compress] of [
      ['gzip', gzipSync],
      ['deflate', deflateSync],
      ['deflate', deflateRawSync],
    ] as const) {
      const res = await push(compress(jsonBody([`via ${encoding}`])), { 'content-type': 'application/json', 'content-encoding': encoding });
      expect(res.statusCode).toBe(204);
    }
    const body = proto([{ labels: '{app="gz"}', entries: [{ ts: BigInt(Date.now()) * 1_000_000n, line: 'gz proto' }] }]);
    expect((await push(gzipSync(body), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' })).statusCode).toBe(204);
    expect(fake.pushes.map((p) => entriesOf(p.parsed.streams[0]!)[0]!.line)).toEqual(['via gzip', 'via deflate', 'via deflate', 'gz proto']);
  });

  it('ignores Content-Encoding: snappy on a protobuf body, as Loki does', async () => {
    const body = proto([{ labels: '{app="s"}', entries: [{ ts: BigInt(Date.now()) * 1_000_000n, line: 'snappy header' }] }]);
    expect((await push(body, { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' })).statusCode).toBe(204);
    expect(fake.pushes[0]!.parsed.accepted).toBe(1);
  });

  it.each([
    ['malformed protobuf', 400, 'SILT_MALFORMED_PROTOBUF', compressSync(Buffer.from([0x0a, 0xff, 0xff, 0x03])), {}],
    ['truncated snappy', 400, 'SILT_BAD_COMPRESSED_BODY', proto([{ labels: '{a="1"}', entries: [{ ts: 1n, line: 'x'.repeat(100) }] }]).subarray(0, 20), {}],
    ['a snappy bomb', 413, 'SILT_PAYLOAD_TOO_LARGE', Buffer.concat([varint(2 ** 31), Buffer.from([0])]), {}],
    ['an empty body', 400, 'SILT_EMPTY_BODY', Buffer.alloc(0), {}],
    ['deep JSON', 400, 'SILT_BAD_PUSH_SHAPE', Buffer.from('['.repeat(100_000) + ']'.repeat(100_000)), { 'content-type': 'application/json' }],
    ['an unknown encoding', 415, 'SILT_UNSUPPORTED_ENCODING', jsonBody(['x']), { 'content-type': 'application/json', 'content-encoding': 'br' }],
    ['a latin1 charset', 415, 'SILT_UNSUPPORTED_CONTENT_TYPE', jsonBody(['x']), { 'content-type': 'application/json; charset=latin1' }],
    ['a body over the limit', 413, 'SILT_PAYLOAD_TOO_LARGE', Buffer.alloc(MiB + 1, 'a'), { 'content-type': 'application/json' }],
  ])('answers %s with %i %s in plain text', async (_what, status, code, payload, headers) => {
    const res = await push(payload as Buffer, { 'content-type': 'application/x-protobuf', ...(headers as Record<string, string>) });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body.startsWith(`${code}: `)).toBe(true);
    expect(res.body.endsWith('\n')).toBe(true);
    expect(fake.pushes).toHaveLength(0);
  });

  it('answers 503 with Retry-After when Kafka cannot take the push', async () => {
    fake.fail = new UnavailableError('Kafka did not acknowledge within 10000 ms', 7);
    const res = await push(jsonBody(['x']), { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.body).toBe('SILT_KAFKA_UNAVAILABLE: Kafka did not acknowledge within 10000 ms\n');
  });
});
