/** Publishes what a process is (a storage node: what it holds; an ingest process: that it lives) on the compacted `silt.nodes` topic, on every change and every few seconds. */
import type { Kafka, Producer } from 'kafkajs';
import type { Logger } from './logger';

/** Sends a process's announcements under `key`; `snapshot` is read at each send so it is always current. */
export class Announcer {
  private readonly producer: Producer;
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    kafka: Kafka,
    private readonly topic: string,
    private readonly key: string,
    private readonly intervalMs: number,
    private readonly snapshot: () => unknown,
    private readonly logger: Logger,
  ) {
    this.producer = kafka.producer({ allowAutoTopicCreation: false });
  }

  /** Connects, announces once, and keeps announcing every interval. */
  async start(): Promise<void> {
    await this.producer.connect();
    await this.announce();
    this.timer = setInterval(() => void this.announce(), this.intervalMs);
  }

  /** Announces now (sends are serialized so records never go out of order). */
  announce(): Promise<void> {
    this.sending = this.sending.then(() =>
      this.producer
        .send({ topic: this.topic, acks: -1, messages: [{ key: this.key, value: JSON.stringify(this.snapshot()) }] })
        .then(
          () => undefined,
          (err: unknown) => this.logger.warn('announcement failed', { err: String(err) }),
        ),
    );
    return this.sending;
  }

  /** Stops announcing and leaves a tombstone, so readers drop this process at once. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sending;
    await this.producer
      .send({ topic: this.topic, acks: -1, messages: [{ key: this.key, value: null }] })
      .catch((err: unknown) => this.logger.warn('tombstone failed', { err: String(err) }));
    await this.producer.disconnect();
  }
}
