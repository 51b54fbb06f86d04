/**
 * Scatter/gather over storage nodes: for each partition one node that holds it (one replica group
 * per query, alternating), reads in parallel, a k-way merge by the total entry order, and failover
 * to another replica of a partition when its node errs or times out, resuming strictly after the
 * last entry that node gave, on the same snapshot of Kafka offsets. `limit` is the size of one
 * node's page: a node whose page is full is asked for the next one, so a reader that filters entries
 * further (a log pipeline, a metric query) can read a whole range through pages of bounded size.
 */
import type { NodeAnnouncement } from '../../../core/src/announcement';
import type { NodeReadEntry } from '../../../core/src/node-read';
import { BinaryHeap } from '../../../core/src/binary-heap';
import { labelsKey } from '../../../core/src/labels';
import { SiltError } from '../../../core/src/errors';
import type { Logger } from '../../../core/src/logger';
import { comparePositions, formatOffsets, formatPosition, type EntryPosition } from '../../../core/src/position';
import { decodeWriteToken, encodeWriteToken, mergeWriteOffsets } from '../../../core/src/write-token';
import type { NodeDirectory } from '../directory';
import { nodeRequest } from './node-http';

/** One entry as storage nodes send it. */
export type WireEntry = NodeReadEntry;

/** An entry with its parsed position, as the merge orders it. */
export interface MergedEntry {
  pos: EntryPosition;
  wire: WireEntry;
}

/** What a fanned-out read asks every node. */
export interface FanoutRead {
  tenant: string;
  query: string;
  start: bigint;
  end: bigint;
  direction: 'forward' | 'backward';
  limit: number;
  after?: EntryPosition;
  /** Per partition, read only offsets below this (the cursor's snapshot). */
  snapshot?: Map<number, bigint>;
  /** The client's write token, passed through: each node waits for its own partitions. */
  token?: string;
}

/** Counters of one query, reported in its `stats`. */
export interface FanoutStats {
  entriesScanned: number;
  bytesDecompressed: number;
  nodesAsked: number;
  failovers: number;
  /** When present, receives per partition the applied offset the answering node read at (for the results cache). */
  seen?: Map<number, bigint>;
}

/** Per partition, what changed since an offset: the earliest entry timestamp touched, nothing, or unknown. */
export type PartitionChanges = bigint | 'none' | 'unknown';

/** Fan-out settings. */
export interface FanoutOptions {
  partitions: number;
  /** Sent as `Authorization: Bearer` to storage nodes when set (auth.clusterSecret). */
  clusterSecret?: string;
  nodeTimeoutMs: number;
  logger: Logger;
  onFailover(): void;
  onNodeError(): void;
}

function toMerged(wire: WireEntry): MergedEntry {
  return { wire, pos: { ts: BigInt(wire.ts), streamId: BigInt(wire.sid), partition: wire.p, offset: BigInt(wire.o), frame: wire.f, index: wire.i } };
}

/** Splits a byte stream into lines without holding more than one partial line. */
async function* lines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of body) {
    rest += decoder.decode(chunk, { stream: true });
    let from = 0;
    let nl: number;
    while ((nl = rest.indexOf('\n', from)) >= 0) {
      const line = rest.slice(from, nl);
      from = nl + 1;
      if (line !== '') yield line;
    }
    rest = rest.slice(from);
  }
  rest += decoder.decode();
  if (rest !== '') yield rest;
}

/** The snapshot offset a read of partition `p` is pinned to, by a node that already answered or by the cursor. */
function pinnedOffset(req: FanoutRead, snapshot: Map<number, bigint>, p: number): bigint | undefined {
  return snapshot.get(p) ?? req.snapshot?.get(p);
}

/** Per partition, how many offsets a node must have applied to answer `req` completely (its token and pinned snapshot). */
function needOf(req: FanoutRead, snapshot: Map<number, bigint>): (p: number) => bigint {
  const token = req.token ? decodeWriteToken(req.token) : undefined;
  return (p) => {
    const written = token?.get(p);
    const pinned = pinnedOffset(req, snapshot, p) ?? 0n;
    return written !== undefined && written + 1n > pinned ? written + 1n : pinned;
  };
}

