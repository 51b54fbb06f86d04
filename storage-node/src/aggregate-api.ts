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
import { PayloadTimes, decodeStoredFrame, decodeStoredFrameTimes, storedFrameHeader } from '../../core/src/stored-frame';
import { BadRequestError, BlockFormatError } from '../../core/src/errors';
import { sendError, tenantOf, toSiltError } from '../../core/src/http';
import type { LineFilter } from '../../core/src/logql';
import type { Grouping, RangeAggregationExpr } from '../../core/src/logql/ast';
import { StepGrid } from '../../core/src/logql/metric/grid';
import { RangeAggregator } from '../../core/src/logql/metric/range-agg';
import { parseExpr } from '../../core/src/logql/parser';
import { leadingLineFilters } from '../../core/src/logql/pipeline';
import { compileSampleExtractor, streamSamples, type SampleExtractor, type StreamSamples } from '../../core/src/logql/sample';
import { streamId, type Labels } from '../../core/src/labels';
import { compileMatcher, type CompiledMatcher } from '../../core/src/matchers';
import { parseOffsets } from '../../core/src/position';
import { clampToStored } from '../../core/src/query-params';
import { decodeWriteToken } from '../../core/src/write-token';
import { parsePartitions, type ReadApiDeps } from './read-api';
import { type HeadFrame, type ReadRequest, type ReadStats, type SegmentStore, lineFilterFields } from './store';

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

const READ_FILTER_OPS: ReadonlySet<string> = new Set<LineFilter['op']>(['|=', '!=', '|~', '!~']);

/**
 * The leading line filters of an aggregation's pipeline that a read applies itself (one value, not
 * an IP filter): frames lacking a substring they require are skipped undecoded, the others are
 * filtered on the scan threads, and the pipeline, which applies them again, sees only the lines
 * they keep. Any of the leading filters may go first, as each must hold.
 */
function readFilters(expr: RangeAggregationExpr): LineFilter[] {
  const plain: LineFilter[] = [];
  for (const f of leadingLineFilters(expr.range.selector.pipeline)) {
    if (f.ip || f.values.length !== 1 || !READ_FILTER_OPS.has(f.op)) continue;
    plain.push({ op: f.op as LineFilter['op'], value: f.values[0]! });
  }
  return plain;
}

/** A stream read on its own pays a read's set-up (under a millisecond): worth it from about this many entries in range... */
const MIN_ENTRIES_PER_STREAM_READ = 2000;
/** ...for at most this many streams of a partition (its entry count is every tenant's, so the estimate may be high). */
const MAX_STREAM_READS_PER_PARTITION = 64;
/**
 * ...and only while a partition's segments in range stay open from one of its streams' reads to
 * the next (the store keeps 64 open by default): past that, each read would reopen them.
 */
const MAX_SEGMENTS_FOR_STREAM_READS = 32;

/** The tie-breakers of one stream's samples: `base` (its rank among the streams, scaled) plus a count. */
interface StreamTies {
  base: number;
  next: number;
}

/** One store read of an aggregation, and the ties of the one stream it reads (null: of each entry's stream). */
interface AggregateRead {
  req: ReadRequest;
  ties: StreamTies | null;
}

/** How an aggregation reads its partitions, and the ties of every stream. */
interface ReadPlan {
  reads: AggregateRead[];
  tiesOf(streamId: bigint): StreamTies;
}

/** The share of partition `p`'s entries in [start, end), if they are spread evenly over its time range. */
function shareInRange(store: SegmentStore, p: number, start: bigint, end: bigint): { entries: number; segments: number } {
  const st = store.state(p);
  if (st.minTs === null || st.maxTs === null) return { entries: 0, segments: 0 };
  const from = start > st.minTs ? start : st.minTs;
  const to = end <= st.maxTs ? end : st.maxTs + 1n;
  if (to <= from) return { entries: 0, segments: 0 };
  const share = Number(to - from) / Number(st.maxTs + 1n - st.minTs);
  return { entries: st.entries * share, segments: Math.ceil(st.segments * share) };
}

