/**
 * The per-partition batcher: collects accepted entries into one open block per (partition, tenant),
 * seals it after `lingerMs` or at a size cap, and hands sealed blocks to one sender loop that
 * produces several blocks per Kafka request. A push awaits every block that holds its entries.
 */
import type { BlockEntry, BlockInput, BlockStreamInput } from '../../core/src/block-format';
import { UnavailableError } from '../../core/src/errors';
import type { Labels } from '../../core/src/labels';
import type { PayloadRun } from '../../core/src/payload-run';

/** A block ready for Kafka, as the sender sees it. */
export interface OutgoingBlock {
  partition: number;
  value: Buffer;
}

/** Produces blocks to Kafka; resolves with each block's offset, in the order given. */
export interface BlockSender {
  send(blocks: readonly OutgoingBlock[]): Promise<bigint[]>;
}

/** Batching limits; see IngestSettings for their meaning. */
export interface BatcherOptions {
  lingerMs: number;
  maxBlockBytes: number;
  maxBlockEntries: number;
  maxRequestBytes: number;
  maxPendingBytes: number;
  retryAfterSeconds: number;
  /**
   * Turns a sealed block's content into its bytes (the block codec, injected so tests can count
   * calls): at once, or later (compressed on another thread). Blocks are sent in the order sealed.
   */
  encode: (input: BlockInput) => Buffer | Promise<Buffer>;
  /** Called once per sealed block, for metrics. */
  onSealed?: (rawBytes: number, encodedBytes: number, entries: number) => void;
  /** Called once per Kafka request, with its duration and outcome, for metrics. */
  onSent?: (seconds: number, ok: boolean) => void;
}

/** One block in the making or on its way to Kafka; pushes wait on `done`. */
export class PendingBlock {
  readonly partition: number;
  readonly tenant: string;
  /** Streams by canonical label key, in first-seen order. */
  readonly streams = new Map<string, BlockStreamInput>();
  rawBytes = 0;
  entryCount = 0;
  sealed = false;
  released = false;
  /** The encoded block; null until its encoding finished. */
  value: Buffer | null = null;
  /** Pushes still waiting for this block; a queued block nobody waits for is not sent. */
  waiters = 0;
  timer: NodeJS.Timeout | null = null;
  readonly done: Promise<bigint>;
  resolve!: (offset: bigint) => void;
  reject!: (err: Error) => void;

  constructor(partition: number, tenant: string) {
    this.partition = partition;
    this.tenant = tenant;
    this.done = new Promise<bigint>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // A push that gave up (timeout) no longer listens; the rejection must not become unhandled.
    this.done.catch(() => undefined);
  }
}

/** Rough per-entry overhead in the block (timestamp, lengths), so tiny lines still count toward the cap. */
const ENTRY_OVERHEAD = 12;

