/**
 * Per-tenant limits across the cluster as processes: two ingest processes sharing a tenant's rate,
 * stream, line and label limits, and query range, entries and concurrency — configured in a file.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { waitFor, type ServiceProcess } from '../support/processes';
import { StorageCluster } from '../support/storage-cluster';

const RATE = 20_000;
const BURST = 40_000;

const CONFIG = {
  limits: {
    defaults: {},
    tenants: {
      slow: { ingestionRateBytes: RATE, ingestionBurstBytes: BURST },
      'few-streams': { maxStreams: 3 },
      'short-lines': { maxLineBytes: 100, maxLabelsPerStream: 2 },
      'short-memory': { retentionHours: 1 },
      'q-limited': { maxEntriesPerQuery: 10, maxQueryRangeHours: 1, maxConcurrentQueries: 1, maxConcurrentTails: 1, queryTimeoutMs: 5000 },
    },
  },
};

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** A Loki push of `lines` lines of `lineBytes` bytes each on stream `labels`. */
function lokiPush(labels: Record<string, string>, lines: number, lineBytes: number): { body: string; bytes: number } {
  const t = nowNs();
  const values = Array.from({ length: lines }, (_, i) => [String(t + BigInt(i)), `${i}`.padEnd(lineBytes, 'x')]);
  return { body: JSON.stringify({ streams: [{ stream: labels, values }] }), bytes: lines * lineBytes };
}

