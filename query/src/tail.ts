/**
 * Live tails read from Kafka (DESIGN "Hard parts: Tails from Kafka"): every tail runs its own
 * kafkajs consumer in a consumer group of its own, positioned by hand (seek) at the current end of
 * every partition, at a point in time, or at a cursor, and decodes only the frames of the streams
 * its query selects. Offsets are never committed: the cursor each entry carries is the only state.
 * docs/TAIL.md explains the design, its guarantees and its limits.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { decodeFrame, readBlockHeader, type BlockEntry, type BlockHeader } from '../../core/src/block-format';
import { BadRequestError, SiltError, TooManyRequestsError, UnavailableError } from '../../core/src/errors';
import { type Labels, TENANT_RE } from '../../core/src/labels';
import type { Logger } from '../../core/src/logger';
import { compileLineFilter, parseLogQuery } from '../../core/src/logql';
import { compileMatcher, matchesAll, type CompiledMatcher } from '../../core/src/matchers';
import { decodeTailCursor, TailCursorBuilder, type TailCursor, type TailPartitionPosition } from '../../core/src/tail-cursor';

/** What a TailEngine needs: its Kafka client, topic, and the limits of every tail. */
export interface TailOptions {
  kafka: Kafka;
  /** The logs topic (`silt.logs`). */
  topic: string;
  /** Each tail's consumer group is `groupPrefix` + 16 random hex digits, e.g. `silt-tail-3f…`. */
  groupPrefix: string;
  /** How long one Kafka fetch waits for data; new data ends the wait at once, so this trades broker load, not latency. */
  maxWaitTimeMs: number;
  /** Entries one tail holds for a client that reads slower than Kafka delivers; at this many the consumer is paused. */
  maxBufferedEntries: number;
  /** Open tails at most; `open` rejects with 429 SILT_TOO_MANY_TAILS beyond. */
  maxTails: number;
  logger: Logger;
  /** How long a tail may stay paused on a full queue before it is closed with SILT_TAIL_SLOW_CONSUMER (default 10 s). */
  slowConsumerMs?: number;
  /** How far before `start` a replay begins by Kafka message time (default 10 min, ingest's maxFutureMs). */
  startSlackMs?: number;
  /** How long `open` waits for the consumer to join its group (default 20 s). */
  openTimeoutMs?: number;
  /** Largest fetch per partition; Kafka still returns one whole block if it is larger (default 4 MiB). */
  maxBytesPerPartition?: number;
  /** Largest fetch response of one tail (default 8 MiB). */
  maxBytes?: number;
  /** Retry-After, in seconds, of 429 and 503 answers (default 5). */
  retryAfterSeconds?: number;
}

/** One delivered entry and where it came from; `cursor` resumes strictly after it. */
export interface TailEntry {
  ts: bigint;
  labels: Labels;
  line: string;
  attrs?: Record<string, string>;
  partition: number;
  offset: bigint;
  frame: number;
  index: number;
  /** The id to resume strictly after this entry (a full cursor over every partition). */
  cursor: string;
}

/** What `open` returns: the entries, and a promise that settles when the tail ends for any reason. */
export interface TailIterator extends AsyncIterableIterator<TailEntry> {
  /** Resolves once the tail has ended (client gone, error, shutdown); `next()` then tells how. */
  readonly finished: Promise<void>;
}

/** What a client asks to tail. */
export interface TailRequest {
  tenant: string;
  /** A LogQL log query: stream selector and line filters. */
  query: string;
  /** Nanoseconds: replay entries with ts >= start, then go on live. */
  start?: bigint;
  /** Resume strictly after the entry this cursor was the id of (wins over `start` for positioning). */
  cursor?: string;
}

/** Error codes a tail ends with (the iterator rejects with a SiltError carrying one). */
export const TAIL_SLOW_CONSUMER = 'SILT_TAIL_SLOW_CONSUMER';
export const TAIL_SHUTTING_DOWN = 'SILT_SHUTTING_DOWN';
export const TOO_MANY_TAILS = 'SILT_TOO_MANY_TAILS';
export const TAIL_ABORTED = 'SILT_TAIL_ABORTED';

