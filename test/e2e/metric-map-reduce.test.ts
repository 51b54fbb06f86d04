/**
 * Metric queries are computed where the data lives (issue 9): over a million entries,
 * `sum by (app) (count_over_time({app=~".+"}[1m]))` moves only partial aggregates from the storage
 * nodes to the query service — the nodes' own counters show the bytes they sent against the bytes
 * of the entries they read — and gives the same answer when the storage node a query reads from
 * is killed (`kill -9`) in the middle of it: its partitions are asked again of the other replica
 * group, whole. Cluster: ingest in-process, 2 replica groups of one storage node process each on
 * 4 partitions, the query service as a process.
 */
import { post, startIngest, type IngestUnderTest } from '../support/ingest-harness';
import { waitFor, type ServiceProcess } from '../support/processes';
import { StorageCluster } from '../support/storage-cluster';

const PARTITIONS = 4;
const APPS = ['api', 'web', 'db', 'auth', 'cache', 'queue', 'mail', 'search'];
const ENTRIES = 1_000_000;
/** Entries per push request (per request, spread over every app). */
const CHUNK = 10_000;
const MS = 1_000_000n;
const S = 1000n * MS;
/** Entry i sits at T0 + i × 3.6 ms: the million spans one hour, starting two hours ago (minute-aligned). */
const T0 = ((BigInt(Date.now() - 2 * 3600_000) * MS) / (60n * S)) * 60n * S;
const tsOf = (i: number): bigint => T0 + BigInt(i) * 3_600_000n;
const appOf = (i: number): string => APPS[(i * 7 + (i >> 5)) % APPS.length]!;
const lineOf = (i: number): string => `GET /v1/items/${i} status=${200 + (i % 5)} took=${i % 997}ms user=u${i % 1013} trace=${(i * 2654435761) % 4294967296}`;

const QUERY = 'sum by (app) (count_over_time({app=~".+"}[1m]))';
/**
 * The same counts through a line filter no line fails: nodes then run the pipeline entry by entry
 * (seconds for a million entries) instead of reading frame timestamps (a fraction of a second),
 * so a node killed 150 ms in is surely mid-query.
 */
const SLOW_QUERY = 'sum by (app) (count_over_time({app=~".+"} != "silt-absent-needle" [1m]))';
const START = T0 + 60n * S;
const END = T0 + 3600n * S;
const STEP = 60n;

/** The reference answer: per app, the count of its entries in (t − 1m, t] for t = START, START + 1m, … ≤ END. */
function reference(): Record<string, [number, string][]> {
  const out: Record<string, [number, string][]> = {};
  for (const app of APPS) out[app] = [];
  const counts = new Map<string, number[]>(APPS.map((a) => [a, []]));
  const steps = Number((END - START) / (STEP * S)) + 1;
  for (let i = 0; i < ENTRIES; i++) {
    const ts = tsOf(i);
    if (ts <= START - STEP * S) continue;
    // The one step whose window holds ts: the smallest t ≥ ts (windows are a minute long and a minute apart).
    const k = Number((ts - START + STEP * S - 1n) / (STEP * S));
    if (k < 0 || k >= steps) continue;
    const c = counts.get(appOf(i))!;
    c[k] = (c[k] ?? 0) + 1;
  }
  for (const [app, c] of counts) {
    for (let k = 0; k < steps; k++) if (c[k]) out[app]!.push([Number(START / S) + k * Number(STEP), String(c[k])]);
  }
  return out;
}

