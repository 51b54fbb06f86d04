import WebSocket from 'ws';
import { CompatCluster } from '../support/compat-cluster';

const S = 1_000_000_000n;
/** A whole second half an hour ago: every entry of the test is stamped from it on. */
const T = (BigInt(Date.now()) / 1000n - 1800n) * S;
const sec = (n: number): bigint => T + BigInt(Math.round(n * 1000)) * 1_000_000n;
/** A sample time as Loki prints it (seconds, a JSON number). */
const at = (n: number): number => Number(sec(n) / 1_000_000n) / 1000;

/** `{app="api",env="prod"}`: JSON lines at T+0s … T+9s, errors at odd seconds. */
const API = Array.from({ length: 10 }, (_, i) => ({
  ts: sec(i),
  line: JSON.stringify({ level: i % 2 === 1 ? 'error' : 'info', status: i % 2 === 1 ? 500 : 200, latency_ms: 10 * i }),
}));
/** `{app="web",env="dev"}`: logfmt lines at T+0.5s … T+4.5s; the first three carry structured metadata. */
const WEB = Array.from({ length: 5 }, (_, i) => ({ ts: sec(i + 0.5), line: `level=warn msg="hello ${i}" n=${i}`, attrs: i < 3 ? { trace_id: `t${i % 2}` } : undefined }));

/** An answer of the native `/api/v1/query`. */
interface NativeAnswer {
  entries: { ts: string; labels: Record<string, string>; line: string; attrs?: Record<string, string> }[];
  next: string | null;
}

/** Any HTTP answer, as received. */
interface Raw {
  status: number;
  type: string;
  text: string;
  json: unknown;
}

