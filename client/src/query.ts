/** Reading: log queries paged by cursor, metric queries, and the label and series lookups. */
import type { Transport } from './http';
import { durationNs, nowNs, timeParam, type TimeInput } from './time';

/** One stored entry as a query returns it. */
export interface Entry {
  /** Nanoseconds since the epoch. */
  ts: bigint;
  labels: Record<string, string>;
  line: string;
  attrs?: Record<string, string>;
}

/** A range: `since` (a duration back from now, such as `1h`) or `start`/`end`. Default: the last hour. */
export interface RangeOptions {
  start?: TimeInput;
  end?: TimeInput;
  since?: string;
}

/** A log query. */
export interface QueryOptions extends RangeOptions {
  /** Entries per page (default 1000; the server's maximum applies). */
  pageSize?: number;
  /** Stop after this many entries (default: all in the range). */
  limit?: number;
  /** `backward` (newest first, the default) or `forward`. */
  direction?: 'backward' | 'forward';
  signal?: AbortSignal;
}

/** One page of a log query as the server answers it. */
export interface QueryPage {
  entries: Entry[];
  /** The cursor of the next page, null after the last. */
  next: string | null;
  stats: Record<string, number>;
}

/** One series of a metric query: its labels, and its points as [ns, value]. */
export interface MetricSeries {
  labels: Record<string, string>;
  points: [bigint, number][];
}

/** A metric range query. */
export interface MetricOptions extends RangeOptions {
  /** The step: a duration (`30s`) or seconds; default Loki's (the range over ~250 points). */
  step?: string | number;
  signal?: AbortSignal;
}

interface WireEntry {
  ts: string;
  labels: Record<string, string>;
  line: string;
  attrs?: Record<string, string>;
}

/** `start`/`end` parameters of `range`: `since` resolved against now. */
export function rangeParams(range: RangeOptions): { start?: string; end?: string } {
  const out: { start?: string; end?: string } = {};
  if (range.since !== undefined) out.start = (nowNs() - durationNs(range.since)).toString();
  if (range.start !== undefined) out.start = timeParam(range.start);
  if (range.end !== undefined) out.end = timeParam(range.end);
  return out;
}

const toEntry = (w: WireEntry): Entry => {
  const e: Entry = { ts: BigInt(w.ts), labels: w.labels, line: w.line };
  if (w.attrs !== undefined) e.attrs = w.attrs;
  return e;
};

/** The parameters of one page of `query`: the range, page size, direction, and the cursor or else the token. */
function pageParams(query: string, options: QueryOptions & { cursor?: string; token?: string }): Record<string, string | undefined> {
  return {
    query,
    ...rangeParams(options),
    limit: String(options.pageSize ?? 1000),
    direction: options.direction,
    cursor: options.cursor,
    token: options.cursor === undefined ? options.token : undefined,
  };
}

/** One page of `query` (`GET /api/v1/query`); `cursor` continues a previous page, `token` waits for a push. */
export async function queryPage(transport: Transport, query: string, options: QueryOptions & { cursor?: string; token?: string }): Promise<QueryPage> {
  const answer = await transport.json<{ entries: WireEntry[]; next: string | null; stats: Record<string, number> }>({
    path: '/api/v1/query',
    query: pageParams(query, options),
    signal: options.signal,
  });
  return { entries: answer.entries.map(toEntry), next: answer.next, stats: answer.stats };
}

/**
 * One page of `query` as it arrives (`Accept: application/x-ndjson`): `onEntry` gets each entry as
 * soon as its line is read; resolves with the page's cursor and stats (its last line).
 */
export async function streamPage(transport: Transport, query: string, options: QueryOptions & { cursor?: string; token?: string }, onEntry: (e: Entry) => void): Promise<Omit<QueryPage, 'entries'>> {
  const res = await transport.send({
    path: '/api/v1/query',
    headers: { Accept: 'application/x-ndjson' },
    query: pageParams(query, options),
    signal: options.signal,
  });
  if (res.body === null) throw new TypeError('the query answered without a body');
  const decoder = new TextDecoder();
  let rest = '';
  let trailer: Omit<QueryPage, 'entries'> | null = null;
  const take = (line: string): void => {
    if (line.trim() === '') return;
    const v = JSON.parse(line) as WireEntry | { next: string | null; stats: Record<string, number> };
    if ('next' in v) trailer = { next: v.next, stats: v.stats };
    else onEntry(toEntry(v));
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    rest += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      take(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
  }
  take(rest + decoder.decode());
  if (trailer === null) throw new TypeError('the query answer ended before its {"next","stats"} line');
  return trailer;
}

/** Every entry of `query` in order, page after page, until the range or `limit` is exhausted. */
export async function* queryEntries(transport: Transport, query: string, options: QueryOptions & { token?: string }): AsyncGenerator<Entry> {
  const limit = options.limit ?? Infinity;
  const pageSize = Math.max(1, Math.min(options.pageSize ?? 1000, limit));
  // Every page reads the same range (a cursor belongs to one): `since` and a default end are resolved once.
  const range = rangeParams(options);
  const fixed: QueryOptions & { token?: string } = { ...options, start: range.start, end: range.end ?? (nowNs() + 1n).toString(), since: undefined, pageSize };
  let cursor: string | undefined;
  let n = 0;
  for (;;) {
    const page = await queryPage(transport, query, { ...fixed, cursor });
    for (const e of page.entries) {
      yield e;
      if (++n >= limit) return;
    }
    if (page.next === null) return;
    cursor = page.next;
  }
}

/** A metric query over a range (`/loki/api/v1/query_range`), as series of points. */
export async function metricRange(transport: Transport, query: string, options: MetricOptions = {}): Promise<MetricSeries[]> {
  const answer = await transport.json<{ data: { resultType: string; result: { metric: Record<string, string>; values?: [number, string][] }[] } }>({
    path: '/loki/api/v1/query_range',
    query: { query, ...rangeParams(options), step: options.step === undefined ? undefined : String(options.step) },
    signal: options.signal,
  });
  if (answer.data.resultType !== 'matrix') throw new TypeError(`"${query}" is a log query: use query() for its entries`);
  return answer.data.result.map((s) => ({ labels: s.metric, points: (s.values ?? []).map(([t, v]): [bigint, number] => [secondsToNs(t), Number(v)]) }));
}

/** Loki's point times are seconds with up to nanosecond decimals. */
function secondsToNs(t: number): bigint {
  const [whole, frac = ''] = String(t).split('.');
  return BigInt(whole!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
}

/** `GET` of one of the `{status, data}` lookups. */
export async function lookup<T>(transport: Transport, path: string, query: Record<string, string | string[] | undefined>, signal?: AbortSignal): Promise<T> {
  const answer = await transport.json<{ status: string; data: T }>({ path, query, signal });
  return answer.data;
}
