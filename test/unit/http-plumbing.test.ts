import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../../core/src/config';
import { SiltError, TooManyRequestsError, UnavailableError } from '../../core/src/errors';
import { baseServerOptions, firstHeaderValue, installErrorHandling, tenantOf } from '../../core/src/http';
import { createLogger } from '../../core/src/logger';
import { build as buildQuery } from '../../query/src';

function appWith(lines: string[], multi: string[] = []): FastifyInstance {
  const app = Fastify(baseServerOptions(multi));
  installErrorHandling(app, createLogger('info', {}, (l) => void lines.push(l)));
  app.get('/echo', async (request) => ({ query: request.query, tenant: tenantOf(request) }));
  app.get('/boom', async () => {
    throw new Error('a bug');
  });
  app.get('/throw/:kind', async (request) => {
    const kind = (request.params as { kind: string }).kind;
    if (kind === 'no-offset') throw new UnavailableError('no offset', 7, undefined, 'SILT_KAFKA_NO_OFFSET');
    if (kind === 'generic-503') throw new SiltError('SILT_NOT_READY', 503, true, 'not ready');
    throw new TooManyRequestsError('SILT_TOO_MANY', 'slow down', 2);
  });
  return app;
}

describe('core > http > query strings', () => {
  it('keeps the first value of a parameter given twice, as Loki does', async () => {
    const app = appWith([]);
    const res = await app.inject({ url: '/echo?query=a&query=b&limit=5&limit=x' });
    expect(res.statusCode).toBe(200);
    expect(res.json().query).toEqual({ query: 'a', limit: '5' });
  });

  it('keeps every value of a parameter the routes declare repeatable, as a list even when given once', async () => {
    const app = appWith([], ['match']);
    expect((await app.inject({ url: '/echo?match=a&match=b' })).json().query).toEqual({ match: ['a', 'b'] });
    expect((await app.inject({ url: '/echo?match=a' })).json().query).toEqual({ match: ['a'] });
  });
});

describe('core > http > headers', () => {
  it('takes the first value of a repeated header, whether joined by a comma or sent twice', async () => {
    expect(firstHeaderValue('t1, t1')).toBe('t1');
    expect(firstHeaderValue(['t2', 't3'])).toBe('t2');
    expect(firstHeaderValue(' , x')).toBeUndefined();
    const app = appWith([]);
    expect((await app.inject({ url: '/echo', headers: { 'X-Scope-OrgID': 'acme, acme' } })).json().tenant).toBe('acme');
  });
});

describe('core > http > errors', () => {
  it.each([
    ['no-offset', 503, 'SILT_KAFKA_NO_OFFSET', '7'],
    ['generic-503', 503, 'SILT_NOT_READY', '5'],
    ['too-many', 429, 'SILT_TOO_MANY', '2'],
  ])('sends Retry-After with every 429 and 503 (%s)', async (kind, status, code, retryAfter) => {
    const res = await appWith([]).inject({ url: `/throw/${kind}` });
    expect(res.statusCode).toBe(status);
    expect(res.headers['retry-after']).toBe(retryAfter);
    expect(res.json().error.code).toBe(code);
  });

  it('answers a URL that does not decode with a Silt JSON 400', async () => {
    const res = await appWith([]).inject({ url: '/%E0%A4%A' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('SILT_BAD_URL');
  });

  it('logs a 5xx with its request id', async () => {
    const lines: string[] = [];
    const res = await appWith(lines).inject({ url: '/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error.code).toBe('SILT_INTERNAL');
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const failed = logged.find((l) => l.msg === 'request failed')!;
    expect(failed.reqId).toEqual(expect.any(String));
    expect(String(failed.err)).toContain('a bug');
    expect(logged.find((l) => l.msg === 'answered 5xx')).toMatchObject({ reqId: failed.reqId, status: 500, url: '/boom' });
  });
});

describe('query > parameters given twice', () => {
  it('reads the first query and limit instead of failing on a list', async () => {
    const config = loadConfig({ overrides: { logLevel: 'silent', kafka: { brokers: ['127.0.0.1:1'] } } });
    const service = buildQuery(config, { logger: createLogger('silent') });
    try {
      const bad = await service.app.inject({ url: '/api/v1/query?query=%7Bapp%3D%22a%22%7D&query=nonsense&limit=1&limit=99999999' });
      // The first values are valid, so the query is planned; with no storage node it is a 503, not a 400 or 500.
      expect(bad.statusCode).toBe(503);
      expect(bad.headers['retry-after']).toBeDefined();
      const worse = await service.app.inject({ url: '/api/v1/query?query=nonsense&query=%7Bapp%3D%22a%22%7D' });
      expect(worse.statusCode).toBe(400);
      expect(worse.json().error.code).toBe('SILT_BAD_QUERY');
    } finally {
      await service.app.close();
    }
  });
});