/** Merges ordered streams into one ordered stream; pulls the first item of every stream in parallel. */
export async function* mergeOrdered(streams: AsyncGenerator<MergedEntry>[], forward: boolean): AsyncGenerator<MergedEntry> {
  type Head = { entry: MergedEntry; it: AsyncGenerator<MergedEntry> };
  const heap = new BinaryHeap<Head>(forward ? (a, b) => comparePositions(a.entry.pos, b.entry.pos) < 0 : (a, b) => comparePositions(a.entry.pos, b.entry.pos) > 0);
  try {
    const firsts = await Promise.all(streams.map(async (it) => ({ it, r: await it.next() })));
    for (const { it, r } of firsts) if (!r.done) heap.push({ entry: r.value, it });
    while (heap.size > 0) {
      const head = heap.peek()!;
      yield head.entry;
      const r = await head.it.next();
      if (r.done) heap.pop();
      else {
        head.entry = r.value;
        heap.updateTop();
      }
    }
  } finally {
    // Stop every node read still open (the limit was reached, or the client went away).
    await Promise.all(streams.map((it) => it.return(undefined).catch(() => undefined)));
  }
}

/** The error of a node's non-200 answer: its own code and message; 5xx and 409 (partition moved) are retriable elsewhere. */
function nodeError(node: NodeAnnouncement, status: number, body: { error?: { code?: string; message?: string } } | null): SiltError {
  return new SiltError(body?.error?.code ?? 'SILT_NODE_ERROR', status, status >= 500 || status === 409, `storage node ${node.nodeId}: ${body?.error?.message ?? status}`);
}

/** Reads from storage nodes through the directory; see the module comment. */
export class Fanout {
  private rotation = 0;

  constructor(
    private readonly directory: NodeDirectory,
    private readonly options: FanoutOptions,
  ) {}

  /** Headers of a request to a storage node, on behalf of `tenant` where it is for one. */
  private headers(tenant?: string): Record<string, string> {
    const secret = this.options.clusterSecret;
    return { ...(tenant === undefined ? {} : { 'X-Scope-OrgID': tenant }), ...(secret ? { Authorization: `Bearer ${secret}` } : {}) };
  }

  /**
   * Reads every partition in order. `snapshot` receives, per partition, the applied offset the read
   * is bounded by (for the next page's cursor).
   */
  read(req: FanoutRead, signal: AbortSignal, stats: FanoutStats, snapshot: Map<number, bigint>): AsyncGenerator<MergedEntry> {
    const partitions = Array.from({ length: this.options.partitions }, (_, p) => p);
    const excluded = new Set<string>();
    const preferred = this.rotation++;
    const plan = this.plan(partitions, excluded, preferred, null, needOf(req, snapshot));
    const streams = [...plan].map(([node, ps]) => this.fromNode(node, ps, req, req.after, excluded, preferred, signal, stats, snapshot));
    return mergeOrdered(streams, req.direction === 'forward');
  }

