/**
 * The distributor: the one place every protocol's parsed push goes through. It partitions each
 * stream, batches entries into per-partition blocks, waits until Kafka acknowledged every block that
 * holds an entry of the push (or answers 503 after `ackTimeoutMs`), counts the outcome, and builds
 * the write token. Protocol routes and the syslog listener call `push` and only shape the reply.
 */
import { assembleBlock, encodeBlock, rawLengthsOf, serializeBlock, type BlockInput } from '../../core/src/block-format';
import type { IngestSettings } from '../../core/src/config';
import { ConfigError, SiltError, UnavailableError } from '../../core/src/errors';
import { parseLabelSet } from '../../core/src/label-set';
import { labelsKey, streamId } from '../../core/src/labels';
import { encodeWriteToken, type WriteOffsets } from '../../core/src/write-token';
import { FramePool } from '../../core/src/zstd-pool';
import { Batcher, type BlockSender, type PendingBlock } from './batcher';
import type { IngestMetrics } from './metrics';
import { Partitioner, spreadKey } from './partitioner';
import type { ParsedPush, PushLimits, Rejection } from './push/builder';
import { applyPushHooks, lineBytesOf, pushSize, type PushHooks } from './push/plugin-streams';

/** What a push came to: entries made durable, the rejections (all of them), and the write token. */
export interface PushOutcome {
  accepted: number;
  rejected: Rejection[];
  /** Opaque write token (partition → offset) of the blocks holding the accepted entries. */
  token: string;
}

/** Canonical keys of `ingest.spreadStreams`, whatever label order the operator wrote. */
function parseSpreadStreams(list: readonly string[]): string[] {
  return list.map((item) => {
    const slash = item.indexOf('/');
    if (slash <= 0) throw new ConfigError(`ingest.spreadStreams: "${item}" must be tenant/{labels}`);
    return spreadKey(item.slice(0, slash), parseLabelSet(item.slice(slash + 1)));
  });
}

/** Partitions, batches and produces parsed pushes; see the module comment. */
export class Distributor {
  private readonly batcher: Batcher;
  private readonly partitioner: Partitioner;
  /** Threads compressing sealed blocks; null when `compressionThreads` is 0 (compressed on the event loop). */
  private readonly pool: FramePool | null;

  constructor(
    private readonly s: IngestSettings,
    partitions: number,
    sender: BlockSender,
    private readonly metrics: IngestMetrics,
    /** The plugins' push hooks with the limits that labels a hook rewrote are checked against again; none when no plugin is loaded. */
    private readonly hooks?: { hooks: PushHooks; limitsFor: (tenant: string) => PushLimits },
  ) {
    this.partitioner = new Partitioner(partitions, parseSpreadStreams(s.spreadStreams));
    const pool = (this.pool = s.compressionThreads > 0 ? new FramePool(s.compressionThreads) : null);
    const level = s.zstdLevel;
    // The payloads are written here (they read the entries); only their compression moves to a thread.
    const encode =
      pool === null
        ? (input: BlockInput) => encodeBlock(input, { level })
        : (input: BlockInput) => {
            const block = serializeBlock(input);
            return pool.compress(block.payload, rawLengthsOf(block), level).then((frames) => assembleBlock(block, frames));
          };
    this.batcher = new Batcher(sender, {
      lingerMs: s.lingerMs,
      maxBlockBytes: s.maxBlockBytes,
      maxBlockEntries: s.maxBlockEntries,
      maxRequestBytes: s.maxRequestBytes,
      maxPendingBytes: s.maxPendingBytes,
      retryAfterSeconds: s.retryAfterSeconds,
      encode,
      onSealed: (raw, encoded) => {
        metrics.blocks.inc();
        metrics.blockRawBytes.inc(raw);
        metrics.blockCompressedBytes.inc(encoded);
      },
      onSent: (seconds, ok) => metrics.produceLatency.observe({ outcome: ok ? 'ok' : 'error' }, seconds),
    });
  }

  /** Raw bytes accepted but not yet acknowledged by Kafka. */
  get pendingBytes(): number {
    return this.batcher.pending;
  }

