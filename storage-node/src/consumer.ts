/**
 * The replication side of a storage node: a kafkajs consumer in its replica group's consumer group
 * that applies each fetched batch to the segment store, resuming from the store's own applied offset.
 * A partition Kafka cannot continue from that offset (the node holds nothing of it, or Kafka's
 * retention passed it) is held paused while the gate (the rebuilder) copies it from a peer.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { SiltError } from '../../core/src/errors';
import type { Logger } from '../../core/src/logger';
import type { ApplyResult, IncomingBlock, SegmentStore } from './store';

/** What the consumer reports to the node, for metrics and announcements. */
export interface ConsumerEvents {
  /** The set of partitions this node owns changed. */
  onAssignment(partitions: number[]): void;
  /** A batch was applied: what it wrote, seconds taken, the partition's high watermark. */
  onApplied(partition: number, result: ApplyResult, seconds: number, highWatermark: bigint): void;
}

/** Decides whether a partition must be copied from elsewhere before the consumer applies it (rebuild/rebuilder.ts). */
export interface PartitionGate {
  /** Null to consume now; otherwise a promise that resolves once the partition may be consumed from the store's applied offset. */
  before(partition: number, logStart: bigint, high: bigint): Promise<void> | null;
}

/** Options of the replica consumer. */
export interface ReplicaConsumerOptions {
  topic: string;
  groupId: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxWaitTimeMs: number;
  maxBytesPerPartition: number;
}

/** Bytes of blocks applied in one LevelDB batch: bounds the memory and the latency of one write. */
const MAX_APPLY_BYTES = 16 * 1024 * 1024;
/** Least time between two commits of a partition's offset to the group. */
const COMMIT_INTERVAL_MS = 1000;

/** Consumes `topic` into `store`; see the module comment. */
export class ReplicaConsumer {
  private readonly consumer: Consumer;
  private assigned = new Set<number>();
  /** Per partition, the high watermark to reach before the node serves the partition as caught up. */
  private readonly catchUpTarget = new Map<number, bigint>();
  private readonly highWatermarks = new Map<number, bigint>();
  private readonly paused = new Set<number>();
  /** Partitions the gate holds back (paused) until they are copied from a peer. */
  private readonly held = new Set<number>();
  /** Per partition, the offset we last sought back to after a gap; a gap seen again from there is real. */
  private readonly seekedBack = new Map<number, bigint>();
  /** Per partition, the offset the next applied message must have; set by our own seek, advanced by each write. */
  private readonly expected = new Map<number, bigint>();
  /** Per partition, when its offset was last committed to the group (Date.now()). */
  private readonly committedAt = new Map<number, number>();
  private running = false;

