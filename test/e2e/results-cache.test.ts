/**
 * The query service's results cache across the cluster as processes: a dashboard query (a metric
 * query, and a log query) repeated over a sliding window is answered from cached pieces but for the
 * interval still filling up, the answers equal those of a query service without a cache, and an
 * entry pushed late into a cached interval is in the very next answer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor, type ServiceProcess } from '../support/processes';
import { StorageCluster } from '../support/storage-cluster';

const MINUTE = 60_000_000_000n;
const INTERVAL_MS = 10 * 60_000;
const QUERY = 'sum by (app) (count_over_time({app="dash"}[1m]))';

interface Matrix {
  data: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] };
}

interface Streams {
  data: { resultType: string; result: { stream: Record<string, string>; values: [string, string][] }[] };
}

async function cacheCounts(url: string, kind: 'metric' | 'log' = 'metric'): Promise<Record<string, number>> {
  const text = await (await fetch(url + '/metrics')).text();
  const out: Record<string, number> = { hit: 0, miss: 0, stale: 0 };
  for (const m of text.matchAll(/^silt_query_cache_requests_total\{kind="(\w+)",result="(\w+)"\} (\d+)/gm)) if (m[1] === kind) out[m[2]!] = Number(m[3]);
  return out;
}

describe('query > results cache > never stale', () => {
  let dir: string;
  let cluster: StorageCluster;
  let ingest: ServiceProcess;
  let cached: ServiceProcess;
  let plain: ServiceProcess;
  const now = BigInt(Date.now()) * 1_000_000n;
  const end = (now / MINUTE) * MINUTE;
  const start = end - 60n * MINUTE;

  const rangeQuery = async (url: string, from: bigint, to: bigint): Promise<Matrix> => {
    const params = new URLSearchParams({ query: QUERY, start: String(from), end: String(to), step: '60' });
    const res = await fetch(`${url}/loki/api/v1/query_range?${params}`, { headers: { 'X-Scope-OrgID': 'dash' } });
    expect(res.status).toBe(200);
    // Only the result: the stats say how much each read did, which is the point of a cache.
    const { data } = (await res.json()) as Matrix;
    return { data: { resultType: data.resultType, result: data.result } };
  };
  const logQuery = async (url: string, from: bigint, to: bigint, limit: number): Promise<Streams> => {
    const params = new URLSearchParams({ query: '{app="dash"} |= "line"', start: String(from), end: String(to), limit: String(limit) });
    const res = await fetch(`${url}/loki/api/v1/query_range?${params}`, { headers: { 'X-Scope-OrgID': 'dash' } });
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as Streams;
    return { data: { resultType: data.resultType, result: data.result } };
  };
  const total = (m: Matrix): number => m.data.result.reduce((n, s) => n + s.values.reduce((k, [, v]) => k + Number(v), 0), 0);

  const pushAt = async (ts: bigint[]): Promise<string> => {
    const body = JSON.stringify({ streams: [{ stream: { app: 'dash' }, values: ts.map((t, i) => [String(t), `line ${t} ${i}`]) }] });
    const res = await fetch(`${ingest.url}/loki/api/v1/push`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', 'X-Scope-OrgID': 'dash' } });
    expect(res.status).toBe(204);
    return res.headers.get('x-silt-token')!;
  };
  /** Waits until the storage node applied the push of `token`. */
  const applied = (token: string): Promise<void> => waitFor('the push to be applied', async () => (await cluster.readNode('n0', 'dash', token)) !== null);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-cache-'));
    const config = path.join(dir, 'silt.json');
    fs.writeFileSync(config, JSON.stringify({ cache: { enabled: true, maxBytes: 16 * 1024 * 1024, splitIntervalMs: INTERVAL_MS } }));
    cluster = new StorageCluster(2);
    await cluster.startNode('n0', 0);
    [ingest, plain, cached] = await Promise.all([cluster.startIngest(), cluster.startQuery(), cluster.startQuery({}, ['--config', config])]);
    // Three entries a minute over the last 70 minutes, and a few in the minute now.
    const ts: bigint[] = [];
    for (let m = 70n; m >= 1n; m--) for (let k = 0n; k < 3n; k++) ts.push(now - m * MINUTE + k * 1_000_000_000n);
    await applied(await pushAt(ts));
  }, 180000);

  afterAll(async () => {
    await Promise.all([ingest?.stop(), cached?.stop(), plain?.stop()]);
    await cluster?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a sliding window hits every piece but the one still filling up, with the answers of an uncached query', async () => {
    const first = await rangeQuery(cached.url, start, end);
    expect(first).toEqual(await rangeQuery(plain.url, start, end));
    const afterFirst = await cacheCounts(cached.url);
    expect(afterFirst.hit).toBe(0);
    // Seven intervals of 10 minutes meet the window; the newest holds now and is never cached.
    const cacheable = Number((end - (start - (start % BigInt(INTERVAL_MS * 1e6)))) / BigInt(INTERVAL_MS * 1e6));
    expect(afterFirst.miss).toBeGreaterThanOrEqual(cacheable - 1);
    for (let slide = 1n; slide <= 3n; slide++) {
      const before = await cacheCounts(cached.url);
      const answer = await rangeQuery(cached.url, start + slide * MINUTE, end + slide * MINUTE);
      const after = await cacheCounts(cached.url);
      expect(answer).toEqual(await rangeQuery(plain.url, start + slide * MINUTE, end + slide * MINUTE));
      expect(after.miss - before.miss).toBe(0);
      expect(after.stale - before.stale).toBe(0);
      expect(after.hit - before.hit).toBeGreaterThanOrEqual(cacheable - 1);
    }
  });

  it('an entry pushed late into a cached interval is in the very next answer', async () => {
    const before = await rangeQuery(cached.url, start, end);
    const lateTs = now - 35n * MINUTE + 30_000_000_000n;
    await applied(await pushAt([lateTs]));
    const staleBefore = (await cacheCounts(cached.url)).stale;
    const next = await rangeQuery(cached.url, start, end);
    expect(total(next)).toBe(total(before) + 1);
    expect(next).toEqual(await rangeQuery(plain.url, start, end));
    expect((await cacheCounts(cached.url)).stale).toBeGreaterThan(staleBefore);
    // Recomputed and cached again: the next one hits.
    const hitsBefore = (await cacheCounts(cached.url)).hit;
    expect(await rangeQuery(cached.url, start, end)).toEqual(next);
    expect((await cacheCounts(cached.url)).hit).toBeGreaterThan(hitsBefore);
  });

  it('a log query over a sliding window hits every piece but the newest, answers as without a cache, and shows a late entry at once', async () => {
    const first = await logQuery(cached.url, start, end, 1000);
    expect(first).toEqual(await logQuery(plain.url, start, end, 1000));
    for (let slide = 1n; slide <= 2n; slide++) {
      const before = await cacheCounts(cached.url, 'log');
      const answer = await logQuery(cached.url, start + slide * MINUTE, end + slide * MINUTE, 1000);
      const after = await cacheCounts(cached.url, 'log');
      expect(answer).toEqual(await logQuery(plain.url, start + slide * MINUTE, end + slide * MINUTE, 1000));
      expect(after.miss - before.miss).toBe(0);
      expect(after.hit - before.hit).toBeGreaterThanOrEqual(5);
    }
    // A limit smaller than the newest intervals hold: the same first entries as one read.
    expect(await logQuery(cached.url, start, end, 20)).toEqual(await logQuery(plain.url, start, end, 20));
    const lateTs = now - 45n * MINUTE + 10_000_000_000n;
    await applied(await pushAt([lateTs]));
    const next = await logQuery(cached.url, start, end, 1000);
    expect(next).toEqual(await logQuery(plain.url, start, end, 1000));
    expect(next.data.result.flatMap((st) => st.values.map(([t]) => t))).toContain(String(lateTs));
  });
});
