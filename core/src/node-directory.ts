/** Follows the compacted `silt.nodes` topic: the live map of which storage node announced what, for the query service and for storage nodes looking for a peer. */
import { randomBytes } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { INGEST_KEY_PREFIX, parseAnnouncement, parseIngestAnnouncement, type NodeAnnouncement } from './announcement';
import type { Logger } from './logger';

/** Every node's latest announcement, fed by the announcements topic from its beginning. */
export class AnnouncedNodes {
  /** Latest announcement per node id; a tombstone removes the node. */
  protected readonly nodes = new Map<string, NodeAnnouncement>();
  /** When each ingest process last announced itself; a tombstone removes it. */
  private readonly ingest = new Map<string, number>();
  private readonly consumer: Consumer;
  /** Per topic partition, the next offset this follower will read. */
  private readonly position = new Map<number, bigint>();
  private readonly positionWaiters = new Set<() => void>();
  private stopped = false;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
    groupPrefix: string,
    protected readonly logger: Logger,
  ) {
    // Every follower reads the whole topic: a group of its own, never committed.
    this.consumer = kafka.consumer({
      groupId: `${groupPrefix}-${randomBytes(6).toString('hex')}`,
      maxWaitTimeInMs: 200,
      sessionTimeout: 10000,
      // After a crash (the broker went away) kafkajs restarts the consumer by itself; not once it is stopped.
      retry: { restartOnFailure: async () => !this.stopped },
    });
  }

  /** Starts following the topic from its beginning. */
  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        this.apply(message.key, message.value);
        this.position.set(partition, BigInt(message.offset) + 1n);
        for (const w of [...this.positionWaiters]) w();
      },
    });
  }

  /** Takes in one record of the topic: an announcement, or a tombstone for a node that left. */
  apply(key: Buffer | null, value: Buffer | null): void {
    const id = key?.toString('utf8');
    if (!id) return;
    if (id.startsWith(INGEST_KEY_PREFIX)) {
      const i = parseIngestAnnouncement(value);
      if (i === null) this.ingest.delete(id);
      else this.ingest.set(id, i.sentAt);
      return;
    }
    const a = parseAnnouncement(value);
    if (a === null) this.nodes.delete(id);
    else this.nodes.set(id, a);
  }

  /**
   * Resolves true once every announcement in the topic when called has been read, false after
   * `timeoutMs`: a node deciding that no peer holds a partition must first have heard every peer.
   */
  async caughtUp(admin: Admin, timeoutMs: number): Promise<boolean> {
    const ends = await admin.fetchTopicOffsets(this.topic);
    const done = (): boolean => ends.every((o) => (this.position.get(o.partition) ?? BigInt(o.low)) >= BigInt(o.high));
    if (done()) return true;
    return new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (!done()) return;
        finish(true);
      };
      const finish = (ok: boolean): void => {
        this.positionWaiters.delete(check);
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.positionWaiters.add(check);
    });
  }

  /** Stops following. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer.disconnect().catch((err: unknown) => this.logger.warn('directory disconnect failed', { err: String(err) }));
  }

  /** Ingest processes that announced within `freshMs` (at least 1: the caller is one). */
  liveIngest(freshMs: number): number {
    const cutoff = Date.now() - freshMs;
    let n = 0;
    for (const sentAt of this.ingest.values()) if (sentAt >= cutoff) n++;
    return Math.max(1, n);
  }

  /** Every node known and not gone (no tombstone), freshest announcement first. */
  live(): NodeAnnouncement[] {
    return [...this.nodes.values()].sort((a, b) => b.sentAt - a.sentAt);
  }
}