/**
 * The reads that cover `req`, partition by partition: a partition whose streams are big enough is
 * read one stream at a time, so the store never merges its streams entry by entry (an aggregation
 * needs each stream's order, not the order across streams, and that merge took half the read's
 * time); the others in one read. Samples with equal timestamps are ordered as one merged read
 * would order them — (ts, stream id, partition, position) — by ties made of the stream's rank in
 * stream id order and a count kept per stream across its reads, which run in partition order.
 */
async function planReads(store: SegmentStore, req: ReadRequest): Promise<ReadPlan> {
  const found = new Map<bigint, Labels>();
  const byPartition: { p: number; ids: bigint[] }[] = [];
  for (const p of [...req.partitions!].sort((a, b) => a - b)) {
    const ids: bigint[] = [];
    for (const labels of await store.series({ tenant: req.tenant, matchers: req.matchers, start: req.start, end: req.end, partitions: [p] })) {
      const id = streamId(req.tenant, labels);
      found.set(id, labels);
      ids.push(id);
    }
    byPartition.push({ p, ids });
  }
  const names = new Set<string>();
  for (const labels of found.values()) for (const name in labels) names.add(name);
  // One rank more than the streams found, shared by any stream the read meets that series() did not list.
  const span = 2 ** (53 - Math.ceil(Math.log2(found.size + 2)));
  const ties = new Map<bigint, StreamTies>();
  [...found.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).forEach((id, rank) => ties.set(id, { base: rank * span, next: 0 }));
  const unlisted: StreamTies = { base: found.size * span, next: 0 };
  // Its labels' values and, since no label value is empty, the absence of every other name seen select exactly one stream.
  const only = (labels: Labels): CompiledMatcher[] => [...names].map((name) => compileMatcher({ name, op: '=', value: labels[name] ?? '' }));
  const reads: AggregateRead[] = [];
  for (const { p, ids } of byPartition) {
    if (ids.length === 0) continue;
    const share = shareInRange(store, p, req.start, req.end);
    if (ids.length > 1 && ids.length <= MAX_STREAM_READS_PER_PARTITION && share.entries >= ids.length * MIN_ENTRIES_PER_STREAM_READ && share.segments <= MAX_SEGMENTS_FOR_STREAM_READS) {
      for (const id of ids) reads.push({ req: { ...req, matchers: only(found.get(id)!), partitions: [p] }, ties: ties.get(id)! });
    } else reads.push({ req: { ...req, partitions: [p] }, ties: null });
  }
  return { reads, tiesOf: (id) => ties.get(id) ?? unlisted };
}

/**
 * Aggregates a bare selector's samples (see streamSamples) frame by frame, stream after stream:
 * a frame's timestamps and line lengths are read without building its entries, and each run of
 * them in one segment is folded at once. A frame this cannot read so (an entry with structured
 * metadata, which may add labels; times beyond doubles) is decoded and extracted entry by entry.
 * Returns the samples taken.
 */
