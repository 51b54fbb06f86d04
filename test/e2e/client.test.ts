/**
 * The client library against the cluster as processes: pushes one by one and in batches (retried
 * through 429s with their Retry-After), log queries paged by cursor, read-your-writes, metric
 * queries, label and series lookups, typed errors, and a tail that survives the query service
 * being restarted with no gap and no duplicate.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SiltClient, SiltClientError, type PushItem, type TailEntry } from '../../client/src';
import type { ServiceProcess } from '../support/processes';
import { StorageCluster } from '../support/storage-cluster';

const RATE = 30_000;

describe('client > library against the cluster', () => {
  let dir: string;
  let cluster: StorageCluster;
  let ingest: ServiceProcess;
  let query: ServiceProcess;
  const client = (tenant: string, over: object = {}): SiltClient => new SiltClient({ url: query.url, ingestUrl: ingest.url, tenant, ...over });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-client-'));
    const config = path.join(dir, 'silt.json');
    fs.writeFileSync(config, JSON.stringify({ limits: { tenants: { slow: { ingestionRateBytes: RATE, ingestionBurstBytes: RATE } } } }));
    cluster = new StorageCluster(2, {}, ['--config', config]);
    await cluster.startNode('n0', 0);
    [ingest, query] = await Promise.all([cluster.startIngest(), cluster.startQuery()]);
  }, 180000);

  afterAll(async () => {
    await Promise.all([ingest?.stop(), query?.stop()]);
    await cluster?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a push is read back at once (read-your-writes), paged by cursor, newest first or oldest first', async () => {
    const c = client('lib-a');
    const t0 = BigInt(Date.now() - 60_000) * 1_000_000n;
    const result = await c.push([{ labels: { app: 'web' }, entries: Array.from({ length: 25 }, (_, i) => ({ ts: t0 + BigInt(i), line: `line ${i}`, ...(i === 3 ? { attrs: { trace: 't3' } } : {}) })) }]);
    expect(result).toMatchObject({ accepted: 25, rejected: [] });
    expect(c.writeToken).toBe(result.token);
    const back: string[] = [];
    for await (const e of c.entries('{app="web"}', { since: '1h', pageSize: 4 })) back.push(e.line);
    expect(back).toEqual(Array.from({ length: 25 }, (_, i) => `line ${24 - i}`));
    const forward = [];
    for await (const e of c.entries('{app="web"} |= "line 1"', { since: '1h', direction: 'forward', pageSize: 3, limit: 5 })) forward.push(e);
    expect(forward.map((e) => e.line)).toEqual(['line 1', 'line 10', 'line 11', 'line 12', 'line 13']);
    expect(forward[0]!.ts).toBe(t0 + 1n);
    const page = await c.page('{app="web"} |= "line 3"', { since: '1h', pageSize: 10 });
    expect(page.entries[0]).toMatchObject({ line: 'line 3', attrs: { trace: 't3' }, labels: { app: 'web' } });
    expect(page.next).toBeNull();
  });

  it('pushAll batches an async iterable, and the metric, label and series lookups see it', async () => {
    const c = client('lib-b');
    const now = Date.now();
    async function* items(): AsyncGenerator<PushItem> {
      for (let i = 0; i < 5000; i++) yield { labels: { app: i % 2 === 0 ? 'even' : 'odd', env: 'test' }, ts: new Date(now - 120_000 + i), line: `entry ${i}` };
    }
    const progress: number[] = [];
    const totals = await c.pushAll(items(), { batchEntries: 700, concurrency: 3, onProgress: (_t, queued) => progress.push(queued) });
    expect(totals.accepted).toBe(5000);
    expect(totals.pushes).toBeGreaterThanOrEqual(8);
    expect(progress[progress.length - 1]).toBe(5000);
    const series = await c.metric('sum by (app) (count_over_time({env="test"}[10m]))', { since: '10m', step: '10m' });
    const total = (app: string): number => series.filter((s) => s.labels.app === app).reduce((n, s) => n + Math.max(...s.points.map(([, v]) => v)), 0);
    expect(total('even') + total('odd')).toBe(5000);
    expect(await c.labels({ since: '1h' })).toEqual(expect.arrayContaining(['app', 'env']));
    expect((await c.labelValues('app', { since: '1h' })).sort()).toEqual(['even', 'odd']);
    expect(await c.series('{app="odd"}', { since: '1h' })).toEqual([{ app: 'odd', env: 'test' }]);
  });

  it('retries 429s as Retry-After says until every entry is in, within the tenant rate', async () => {
    const c = client('slow', { maxRetries: 50 });
    const line = 'x'.repeat(200);
    const started = Date.now();
    const items = Array.from({ length: 400 }, (_, i): PushItem => ({ labels: { app: 'slow' }, line: `${i} ${line}` }));
    const totals = await c.pushAll(items, { batchEntries: 50, concurrency: 2 });
    expect(totals.accepted).toBe(400);
    // 400 lines of ~204 bytes at 30 kB/s with a 30 kB burst: at least ~1.7 s of waiting.
    expect(Date.now() - started).toBeGreaterThan(1500);
  });

  it('errors are typed: a bad query with its position, a push over the limit not retried forever', async () => {
    const c = client('lib-a', { maxRetries: 0 });
    const err = await c.page('{app="web"', { since: '1h' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SiltClientError);
    expect((err as SiltClientError).status).toBe(400);
    expect((err as SiltClientError).code).toBe('SILT_BAD_QUERY');
    expect((err as SiltClientError).details).toHaveProperty('position');
    const refused = await client('slow', { maxRetries: 0 })
      .push([{ labels: { app: 'slow' }, entries: [{ line: 'y'.repeat(RATE + 10) }] }])
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 413, retriable: false });
  });

  it('a tail sees pushed entries and resumes after the query service restarts, with no gap and no duplicate', async () => {
    const c = client('lib-tail');
    const controller = new AbortController();
    const seen: TailEntry[] = [];
    const reconnects: string[] = [];
    const tail = (async () => {
      for await (const e of c.tail('{app="tailed"}', { start: new Date(Date.now() - 1000), signal: controller.signal, onReconnect: (_n, why) => reconnects.push(why) })) {
        seen.push(e);
        if (seen.length === 40) controller.abort();
      }
    })();
    const pushRange = async (from: number, to: number): Promise<void> => {
      await c.push([{ labels: { app: 'tailed' }, entries: Array.from({ length: to - from }, (_, i) => ({ line: `t ${from + i}` })) }]);
    };
    const until = async (n: number): Promise<void> => {
      for (let i = 0; i < 300 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 100));
    };
    // From a moment ago: entries pushed from now on are in the tail however long it takes to open.
    await pushRange(0, 10);
    await until(10);
    expect(seen.map((e) => e.line)).toEqual(Array.from({ length: 10 }, (_, i) => `t ${i}`));
    await query.stop();
    await pushRange(10, 25);
    await query.start();
    await pushRange(25, 40);
    await tail;
    expect(seen.map((e) => e.line)).toEqual(Array.from({ length: 40 }, (_, i) => `t ${i}`));
    expect(reconnects.length).toBeGreaterThan(0);
  });
});
