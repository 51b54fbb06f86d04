/**
 * Rebuild from a peer: a partition this node gains while holding nothing of it, or less than Kafka
 * still has (its log start offset is past the node's applied offset), is copied segment by segment
 * from a node of another replica group that announces it at an applied offset Kafka continues from;
 * the consumer then applies Kafka from the copied applied offset, so every entry is applied exactly
 * once. When no source holds the missing offsets the partition stays paused, loudly, and is retried.
 * docs/STORAGE.md, "Rebuild from a peer".
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import { SiltError } from '../../../core/src/errors';
import type { Logger } from '../../../core/src/logger';
import type { AnnouncedNodes } from '../../../core/src/node-directory';
import { DumpFormatError } from '../../../core/src/errors';
import type { SegmentStore } from '../store';
import type { RebuildFailure, RebuildMetrics } from './metrics';
import { fetchDump, fetchListing } from './peer-client';

/** Partitions copied at once: each streams from one peer and writes one segment at a time. */
const MAX_COPIES = 2;
/** How long the first decision waits for the announcements already on `silt.nodes` to be read. */
const DIRECTORY_WAIT_MS = 15_000;
/** A peer that sends nothing for this long is given up on. */
const PEER_IDLE_MS = 30_000;
/** Wait between two rounds of attempts while no source can fill a partition: doubles up to the max. */
const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 30_000;
const OFFSET = /^[0-9]{1,20}$/;

/** Who this node is, and how fresh a peer's announcement must be. */
export interface RebuilderOptions {
  nodeId: string;
  replicaGroup: number;
  /** The data topic, for its log start offsets. */
  topic: string;
  /** Announcements older than this are not trusted to describe a live peer. */
  freshMs: number;
  /** Sent to peers' internal API (auth.clusterSecret; empty for none). */
  clusterSecret: string;
}

/** A node of another replica group that holds the partition. */
interface Peer {
  nodeId: string;
  url: string;
  applied: bigint;
  /** It owns the partition and has caught up (else it is catching up, or released it). */
  caughtUp: boolean;
}

/** Decides, per partition the consumer is about to apply, whether it must first be copied from a peer, and copies it. */
export class Rebuilder {
  private readonly running = new Map<number, Promise<void>>();
  private readonly blocked = new Set<number>();
  private readonly abort = new AbortController();
  private directoryHeard: Promise<boolean> | null = null;
  private freeSlots = MAX_COPIES;
  private readonly slotWaiters: (() => void)[] = [];

  constructor(
    private readonly store: SegmentStore,
    private readonly directory: AnnouncedNodes,
    private readonly admin: Admin,
    private readonly options: RebuilderOptions,
    private readonly metrics: RebuildMetrics,
    /** A copy was adopted: the partition's applied offset jumped. */
    private readonly onAdopted: (partition: number) => void,
    private readonly logger: Logger,
  ) {}

  /**
   * Null when Kafka continues the partition from the node's applied offset (`logStart` is Kafka's
   * log start offset, `high` its high watermark, as the caller last saw them). Otherwise a promise
   * that resolves once the partition may be consumed from its applied offset (copied from a peer,
   * or found to be wholly in Kafka with no peer ahead); it keeps retrying while neither holds the
   * missing offsets, and rejects only when the node stops.
   */
  before(partition: number, logStart: bigint, high: bigint): Promise<void> | null {
    const applied = this.store.applied(partition);
    if (applied > 0n && applied >= logStart) return null;
    if (high === 0n) return null;
    let run = this.running.get(partition);
    if (run === undefined) {
      run = this.rebuild(partition).finally(() => {
        this.running.delete(partition);
        this.unblock(partition);
      });
      this.running.set(partition, run);
    }
    return run;
  }

  /** Stops every copy (their staging is discarded) and waits for them. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('storage node stopping'));
    await Promise.allSettled([...this.running.values()]);
  }

  private async rebuild(partition: number): Promise<void> {
    let wait = RETRY_MIN_MS;
    while (!(await this.attempt(partition))) {
      await sleep(wait, undefined, { signal: this.abort.signal });
      wait = Math.min(wait * 2, RETRY_MAX_MS);
    }
  }

  /** One round: every peer in turn, then Kafka if it holds everything; false when the partition must wait for another round. */
  private async attempt(partition: number): Promise<boolean> {
    this.abort.signal.throwIfAborted();
    if (this.directoryHeard === null) this.directoryHeard = this.directory.caughtUp(this.admin, DIRECTORY_WAIT_MS);
    if (!(await this.directoryHeard)) {
      this.directoryHeard = null;
      this.logger.warn('announcements not read up to their end yet: a peer may be missed', { partition });
    }
    const low = await this.logStart(partition);
    const applied = this.store.applied(partition);
    if (applied > 0n && applied >= low) return true;
    const peers = this.peers(partition, low, applied);
    for (const peer of peers) {
      try {
        await this.withSlot(() => this.copy(partition, peer));
        return true;
      } catch (err) {
        this.abort.signal.throwIfAborted();
        this.metrics.failures.inc({ reason: failureOf(err) });
        this.logger.warn('copy of a partition from a peer failed', { partition, peer: peer.nodeId, code: (err as SiltError).code, err: String((err as Error).message ?? err) });
      }
    }
    if (applied >= low) {
      // Kafka still holds every offset from the beginning: it is the source then.
      if (peers.length > 0) this.logger.warn('no peer could give its copy; consuming the partition from Kafka', { partition });
      return true;
    }
    if (peers.length === 0) {
      this.metrics.failures.inc({ reason: 'lost' });
      this.block(partition);
      this.logger.error('partition cannot be rebuilt: Kafka no longer holds offsets this node lacks and no node of another replica group announces them; it stays paused until one does', {
        partition,
        applied: applied.toString(),
        kafkaLogStart: low.toString(),
      });
    }
    return false;
  }

