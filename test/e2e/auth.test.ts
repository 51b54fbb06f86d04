/**
 * Auth across the whole cluster as processes, configured as an operator would: a config file with
 * hashed API keys and a cluster secret, `--config` on every service, SIGHUP to reload it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { pinoLoki } from 'pino-loki';
import winston from 'winston';
import LokiTransport from 'winston-loki';
import WebSocket from 'ws';
import { hashKey } from '../../core/src/auth/key-ring';
import { waitFor, type ServiceProcess } from '../support/processes';
import { QueryClient } from '../support/query-client';
import { StorageCluster } from '../support/storage-cluster';

const KEY_A = 'key-for-team-a-0123456789';
const KEY_B = 'key-for-team-b-0123456789';
const KEY_PUSH_ONLY = 'key-push-only-0123456789';
const KEY_QUERY_ONLY = 'key-query-only-0123456789';
const KEY_REVOKED = 'key-soon-revoked-01234567';
const KEY_ADMIN = 'key-admin-every-tenant-01';
const SECRET = 'cluster-secret-0123456789abcdef';

type Key = { sha256: string; tenants: string[]; scopes: string[]; name: string };

function keysFile(keys: Key[]): string {
  return JSON.stringify({ auth: { enabled: true, clusterSecret: SECRET, keys }, plugins: [{ name: 'log', options: { level: 'warn' } }] }, null, 2);
}

const KEYS: Key[] = [
  { name: 'a', sha256: hashKey(KEY_A), tenants: ['team-a'], scopes: ['push', 'query'] },
  { name: 'b', sha256: hashKey(KEY_B), tenants: ['team-b'], scopes: ['push', 'query'] },
  { name: 'push-only', sha256: hashKey(KEY_PUSH_ONLY), tenants: ['team-a'], scopes: ['push'] },
  { name: 'query-only', sha256: hashKey(KEY_QUERY_ONLY), tenants: ['team-a'], scopes: ['query'] },
  { name: 'revoked', sha256: hashKey(KEY_REVOKED), tenants: ['team-a'], scopes: ['push', 'query'] },
  { name: 'admin', sha256: hashKey(KEY_ADMIN), tenants: ['*'], scopes: ['admin'] },
];

const bearer = (key: string): Record<string, string> => ({ Authorization: `Bearer ${key}` });
const basic = (user: string, key: string): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}` });

const nowNs = (): string => String(BigInt(Date.now()) * 1_000_000n);

function lokiBody(app: string, line: string): string {
  return JSON.stringify({ streams: [{ stream: { app }, values: [[nowNs(), line]] }] });
}

async function post(url: string, body: string, headers: Record<string, string>, type = 'application/json'): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': type, ...headers } });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function get(url: string, headers: Record<string, string>): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { headers });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** The HTTP status a WebSocket upgrade to `url` is answered with (101 when it opens). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', (err) => reject(err));
  });
}

describe('auth > whole cluster with API keys and a cluster secret', () => {
  let dir: string;
  let configFile: string;
  let cluster: StorageCluster;
  let ingest: ServiceProcess;
  let query: ServiceProcess;
  let client: QueryClient;
  const range = (): Record<string, string> => ({ start: String(BigInt(Date.now() - 3600_000) * 1_000_000n), end: String(BigInt(Date.now() + 60_000) * 1_000_000n) });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'silt-auth-'));
    configFile = path.join(dir, 'silt.json');
    fs.writeFileSync(configFile, keysFile(KEYS));
    cluster = new StorageCluster(2, {}, ['--config', configFile]);
    await cluster.startNode('n0', 0);
    [ingest, query] = await Promise.all([cluster.startIngest(), cluster.startQuery()]);
    client = new QueryClient(query.url);
  }, 180000);

  afterAll(async () => {
    await Promise.all([ingest?.stop(), query?.stop()]);
    await cluster?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const pushRoutes = (): [string, string, string][] => [
    ['/loki/api/v1/push', lokiBody('x', 'l'), 'application/json'],
    ['/api/v1/push', JSON.stringify({ streams: [{ labels: { app: 'x' }, entries: [{ line: 'l' }] }] }), 'application/json'],
    ['/v1/logs', JSON.stringify({ resourceLogs: [] }), 'application/json'],
    ['/otlp/v1/logs', JSON.stringify({ resourceLogs: [] }), 'application/json'],
    ['/_bulk', '{"create":{}}\n{"message":"m"}\n', 'application/x-ndjson'],
  ];
  const readPaths = ['/api/v1/query?query={app="x"}', '/api/v1/labels', '/api/v1/label/app/values', '/api/v1/series?match={app="x"}', '/loki/api/v1/query_range?query={app="x"}', '/loki/api/v1/query?query=count_over_time({app="x"}[1m])', '/loki/api/v1/labels', '/loki/api/v1/label/app/values', '/loki/api/v1/series?match[]={app="x"}', '/loki/api/v1/index/stats?query={app="x"}'];

  it('no key → 401 with WWW-Authenticate on every push, read and tail route; probes and metrics stay open', async () => {
    for (const [route, body, type] of pushRoutes()) {
      const res = await post(ingest.url + route, body, {}, type);
      expect([route, res.status]).toEqual([route, 401]);
      expect(res.headers.get('www-authenticate')).toContain('Basic');
    }
    for (const p of readPaths) expect([p, (await get(query.url + p, {})).status]).toEqual([p, 401]);
    const wsBase = query.url.replace('http', 'ws');
    expect(await upgradeStatus(`${wsBase}/loki/api/v1/tail?query={app="x"}`, {})).toBe(401);
    expect(await upgradeStatus(`${wsBase}/api/v1/tail?query={app="x"}`, {})).toBe(401);
    expect((await get(query.url + '/api/v1/tail?query={app="x"}', { Accept: 'text/event-stream' })).status).toBe(401);
    expect((await get(query.url + '/internal/v1/directory', {})).status).toBe(401);
    for (const url of [ingest.url, query.url, cluster.nodes.get('n0')!.url]) {
      expect((await get(url + '/readyz', {})).status).toBe(200);
      expect((await get(url + '/metrics', {})).status).toBe(200);
    }
    expect((await get(query.url + '/loki/api/v1/status/buildinfo', {})).status).toBe(200);
    // A key that is not configured is no better than none.
    expect((await post(ingest.url + '/loki/api/v1/push', lokiBody('x', 'l'), bearer('not-a-key-at-all'))).status).toBe(401);
    expect((await get(query.url + readPaths[0]!, basic('team-a', 'not-a-key-at-all'))).status).toBe(401);
  });

  it('a key without the scope → 403: push-only cannot read, query-only cannot push', async () => {
    const res = await get(query.url + readPaths[0]!, bearer(KEY_PUSH_ONLY));
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).error.code).toBe('SILT_SCOPE_FORBIDDEN');
    for (const [route, body, type] of pushRoutes()) expect([route, (await post(ingest.url + route, body, bearer(KEY_QUERY_ONLY), type)).status]).toEqual([route, 403]);
    // Loki's dialect answers in plain text, with Silt's code in a header.
    const loki = await get(query.url + readPaths[4]!, { 'X-API-Key': KEY_PUSH_ONLY });
    expect(loki.status).toBe(403);
    expect(loki.headers.get('x-silt-error-code')).toBe('SILT_SCOPE_FORBIDDEN');
  });

  it('a key for team-a cannot push to or read team-b on any route, by header or Basic user', async () => {
    const asB = [{ ...bearer(KEY_A), 'X-Scope-OrgID': 'team-b' }, basic('team-b', KEY_A), { 'X-API-Key': KEY_A, 'X-Scope-OrgID': 'team-b' }];
    for (const headers of asB) {
      for (const [route, body, type] of pushRoutes()) {
        const res = await post(ingest.url + route, body, headers, type);
        expect([route, res.status]).toEqual([route, 403]);
      }
      for (const p of readPaths) expect([p, (await get(query.url + p, headers)).status]).toEqual([p, 403]);
      const wsBase = query.url.replace('http', 'ws');
      expect(await upgradeStatus(`${wsBase}/loki/api/v1/tail?query={app="x"}`, headers)).toBe(403);
      expect(await upgradeStatus(`${wsBase}/api/v1/tail?query={app="x"}`, headers)).toBe(403);
      expect((await get(query.url + '/api/v1/tail?query={app="x"}', { ...headers, Accept: 'text/event-stream' })).status).toBe(403);
    }
  });

  it('each key reads its own tenant only; the storage nodes take the query service calls (cluster secret) and refuse others', async () => {
    expect((await post(ingest.url + '/loki/api/v1/push', lokiBody('shared-app', 'line of a'), bearer(KEY_A))).status).toBe(204);
    expect((await post(ingest.url + '/loki/api/v1/push', lokiBody('shared-app', 'line of b'), basic('team-b', KEY_B))).status).toBe(204);
    const linesOf = async (headers: Record<string, string>): Promise<string[]> => {
      const res = await get(`${query.url}/api/v1/query?${new URLSearchParams({ query: '{app="shared-app"}', ...range() })}`, { ...headers, Accept: 'application/json' });
      expect(res.status).toBe(200);
      return (JSON.parse(res.text) as { entries: { line: string }[] }).entries.map((e) => e.line);
    };
    await waitFor('both lines', async () => (await linesOf(bearer(KEY_A))).length === 1 && (await linesOf(bearer(KEY_B))).length === 1);
    expect(await linesOf(bearer(KEY_A))).toEqual(['line of a']);
    expect(await linesOf({ ...bearer(KEY_A), 'X-Scope-OrgID': 'team-a' })).toEqual(['line of a']);
    expect(await linesOf(basic('team-b', KEY_B))).toEqual(['line of b']);
    // An admin key of every tenant picks one with the header.
    expect(await linesOf({ ...bearer(KEY_ADMIN), 'X-Scope-OrgID': 'team-b' })).toEqual(['line of b']);

    const node = cluster.nodes.get('n0')!.url;
    const read = `${node}/internal/v1/read?${new URLSearchParams({ query: '{app="shared-app"}', ...range(), direction: 'forward', limit: '10' })}`;
    expect((await get(read, { 'X-Scope-OrgID': 'team-a' })).status).toBe(401);
    // A tenant's key is valid but not for the internal API (it needs the secret, or an admin key).
    expect((await get(read, { 'X-Scope-OrgID': 'team-a', ...bearer(KEY_A) })).status).toBe(403);
    expect((await get(read, { 'X-Scope-OrgID': 'team-a', ...bearer(SECRET) })).status).toBe(200);
    expect((await get(`${node}/internal/v1/state`, {})).status).toBe(401);
    expect((await get(`${query.url}/internal/v1/directory`, bearer(SECRET))).status).toBe(200);
  }, 60000);

  it('pino-loki and winston-loki with Basic auth (tenant as user, key as password) push as that tenant', async () => {
    const transport = pinoLoki({ host: ingest.url, basicAuth: { username: 'team-a', password: KEY_A }, labels: { app: 'pino-auth' }, batching: false });
    const logger = pino({ level: 'info' }, transport);
    logger.info('from pino');
    await new Promise<void>((resolve) => {
      transport.on('close', () => resolve());
      transport.end();
    });
    const winstonTransport = new LokiTransport({
      host: ingest.url,
      basicAuth: `team-a:${KEY_A}`,
      labels: { app: 'winston-auth' },
      interval: 0.2,
      gracefulShutdown: false,
      format: winston.format.printf((info) => String(info.message)),
    });
    const wlogger = winston.createLogger({ level: 'info', transports: [winstonTransport] });
    wlogger.info('from winston');
    const linesOf = async (app: string): Promise<string[]> => {
      const answer = await client.queryRaw({ query: `{app="${app}"}`, ...range() }, undefined, { ...bearer(KEY_A), Accept: 'application/json' });
      return answer.status === 200 ? (answer.json as { entries: { line: string }[] }).entries.map((e) => e.line) : [];
    };
    await waitFor('pino and winston lines', async () => (await linesOf('pino-auth')).length === 1 && (await linesOf('winston-auth')).length === 1);
    await winstonTransport.close?.();
    wlogger.close();
    expect(JSON.parse((await linesOf('pino-auth'))[0]!).msg).toBe('from pino');
    expect(await linesOf('winston-auth')).toEqual(['from winston']);
    // Neither is in team-b.
    const b = await client.queryRaw({ query: '{app=~"pino-auth|winston-auth"}', ...range() }, undefined, { ...bearer(KEY_B), Accept: 'application/json' });
    expect((b.json as { entries: unknown[] }).entries).toEqual([]);
  }, 60000);

  it('the OpenTelemetry exporter with an Authorization header pushes as the key tenant', async () => {
    const sender = `
const { LoggerProvider, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-proto');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const p = JSON.parse(process.argv[1]);
const failures = [];
const inner = new OTLPLogExporter({ url: p.url, headers: { Authorization: 'Bearer ' + p.key } });
const exporter = { export: (logs, done) => inner.export(logs, (r) => { if (r.code !== 0) failures.push(String(r.error)); done(r); }), shutdown: () => inner.shutdown() };
const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'otel-auth' }), processors: [new SimpleLogRecordProcessor({ exporter })] });
provider.getLogger('auth-test').emit({ body: 'from otel' });
provider.forceFlush().then(() => provider.shutdown()).then(() => { if (failures.length) { console.error(failures.join('\\n')); process.exit(1); } });
`;
    const run = (key: string): Promise<unknown> =>
      promisify(execFile)(process.execPath, ['-e', sender, JSON.stringify({ url: `${ingest.url}/v1/logs`, key })], { cwd: path.resolve(__dirname, '../..'), timeout: 60000 });
    await run(KEY_A);
    await expect(run('wrong-key-0123456789')).rejects.toThrow(/Unauthorized/);
    await waitFor('the OTLP line', async () => {
      const answer = await client.queryRaw({ query: '{service_name="otel-auth"}', ...range() }, undefined, { ...bearer(KEY_A), Accept: 'application/json' });
      return answer.status === 200 && (answer.json as { entries: { line: string }[] }).entries.some((e) => e.line === 'from otel');
    });
  }, 90000);

  it('the log plugin writes one structured line per request, with tenant and key name, never the key', async () => {
    expect((await post(ingest.url + '/loki/api/v1/push', lokiBody('logged', 'l'), basic('team-a', KEY_A))).status).toBe(204);
    await waitFor('the request line', () => ingest.output.includes('"path":"/loki/api/v1/push"'), 5000);
    const lines = ingest.output.split('\n').filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l.slice(l.indexOf('{'))) as Record<string, unknown>);
    expect(lines.some((l) => l.tenant === 'team-a' && l.key === 'a' && l.status === 204 && l.route === '/loki/api/v1/push' && typeof l.durationMs === 'number')).toBe(true);
    expect(lines.some((l) => l.status === 401)).toBe(true);
    for (const key of [KEY_A, KEY_B, KEY_PUSH_ONLY, KEY_QUERY_ONLY, Buffer.from(`team-a:${KEY_A}`).toString('base64')]) expect(ingest.output).not.toContain(key);
    expect(query.output).not.toContain(SECRET);
  });

  it('a key removed from the file stops working after SIGHUP, without a restart; the others keep working', async () => {
    const push = (key: string): Promise<number> => post(ingest.url + '/loki/api/v1/push', lokiBody('revoke', 'r'), bearer(key)).then((r) => r.status);
    const read = (key: string): Promise<number> => get(`${query.url}/api/v1/labels`, bearer(key)).then((r) => r.status);
    expect(await push(KEY_REVOKED)).toBe(204);
    expect(await read(KEY_REVOKED)).toBe(200);
    const pids = [ingest.child!.pid, query.child!.pid];
    fs.writeFileSync(configFile, keysFile(KEYS.filter((k) => k.name !== 'revoked')));
    ingest.signal('SIGHUP');
    query.signal('SIGHUP');
    await waitFor('the revoked key to be refused', async () => (await push(KEY_REVOKED)) === 401 && (await read(KEY_REVOKED)) === 401, 20000);
    expect([ingest.child!.pid, query.child!.pid]).toEqual(pids);
    expect(ingest.child!.exitCode).toBeNull();
    expect(await push(KEY_A)).toBe(204);
    expect(await read(KEY_A)).toBe(200);
    // A file that no longer validates is refused and the running keys stay.
    fs.writeFileSync(configFile, '{"auth": {"keys": [{"sha256": "nope"}]}}');
    ingest.signal('SIGHUP');
    await new Promise((r) => setTimeout(r, 500));
    expect(await push(KEY_A)).toBe(204);
    expect(ingest.child!.exitCode).toBeNull();
  }, 60000);
});
