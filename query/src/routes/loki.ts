/**
 * Loki's HTTP query API on the query service (port 7420), thin adapters over the engine:
 * `/loki/api/v1/query_range` and `/query` (GET, or POST with a form body as Grafana sends),
 * `/format_query`, `/status/buildinfo`, `/ready`, plus the metadata routes (loki-metadata.ts) and
 * the tail (loki-tail.ts). Shapes, parameters, defaults and error texts are Loki 3.x's.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { QuerySettings } from '../../../core/src/config';
import { BadRequestError, SiltError } from '../../../core/src/errors';
import { toSiltError } from '../../../core/src/http';
import type { Logger } from '../../../core/src/logger';
import type { Expr, LogSelectorExpr, MetricExpr } from '../../../core/src/logql/ast';
import { goDuration, prettyExpr } from '../../../core/src/logql/format';
import { StepGrid } from '../../../core/src/logql/metric/grid';
import type { Result } from '../../../core/src/logql/metric/evaluate';
import { parseExpr } from '../../../core/src/logql/parser';
import { clampToStored, lokiInstantParams, lokiRangeParams, type LokiRangeParams } from '../../../core/src/query-params';
import type { Fanout, FanoutStats } from '../engine/fanout';
import { collectStreams, readLogEntries, type ReadCounters } from '../engine/log-query';
import { evaluateMetricQuery, nodeRangeSource } from '../engine/metric-query';
import type { QueryMetrics } from '../metrics';
import { withDeadline } from './deadline';
import { installLokiDialect, lokiParams, param, sendLokiError, type LokiParams } from './loki-http';
import { matrixResult, queryAnswer, scalarResult, vectorResult, type QueryCounters } from './loki-json';
import type { QueryCaches } from '../cache';
import { cachedLogEntries } from '../cache/log-pieces';
import { cachedMetricQuery } from '../cache/metric-pieces';
import { installLokiMetadataRoutes } from './loki-metadata';
import { newStats } from './native';

/** What the Loki routes need of the service. */
export interface LokiRouteDeps {
  /** The settings a request runs under: its tenant's limits over the service's own. */
  settingsOf(request: FastifyRequest): QuerySettings;
  fanout: Fanout;
  metrics: QueryMetrics;
  logger: Logger;
  tenantOf(request: FastifyRequest): string;
  /** True when the service can answer every partition (what `/ready` reports). */
  ready(): boolean;
  /** The results caches of log and metric range queries; absent when `cache.enabled` is false. */
  caches?: QueryCaches;
}

/** The Loki version whose API Silt answers, reported by `/loki/api/v1/status/buildinfo`. */
const LOKI_API_VERSION = '3.7.6';

/** The range parameters of a request. */
function rangeFields(p: LokiParams): Parameters<typeof lokiRangeParams>[0] {
  return {
    start: param(p, 'start'),
    end: param(p, 'end'),
    since: param(p, 'since'),
    step: param(p, 'step'),
    interval: param(p, 'interval'),
    limit: param(p, 'limit'),
    direction: param(p, 'direction'),
  };
}

/** The query text of a request, parsed (a 400 with Loki's parse error). */
function parsedQuery(p: LokiParams): Expr {
  return parseExpr(param(p, 'query') ?? '');
}

