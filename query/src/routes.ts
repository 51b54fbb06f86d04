/** The public read API: range queries with paging and read-your-writes, labels, label values and series. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { QuerySettings } from '../../core/src/config';
import { BadRequestError, SiltError } from '../../core/src/errors';
import { sendError, toSiltError } from '../../core/src/http';
import { parseLogQuery, parseSelector } from '../../core/src/logql';
import { formatNs, parseTimestamp } from '../../core/src/time';
import { decodeWriteToken } from '../../core/src/write-token';
import { decodeCursor, encodeCursor, type CursorScope } from './cursor';
import type { Fanout, FanoutRead, FanoutStats, MergedEntry } from './fanout';
import type { QueryMetrics } from './metrics';

/** What the routes need of the service. */
export interface RouteDeps {
  settings: QuerySettings;
  fanout: Fanout;
  metrics: QueryMetrics;
  tenantOf(request: FastifyRequest): string;
}

interface RangeQuery {
  query?: string;
  start?: string;
  end?: string;
  limit?: string;
  direction?: string;
  cursor?: string;
  token?: string;
  match?: string | string[];
}

const HOUR_NS = 3600n * 1_000_000_000n;

/** `start`/`end` of a request: end defaults to now, start to an hour before end; bounded by maxRangeMs. */
function parseRange(q: RangeQuery, s: QuerySettings): { start: bigint; end: bigint } {
  const end = q.end !== undefined && q.end !== '' ? parseTimestamp(q.end) : BigInt(Date.now()) * 1_000_000n + 1n;
  const start = q.start !== undefined && q.start !== '' ? parseTimestamp(q.start) : end - HOUR_NS;
  if (end <= start) throw new BadRequestError('SILT_BAD_RANGE', `end (${formatNs(end)}) must be after start (${formatNs(start)})`);
  if (end - start > BigInt(s.maxRangeMs) * 1_000_000n) {
    throw new SiltError('SILT_RANGE_TOO_LONG', 422, false, `the range spans more than the ${s.maxRangeMs} ms a query may span`, { maxRangeMs: s.maxRangeMs });
  }
  return { start, end };
}

function parseLimit(text: string | undefined, s: QuerySettings): number {
  if (text === undefined || text === '') return s.defaultLimit;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new BadRequestError('SILT_BAD_LIMIT', `limit must be a positive integer, got "${text}"`);
  if (n > s.maxLimit) throw new SiltError('SILT_LIMIT_TOO_LARGE', 422, false, `limit ${n} is over the maximum of ${s.maxLimit}`, { maxLimit: s.maxLimit });
  return n;
}

function entryJson(e: MergedEntry): { ts: string; labels: Record<string, string>; line: string; attrs?: Record<string, string> } {
  const w = e.wire;
  return w.attrs ? { ts: w.ts, labels: w.labels, line: w.line, attrs: w.attrs } : { ts: w.ts, labels: w.labels, line: w.line };
}

/** Runs `fn` with an abort signal that fires after the query timeout or when the client goes away. */
async function withDeadline<T>(request: FastifyRequest, timeoutMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new SiltError('SILT_QUERY_TIMEOUT', 504, true, `the query took longer than ${timeoutMs} ms`)), timeoutMs);
  const onClose = (): void => controller.abort();
  request.raw.once('close', onClose);
  try {
    return await fn(controller.signal);
  } catch (err) {
    if (controller.signal.aborted && controller.signal.reason instanceof SiltError) throw controller.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    request.raw.off('close', onClose);
  }
}

