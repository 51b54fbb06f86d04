import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureKafkaJars, startBroker, type BrokerHandle } from '../../infra/src/kafka-broker';

/** What global-setup leaves for global-teardown (both run in jest's main process). */
export interface SharedKafka {
  handle: BrokerHandle;
  tempDir: string;
}

/** The globalThis slot through which global-teardown finds the broker global-setup started. */
export const SHARED_KAFKA_KEY = '__siltSharedKafka';

/** Jest globalSetup: uses SILT_KAFKA_BROKERS if set, else starts one broker for all integration tests. */
export default async function globalSetup(): Promise<void> {
  if (process.env.SILT_KAFKA_BROKERS) return;
  const say = (msg: string): void => void process.stderr.write(`[kafka] ${msg}\n`);
  await ensureKafkaJars({ log: say });
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-test-kafka-'));
  try {
    const handle = await startBroker({ dataDir: tempDir, log: process.env.SILT_KAFKA_LOG ? say : undefined });
    (globalThis as Record<string, unknown>)[SHARED_KAFKA_KEY] = { handle, tempDir } satisfies SharedKafka;
    // Workers are forked after globalSetup and inherit this.
    process.env.SILT_KAFKA_BROKERS = handle.brokers.join(',');
  } catch (err) {
    fs.rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
}