const DEFAULT_SLOW_CONSUMER_MS = 10_000;
const DEFAULT_START_SLACK_MS = 10 * 60 * 1000;
const DEFAULT_OPEN_TIMEOUT_MS = 20_000;
/** Re-seeks to the expected offset before a batch that starts later is taken as a real hole in the partition. */
const MAX_RESEEKS = 3;
/** How often a batch waiting for queue space heartbeats the group coordinator. */
const SPACE_WAIT_TICK_MS = 1000;

/** A tail's query, compiled once. */
interface CompiledTail {
  tenant: string;
  matchers: CompiledMatcher[];
  lineFilter: ((line: string) => boolean) | null;
  start: bigint | undefined;
}

function abortedError(): SiltError {
  return new SiltError(TAIL_ABORTED, 499, false, 'the tail was aborted');
}

/** The error a tail ends with when the query service shuts down (the client resumes elsewhere). */
export function shuttingDown(): SiltError {
  return new SiltError(TAIL_SHUTTING_DOWN, 503, true, 'the query service is shutting down; resume from the last event id');
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One open tail: the consumer, the bounded queue, and the iterator its client reads. */
class Tail implements TailIterator {
  readonly groupId: string;
  /** Resolves once the consumer is disconnected. */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private consumer: Consumer | null = null;
  private connecting: Promise<void> = Promise.resolve();
  private subscribing: Promise<void> = Promise.resolve();
  private runPromise: Promise<void> = Promise.resolve();
  private positions!: TailCursorBuilder;
  private readonly queue: TailEntry[] = [];
  private head = 0;
  private reader: { resolve(r: IteratorResult<TailEntry>): void; reject(err: unknown): void } | null = null;
  private spaceWaiter: (() => void) | null = null;
  /** Set once the tail ends; `error` is thrown to the reader once, then the iterator is done. */
  private ending: { error: SiltError | null } | null = null;
  private paused = false;
  private slowTimer: NodeJS.Timeout | null = null;
  private joined = false;
  private joinWaiter: { resolve(): void; reject(err: unknown): void } | null = null;
  private readonly reseeks = new Map<number, number>();
  private disconnecting = false;

  constructor(
    private readonly options: TailOptions,
    private readonly q: CompiledTail,
    private readonly onEnd: (tail: Tail) => void,
  ) {
    this.groupId = options.groupPrefix + randomBytes(8).toString('hex');
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  get ended(): boolean {
    return this.ending !== null;
  }

  private get max(): number {
    return this.options.maxBufferedEntries;
  }

  private get length(): number {
    return this.queue.length - this.head;
  }

  /** Creates the consumer, seeks to `positions` on group join, and resolves once it has joined. */
  async start(positions: TailCursor, signal: AbortSignal): Promise<void> {
    const o = this.options;
    this.positions = new TailCursorBuilder(positions);
    const consumer = o.kafka.consumer({
      groupId: this.groupId,
      maxWaitTimeInMs: o.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: o.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxBytes: o.maxBytes ?? 8 * 1024 * 1024,
      // A crashed consumer restarts (and re-seeks on its new GROUP_JOIN) only while the tail is open.
      retry: { retries: 5, restartOnFailure: async () => !this.ended },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (event) => this.onGroupJoin(event.payload.memberAssignment));
    consumer.on(consumer.events.CRASH, (event) => {
      if (event.payload.restart || this.ended) return;
      this.fail(new UnavailableError(`tail consumer stopped: ${describe(event.payload.error)}`, o.retryAfterSeconds ?? 5));
    });
    const joined = new Promise<void>((resolve, reject) => (this.joinWaiter = { resolve, reject }));
    joined.catch(() => undefined); // it may be rejected (abort, timeout) before anything awaits it
    // Each step gives up at once when the tail ends or times out; the step itself is awaited by disconnect().
    const step = <T>(p: Promise<T>): Promise<T> => {
      p.catch(() => undefined);
      return Promise.race([p, joined.then(() => p)]);
    };
    const timer = setTimeout(
      () => this.joinWaiter?.reject(new UnavailableError(`Kafka consumer did not join its group within ${o.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS} ms`, o.retryAfterSeconds ?? 5)),
      o.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS,
    );
    const onAbort = (): void => this.joinWaiter?.reject(abortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      this.connecting = consumer.connect();
      await step(this.connecting);
      // fromBeginning: a partition the group resets (offset out of range, or one created after the
      // tail opened) restarts at its earliest retained offset rather than skipping to the end.
      this.subscribing = consumer.subscribe({ topics: [o.topic], fromBeginning: true });
      await step(this.subscribing);
      this.runPromise = consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => this.onBatch(payload),
      });
      // run() resolves after the first join (or its crash); a crash that kafkajs restarts from
      // still ends in GROUP_JOIN, so wait for that.
      await Promise.race([joined, this.runPromise.then(() => joined)]);
    } catch (err) {
      if (err instanceof SiltError) throw err;
      throw new UnavailableError(`Kafka: ${describe(err)}`, o.retryAfterSeconds ?? 5);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      this.joinWaiter = null;
    }
  }

  private onGroupJoin(assignment: Record<string, number[]>): void {
    const consumer = this.consumer!;
    if (this.ended) {
      // A join that completed after close began (a restart racing the disconnect): stop it again.
      void consumer.disconnect().catch(() => undefined);
      return;
    }
    // Every (re)join starts from the tail's own positions: kafkajs's resolved offsets are reset by
    // a rebalance, and nothing was committed.
    for (const partition of assignment[this.options.topic] ?? []) {
      const pos = this.positions.get(partition);
      if (pos !== undefined) consumer.seek({ topic: this.options.topic, partition, offset: pos.offset.toString() });
    }
    if (this.paused) {
      try {
        consumer.pause([{ topic: this.options.topic }]);
      } catch {
        // not running yet: the next space check pauses again
      }
    }
    this.joined = true;
    this.joinWaiter?.resolve();
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    try {
      const topic = this.options.topic;
      const partition = batch.partition;
      const fetched = BigInt((batch as unknown as { fetchedOffset: string }).fetchedOffset);
      let pos = this.positions.get(partition);
      if (pos === undefined) {
        // A partition that did not exist when the tail opened: read it from where the group put it.
        pos = { offset: fetched };
        this.positions.set(partition, pos);
      }
      if (fetched > pos.offset) {
        // Fetched past where this tail stands: the first fetch raced the seek, or a rebalance reset
        // kafkajs's offsets. Seek back instead of delivering. The same answer after a few seeks means
        // the offsets are gone (retention) or hold no record: take the hole and go on.
        const n = (this.reseeks.get(partition) ?? 0) + 1;
        this.reseeks.set(partition, n);
        if (n <= MAX_RESEEKS) {
          this.consumer!.seek({ topic, partition, offset: pos.offset.toString() });
          return;
        }
        this.options.logger.warn('tail: offsets missing from the partition, skipping them', { groupId: this.groupId, partition, from: pos.offset, to: fetched });
        pos = { offset: fetched };
        this.positions.set(partition, pos);
      }
      this.reseeks.delete(partition);
      for (const message of batch.messages) {
        if (this.ended || !isRunning() || isStale()) return;
        const offset = BigInt(message.offset);
        const current = this.positions.get(partition)!;
        if (offset < current.offset) continue; // below the start: a fetch that began before the seek applied
        const after = offset === current.offset ? current.after : undefined;
        await this.deliverBlock(partition, offset, message, after, heartbeat);
        if (this.ended || isStale()) return;
        this.positions.set(partition, { offset: offset + 1n });
        resolveOffset(message.offset);
      }
    } catch (err) {
      // eachBatch must not throw: kafkajs would crash and restart the consumer mid-tail.
      this.options.logger.error('tail: failed on a batch', { groupId: this.groupId, err: String((err as Error)?.stack ?? err) });
      this.fail(new SiltError('SILT_INTERNAL', 500, false, `tail failed: ${describe(err)}`));
    }
  }

  /** Decodes one block and queues its matching entries after `after`, in (frame, index) order. */
  private async deliverBlock(partition: number, offset: bigint, message: KafkaMessage, after: TailPartitionPosition['after'], heartbeat: () => Promise<void>): Promise<void> {
    const value = message.value;
    if (value === null || value.length === 0) return;
    const q = this.q;
    let header: BlockHeader;
    try {
      header = readBlockHeader(value);
    } catch (err) {
      this.options.logger.warn('tail: skipping a block that does not decode', { partition, offset, err: describe(err) });
      return;
    }
    // A block holds one tenant's entries: another tenant's block is skipped whole (isolation).
    if (header.tenant !== q.tenant) return;
    if (q.start !== undefined && header.maxTs < q.start) return;
    const streams = header.streams;
    for (let frame = after === undefined ? 0 : after.frame; frame < streams.length; frame++) {
      const info = streams[frame]!;
      if (q.start !== undefined && info.maxTs < q.start) continue;
      if (!matchesAll(q.matchers, info.labels)) continue;
      let entries: BlockEntry[];
      try {
        entries = decodeFrame(value, info);
      } catch (err) {
        this.options.logger.warn('tail: skipping a frame that does not decode', { partition, offset, frame, err: describe(err) });
        continue;
      }
      const first = after !== undefined && frame === after.frame ? after.index + 1 : 0;
      for (let index = first; index < entries.length; index++) {
        const e = entries[index]!;
        if (q.start !== undefined && e.ts < q.start) continue;
        if (q.lineFilter !== null && !q.lineFilter(e.line)) continue;
        if (this.length >= this.max) {
          await this.waitForSpace(heartbeat);
          if (this.ended) return;
        }
        const pos: TailPartitionPosition = { offset, after: { frame, index } };
        this.positions.set(partition, pos);
        const entry: TailEntry = { ts: e.ts, labels: info.labels, line: e.line, partition, offset, frame, index, cursor: this.positions.toString() };
        if (e.attrs !== undefined) entry.attrs = e.attrs;
        this.enqueue(entry);
      }
    }
  }

  private enqueue(entry: TailEntry): void {
    const reader = this.reader;
    if (reader !== null) {
      this.reader = null;
      reader.resolve({ value: entry, done: false });
      return;
    }
    this.queue.push(entry);
    if (this.length >= this.max) this.pause();
  }

  /** Pauses fetching and starts the slow-consumer clock; the queue draining to half resumes. */
  private pause(): void {
    if (this.paused || this.ended) return;
    this.paused = true;
    try {
      this.consumer?.pause([{ topic: this.options.topic }]);
    } catch {
      // the consumer is restarting: onGroupJoin pauses it again
    }
    const ms = this.options.slowConsumerMs ?? DEFAULT_SLOW_CONSUMER_MS;
    this.slowTimer = setTimeout(() => {
      this.fail(
        new SiltError(
          TAIL_SLOW_CONSUMER,
          429,
          true,
          `the client read slower than the tail produced for ${ms} ms with ${this.max} entries buffered; resume from the last event id`,
        ),
      );
    }, ms);
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.slowTimer !== null) clearTimeout(this.slowTimer);
    this.slowTimer = null;
    try {
      this.consumer?.resume([{ topic: this.options.topic }]);
    } catch {
      // the consumer is restarting
    }
  }

  /** Waits (heartbeating) until the queue has room or the tail ends. */
  private async waitForSpace(heartbeat: () => Promise<void>): Promise<void> {
    this.pause();
    while (!this.ended && this.length >= this.max) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.spaceWaiter = null;
          resolve();
        }, SPACE_WAIT_TICK_MS);
        this.spaceWaiter = () => {
          clearTimeout(timer);
          this.spaceWaiter = null;
          resolve();
        };
      });
      if (!this.ended && this.length >= this.max) await heartbeat().catch(() => undefined);
    }
  }

  private take(): TailEntry {
    const entry = this.queue[this.head]!;
    (this.queue as (TailEntry | undefined)[])[this.head] = undefined;
    this.head++;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    const left = this.length;
    if (left < this.max) this.spaceWaiter?.();
    if (this.paused && left <= this.max >> 1) this.resume();
    return entry;
  }

  next(): Promise<IteratorResult<TailEntry>> {
    if (this.length > 0) return Promise.resolve({ value: this.take(), done: false });
    if (this.ending !== null) {
      const error = this.ending.error;
      if (error !== null) {
        this.ending.error = null;
        return Promise.reject(error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    if (this.reader !== null) return Promise.reject(new Error('tail: next() called while another next() is pending'));
    return new Promise((resolve, reject) => (this.reader = { resolve, reject }));
  }

  async return(): Promise<IteratorResult<TailEntry>> {
    this.end(null);
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<TailEntry> {
    return this;
  }

  /** Ends the tail with an error its reader receives next (buffered entries are dropped). */
  fail(error: SiltError): void {
    this.end(error);
  }

  /** Ends the tail: the reader gets `error` (or done), the consumer is disconnected. Idempotent. */
  end(error: SiltError | null): void {
    if (this.ending !== null) return;
    this.ending = { error };
    this.queue.length = 0;
    this.head = 0;
    if (this.slowTimer !== null) clearTimeout(this.slowTimer);
    this.slowTimer = null;
    this.spaceWaiter?.();
    this.joinWaiter?.reject(error ?? abortedError());
    const reader = this.reader;
    if (reader !== null) {
      this.reader = null;
      if (error !== null) {
        this.ending.error = null;
        reader.reject(error);
      } else {
        reader.resolve({ value: undefined, done: true });
      }
    }
    this.onEnd(this);
    this.resolveFinished();
    void this.disconnect();
  }

  private async disconnect(): Promise<void> {
    if (this.disconnecting) return;
    this.disconnecting = true;
    try {
      // Disconnecting while connect() or run() is still under way would leave connections behind
      // (or kafkajs free to restart the consumer): let them finish first.
      await this.connecting.catch(() => undefined);
      await this.subscribing.catch(() => undefined);
      await this.runPromise.catch(() => undefined);
      await this.consumer?.disconnect();
    } catch (err) {
      this.options.logger.warn('tail: consumer disconnect failed', { groupId: this.groupId, err: describe(err) });
    } finally {
      this.resolveClosed();
    }
  }

  /** For tests and logs. */
  get isJoined(): boolean {
    return this.joined;
  }
}

/** Runs live tails over the logs topic; one per client, each with its own Kafka consumer. */
export class TailEngine {
  private readonly tails = new Set<Tail>();
  private admin: Promise<Admin> | null = null;
  private closing = false;

  constructor(private readonly options: TailOptions) {
    if (!Number.isInteger(options.maxBufferedEntries) || options.maxBufferedEntries < 1) throw new RangeError('TailEngine: maxBufferedEntries must be a positive integer');
    if (!Number.isInteger(options.maxTails) || options.maxTails < 0) throw new RangeError('TailEngine: maxTails must be a non-negative integer');
  }

  /**
   * Opens a tail; entries are delivered through the returned async iterator in per-partition Kafka
   * order (so in push order per stream). Rejects with a SiltError: 400 for a bad query, cursor or
   * tenant, 429 when maxTails are open, 503 when Kafka cannot be reached.
   */
  async open(request: TailRequest, signal: AbortSignal): Promise<TailIterator> {
    const retryAfter = this.options.retryAfterSeconds ?? 5;
    if (this.closing) throw shuttingDown();
    if (signal.aborted) throw abortedError();
    if (!TENANT_RE.test(request.tenant)) throw new BadRequestError('SILT_BAD_TENANT', `"${request.tenant.slice(0, 80)}" is not a valid tenant name ([a-zA-Z0-9_.-]{1,64})`);
    const parsed = parseLogQuery(request.query);
    const compiled: CompiledTail = {
      tenant: request.tenant,
      matchers: parsed.matchers.map(compileMatcher),
      lineFilter: compileLineFilter(parsed.filters),
      start: request.start,
    };
    const cursor = request.cursor !== undefined ? decodeTailCursor(request.cursor) : undefined;
    if (this.tails.size >= this.options.maxTails) {
      throw new TooManyRequestsError(TOO_MANY_TAILS, `too many open tails (${this.options.maxTails}); retry later`, retryAfter, { maxTails: this.options.maxTails });
    }
    const tail = new Tail(this.options, compiled, (t) => this.tails.delete(t));
    this.tails.add(tail);
    const onAbort = (): void => tail.end(null);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const positions = await this.startPositions(request.start, cursor);
      if (signal.aborted) throw abortedError();
      if (tail.ended) throw this.closing ? shuttingDown() : abortedError();
      await tail.start(positions, signal);
      if (tail.ended) throw signal.aborted ? abortedError() : shuttingDown();
      this.options.logger.debug('tail opened', { groupId: tail.groupId, tenant: request.tenant, query: request.query });
      return tail;
    } catch (err) {
      signal.removeEventListener('abort', onAbort);
      tail.end(null);
      if (err instanceof SiltError) throw err;
      throw new UnavailableError(`Kafka: ${describe(err)}`, retryAfter);
    } finally {
      // Once open has returned, the abort signal still ends the tail.
      if (!tail.ended) void tail.closed.then(() => signal.removeEventListener('abort', onAbort));
    }
  }

  /** Closes every open tail (shutdown): readers get SILT_SHUTTING_DOWN; resolves once consumers are disconnected. */
  async close(): Promise<void> {
    this.closing = true;
    const tails = [...this.tails];
    for (const tail of tails) tail.fail(shuttingDown());
    await Promise.all(tails.map((t) => t.closed));
    const admin = this.admin;
    this.admin = null;
    if (admin !== null) await admin.then((a) => a.disconnect()).catch(() => undefined);
  }

  /** The logs topic's end offset per partition now: what a storage node's applied offset is measured against for its lag. */
  async topicEnds(): Promise<Map<number, bigint>> {
    const { ends } = await this.topicOffsets();
    return new Map(ends.map((e) => [e.partition, BigInt(e.high)]));
  }

  /** Number of open tails (metrics). */
  size(): number {
    return this.tails.size;
  }

  private getAdmin(): Promise<Admin> {
    if (this.admin === null) {
      const admin = this.options.kafka.admin();
      const connecting = admin.connect().then(() => admin);
      this.admin = connecting;
      connecting.catch(() => {
        if (this.admin === connecting) this.admin = null;
      });
    }
    return this.admin;
  }

  /** The logs topic's offsets per partition now, with the admin client that read them; a 503 when Kafka cannot say. */
  private async topicOffsets(): Promise<{ admin: Admin; ends: { partition: number; high: string; low: string }[] }> {
    try {
      const admin = await this.getAdmin();
      return { admin, ends: await admin.fetchTopicOffsets(this.options.topic) };
    } catch (err) {
      // A dropped connection makes the next call reconnect.
      this.admin = null;
      throw new UnavailableError(`Kafka: cannot read the offsets of ${this.options.topic}: ${describe(err)}`, this.options.retryAfterSeconds ?? 5);
    }
  }

  /** Where each partition starts: its end now, the offsets of `start − slack`, or the cursor's positions. */
  private async startPositions(start: bigint | undefined, cursor: TailCursor | undefined): Promise<TailCursor> {
    const topic = this.options.topic;
    const { admin, ends } = await this.topicOffsets();
    const positions: TailCursor = new Map();
    if (cursor !== undefined) {
      for (const { partition, high, low } of ends) {
        const hi = BigInt(high);
        const lo = BigInt(low);
        const pos = cursor.get(partition);
        if (pos === undefined) positions.set(partition, { offset: hi });
        else if (pos.offset < lo) {
          this.options.logger.warn('tail: cursor older than the retained offsets, resuming at the earliest', { partition, cursor: pos.offset, earliest: lo });
          positions.set(partition, { offset: lo });
        } else if (pos.offset > hi) positions.set(partition, { offset: hi });
        else positions.set(partition, pos);
      }
      return positions;
    }
    if (start !== undefined) {
      const slackNs = BigInt(this.options.startSlackMs ?? DEFAULT_START_SLACK_MS) * 1_000_000n;
      const fromMs = start > slackNs ? (start - slackNs) / 1_000_000n : 0n;
      let byTime: { partition: number; offset: string }[];
      try {
        byTime = await admin.fetchTopicOffsetsByTimestamp(topic, Number(fromMs));
      } catch (err) {
        throw new UnavailableError(`Kafka: cannot find the offsets of ${topic} by time: ${describe(err)}`, this.options.retryAfterSeconds ?? 5);
      }
      for (const { partition, offset } of byTime) positions.set(partition, { offset: BigInt(offset) });
      for (const { partition, high } of ends) if (!positions.has(partition)) positions.set(partition, { offset: BigInt(high) });
      return positions;
    }
    for (const { partition, high } of ends) positions.set(partition, { offset: BigInt(high) });
    return positions;
  }
}
