/** Test helpers for the ingest service: build it against the test broker on a free port, and read back what it produced. */
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig, type DeepPartial, type SiltConfig } from '../../core/src/config';
import { decodeBlock } from '../../core/src/block-format';
import type { Labels } from '../../core/src/labels';
import { build, type IngestService } from '../../ingest/src';
import { createLogger } from '../../core/src/logger';
import { testBrokers, uniqueName } from './kafka';

/** One entry as found in Kafka, with where it was. */
export interface StoredEntry {
  partition: number;
  offset: string;
  tenant: string;
  labels: Labels;
  ts: bigint;
  line: string;
  attrs?: Record<string, string>;
}

/** A running ingest service on its own topics, with its base URL. */
export interface IngestUnderTest {
  service: IngestService;
  url: string;
  config: Readonly<SiltConfig>;
}

/** Starts ingest on 127.0.0.1:0 with unique topics (or the given overrides). */
export async function startIngest(overrides: DeepPartial<SiltConfig> = {}, brokers = testBrokers()): Promise<IngestUnderTest> {
  const config = loadConfig({
    overrides: {
      ...overrides,
      logLevel: 'silent',
      kafka: { brokers, logsTopic: uniqueName('silt.logs'), nodesTopic: uniqueName('silt.nodes'), partitions: 4, ...overrides.kafka },
      ingest: { host: '127.0.0.1', port: 0, syslogEnabled: false, ...overrides.ingest },
    },
  });
  const service = build(config, { logger: createLogger('silent') });
  const url = await service.start();
  return { service, url, config };
}

/** Reads every block of `topic` up to its current end and returns the entries, in Kafka order per partition. */
export async function readTopic(brokers: string[], topic: string): Promise<StoredEntry[]> {
  const kafka = new Kafka({ clientId: 'test-reader', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
  } finally {
    await admin.disconnect();
  }
  const out: StoredEntry[] = [];
  if (ends.size === 0) return out;
  const consumer = kafka.consumer({ groupId: uniqueName('test-reader'), maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out reading ${topic}`)), 30000);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const { header, streams } = decodeBlock(message.value!);
            for (const s of streams) {
              for (const e of s.entries) out.push({ partition, offset: message.offset, tenant: header.tenant, labels: s.info.labels, ...e });
            }
            const end = ends.get(partition);
            if (end !== undefined && BigInt(message.offset) + 1n >= end) ends.delete(partition);
            if (ends.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** POSTs `body` to `url + path` and returns the status, headers and parsed JSON body. */
export async function post(
  url: string,
  path: string,
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const res = await fetch(url + path, { method: 'POST', body, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : {} };
}