  /** Peers of other replica groups, freshly announced, holding the partition up to an offset Kafka continues from and beyond `applied`; caught-up owners first, then the furthest. */
  private peers(partition: number, low: bigint, applied: bigint): Peer[] {
    const cutoff = Date.now() - this.options.freshMs;
    const out: Peer[] = [];
    for (const node of this.directory.live()) {
      if (node.nodeId === this.options.nodeId || node.replicaGroup === this.options.replicaGroup || node.sentAt < cutoff) continue;
      const owned = node.partitions.find((h) => h.partition === partition);
      const holding = owned ?? node.released.find((h) => h.partition === partition);
      if (holding === undefined || typeof holding.appliedOffset !== 'string' || !OFFSET.test(holding.appliedOffset)) continue;
      const at = BigInt(holding.appliedOffset);
      if (at === 0n || at < low || at <= applied) continue;
      out.push({ nodeId: node.nodeId, url: node.url, applied: at, caughtUp: owned !== undefined && !owned.catchingUp });
    }
    return out.sort((a, b) => (a.caughtUp !== b.caughtUp ? (a.caughtUp ? -1 : 1) : a.applied > b.applied ? -1 : a.applied < b.applied ? 1 : 0));
  }

  /** Copies every segment of the peer's partition into staging, checks Kafka continues from its applied offset, and adopts it; anything less discards the copy. */
  private async copy(partition: number, peer: Peer): Promise<void> {
    const signal = this.abort.signal;
    this.metrics.running.inc();
    const staged = await this.store.stage(partition);
    let adopted = false;
    try {
      const listing = await fetchListing(peer.url, this.options.clusterSecret, partition, signal, PEER_IDLE_MS);
      await this.checkAhead(partition, BigInt(listing.applied), peer);
      for (const seg of listing.segments) {
        const first = BigInt(seg.first);
        const loaded = await staged.load(first, fetchDump(peer.url, this.options.clusterSecret, partition, first, signal, PEER_IDLE_MS));
        this.metrics.bytesCopied.inc(loaded.bytes);
        if (loaded.meta !== null) this.metrics.segmentsCopied.inc();
      }
      // The peer went on writing while it was copied: what counts is the applied offset of the copy.
      await this.checkAhead(partition, staged.applied, peer);
      await this.store.adopt(staged);
      adopted = true;
    } finally {
      if (!adopted) await staged.discard();
      this.metrics.running.dec();
    }
    this.metrics.partitions.inc();
    this.logger.info('partition rebuilt from a peer', { partition, peer: peer.nodeId, segments: staged.segments.length, applied: staged.applied.toString() });
    this.onAdopted(partition);
  }

  /** Throws unless Kafka continues from `applied` and it is more than the node holds. */
  private async checkAhead(partition: number, applied: bigint, peer: Peer): Promise<void> {
    const low = await this.logStart(partition);
    if (applied < low || applied <= this.store.applied(partition)) {
      throw new SiltError('SILT_PEER_BEHIND', 409, true, `peer ${peer.nodeId} holds partition ${partition} up to ${applied}; Kafka starts at ${low}, this node is at ${this.store.applied(partition)}`);
    }
  }

  private async logStart(partition: number): Promise<bigint> {
    const offsets = await this.admin.fetchTopicOffsets(this.options.topic);
    return BigInt(offsets.find((o) => o.partition === partition)?.low ?? '0');
  }

  private async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.freeSlots === 0) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    this.freeSlots--;
    try {
      return await fn();
    } finally {
      this.freeSlots++;
      this.slotWaiters.shift()?.();
    }
  }

  private block(partition: number): void {
    this.blocked.add(partition);
    this.metrics.blocked.set(this.blocked.size);
  }

  private unblock(partition: number): void {
    if (this.blocked.delete(partition)) this.metrics.blocked.set(this.blocked.size);
  }
}

function failureOf(err: unknown): RebuildFailure {
  if (err instanceof DumpFormatError) return 'dump';
  if (err instanceof SiltError && err.code === 'SILT_PEER_BEHIND') return 'behind';
  return 'peer';
}
