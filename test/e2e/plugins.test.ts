/**
 * Plugins across the whole cluster as processes: the built-in pipeline rules per tenant and the
 * worked example plugin of docs/PLUGINS.md loaded from a file, configured as an operator would.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, ServiceProcess, waitFor } from '../support/processes';
import { QueryClient, type QueryEntry } from '../support/query-client';
import { StorageCluster } from '../support/storage-cluster';

const EXAMPLE = path.resolve(__dirname, '../../docs/examples/stamp-plugin.js');

const CONFIG = {
  plugins: [
    { name: 'relabel', options: { tenants: ['team-a'], rules: [{ action: 'labeldrop', regex: 'pod' }, { source_labels: ['app'], regex: '(.*)-v\\d+', target_label: 'app', replacement: '$1' }] } },
    { name: 'drop', options: { tenants: ['team-a'], query: '{app="api"} |= "GET /health"' } },
    { name: 'sample', options: { tenants: ['team-a'], query: '{app="chatty"}', oneIn: 10 } },
    { name: 'redact', options: { tenants: ['team-a'], patterns: ['\\b\\d{16}\\b', '[\\w.]+@[\\w.]+'] } },
    { path: './stamp-plugin.js', options: { value: 'eu-1', maxQueryLength: 200 } },
  ],
};

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

function pushBody(): string {
  const t = nowNs();
  const values = (lines: string[]): [string, string][] => lines.map((l, i) => [String(t + BigInt(i)), l]);
  return JSON.stringify({
    streams: [
      { stream: { app: 'api-v2', pod: 'p1' }, values: values(['GET /health 200', 'GET /orders card 4111111111111111 for bob@example.com']) },
      { stream: { app: 'chatty' }, values: values(Array.from({ length: 100 }, (_, i) => `chatter ${i}`)) },
      { stream: { app: 'web' }, values: values(['hello']) },
    ],
  });
}

describe('plugins > pipeline rules and a plugin from a file change what is stored', () => {
  let dir: string;
  let cluster: StorageCluster;
  let ingest: ServiceProcess;
  let query: ServiceProcess;
  let client: QueryClient;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-plugins-'));
    fs.copyFileSync(EXAMPLE, path.join(dir, 'stamp-plugin.js'));
    fs.writeFileSync(path.join(dir, 'silt.json'), JSON.stringify(CONFIG));
    cluster = new StorageCluster(2, {}, ['--config', path.join(dir, 'silt.json')]);
    await cluster.startNode('n0', 0);
    [ingest, query] = await Promise.all([cluster.startIngest(), cluster.startQuery()]);
    client = new QueryClient(query.url);
    for (const tenant of ['team-a', 'team-b']) {
      const res = await fetch(`${ingest.url}/loki/api/v1/push`, { method: 'POST', body: pushBody(), headers: { 'Content-Type': 'application/json', 'X-Scope-OrgID': tenant } });
      expect(res.status).toBe(204);
    }
  }, 180000);

  afterAll(async () => {
    await Promise.all([ingest?.stop(), query?.stop()]);
    await cluster?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const read = async (q: string, tenant: string, count: number): Promise<QueryEntry[]> => {
    const range = { start: nowNs() - 3_600_000_000_000n, end: nowNs() + 60_000_000_000n, direction: 'forward' as const, limit: 1000 };
    let entries: QueryEntry[] = [];
    await waitFor(`${count} entries of ${q} for ${tenant}`, async () => {
      entries = (await client.query({ query: q, ...range }, tenant)).entries;
      return entries.length >= count;
    });
    return entries;
  };

  it('team-a: relabelled, the health check dropped, one in ten sampled, secrets redacted, every stream stamped', async () => {
    const api = await read('{app="api"}', 'team-a', 1);
    expect(api.map((e) => [e.labels, e.line])).toEqual([[{ app: 'api', stamped_by: 'eu-1' }, 'GET /orders card [REDACTED] for [REDACTED]']]);
    const chatty = await read('{app="chatty"}', 'team-a', 10);
    expect(chatty.map((e) => e.line)).toEqual(Array.from({ length: 10 }, (_, i) => `chatter ${i * 10}`));
    expect((await read('{app="web"}', 'team-a', 1)).map((e) => e.labels)).toEqual([{ app: 'web', stamped_by: 'eu-1' }]);
    expect((await client.query({ query: '{pod="p1"}', start: nowNs() - 3_600_000_000_000n, end: nowNs() + 60_000_000_000n }, 'team-a')).entries).toEqual([]);
  });

  it('team-b, outside the rules tenants: stored as pushed, with only the stamp every tenant gets', async () => {
    const api = await read('{app="api-v2"}', 'team-b', 2);
    expect(api.map((e) => e.line)).toEqual(['GET /health 200', 'GET /orders card 4111111111111111 for bob@example.com']);
    expect(api[0]!.labels).toEqual({ app: 'api-v2', pod: 'p1', stamped_by: 'eu-1' });
    expect(await read('{app="chatty"}', 'team-b', 100)).toHaveLength(100);
  });

  it('counts what each rule did in silt_ingest_pipeline_entries_total, and the plugin serves its own route', async () => {
    const metrics = await (await fetch(`${ingest.url}/metrics`)).text();
    const count = (rule: string, action: string): number => Number(new RegExp(`silt_ingest_pipeline_entries_total\\{rule="${rule.replace(/[[\]]/g, '\\$&')}",action="${action}"\\} (\\d+)`).exec(metrics)?.[1]);
    expect(count('plugins[0]', 'relabelled')).toBe(2);
    expect(count('plugins[1]', 'dropped')).toBe(1);
    expect(count('plugins[2]', 'sampled_out')).toBe(90);
    expect(count('plugins[3]', 'redacted')).toBe(1);
    const own = (await (await fetch(`${ingest.url}/plugins/stamp`)).json()) as { service: string; stamped: number };
    expect(own).toMatchObject({ service: 'ingest', label: 'stamped_by', value: 'eu-1' });
    expect(own.stamped).toBe(1 + 10 + 1 + 103);
  });

  it("the plugin's onQuery refuses long queries on every read route, in each route's dialect", async () => {
    const long = `{app="api"} |= "${'x'.repeat(200)}"`;
    const native = await client.get('/api/v1/query', { query: long }, 'team-a');
    expect(native.status).toBe(400);
    expect((native.json as { error: { code: string } }).error.code).toBe('SILT_QUERY_TOO_LONG');
    const loki = await client.get('/loki/api/v1/query_range', { query: long }, 'team-a');
    expect(loki.status).toBe(400);
    expect(loki.headers.get('x-silt-error-code')).toBe('SILT_QUERY_TOO_LONG');
    expect(loki.text).toMatch(/over this cluster's 200/);
    const series = await client.get('/loki/api/v1/series', { 'match[]': long }, 'team-a');
    expect(series.status).toBe(400);
    const form = await fetch(`${query.url}/loki/api/v1/query_range`, { method: 'POST', body: new URLSearchParams({ query: long }), headers: { 'X-Scope-OrgID': 'team-a' } });
    expect(form.status).toBe(400);
    expect((await client.get('/api/v1/query', { query: '{app="web"}', start: String(nowNs() - 3_600_000_000_000n) }, 'team-a')).status).toBe(200);
    expect(((await (await fetch(`${query.url}/plugins/stamp`)).json()) as { refused: number }).refused).toBe(4);
  });

  it('a bad plugin option stops the service at start with a message naming it', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ plugins: [{ name: 'sample', options: { query: '{app="x"}', oneIn: 0 } }] }));
    const port = await freePort();
    const proc = new ServiceProcess('ingest', { ...cluster.env(), SILT_INGEST_PORT: String(port), SILT_INGEST_SYSLOG_ENABLED: 'false' }, `http://127.0.0.1:${port}`, ['--config', bad]);
    await expect(proc.start(30000)).rejects.toThrow(/plugins\[0\]\.options: oneIn: must be a positive integer/);
    expect(proc.child!.exitCode).toBe(2);
  });
});
