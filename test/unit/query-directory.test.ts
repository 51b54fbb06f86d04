import type { Kafka } from 'kafkajs';
import type { NodeAnnouncement, PartitionHolding } from '../../core/src/announcement';
import { createLogger } from '../../core/src/logger';
import { NodeDirectory } from '../../query/src/directory';

const STALE_MS = 5000;

function holding(partition: number, appliedOffset: number, catchingUp = false): PartitionHolding {
  return { partition, appliedOffset: String(appliedOffset), minTs: null, maxTs: null, catchingUp };
}

function directory(...nodes: Partial<NodeAnnouncement>[]): NodeDirectory {
  // Only start() touches Kafka; the planner's view is fed record by record.
  const d = new NodeDirectory({ consumer: () => ({}) } as unknown as Kafka, 'silt.nodes', STALE_MS, createLogger('silent'));
  for (const n of nodes) {
    const a = { version: 1, replicaGroup: 0, url: `http://${n.nodeId}`, partitions: [], released: [], sentAt: Date.now(), ...n };
    d.apply(Buffer.from(n.nodeId!), Buffer.from(JSON.stringify(a)));
  }
  return d;
}

const ids = (d: NodeDirectory, p: number, need?: bigint, excluded: string[] = []): string[] => d.holders(p, new Set(excluded), need).map((h) => h.node.nodeId);

describe('query > directory > holders', () => {
  it('picks caught-up owners and ignores a node that released the partition while an owner is caught up', () => {
    const d = directory({ nodeId: 'old', released: [holding(0, 40)] }, { nodeId: 'new', partitions: [holding(0, 44)] }, { nodeId: 'other', replicaGroup: 1, partitions: [holding(0, 44)] });
    expect(ids(d, 0).sort()).toEqual(['new', 'other']);
    expect(d.holders(0).every((h) => !h.handover)).toBe(true);
  });

  it('falls back to stale caught-up owners before handover bridges', () => {
    const d = directory({ nodeId: 'dead', partitions: [holding(0, 44)], sentAt: Date.now() - 2 * STALE_MS }, { nodeId: 'new', partitions: [holding(0, 10, true)] });
    expect(ids(d, 0)).toEqual(['dead']);
    expect(ids(d, 0, 0n, ['dead'])).toEqual(['new']);
  });

  it('bridges a handover with the released and catching-up holders, the furthest first', () => {
    const d = directory(
      { nodeId: 'old', released: [holding(2, 44)] },
      { nodeId: 'new', partitions: [holding(2, 3, true)] },
      { nodeId: 'new-b', replicaGroup: 1, partitions: [holding(2, 0, true)] },
    );
    expect(ids(d, 2)).toEqual(['old', 'new']);
    expect(d.holders(2).every((h) => h.handover)).toBe(true);
    expect(d.covers(3)).toBe(false);
  });

  it('never bridges with a node that has not applied what the read needs (its token or cursor)', () => {
    const d = directory({ nodeId: 'old', released: [holding(2, 44)] }, { nodeId: 'new', partitions: [holding(2, 50, true)] });
    expect(ids(d, 2, 45n)).toEqual(['new']);
    expect(ids(d, 2, 51n)).toEqual([]);
  });

  it('does not bridge with a stale node nor one that applied nothing', () => {
    const d = directory({ nodeId: 'old', released: [holding(1, 44)], sentAt: Date.now() - 2 * STALE_MS }, { nodeId: 'new', partitions: [holding(1, 0, true)] });
    expect(ids(d, 1)).toEqual([]);
  });

  it('reads an announcement without released partitions (an older node) as releasing none', () => {
    const d = new NodeDirectory({ consumer: () => ({}) } as unknown as Kafka, 'silt.nodes', STALE_MS, createLogger('silent'));
    d.apply(Buffer.from('n'), Buffer.from(JSON.stringify({ version: 1, nodeId: 'n', replicaGroup: 0, url: 'http://n', partitions: [holding(0, 1)], sentAt: Date.now() })));
    expect(d.live()[0]!.released).toEqual([]);
    expect(ids(d, 0)).toEqual(['n']);
  });

  it('forgets a node on its tombstone', () => {
    const d = directory({ nodeId: 'n', partitions: [holding(0, 1)] });
    d.apply(Buffer.from('n'), null);
    expect(ids(d, 0)).toEqual([]);
  });
});
