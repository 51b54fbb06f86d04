/**
 * Concurrency limits of one query service, per tenant: queries running at once
 * (`maxConcurrentQueries`) and tails open at once (`maxConcurrentTails`). A request holds its slot
 * until its response is done or its client went away (for a WebSocket tail: until the socket closes).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LimitsTable } from '../../../config/tenancy';
import { TooManyRequestsError } from '../../../errors';
import { tenantOf } from '../../../http';
import { isOpenPath } from '../open-paths';

/** Routes that are tails; every other non-internal route of the query service counts as a query. */
const TAIL_ROUTES: ReadonlySet<string> = new Set(['/loki/api/v1/tail', '/api/v1/tail']);

/** Why a request was refused, as `silt_query_limits_refused_total{limit}` names it. */
export type QueryLimitName = 'max_concurrent_queries' | 'max_concurrent_tails';

/** Counts of running requests per tenant, for one kind. */
class Slots {
  private readonly running = new Map<string, number>();

  count(tenant: string): number {
    return this.running.get(tenant) ?? 0;
  }

  take(tenant: string): () => void {
    this.running.set(tenant, this.count(tenant) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = this.count(tenant) - 1;
      if (n <= 0) this.running.delete(tenant);
      else this.running.set(tenant, n);
    };
  }
}

function whenDone(request: FastifyRequest, release: () => void, raw: { once(event: 'close', f: () => void): unknown }): void {
  // A WebSocket tail's response object never closes: the socket does.
  if (request.headers.upgrade?.toLowerCase() === 'websocket') request.raw.socket.once('close', release);
  else raw.once('close', release);
}

/** Installs the concurrency limits of the query service on `app`. */
export function installQueryLimits(app: FastifyInstance, table: LimitsTable, onRefused: (tenant: string, limit: QueryLimitName) => void): void {
  const queries = new Slots();
  const tails = new Slots();
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    // Open routes and the internal API are no tenant's queries.
    if (route === undefined || isOpenPath(route) || route.startsWith('/internal/')) return;
    const tenant = tenantOf(request);
    const l = table.of(tenant);
    const tail = TAIL_ROUTES.has(route);
    const max = tail ? l.maxConcurrentTails : l.maxConcurrentQueries;
    if (max === 0) return;
    const slots = tail ? tails : queries;
    if (slots.count(tenant) >= max) {
      const limit: QueryLimitName = tail ? 'max_concurrent_tails' : 'max_concurrent_queries';
      onRefused(tenant, limit);
      const what = tail ? 'tails open' : 'queries running';
      throw new TooManyRequestsError('SILT_CONCURRENCY_LIMIT', `tenant "${tenant}" has ${max} ${what} at once, its limit; retry when one has finished`, 1, { tenant, limit: tail ? 'maxConcurrentTails' : 'maxConcurrentQueries' });
    }
    whenDone(request, slots.take(tenant), reply.raw);
  });
}
