/**
 * The node's internal read API: `GET /internal/v1/read` streams, as NDJSON, the entries of the
 * partitions this node owns, in read order: a first line with the node's applied offsets (the
 * snapshot this read saw), one line per entry, and a last line with stats.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SiltError, BadRequestError } from '../../core/src/errors';
import { sendError, tenantOf, toSiltError } from '../../core/src/http';
import { labelsKey } from '../../core/src/labels';
import type { NodeReadEntry } from '../../core/src/node-read';
import { parseLogQuery, parseSelector } from '../../core/src/logql';
import { compileMatcher } from '../../core/src/matchers';
import { parseOffsets, parsePosition } from '../../core/src/position';
import { parseDirection, parseLimit, parseRange } from '../../core/src/query-params';
import { decodeWriteToken, type WriteOffsets } from '../../core/src/write-token';
import { type ReadRequest, type ReadStats, type SegmentStore, type StoredEntry, lineFilterFields } from './store';

/** What the read API needs of the node. */
export interface ReadApiDeps {
  store: SegmentStore;
  /** Partitions the node owns now: a read that names none reads these. */
  owned(): number[];
  /** Partitions it released but still stores (readable by name); reads of any other are refused so the query service fails over. */
  released(): number[];
  /** Resolves once every partition in `offsets` has applied past its offset, or rejects with 504 after `tokenWaitMs`. */
  waitForOffsets(offsets: WriteOffsets): Promise<void>;
  onRead(status: number, seconds: number): void;
  /** The oldest entry timestamp `tenant` may read now (its retention); 0n for no bound. */
  readableFrom(tenant: string): bigint;
}

/** Query-string of a series lookup. */
interface SeriesQuery {
  match?: string | string[];
  start?: string;
  end?: string;
  partitions?: string;
}

/** Query-string of a read. */
interface ReadQuery {
  query?: string;
  start?: string;
  end?: string;
  direction?: string;
  limit?: string;
  partitions?: string;
  token?: string;
  after?: string;
  snapshot?: string;
}

const MAX_LIMIT = 1_000_000;

// What one chunk of a read's answer holds before it is sent (characters).
const ANSWER_CHUNK_CHARS = 32 * 1024;

function entryLine(e: StoredEntry): string {
  const wire: NodeReadEntry = {
    ts: e.ts.toString(),
    sid: e.streamId.toString(),
    p: e.partition,
    o: e.offset.toString(),
    f: e.frame,
    i: e.index,
    labels: e.labels,
    line: e.line,
    ...(e.attrs ? { attrs: e.attrs } : {}),
  };
  return JSON.stringify(wire) + '\n';
}

/** The partitions a request names (default: all owned); naming one the node does not hold is a 409, so the caller fails over. */
export function parsePartitions(text: string | undefined, deps: ReadApiDeps): number[] {
  const owned = deps.owned();
  if (text === undefined || text === '') return owned;
  const held = new Set([...owned, ...deps.released()]);
  const partitions = text.split(',').map((p) => {
    if (!/^\d{1,6}$/.test(p)) throw new BadRequestError('SILT_BAD_REQUEST', `partitions: "${p}" is not a partition number`);
    return Number(p);
  });
  const notHeld = partitions.filter((p) => !held.has(p));
  if (notHeld.length > 0) throw new SiltError('SILT_PARTITION_NOT_HELD', 409, true, `this node does not hold partitions ${notHeld.join(',')}`, { partitions: notHeld });
  return partitions;
}

/** Parses and checks a read's parameters into a store request. */
function toReadRequest(q: ReadQuery, tenant: string, deps: ReadApiDeps): ReadRequest {
  if (!q.query) throw new BadRequestError('SILT_BAD_QUERY', 'query is required');
  const parsed = parseLogQuery(q.query);
  const range = parseRange(q);
  const floor = deps.readableFrom(tenant);
  const start = range.start > floor ? range.start : floor;
  const end = range.end;
  const direction = parseDirection(q.direction);
  const limit = parseLimit(q.limit, 100, MAX_LIMIT);
  const partitions = parsePartitions(q.partitions, deps);
  return {
    tenant,
    matchers: parsed.matchers.map(compileMatcher),
    start,
    end,
    direction,
    limit,
    partitions,
    ...(q.after ? { after: parsePosition(q.after) } : {}),
    ...(q.snapshot ? { maxOffsets: parseOffsets(q.snapshot, (part) => new BadRequestError('SILT_BAD_REQUEST', `snapshot: "${part}" is not partition:offset`)) } : {}),
    ...lineFilterFields(parsed.filters),
  };
}