  constructor(
    kafka: Kafka,
    private readonly admin: Admin,
    private readonly store: SegmentStore,
    private readonly options: ReplicaConsumerOptions,
    private readonly gate: PartitionGate,
    private readonly events: ConsumerEvents,
    private readonly logger: Logger,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTimeInMs: options.maxWaitTimeMs,
      maxBytesPerPartition: options.maxBytesPerPartition,
      maxBytes: options.maxBytesPerPartition * 4,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 10 },
    });
  }

  /** Partitions currently owned by this node. */
  partitions(): number[] {
    return [...this.assigned].sort((a, b) => a - b);
  }

  /** True while the node has not yet reached the head it saw when it gained `partition`. */
  catchingUp(partition: number): boolean {
    const target = this.catchUpTarget.get(partition);
    return target !== undefined && this.store.applied(partition) < target;
  }

  /** The latest high watermark seen for `partition` (for lag), if any. */
  highWatermark(partition: number): bigint | undefined {
    return this.highWatermarks.get(partition);
  }

  /** Joins the group and starts applying. */
  async start(): Promise<void> {
    const { GROUP_JOIN, CRASH } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (event) => {
      const mine = event.payload.memberAssignment[this.options.topic] ?? [];
      void this.assign(mine).catch((err: unknown) => this.logger.error('assignment failed', { err: String(err) }));
    });
    this.consumer.on(CRASH, (event) => {
      const { error, restart } = event.payload;
      this.logger.error('consumer crashed', { err: String(error), restart });
      if (!restart && this.running) {
        // kafkajs gave up: the process exits so its supervisor restarts it from the applied offsets.
        process.exitCode = 1;
        process.kill(process.pid, 'SIGTERM');
      }
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
    this.running = true;
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 2,
      eachBatch: (payload) => this.applyBatch(payload),
    });
  }

  /** Leaves the group; in-flight writes finish first. */
  async stop(): Promise<void> {
    this.running = false;
    await this.consumer.disconnect();
  }

  /**
   * On every (re)assignment, seeks each partition to the node's own applied offset, whatever the
   * group committed (the group's offset may come from another node of the group that held the
   * partition before) — unless the gate holds it first: a partition the node never held (or holds
   * less of than Kafka still has) may be copied from a peer, and is sought once that is done.
   */
  private async assign(partitions: number[]): Promise<void> {
    const offsets = await this.admin.fetchTopicOffsets(this.options.topic);
    const next = new Set(partitions);
    for (const p of next) {
      const range = offsets.find((o) => o.partition === p);
      const low = BigInt(range?.low ?? '0');
      const high = BigInt(range?.high ?? '0');
      this.highWatermarks.set(p, high);
      if (!this.assigned.has(p)) this.catchUpTarget.set(p, high);
      if (this.held.has(p)) continue;
      const gate = this.gate.before(p, low, high);
      if (gate !== null) this.hold(p, gate);
      else this.startAt(p, low);
    }
    for (const p of this.assigned) {
      if (next.has(p)) continue;
      this.catchUpTarget.delete(p);
      this.expected.delete(p);
    }
    this.assigned = next;
    this.logger.info('assigned partitions', { partitions: this.partitions() });
    this.events.onAssignment(this.partitions());
  }

  /** Seeks a partition to the store's applied offset (Kafka's log start offset if that is further). */
  private startAt(partition: number, low: bigint): void {
    const applied = this.store.applied(partition);
    const from = applied > low ? applied : low;
    this.expected.set(partition, from);
    this.consumer.seek({ topic: this.options.topic, partition, offset: from.toString() });
    // A partition held for a copy was paused; one paused because a block cannot be read stays so.
    if (!this.paused.has(partition)) this.consumer.resume([{ topic: this.options.topic, partitions: [partition] }]);
  }

  /** Pauses a partition until `gate` resolves; it is announced as catching up meanwhile. */
  private hold(partition: number, gate: Promise<void>): void {
    this.held.add(partition);
    this.expected.delete(partition);
    const high = this.highWatermarks.get(partition) ?? 0n;
    if ((this.catchUpTarget.get(partition) ?? 0n) < high) this.catchUpTarget.set(partition, high);
    this.consumer.pause([{ topic: this.options.topic, partitions: [partition] }]);
    gate.then(
      () => this.release(partition),
      (err: unknown) => {
        this.held.delete(partition);
        this.logger.debug('partition gate ended', { partition, err: String(err) });
      },
    );
  }

  /** The gate let a partition go: seek it (if still owned) and resume; a copy that Kafka no longer continues goes back to the gate. */
  private async release(partition: number): Promise<void> {
    this.held.delete(partition);
    if (!this.running) return;
    try {
      if (this.assigned.has(partition)) {
        const range = (await this.admin.fetchTopicOffsets(this.options.topic)).find((o) => o.partition === partition);
        const low = BigInt(range?.low ?? '0');
        const again = this.store.applied(partition) < low ? this.gate.before(partition, low, BigInt(range?.high ?? '0')) : null;
        if (again !== null) return this.hold(partition, again);
        this.startAt(partition, low);
      } else if (!this.paused.has(partition)) {
        this.consumer.resume([{ topic: this.options.topic, partitions: [partition] }]);
      }
    } catch (err) {
      this.logger.error('a partition could not be resumed after its copy; it waits for the next assignment', { partition, err: String(err) });
    }
  }

  private async applyBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const partition = batch.partition;
    this.highWatermarks.set(partition, BigInt(batch.highWatermark));
    const expected = this.expected.get(partition);
    // Until our own seek for this assignment is in place, a fetch may start at the group's committed
    // offset, which another node may have pushed past what this node holds: applying it would leave a gap.
    if (expected === undefined || this.paused.has(partition) || this.held.has(partition)) return;
    let next = expected;
    let chunk: IncomingBlock[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      const started = process.hrtime.bigint();
      const result = await this.store.write(partition, chunk, next);
      this.expected.set(partition, next);
      this.events.onApplied(partition, result, Number(process.hrtime.bigint() - started) / 1e9, BigInt(batch.highWatermark));
      if (result.corrupt > 0) this.logger.error('corrupt blocks quarantined', { partition, count: result.corrupt });
      resolveOffset((next - 1n).toString());
      chunk = [];
      bytes = 0;
    };
    try {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        const offset = BigInt(message.offset);
        if (offset < next) continue;
        if (offset > next && this.seekedBack.get(partition) !== next) {
          this.logger.warn('fetch does not start at the applied offset; seeking back', { partition, expected: String(next), got: String(offset) });
          this.seekedBack.set(partition, next);
          this.consumer.seek({ topic: this.options.topic, partition, offset: next.toString() });
          break;
        }
        if (offset > next && (await this.gapLost(partition, next, offset, BigInt(batch.highWatermark), flush))) return;
        if (message.value) chunk.push({ offset, value: message.value });
        bytes += message.value?.length ?? 0;
        next = offset + 1n;
        if (bytes >= MAX_APPLY_BYTES) {
          await flush();
          await heartbeat();
        }
      }
      if (next > (this.expected.get(partition) ?? next)) await flush();
    } catch (err) {
      if (err instanceof SiltError && !err.retriable) {
        // A block this version cannot read must not be skipped: stop this partition until an upgrade.
        this.paused.add(partition);
        this.consumer.pause([{ topic: this.options.topic, partitions: [partition] }]);
        this.logger.error('partition paused: block cannot be applied', { partition, code: err.code, err: err.message });
        return;
      }
      throw err;
    }
    const applied = this.store.applied(partition);
    const now = Date.now();
    // Kafka's committed offset is for lag monitoring only (the store's applied offset is the truth):
    // once a second per partition is plenty, and spares the broker a request per batch.
    if (applied > 0n && now - (this.committedAt.get(partition) ?? 0) >= COMMIT_INTERVAL_MS) {
      this.committedAt.set(partition, now);
      await this.consumer
        .commitOffsets([{ topic: this.options.topic, partition, offset: applied.toString() }])
        .catch((err: unknown) => this.logger.debug('commit failed (rebalance in progress?)', { err: String(err) }));
    }
  }

  /**
   * A gap that stays after one seek back: offsets `next` to `offset` are not in Kafka. When its
   * retention removed them (its log start offset is past `next`) they are never skipped: what the
   * batch held before the gap is applied, and the partition goes to the gate to be copied from a
   * peer; true then. Offsets that never existed (no retention involved) are passed over: false.
   */
  private async gapLost(partition: number, next: bigint, offset: bigint, high: bigint, flush: () => Promise<void>): Promise<boolean> {
    const range = (await this.admin.fetchTopicOffsets(this.options.topic)).find((o) => o.partition === partition);
    const low = BigInt(range?.low ?? '0');
    if (low <= next) {
      this.logger.warn('offsets missing from Kafka above its log start offset (not removed by retention); going on', { partition, from: next.toString(), to: offset.toString() });
      return false;
    }
    this.logger.error("Kafka's retention removed offsets this node has not applied; holding the partition to copy it from a peer", {
      partition,
      applied: next.toString(),
      kafkaLogStart: low.toString(),
    });
    if (next > (this.expected.get(partition) ?? next)) await flush();
    const gate = this.gate.before(partition, low, high);
    if (gate === null) return false;
    this.hold(partition, gate);
    return true;
  }
}
