import fs from 'node:fs';
import { SHARED_KAFKA_KEY, type SharedKafka } from './global-setup';

/** Jest globalTeardown: stops the broker global-setup started and removes its data. */
export default async function globalTeardown(): Promise<void> {
  const shared = (globalThis as Record<string, unknown>)[SHARED_KAFKA_KEY] as SharedKafka | undefined;
  if (!shared) return;
  delete (globalThis as Record<string, unknown>)[SHARED_KAFKA_KEY];
  delete process.env.SILT_KAFKA_BROKERS;
  try {
    await shared.handle.stop();
  } finally {
    fs.rmSync(shared.tempDir, { recursive: true, force: true });
  }
}