/** Batches entries into blocks and sends them; see the module comment. */
export class Batcher {
  private readonly open = new Map<string, PendingBlock>();
  private readonly queue: PendingBlock[] = [];
  private pendingBytes = 0;
  private sending = false;
  private closed = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly sender: BlockSender,
    private readonly options: BatcherOptions,
  ) {}

  /** Raw bytes accepted but not yet acknowledged by Kafka. */
  get pending(): number {
    return this.pendingBytes;
  }

  /**
   * Refuses with a retriable 503 when `bytes` more would exceed the pending cap, so memory stays
   * bounded while Kafka is slow or down.
   */
  admit(bytes: number): void {
    if (this.closed) throw new UnavailableError('ingest is shutting down', this.options.retryAfterSeconds);
    if (this.pendingBytes > 0 && this.pendingBytes + bytes > this.options.maxPendingBytes) {
      throw new UnavailableError(
        `${this.pendingBytes} bytes are waiting for Kafka, over the ${this.options.maxPendingBytes}-byte limit`,
        this.options.retryAfterSeconds,
        { pendingBytes: this.pendingBytes },
      );
    }
  }

  /**
   * Adds one stream's entries bound for `partition`, puts the blocks that will hold them into `into`,
   * and returns their line bytes (UTF-8). `knownLineBytes`, when the protocol counted them, lets a
   * stream that fits the open block go in without each entry being read again.
   */
  add(partition: number, tenant: string, key: string, labels: Labels, entries: readonly BlockEntry[], into: Set<PendingBlock>, knownLineBytes?: number): number {
    const slot = `${partition}\0${tenant}`;
    let block = this.open.get(slot) ?? this.openBlock(slot, partition, tenant);
    let stream = this.streamOf(block, key, labels);
    if (knownLineBytes !== undefined) {
      const n = entries.length;
      const size = knownLineBytes + n * ENTRY_OVERHEAD;
      // Then the loop below would seal nothing either: its outcome, without its reads.
      if (block.rawBytes + size <= this.options.maxBlockBytes && block.entryCount + n <= this.options.maxBlockEntries) {
        const out = stream.entries;
        for (let i = 0; i < n; i++) out.push(entries[i]!);
        block.rawBytes += size;
        block.entryCount += n;
        this.pendingBytes += size;
        this.register(block, into);
        return knownLineBytes;
      }
    }
    let lineBytes = 0;
    for (const entry of entries) {
      const bytes = Buffer.byteLength(entry.line);
      lineBytes += bytes;
      const size = bytes + ENTRY_OVERHEAD;
      if (block.entryCount > 0 && (block.rawBytes + size > this.options.maxBlockBytes || block.entryCount >= this.options.maxBlockEntries)) {
        this.register(block, into);
        this.seal(slot, block);
        block = this.openBlock(slot, partition, tenant);
        stream = this.streamOf(block, key, labels);
      }
      stream.entries.push(entry);
      block.rawBytes += size;
      block.entryCount++;
      this.pendingBytes += size;
    }
    this.register(block, into);
    return lineBytes;
  }

  /**
   * Adds one stream's entries already in the payload format (see core/src/payload-run.ts), as
   * `add` adds objects: a run goes whole into a block, so a block is cut between runs.
   */
  addRuns(partition: number, tenant: string, key: string, labels: Labels, runs: readonly PayloadRun[], into: Set<PendingBlock>): number {
    const slot = `${partition}\0${tenant}`;
    let block = this.open.get(slot) ?? this.openBlock(slot, partition, tenant);
    let stream = this.streamOf(block, key, labels);
    let lineBytes = 0;
    for (const run of runs) {
      const size = run.lineBytes + run.entries * ENTRY_OVERHEAD;
      lineBytes += run.lineBytes;
      if (block.entryCount > 0 && (block.rawBytes + size > this.options.maxBlockBytes || block.entryCount + run.entries > this.options.maxBlockEntries)) {
        this.register(block, into);
        this.seal(slot, block);
        block = this.openBlock(slot, partition, tenant);
        stream = this.streamOf(block, key, labels);
      }
      (stream.runs ??= []).push({ at: stream.entries.length, run });
      block.rawBytes += size;
      block.entryCount += run.entries;
      this.pendingBytes += size;
    }
    this.register(block, into);
    return lineBytes;
  }

  /** Tells the batcher a push stopped waiting (it timed out), so blocks nobody needs are not sent late. */
  abandon(blocks: Iterable<PendingBlock>): void {
    for (const b of blocks) b.waiters--;
  }

  /** Seals every open block now and resolves when nothing is queued or in flight. */
  async flush(): Promise<void> {
    for (const [slot, block] of [...this.open]) this.seal(slot, block);
    if (!this.sending && this.queue.length === 0) return;
    await new Promise<void>((res) => this.idle.push(res));
  }

  /** Stops accepting, sends what is open, and waits for it. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private register(block: PendingBlock, into: Set<PendingBlock>): void {
    if (!into.has(block)) {
      into.add(block);
      block.waiters++;
    }
  }

  private openBlock(slot: string, partition: number, tenant: string): PendingBlock {
    const block = new PendingBlock(partition, tenant);
    this.open.set(slot, block);
    block.timer = setTimeout(() => this.seal(slot, block), this.options.lingerMs);
    return block;
  }

  private streamOf(block: PendingBlock, key: string, labels: Labels): BlockStreamInput {
    let s = block.streams.get(key);
    if (!s) {
      s = { labels, entries: [] };
      block.streams.set(key, s);
    }
    return s;
  }

  private seal(slot: string, block: PendingBlock): void {
    if (this.open.get(slot) === block) this.open.delete(slot);
    if (block.timer) clearTimeout(block.timer);
    block.timer = null;
    if (block.sealed) return;
    block.sealed = true;
    const value = this.options.encode({ tenant: block.tenant, streams: [...block.streams.values()] });
    // The entries now live in the encoding (its bytes, or its serialized payload); drop the objects early to bound memory.
    block.streams.clear();
    this.queue.push(block);
    if (!(value instanceof Promise)) return this.encoded(block, value);
    value.then(
      (bytes) => this.encoded(block, bytes),
      (err: Error) => {
        const at = this.queue.indexOf(block);
        if (at >= 0) this.queue.splice(at, 1);
        this.release(block);
        block.reject(new UnavailableError(`a block could not be encoded: ${err.message}`, this.options.retryAfterSeconds));
        this.pump();
      },
    );
  }

  private encoded(block: PendingBlock, value: Buffer): void {
    if (block.released) return;
    block.value = value;
    this.options.onSealed?.(block.rawBytes, value.length, block.entryCount);
    this.pump();
  }

  /** Runs one Kafka request at a time (the idempotent producer allows one in flight), batching queued blocks. */
  private pump(): void {
    if (this.sending) return;
    const batch: PendingBlock[] = [];
    let bytes = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (next.waiters <= 0) {
        this.queue.shift();
        this.release(next);
        next.reject(new UnavailableError('no push waits for this block any more', this.options.retryAfterSeconds));
        continue;
      }
      // Still being encoded: it and the blocks sealed after it wait, so partitions keep their order.
      if (next.value === null) break;
      if (batch.length > 0 && bytes + next.value!.length > this.options.maxRequestBytes) break;
      batch.push(this.queue.shift()!);
      bytes += next.value!.length;
    }
    if (batch.length === 0) {
      if (this.queue.length === 0) for (const res of this.idle.splice(0)) res();
      return;
    }
    this.sending = true;
    const started = process.hrtime.bigint();
    const finish = (ok: boolean): void => {
      this.options.onSent?.(Number(process.hrtime.bigint() - started) / 1e9, ok);
      for (const b of batch) this.release(b);
      this.sending = false;
      this.pump();
    };
    this.sender.send(batch.map((b) => ({ partition: b.partition, value: b.value! }))).then(
      (offsets) => {
        batch.forEach((b, i) => b.resolve(offsets[i]!));
        finish(true);
      },
      (err: Error) => {
        for (const b of batch) b.reject(err);
        finish(false);
      },
    );
  }

  private release(block: PendingBlock): void {
    if (block.released) return;
    block.released = true;
    this.pendingBytes -= block.rawBytes;
    block.value = Buffer.alloc(0);
  }
}
