/**
 * Log queries: the entries of a selector over a window, read in order through the fan-out (the
 * nodes run the matchers and leading line filters), the rest of the pipeline run here on each, and
 * Loki's shaping of the result — the first `limit` entries that pass, thinned to one per
 * `interval`, grouped into streams by their full labels after the pipeline.
 */
import type { Labels } from '../../../core/src/labels';
import { labelsKey } from '../../../core/src/labels';
import type { LogSelectorExpr } from '../../../core/src/logql/ast';
import { compilePipeline } from '../../../core/src/logql/pipeline';
import type { EntryPosition } from '../../../core/src/position';
import type { Direction } from '../../../core/src/query-params';
import type { Fanout, FanoutStats, MergedEntry } from './fanout';
import { planNodeRead } from './plan';

/** Entries the nodes are asked for per page when the query service filters further (the page size caps one node answer, not the read). */
const FILTERED_PAGE = 10_000;

/** One entry after the pipeline: its read position, its (possibly rewritten) line and its full labels. */
export interface LogEntry {
  pos: EntryPosition;
  ts: bigint;
  line: string;
  /** Stream labels, structured metadata and extracted labels, as the pipeline leaves them. */
  labels: Labels;
  /** The entry as stored: stream labels and structured metadata before the pipeline. */
  source: MergedEntry;
}

/** What reached the query service of a read: entries and their line bytes (the nodes' own counts end early when a read is cut at its limit). */
export interface ReadCounters {
  lines: number;
  bytes: number;
}

/** What a log read asks. */
export interface LogRead {
  tenant: string;
  selector: LogSelectorExpr;
  start: bigint;
  end: bigint;
  direction: Direction;
  /** Entries wanted: pages are this size when the nodes run the whole pipeline, FILTERED_PAGE otherwise. */
  limit: number;
  after?: EntryPosition;
  snapshot?: Map<number, bigint>;
  token?: string;
}

/**
 * Reads `read`'s entries in order, each through the selector's pipeline; the seam the node-side
 * pipeline replaces. `snapshot` receives the offsets the read is pinned to, for cursors.
 */
export async function* readLogEntries(
  fanout: Fanout,
  read: LogRead,
  signal: AbortSignal,
  stats: FanoutStats,
  snapshot: Map<number, bigint>,
  counters: ReadCounters = { lines: 0, bytes: 0 },
): AsyncGenerator<LogEntry> {
  const plan = planNodeRead(read.selector);
  // Even an empty pipeline runs: it is what merges structured metadata into the labels, as for any query.
  const pipeline = compilePipeline(plan.rest);
  const filtering = plan.rest.length > 0;
  const entries = fanout.read(
    {
      tenant: read.tenant,
      query: plan.query,
      start: read.start,
      end: read.end,
      direction: read.direction,
      limit: filtering ? Math.max(read.limit, FILTERED_PAGE) : read.limit,
      ...(read.after ? { after: read.after } : {}),
      ...(read.snapshot ? { snapshot: read.snapshot } : {}),
      ...(read.token ? { token: read.token } : {}),
    },
    signal,
    stats,
    snapshot,
  );
  for await (const e of entries) {
    const w = e.wire;
    counters.lines++;
    counters.bytes += Buffer.byteLength(w.line);
    const out = pipeline.run(e.pos.ts, w.line, w.labels, w.attrs);
    if (out !== null) yield { pos: e.pos, ts: e.pos.ts, line: out.line, labels: out.labels, source: e };
  }
}

/** A log query's answer: streams by full label set, each in the query's direction, and how many entries they hold. */
export interface LogAnswer {
  streams: { labels: Labels; entries: [bigint, string][] }[];
  returned: number;
}

/**
 * Collects a log query's answer as Loki does (engine.go readStreams): the first `limit` entries
 * in order, keeping one per `interval` (ns; 0 keeps all) counted from the last kept, grouped by
 * full labels; streams sorted by their label text.
 */
export async function collectStreams(entries: AsyncIterable<Pick<LogEntry, 'ts' | 'line' | 'labels'>>, limit: number, direction: Direction, interval: bigint): Promise<LogAnswer> {
  const streams = new Map<string, { labels: Labels; entries: [bigint, string][] }>();
  let taken = 0;
  let returned = 0;
  let last: bigint | null = null;
  for await (const e of entries) {
    taken++;
    const keep = interval === 0n || last === null || (direction === 'forward' ? e.ts >= last + interval : e.ts <= last - interval);
    if (keep) {
      const key = labelsKey(e.labels);
      let s = streams.get(key);
      if (s === undefined) {
        s = { labels: e.labels, entries: [] };
        streams.set(key, s);
      }
      s.entries.push([e.ts, e.line]);
      last = e.ts;
      returned++;
    }
    if (taken >= limit) break;
  }
  const sorted = [...streams].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
  return { streams: sorted, returned };
}
