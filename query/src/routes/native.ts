/** Silt's own read API (docs/API.md): log queries with paging and read-your-writes, labels, label values and series. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { QuerySettings } from '../../../core/src/config';
import { BadRequestError } from '../../../core/src/errors';
import { sendError, toSiltError } from '../../../core/src/http';
import type { Labels } from '../../../core/src/labels';
import type { LogSelectorExpr } from '../../../core/src/logql/ast';
import { parseExpr, parseSelector } from '../../../core/src/logql/parser';
import { parseDirection, parseLimit, parseRange } from '../../../core/src/query-params';
import { formatNs } from '../../../core/src/time';
import { decodeWriteToken } from '../../../core/src/write-token';
import { decodeCursor, encodeCursor, type CursorScope } from '../engine/cursor';
import type { Fanout, FanoutStats } from '../engine/fanout';
import { readLogEntries, type LogEntry, type LogRead } from '../engine/log-query';
import type { QueryMetrics } from '../metrics';
import { withDeadline } from './deadline';

/** What the routes need of the service. */
export interface RouteDeps {
  /** The settings a request runs under: its tenant's limits over the service's own. */
  settingsOf(request: FastifyRequest): QuerySettings;
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

type EntryJson = { ts: string; labels: Labels; line: string; attrs?: Record<string, string> };

/** A fresh set of read counters. */
export function newStats(): FanoutStats {
  return { entriesScanned: 0, bytesDecompressed: 0, nodesAsked: 0, failovers: 0 };
}

/** The suffix Loki gives a label whose name a stream label already has (structured metadata `level` beside a stream label `level`). */
const EXTRACTED = '_extracted';

/** True when label `k`=`v` of a pipeline's output is structured metadata `attrs` holds: by its name, or renamed past a stream label. */
function isMetadata(k: string, v: string, attrs: Record<string, string>, stream: Labels): boolean {
  if (stream[k] === undefined && attrs[k] === v) return true;
  if (!k.endsWith(EXTRACTED)) return false;
  const name = k.slice(0, -EXTRACTED.length);
  return stream[name] !== undefined && attrs[name] === v;
}

/**
 * An entry as the native API answers it: `labels` are the labels after the pipeline (stream labels
 * plus extracted ones) without the structured metadata, which stays in `attrs` as stored.
 */
function entryJson(e: LogEntry): EntryJson {
  const attrs = e.source.wire.attrs;
  const ts = formatNs(e.ts);
  if (attrs === undefined) return { ts, labels: e.labels, line: e.line };
  const stream = e.source.wire.labels;
  const labels: Labels = {};
  for (const k in e.labels) {
    const v = e.labels[k]!;
    if (!isMetadata(k, v, attrs, stream)) labels[k] = v;
  }
  return { ts, labels, line: e.line, attrs };
}

/** The log selector of a native query; metric queries are Loki's API's (`/loki/api/v1/query_range`). */
function logSelector(text: string | undefined): LogSelectorExpr {
  if (!text) throw new BadRequestError('SILT_BAD_QUERY', 'query is required', { position: 0 });
  const expr = parseExpr(text);
  if (expr.kind !== 'log') {
    throw new BadRequestError('SILT_BAD_QUERY', 'a metric query: /api/v1/query answers log queries, /loki/api/v1/query_range and /loki/api/v1/query metric ones', { position: 0 });
  }
  return expr;
}

/** Registers the native query routes on `app`. */
export function installNativeRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { fanout, metrics } = deps;
  const observe = (route: string, started: bigint, status: number): void => {
    metrics.latency.observe({ route, status: String(status) }, Number(process.hrtime.bigint() - started) / 1e9);
  };

