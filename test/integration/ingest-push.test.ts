import { gzipSync } from 'node:zlib';
import { compress as zstdCompress } from 'zstd-napi';
import { decodeWriteToken } from '../../core/src/write-token';
import { post, readTopic, startIngest, type IngestUnderTest, type StoredEntry } from '../support/ingest-harness';
import { testBrokers } from '../support/kafka';

const BIG_LINE = 'é'.repeat(64 * 1024) + 'x'.repeat(128 * 1024 - 0); // 256 KiB of UTF-8 exactly
/** An hour boundary an hour ago: recent enough for the timestamp bounds whatever day the tests run. */
const BASE_MS = Math.floor(Date.now() / 3600000) * 3600000 - 3600000;
const BASE_ISO = new Date(BASE_MS).toISOString().slice(0, 19);
const BASE_NS = BigInt(BASE_MS) * 1_000_000n;
const LINES = ['GET / 200', 'ünïcödé ✓ 日本語 🚀', '', BIG_LINE, 'tab\tand "quotes" and \\ backslash'];

/** Keys entries by what must survive the round trip exactly. */
function fingerprint(e: Pick<StoredEntry, 'tenant' | 'labels' | 'ts' | 'line' | 'attrs'>): string {
  const labels = Object.keys(e.labels).sort().map((k) => `${k}=${e.labels[k]}`).join(',');
  const attrs = e.attrs ? Object.keys(e.attrs).sort().map((k) => `${k}=${e.attrs![k]}`).join(',') : '';
  return `${e.tenant}|${labels}|${e.ts}|${attrs}|${e.line}`;
}