/** The `stats` counters of a query: what the nodes scanned, or at least what reached the query service. */
function countersOf(stats: FanoutStats, read: ReadCounters, started: bigint, postFilterLines: number, entriesReturned: number): QueryCounters {
  return {
    linesProcessed: Math.max(stats.entriesScanned, read.lines),
    bytesProcessed: Math.max(stats.bytesDecompressed, read.bytes),
    postFilterLines,
    entriesReturned,
    execSeconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

/** A metric result in Loki's JSON. */
function metricAnswer(result: Result, counters: QueryCounters): Record<string, unknown> {
  switch (result.type) {
    case 'matrix':
      return queryAnswer('matrix', matrixResult(result.series.map((s) => ({ metric: s.labels, points: s.points.map(([t, v]) => ({ t, v })) }))), counters);
    case 'vector':
      return queryAnswer('vector', vectorResult(result.samples.map((s) => ({ metric: s.labels, t: result.tsNs, v: s.value }))), counters);
    case 'scalar':
      return queryAnswer('scalar', scalarResult(result.tsNs, result.value), counters);
  }
}

/** Registers Loki's query API on `app`, in a scope of its own (form bodies, plain-text errors). */
export function installLokiRoutes(app: FastifyInstance, deps: LokiRouteDeps): void {
  const { fanout, metrics } = deps;

  const observe = (route: string, started: bigint, status: number): void => {
    metrics.latency.observe({ route, status: String(status) }, Number(process.hrtime.bigint() - started) / 1e9);
  };

  /** Loki's limits on what a query may ask: entries per log query, length of the range. */
  const checkLimits = (s: QuerySettings, expr: Expr, start: bigint, end: bigint, limit: number): void => {
    if (expr.kind === 'log' && limit > s.maxLimit) {
      throw new BadRequestError('SILT_LIMIT_TOO_LARGE', `max entries limit per query exceeded, limit > max_entries_limit_per_query (${limit} > ${s.maxLimit})`);
    }
    const maxRange = BigInt(s.maxRangeMs) * 1_000_000n;
    if (end - start > maxRange) {
      throw new BadRequestError('SILT_RANGE_TOO_LONG', `the query time range exceeds the limit (query length: ${goDuration(end - start)}, limit: ${goDuration(maxRange)})`);
    }
  };

  const logQuery = async (request: FastifyRequest, reply: FastifyReply, selector: LogSelectorExpr, r: LokiRangeParams, started: bigint): Promise<unknown> => {
    const tenant = deps.tenantOf(request);
    const s = deps.settingsOf(request);
    const stats = newStats();
    const read: ReadCounters = { lines: 0, bytes: 0 };
    const start = clampToStored(r.start);
    const end = clampToStored(r.end);
    const logRead = { tenant, selector, start, end, direction: r.direction, limit: r.limit };
    const cache = deps.caches?.log;
    const answer =
      end > start
        ? await withDeadline(reply, s.timeoutMs, (signal) =>
            collectStreams(
              cache !== undefined
                ? cachedLogEntries(cache, logRead, stats, signal, (from, to, pieceStats) => readLogEntries(fanout, { ...logRead, start: from, end: to }, signal, pieceStats, pieceStats.seen!, read))
                : readLogEntries(fanout, logRead, signal, stats, new Map(), read),
              r.limit,
              r.direction,
              r.interval,
            ),
          )
        : { streams: [], returned: 0 };
    metrics.entriesScanned.inc(stats.entriesScanned);
    metrics.entriesReturned.inc(answer.returned);
    const result = answer.streams.map((st) => ({ stream: st.labels, values: st.entries.map(([ts, line]): [string, string] => [ts.toString(), line]) }));
    return queryAnswer('streams', result, countersOf(stats, read, started, answer.returned, answer.returned));
  };

  const metricQuery = async (request: FastifyRequest, reply: FastifyReply, expr: MetricExpr, grid: StepGrid, started: bigint): Promise<unknown> => {
    const tenant = deps.tenantOf(request);
    const stats = newStats();
    const read: ReadCounters = { lines: 0, bytes: 0 };
    const source = nodeRangeSource(fanout, tenant);
    const cache = deps.caches?.metric;
    const result = await withDeadline(reply, deps.settingsOf(request).timeoutMs, (signal) =>
      cache !== undefined && !grid.instant
        ? cachedMetricQuery(cache, tenant, expr, grid, stats, signal, (g, pieceStats) => evaluateMetricQuery(expr, g, source, signal, pieceStats, read))
        : evaluateMetricQuery(expr, grid, source, signal, stats, read),
    );
    metrics.entriesScanned.inc(stats.entriesScanned);
    const returned = result.type === 'matrix' ? result.series.length : result.type === 'vector' ? result.samples.length : 1;
    return metricAnswer(result, countersOf(stats, read, started, read.lines, returned));
  };

  const route = (scope: FastifyInstance, url: string, handler: (request: FastifyRequest, reply: FastifyReply, p: LokiParams, started: bigint) => Promise<unknown>): void => {
    scope.route({
      method: ['GET', 'POST'],
      url,
      handler: async (request, reply) => {
        const started = process.hrtime.bigint();
        try {
          const body = await handler(request, reply, lokiParams(request), started);
          observe(url, started, 200);
          return reply.send(body);
        } catch (err) {
          const silt = toSiltError(err);
          observe(url, started, silt.status);
          return sendLokiError(reply, silt);
        }
      },
    });
  };

  void app.register(async (scope) => {
    installLokiDialect(scope, deps.logger);

    route(scope, '/loki/api/v1/query_range', async (request, reply, p, started) => {
      const s = deps.settingsOf(request);
      const r = lokiRangeParams(rangeFields(p));
      const expr = parsedQuery(p);
      checkLimits(s, expr, r.start, r.end, r.limit);
      if (expr.kind === 'log') return logQuery(request, reply, expr, r, started);
      return metricQuery(request, reply, expr, StepGrid.range(r.start, r.end, r.step), started);
    });

    route(scope, '/loki/api/v1/query', async (request, reply, p, started) => {
      deps.tenantOf(request);
      const q = lokiInstantParams({ time: param(p, 'time'), limit: param(p, 'limit'), direction: param(p, 'direction') });
      const expr = parsedQuery(p);
      if (expr.kind === 'log') {
        throw new BadRequestError('SILT_BAD_QUERY', 'log queries are not supported as an instant query type, please change your query to a range query type');
      }
      return metricQuery(request, reply, expr, StepGrid.instant(q.time), started);
    });

    // Loki answers a query it cannot parse with 400 and `{"status":"invalid-query","error":…}`, in JSON.
    scope.route({
      method: ['GET', 'POST'],
      url: '/loki/api/v1/format_query',
      handler: async (request, reply) => {
        try {
          return reply.send({ status: 'success', data: prettyExpr(parsedQuery(lokiParams(request))) });
        } catch (err) {
          const silt = toSiltError(err);
          if (silt.status !== 400) return sendLokiError(reply, silt);
          return reply.code(400).send({ status: 'invalid-query', error: silt.message });
        }
      },
    });

    scope.get('/loki/api/v1/status/buildinfo', async () => ({
      version: LOKI_API_VERSION,
      revision: 'silt',
      branch: 'silt',
      buildUser: 'silt',
      buildDate: '',
      goVersion: `node ${process.version}`,
    }));

    scope.get('/ready', async (_request, reply) => {
      reply.header('Content-Type', 'text/plain; charset=utf-8');
      if (deps.ready()) return reply.send('ready\n');
      return sendLokiError(reply, new SiltError('SILT_NOT_READY', 503, true, 'Query service not ready: no ready storage node holds every partition yet\n'));
    });

    installLokiMetadataRoutes(scope, deps);
  });
}