  /**
   * Per partition of `offsets`, the earliest entry timestamp a change at or after its offset
   * touched, asked of every caught-up owner of the partition (a read may go to any of them), the
   * earliest answer winning. `unknown` when no owner can say (none live, one unreachable, or one
   * that began tracking after the offset).
   */
  async changesSince(offsets: ReadonlyMap<number, bigint>, signal: AbortSignal): Promise<Map<number, PartitionChanges>> {
    const out = new Map<number, PartitionChanges>();
    const byNode = new Map<string, { node: NodeAnnouncement; parts: number[] }>();
    for (const p of offsets.keys()) {
      const owners = this.directory.live().filter((n) => n.partitions.some((h) => h.partition === p && !h.catchingUp));
      if (owners.length === 0) out.set(p, 'unknown');
      for (const node of owners) {
        let entry = byNode.get(node.nodeId);
        if (entry === undefined) byNode.set(node.nodeId, (entry = { node, parts: [] }));
        entry.parts.push(p);
      }
    }
    const merge = (p: number, c: PartitionChanges): void => {
      const had = out.get(p);
      if (had === 'unknown' || c === 'unknown') out.set(p, 'unknown');
      else if (had === undefined || had === 'none') out.set(p, c);
      else if (c !== 'none' && c < had) out.set(p, c);
    };
    await Promise.all(
      [...byNode.values()].map(async ({ node, parts }) => {
        const since = parts.map((p) => `${p}:${offsets.get(p)!}`).join(',');
        try {
          const res = await nodeRequest(`${node.url}/internal/v1/changes?since=${since}`, { headers: this.headers(), signal });
          const body = (await res.json()) as { partitions?: Record<string, { earliest?: string; none?: true; unknown?: true }> };
          if (res.status !== 200) throw new Error(`status ${res.status}`);
          for (const p of parts) {
            const c = body.partitions?.[p];
            merge(p, c?.earliest !== undefined ? BigInt(c.earliest) : c?.none === true ? 'none' : 'unknown');
          }
        } catch (err) {
          if (signal.aborted) throw err;
          for (const p of parts) merge(p, 'unknown');
        }
      }),
    );
    return out;
  }

  /** The label sets of a tenant's streams matching any of `matches` (every stream when empty), from one replica per partition. */
  async series(tenant: string, matches: string[], start: bigint, end: bigint, signal: AbortSignal, stats: FanoutStats): Promise<Record<string, string>[]> {
    const found = new Map<string, Record<string, string>>();
    await this.askEach(signal, stats, async (node, ps, nodeSignal) => {
      const params = new URLSearchParams({ start: start.toString(), end: end.toString(), partitions: ps.join(',') });
      for (const m of matches) params.append('match', m);
      const res = await nodeRequest(`${node.url}/internal/v1/series?${params}`, { headers: this.headers(tenant), signal: nodeSignal });
      const body = (await res.json()) as { series?: Record<string, string>[]; error?: { code: string; message: string } };
      if (res.status !== 200) throw nodeError(node, res.status, body);
      return () => {
        for (const labels of body.series ?? []) found.set(labelsKey(labels), labels);
      };
    });
    return [...found.values()];
  }

  /**
   * Asks every partition's chosen node for its partial aggregate of one range aggregation
   * (`POST /internal/v1/aggregate` with `body` plus the node's partitions) and hands each complete
   * answer's partials to `take`. A node that fails contributes nothing: its partitions are asked
   * again of another replica, whole, since partials cannot resume mid-way.
   */
  async aggregate(tenant: string, body: Record<string, unknown>, token: string | undefined, signal: AbortSignal, stats: FanoutStats, take: (partials: unknown) => void): Promise<void> {
    const need = token ? needOf({ token } as FanoutRead, new Map()) : undefined;
    await this.askEach(
      signal,
      stats,
      async (node, ps, nodeSignal) => {
        const res = await nodeRequest(`${node.url}/internal/v1/aggregate`, {
          method: 'POST',
          headers: this.headers(tenant),
          body: JSON.stringify({ ...body, partitions: ps.join(','), ...(token ? { token } : {}) }),
          signal: nodeSignal,
        });
        const answer = (await res.json()) as {
          applied?: Record<string, string>;
          partials?: unknown;
          stats?: { entriesScanned: number; bytesDecompressed: number };
          error?: { code: string; message: string };
        };
        if (res.status !== 200) throw nodeError(node, res.status, answer);
        return () => {
          if (stats.seen) {
            // A query of several range aggregations reads each on its own: the earliest offset seen is what all of it saw.
            for (const [p, o] of Object.entries(answer.applied ?? {})) {
              const had = stats.seen.get(Number(p));
              if (had === undefined || BigInt(o) < had) stats.seen.set(Number(p), BigInt(o));
            }
          }
          stats.entriesScanned += answer.stats?.entriesScanned ?? 0;
          stats.bytesDecompressed += answer.stats?.bytesDecompressed ?? 0;
          take(answer.partials);
        };
      },
      need,
    );
  }

