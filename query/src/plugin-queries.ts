/**
 * The plugins' `onQuery` on every read route: before a handler parses it, each LogQL text a request
 * carries — `query` (queries, tails, label and stats lookups) and `match[]`/`match` (series) — in
 * the query string or a form body is replaced by what the hooks make of it, for tenants some hook
 * applies to. Routes stay unaware of plugins.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { QueryView } from '../../core/src/plugins';

/** What the query service needs of the plugin host. */
export interface QueryHooks {
  hasQueryHooks(tenant: string): boolean;
  onQuery(tenant: string, view: QueryView): Promise<string>;
}

const QUERY_PARAMS = ['query', 'match[]', 'match'] as const;

function sourcesOf(request: FastifyRequest): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const s of [request.body, request.query]) if (s !== null && typeof s === 'object' && !Buffer.isBuffer(s)) out.push(s as Record<string, unknown>);
  return out;
}

/** Adds the hook that runs `onQuery` over every request's query texts. */
export function installQueryHooks(app: FastifyInstance, hooks: QueryHooks, tenantOf: (request: FastifyRequest) => string): void {
  app.addHook('preHandler', async (request) => {
    const sources = sourcesOf(request);
    if (!sources.some((s) => QUERY_PARAMS.some((p) => s[p] !== undefined))) return;
    const tenant = tenantOf(request);
    if (!hooks.hasQueryHooks(tenant)) return;
    const route = request.routeOptions.url ?? request.url;
    for (const source of sources) {
      for (const name of QUERY_PARAMS) {
        const value = source[name];
        if (typeof value === 'string') source[name] = await hooks.onQuery(tenant, { route, query: value });
        else if (Array.isArray(value)) {
          const texts: unknown[] = [];
          for (const v of value) texts.push(typeof v === 'string' ? await hooks.onQuery(tenant, { route, query: v }) : v);
          source[name] = texts;
        }
      }
    }
  });
}