describe('ingest > push', () => {
  let ing: IngestUnderTest;
  const expected: string[] = [];
  let stored: StoredEntry[] = [];

  beforeAll(async () => {
    ing = await startIngest({ ingest: { bodyLimitBytes: 2 * 1024 * 1024, decompressedLimitBytes: 4 * 1024 * 1024 } });
  });

  afterAll(async () => {
    await ing.service.stop();
  });

  const jsonBody = (run: string) => ({
    streams: [
      {
        labels: { app: 'api', run },
        entries: LINES.map((line, i) => ({ ts: `${BASE_ISO}.12345678${i}Z`, line, attrs: { trace_id: `ab${i}`, 'k.ey': 'v' } })),
      },
      { labels: { app: 'web', run }, entries: [{ ts: String(Date.now() * 1_000_000 + 7), line: 'ns string ts' }] },
    ],
  });

  function expectJson(run: string, tenant: string): void {
    LINES.forEach((line, i) =>
      expected.push(fingerprint({ tenant, labels: { app: 'api', run }, ts: BASE_NS + 123456780n + BigInt(i), line, attrs: { trace_id: `ab${i}`, 'k.ey': 'v' } })),
    );
  }

  it.each([
    ['identity', (b: Buffer) => b, {}],
    ['gzip', (b: Buffer) => gzipSync(b), { 'Content-Encoding': 'gzip' }],
    ['zstd', (b: Buffer) => zstdCompress(b), { 'Content-Encoding': 'zstd' }],
  ])('accepts application/json with %s encoding and answers with a token', async (name, encode, headers) => {
    const body = jsonBody(`json-${name}`);
    const res = await post(ing.url, '/api/v1/push', encode(Buffer.from(JSON.stringify(body))), {
      'Content-Type': 'application/json',
      'X-Scope-OrgID': 'tenant-a',
      ...headers,
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ accepted: LINES.length + 1, rejected: [] });
    expect(decodeWriteToken(res.json.token as string).size).toBeGreaterThan(0);
    expectJson(`json-${name}`, 'tenant-a');
    const ts = BigInt(body.streams[1]!.entries[0]!.ts);
    expected.push(fingerprint({ tenant: 'tenant-a', labels: { app: 'web', run: `json-${name}` }, ts, line: 'ns string ts' }));
  });

  it('accepts application/x-ndjson, one entry a line, with attributes', async () => {
    const lines = LINES.map((line, i) => JSON.stringify({ labels: { app: 'nd', n: String(i % 2) }, ts: (BASE_NS + 123456789n).toString(), line, attrs: { i: String(i) } }));
    const res = await post(ing.url, '/api/v1/push', lines.join('\n') + '\n', { 'Content-Type': 'application/x-ndjson' });
    expect(res.status).toBe(200);
    expect(res.json.accepted).toBe(LINES.length);
    LINES.forEach((line, i) =>
      expected.push(fingerprint({ tenant: 'default', labels: { app: 'nd', n: String(i % 2) }, ts: BASE_NS + 123456789n, line, attrs: { i: String(i) } })),
    );
  });

  it('accepts text/plain with labels from the query string, stamped with the receive time', async () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const text = ['plain one', '', 'plain ünï', BIG_LINE].join('\n');
    const labels = encodeURIComponent('{app="plain",host="h1"}');
    const res = await post(ing.url, `/api/v1/push?labels=${labels}`, gzipSync(text), { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Encoding': 'gzip', 'X-Scope-OrgID': 'tenant-b' });
    expect(res.status).toBe(200);
    expect(res.json.accepted).toBe(4);
    stored = await readTopic(testBrokers(), ing.config.kafka.logsTopic);
    const plain = stored.filter((e) => e.labels.app === 'plain');
    expect(plain.map((e) => e.line)).toEqual(['plain one', '', 'plain ünï', BIG_LINE]);
    for (const e of plain) {
      expect(e.tenant).toBe('tenant-b');
      expect(e.labels).toEqual({ app: 'plain', host: 'h1' });
      expect(e.ts).toBeGreaterThanOrEqual(before);
      expect(e.ts).toBeLessThanOrEqual(BigInt(Date.now()) * 1_000_000n + 1_000_000n);
    }
  });

  it('stores exactly the valid entries of a mixed push and names each invalid one', async () => {
    const body = {
      streams: [
        {
          labels: { app: 'mixed' },
          entries: [
            { ts: `${BASE_ISO.slice(0, 17)}01Z`, line: 'good 0' },
            { ts: 'yesterday-ish', line: 'bad ts' },
            { ts: `${BASE_ISO.slice(0, 17)}02Z`, line: 42 },
            { ts: `${BASE_ISO.slice(0, 17)}03Z`, line: 'x'.repeat(256 * 1024 + 1) },
            { ts: `${BASE_ISO.slice(0, 17)}04Z`, line: 'lone \ud800 surrogate' },
            { ts: `${BASE_ISO.slice(0, 17)}05Z`, line: 'good 5' },
            { ts: '2000-01-01T00:00:00Z', line: 'too old' },
          ],
        },
        { labels: { 'bad-name': 'x' }, entries: [{ line: 'bad labels' }] },
        { labels: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`l${i}`, 'v'])), entries: [{ line: 'too many labels' }] },
      ],
    };
    const res = await post(ing.url, '/api/v1/push', JSON.stringify(body), { 'Content-Type': 'application/json' });
    expect(res.status).toBe(400);
    expect(res.json.accepted).toBe(2);
    const rejected = res.json.rejected as { stream: number; entry: number; code: string; reason: string }[];
    expect(rejected.map((r) => [r.stream, r.entry, r.code])).toEqual([
      [0, 1, 'SILT_BAD_TIMESTAMP'],
      [0, 2, 'SILT_BAD_ENTRY'],
      [0, 3, 'SILT_LINE_TOO_LONG'],
      [0, 4, 'SILT_INVALID_UTF8'],
      [0, 6, 'SILT_TOO_OLD'],
      [1, 0, 'SILT_BAD_LABELS'],
      [2, 0, 'SILT_BAD_LABELS'],
    ]);
    for (const r of rejected) expect(r.reason.length).toBeGreaterThan(5);
    for (const [i, line] of [[1, 'good 0'], [5, 'good 5']] as const) {
      expected.push(fingerprint({ tenant: 'default', labels: { app: 'mixed' }, ts: BASE_NS + BigInt(i) * 1_000_000_000n, line }));
    }
  });

  it.each([
    ['malformed JSON', '{"streams":[{', { 'Content-Type': 'application/json' }, 400, 'SILT_MALFORMED_JSON'],
    ['a wrong shape', '{"streams":{}}', { 'Content-Type': 'application/json' }, 400, 'SILT_BAD_PUSH_SHAPE'],
    ['an unknown content type', 'x', { 'Content-Type': 'application/xml' }, 415, 'SILT_UNSUPPORTED_CONTENT_TYPE'],
    ['an unknown encoding', '{}', { 'Content-Type': 'application/json', 'Content-Encoding': 'br' }, 415, 'SILT_UNSUPPORTED_ENCODING'],
    ['a truncated gzip body', gzipSync(JSON.stringify({ streams: [] })).subarray(0, 12), { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, 400, 'SILT_BAD_COMPRESSED_BODY'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), { 'Content-Type': 'application/json' }, 400, 'SILT_INVALID_UTF8'],
    ['a bad tenant', '{"streams":[]}', { 'Content-Type': 'application/json', 'X-Scope-OrgID': 'no spaces allowed' }, 400, 'SILT_BAD_TENANT'],
    ['text/plain without labels', 'line', { 'Content-Type': 'text/plain' }, 400, 'SILT_BAD_LABELS'],
  ])('answers %s with a JSON error and stores nothing', async (_name, body, headers, status, code) => {
    const res = await post(ing.url, '/api/v1/push', body, headers as Record<string, string>);
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ error: { code, message: expect.any(String) } });
  });

  it('refuses a gzip bomb early with 413', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const started = Date.now();
    const res = await post(ing.url, '/api/v1/push', bomb, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: { code: 'SILT_PAYLOAD_TOO_LARGE' } });
    expect(Date.now() - started).toBeLessThan(10000);
  });

  it('refuses a body announced larger than the limit with 413 before reading it', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 0x61);
    const res = await post(ing.url, '/api/v1/push', body, { 'Content-Type': 'text/plain' });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: { code: 'SILT_PAYLOAD_TOO_LARGE' } });
  });

  it('finds every accepted entry in Kafka exactly once, and nothing else', async () => {
    stored = await readTopic(testBrokers(), ing.config.kafka.logsTopic);
    const got = stored.filter((e) => e.labels.app !== 'plain').map(fingerprint).sort();
    expect(got).toEqual([...expected].sort());
  });

  it('keeps one stream in one partition, in push order', async () => {
    const byStream = new Map<string, Set<number>>();
    for (const e of stored) {
      const key = JSON.stringify([e.tenant, e.labels]);
      byStream.set(key, (byStream.get(key) ?? new Set()).add(e.partition));
    }
    for (const parts of byStream.values()) expect(parts.size).toBe(1);
    const api = stored.filter((e) => e.labels.app === 'api' && e.labels.run === 'json-identity').map((e) => e.line);
    expect(api).toEqual(LINES);
  });

  it('counts requests, entries and rejections in /metrics', async () => {
    const res = await fetch(ing.url + '/metrics');
    const text = await res.text();
    expect(text).toMatch(/silt_ingest_requests_total\{route="\/api\/v1\/push",status="200"\} \d+/);
    expect(text).toMatch(/silt_ingest_rejections_total\{reason="SILT_LINE_TOO_LONG"\} 1/);
    expect(text).toMatch(/silt_ingest_entries_accepted_total\{tenant="tenant-a"\} 18/);
    expect(text).toMatch(/silt_ingest_block_compressed_bytes_total \d+/);
    expect(text).toMatch(/silt_ingest_produce_latency_seconds_bucket/);
    expect((await fetch(ing.url + '/healthz')).status).toBe(200);
    expect((await fetch(ing.url + '/readyz')).status).toBe(200);
  });
});

describe('ingest > push > many rejections', () => {
  let ing: IngestUnderTest;
  beforeAll(async () => {
    ing = await startIngest();
  });
  afterAll(async () => {
    await ing.service.stop();
  });

  it('lists the first 1,000 rejections and counts them all', async () => {
    const entries = Array.from({ length: 5000 }, () => ({ line: 7 }));
    const res = await post(ing.url, '/api/v1/push', JSON.stringify({ streams: [{ labels: { app: 'x' }, entries }] }), { 'Content-Type': 'application/json' });
    expect(res.status).toBe(400);
    expect(res.json.accepted).toBe(0);
    expect(res.json.rejected).toHaveLength(1000);
    expect(res.json.rejectedTotal).toBe(5000);
  });
});
