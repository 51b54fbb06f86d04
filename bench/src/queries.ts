/**
 * The query figures, through the public query APIs: (a) the newest 100 entries of one stream,
 * (b) a 1-minute window of one stream, (c) a line-filter scan over every stream and the whole data
 * set (a needle no line holds, so every entry is scanned), (d) the metric query of metric-query.ts
 * over the same data, aggregated on the storage nodes.
 */
import { stampOf } from './bodies';
import { checkMetricAnswer, metricPlan, type MatrixAnswer, type StoredData } from './metric-query';
import { percentile, summarize, wallMs, type Summary } from './stats';

/**
 * A needle no line of the corpus holds, and one word with nothing around it, so no token is
 * certainly whole in a matching line and token filters can rule out no frame (docs/FORMAT.md,
 * "Frame v2"): the filter must look at every entry.
 */
export const ABSENT_NEEDLE = 'siltbenchneedleabsent';

/** What the query service must be asked about: the stored data, and how often each query runs. */
export interface QueryPlan {
  queryUrl: string;
  tenant: string;
  data: StoredData;
  pointQueries: number;
  /** Repetitions of each of (c) and (d). */
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
  metric: Summary;
  /** Entries the nodes went through per second (median run, the answer's `totalLinesProcessed`); one storage node serves each query. */
  metricEntriesPerS: number;
  metricEntries: number;
  /** Entries inside some 1-minute window: Σ of the answer's points, checked point by point. */
  metricCounted: number;
  metricPoints: number;
  metricStepSeconds: number;
  /** metricEntriesPerS ÷ scanEntriesPerS. */
  metricToScan: number;
}

interface Answer {
  entries: unknown[];
  stats: { entriesScanned: number };
}

/** GETs `route` of the query service as the plan's tenant; its wall time and JSON answer (throws unless 200). */
export async function timedGet<T>(plan: Pick<QueryPlan, 'queryUrl' | 'tenant'>, route: string, params: Record<string, string>): Promise<{ ms: number; answer: T }> {
  const started = wallMs();
  const res = await fetch(`${plan.queryUrl}${route}?${new URLSearchParams(params)}`, { headers: { 'X-Scope-OrgID': plan.tenant } });
  const text = await res.text();
  const ms = wallMs() - started;
  if (res.status !== 200) throw new Error(`${route} ${JSON.stringify(params)} answered ${res.status}: ${text.slice(0, 500)}`);
  return { ms, answer: JSON.parse(text) as T };
}

function timedQuery(plan: QueryPlan, params: Record<string, string>): Promise<{ ms: number; answer: Answer }> {
  return timedGet<Answer>(plan, '/api/v1/query', params);
}

/** Runs every query `plan` asks for, one at a time (latency, not concurrency, is measured). */
export async function runQueries(plan: QueryPlan): Promise<QueryResults> {
  const { data } = plan;
  const firstTs = stampOf(data.clock, 0);
  const lastTs = stampOf(data.clock, data.entries - 1);
  const start = (firstTs - 1n).toString();
  const end = (lastTs + 1n).toString();
  const pick = (i: number): string => data.streams[i % data.streams.length]!;
  const newestParams = (i: number): Record<string, string> => ({ query: `{app="${pick(i)}"}`, start, end, limit: '100', direction: 'backward' });
  const spanNs = lastTs - firstTs - 60_000_000_000n;
  const windowParams = (i: number): Record<string, string> => {
    // Spread windows evenly over the data, so old and new segments are both read.
    const from = firstTs + (spanNs > 0n ? (spanNs * BigInt(i)) / BigInt(Math.max(1, plan.pointQueries - 1)) : 0n);
    return { query: `{app="${pick(i + 7)}"}`, start: from.toString(), end: (from + 60_000_000_000n).toString(), limit: '5000', direction: 'forward' };
  };
  const scanParams = { query: `{app=~".+"} |= "${ABSENT_NEEDLE}"`, start, end, limit: '100', direction: 'backward' };

  // One unmeasured pass over every stream warms connections, the JIT, and each node's segments
  // (LevelDB opens the tables the merges just rewrote, and the registries get cached): the figures
  // are the steady state of a node that is being queried, not its first query after a compaction.
  for (let i = 0; i < data.streams.length; i++) {
    await timedQuery(plan, newestParams(i));
    await timedQuery(plan, windowParams(i));
  }
  // Likewise (d)'s code path on both nodes (the query service alternates them), over the first hour only.
  const metric = metricPlan(data);
  const warmMetric = { ...metric.params, end: (BigInt(metric.params.start!) + 3_600_000_000_000n).toString() };
  for (let i = 0; i < 2; i++) await timedGet<MatrixAnswer>(plan, '/loki/api/v1/query_range', warmMetric);

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
  const aggregations: { ms: number; scanned: number; counted: number }[] = [];
  const scan = async (): Promise<void> => {
    const { ms, answer } = await timedQuery(plan, scanParams);
    if (answer.entries.length !== 0) throw new Error(`the scan for an absent needle returned ${answer.entries.length} entries`);
    scans.push({ ms, scanned: answer.stats.entriesScanned });
  };
  const aggregate = async (): Promise<void> => {
    const { ms, answer } = await timedGet<MatrixAnswer>(plan, '/loki/api/v1/query_range', metric.params);
    aggregations.push({ ms, scanned: answer.data.stats.summary.totalLinesProcessed, counted: checkMetricAnswer(metric, answer) });
  };
  // (c) and (d) alternate, c d, d c, c d, …: the machine's drift weighs on both alike, and as the
  // query service alternates replica groups per query, each runs on both storage nodes.
  for (let i = 0; i < plan.scanQueries; i++) {
    for (const run of i % 2 === 0 ? [scan, aggregate] : [aggregate, scan]) await run();
  }
  const scanEntriesPerS = percentile(scans.map((s) => (s.scanned * 1000) / s.ms), 50);
  const metricEntriesPerS = percentile(aggregations.map((a) => (a.scanned * 1000) / a.ms), 50);
  return {
    newest: summarize(newest),
    window: summarize(windows),
    windowEntries: windowEntries / plan.pointQueries,
    scan: summarize(scans.map((s) => s.ms)),
    scanEntriesPerS,
    scanEntries: scans[0]!.scanned,
    metric: summarize(aggregations.map((a) => a.ms)),
    metricEntriesPerS,
    metricEntries: aggregations[0]!.scanned,
    metricCounted: aggregations[0]!.counted,
    metricPoints: metric.points,
    metricStepSeconds: metric.stepSeconds,
    metricToScan: metricEntriesPerS / scanEntriesPerS,
  };
}
