/** The Kafka client factory and topic admin shared by every service. */
import { Kafka, logLevel as KafkaLogLevel, type Admin, type ITopicConfig, type LogEntry } from 'kafkajs';
import type { KafkaConfig } from './config';
import { ConfigError, TopicMismatchError } from './errors';
import type { Logger } from './logger';

/** Creates a kafkajs client whose own log lines go through Silt's logger. */
export function createKafka(config: KafkaConfig, clientId: string, logger: Logger): Kafka {
  if (config.brokers.length === 0) throw new ConfigError('kafka.brokers: no Kafka broker configured (set SILT_KAFKA_BROKERS)', { key: 'kafka.brokers' });
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers: config.brokers,
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    // kafkajs logs every reconnect attempt at ERROR; they are expected while a broker restarts.
    logLevel: KafkaLogLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        if (level <= KafkaLogLevel.ERROR) log.warn(message, rest);
        else log.debug(message, rest);
      },
    retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 5 },
  });
}

/** The topic configs Silt creates: the data topic and the compacted node directory. */
export function topicSpecs(config: KafkaConfig): ITopicConfig[] {
  return [
    {
      topic: config.logsTopic,
      numPartitions: config.partitions,
      replicationFactor: config.replicationFactor,
      configEntries: [
        { name: 'retention.ms', value: String(config.logsRetentionMs) },
        { name: 'max.message.bytes', value: String(32 * 1024 * 1024) },
        { name: 'min.insync.replicas', value: String(Math.min(2, config.replicationFactor)) },
      ],
    },
    {
      topic: config.nodesTopic,
      numPartitions: 1,
      replicationFactor: config.replicationFactor,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'min.compaction.lag.ms', value: '0' },
        { name: 'segment.ms', value: String(3600 * 1000) },
      ],
    },
  ];
}

/**
 * Creates Silt's topics when missing and refuses to go on when an existing topic has another
 * partition count than configured (re-partitioning would move streams between partitions).
 */
export async function ensureTopics(admin: Admin, config: KafkaConfig): Promise<void> {
  const specs = topicSpecs(config);
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length > 0) {
    // kafkajs answers `false` rather than throwing when another process created them first.
    await admin.createTopics({ topics: missing, waitForLeaders: true });
  }
  const meta = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
  for (const spec of specs) {
    const found = meta.topics.find((t) => t.name === spec.topic);
    const count = found?.partitions.length ?? 0;
    if (count !== spec.numPartitions) {
      throw new TopicMismatchError(
        `topic ${spec.topic} has ${count} partitions but the configuration says ${spec.numPartitions}; ` +
          `set kafka.partitions (SILT_PARTITIONS) to ${count} or use another topic name`,
        { topic: spec.topic, actual: count, configured: spec.numPartitions },
      );
    }
  }
}
