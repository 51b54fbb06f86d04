/** Follows `silt.nodes`: the query service's live map of which storage node holds which partition. */
import { randomBytes } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { parseAnnouncement, type NodeAnnouncement, type PartitionHolding } from '../../core/src/announcement';
import type { Logger } from '../../core/src/logger';

/** A node that holds a partition, as the planner sees it. */
export interface Holder {
  node: NodeAnnouncement;
  holding: PartitionHolding;
}

/** The directory of storage nodes, fed by the compacted announcements topic. */
export class NodeDirectory {
  private readonly nodes = new Map<string, NodeAnnouncement>();
  private readonly consumer: Consumer;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
    private readonly staleMs: number,
    private readonly logger: Logger,
  ) {
    // Every query process reads the whole topic: a group of its own, never committed.
    this.consumer = kafka.consumer({ groupId: `silt-query-${randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 200, sessionTimeout: 10000 });
  }

  /** Starts following the topic from its beginning. */
  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        const id = message.key?.toString('utf8');
        if (!id) return;
        const a = parseAnnouncement(message.value);
        if (a === null) this.nodes.delete(id);
        else this.nodes.set(id, a);
      },
    });
  }

  /** Stops following. */
  async stop(): Promise<void> {
    await this.consumer.disconnect().catch((err: unknown) => this.logger.warn('directory disconnect failed', { err: String(err) }));
  }

  /** Every node known and not gone (no tombstone), freshest announcement first. */
  live(): NodeAnnouncement[] {
    return [...this.nodes.values()].sort((a, b) => b.sentAt - a.sentAt);
  }

  /**
   * Caught-up holders of `partition`, excluding the node ids given: those that announced within
   * `staleMs`, or, when none did, the stale ones. A node killed without a tombstone thus stops
   * being picked once another holder is fresh, yet a lagging directory (a slow announcement, a busy
   * query process) never leaves a partition without a replica to try: a dead one fails fast and
   * the read fails over.
   */
  holders(partition: number, excluded: ReadonlySet<string> = new Set()): Holder[] {
    const fresh: Holder[] = [];
    const stale: Holder[] = [];
    const cutoff = Date.now() - this.staleMs;
    for (const node of this.nodes.values()) {
      if (excluded.has(node.nodeId)) continue;
      const holding = node.partitions.find((p) => p.partition === partition);
      if (holding && !holding.catchingUp) (node.sentAt >= cutoff ? fresh : stale).push({ node, holding });
    }
    return fresh.length > 0 ? fresh : stale;
  }

  /** True when every partition has at least one live, caught-up holder. */
  covers(partitions: number): boolean {
    for (let p = 0; p < partitions; p++) if (this.holders(p).length === 0) return false;
    return true;
  }
}
