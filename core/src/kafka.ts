/** The Kafka client factory and topic admin shared by every service. */
import { ConfigResourceTypes, ConfigSource, Kafka, logLevel as KafkaLogLevel, type Admin, type ITopicConfig, type LogEntry } from 'kafkajs';
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
        ...logsTimeConfigs(config),
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

/** A topic config `alignLogsRetention` changed: its name, the value replaced (null: the broker's default) and the new one. */
export interface TopicConfigChange {
  name: string;
  from: string | null;
  to: string;
}

/**
 * The data topic's time-based configs, from `kafka.logsRetentionMs`: `retention.ms`, and a
 * `segment.ms` of an eighth of it (at least 10 minutes), since Kafka deletes whole log segments
 * only and its default roll (7 days) would keep a quiet partition's blocks far past the window.
 */
function logsTimeConfigs(config: KafkaConfig): { name: string; value: string }[] {
  return [
    { name: 'retention.ms', value: String(config.logsRetentionMs) },
    { name: 'segment.ms', value: String(Math.max(600_000, Math.floor(config.logsRetentionMs / 8))) },
  ];
}

/**
 * Brings an existing data topic's `retention.ms` and `segment.ms` to what `kafka.logsRetentionMs`
 * gives (a topic created by an older Silt, or before a change of the setting, keeps its own
 * otherwise: creation is the only other place they are set), keeping the topic's other overrides.
 * Returns what it changed.
 */
export async function alignLogsRetention(admin: Admin, config: KafkaConfig): Promise<TopicConfigChange[]> {
  const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: config.logsTopic }], includeSynonyms: false });
  const entries = described.resources[0]?.configEntries ?? [];
  const changes: TopicConfigChange[] = [];
  for (const want of logsTimeConfigs(config)) {
    const current = entries.find((e) => e.configName === want.name);
    if (current?.configValue === want.value) continue;
    changes.push({ name: want.name, from: current?.configSource === ConfigSource.TOPIC_CONFIG ? current.configValue : null, to: want.value });
  }
  if (changes.length === 0) return changes;
  const changed = new Set(changes.map((c) => c.name));
  // AlterConfigs replaces the whole set of a topic's overrides: the others are sent back unchanged.
  const kept = entries
    .filter((e) => e.configSource === ConfigSource.TOPIC_CONFIG && !changed.has(e.configName) && !e.isSensitive)
    .map((e) => ({ name: e.configName, value: e.configValue }));
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: config.logsTopic, configEntries: [...kept, ...changes.map((c) => ({ name: c.name, value: c.to }))] }],
  });
  return changes;
}