  app.get('/api/v1/query', async (request: FastifyRequest<{ Querystring: RangeQuery }>, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    const q = request.query;
    let read: LogRead;
    let scope: CursorScope;
    let s: QuerySettings;
    try {
      const tenant = deps.tenantOf(request);
      s = deps.settingsOf(request);
      const selector = logSelector(q.query);
      const { start, end } = parseRange(q, s.maxRangeMs);
      const limit = parseLimit(q.limit, s.defaultLimit, s.maxLimit);
      const direction = parseDirection(q.direction);
      scope = { tenant, query: q.query!, start, end, direction };
      read = { tenant, selector, start, end, direction, limit };
      if (q.cursor) {
        const cursor = decodeCursor(q.cursor, scope);
        read.after = cursor.after;
        read.snapshot = cursor.snapshot;
      }
      if (q.token) {
        decodeWriteToken(q.token);
        read.token = q.token;
      }
    } catch (err) {
      const silt = toSiltError(err);
      observe('/api/v1/query', started, silt.status);
      return sendError(reply, silt);
    }
    const stats = newStats();
    const snapshot = new Map<number, bigint>(read.snapshot ?? []);
    const finish = (returned: number, last: LogEntry | null): { next: string | null; stats: Record<string, number> } => {
      metrics.entriesScanned.inc(stats.entriesScanned);
      metrics.entriesReturned.inc(returned);
      const next = returned === read.limit && last ? encodeCursor({ after: last.pos, snapshot }, scope) : null;
      const { entriesScanned, bytesDecompressed, nodesAsked, failovers } = stats;
      return { next, stats: { entriesScanned, bytesDecompressed, nodesAsked, failovers, entriesReturned: returned, timeMs: Number(process.hrtime.bigint() - started) / 1e6 } };
    };

    if ((request.headers.accept ?? '').includes('application/x-ndjson')) {
      // Streamed: the first entries leave before the last node has answered.
      let streaming = false;
      try {
        await withDeadline(reply, s.timeoutMs, async (signal) => {
          const it = readLogEntries(fanout, read, signal, stats, snapshot);
          try {
            let r = await it.next();
            reply.raw.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
            streaming = true;
            let returned = 0;
            let last: LogEntry | null = null;
            for (; !r.done; r = returned < read.limit ? await it.next() : { done: true, value: undefined }) {
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
      const body = await withDeadline(reply, s.timeoutMs, async (signal) => {
        const entries: EntryJson[] = [];
        let last: LogEntry | null = null;
        for await (const e of readLogEntries(fanout, read, signal, stats, snapshot)) {
          entries.push(entryJson(e));
          last = e;
          if (entries.length >= read.limit) break;
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
  const series = (request: FastifyRequest<{ Querystring: RangeQuery }>, signal: AbortSignal): Promise<Labels[]> => {
    const tenant = deps.tenantOf(request);
    const { start, end } = parseRange(request.query, deps.settingsOf(request).maxRangeMs);
    const m = request.query.match;
    const matches = m === undefined ? [] : Array.isArray(m) ? m : [m];
    for (const sel of matches) parseSelector(sel);
    return fanout.series(tenant, matches, start, end, signal, newStats());
  };

  const metadataRoute = <P>(route: string, compute: (request: FastifyRequest<{ Querystring: RangeQuery; Params: P }>, all: Labels[]) => unknown[]) =>
    app.get(route, async (request: FastifyRequest<{ Querystring: RangeQuery; Params: P }>, reply: FastifyReply) => {
      const started = process.hrtime.bigint();
      try {
        const all = await withDeadline(reply, deps.settingsOf(request).timeoutMs, (signal) => series(request, signal));
        observe(route, started, 200);
        return reply.send({ status: 'success', data: compute(request, all) });
      } catch (err) {
        const silt = toSiltError(err);
        observe(route, started, silt.status);
        return sendError(reply, silt);
      }
    });

  metadataRoute('/api/v1/labels', (_r, all) => labelNames(all));
  metadataRoute<{ name: string }>('/api/v1/label/:name/values', (r, all) => labelValues(all, r.params.name));
  metadataRoute('/api/v1/series', (_r, all) => all);
}

/** The label names of `series`, sorted. */
export function labelNames(series: readonly Labels[]): string[] {
  return [...new Set(series.flatMap((l) => Object.keys(l)))].sort();
}

/** The values label `name` takes in `series`, sorted. */
export function labelValues(series: readonly Labels[], name: string): string[] {
  return [...new Set(series.map((l) => l[name]).filter((v): v is string => v !== undefined))].sort();
}
