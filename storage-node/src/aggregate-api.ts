/**
 * The map side of metric queries: `POST /internal/v1/aggregate` computes one range aggregation
 * (`count_over_time({…} | … [5m])`, …) over the partitions it is asked about and answers its
 * partial aggregates per (series, segment) — `RangeAggregator.toWire()` — instead of entries. The
 * query service merges the partials of every node and finishes the windows; nothing but partials
 * crosses the wire. An answer is all or nothing: a node that fails mid-way answers an error (or
 * nothing), and the query service asks another replica for its partitions again.
 *
 * Body (JSON): `query` — the range aggregation's text; `grouping` — the grouping an enclosing `sum`
 * pushes into it (Loki's vector grouping injection), or null; `start`, `end`, `step` — the step
 * grid in ns (decimal strings; `step` "0" for an instant query at `start`); `partitions` — comma
 * separated; `token`, `snapshot` — as for `/internal/v1/read`. Answer: `{applied, partials, stats}`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequestError } from '../../core/src/errors';
import { sendError, tenantOf, toSiltError } from '../../core/src/http';
import { requiredSubstrings, type LineFilter } from '../../core/src/logql';
import type { Grouping, RangeAggregationExpr } from '../../core/src/logql/ast';
import { StepGrid } from '../../core/src/logql/metric/grid';
import { RangeAggregator } from '../../core/src/logql/metric/range-agg';
import { parseExpr } from '../../core/src/logql/parser';
import { leadingLineFilters } from '../../core/src/logql/pipeline';
import { compileSampleExtractor } from '../../core/src/logql/sample';
import { labelsKey, streamId, type Labels } from '../../core/src/labels';
import { compileMatcher } from '../../core/src/matchers';
import { parseOffsets } from '../../core/src/position';
import { clampToStored } from '../../core/src/query-params';
import { decodeWriteToken } from '../../core/src/write-token';
import { parsePartitions, type ReadApiDeps } from './read-api';
import type { ReadRequest, ReadStats, SegmentStore } from './segment-store';

/** The body of an aggregate request. */
interface AggregateBody {
  query?: unknown;
  grouping?: unknown;
  start?: unknown;
  end?: unknown;
  step?: unknown;
  partitions?: unknown;
  token?: unknown;
  snapshot?: unknown;
}

function badRequest(message: string): BadRequestError {
  return new BadRequestError('SILT_BAD_REQUEST', `aggregate: ${message}`);
}

function nsField(body: AggregateBody, name: 'start' | 'end' | 'step'): bigint {
  const v = body[name];
  if (typeof v !== 'string' || !/^-?\d{1,20}$/.test(v)) throw badRequest(`${name} must be a decimal string of nanoseconds`);
  return BigInt(v);
}

