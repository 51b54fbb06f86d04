import { post, readTopic, startIngest, type IngestUnderTest } from '../support/ingest-harness';
import { OwnBroker, retryUntil } from '../support/own-broker';

const ACK_TIMEOUT_MS = 2000;

function body(line: string): string {
  return JSON.stringify({ streams: [{ labels: { app: 'down' }, entries: [{ line }] }] });
}

describe('ingest > push > Kafka down', () => {
  let broker: OwnBroker;
  let ing: IngestUnderTest;

  beforeAll(async () => {
    broker = await OwnBroker.start('down-kafka');
    ing = await startIngest({ ingest: { ackTimeoutMs: ACK_TIMEOUT_MS, retryAfterSeconds: 3 } }, broker.brokers);
  }, 120000);

  afterAll(async () => {
    await ing?.service.stop();
    await broker?.close();
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

    await broker.restart();
    await retryUntil(200, async () => (await post(ing.url, '/api/v1/push', body('after'), { 'Content-Type': 'application/json' })).status);

    const lines = (await readTopic(broker.brokers, ing.config.kafka.logsTopic)).map((e) => e.line);
    expect(lines.filter((l) => l === 'before')).toHaveLength(1);
    expect(lines.filter((l) => l === 'after')).toHaveLength(1);
  }, 180000);
});
