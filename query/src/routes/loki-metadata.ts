/**
 * Loki's metadata routes over Silt's stream registries and entries: `/loki/api/v1/labels`,
 * `/label/{name}/values`, `/series`, `/index/stats`, `/index/volume` and `/index/volume_range`.
 * Labels, values and series come from stream labels only — structured metadata is not among them,
 * as in Loki.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { QuerySettings } from '../../../core/src/config';
import { BadRequestError } from '../../../core/src/errors';
import { toSiltError } from '../../../core/src/http';
import { labelsKey, type Labels } from '../../../core/src/labels';
import type { LabelMatcher } from '../../../core/src/logql/ast';
import { formatLogQuery } from '../../../core/src/logql';
import { parseSelector } from '../../../core/src/logql/parser';
import { clampToStored, lokiBounds, lokiRangeParams } from '../../../core/src/query-params';
import type { Fanout } from '../engine/fanout';
import { everyStream } from '../engine/plan';
import { withDeadline } from './deadline';
import { allValues, lokiParams, param, sendLokiError, type LokiParams } from './loki-http';
import { matrixResult, vectorResult, type SeriesPoints } from './loki-json';
import { labelNames, labelValues, newStats } from './native';

/** What the metadata routes need of the service. */
export interface LokiMetadataDeps {
  /** The settings a request runs under: its tenant's limits over the service's own. */
  settingsOf(request: FastifyRequest): QuerySettings;
  fanout: Fanout;
  tenantOf(request: FastifyRequest): string;
}

/** Entries per node page when a route reads every entry of a window. */
const SCAN_PAGE = 10_000;

/** `{}` or nothing: every stream (Loki's special case of /series and /index/volume). */
function matchesAll(text: string | undefined): boolean {
  return text === undefined || text.replace(/\s/g, '') === '{}' || text === '';
}

/** A window for the storage nodes: clamped to what Silt stores; null when it holds no time. */
function storedWindow(start: bigint, end: bigint, endInclusive: boolean): { start: bigint; end: bigint } | null {
  const s = clampToStored(start);
  const e = clampToStored(endInclusive ? end + 1n : end);
  return e > s ? { start: s, end: e } : null;
}

