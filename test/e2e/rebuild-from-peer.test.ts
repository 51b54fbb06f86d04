/**
 * Kafka as the write-ahead log, not the archive (issue 10): a storage node whose data dir is lost
 * rebuilds its partitions from the node of the other replica group, although Kafka's retention has
 * already deleted their oldest entries, then consumes the rest from Kafka — every entry exactly
 * once. Cluster: ingest in-process, one storage node process in each of 2 replica groups on 4
 * partitions, the real broker; the data topic rolls a Kafka log segment per batch so that a short
 * `retention.ms` really deletes old ones (the broker from infra/ checks retention every 10 s).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigResourceTypes, ConfigSource, Kafka, logLevel, type Admin } from 'kafkajs';
import { decodeWriteToken, encodeWriteToken, mergeWriteOffsets, type WriteOffsets } from '../../core/src/write-token';
import { post, startIngest, type IngestUnderTest } from '../support/ingest-harness';
import { waitFor } from '../support/processes';
import { StorageCluster } from '../support/storage-cluster';

const PARTITIONS = 4;
const APPS = Array.from({ length: 16 }, (_, i) => `app${i}`);
const HOUR_MS = '3600000';

/** Sets topic-level configs of `topic`, keeping its other overrides (AlterConfigs replaces the whole set). */
async function setTopicConfig(admin: Admin, topic: string, changes: Record<string, string>): Promise<void> {
  const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false });
  const entries = new Map<string, string>();
  for (const e of described.resources[0]!.configEntries) if (e.configSource === ConfigSource.TOPIC_CONFIG) entries.set(e.configName, e.configValue);
  for (const [k, v] of Object.entries(changes)) entries.set(k, v);
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [...entries].map(([name, value]) => ({ name, value })) }] });
}

/** A Prometheus counter's value in a /metrics text, summed over its label sets (those whose labels contain `labels`, if given). */
function counter(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if ((line.startsWith(name + ' ') || line.startsWith(name + '{')) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('storage node > rebuild from a peer', () => {
  const cluster = new StorageCluster(PARTITIONS, { SILT_KAFKA_LOGS_RETENTION_MS: HOUR_MS, SILT_STORAGE_MAX_SEGMENT_BYTES: '65536' });
  const token: WriteOffsets = new Map();
  let pushed = 0;
  let ingest: IngestUnderTest;
  let admin: Admin;

  /** Pushes `requests` requests of 160 numbered entries (10 per app), each line unique, timestamps increasing. */
  async function push(requests: number): Promise<void> {
    for (let r = 0; r < requests; r++) {
      const streams = APPS.map((app) => ({ labels: { app }, entries: [] as { ts: string; line: string }[] }));
      for (let k = 0; k < 160; k++, pushed++) {
        const ts = (BigInt(Date.now() - 600_000) * 1_000_000n + BigInt(pushed)).toString();
        streams[pushed % APPS.length]!.entries.push({ ts, line: `entry ${pushed} ${'payload '.repeat(pushed % 13)}` });
      }
      const res = await post(ingest.url, '/api/v1/push', JSON.stringify({ streams }), { 'Content-Type': 'application/json' });
      if (res.status !== 200) throw new Error(`push answered ${res.status}: ${JSON.stringify(res.json)}`);
      mergeWriteOffsets(token, decodeWriteToken(res.json.token as string));
    }
  }

  async function hasApplied(nodeId: string): Promise<boolean> {
    return (await cluster.readNode(nodeId, 'default', encodeWriteToken(token))) !== null;
  }

  async function logStarts(): Promise<bigint[]> {
    const offsets = await admin.fetchTopicOffsets(cluster.logsTopic);
    return Array.from({ length: PARTITIONS }, (_, p) => BigInt(offsets.find((o) => o.partition === p)!.low));
  }

  beforeAll(async () => {
    ingest = await startIngest({ kafka: { logsTopic: cluster.logsTopic, nodesTopic: cluster.nodesTopic, partitions: PARTITIONS } });
    admin = new Kafka({ clientId: 'rebuild-test', brokers: cluster.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    // One Kafka log segment per produced batch: retention can then delete all but the newest.
    await setTopicConfig(admin, cluster.logsTopic, { 'segment.bytes': '4096' });
    await Promise.all([cluster.startNode('n00', 0), cluster.startNode('n10', 1)]);
  }, 180000);

  afterAll(async () => {
    await admin?.disconnect();
    await ingest?.service.stop();
    await cluster.close();
  }, 60000);

  it('rebuilds a node whose data dir was deleted from the other replica group, past what Kafka still holds, every entry exactly once', async () => {
    await push(20);
    await waitFor('both replica groups to apply the first pushes', async () => (await hasApplied('n00')) && (await hasApplied('n10')), 120000, 500);

    // Kafka's retention deletes every log segment but the newest of each partition, at its next check.
    await setTopicConfig(admin, cluster.logsTopic, { 'retention.ms': '1000' });
    await waitFor('Kafka to delete the oldest log segments of every partition', async () => (await logStarts()).every((low) => low > 0n), 120000, 1000);
    await setTopicConfig(admin, cluster.logsTopic, { 'retention.ms': HOUR_MS });
    const lows = await logStarts();

    const n10 = cluster.nodes.get('n10')!;
    await n10.stop('SIGKILL');
    fs.rmSync(path.join(cluster.dataDir, 'storage', 'n10'), { recursive: true, force: true });
    await push(5);
    await cluster.startNode('n10', 1);
    // Pushed while it copies: applied from Kafka after the copy.
    await push(5);
    await waitFor('the rebuilt node to apply every push', () => hasApplied('n10'), 180000, 500);

    const metrics = await (await fetch(`${n10.url}/metrics`)).text();
    expect(counter(metrics, 'silt_storage_rebuild_partitions_total')).toBe(PARTITIONS);
    expect(counter(metrics, 'silt_storage_rebuild_segments_copied_total')).toBeGreaterThanOrEqual(PARTITIONS);
    expect(counter(metrics, 'silt_storage_rebuild_failures_total', 'reason="lost"')).toBe(0);
    const served = await (await fetch(`${cluster.nodes.get('n00')!.url}/metrics`)).text();
    expect(counter(served, 'silt_storage_rebuild_dumps_served_total')).toBeGreaterThanOrEqual(PARTITIONS);

    const entries = (await cluster.readNode('n10', 'default', encodeWriteToken(token)))!;
    const seen = new Map<number, number>();
    for (const e of entries) {
      const n = Number(/^entry (\d+)/.exec(e.line)![1]);
      seen.set(n, (seen.get(n) ?? 0) + 1);
    }
    const wrong = [...Array(pushed).keys()].filter((n) => seen.get(n) !== 1);
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(entries.length).toBe(pushed);
    // Some of them came from offsets Kafka no longer holds: only the peer's copy had them.
    for (let p = 0; p < PARTITIONS; p++) expect(entries.some((e) => e.p === p && BigInt(e.o) < lows[p]!)).toBe(true);
  }, 720000);
});
