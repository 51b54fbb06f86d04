/** The Kafka side of ingest: an idempotent producer with acks=all that sends ready-made blocks. */
import { CompressionTypes, type Kafka, type Producer } from 'kafkajs';
import { UnavailableError } from '../../core/src/errors';
import type { BlockSender, OutgoingBlock } from './batcher';

/** A block producer: the narrow interface the batcher sends through. */
export interface BlockProducer extends BlockSender {
  connect(): Promise<void>;
  close(): Promise<void>;
}

/** Creates the producer for `topic`; values are already zstd blocks, so Kafka compression stays off. */
export function createBlockProducer(kafka: Kafka, topic: string, timeoutMs: number, retryAfterSeconds: number): BlockProducer {
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 3 },
  });
  return {
    connect: () => producer.connect(),
    close: () => producer.disconnect(),
    async send(blocks: readonly OutgoingBlock[]): Promise<bigint[]> {
      const meta = await producer.send({
        topic,
        acks: -1,
        timeout: timeoutMs,
        compression: CompressionTypes.None,
        messages: blocks.map((b) => ({ partition: b.partition, value: b.value })),
      });
      // kafkajs groups messages by partition keeping their order, and reports one base offset per partition.
      const next = new Map<number, bigint>();
      for (const m of meta) next.set(m.partition, BigInt(m.baseOffset ?? '-1'));
      return blocks.map((b) => {
        const offset = next.get(b.partition);
        if (offset === undefined || offset < 0n) throw new UnavailableError(`Kafka acknowledged no offset for partition ${b.partition}`, retryAfterSeconds, { partition: b.partition }, 'SILT_KAFKA_NO_OFFSET');
        next.set(b.partition, offset + 1n);
        return offset;
      });
    },
  };
}