/** One partition's answer of `/internal/v1/changes`. */
export type WireChanges = { earliest: string } | { none: true } | { unknown: true };

/** Registers the internal read routes on `app`. */
export function installReadApi(app: FastifyInstance, deps: ReadApiDeps): void {
  /**
   * For each `partition:offset` of `since`, the earliest entry timestamp that a change at or after
   * that offset touched (`none`: nothing changed; `unknown`: not held here, or before this node
   * began tracking): what the query service's results cache asks before it reuses a piece.
   */
  app.get('/internal/v1/changes', async (request: FastifyRequest<{ Querystring: { since?: string } }>) => {
    const since = request.query.since;
    if (typeof since !== 'string' || since === '') throw new BadRequestError('SILT_BAD_REQUEST', 'since: give partition:offset pairs, comma-separated');
    const offsets = parseOffsets(since, (part) => new BadRequestError('SILT_BAD_REQUEST', `since: "${part}" is not partition:offset`));
    const held = new Set([...deps.owned(), ...deps.released()]);
    const partitions: Record<string, WireChanges> = {};
    for (const [p, o] of offsets) {
      const c = held.has(p) ? deps.store.changesSince(p, o) : 'unknown';
      partitions[p] = c === 'unknown' ? { unknown: true } : c === 'none' ? { none: true } : { earliest: c.earliest.toString() };
    }
    return { partitions };
  });

  // Streams matching any of the `match` selectors (all streams without one), from the stream registries only.
  app.get('/internal/v1/series', async (request: FastifyRequest<{ Querystring: SeriesQuery }>) => {
    const tenant = tenantOf(request);
    const range = parseRange(request.query);
    const floor = deps.readableFrom(tenant);
    const start = range.start > floor ? range.start : floor;
    const end = range.end;
    const partitions = parsePartitions(request.query.partitions, deps);
    const selectors = request.query.match === undefined ? [] : Array.isArray(request.query.match) ? request.query.match : [request.query.match];
    const matcherSets = selectors.length === 0 ? [[]] : selectors.map((m) => parseSelector(m).map(compileMatcher));
    const found = new Map<string, Record<string, string>>();
    for (const matchers of matcherSets) {
      for (const labels of await deps.store.series({ tenant, matchers, start, end, partitions })) found.set(labelsKey(labels), labels);
    }
    return { series: [...found.values()] };
  });

  app.get('/internal/v1/read', async (request: FastifyRequest<{ Querystring: ReadQuery }>, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    let req: ReadRequest;
    try {
      const tenant = tenantOf(request);
      req = toReadRequest(request.query, tenant, deps);
      if (request.query.token) {
        // Only the partitions this read covers: the others are another node's to apply.
        const wanted = decodeWriteToken(request.query.token);
        for (const p of wanted.keys()) if (!req.partitions!.includes(p)) wanted.delete(p);
        await deps.waitForOffsets(wanted);
      }
    } catch (err) {
      const silt = toSiltError(err);
      deps.onRead(silt.status, seconds());
      return sendError(reply, silt);
    }
    const applied: Record<string, string> = {};
    for (const p of req.partitions!) applied[p] = deps.store.applied(p).toString();
    // Without an explicit snapshot the read is bounded by what is applied now, so the offsets reported are exact.
    if (!req.maxOffsets) req.maxOffsets = new Map(Object.entries(applied).map(([p, o]) => [Number(p), BigInt(o)]));
    const stats: ReadStats = { entriesScanned: 0, bytesDecompressed: 0, framesRead: 0 };
    const store = deps.store;
    async function* lines(): AsyncGenerator<string> {
      // Entry lines go out in chunks of ANSWER_CHUNK_CHARS: a chunk per entry costs a stream
      // write and an HTTP chunk each, several times the cost of reading the entry.
      let chunk = JSON.stringify({ applied }) + '\n';
      let returned = 0;
      try {
        for await (const e of store.read(req, stats)) {
          returned++;
          chunk += entryLine(e);
          if (chunk.length >= ANSWER_CHUNK_CHARS) {
            yield chunk;
            chunk = '';
          }
        }
        yield chunk + JSON.stringify({ stats: { ...stats, entriesReturned: returned } }) + '\n';
        deps.onRead(200, seconds());
      } catch (err) {
        // Headers are gone: the error becomes the last line, and the reader must treat the answer as failed.
        yield chunk + JSON.stringify(toSiltError(err).toBody()) + '\n';
        deps.onRead(500, seconds());
      }
    }
    reply.header('Content-Type', 'application/x-ndjson');
    return reply.send(Readable.from(lines()));
  });
}
