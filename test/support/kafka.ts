import { randomBytes } from 'node:crypto';

let counter = 0;

/** The bootstrap brokers of the shared test Kafka cluster (set by the integration globalSetup). */
export function testBrokers(): string[] {
  const value = process.env.SILT_KAFKA_BROKERS;
  if (!value) throw new Error('SILT_KAFKA_BROKERS is not set: run this test in the jest "integration" project, whose globalSetup starts a broker');
  return value.split(',').map((b) => b.trim()).filter(Boolean);
}

/** A topic or group name unique across tests, workers and runs on one shared broker. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}-${randomBytes(3).toString('hex')}`;
}
