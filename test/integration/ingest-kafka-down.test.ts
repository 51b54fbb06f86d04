import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBroker, type BrokerHandle } from '../../infra/src/kafka-broker';
import { post, readTopic, startIngest, type IngestUnderTest } from '../support/ingest-harness';

const ACK_TIMEOUT_MS = 2000;

function body(line: string): string {
  return JSON.stringify({ streams: [{ labels: { app: 'down' }, entries: [{ line }] }] });
}

describe('ingest > push > Kafka down', () => {
  let dataDir: string;
  let broker: BrokerHandle;
  let ing: IngestUnderTest;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-down-kafka-'));
    broker = await startBroker({ dataDir });
    ing = await startIngest({ ingest: { ackTimeoutMs: ACK_TIMEOUT_MS, retryAfterSeconds: 3 } }, broker.brokers);
  }, 120000);

  afterAll(async () => {
    await ing?.service.stop();
    await broker?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60000);

  it('answers 503 with Retry-After within the ack timeout while the broker is stopped, and recovers without a restart', async () => {
    const first = await post(ing.url, '/api/v1/push', body('before'), { 'Content-Type': 'application/json' });
    expect(first.status).toBe(200);

    await broker.kill();
    const outcomes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const res = await post(ing.url, '/api/v1/push', body(`during ${i}`), { 'Content-Type': 'application/json' });
      const took = Date.now() - started;
      outcomes.push(res.status);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('3');
      expect(res.json).toMatchObject({ error: { code: 'SILT_KAFKA_UNAVAILABLE' } });
      expect(took).toBeLessThan(ACK_TIMEOUT_MS + 1500);
    }

    broker = await startBroker({ dataDir, port: broker.port, controllerPort: broker.controllerPort });
    let status = 0;
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      const res = await post(ing.url, '/api/v1/push', body('after'), { 'Content-Type': 'application/json' });
      status = res.status;
      if (status === 200) break;
      expect(status).toBe(503);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe(200);

    const lines = (await readTopic(broker.brokers, ing.config.kafka.logsTopic)).map((e) => e.line);
    expect(lines.filter((l) => l === 'before')).toHaveLength(1);
    expect(lines.filter((l) => l === 'after')).toHaveLength(1);
  }, 180000);
});