  /**
   * Runs `call` once per node of a plan over every partition, each with its partitions, in
   * parallel; what a call returns is applied only once the whole answer arrived. A failed node is
   * excluded and its partitions planned again; a 400 or 422 (the request itself is wrong) fails at once.
   */
  private async askEach(
    signal: AbortSignal,
    stats: FanoutStats,
    call: (node: NodeAnnouncement, partitions: number[], nodeSignal: AbortSignal) => Promise<() => void>,
    need?: (p: number) => bigint,
  ): Promise<void> {
    const excluded = new Set<string>();
    const preferred = this.rotation++;
    let pending = this.plan(Array.from({ length: this.options.partitions }, (_, p) => p), excluded, preferred, null, need);
    while (pending.size > 0) {
      const retry: number[] = [];
      let lastError: SiltError | null = null;
      await Promise.all(
        [...pending].map(async ([node, ps]) => {
          stats.nodesAsked++;
          try {
            const apply = await call(node, ps, AbortSignal.any([signal, AbortSignal.timeout(this.options.nodeTimeoutMs)]));
            apply();
          } catch (err) {
            if (signal.aborted) throw err;
            if (err instanceof SiltError && (err.status === 400 || err.status === 422)) throw err;
            this.options.onNodeError();
            this.options.onFailover();
            stats.failovers++;
            excluded.add(node.nodeId);
            lastError = err instanceof SiltError ? err : new SiltError('SILT_NODE_ERROR', 503, true, `storage node ${node.nodeId}: ${(err as Error).message}`);
            this.options.logger.warn('storage node request failed; failing over', { node: node.nodeId, partitions: ps, code: lastError.code, err: lastError.message });
            retry.push(...ps);
          }
        }),
      );
      pending = retry.length > 0 ? this.plan(retry, excluded, preferred, lastError, need) : new Map();
    }
  }

  /** Picks, per partition, a caught-up holder, preferring one replica group per query so a query asks few nodes. */
  private plan(partitions: number[], excluded: Set<string>, preferred: number, lastError: SiltError | null, need: (p: number) => bigint = () => 0n): Map<NodeAnnouncement, number[]> {
    const byNode = new Map<string, { node: NodeAnnouncement; ps: number[] }>();
    for (const p of partitions) {
      const holders = this.directory.holders(p, excluded, need(p));
      if (holders.length === 0) {
        if (lastError) throw lastError;
        throw new SiltError('SILT_NO_REPLICA', 503, true, `no ready storage node holds partition ${p}`, { partition: p });
      }
      const groups = [...new Set(holders.map((h) => h.node.replicaGroup))].sort((a, b) => a - b);
      const group = groups[preferred % groups.length];
      // Handover bridges come furthest first: the one that applied the most is the one to ask.
      const pick = holders[0]!.handover ? holders[0]! : holders.filter((h) => h.node.replicaGroup === group).sort((a, b) => (a.node.nodeId < b.node.nodeId ? -1 : 1))[0]!;
      const slot = byNode.get(pick.node.nodeId) ?? { node: pick.node, ps: [] };
      slot.ps.push(p);
      byNode.set(pick.node.nodeId, slot);
    }
    return new Map([...byNode.values()].map((s) => [s.node, s.ps]));
  }