  /** True while more bytes wait for Kafka than the pending cap allows: a listener without acknowledgements (syslog) stops reading. */
  get saturated(): boolean {
    return this.batcher.pending >= this.s.maxPendingBytes;
  }

  /**
   * Refuses a push of `tenant` at once, before its body of `bytes` is decoded or parsed: a 429 when
   * a plugin's `beforePush` says so (a tenant still inside the Retry-After it was given), a 503 when
   * `bytes` more would pass the pending cap — so a refused push costs no parsing work.
   */
  admit(tenant: string, bytes: number): void {
    this.hooks?.hooks.beforePush(tenant);
    this.batcher.admit(bytes);
  }

  /**
   * Makes the accepted entries of `parsed` durable for `tenant` and resolves once Kafka acknowledged
   * all of them; throws a 503 `UnavailableError` when it cannot. The plugins see it first: their
   * `admitPush` may refuse it (a 429 over a rate limit), their `onPush` change it. `sizeHint` is the
   * push's size as received (for admission). Every rejection is counted by reason.
   */
  async push(tenant: string, received: ParsedPush, sizeHint: number): Promise<PushOutcome> {
    let parsed = received;
    if (this.hooks !== undefined && parsed.accepted > 0) {
      const { hooks, limitsFor } = this.hooks;
      hooks.admitPush(tenant, pushSize(parsed));
      if (hooks.hasPushHooks(tenant)) parsed = await applyPushHooks(tenant, parsed, hooks, limitsFor(tenant));
    }
    for (const r of parsed.rejected) this.metrics.rejections.inc({ reason: r.code });
    let token: WriteOffsets = new Map();
    if (parsed.accepted > 0) {
      // Counted in one tight pass per stream, a stream that fits its open block is added whole (batcher.ts), not entry by entry.
      lineBytesOf(parsed);
      this.batcher.admit(sizeHint);
      const blocks = new Set<PendingBlock>();
      let bytes = 0;
      const { streams, lineBytes } = parsed;
      for (let i = 0; i < streams.length; i++) {
        const stream = streams[i]!;
        const key = labelsKey(stream.labels);
        const partition = this.partitioner.partition(tenant, key, streamId(tenant, stream.labels));
        bytes +=
          stream.runs === undefined
            ? this.batcher.add(partition, tenant, key, stream.labels, stream.entries, blocks, lineBytes?.[i])
            : this.batcher.addRuns(partition, tenant, key, stream.labels, stream.runs, blocks);
      }
      token = await this.awaitBlocks(blocks);
      this.metrics.entriesAccepted.inc({ tenant }, parsed.accepted);
      this.metrics.bytesAccepted.inc({ tenant }, bytes);
    }
    return { accepted: parsed.accepted, rejected: parsed.rejected, token: encodeWriteToken(token) };
  }

  /** Seals and sends what is open, refuses new pushes, waits for what is in flight, and stops the compression threads. */
  async close(): Promise<void> {
    try {
      await this.batcher.close();
    } finally {
      await this.pool?.close();
    }
  }

  /** Waits until Kafka acknowledged every block, or answers 503 once `ackTimeoutMs` passes. */
  private async awaitBlocks(blocks: Set<PendingBlock>): Promise<WriteOffsets> {
    const s = this.s;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_res, rej) => {
      timer = setTimeout(
        () => rej(new UnavailableError(`Kafka did not acknowledge within ${s.ackTimeoutMs} ms`, s.retryAfterSeconds)),
        s.ackTimeoutMs,
      );
    });
    try {
      const list = [...blocks];
      const offsets = await Promise.race([Promise.all(list.map((b) => b.done)), timeout]);
      const token: WriteOffsets = new Map();
      list.forEach((b, i) => {
        const cur = token.get(b.partition);
        if (cur === undefined || offsets[i]! > cur) token.set(b.partition, offsets[i]!);
      });
      return token;
    } catch (err) {
      this.batcher.abandon(blocks);
      if (err instanceof SiltError && err.status === 503) throw err;
      throw new UnavailableError(`Kafka did not acknowledge: ${(err as Error).message}`, s.retryAfterSeconds);
    } finally {
      clearTimeout(timer);
    }
  }
}
