import { ConfigResourceTypes, Kafka, logLevel, type Admin } from 'kafkajs';
import { loadConfig } from '../../core/src/config';
import { ensureTopics } from '../../core/src/kafka';
import { build } from '../../ingest/src';
import { createLogger } from '../../core/src/logger';
import { testBrokers, uniqueName } from '../support/kafka';

describe('core > kafka > topic admin', () => {
  let admin: Admin;

  beforeAll(async () => {
    admin = new Kafka({ clientId: 'topic-admin-test', brokers: testBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin.disconnect();
  });

  const configWith = (partitions: number, logsTopic = uniqueName('silt.logs'), nodesTopic = uniqueName('silt.nodes')) =>
    loadConfig({ overrides: { logLevel: 'silent', kafka: { brokers: testBrokers(), partitions, logsTopic, nodesTopic } } });

  it('creates the logs topic with P partitions and the nodes topic compacted, and is idempotent', async () => {
    const config = configWith(3);
    await ensureTopics(admin, config.kafka);
    await ensureTopics(admin, config.kafka);
    const meta = await admin.fetchTopicMetadata({ topics: [config.kafka.logsTopic, config.kafka.nodesTopic] });
    expect(meta.topics.find((t) => t.name === config.kafka.logsTopic)!.partitions).toHaveLength(3);
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: config.kafka.nodesTopic, configNames: ['cleanup.policy'] }],
    });
    expect(described.resources[0]!.configEntries[0]!.configValue).toBe('compact');
  });

  it('refuses to go on when an existing topic has another partition count, naming both counts', async () => {
    const first = configWith(2);
    await ensureTopics(admin, first.kafka);
    const second = configWith(4, first.kafka.logsTopic, first.kafka.nodesTopic);
    await expect(ensureTopics(admin, second.kafka)).rejects.toMatchObject({ code: 'SILT_TOPIC_MISMATCH', message: expect.stringMatching(/2 partitions.*says 4/) });

    const ingest = build(loadConfig({ overrides: { ...second, ingest: { host: '127.0.0.1', port: 0 } } }), { logger: createLogger('silent') });
    await expect(ingest.start()).rejects.toMatchObject({ code: 'SILT_TOPIC_MISMATCH' });
    await ingest.stop();
  });
});