  /** One node's ordered entries for `partitions`, page after page, failing over (recursively, per partition) on error. */
  private async *fromNode(
    node: NodeAnnouncement,
    partitions: number[],
    req: FanoutRead,
    after: EntryPosition | undefined,
    excluded: Set<string>,
    preferred: number,
    signal: AbortSignal,
    stats: FanoutStats,
    snapshot: Map<number, bigint>,
  ): AsyncGenerator<MergedEntry> {
    let last = after;
    try {
      // A node answers at most `limit` entries a read: a full page may have more behind it, on the same snapshot.
      for (let page = req.limit; page === req.limit; ) {
        page = 0;
        for await (const entry of this.readNode(node, partitions, req, last, signal, stats, snapshot)) {
          last = entry.pos;
          page++;
          yield entry;
        }
      }
      return;
    } catch (err) {
      if (signal.aborted) throw err;
      const silt = err instanceof SiltError ? err : new SiltError('SILT_NODE_ERROR', 503, true, `storage node ${node.nodeId}: ${(err as Error).message}`);
      // A request the node refused as malformed would be refused by every replica.
      if (silt.status === 400 || silt.status === 422) throw silt;
      this.options.onNodeError();
      this.options.onFailover();
      stats.failovers++;
      this.options.logger.warn('storage node read failed; failing over', { node: node.nodeId, partitions, code: silt.code, err: silt.message });
      excluded.add(node.nodeId);
      const plan = this.plan(partitions, excluded, preferred, silt, needOf(req, snapshot));
      const streams = [...plan].map(([n, ps]) => this.fromNode(n, ps, req, last, excluded, preferred, signal, stats, snapshot));
      yield* mergeOrdered(streams, req.direction === 'forward');
    }
  }

  /** One HTTP read of one node, yielding its entries; throws on any sign the answer is incomplete. */
  private async *readNode(
    node: NodeAnnouncement,
    partitions: number[],
    req: FanoutRead,
    after: EntryPosition | undefined,
    signal: AbortSignal,
    stats: FanoutStats,
    snapshot: Map<number, bigint>,
  ): AsyncGenerator<MergedEntry> {
    const params = new URLSearchParams({
      query: req.query,
      start: req.start.toString(),
      end: req.end.toString(),
      direction: req.direction,
      limit: String(req.limit),
      partitions: partitions.join(','),
    });
    if (after) params.set('after', formatPosition(after));
    // Partitions already pinned (by the cursor, or by a node that failed after answering) keep their
    // offsets, and the replacement must have applied them first: that is what a token asks.
    const pinned = new Map<number, bigint>();
    for (const p of partitions) {
      const o = pinnedOffset(req, snapshot, p);
      if (o !== undefined) pinned.set(p, o);
    }
    if (pinned.size > 0) params.set('snapshot', formatOffsets(pinned));
    const waitFor = new Map([...pinned].filter(([, o]) => o > 0n).map(([p, o]) => [p, o - 1n]));
    if (req.token) mergeWriteOffsets(waitFor, decodeWriteToken(req.token));
    if (waitFor.size > 0) params.set('token', encodeWriteToken(waitFor));

    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    signal.addEventListener('abort', onAbort);
    const timer = setTimeout(() => controller.abort(), this.options.nodeTimeoutMs);
    stats.nodesAsked++;
    try {
      const res = await nodeRequest(`${node.url}/internal/v1/read?${params}`, { headers: this.headers(req.tenant), signal: controller.signal });
      clearTimeout(timer);
      if (res.status !== 200) {
        throw nodeError(node, res.status, (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null);
      }
      let finished = false;
      for await (const line of lines(res.body)) {
        const obj = JSON.parse(line) as Record<string, unknown>;
        if ('line' in obj) {
          yield toMerged(obj as unknown as WireEntry);
        } else if ('applied' in obj) {
          for (const [p, o] of Object.entries(obj.applied as Record<string, string>)) if (!snapshot.has(Number(p))) snapshot.set(Number(p), BigInt(o));
        } else if ('stats' in obj) {
          const s = obj.stats as { entriesScanned: number; bytesDecompressed: number };
          stats.entriesScanned += s.entriesScanned;
          stats.bytesDecompressed += s.bytesDecompressed;
          finished = true;
        } else if ('error' in obj) {
          const e = obj.error as { code: string; message: string };
          throw new SiltError(e.code, 503, true, `storage node ${node.nodeId}: ${e.message}`);
        }
      }
      if (!finished) throw new SiltError('SILT_NODE_ERROR', 503, true, `storage node ${node.nodeId} ended its answer early`);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      controller.abort();
    }
  }
}