/** A Prometheus counter's value in a /metrics text (summed over its label sets), 0 when absent. */
function counter(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function metrics(url: string): Promise<string> {
  return (await fetch(url + '/metrics')).text();
}

describe('query > metric queries > map-reduce on the storage nodes', () => {
  const cluster = new StorageCluster(PARTITIONS);
  let ingest: IngestUnderTest;
  let query: ServiceProcess;
  let lineBytes = 0;
  let token = '';

  async function rangeQuery(q = QUERY): Promise<{ status: number; body: { data?: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] } } }> {
    const params = new URLSearchParams({ query: q, start: START.toString(), end: END.toString(), step: String(STEP) });
    const res = await fetch(`${query.url}/loki/api/v1/query_range?${params}`);
    return { status: res.status, body: (await res.json()) as never };
  }

  function byApp(result: { metric: Record<string, string>; values: [number, string][] }[]): Record<string, [number, string][]> {
    const out: Record<string, [number, string][]> = {};
    for (const s of result) out[s.metric.app!] = s.values;
    return out;
  }

  beforeAll(async () => {
    ingest = await startIngest({ kafka: { logsTopic: cluster.logsTopic, nodesTopic: cluster.nodesTopic, partitions: PARTITIONS } });
    await Promise.all([cluster.startNode('n00', 0), cluster.startNode('n10', 1)]);
    query = await cluster.startQuery({ SILT_QUERY_TIMEOUT_MS: '120000' });
    for (let from = 0; from < ENTRIES; from += CHUNK) {
      const streams = APPS.map((app) => ({ labels: { app }, entries: [] as { ts: string; line: string }[] }));
      for (let i = from; i < from + CHUNK; i++) {
        const line = lineOf(i);
        lineBytes += Buffer.byteLength(line);
        streams[APPS.indexOf(appOf(i))]!.entries.push({ ts: tsOf(i).toString(), line });
      }
      const r = await post(ingest.url, '/api/v1/push', JSON.stringify({ streams }), { 'Content-Type': 'application/json' });
      if (r.status !== 200) throw new Error(`push answered ${r.status}: ${JSON.stringify(r.json).slice(0, 500)}`);
      // Every push touches every partition (all apps), so the last token covers them all.
      token = String(r.json.token);
    }
    // Both groups must hold everything before the answer is compared (the kill test reads from either).
    for (const node of cluster.nodes.values()) {
      await waitFor(
        `${node.url} to apply every push`,
        async () => {
          const params = new URLSearchParams({ query: '{app=~".+"}', start: T0.toString(), end: (END + S).toString(), limit: '1', token });
          const res = await fetch(`${node.url}/internal/v1/read?${params}`);
          await res.text();
          return res.status === 200;
        },
        240000,
        500,
      );
    }
  }, 420000);

  afterAll(async () => {
    await query?.stop('SIGKILL');
    await ingest?.service.stop();
    await cluster.close();
  }, 60000);

  it('sends only partials over the wire, and answers what the entries give', async () => {
    const before = await Promise.all([...cluster.nodes.values()].map((n) => metrics(n.url)));
    const r = await rangeQuery();
    expect(r.status).toBe(200);
    expect(r.body.data!.resultType).toBe('matrix');
    expect(byApp(r.body.data!.result)).toEqual(reference());
    const after = await Promise.all([...cluster.nodes.values()].map((n) => metrics(n.url)));
    const read = after.reduce((a, m, i) => a + counter(m, 'silt_storage_aggregate_entries_total') - counter(before[i]!, 'silt_storage_aggregate_entries_total'), 0);
    const sent = after.reduce((a, m, i) => a + counter(m, 'silt_storage_aggregate_bytes_sent_total') - counter(before[i]!, 'silt_storage_aggregate_bytes_sent_total'), 0);
    // The nodes went through (nearly) every entry, and what they sent is a sliver of those entries' bytes.
    expect(read).toBeGreaterThanOrEqual(ENTRIES * 0.98);
    expect(sent).toBeGreaterThan(0);
    expect(sent * 100).toBeLessThan(lineBytes);
  }, 180000);

  it('gives the same answer when the node a query reads from is killed (-9) mid-query', async () => {
    const failoversBefore = counter(await metrics(query.url), 'silt_query_failovers_total');
    // Two queries at once: the query service alternates replica groups per query, so one of them reads from n00.
    const answers = Promise.all([rangeQuery(SLOW_QUERY), rangeQuery(SLOW_QUERY)]);
    // Running the pipeline over a million entries takes a node seconds: 150 ms in, both are mid-way (the failover count below shows it).
    await new Promise((r) => setTimeout(r, 150));
    cluster.nodes.get('n00')!.child!.kill('SIGKILL');
    const [a, b] = await answers;
    const expected = reference();
    for (const r of [a, b]) {
      expect(r.status).toBe(200);
      expect(byApp(r.body.data!.result)).toEqual(expected);
    }
    expect(counter(await metrics(query.url), 'silt_query_failovers_total')).toBeGreaterThan(failoversBefore);
  }, 180000);
});