describe('loki api > query service', () => {
  let cluster: CompatCluster;
  let base: string;

  const get = async (path: string, params: Record<string, string | string[]> = {}, init: RequestInit = {}): Promise<Raw> => {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) search.append(k, x);
    const res = await fetch(`${base}${path}${search.size > 0 ? '?' + search : ''}`, init);
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, json };
  };
  const range = { start: String(T), end: String(sec(10)) };
  const data = (a: Raw): { resultType: string; result: unknown; stats: { summary: Record<string, number> } } => {
    if (a.status !== 200) throw new Error(`answered ${a.status}: ${a.text}`);
    return (a.json as { data: never }).data;
  };

  beforeAll(async () => {
    cluster = await CompatCluster.start({ partitions: 2 });
    base = cluster.queryService.url;
    const body = {
      streams: [
        { labels: { app: 'api', env: 'prod' }, entries: API.map((e) => ({ ts: String(e.ts), line: e.line })) },
        { labels: { app: 'web', env: 'dev' }, entries: WEB.map((e) => ({ ts: String(e.ts), line: e.line, ...(e.attrs ? { attrs: e.attrs } : {}) })) },
      ],
    };
    const res = await fetch(cluster.ingestUrl + '/api/v1/push', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    // Read-your-writes through the native API, so every node has applied the push before the Loki routes are asked.
    const seen = await get('/api/v1/query', { query: '{app=~".+"}', ...range, limit: '100', token });
    expect((seen.json as { entries: unknown[] }).entries).toHaveLength(15);
  }, 180000);

  afterAll(async () => {
    await cluster?.close();
  }, 60000);

  describe('query_range > log queries', () => {
    it('answers streams with Loki\'s envelope, newest first by default', async () => {
      const a = await get('/loki/api/v1/query_range', { query: '{app="api"}', ...range, limit: '3' });
      expect(a.type).toMatch(/^application\/json/);
      const body = a.json as { status: string; data: Record<string, unknown> };
      expect(Object.keys(body)).toEqual(['status', 'data']);
      expect(body.status).toBe('success');
      expect(Object.keys(body.data)).toEqual(['resultType', 'result', 'stats']);
      expect(data(a).resultType).toBe('streams');
      expect(data(a).result).toEqual([{ stream: { app: 'api', env: 'prod' }, values: [9, 8, 7].map((i) => [String(API[i]!.ts), API[i]!.line]) }]);
      expect(data(a).stats.summary.totalEntriesReturned).toBe(3);
      expect(data(a).stats.summary.totalLinesProcessed).toBeGreaterThanOrEqual(3);
    });

    it('reads forward, start inclusive and end exclusive', async () => {
      const a = await get('/loki/api/v1/query_range', { query: '{app="api"}', start: String(sec(2)), end: String(sec(5)), direction: 'forward' });
      expect(data(a).result).toEqual([{ stream: { app: 'api', env: 'prod' }, values: [2, 3, 4].map((i) => [String(API[i]!.ts), API[i]!.line]) }]);
    });

    it('groups by the full labels after the pipeline', async () => {
      const a = await get('/loki/api/v1/query_range', { query: '{app="api"} | json | status >= 500 | latency_ms < 40', ...range, direction: 'forward' });
      expect(data(a).result).toEqual([1, 3].map((i) => ({ stream: { app: 'api', env: 'prod', level: 'error', status: '500', latency_ms: String(10 * i) }, values: [[String(API[i]!.ts), API[i]!.line]] })));
    });

    it('makes structured metadata part of the stream labels', async () => {
      const a = await get('/loki/api/v1/query_range', { query: '{app="web"}', ...range, direction: 'forward' });
      const streams = data(a).result as { stream: Record<string, string>; values: [string, string][] }[];
      // Streams in Loki's order, by their label text (`, ` sorts before `}`).
      expect(streams.map((s) => [s.stream, s.values.map(([ts]) => ts)])).toEqual([
        [{ app: 'web', env: 'dev', trace_id: 't0' }, [String(WEB[0]!.ts), String(WEB[2]!.ts)]],
        [{ app: 'web', env: 'dev', trace_id: 't1' }, [String(WEB[1]!.ts)]],
        [{ app: 'web', env: 'dev' }, [String(WEB[3]!.ts), String(WEB[4]!.ts)]],
      ]);
    });

    it('answers a POSTed form as the same query string', async () => {
      const params = { query: '{app="api"} |= "error"', ...range, limit: '2' };
      const viaGet = await get('/loki/api/v1/query_range', params);
      const viaPost = await get('/loki/api/v1/query_range', {}, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() });
      expect(data(viaPost).result).toEqual(data(viaGet).result);
      expect((data(viaGet).result as { values: unknown[] }[])[0]!.values).toHaveLength(2);
    });
  });

  describe('query_range and query > metric queries', () => {
    it('answers a matrix: points at start, start + step, … with (t − range, t] windows', async () => {
      const a = await get('/loki/api/v1/query_range', { query: 'count_over_time({app="api"}[5s])', start: String(sec(5)), end: String(sec(10)), step: '5s' });
      expect(data(a).resultType).toBe('matrix');
      expect(data(a).result).toEqual([{ metric: { app: 'api', env: 'prod' }, values: [[at(5), '5'], [at(10), '4']] }]);
    });

    it('answers an instant vector', async () => {
      const a = await get('/loki/api/v1/query', { query: 'sum by (level) (count_over_time({app="api"} | json [10s]))', time: String(sec(10)) });
      expect(data(a).resultType).toBe('vector');
      expect(data(a).result).toEqual([
        { metric: { level: 'error' }, value: [at(10), '5'] },
        { metric: { level: 'info' }, value: [at(10), '4'] },
      ]);
    });

    it('answers Grafana\'s health check and scalars', async () => {
      const health = await get('/loki/api/v1/query', { direction: 'backward', query: 'vector(1)+vector(1)', time: '4000000000' });
      expect(data(health)).toMatchObject({ resultType: 'vector', result: [{ metric: {}, value: [4000000000, '2'] }] });
      const scalar = await get('/loki/api/v1/query', { query: '1 + 1', time: String(sec(3)) });
      expect(data(scalar)).toMatchObject({ resultType: 'scalar', result: [at(3), '2'] });
      const nan = await get('/loki/api/v1/query', { query: 'vector(0) / vector(0)', time: String(sec(3)) });
      expect(data(nan).result).toEqual([{ metric: {}, value: [at(3), 'NaN'] }]);
    });

    it('refuses a metric query whose samples keep __error__', async () => {
      // `by (level)` makes the parser run (Loki parses nothing for a bare sum), and it fails on logfmt lines.
      const a = await get('/loki/api/v1/query_range', { query: 'sum by (level) (count_over_time({app="web"} | json [1m]))', ...range, step: '10s' });
      expect([a.status, a.type]).toEqual([400, 'text/plain; charset=utf-8']);
      expect(a.text).toMatch(/^pipeline error: 'JSONParserErr' for series: '\{__error__="JSONParserErr"/);
    });
  });

  describe('errors', () => {
    it.each([
      ['/loki/api/v1/query_range', { query: '{app="x"', limit: '10' }, 'parse error at line 1, col 9: syntax error: unexpected $end, expecting } or ,'],
      ['/loki/api/v1/query', { query: '{app="api"}' }, 'log queries are not supported as an instant query type, please change your query to a range query type'],
      ['/loki/api/v1/query_range', { query: 'rate({app="api"}[1m])', step: '-60s' }, 'cannot parse "-60s" to a valid duration'],
      ['/loki/api/v1/query_range', { query: '{app="api"}', limit: '5001' }, 'max entries limit per query exceeded, limit > max_entries_limit_per_query (5001 > 5000)'],
      ['/loki/api/v1/query_range', { query: '{app="api"}', start: 'soon' }, `could not parse 'start' parameter: strconv.ParseInt: parsing "soon": invalid syntax`],
    ])('%s %j answers 400 with Loki\'s plain-text message', async (path, params, message) => {
      const a = await get(path, params);
      expect([a.status, a.type, a.text]).toEqual([400, 'text/plain; charset=utf-8', message]);
    });
  });

  describe('metadata', () => {
    it('answers label names and values of stream labels only', async () => {
      expect((await get('/loki/api/v1/labels', range)).json).toEqual({ status: 'success', data: ['app', 'env'] });
      expect((await get('/loki/api/v1/label/env/values', range)).json).toEqual({ status: 'success', data: ['dev', 'prod'] });
      expect((await get('/loki/api/v1/label/env/values', { ...range, query: '{app="api"}' })).json).toEqual({ status: 'success', data: ['prod'] });
      expect((await get('/loki/api/v1/label/trace_id/values', range)).json).toEqual({ status: 'success' });
    });

    it('answers series for repeated match[], and every series without one', async () => {
      const both = (await get('/loki/api/v1/series', { ...range, 'match[]': ['{app="api"}', '{env="dev"}'] })).json as { status: string; data: Record<string, string>[] };
      const all = (await get('/loki/api/v1/series', range)).json as { data: Record<string, string>[] };
      const sorted = (d: Record<string, string>[]): string[] => d.map((l) => JSON.stringify(l)).sort();
      expect(both.status).toBe('success');
      expect(sorted(both.data)).toEqual([JSON.stringify({ app: 'api', env: 'prod' }), JSON.stringify({ app: 'web', env: 'dev' })]);
      expect(sorted(all.data)).toEqual(sorted(both.data));
    });

    it('answers index stats and volumes', async () => {
      const bytes = API.reduce((n, e) => n + Buffer.byteLength(e.line), 0);
      expect((await get('/loki/api/v1/index/stats', { query: '{app="api"}', ...range })).json).toEqual({ streams: 1, chunks: 1, bytes, entries: 10 });
      const volume = (await get('/loki/api/v1/index/volume', { query: '{app=~".+"}', ...range })).json as { status: string; data: { resultType: string; result: unknown } };
      const webBytes = WEB.reduce((n, e) => n + Buffer.byteLength(e.line), 0);
      expect(volume).toEqual({
        status: 'success',
        data: {
          resultType: 'vector',
          result: [
            { metric: { app: 'api' }, value: [at(10), String(bytes)] },
            { metric: { app: 'web' }, value: [at(10), String(webBytes)] },
          ],
        },
      });
    });

    it('formats queries, reports its build and readiness', async () => {
      expect((await get('/loki/api/v1/format_query', { query: '{app="a"}|json' })).json).toEqual({ status: 'success', data: '{app="a"} | json' });
      const bad = await get('/loki/api/v1/format_query', { query: '{app="a"' });
      expect([bad.status, (bad.json as { status: string }).status]).toEqual([400, 'invalid-query']);
      expect(Object.keys((await get('/loki/api/v1/status/buildinfo')).json as object)).toEqual(['version', 'revision', 'branch', 'buildUser', 'buildDate', 'goVersion']);
      const ready = await get('/ready');
      expect([ready.status, ready.text]).toEqual([200, 'ready\n']);
    });
  });

  describe('native api', () => {
    it('runs pipeline stages and pages through what passes them', async () => {
      const params = { query: '{app="api"} | json | level="error"', ...range, direction: 'forward', limit: '3' };
      const first = (await get('/api/v1/query', params)).json as NativeAnswer;
      expect(first.entries).toEqual([1, 3, 5].map((i) => ({ ts: String(API[i]!.ts), labels: { app: 'api', env: 'prod', level: 'error', status: '500', latency_ms: String(10 * i) }, line: API[i]!.line })));
      expect(first.next).not.toBeNull();
      const second = (await get('/api/v1/query', { ...params, cursor: first.next! })).json as NativeAnswer;
      expect(second.entries.map((e) => e.ts)).toEqual([7, 9].map((i) => String(API[i]!.ts)));
      expect(second.next).toBeNull();
    });

    it('keeps structured metadata in attrs, out of the labels', async () => {
      const a = (await get('/api/v1/query', { query: '{app="web"} | logfmt | n <= 1', ...range, direction: 'forward' })).json as NativeAnswer;
      expect(a.entries).toEqual([0, 1].map((i) => ({ ts: String(WEB[i]!.ts), labels: { app: 'web', env: 'dev', level: 'warn', msg: `hello ${i}`, n: String(i) }, line: WEB[i]!.line, attrs: WEB[i]!.attrs })));
    });
  });

  describe('tail', () => {
    it('sends the newest entries first, then new ones, in Loki\'s message shape', async () => {
      const url = base.replace(/^http/, 'ws') + '/loki/api/v1/tail?' + new URLSearchParams({ query: '{app="api"} | json | level="error"', start: String(T), limit: '2' });
      const socket = new WebSocket(url);
      const messages: unknown[] = [];
      const arrived = (n: number): Promise<void> =>
        new Promise((resolve, reject) => {
          const check = (): void => {
            if (messages.length >= n) resolve();
          };
          socket.on('message', (m) => {
            messages.push(JSON.parse(m.toString()));
            check();
          });
          socket.once('error', reject);
          check();
        });
      const first = arrived(1);
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      await first;
      const labels = { app: 'api', env: 'prod', level: 'error', status: '500' };
      expect(messages[0]).toEqual({
        streams: [{ stream: { ...labels, latency_ms: '70' }, values: [[String(API[7]!.ts), API[7]!.line]] }, { stream: { ...labels, latency_ms: '90' }, values: [[String(API[9]!.ts), API[9]!.line]] }],
        dropped_entries: null,
      });
      const second = arrived(2);
      const ts = String(BigInt(Date.now()) * 1_000_000n + 1000n);
      const line = JSON.stringify({ level: 'error', status: 503, latency_ms: 1 });
      const body = { streams: [{ labels: { app: 'api', env: 'prod' }, entries: [{ ts, line: JSON.stringify({ level: 'info' }) }, { ts, line }] }] };
      await fetch(cluster.ingestUrl + '/api/v1/push', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      await second;
      expect(messages[1]).toEqual({ streams: [{ stream: { ...labels, status: '503', latency_ms: '1' }, values: [[ts, line]] }], dropped_entries: null });
      socket.close();
    }, 60000);

    it('answers a bad tail query with Loki\'s 400 before any upgrade', async () => {
      const socket = new WebSocket(base.replace(/^http/, 'ws') + '/loki/api/v1/tail?' + new URLSearchParams({ query: '{app="api"' }));
      const answer = await new Promise<[number, string]>((resolve, reject) => {
        socket.once('unexpected-response', (_req, res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve([res.statusCode ?? 0, text]));
        });
        socket.once('open', () => reject(new Error('upgraded')));
      });
      expect(answer).toEqual([400, 'parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,']);
    });
  });
});
