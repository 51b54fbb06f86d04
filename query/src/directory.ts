/** The query service's view of `silt.nodes` (followed by core's `AnnouncedNodes`): which storage node to read each partition from. */
import type { Kafka } from 'kafkajs';
import type { NodeAnnouncement, PartitionHolding } from '../../core/src/announcement';
import type { Logger } from '../../core/src/logger';
import { AnnouncedNodes } from '../../core/src/node-directory';

/** A node that holds a partition, as the planner sees it. */
export interface Holder {
  node: NodeAnnouncement;
  holding: PartitionHolding;
  /** True for a node bridging a handover (catching up, or released the partition): its offset is what matters, not its group. */
  handover: boolean;
}

/** The query service's directory of storage nodes: who holds which partition, as the planner picks them. */
export class NodeDirectory extends AnnouncedNodes {
  constructor(
    kafka: Kafka,
    topic: string,
    private readonly staleMs: number,
    logger: Logger,
  ) {
    super(kafka, topic, 'silt-query', logger);
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
