/**
 * The query figures, through the public query API: (a) the newest 100 entries of one stream,
 * (b) a 1-minute window of one stream, (c) a line-filter scan over every stream and the whole data
 * set (a needle no line holds, so every entry is scanned).
 */
import { percentile, summarize, wallMs, type Summary } from './stats';

/** A needle no line of the corpus holds: the filter must look at every entry. */
export const ABSENT_NEEDLE = 'silt-bench-needle-absent';

/** What the query service must be asked about: streams and the time range of the data. */
export interface QueryPlan {
  queryUrl: string;
  tenant: string;
  streams: string[];
  /** Time range of the stored entries, ns. */
  firstTs: bigint;
  lastTs: bigint;
  pointQueries: number;
  scanQueries: number;
}

/** Latencies (ms) and what the scans did. */
export interface QueryResults {
  newest: Summary;
  window: Summary;
  /** Average entries a 1-minute window returned. */
  windowEntries: number;
  scan: Summary;
  /** Entries the scan looked at per second (median run); one storage node serves each scan. */
  scanEntriesPerS: number;
  scanEntries: number;
}

interface Answer {
  entries: unknown[];
  stats: { entriesScanned: number };
}

async function timedQuery(plan: QueryPlan, params: Record<string, string>): Promise<{ ms: number; answer: Answer }> {
  const started = wallMs();
  const res = await fetch(`${plan.queryUrl}/api/v1/query?${new URLSearchParams(params)}`, { headers: { 'X-Scope-OrgID': plan.tenant } });
  const text = await res.text();
  const ms = wallMs() - started;
  if (res.status !== 200) throw new Error(`query ${JSON.stringify(params)} answered ${res.status}: ${text.slice(0, 500)}`);
  return { ms, answer: JSON.parse(text) as Answer };
}

/** Runs every query `plan` asks for, one at a time (latency, not concurrency, is measured). */
export async function runQueries(plan: QueryPlan): Promise<QueryResults> {
  const start = (plan.firstTs - 1n).toString();
  const end = (plan.lastTs + 1n).toString();
  const pick = (i: number): string => plan.streams[i % plan.streams.length]!;
  const newestParams = (i: number): Record<string, string> => ({ query: `{app="${pick(i)}"}`, start, end, limit: '100', direction: 'backward' });
  const spanNs = plan.lastTs - plan.firstTs - 60_000_000_000n;
  const windowParams = (i: number): Record<string, string> => {
    // Spread windows evenly over the data, so old and new segments are both read.
    const from = plan.firstTs + (spanNs > 0n ? (spanNs * BigInt(i)) / BigInt(Math.max(1, plan.pointQueries - 1)) : 0n);
    return { query: `{app="${pick(i + 7)}"}`, start: from.toString(), end: (from + 60_000_000_000n).toString(), limit: '5000', direction: 'forward' };
  };
  const scanParams = { query: `{app=~".+"} |= "${ABSENT_NEEDLE}"`, start, end, limit: '100', direction: 'backward' };

  // One unmeasured pass over every stream warms connections, the JIT, and each node's segments
  // (LevelDB opens the tables the merges just rewrote, and the registries get cached): the figures
  // are the steady state of a node that is being queried, not its first query after a compaction.
  for (let i = 0; i < plan.streams.length; i++) {
    await timedQuery(plan, newestParams(i));
    await timedQuery(plan, windowParams(i));
  }

  const newest: number[] = [];
  for (let i = 0; i < plan.pointQueries; i++) newest.push((await timedQuery(plan, newestParams(i))).ms);
  const windows: number[] = [];
  let windowEntries = 0;
  for (let i = 0; i < plan.pointQueries; i++) {
    const { ms, answer } = await timedQuery(plan, windowParams(i));
    windows.push(ms);
    windowEntries += answer.entries.length;
  }
  const scans: { ms: number; scanned: number }[] = [];
  for (let i = 0; i < plan.scanQueries; i++) {
    const { ms, answer } = await timedQuery(plan, scanParams);
    if (answer.entries.length !== 0) throw new Error(`the scan for an absent needle returned ${answer.entries.length} entries`);
    scans.push({ ms, scanned: answer.stats.entriesScanned });
  }
  return {
    newest: summarize(newest),
    window: summarize(windows),
    windowEntries: windowEntries / plan.pointQueries,
    scan: summarize(scans.map((s) => s.ms)),
    scanEntriesPerS: percentile(scans.map((s) => (s.scanned * 1000) / s.ms), 50),
    scanEntries: scans[0]!.scanned,
  };
}