/** Registers the Loki metadata routes on `app` (a scope in Loki's dialect). */
export function installLokiMetadataRoutes(app: FastifyInstance, deps: LokiMetadataDeps): void {
  const { fanout } = deps;

  /** The series of `selectors` (every stream when none) whose entries fall in the request's bounds. */
  const seriesOf = async (request: FastifyRequest, reply: FastifyReply, p: LokiParams, selectors: string[]): Promise<Labels[]> => {
    const tenant = deps.tenantOf(request);
    const { start, end } = lokiBounds({ start: param(p, 'start'), end: param(p, 'end'), since: param(p, 'since') });
    for (const sel of selectors) parseSelector(sel);
    const window = storedWindow(start, end, true);
    if (window === null) return [];
    return withDeadline(reply, deps.settingsOf(request).timeoutMs, (signal) => fanout.series(tenant, selectors, window.start, window.end, signal, newStats()));
  };

  const route = (url: string, handler: (request: FastifyRequest, reply: FastifyReply, p: LokiParams) => Promise<unknown>): void => {
    app.route({
      method: ['GET', 'POST'],
      url,
      handler: async (request, reply) => {
        try {
          return reply.send(await handler(request, reply, lokiParams(request)));
        } catch (err) {
          return sendLokiError(reply, toSiltError(err));
        }
      },
    });
  };

  const queryOf = (p: LokiParams): string[] => {
    const q = param(p, 'query');
    return matchesAll(q) ? [] : [q!];
  };

  const labels = async (request: FastifyRequest, reply: FastifyReply, p: LokiParams): Promise<unknown> => {
    const names = labelNames(await seriesOf(request, reply, p, queryOf(p)));
    // Loki leaves `data` out when there is no label (its JSON field is omitempty).
    return names.length > 0 ? { status: 'success', data: names } : { status: 'success' };
  };
  route('/loki/api/v1/labels', labels);
  // Loki's older name of the same route.
  route('/loki/api/v1/label', labels);

  route('/loki/api/v1/label/:name/values', async (request, reply, p) => {
    const { name } = request.params as { name: string };
    const values = labelValues(await seriesOf(request, reply, p, queryOf(p)), name);
    return values.length > 0 ? { status: 'success', data: values } : { status: 'success' };
  });

  route('/loki/api/v1/series', async (request, reply, p) => {
    const groups = [...new Set([...allValues(p, 'match'), ...allValues(p, 'match[]')])].sort();
    const selectors = groups.length === 1 && matchesAll(groups[0]) ? [] : groups;
    return { status: 'success', data: await seriesOf(request, reply, p, selectors) };
  });

  route('/loki/api/v1/index/stats', async (request, reply, p) => {
    const tenant = deps.tenantOf(request);
    const range = lokiRangeParams(rangeFields(p));
    const matchers = parseSelector(param(p, 'query') ?? '');
    const totals = { streams: 0, chunks: 0, bytes: 0, entries: 0 };
    const window = storedWindow(range.start, range.end, true);
    if (window === null) return totals;
    const streams = new Set<string>();
    await withDeadline(reply, deps.settingsOf(request).timeoutMs, async (signal) => {
      const read = { tenant, query: formatLogQuery({ matchers, filters: [] }), start: window.start, end: window.end, direction: 'forward' as const, limit: SCAN_PAGE };
      for await (const e of fanout.read(read, signal, newStats(), new Map())) {
        streams.add(e.wire.sid);
        totals.entries++;
        totals.bytes += Buffer.byteLength(e.wire.line);
      }
    });
    totals.streams = streams.size;
    // Silt has no chunks: each stream's entries of the window count as one.
    totals.chunks = streams.size;
    return totals;
  });

  const volume = async (request: FastifyRequest, reply: FastifyReply, p: LokiParams, ranged: boolean): Promise<unknown> => {
    const tenant = deps.tenantOf(request);
    const range = lokiRangeParams(rangeFields(p));
    const limit = volumeLimit(param(p, 'limit'));
    const aggregateBy = param(p, 'aggregateBy') ?? 'series';
    if (aggregateBy !== 'series' && aggregateBy !== 'labels') throw new BadRequestError('SILT_BAD_REQUEST', 'invalid aggregation option');
    const text = param(p, 'query');
    const matchers = matchesAll(text) ? [] : parseSelector(text!);
    const targets = (param(p, 'targetLabels') ?? '').split(',').filter((t) => t !== '');
    const buckets = volumeBuckets(range.start, range.end, ranged ? range.step : 0n);
    const spec = volumeSpec(matchers, targets, aggregateBy === 'series');
    const perBucket = buckets.map(() => new Map<string, { labels: Labels; bytes: number }>());
    const window = storedWindow(range.start, range.end, true);
    if (window !== null) {
      await withDeadline(reply, deps.settingsOf(request).timeoutMs, async (signal) => {
        let selectors = [spec.matchers];
        if (spec.matchers.length === 0) selectors = everyStream(labelNames(await fanout.series(tenant, [], window.start, window.end, signal, newStats())));
        for (const matchers of selectors) {
          const read = { tenant, query: formatLogQuery({ matchers, filters: [] }), start: window.start, end: window.end, direction: 'forward' as const, limit: SCAN_PAGE };
          let b = 0;
          for await (const e of fanout.read(read, signal, newStats(), new Map())) {
            const ts = e.pos.ts;
            while (b < buckets.length - 1 && ts > buckets[b]!.end) b++;
            const bytes = Buffer.byteLength(e.wire.line);
            for (const labels of spec.keysOf(e.wire.labels)) {
              const key = labelsKey(labels);
              const slot = perBucket[b]!.get(key);
              if (slot === undefined) perBucket[b]!.set(key, { labels, bytes });
              else slot.bytes += bytes;
            }
          }
        }
      });
    }
    const series = new Map<string, SeriesPoints>();
    perBucket.forEach((volumes, i) => {
      const top = [...volumes].sort(([ka, a], [kb, b]) => b.bytes - a.bytes || (ka < kb ? -1 : ka > kb ? 1 : 0)).slice(0, limit);
      for (const [key, v] of top) {
        const sp = series.get(key) ?? { metric: v.labels, points: [] };
        sp.points.push({ t: buckets[i]!.end, v: v.bytes });
        series.set(key, sp);
      }
    });
    const sorted = [...series].sort(([ka, a], [kb, b]) => b.points[0]!.v - a.points[0]!.v || (ka < kb ? -1 : ka > kb ? 1 : 0)).map(([, sp]) => sp);
    const matrix = sorted.some((sp) => sp.points.length > 1);
    const result = matrix ? matrixResult(sorted) : vectorResult(sorted.map((sp) => ({ metric: sp.metric, t: sp.points[0]!.t, v: sp.points[0]!.v })));
    return { status: 'success', data: { resultType: matrix ? 'matrix' : 'vector', result } };
  };

  route('/loki/api/v1/index/volume', (request, reply, p) => volume(request, reply, p, false));
  route('/loki/api/v1/index/volume_range', (request, reply, p) => volume(request, reply, p, true));
}

