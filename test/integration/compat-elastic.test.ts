import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Client, errors } from '@elastic/elasticsearch';
import { startBroker, type BrokerHandle } from '../../infra/src/kafka-broker';
import { CompatCluster } from '../support/compat-cluster';
import { startIngest, type IngestUnderTest } from '../support/ingest-harness';
import type { QueryEntry } from '../support/query-client';

const DOCS = 1000;

function numbered(prefix: string, i: number): string {
  return `${prefix} ${String(i).padStart(4, '0')}`;
}

/** Asserts that `entries` hold `<prefix> 0000` … `<prefix> 0999` (but `except`) exactly once each, whatever their order. */
function expectEveryLineOnce(entries: QueryEntry[], prefix: string, except: number[] = []): void {
  const want = Array.from({ length: DOCS }, (_, i) => i)
    .filter((i) => !except.includes(i))
    .map((i) => numbered(prefix, i));
  expect(entries.map((e) => e.line).sort()).toEqual(want);
}

async function bulk(url: string, urlPath: string, body: string | Buffer, headers: Record<string, string>) {
  const res = await fetch(url + urlPath, { method: 'POST', body, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

function ndjson(lines: object[]): string {
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

describe('ingest > elastic bulk > real clients', () => {
  const tenant = 'es-t';
  let cluster: CompatCluster;
  let client: Client;

  beforeAll(async () => {
    cluster = await CompatCluster.start();
    client = new Client({ node: cluster.ingestUrl, headers: { 'X-Scope-OrgID': tenant } });
  }, 180000);

  afterAll(async () => {
    await client?.close();
    await cluster?.close();
  }, 60000);

  it('@elastic/elasticsearch 9: info() and ping() see an 8.x node that names itself Elasticsearch', async () => {
    const info = await client.info();
    expect(info.version.number).toBe('8.19.0');
    expect(info.version.build_flavor).toBe('default');
    expect(info.tagline).toBe('You Know, for Search');
    expect(await client.ping()).toBe(true);
    const raw = await fetch(cluster.ingestUrl + '/');
    expect(raw.headers.get('x-elastic-product')).toBe('Elasticsearch');
  });

  it('answers GET /_license with an active licence, as Logstash and Beats check at connect', async () => {
    const res = await fetch(cluster.ingestUrl + '/_license');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-elastic-product')).toBe('Elasticsearch');
    expect(((await res.json()) as { license: { status: string; type: string } }).license).toMatchObject({ status: 'active', type: 'basic' });
  });

  it('the bulk helper stores 1,000 documents: every line once, with the index, mapped stream labels and flattened attrs', async () => {
    const now = Date.now();
    const docs = Array.from({ length: DOCS }, (_, i) => ({
      '@timestamp': new Date(now - 60_000 + i).toISOString(),
      message: numbered('helper', i),
      host: { name: `host-${i % 2}` },
      service: { name: 'checkout' },
      'log.level': i % 10 === 0 ? 'warn' : 'info',
      user: { id: i, roles: ['a', 'b'] },
    }));
    const stats = await client.helpers.bulk({ datasource: docs, onDocument: () => ({ create: { _index: 'helper-idx' } }), flushBytes: 40_000 });
    expect([stats.total, stats.successful, stats.failed, stats.retry]).toEqual([DOCS, DOCS, 0, 0]);

    const entries = await cluster.waitForEntries('{index="helper-idx"}', DOCS, tenant);
    expectEveryLineOnce(entries, 'helper');
    const first = entries.find((e) => e.line === numbered('helper', 10))!;
    expect(first.labels).toEqual({ index: 'helper-idx', host_name: 'host-0', service_name: 'checkout', log_level: 'warn' });
    expect(first.attrs).toEqual({ 'user.id': '10', 'user.roles': '["a","b"]' });
    expect(BigInt(first.ts)).toBe(BigInt(now - 60_000 + 10) * 1_000_000n);
    expect(new Set(entries.map((e) => `${e.labels.host_name}/${e.labels.log_level}`))).toEqual(new Set(['host-0/warn', 'host-0/info', 'host-1/info']));
    // Another tenant sees none of it.
    expect(await cluster.readAll('{index="helper-idx"}', 'someone-else')).toEqual([]);
  });

  it('client.bulk({ index }) posts to /{index}/_bulk: 1,000 documents, one 201 item each, in order', async () => {
    const operations = Array.from({ length: DOCS }, (_, i) => [{ index: i % 100 === 0 ? { _id: `doc-${i}` } : {} }, { msg: numbered('client', i), service: { name: 'billing' }, attempt: i % 3 }]).flat();
    const res = await client.bulk({ index: 'idx', operations });
    expect(res.errors).toBe(false);
    expect(res.items).toHaveLength(DOCS);
    expect(res.items.every((item) => item.index?.status === 201 && item.index._index === 'idx')).toBe(true);
    expect(res.items[100]!.index!._id).toBe('doc-100');
    expect(new Set(res.items.map((item) => item.index!._id)).size).toBe(DOCS);

    const entries = await cluster.waitForEntries('{index="idx"}', DOCS, tenant);
    expectEveryLineOnce(entries, 'client');
    expect(entries.find((e) => e.line === numbered('client', 5))).toMatchObject({ labels: { index: 'idx', service_name: 'billing' }, attrs: { attempt: '2' } });
  });

  it('client.bulk with one bad document in the middle (tenant header set twice): errors:true, exactly that item failed, the rest stored', async () => {
    const bad = 437;
    const operations = Array.from({ length: DOCS }, (_, i) => [
      { create: { _index: 'partial' } },
      { message: numbered('partial', i), '@timestamp': i === bad ? 'not a date' : new Date().toISOString() },
    ]).flat();
    // The tenant set on the request as well as on the client: the header may then arrive as "t, t".
    const res = await client.bulk({ operations }, { headers: { 'X-Scope-OrgID': tenant } });
    expect(res.errors).toBe(true);
    const failed = res.items.flatMap((item, i) => (item.create!.status === 201 ? [] : [i]));
    expect(failed).toEqual([bad]);
    expect(res.items[bad]!.create).toMatchObject({ status: 400, error: { type: 'document_parsing_exception', reason: expect.stringMatching(/^SILT_BAD_TIMESTAMP: /) } });

    const entries = await cluster.waitForEntries('{index="partial"}', DOCS - 1, tenant);
    expectEveryLineOnce(entries, 'partial', [bad]);
  });

  it('raw bulk: a broken line in the middle fails its item alone; delete is refused; a repeated X-Scope-OrgID counts once', async () => {
    const body = [
      '{"create":{"_index":"raw"}}',
      '{"message":"raw one"}',
      '{"create":{"_index":"raw"}}',
      '{"message": "raw broken',
      '{"delete":{"_index":"raw","_id":"x"}}',
      '{"create":{"_index":"raw"}}',
      '{"message":"raw two"}',
    ].join('\n');
    const res = await bulk(cluster.ingestUrl, '/_bulk', body + '\n', { 'Content-Type': 'application/x-ndjson', 'X-Scope-OrgID': 'raw-t, raw-t' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-elastic-product')).toBe('Elasticsearch');
    const items = res.json!.items as Record<string, { status: number; error?: { type: string } }>[];
    expect(items.map((item) => Object.entries(item).map(([action, r]) => `${action}:${r.status}:${r.error?.type ?? ''}`)[0])).toEqual([
      'create:201:',
      'create:400:document_parsing_exception',
      'delete:400:illegal_argument_exception',
      'create:201:',
    ]);
    const entries = await cluster.waitForEntries('{index="raw"}', 2, 'raw-t');
    expect(entries.map((e) => e.line).sort()).toEqual(['raw one', 'raw two']);
  });

  it("answers Logstash's filter_path=errors,items.*.error,items.*.status with only those fields, and Filebeat's per-action form alike", async () => {
    const body = ndjson([{ create: { _index: 'filtered' } }, { message: 'filtered one' }, { delete: { _index: 'filtered', _id: 'x' } }, { create: { _index: 'filtered' } }, { message: 'filtered two' }]);
    const headers = { 'Content-Type': 'application/x-ndjson', 'X-Scope-OrgID': 'filter-t' };
    const logstash = await bulk(cluster.ingestUrl, '/_bulk?filter_path=errors,items.*.error,items.*.status', body, headers);
    expect(logstash.status).toBe(200);
    expect(logstash.json).toEqual({
      errors: true,
      items: [{ create: { status: 201 } }, { delete: { status: 400, error: { type: 'illegal_argument_exception', reason: expect.stringMatching(/^SILT_UNSUPPORTED_ACTION: /) } } }, { create: { status: 201 } }],
    });
    const filebeat = await bulk(cluster.ingestUrl, '/filtered/_bulk?filter_path=errors,items.index.status,items.index.error,items.create.status,items.create.error', body, headers);
    expect(filebeat.json).toEqual({ errors: true, items: [{ create: { status: 201 } }, { create: { status: 201 } }] });
    const entries = await cluster.waitForEntries('{index="filtered"}', 4, 'filter-t');
    expect(entries.map((e) => e.line).sort()).toEqual(['filtered one', 'filtered one', 'filtered two', 'filtered two']);
  });

  it('gzip bodies are taken, raw and from the client; a wrong content type is refused with 406 as Elasticsearch does', async () => {
    const body = gzipSync(ndjson([{ index: {} }, { message: 'gzipped' }]));
    const ok = await bulk(cluster.ingestUrl, '/gz/_bulk', body, {
      'Content-Type': 'application/vnd.elasticsearch+x-ndjson; compatible-with=9',
      'Content-Encoding': 'gzip',
      'X-Scope-OrgID': tenant,
    });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ errors: false, items: [{ index: { _index: 'gz', status: 201 } }] });
    expect((await cluster.waitForEntries('{index="gz"}', 1, tenant)).map((e) => e.line)).toEqual(['gzipped']);

    // The official client compresses its bodies with `compression: true`.
    const zipping = new Client({ node: cluster.ingestUrl, headers: { 'X-Scope-OrgID': tenant }, compression: true });
    try {
      const res = await zipping.bulk({ index: 'gz', operations: [{ create: {} }, { message: 'gzipped by the client' }] });
      expect(res.errors).toBe(false);
    } finally {
      await zipping.close();
    }
    expect((await cluster.waitForEntries('{index="gz"}', 2, tenant)).map((e) => e.line).sort()).toEqual(['gzipped', 'gzipped by the client']);

    const wrong = await bulk(cluster.ingestUrl, '/_bulk', ndjson([{ index: { _index: 'x' } }, { message: 'm' }]), { 'Content-Type': 'text/plain', 'X-Scope-OrgID': tenant });
    expect(wrong.status).toBe(406);
    expect(wrong.json).toEqual({ error: 'Content-Type header [text/plain] is not supported', status: 406 });

    const corrupt = await bulk(cluster.ingestUrl, '/_bulk', Buffer.from('not gzip at all'), { 'Content-Type': 'application/x-ndjson', 'Content-Encoding': 'gzip' });
    expect(corrupt.status).toBe(400);
    expect(corrupt.json).toMatchObject({ error: { type: 'parse_exception', root_cause: [{ type: 'parse_exception' }] }, status: 400 });
  });

  it('the official client surfaces an Elasticsearch-shaped request error', async () => {
    const err = await client.transport.request({ method: 'POST', path: '/_bulk', body: '\n\n', querystring: {} }, { headers: { 'content-type': 'application/x-ndjson' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(errors.ResponseError);
    expect((err as errors.ResponseError).statusCode).toBe(400);
    expect((err as errors.ResponseError).body).toEqual({
      error: {
        root_cause: [{ type: 'action_request_validation_exception', reason: 'SILT_EMPTY_BULK: Validation Failed: 1: no requests added;' }],
        type: 'action_request_validation_exception',
        reason: 'SILT_EMPTY_BULK: Validation Failed: 1: no requests added;',
      },
      status: 400,
    });
  });
});

describe('ingest > elastic bulk > limits and Kafka down', () => {
  let dataDir: string;
  let broker: BrokerHandle;
  let ing: IngestUnderTest;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-es-down-'));
    broker = await startBroker({ dataDir });
    ing = await startIngest({ ingest: { ackTimeoutMs: 2000, retryAfterSeconds: 3, bodyLimitBytes: 64 * 1024, decompressedLimitBytes: 256 * 1024 } }, broker.brokers);
  }, 120000);

  afterAll(async () => {
    await ing?.service.stop();
    await broker?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60000);

  it('answers 413 in the Elasticsearch error shape for a body over the limit, as sent or once decompressed', async () => {
    const big = ndjson(Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? { create: { _index: 'big' } } : { message: 'x'.repeat(200) })));
    for (const [body, headers] of [
      [big, {}],
      [gzipSync(big + big), { 'Content-Encoding': 'gzip' }],
    ] as const) {
      const res = await bulk(ing.url, '/_bulk', body, { 'Content-Type': 'application/x-ndjson', ...headers });
      expect(res.status).toBe(413);
      expect(res.headers.get('x-elastic-product')).toBe('Elasticsearch');
      expect(res.json).toMatchObject({ error: { type: 'content_too_long_exception', reason: expect.stringMatching(/^SILT_PAYLOAD_TOO_LARGE: /) }, status: 413 });
    }
  });

  it('answers 503 with Retry-After and an Elasticsearch error while the broker is stopped', async () => {
    const body = ndjson([{ create: { _index: 'down' } }, { message: 'm' }]);
    const headers = { 'Content-Type': 'application/x-ndjson' };
    expect((await bulk(ing.url, '/_bulk', body, headers)).status).toBe(200);

    await broker.kill();
    const res = await bulk(ing.url, '/_bulk', body, headers);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(res.json).toMatchObject({
      error: { type: 'unavailable_shards_exception', reason: expect.stringMatching(/^SILT_KAFKA_UNAVAILABLE: /), root_cause: [{ type: 'unavailable_shards_exception' }] },
      status: 503,
    });
  }, 120000);
});
