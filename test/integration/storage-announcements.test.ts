import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { parseAnnouncement, type NodeAnnouncement } from '../../core/src/announcement';
import { loadConfig } from '../../core/src/config';
import { createLogger } from '../../core/src/logger';
import { build, type StorageNode } from '../../storage-node/src';
import { post, readTopic, startIngest, type IngestUnderTest } from '../support/ingest-harness';
import { testBrokers, uniqueName } from '../support/kafka';
import { waitFor } from '../support/processes';

describe('storage node > announcements', () => {
  const brokers = testBrokers();
  const logsTopic = uniqueName('silt.logs');
  const nodesTopic = uniqueName('silt.nodes');
  const groupPrefix = uniqueName('silt-replica') + '-';
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-announce-'));
  const latest = new Map<string, NodeAnnouncement | null>();
  let reader: Consumer;
  const nodes: StorageNode[] = [];
  let ingest: IngestUnderTest;

  const node = (id: string): StorageNode =>
    build(
      loadConfig({
        overrides: {
          dataDir,
          logLevel: 'silent',
          kafka: { brokers, logsTopic, nodesTopic, partitions: 4 },
          storage: { host: '127.0.0.1', port: 0, nodeId: id, replicaGroup: 0, groupPrefix, announceIntervalMs: 1000, sessionTimeoutMs: 6000 },
        },
      }),
      { logger: createLogger('silent') },
    );

  const owned = (id: string): number[] => (latest.get(id)?.partitions ?? []).map((p) => p.partition).sort((a, b) => a - b);

  beforeAll(async () => {
    const a = node('node-a');
    nodes.push(a);
    await a.start();
    reader = new Kafka({ clientId: 'announce-reader', brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 100 });
    await reader.connect();
    await reader.subscribe({ topic: nodesTopic, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        latest.set(message.key!.toString(), parseAnnouncement(message.value));
      },
    });
  }, 120000);

  afterAll(async () => {
    await reader?.disconnect();
    await ingest?.service.stop();
    for (const n of nodes) await n.stop().catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60000);

  it('announces its replica group, URL and every partition it owns', async () => {
    await waitFor('node-a to announce 4 partitions', () => owned('node-a').length === 4, 20000);
    const a = latest.get('node-a')!;
    expect(a.replicaGroup).toBe(0);
    expect(a.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(a.partitions[0]).toMatchObject({ appliedOffset: '0', catchingUp: false });
  });

  it('exposes per-partition applied offset and lag, apply latency, segments and bytes on disk in /metrics', async () => {
    const text = await fetch(latest.get('node-a')!.url + '/metrics').then((r) => r.text());
    for (const name of ['silt_storage_applied_offset{partition="0"}', 'silt_storage_consumer_lag{partition="3"}', 'silt_storage_apply_latency_seconds_bucket', 'silt_storage_segments', 'silt_storage_disk_bytes', 'silt_storage_entries_stored_total']) {
      expect(text).toContain(name);
    }
  });

  it('reflects a rebalance within a few seconds when a second node joins', async () => {
    // Data in every partition first, so node-a has something to release.
    ingest = await startIngest({ kafka: { logsTopic, nodesTopic, partitions: 4 } });
    const streams = Array.from({ length: 16 }, (_, i) => ({ labels: { app: `s${i}` }, entries: [{ ts: String(Date.now()), line: `line of s${i}` }] }));
    const pushed = await post(ingest.url, '/api/v1/push', JSON.stringify({ streams }), { 'content-type': 'application/json' });
    expect([pushed.status, pushed.json.accepted]).toEqual([200, 16]);
    const written = await readTopic(brokers, logsTopic);
    expect(new Set(written.map((e) => e.partition)).size).toBe(4);
    const heads = (id: string): number => (latest.get(id)?.partitions ?? []).filter((p) => p.appliedOffset !== '0').length;
    await waitFor('node-a to apply every partition', () => heads('node-a') === 4, 20000);
    const b = node('node-b');
    nodes.push(b);
    await b.start();
    const started = Date.now();
    await waitFor('both nodes to announce their share', () => owned('node-a').length === 2 && owned('node-b').length === 2, 30000);
    expect([...owned('node-a'), ...owned('node-b')].sort()).toEqual([0, 1, 2, 3]);
    expect(Date.now() - started).toBeLessThan(20000);
  }, 60000);

  it('announces the partitions it gave up as released, and still answers reads of them by name', async () => {
    await waitFor('node-a to announce what it released', () => (latest.get('node-a')?.released ?? []).length === 2, 15000);
    const a = latest.get('node-a')!;
    const released = a.released.map((p) => p.partition).sort();
    expect(released).toEqual(owned('node-b'));
    expect(a.released.every((p) => BigInt(p.appliedOffset) > 0n && !p.catchingUp)).toBe(true);
    const params = new URLSearchParams({ query: '{app=~".+"}', start: '0', end: String(BigInt(Date.now() + 60000) * 1_000_000n), partitions: released.join(','), limit: '1000' });
    const text = await fetch(`${a.url}/internal/v1/read?${params}`, { headers: { 'X-Scope-OrgID': 'default' } }).then((r) => (r.status === 200 ? r.text() : Promise.reject(new Error(String(r.status)))));
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { line?: string });
    const want = (await readTopic(brokers, logsTopic)).filter((e) => released.includes(e.partition)).map((e) => e.line).sort();
    expect(lines.filter((l) => l.line !== undefined).map((l) => l.line).sort()).toEqual(want);
    expect(want.length).toBeGreaterThan(0);
    // Read by default, a node reads only what it owns.
    const own = await fetch(`${a.url}/internal/v1/read?${new URLSearchParams({ query: '{app=~".+"}', start: '0', end: params.get('end')!, limit: '1000' })}`, { headers: { 'X-Scope-OrgID': 'default' } }).then((r) => r.text());
    expect(own.trim().split('\n').length - 2).toBe((await readTopic(brokers, logsTopic)).filter((e) => owned('node-a').includes(e.partition)).length);
  }, 30000);

  it('leaves a tombstone on clean shutdown, and the other node announces the partitions it took over', async () => {
    await nodes[1]!.stop();
    await waitFor('node-b tombstone', () => latest.has('node-b') && latest.get('node-b') === null, 15000);
    await waitFor('node-a to own all 4 partitions again', () => owned('node-a').length === 4, 30000);
  }, 60000);
});