/** Registers the query routes on `app`. */
export function installQueryRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { settings: s, fanout, metrics } = deps;
  const observe = (route: string, started: bigint, status: number): void => {
    metrics.latency.observe({ route, status: String(status) }, Number(process.hrtime.bigint() - started) / 1e9);
  };

  app.get('/api/v1/query', async (request: FastifyRequest<{ Querystring: RangeQuery }>, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    const q = request.query;
    let req: FanoutRead;
    let scope: CursorScope;
    try {
      const tenant = deps.tenantOf(request);
      if (!q.query) throw new BadRequestError('SILT_BAD_QUERY', 'query is required', { position: 0 });
      parseLogQuery(q.query);
      const { start, end } = parseRange(q, s);
      const limit = parseLimit(q.limit, s);
      const direction = q.direction ?? 'backward';
      if (direction !== 'forward' && direction !== 'backward') throw new BadRequestError('SILT_BAD_DIRECTION', 'direction must be forward or backward');
      scope = { tenant, query: q.query, start, end, direction };
      req = { tenant, query: q.query, start, end, direction, limit };
      if (q.cursor) {
        const cursor = decodeCursor(q.cursor, scope);
        req.after = cursor.after;
        req.snapshot = cursor.snapshot;
      }
      if (q.token) {
        decodeWriteToken(q.token);
        req.token = q.token;
      }
    } catch (err) {
      const silt = toSiltError(err);
      observe('/api/v1/query', started, silt.status);
      return sendError(reply, silt);
    }
    const stats: FanoutStats = { entriesScanned: 0, bytesDecompressed: 0, nodesAsked: 0, failovers: 0 };
    const snapshot = new Map<number, bigint>(req.snapshot ?? []);
    const finish = (returned: number, last: MergedEntry | null): { next: string | null; stats: Record<string, number> } => {
      metrics.entriesScanned.inc(stats.entriesScanned);
      metrics.entriesReturned.inc(returned);
      const next = returned === req.limit && last ? encodeCursor({ after: last.pos, snapshot }, scope) : null;
      return { next, stats: { ...stats, entriesReturned: returned, timeMs: Number(process.hrtime.bigint() - started) / 1e6 } };
    };

    if ((request.headers.accept ?? '').includes('application/x-ndjson')) {
      // Streamed: the first entries leave before the last node has answered.
      let streaming = false;
      try {
        await withDeadline(request, s.timeoutMs, async (signal) => {
          const it = fanout.read(req, signal, stats, snapshot);
          try {
            let r = await it.next();
            reply.raw.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
            streaming = true;
            let returned = 0;
            let last: MergedEntry | null = null;
            for (; !r.done; r = returned < req.limit ? await it.next() : { done: true, value: undefined }) {
              last = r.value;
              returned++;
              if (!reply.raw.write(JSON.stringify(entryJson(r.value)) + '\n')) await new Promise((res) => reply.raw.once('drain', res));
            }
            reply.raw.end(JSON.stringify(finish(returned, last)) + '\n');
          } finally {
            await it.return(undefined).catch(() => undefined);
          }
        });
        observe('/api/v1/query', started, 200);
      } catch (err) {
        const silt = toSiltError(err);
        observe('/api/v1/query', started, silt.status);
        // Once entries have left, the error can only be the stream's last line.
        if (!streaming) return sendError(reply, silt);
        reply.raw.end(JSON.stringify(silt.toBody()) + '\n');
      }
      return reply;
    }

    try {
      const body = await withDeadline(request, s.timeoutMs, async (signal) => {
        const entries: ReturnType<typeof entryJson>[] = [];
        let last: MergedEntry | null = null;
        for await (const e of fanout.read(req, signal, stats, snapshot)) {
          entries.push(entryJson(e));
          last = e;
          if (entries.length >= req.limit) break;
        }
        return { entries, ...finish(entries.length, last) };
      });
      observe('/api/v1/query', started, 200);
      return reply.send(body);
    } catch (err) {
      const silt = toSiltError(err);
      observe('/api/v1/query', started, silt.status);
      return sendError(reply, silt);
    }
  });

  /** Series of the tenant matching `match` (all when absent), through one replica per partition. */
  const series = (request: FastifyRequest<{ Querystring: RangeQuery }>, signal: AbortSignal): Promise<Record<string, string>[]> => {
    const tenant = deps.tenantOf(request);
    const { start, end } = parseRange(request.query, s);
    const m = request.query.match;
    const matches = m === undefined ? [] : Array.isArray(m) ? m : [m];
    for (const sel of matches) parseSelector(sel);
    const stats: FanoutStats = { entriesScanned: 0, bytesDecompressed: 0, nodesAsked: 0, failovers: 0 };
    return deps.fanout.series(tenant, matches, start, end, signal, stats);
  };

  const metadataRoute = <P>(route: string, compute: (request: FastifyRequest<{ Querystring: RangeQuery; Params: P }>, all: Record<string, string>[]) => unknown[]) =>
    app.get(route, async (request: FastifyRequest<{ Querystring: RangeQuery; Params: P }>, reply: FastifyReply) => {
      const started = process.hrtime.bigint();
      try {
        const all = await withDeadline(request, s.timeoutMs, (signal) => series(request, signal));
        observe(route, started, 200);
        return reply.send({ status: 'success', data: compute(request, all) });
      } catch (err) {
        const silt = toSiltError(err);
        observe(route, started, silt.status);
        return sendError(reply, silt);
      }
    });

  metadataRoute('/api/v1/labels', (_r, all) => [...new Set(all.flatMap((l) => Object.keys(l)))].sort());
  metadataRoute<{ name: string }>('/api/v1/label/:name/values', (r, all) =>
    [...new Set(all.map((l) => l[r.params.name]).filter((v): v is string => v !== undefined))].sort(),
  );
  metadataRoute('/api/v1/series', (_r, all) => all);
}
