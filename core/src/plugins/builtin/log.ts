/**
 * The built-in `log` plugin: one structured line per request — method, route, path, tenant, status,
 * duration, bytes in and out, request id — at `level` (default `info`). Probes and scrapes are left
 * out unless `probes` is true. Credentials never appear: no header is logged, and the path is
 * logged without its query string.
 */
import type { FastifyRequest } from 'fastify';
import { TENANT_RE } from '../../labels';
import { firstHeaderValue } from '../../http';
import { principalOf } from '../../auth/principal';
import type { SiltPlugin } from '../types';
import { isOpenPath, pathOf } from './open-paths';
import { onlyKeys, stringOption } from './options';

const LEVELS = ['debug', 'info', 'warn'] as const;

interface LogOptions {
  level: (typeof LEVELS)[number];
  probes: boolean;
}

/** The tenant to log: the one the request acts for where it is known and valid, never a raw header value that is not a tenant name. */
function tenantToLog(request: FastifyRequest): string | undefined {
  const header = firstHeaderValue(request.headers['x-scope-orgid']);
  if (header !== undefined) return TENANT_RE.test(header) ? header : undefined;
  const p = principalOf(request);
  return p?.basicUser ?? p?.key.tenants[0] ?? (p === undefined ? 'default' : undefined);
}

/** `log`: options `level` (`debug`, `info`, `warn`) and `probes` (false). */
export const logPlugin: SiltPlugin<LogOptions> = {
  name: 'log',
  options: (raw) => {
    onlyKeys(raw, ['level', 'probes']);
    const level = stringOption(raw, 'level', 'info') as LogOptions['level'];
    if (!LEVELS.includes(level)) throw new Error(`level: "${level}" is not one of ${LEVELS.join(', ')}`);
    if (raw.probes !== undefined && typeof raw.probes !== 'boolean') throw new Error('probes: must be true or false');
    return { level, probes: raw.probes === true };
  },
  create: (o, ctx) => ({
    hooks: (app) => {
      app.addHook('onResponse', async (request, reply) => {
        const path = pathOf(request);
        if (!o.probes && isOpenPath(path)) return;
        ctx.logger[o.level]('request', {
          reqId: request.id,
          method: request.method,
          route: request.routeOptions.url ?? null,
          path,
          tenant: tenantToLog(request) ?? null,
          key: principalOf(request)?.key.name ?? null,
          status: reply.statusCode,
          durationMs: Math.round(reply.elapsedTime * 100) / 100,
          bytesIn: Number(request.headers['content-length'] ?? 0),
          bytesOut: Number(reply.getHeader('content-length') ?? 0),
          remote: request.ip,
        });
      });
    },
  }),
};
