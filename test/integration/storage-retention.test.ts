import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../core/src/config';
import { createLogger } from '../../core/src/logger';
import { build, type StorageNode } from '../../storage-node/src';
import { post, startIngest, type IngestUnderTest } from '../support/ingest-harness';
import { testBrokers, uniqueName } from '../support/kafka';
import { waitFor } from '../support/processes';

const HOUR_NS = 3600n * 1_000_000_000n;

describe('storage node > retention', () => {
  const brokers = testBrokers();
  const logsTopic = uniqueName('silt.logs');
  const nodesTopic = uniqueName('silt.nodes');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-retention-'));
  let ingest: IngestUnderTest;
  let node: StorageNode;
  let url: string;

  beforeAll(async () => {
    ingest = await startIngest({ kafka: { logsTopic, nodesTopic, partitions: 1 } });
    node = build(
      loadConfig({
        overrides: {
          dataDir,
          logLevel: 'silent',
          kafka: { brokers, logsTopic, nodesTopic, partitions: 1 },
          storage: {
            host: '127.0.0.1',
            port: 0,
            nodeId: 'retention',
            groupPrefix: uniqueName('silt-replica') + '-',
            retentionMs: 3600_000,
            retentionCheckMs: 200,
            // Every write rolls, so each push below lands in a segment of its own.
            maxSegmentAgeMs: 1,
          },
        },
      }),
      { logger: createLogger('silent') },
    );
    url = await node.start();
  }, 120000);

  afterAll(async () => {
    await node?.stop();
    await ingest?.service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60000);

  async function push(entries: { ts: bigint; line: string }[]): Promise<string> {
    const body = { streams: [{ labels: { app: 'ret' }, entries: entries.map((e) => ({ ts: e.ts.toString(), line: e.line })) }] };
    const res = await post(ingest.url, '/api/v1/push', JSON.stringify(body), { 'Content-Type': 'application/json' });
    expect(res.status).toBe(200);
    return res.json.token as string;
  }

  async function readAll(token: string): Promise<string[]> {
    const params = new URLSearchParams({ query: '{app="ret"}', start: '0', end: String(BigInt(Date.now() + 3600_000) * 1_000_000n), direction: 'forward', limit: '1000', token });
    const text = await fetch(`${url}/internal/v1/read?${params}`).then((r) => r.text());
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((o) => 'line' in o).map((o) => o.line);
  }

  const segments = (): string[] => fs.readdirSync(path.join(dataDir, 'storage', 'retention', 'p-0')).filter((d) => d.startsWith('seg-'));

  it('removes the segments whose newest entry is older than the retention period, and only those', async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    await readAll(await push([{ ts: now - 3n * HOUR_NS, line: 'old 1' }, { ts: now - 3n * HOUR_NS + 1n, line: 'old 2' }]));
    await readAll(await push([{ ts: now - 2n * HOUR_NS, line: 'old 3' }]));
    // One block, so one segment, holding an expired entry and a fresh one: it must stay whole.
    await readAll(await push([{ ts: now - 2n * HOUR_NS + 5n, line: 'mixed old' }, { ts: now, line: 'mixed new' }]));
    const token = await push([{ ts: now + 1n, line: 'new 1' }]);
    await waitFor('retention to remove the expired segments', async () => (await readAll(token)).length === 3, 20000);
    expect(await readAll(token)).toEqual(['mixed old', 'mixed new', 'new 1']);
    expect(segments().length).toBeGreaterThanOrEqual(2);
  }, 60000);
});
