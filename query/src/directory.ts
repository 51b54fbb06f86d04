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

  /** Nodes that announced recently (a node killed without a tombstone fades out after `staleMs`). */
  live(): NodeAnnouncement[] {
    const cutoff = Date.now() - this.staleMs;
    return [...this.nodes.values()].filter((n) => n.sentAt >= cutoff);
  }

  /** Live, caught-up holders of `partition`, excluding the node ids given. */
  holders(partition: number, excluded: ReadonlySet<string> = new Set()): Holder[] {
    const out: Holder[] = [];
    for (const node of this.live()) {
      if (excluded.has(node.nodeId)) continue;
      const holding = node.partitions.find((p) => p.partition === partition);
      if (holding && !holding.catchingUp) out.push({ node, holding });
    }
    return out;
  }

  /** True when every partition has at least one live, caught-up holder. */
  covers(partitions: number): boolean {
    for (let p = 0; p < partitions; p++) if (this.holders(p).length === 0) return false;
    return true;
  }
}
