/**
 * Pushing: one push of streams (`POST /api/v1/push`, gzip above a few KiB), and a batching pusher
 * that gathers entries into pushes of bounded entries and bytes, keeps a bounded queue (its `add`
 * waits while the queue is full), sends a few pushes at once, and retries as the transport does.
 */
import { errorFrom, type Transport } from './http';
import type { TimeInput } from './time';

/** One entry to push. `ts` defaults to the time the server receives it. */
export interface PushEntry {
  ts?: TimeInput;
  line: string;
  attrs?: Record<string, string>;
}

/** A stream's entries. */
export interface PushStream {
  labels: Record<string, string>;
  entries: PushEntry[];
}

/** An entry rejected by the server: the stream and entry index in the push, and why. */
export interface Rejection {
  stream: number;
  entry: number;
  code: string;
  reason: string;
}

/** What the server answered a push: entries stored, those rejected, and the write token (read-your-writes). */
export interface PushResult {
  accepted: number;
  rejected: Rejection[];
  token: string;
}

/** Bodies at least this large are sent gzipped. */
const GZIP_FROM_BYTES = 4096;

function tsText(ts: TimeInput): string {
  if (ts instanceof Date) return ts.toISOString();
  return typeof ts === 'bigint' ? ts.toString() : ts;
}

/** The native JSON body of `streams`. */
export function pushBody(streams: readonly PushStream[]): string {
  return JSON.stringify({
    streams: streams.map((s) => ({
      labels: s.labels,
      entries: s.entries.map((e) => {
        const out: { ts?: string; line: string; attrs?: Record<string, string> } = { line: e.line };
        if (e.ts !== undefined) out.ts = tsText(e.ts);
        if (e.attrs !== undefined) out.attrs = e.attrs;
        return out;
      }),
    })),
  });
}

async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Sends one push; a 400 that stored some entries resolves with the rejections, one that stored none throws. */
export async function pushStreams(transport: Transport, streams: readonly PushStream[], signal?: AbortSignal): Promise<PushResult> {
  const text = pushBody(streams);
  const zipped = text.length >= GZIP_FROM_BYTES;
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (zipped) headers['Content-Encoding'] = 'gzip';
  const body = zipped ? await gzip(text) : text;
  // A 400 that names rejected entries stored the valid ones: it is an answer, not a failure.
  const res = await transport.send({ method: 'POST', path: '/api/v1/push', headers, body, signal, answers: [400] });
  const answer = await res.text();
  if (res.status === 400) {
    let parsed: Partial<PushResult> = {};
    try {
      parsed = JSON.parse(answer) as Partial<PushResult>;
    } catch {
      // Not a push answer: an error.
    }
    if (typeof parsed.accepted !== 'number' || !Array.isArray(parsed.rejected)) throw errorFrom(res, answer);
  }
  return JSON.parse(answer) as PushResult;
}

/** Settings of a batching pusher. */
export interface BatchOptions {
  /** Entries per push (default 1000). */
  batchEntries?: number;
  /** Bytes of lines per push (default 1 MiB). */
  batchBytes?: number;
  /** A batch not full is sent after this long (ms, default 1000). */
  flushIntervalMs?: number;
  /** Entries held in memory at most, batches waiting and in flight included (default 100,000): `add` waits beyond. */
  maxQueuedEntries?: number;
  /** Pushes in flight at once (default 2). */
  concurrency?: number;
}

/** What a pusher has done so far. */
export interface PushTotals {
  accepted: number;
  rejected: Rejection[];
  pushes: number;
  bytes: number;
}

interface Batch {
  streams: Map<string, PushStream>;
  entries: number;
  bytes: number;
}

const emptyBatch = (): Batch => ({ streams: new Map(), entries: 0, bytes: 0 });

/** Gathers entries into pushes; see the module comment. The first push that fails for good fails `flush` and `close`, and every `add` after it. */
export class BatchingPusher {
  readonly totals: PushTotals = { accepted: 0, rejected: [], pushes: 0, bytes: 0 };
  private batch = emptyBatch();
  private readonly waiting: Batch[] = [];
  private inFlight = 0;
  private queued = 0;
  private failure: unknown = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly roomWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly o: Required<BatchOptions>;

  constructor(
    private readonly transport: Transport,
    options: BatchOptions = {},
    /** Each push's token, as it is acknowledged (the client keeps the latest for read-your-writes). */
    private readonly onToken: (token: string) => void = () => undefined,
  ) {
    this.o = { batchEntries: 1000, batchBytes: 1 << 20, flushIntervalMs: 1000, maxQueuedEntries: 100_000, concurrency: 2, ...options };
  }

  /** Adds one entry of the stream `labels`; resolves once it is queued (at once unless the queue is full). */
  async add(labels: Record<string, string>, entry: PushEntry): Promise<void> {
    if (this.failure !== null) throw this.failure;
    while (this.queued >= this.o.maxQueuedEntries) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      if (this.failure !== null) throw this.failure;
    }
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let stream = this.batch.streams.get(key);
    if (stream === undefined) this.batch.streams.set(key, (stream = { labels, entries: [] }));
    stream.entries.push(entry);
    this.batch.entries++;
    this.batch.bytes += entry.line.length;
    this.queued++;
    if (this.batch.entries >= this.o.batchEntries || this.batch.bytes >= this.o.batchBytes) this.seal();
    else this.timer ??= setTimeout(() => this.seal(), this.o.flushIntervalMs);
  }

  /** Sends what is gathered and resolves once every push so far is acknowledged; rejects with the first failure. */
  async flush(): Promise<PushTotals> {
    this.seal();
    while (this.inFlight > 0 || this.waiting.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (this.failure !== null) throw this.failure;
    return this.totals;
  }

  /** `flush`; the pusher takes nothing after. */
  async close(): Promise<PushTotals> {
    try {
      return await this.flush();
    } finally {
      this.failure ??= new Error('the pusher is closed');
    }
  }

  private seal(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.batch.entries === 0) return;
    this.waiting.push(this.batch);
    this.batch = emptyBatch();
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.o.concurrency && this.waiting.length > 0) {
      const batch = this.waiting.shift()!;
      this.inFlight++;
      void this.sendBatch(batch);
    }
  }

  private async sendBatch(batch: Batch): Promise<void> {
    try {
      if (this.failure === null) {
        const result = await pushStreams(this.transport, [...batch.streams.values()]);
        this.totals.accepted += result.accepted;
        this.totals.rejected.push(...result.rejected);
        this.totals.pushes++;
        this.totals.bytes += batch.bytes;
        this.onToken(result.token);
      }
    } catch (err) {
      this.failure ??= err;
    } finally {
      this.inFlight--;
      this.queued -= batch.entries;
      for (const wake of this.roomWaiters.splice(0)) wake();
      this.pump();
      if (this.inFlight === 0 && this.waiting.length === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }
}
