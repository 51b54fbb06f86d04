/** The rebuilder's decisions (storage-node/src/rebuild/rebuilder.ts): when a partition waits for a copy, which peers count, and that lost data holds the partition back loudly instead of skipping it. */
import type { Admin } from 'kafkajs';
import { Registry } from 'prom-client';
import type { NodeAnnouncement } from '../../core/src/announcement';
import type { Logger } from '../../core/src/logger';
import type { AnnouncedNodes } from '../../core/src/node-directory';
import { createRebuildMetrics, type RebuildMetrics } from '../../storage-node/src/rebuild/metrics';
import { Rebuilder } from '../../storage-node/src/rebuild/rebuilder';
import type { SegmentStore } from '../../storage-node/src/store';

/** A peer's announcement holding partition 0 at `applied`. */
function node(nodeId: string, replicaGroup: number, applied: number, over: Partial<NodeAnnouncement> = {}): NodeAnnouncement {
  return {
    version: 1,
    nodeId,
    replicaGroup,
    // Nothing listens there: a copy attempt fails at once.
    url: 'http://127.0.0.1:9',
    partitions: [{ partition: 0, appliedOffset: String(applied), minTs: null, maxTs: null, catchingUp: false }],
    released: [],
    sentAt: Date.now(),
    ...over,
  };
}

interface Setup {
  rebuilder: Rebuilder;
  metrics: RebuildMetrics;
  registry: Registry;
  errors: string[];
  staged: number[];
}

function setup(applied: bigint, low: bigint, peers: NodeAnnouncement[]): Setup {
  const registry = new Registry();
  const metrics = createRebuildMetrics(registry);
  const errors: string[] = [];
  const staged: number[] = [];
  const store = {
    applied: () => applied,
    stage: async (p: number) => {
      staged.push(p);
      return { discard: async () => undefined };
    },
  } as unknown as SegmentStore;
  const directory = { caughtUp: async () => true, live: () => peers } as unknown as AnnouncedNodes;
  const admin = { fetchTopicOffsets: async () => [{ partition: 0, offset: '10', low: String(low), high: '10' }] } as unknown as Admin;
  const noop = (): void => undefined;
  const logger = { debug: noop, info: noop, warn: noop, error: (msg: string) => errors.push(msg), child: () => logger } as unknown as Logger;
  const rebuilder = new Rebuilder(store, directory, admin, { nodeId: 'me', replicaGroup: 1, topic: 'silt.logs', freshMs: 5000, clusterSecret: '' }, metrics, noop, logger);
  return { rebuilder, metrics, registry, errors, staged };
}

async function value(registry: Registry, name: string, labels = ''): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(name) && l.includes(labels) && !l.startsWith('#'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const settled = async (p: Promise<void>): Promise<boolean> => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);

describe('storage node > rebuild > decisions', () => {
  it('lets a partition the node holds past Kafka\'s log start go on at once, and an empty topic too', () => {
    expect(setup(7n, 5n, []).rebuilder.before(0, 5n, 10n)).toBeNull();
    expect(setup(0n, 0n, []).rebuilder.before(0, 0n, 0n)).toBeNull();
  });

  it('consumes from Kafka when it holds everything and no peer of another group holds more', async () => {
    const s = setup(0n, 0n, [node('same-group', 1, 9), node('stale', 0, 9, { sentAt: Date.now() - 60_000 }), node('empty', 0, 0), node('me', 0, 9)]);
    const gate = s.rebuilder.before(0, 0n, 10n)!;
    expect(await settled(gate)).toBe(true);
    expect(s.staged).toEqual([]);
    await s.rebuilder.stop();
  });

  it('tries a fresh peer of another group before Kafka, and falls back to Kafka when the copy fails', async () => {
    const s = setup(0n, 0n, [node('peer', 0, 9)]);
    expect(await settled(s.rebuilder.before(0, 0n, 10n)!)).toBe(true);
    expect(s.staged).toEqual([0]);
    expect(await value(s.registry, 'silt_storage_rebuild_failures_total', 'reason="peer"')).toBe(1);
    await s.rebuilder.stop();
  });

  it('holds a partition back, loudly, when neither Kafka nor any peer has its older offsets, until the node stops', async () => {
    const s = setup(0n, 5n, [node('behind', 0, 4)]);
    const gate = s.rebuilder.before(0, 5n, 10n)!;
    expect(await settled(gate)).toBe(false);
    expect(s.staged).toEqual([]);
    expect(await value(s.registry, 'silt_storage_rebuild_failures_total', 'reason="lost"')).toBe(1);
    expect(await value(s.registry, 'silt_storage_rebuild_blocked_partitions')).toBe(1);
    expect(s.errors.some((e) => e.startsWith('partition cannot be rebuilt'))).toBe(true);
    // The same partition asked again joins the same wait.
    expect(s.rebuilder.before(0, 5n, 10n)).toBe(gate);
    const stopped = gate.then(() => 'resolved', () => 'rejected');
    await s.rebuilder.stop();
    expect(await stopped).toBe('rejected');
    expect(await value(s.registry, 'silt_storage_rebuild_blocked_partitions')).toBe(0);
  });

  it('retries a failed copy later rather than skipping offsets Kafka no longer holds', async () => {
    const s = setup(3n, 5n, [node('peer', 0, 9)]);
    const gate = s.rebuilder.before(0, 5n, 10n)!;
    expect(await settled(gate)).toBe(false);
    expect(s.staged).toEqual([0]);
    expect(await value(s.registry, 'silt_storage_rebuild_failures_total', 'reason="lost"')).toBe(0);
    const stopped = gate.catch(() => undefined);
    await s.rebuilder.stop();
    await stopped;
  });
});
