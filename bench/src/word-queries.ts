/**
 * The storage engine's query figures (issue 10), each answer checked against what the harness
 * knows it must be: (e) a full scan for a rare word of the corpus (a log query whose matches stay
 * under its limit, so every entry is looked at), (f) the count of a common word over everything
 * (`sum(count_over_time(… |= "word" [span]))`), (g) the count per stream over everything (`sum by
 * (app) (count_over_time({…}[span]))`, which frame headers can answer), and (h) a needle: one entry
 * with a unique token, pushed for the purpose, found among all the others.
 */
import { randomBytes } from 'node:crypto';
import { stampOf } from './bodies';
import type { StoredData } from './metric-query';
import { timedGet } from './queries';
import { percentile, summarize, type Summary } from './stats';

/** The data streams only: markers and the needle have streams of their own, named `bench-…`. */
const DATA_STREAMS = '{app=~".+", app!~"bench-.+"}';
/** The stream the needle is pushed on. */
const NEEDLE_APP = 'bench-needle';
/** Words the scans look for: letters only, so that the varied digits of replays never touch them. */
const WORD = /^[A-Za-z]{6,}$/;

/** The storage queries' figures. */
export interface WordQueryResults {
  rareWord: string;
  rareMatches: number;
  rareScan: Summary;
  /** Entries the rare-word scan looked at per second (median run). */
  rareEntriesPerS: number;
  commonWord: string;
  commonMatches: number;
  commonCount: Summary;
  countPerStream: Summary;
  needle: Summary;
  /** The rare-word scan's p50 ÷ the needle's p50. */
  needleSpeedup: number;
}

/** Where the queries go and what the harness knows of the stored data. */
export interface WordQueryPlan {
  ingestUrl: string;
  queryUrl: string;
  tenant: string;
  data: StoredData & { lineOf(seq: number): string };
  /** The distinct lines of the corpus (cycle 0). */
  lines: readonly string[];
  runs: number;
}

/** The corpus's rarest and most common words (ties: the first in code-point order), by the lines that contain them. */
export function pickWords(lines: readonly string[]): { rare: string; common: string } {
  const seen = new Set<string>();
  for (const line of lines) for (const w of line.split(/[^A-Za-z]+/)) if (WORD.test(w)) seen.add(w);
  const words = [...seen].sort();
  if (words.length === 0) throw new Error('the corpus has no word of six letters');
  const count = new Map(words.map((w) => [w, lines.reduce((n, line) => n + (line.includes(w) ? 1 : 0), 0)]));
  const by = (better: (a: number, b: number) => boolean): string => words.reduce((best, w) => (better(count.get(w)!, count.get(best)!) ? w : best));
  return { rare: by((a, b) => a < b), common: by((a, b) => a > b) };
}

/** Stored data entries whose line contains `word`. */
function matches(data: WordQueryPlan['data'], word: string): number {
  const memo = new Map<string, boolean>();
  let n = 0;
  for (let seq = 0; seq < data.entries; seq++) {
    const line = data.lineOf(seq);
    let hit = memo.get(line);
    if (hit === undefined) memo.set(line, (hit = line.includes(word)));
    if (hit) n++;
  }
  return n;
}