async function push(url: string, tenant: string, body: string, route = '/loki/api/v1/push'): Promise<{ status: number; retryAfter: string | null; text: string }> {
  const res = await fetch(url + route, { method: 'POST', body, headers: { 'Content-Type': 'application/json', 'X-Scope-OrgID': tenant } });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function liveProcesses(url: string): Promise<number> {
  const text = await (await fetch(url + '/metrics')).text();
  return Number(/^silt_ingest_live_processes (\d+)/m.exec(text)?.[1] ?? 0);
}

describe('limits > per-tenant limits, two ingest processes sharing a rate', () => {
  let dir: string;
  let cluster: StorageCluster;
  let ingests: ServiceProcess[];
  let query: ServiceProcess;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-limits-'));
    fs.writeFileSync(path.join(dir, 'silt.json'), JSON.stringify(CONFIG));
    cluster = new StorageCluster(2, { SILT_INGEST_ANNOUNCE_INTERVAL_MS: '500', SILT_STORAGE_RETENTION_CHECK_MS: '500' }, ['--config', path.join(dir, 'silt.json')]);
    await cluster.startNode('n0', 0);
    const [a, b, q] = await Promise.all([cluster.startIngest(), cluster.startIngest(), cluster.startQuery()]);
    ingests = [a!, b!];
    query = q!;
    await waitFor('each ingest process to see both', async () => (await liveProcesses(a!.url)) === 2 && (await liveProcesses(b!.url)) === 2, 30000);
  }, 180000);

  afterAll(async () => {
    await Promise.all([...(ingests ?? []).map((i) => i.stop()), query?.stop()]);
    await cluster?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('10 s at 3x the rate through both processes: accepted bytes stay within rate × elapsed + burst, refusals are 429 with Retry-After, other tenants unaffected', async () => {
    const pushBytes = 2000;
    const started = Date.now();
    let accepted = 0;
    let refused = 0;
    const otherStatuses: number[] = [];
    const badRefusals: string[] = [];
    let i = 0;
    // 3 x RATE: one 2,000-byte push every 33 ms, alternating between the processes.
    while (Date.now() - started < 10_000) {
      const tickAt = started + i * ((pushBytes / (3 * RATE)) * 1000);
      if (tickAt > Date.now()) await sleep(tickAt - Date.now());
      const { body, bytes } = lokiPush({ app: 'flood' }, 10, pushBytes / 10);
      const res = await push(ingests[i % 2]!.url, 'slow', body);
      if (res.status === 204) accepted += bytes;
      else if (res.status === 429 && res.retryAfter !== null && /^[1-9]\d*$/.test(res.retryAfter)) refused++;
      else badRefusals.push(`${res.status} Retry-After=${res.retryAfter} ${res.text.slice(0, 200)}`);
      if (i % 10 === 0) otherStatuses.push((await push(ingests[i % 2]!.url, 'fast', lokiPush({ app: 'other' }, 10, 200).body)).status);
      i++;
    }
    const elapsed = (Date.now() - started) / 1000;
    expect(badRefusals).toEqual([]);
    expect(refused).toBeGreaterThan(0);
    expect(accepted).toBeLessThanOrEqual(RATE * elapsed + BURST);
    // The limit holds back the excess, not the rate itself.
    expect(accepted).toBeGreaterThanOrEqual(0.6 * RATE * elapsed);
    expect(new Set(otherStatuses)).toEqual(new Set([204]));
    const metrics = await (await fetch(ingests[0]!.url + '/metrics')).text();
    expect(metrics).toMatch(/silt_ingest_limits_refused_total\{tenant="slow",limit="ingestion_rate_bytes"\} [1-9]/);
  }, 60000);

  it('a refused push, sent again after its Retry-After, is accepted', async () => {
    const url = ingests[0]!.url;
    const { body } = lokiPush({ app: 'polite' }, 10, 1000);
    let retried = 0;
    for (let n = 0; n < 6; n++) {
      let res = await push(url, 'slow', body);
      if (res.status === 429) {
        await sleep(Number(res.retryAfter) * 1000);
        res = await push(url, 'slow', body);
        retried++;
      }
      expect(res.status).toBe(204);
    }
    expect(retried).toBeGreaterThan(0);
  }, 120000);

  it('a push over the burst share of one process is a 413 that says to split it', async () => {
    const { body } = lokiPush({ app: 'big' }, 30, 1000);
    const res = await push(ingests[1]!.url, 'slow', body);
    expect(res.status).toBe(413);
    expect(res.text).toMatch(/over tenant "slow"'s burst of 20000 on this ingest process \(of 2\): split it/);
  });

  it('maxStreams: a fourth active stream is refused with 429, the three known ones stay open', async () => {
    for (const app of ['s1', 's2', 's3']) expect((await push(ingests[0]!.url, 'few-streams', lokiPush({ app }, 1, 10).body)).status).toBe(204);
    const res = await push(ingests[0]!.url, 'few-streams', lokiPush({ app: 's4' }, 1, 10).body);
    expect(res.status).toBe(429);
    expect(res.text).toMatch(/over its limit of 3/);
    expect(Number(res.retryAfter)).toBeGreaterThan(0);
    expect((await push(ingests[0]!.url, 'few-streams', lokiPush({ app: 's2' }, 1, 10).body)).status).toBe(204);
  });

  it('maxLineBytes and maxLabelsPerStream apply to that tenant only', async () => {
    const body = JSON.stringify({ streams: [{ labels: { app: 'a' }, entries: [{ line: 'y'.repeat(150) }, { line: 'short' }] }, { labels: { app: 'a', b: 'b', c: 'c' }, entries: [{ line: 'three labels' }] }] });
    const limited = await push(ingests[0]!.url, 'short-lines', body, '/api/v1/push');
    expect(limited.status).toBe(400);
    const answer = JSON.parse(limited.text) as { accepted: number; rejected: { code: string }[] };
    expect(answer.accepted).toBe(1);
    expect(answer.rejected.map((r) => r.code).sort()).toEqual(['SILT_BAD_LABELS', 'SILT_LINE_TOO_LONG']);
    expect((await push(ingests[0]!.url, 'anyone', body, '/api/v1/push')).status).toBe(200);
  });

  it('retentionHours: entries older than the tenant retention are never answered, by log or metric queries', async () => {
    const hour = 3_600_000_000_000n;
    const body = (tenant: string): string =>
      JSON.stringify({
        streams: [
          { labels: { app: 'old-only' }, entries: [{ ts: String(nowNs() - 2n * hour), line: 'two hours ago' }] },
          { labels: { app: 'mixed' }, entries: [{ ts: String(nowNs() - 2n * hour), line: `old of ${tenant}` }, { ts: String(nowNs() - hour / 6n), line: `recent of ${tenant}` }] },
        ],
      });
    for (const tenant of ['short-memory', 'long-memory']) expect((await push(ingests[0]!.url, tenant, body(tenant), '/api/v1/push')).status).toBe(200);
    const q = (tenant: string, p: string): Promise<{ status: number; json: unknown }> => fetch(query.url + p, { headers: { 'X-Scope-OrgID': tenant, Accept: 'application/json' } }).then(async (r) => ({ status: r.status, json: await r.json() }));
    const start = nowNs() - 3n * hour;
    const all = encodeURIComponent('{app=~".+"}');
    const lines = async (tenant: string): Promise<string[]> => ((await q(tenant, `/api/v1/query?query=${all}&start=${start}&direction=forward`)).json as { entries: { line: string }[] }).entries.map((e) => e.line);
    await waitFor('the long-memory entries', async () => (await lines('long-memory')).length === 3);
    expect(await lines('short-memory')).toEqual(['recent of short-memory']);
    // Series come from the stream registry, segment by segment (docs/PLUGINS.md): a stream is listed while a segment holding it is within retention, its entries are not.
    const series = (await q('short-memory', `/api/v1/series?match=${all}&start=${start}`)).json as { data: Record<string, string>[] };
    expect(series.data.map((s) => s.app)).toContain('mixed');
    const count = (await q('short-memory', `/loki/api/v1/query?query=${encodeURIComponent('sum(count_over_time({app=~".+"}[3h]))')}&time=${nowNs()}`)).json as { data: { result: { value: [number, string] }[] } };
    expect(count.data.result[0]!.value[1]).toBe('1');
    // On disk too: the storage node deletes the frame only two-hour-old entries of short-memory make
    // up (the one of "mixed" straddles the cutoff and stays until it is wholly past it); long-memory keeps all.
    const removed = async (): Promise<number> => Number(/^silt_storage_tenant_retention_removed_total\{removed="frames"\} (\d+)/m.exec(await (await fetch(cluster.nodes.get('n0')!.url + '/metrics')).text())?.[1] ?? 0);
    await waitFor('per-tenant retention to delete the old frame', async () => (await removed()) >= 1, 20000);
    expect(await lines('long-memory')).toHaveLength(3);
    expect(await lines('short-memory')).toEqual(['recent of short-memory']);
  });

  it('query limits: entries per query, range, and queries and tails at once', async () => {
    const q = (p: string): Promise<Response> => fetch(query.url + p, { headers: { 'X-Scope-OrgID': 'q-limited' } });
    const tooMany = await q('/loki/api/v1/query_range?query={app="x"}&limit=20');
    expect(tooMany.status).toBe(400);
    expect(await tooMany.text()).toMatch(/max entries limit per query exceeded, limit > max_entries_limit_per_query \(20 > 10\)/);
    expect((await q('/api/v1/query?query={app="x"}&limit=20')).status).toBe(422);
    expect((await q('/loki/api/v1/query_range?query={app="x"}&limit=5')).status).toBe(200);
    const start = nowNs() - 2n * 3_600_000_000_000n;
    const long = await q(`/loki/api/v1/query_range?query={app="x"}&limit=5&start=${start}`);
    expect(long.status).toBe(400);
    expect(await long.text()).toMatch(/the query time range exceeds the limit \(query length: 2h0m0\.\d+s, limit: 1h0m0s\)/);
    // Another tenant keeps the service's own limits.
    expect((await fetch(`${query.url}/loki/api/v1/query_range?query={app="x"}&limit=20&start=${start}`, { headers: { 'X-Scope-OrgID': 'free' } })).status).toBe(200);

    // A query whose body is still coming holds its slot. Its headers are sent, then nothing is asked
    // until the server has had time to take them: a probe that got there first would take the slot
    // itself and the held query would be the one refused (answered at once, which is checked).
    const port = Number(new URL(query.url).port);
    const hold = async (): Promise<net.Socket | null> => {
      const socket = net.connect(port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      let answered = false;
      socket.once('data', () => (answered = true));
      socket.write('POST /loki/api/v1/query_range HTTP/1.1\r\nHost: x\r\nX-Scope-OrgID: q-limited\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nquery=');
      await sleep(300);
      if (!answered) return socket;
      socket.destroy();
      return null;
    };
    let held: net.Socket | null = null;
    for (let i = 0; i < 10 && held === null; i++) held = await hold();
    expect(held).not.toBeNull();
    await waitFor('the held query to take its slot', async () => (await q('/loki/api/v1/labels')).status === 429, 5000);
    const refusedQuery = await q('/loki/api/v1/labels');
    expect(refusedQuery.status).toBe(429);
    expect(refusedQuery.headers.get('retry-after')).toBe('1');
    expect((await fetch(query.url + '/loki/api/v1/labels', { headers: { 'X-Scope-OrgID': 'free' } })).status).toBe(200);
    held!.destroy();
    await waitFor('the slot to be free again', async () => (await q('/loki/api/v1/labels')).status === 200, 5000);

    const wsUrl = `${query.url.replace('http', 'ws')}/loki/api/v1/tail?query={app="x"}`;
    const first = new WebSocket(wsUrl, { headers: { 'X-Scope-OrgID': 'q-limited' } });
    await new Promise((resolve, reject) => {
      first.once('open', resolve);
      first.once('error', reject);
    });
    const second = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, { headers: { 'X-Scope-OrgID': 'q-limited' } });
      ws.on('error', () => undefined);
      ws.once('open', () => {
        ws.close();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    });
    expect(second).toBe(429);
    first.close();
    await waitFor('the tail slot to be free again', async () => {
      const ws = new WebSocket(wsUrl, { headers: { 'X-Scope-OrgID': 'q-limited' } });
      ws.on('error', () => undefined);
      const ok = await new Promise<boolean>((resolve) => {
        ws.once('open', () => resolve(true));
        ws.once('unexpected-response', () => resolve(false));
      });
      ws.terminate();
      return ok;
    }, 10000);
  }, 60000);
});