async function aggregateFrames(store: SegmentStore, req: ReadRequest, stats: ReadStats, bare: StreamSamples, extractor: SampleExtractor, aggregator: RangeAggregator): Promise<number> {
  const times = new PayloadTimes();
  const seriesOf = new Map<bigint, Labels>();
  let samples = 0;
  const labelsOf = (f: Pick<HeadFrame, 'streamId' | 'labels'>): Labels => {
    let labels = seriesOf.get(f.streamId);
    if (labels === undefined) {
      labels = bare.labelsOf(f.labels);
      seriesOf.set(f.streamId, labels);
    }
    return labels;
  };
  // A whole frame (kept null) of one step segment without structured metadata is counted from its
  // header: from its head, where the segment keeps heads, so its bytes are never read.
  const fromHeader = (f: HeadFrame): boolean => {
    const h = f.header;
    if (f.kept !== null || f.attrKeyCount !== 0 || f.linesLength === null) return false;
    if (!aggregator.addFrame(labelsOf(f), h.minTs, h.maxTs, h.entryCount, bare.bytes ? f.linesLength : h.entryCount)) return false;
    stats.bytesDecompressed += h.rawLength;
    stats.entriesScanned += h.entryCount;
    samples += h.entryCount;
    return true;
  };
  for await (const f of store.frames({ ...req, fromHead: fromHeader }, stats)) {
    const h = f.header;
    const own = storedFrameHeader(h.version, f.bytes);
    if (own !== null && fromHeader({ ...f, linesLength: own.linesLength, attrKeyCount: own.attrKeyCount })) continue;
    stats.bytesDecompressed += h.rawLength;
    stats.entriesScanned += h.entryCount;
    const labels = labelsOf(f);
    const kept = f.kept ?? [0, h.entryCount];
    if (decodeStoredFrameTimes(h.version, f.bytes, h.rawLength, h.frameCrc, h.entryCount, times, own) && times.count === h.entryCount) {
      const values = bare.bytes ? times.bytes : null;
      let added = true;
      for (let i = 0; i < kept.length && added; i += 2) added = aggregator.addTimes(labels, times.base, times.rel, values, kept[i]!, kept[i + 1]!);
      if (added) {
        for (let i = 0; i < kept.length; i += 2) samples += kept[i + 1]! - kept[i]!;
        continue;
      }
    }
    const entries = decodeStoredFrame(h.version, f.bytes, h.rawLength, h.frameCrc)!;
    if (kept[kept.length - 1]! > entries.length) throw new BlockFormatError('SILT_BLOCK_CORRUPT', `compacted frame: runs hold ${kept[kept.length - 1]} entries, the frame ${entries.length}`);
    for (let i = 0; i < kept.length; i += 2) {
      for (let j = kept[i]!; j < kept[i + 1]!; j++) {
        const e = entries[j]!;
        const sample = extractor.run(e.ts, e.line, f.labels, e.attrs);
        if (sample === null) continue;
        aggregator.add(sample.labels, e.ts, sample.value);
        samples++;
      }
    }
  }
  return samples;
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
      const floor = deps.readableFrom(tenant);
      const from = clampToStored(grid.startNs - offsetNs - rangeNs + 1n);
      const req: ReadRequest = {
        tenant,
        matchers: expr.range.selector.matchers.map(compileMatcher),
        // Entries past the tenant's retention are never counted, as they are never read.
        start: from > floor ? from : floor,
        end: clampToStored(last - offsetNs + 1n),
        direction: 'forward',
        limit: Number.MAX_SAFE_INTEGER,
        partitions,
        maxOffsets: snapshot
          ? parseOffsets(snapshot, (part) => badRequest(`snapshot: "${part}" is not partition:offset`))
          : new Map(Object.entries(applied).map(([p, o]) => [Number(p), BigInt(o)])),
        ...lineFilterFields(readFilters(expr)),
      };
      const stats: ReadStats = { entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 };
      let samples = 0;
      const bare = streamSamples(expr, grouping);
      // The frame path leaves out of range what no window covers, which is [start, end) unless clamped.
      const unclamped = req.start === grid.startNs - offsetNs - rangeNs + 1n && req.end === last - offsetNs + 1n;
      if (req.end > req.start && bare !== null && unclamped && aggregator.takesTimes) {
        samples = await aggregateFrames(deps.store, req, stats, bare, extractor, aggregator);
      } else if (req.end > req.start) {
        const plan = await planReads(deps.store, req);
        for (const read of plan.reads) {
          for await (const e of deps.store.read(read.req, stats)) {
            const sample = extractor.run(e.ts, e.line, e.labels, e.attrs);
            const ties = read.ties ?? plan.tiesOf(e.streamId);
            const tie = ties.base + ties.next++;
            if (sample !== null) {
              aggregator.add(sample.labels, e.ts, sample.value, tie);
              samples++;
            }
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