interface LogAnswer {
  entries: { line: string }[];
  stats: { entriesScanned: number };
}
interface VectorAnswer {
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/**
 * Pushes the needle — one entry with a unique token, stamped now like the lag markers, so that it
 * lies past the load's virtual clock and no other figure's answer changes — and waits until the
 * query service reads it; returns the token.
 */
async function pushNeedle(plan: WordQueryPlan, ts: bigint): Promise<string> {
  const token = `n${randomBytes(8).toString('hex')}`;
  const body = JSON.stringify({ streams: [{ labels: { app: NEEDLE_APP }, entries: [{ ts: ts.toString(), line: `request ${token} failed` }] }] });
  const res = await fetch(`${plan.ingestUrl}/api/v1/push`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Scope-OrgID': plan.tenant }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`needle push answered ${res.status}: ${text}`);
  const write = (JSON.parse(text) as { token: string }).token;
  const { answer } = await timedGet<LogAnswer>(plan, '/api/v1/query', { query: `{app="${NEEDLE_APP}"}`, start: ts.toString(), end: (ts + 1n).toString(), token: write });
  if (answer.entries.length !== 1) throw new Error(`the needle was not readable with its write token (${answer.entries.length} entries)`);
  return token;
}

/** Runs (e)–(h), `plan.runs` times each, alternating, after one unmeasured round. */
export async function runWordQueries(plan: WordQueryPlan): Promise<WordQueryResults> {
  const { data } = plan;
  const firstTs = stampOf(data.clock, 0);
  const lastTs = stampOf(data.clock, data.entries - 1);
  const start = (firstTs - 1n).toString();
  const end = (lastTs + 1n).toString();
  // A window (end − span, end] holding every entry, in whole seconds as LogQL ranges are written.
  const spanS = (lastTs - firstTs) / 1_000_000_000n + 2n;
  const { rare, common } = pickWords(plan.lines);
  const rareMatches = matches(data, rare);
  const commonMatches = matches(data, common);
  const needleTs = BigInt(Date.now()) * 1_000_000n;
  const needle = await pushNeedle(plan, needleTs);
  const perStream = new Map<string, number>();
  for (let seq = 0; seq < data.entries; seq++) {
    const app = data.streams[data.streamOf(seq)]!;
    perStream.set(app, (perStream.get(app) ?? 0) + 1);
  }

  const rareParams = { query: `${DATA_STREAMS} |= "${rare}"`, start, end, limit: String(Math.max(100, rareMatches + 1)), direction: 'backward' };
  const rareScan = async (): Promise<{ ms: number; scanned: number }> => {
    const { ms, answer } = await timedGet<LogAnswer>(plan, '/api/v1/query', rareParams);
    if (answer.entries.length !== rareMatches) throw new Error(`(e) |= "${rare}" returned ${answer.entries.length} entries, ${rareMatches} hold it`);
    return { ms, scanned: answer.stats.entriesScanned };
  };
  const instant = (query: string): Record<string, string> => ({ query, time: end });
  const commonCount = async (): Promise<number> => {
    const { ms, answer } = await timedGet<VectorAnswer>(plan, '/loki/api/v1/query', instant(`sum(count_over_time(${DATA_STREAMS} |= "${common}" [${spanS}s]))`));
    const got = Number(answer.data.result[0]?.value[1] ?? 0);
    if (got !== commonMatches) throw new Error(`(f) count of "${common}" is ${got}, ${commonMatches} lines hold it`);
    return ms;
  };
  const countPerStream = async (): Promise<number> => {
    const { ms, answer } = await timedGet<VectorAnswer>(plan, '/loki/api/v1/query', instant(`sum by (app) (count_over_time(${DATA_STREAMS}[${spanS}s]))`));
    const got = new Map(answer.data.result.map((r) => [r.metric.app!, Number(r.value[1])]));
    for (const [app, n] of perStream) if (got.get(app) !== n) throw new Error(`(g) count of ${app} is ${got.get(app)}, ${n} stored`);
    if (got.size !== perStream.size) throw new Error(`(g) ${got.size} streams answered, ${perStream.size} stored`);
    return ms;
  };
  const needleQuery = async (): Promise<number> => {
    // The token stands between spaces, so every line holding the needle holds it as a whole word.
    const { ms, answer } = await timedGet<LogAnswer>(plan, '/api/v1/query', { query: `{app=~".+"} |= " ${needle} "`, start, end: (needleTs + 1n).toString(), limit: '10', direction: 'backward' });
    if (answer.entries.length !== 1) throw new Error(`(h) the needle query returned ${answer.entries.length} entries`);
    return ms;
  };

  await rareScan();
  await commonCount();
  await countPerStream();
  await needleQuery();
  const rares: { ms: number; scanned: number }[] = [];
  const commons: number[] = [];
  const counts: number[] = [];
  const needles: number[] = [];
  for (let i = 0; i < plan.runs; i++) {
    rares.push(await rareScan());
    commons.push(await commonCount());
    counts.push(await countPerStream());
    needles.push(await needleQuery());
  }
  const rareScanSummary = summarize(rares.map((r) => r.ms));
  const needleSummary = summarize(needles);
  return {
    rareWord: rare,
    rareMatches,
    rareScan: rareScanSummary,
    rareEntriesPerS: percentile(rares.map((r) => (r.scanned * 1000) / r.ms), 50),
    commonWord: common,
    commonMatches,
    commonCount: summarize(commons),
    countPerStream: summarize(counts),
    needle: needleSummary,
    needleSpeedup: rareScanSummary.p50 / needleSummary.p50,
  };
}
