/** Follows `silt.nodes`: the query service's live map of which storage node holds which partition. */
import { randomBytes } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { parseAnnouncement, type NodeAnnouncement, type PartitionHolding } from '../../core/src/announcement';
import type { Logger } from '../../core/src/logger';

/** A node that holds a partition, as the planner sees it. */
export interface Holder {
  node: NodeAnnouncement;
  holding: PartitionHolding;
  /** True for a node bridging a handover (catching up, or released the partition): its offset is what matters, not its group. */
  handover: boolean;
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
      eachMessage: async ({ message }) => this.apply(message.key, message.value),
    });
  }

  /** Takes in one record of the topic: an announcement, or a tombstone for a node that left. */
  apply(key: Buffer | null, value: Buffer | null): void {
    const id = key?.toString('utf8');
    if (!id) return;
    const a = parseAnnouncement(value);
    if (a === null) this.nodes.delete(id);
    else this.nodes.set(id, a);
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
   * Holders of `partition` to read from, excluding the node ids given. Caught-up owners first: those
   * that announced within `staleMs`, or, when none did, the stale ones. A node killed without a
   * tombstone thus stops being picked once another holder is fresh, yet a lagging directory (a slow
   * announcement, a busy query process) never leaves a partition without a replica to try: a dead
   * one fails fast and the read fails over.
   *
   * With no caught-up owner (every owner of the partition is new to it after a rebalance), fresh
   * nodes that applied at least `need` offsets bridge the handover, the furthest first: a node
   * catching up, or the previous owner that released the partition with its data. `need` is what the
   * read's token or cursor demands, so a bridge never answers with less than the client was promised.
   */
  holders(partition: number, excluded: ReadonlySet<string> = new Set(), need = 0n): Holder[] {
    const fresh: Holder[] = [];
    const stale: Holder[] = [];
    const bridges: Holder[] = [];
    const cutoff = Date.now() - this.staleMs;
    for (const node of this.nodes.values()) {
      if (excluded.has(node.nodeId)) continue;
      const owned = node.partitions.find((p) => p.partition === partition);
      if (owned && !owned.catchingUp) {
        (node.sentAt >= cutoff ? fresh : stale).push({ node, holding: owned, handover: false });
        continue;
      }
      const holding = owned ?? node.released.find((p) => p.partition === partition);
      if (holding && node.sentAt >= cutoff && BigInt(holding.appliedOffset) >= need && BigInt(holding.appliedOffset) > 0n) bridges.push({ node, holding, handover: true });
    }
    if (fresh.length > 0) return fresh;
    if (stale.length > 0) return stale;
    return bridges.sort((a, b) => (BigInt(b.holding.appliedOffset) > BigInt(a.holding.appliedOffset) ? 1 : -1));
  }

  /** True when every partition has a holder to read from. */
  covers(partitions: number): boolean {
    for (let p = 0; p < partitions; p++) if (this.holders(p).length === 0) return false;
    return true;
  }
}