function optionalText(body: AggregateBody, name: 'partitions' | 'token' | 'snapshot'): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name} must be a string`);
  return v;
}

function groupingOf(v: unknown): Grouping | null {
  if (v === undefined || v === null) return null;
  const g = v as Partial<Grouping>;
  if (typeof g !== 'object' || typeof g.without !== 'boolean' || !Array.isArray(g.labels) || !g.labels.every((l) => typeof l === 'string')) {
    throw badRequest('grouping must be {without: boolean, labels: string[]} or null');
  }
  return { without: g.without, labels: [...g.labels] };
}

/** The substrings every line the leading plain line filters keep contains: frames lacking one are skipped undecoded. */
function mustContain(expr: RangeAggregationExpr): Uint8Array[] {
  const plain: LineFilter[] = [];
  for (const f of leadingLineFilters(expr.range.selector.pipeline)) {
    if (f.ip || f.values.length !== 1 || (f.op !== '|=' && f.op !== '|~')) continue;
    plain.push({ op: f.op, value: f.values[0]! });
  }
  return requiredSubstrings(plain).map((s) => Buffer.from(s, 'utf8'));
}

/**
 * Up to this many matching streams, each is read on its own; beyond, one read serves them all (a
 * read per stream costs a read's set-up per stream, about what one read spends matching it).
 */
const MAX_STREAM_READS = 256;

/** One read of an aggregation: the store request, and the one stream it is for (null: every stream it matches). */
interface AggregateRead {
  req: ReadRequest;
  stream: Labels | null;
}

/**
 * The reads that cover `req`: one per matching stream, in ascending stream id and on the partitions
 * holding it, so the store never merges streams entry by entry (an aggregation needs each stream's
 * order, not the order across streams: that merge took half the read's time). Reading the streams
 * one after the other in stream id order keeps the store's order of entries with equal timestamps
 * for the tie counter: (ts, stream id, position in the stream).
 */
async function aggregateReads(store: SegmentStore, req: ReadRequest): Promise<AggregateRead[]> {
  const streams = new Map<bigint, { labels: Labels; partitions: number[] }>();
  for (const p of req.partitions!) {
    for (const labels of await store.series({ tenant: req.tenant, matchers: req.matchers, start: req.start, end: req.end, partitions: [p] })) {
      const id = streamId(req.tenant, labels);
      const s = streams.get(id);
      if (s === undefined) streams.set(id, { labels, partitions: [p] });
      else s.partitions.push(p);
    }
  }
  if (streams.size > MAX_STREAM_READS) return [{ req, stream: null }];
  return [...streams]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, s]) => ({
      req: { ...req, matchers: Object.entries(s.labels).map(([name, value]) => compileMatcher({ name, op: '=', value })), partitions: s.partitions },
      stream: s.labels,
    }));
}

/** Registers `POST /internal/v1/aggregate` on `app`; `onAnswer` counts each answer's entries read and bytes sent. */
export function installAggregateApi(app: FastifyInstance, deps: ReadApiDeps, onAnswer: (entries: number, bytes: number) => void): void {
  app.post('/internal/v1/aggregate', async (request: FastifyRequest<{ Body: AggregateBody }>, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const tenant = tenantOf(request);
      const body = (request.body ?? {}) as AggregateBody;
      if (typeof body !== 'object') throw badRequest('the body must be a JSON object');
      if (typeof body.query !== 'string') throw badRequest('query is required');
      const expr = parseExpr(body.query);
      if (expr.kind !== 'range_agg') throw badRequest('query must be one range aggregation, such as count_over_time({app="x"}[5m])');
      const start = nsField(body, 'start');
      const step = nsField(body, 'step');
      const grid = step === 0n ? StepGrid.instant(start) : StepGrid.range(start, nsField(body, 'end'), step);
      const grouping = groupingOf(body.grouping);
      const extractor = compileSampleExtractor(expr, grouping);
      const aggregator = new RangeAggregator(expr, grid);
      const partitions = parsePartitions(optionalText(body, 'partitions'), deps);
      const token = optionalText(body, 'token');
      if (token) {
        const wanted = decodeWriteToken(token);
        for (const p of wanted.keys()) if (!partitions.includes(p)) wanted.delete(p);
        await deps.waitForOffsets(wanted);
      }
      const snapshot = optionalText(body, 'snapshot');
      const applied: Record<string, string> = {};
      for (const p of partitions) applied[p] = deps.store.applied(p).toString();
      const { rangeNs, offsetNs } = expr.range;
      const last = grid.times[grid.length - 1]!;
      // A window covers (t − offset − range, t − offset]; a read's start is inclusive and its end exclusive.
      const req: ReadRequest = {
        tenant,
        matchers: expr.range.selector.matchers.map(compileMatcher),
        start: clampToStored(grid.startNs - offsetNs - rangeNs + 1n),
        end: clampToStored(last - offsetNs + 1n),
        direction: 'forward',
        limit: Number.MAX_SAFE_INTEGER,
        partitions,
        maxOffsets: snapshot
          ? parseOffsets(snapshot, (part) => badRequest(`snapshot: "${part}" is not partition:offset`))
          : new Map(Object.entries(applied).map(([p, o]) => [Number(p), BigInt(o)])),
        mustContain: mustContain(expr),
      };
      const stats: ReadStats = { entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 };
      let samples = 0;
      let tie = 0;
      if (req.end > req.start) {
        for (const { req: read, stream } of await aggregateReads(deps.store, req)) {
          // A stream's equality matchers also match streams with more labels: those have reads of their own.
          const key = stream === null ? '' : labelsKey(stream);
          let seen: Labels | null = null;
          for await (const e of deps.store.read(read, stats)) {
            if (e.labels !== seen) {
              if (stream !== null && labelsKey(e.labels) !== key) continue;
              seen = e.labels;
            }
            const sample = extractor.run(e.ts, e.line, e.labels, e.attrs);
            // Equal timestamps keep the read order (per stream, push order), as first/last_over_time and rate_counter need.
            if (sample !== null) {
              aggregator.add(sample.labels, e.ts, sample.value, tie);
              samples++;
            }
            tie++;
          }
        }
      }
      const answer = JSON.stringify({ applied, partials: aggregator.toWire(), stats: { ...stats, samples } });
      deps.onRead(200, seconds());
      onAnswer(stats.entriesScanned, Buffer.byteLength(answer));
      return reply.type('application/json; charset=utf-8').send(answer);
    } catch (err) {
      const silt = toSiltError(err);
      deps.onRead(silt.status, seconds());
      return sendError(reply, silt);
    }
  });
}
