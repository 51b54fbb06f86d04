/** The data topic's retention follows `kafka.logsRetentionMs`: set at creation, and brought to it on an existing topic (core/src/kafka.ts). */
import { ConfigResourceTypes, Kafka, logLevel, type Admin } from 'kafkajs';
import { loadConfig } from '../../core/src/config';
import { alignLogsRetention, ensureTopics } from '../../core/src/kafka';
import { testBrokers, uniqueName } from '../support/kafka';

describe('core > kafka > logs topic retention', () => {
  let admin: Admin;

  beforeAll(async () => {
    admin = new Kafka({ clientId: 'logs-retention-test', brokers: testBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin.disconnect();
  });

  const configWith = (logsRetentionMs: number | undefined, logsTopic = uniqueName('silt.logs')) =>
    loadConfig({ overrides: { logLevel: 'silent', kafka: { brokers: testBrokers(), partitions: 1, logsTopic, nodesTopic: uniqueName('silt.nodes'), ...(logsRetentionMs ? { logsRetentionMs } : {}) } } });

  async function topicConfig(topic: string): Promise<Record<string, string>> {
    const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] });
    return Object.fromEntries(described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
  }

  it('creates the logs topic with a 24-hour window by default, rolling Kafka log segments every eighth of it', async () => {
    const config = configWith(undefined);
    expect(config.kafka.logsRetentionMs).toBe(24 * 3600 * 1000);
    await ensureTopics(admin, config.kafka);
    expect(await topicConfig(config.kafka.logsTopic)).toMatchObject({ 'retention.ms': '86400000', 'segment.ms': '10800000', 'max.message.bytes': '33554432' });
    expect(await alignLogsRetention(admin, config.kafka)).toEqual([]);
  });

  it('brings an existing topic with another retention to the configured one, keeping its other settings', async () => {
    const old = configWith(14 * 24 * 3600 * 1000);
    await ensureTopics(admin, old.kafka);
    const now = configWith(2 * 3600 * 1000, old.kafka.logsTopic);
    await ensureTopics(admin, now.kafka);
    expect((await topicConfig(now.kafka.logsTopic))['retention.ms']).toBe(String(14 * 24 * 3600 * 1000));
    expect(await alignLogsRetention(admin, now.kafka)).toEqual([
      { name: 'retention.ms', from: String(14 * 24 * 3600 * 1000), to: '7200000' },
      { name: 'segment.ms', from: String(42 * 3600 * 1000), to: '900000' },
    ]);
    expect(await topicConfig(now.kafka.logsTopic)).toMatchObject({ 'retention.ms': '7200000', 'segment.ms': '900000', 'max.message.bytes': '33554432' });
    expect(await alignLogsRetention(admin, now.kafka)).toEqual([]);
  });

  it('refuses a window under one hour', () => {
    expect(() => configWith(3599_999)).toThrow(expect.objectContaining({ code: 'SILT_CONFIG_INVALID', message: expect.stringMatching(/kafka\.logsRetentionMs/) }));
  });
});