/** The range fields of a request's parameters. */
function rangeFields(p: LokiParams): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const k of ['start', 'end', 'since', 'step', 'interval', 'direction']) out[k] = param(p, k);
  return out;
}


/** `limit` of a volume query: 100 when absent or 0, else a positive integer. */
function volumeLimit(text: string | undefined): number {
  if (text === undefined || text === '' || text === '0') return 100;
  if (!/^[+-]?\d+$/.test(text)) throw new BadRequestError('SILT_BAD_LIMIT', `strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`);
  const n = Number(text);
  if (n <= 0) throw new BadRequestError('SILT_BAD_LIMIT', 'limit must be a positive value');
  return n;
}

/**
 * The buckets of a volume query (Loki's util.ForInterval, end inclusive): with a step, periods
 * aligned to it, the first starting at `start`, each ending 1 ms before the next begins and the
 * last at `end`; without, the one bucket [start, end]. Each is reported at its end.
 */
export function volumeBuckets(start: bigint, end: bigint, step: bigint): { start: bigint; end: bigint }[] {
  if (step <= 0n) return [{ start, end }];
  const out: { start: bigint; end: bigint }[] = [];
  const gap = 1_000_000n;
  const mod = ((start % step) + step) % step;
  for (let s = start - mod; s < end; s += step) {
    let e = s + step;
    if (e >= end) e = end;
    else e -= gap;
    out.push({ start: out.length === 0 ? start : s, end: e });
  }
  return out.length > 0 ? out : [{ start, end }];
}

/**
 * What a volume is keyed by (Loki's PrepareLabelsAndMatchers): by series, the labels named by the
 * matchers (or `targetLabels`); by labels, each such label name alone (every label without targets).
 */
function volumeSpec(matchers: LabelMatcher[], targets: string[], bySeries: boolean): { matchers: LabelMatcher[]; keysOf(labels: Labels): Labels[] } {
  const names = targets.length > 0 ? targets : [...new Set(matchers.map((m) => m.name))];
  const all = matchers.length === 0 && targets.length === 0;
  // Every target label must be present: Loki adds `target=~".+"` for those the matchers do not name.
  const extra = targets.filter((t) => !matchers.some((m) => m.name === t)).map((t): LabelMatcher => ({ name: t, op: '=~', value: '.+' }));
  const keysOf = (labels: Labels): Labels[] => {
    if (bySeries) {
      if (all) return [labels];
      const out: Labels = {};
      for (const n of names) if (labels[n] !== undefined) out[n] = labels[n]!;
      return [out];
    }
    return (targets.length > 0 ? targets : Object.keys(labels)).filter((n) => labels[n] !== undefined).map((n) => ({ [n]: '' }));
  };
  return { matchers: [...matchers, ...extra], keysOf };
}
