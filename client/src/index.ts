/**
 * Silt's client library: push (one push, or batches from an async iterable with gzip, retries on
 * 429 and 503 that honour `Retry-After`, capped jittered backoff and a bounded queue), log queries
 * as async iterators over pages, metric queries, live tails that resume without gap or duplicate,
 * label and series lookups, and read-your-writes through the write tokens of this client's pushes.
 * It talks HTTP only and depends on no service (only on core's write-token codec): `new SiltClient({ url, ingestUrl, tenant, apiKey })`.
 */
import { mergeTokens } from './token';
import { Transport, type ConnectionOptions } from './http';
import { BatchingPusher, pushStreams, type BatchOptions, type PushEntry, type PushResult, type PushStream, type PushTotals } from './push';
import { lookup, metricRange, queryEntries, queryPage, rangeParams, streamPage, type Entry, type MetricOptions, type MetricSeries, type QueryOptions, type QueryPage, type RangeOptions } from './query';
import { tailEntries, type TailEntry, type TailOptions } from './tail';

export { SiltClientError } from './errors';
export { labelsText } from './labels';
export { durationNs, timeParam, type TimeInput } from './time';
export type { BatchOptions, Entry, MetricOptions, MetricSeries, PushEntry, PushResult, PushStream, PushTotals, QueryOptions, QueryPage, RangeOptions, TailEntry, TailOptions };
export { BatchingPusher };

/** How a client reaches Silt. */
export interface ClientOptions extends Omit<ConnectionOptions, 'url'> {
  /** The query service (default `http://localhost:7420`). */
  url?: string;
  /** The ingest service (default: `url` with port 7410 when `url` is on 7420, else `url`). */
  ingestUrl?: string;
  /** Queries wait for this client's pushes to be applied (default true). */
  readYourWrites?: boolean;
}

/** One entry of `pushAll`'s source: its stream's labels and the entry. */
export interface PushItem extends PushEntry {
  labels: Record<string, string>;
}

/** A partition as a storage node holds it: its next offset to apply and the entry times it holds (ns, decimal strings). */
export interface ClusterPartition {
  partition: number;
  appliedOffset: string;
  minTs: string | null;
  maxTs: string | null;
  catchingUp: boolean;
}

/** A storage node as the query service knows it (its announcement). */
export interface ClusterNode {
  nodeId: string;
  replicaGroup: number;
  url: string;
  partitions: ClusterPartition[];
  /** Partitions it stored but no longer owns, still readable until their new owner caught up. */
  released: ClusterPartition[];
  sentAt: number;
}

/** The cluster as the query service sees it (`GET /internal/v1/directory`). */
export interface ClusterState {
  nodes: ClusterNode[];
  /** The logs topic's end offset per partition, when Kafka answered. */
  topicEnds?: Record<string, string>;
}

function defaultIngestUrl(url: string): string {
  const u = new URL(url);
  if (u.port === '7420') u.port = '7410';
  return u.toString().replace(/\/$/, '');
}

/** A client of one Silt cluster; see the module comment. */
export class SiltClient {
  private readonly query: Transport;
  private readonly ingest: Transport;
  private token: string | undefined;

  constructor(private readonly options: ClientOptions = {}) {
    const url = options.url ?? 'http://localhost:7420';
    this.query = new Transport({ ...options, url });
    this.ingest = new Transport({ ...options, url: options.ingestUrl ?? defaultIngestUrl(url) });
  }

  /** The write token covering every push this client made (per partition, the latest offset), or undefined before the first. */
  get writeToken(): string | undefined {
    return this.token;
  }

  /** Pushes `streams` at once; resolves when Kafka acknowledged them (the valid ones, on a partial 400). */
  async push(streams: PushStream[], signal?: AbortSignal): Promise<PushResult> {
    const result = await pushStreams(this.ingest, streams, signal);
    this.noteToken(result.token);
    return result;
  }

  /** A batching pusher on this client's ingest: `add` entries, then `close` (or `flush`). */
  pusher(options: BatchOptions = {}): BatchingPusher {
    return new BatchingPusher(this.ingest, options, (t) => this.noteToken(t));
  }

  /** Pushes every entry of `source` in batches; resolves with the totals once all are acknowledged. */
  async pushAll(source: AsyncIterable<PushItem> | Iterable<PushItem>, options: BatchOptions & { onProgress?: (totals: PushTotals, queued: number) => void } = {}): Promise<PushTotals> {
    const pusher = this.pusher(options);
    let queued = 0;
    try {
      for await (const { labels, ...entry } of source) {
        await pusher.add(labels, entry);
        queued++;
        if (options.onProgress !== undefined && queued % 1000 === 0) options.onProgress(pusher.totals, queued);
      }
      const totals = await pusher.close();
      options.onProgress?.(totals, queued);
      return totals;
    } finally {
      await pusher.close().catch(() => undefined);
    }
  }

  /** The entries of a log query, page after page (`/api/v1/query` with cursors). */
  entries(logql: string, options: QueryOptions = {}): AsyncGenerator<Entry> {
    return queryEntries(this.query, logql, { ...options, token: this.readToken() });
  }

  /** One page of a log query; pass the previous page's `next` as `cursor`. */
  page(logql: string, options: QueryOptions & { cursor?: string } = {}): Promise<QueryPage> {
    return queryPage(this.query, logql, { ...options, token: this.readToken() });
  }

  /** One page of a log query as it arrives: `onEntry` gets each entry as soon as it is read; resolves with the page's `next` and `stats`. */
  streamPage(logql: string, options: QueryOptions & { cursor?: string }, onEntry: (e: Entry) => void): Promise<Omit<QueryPage, 'entries'>> {
    return streamPage(this.query, logql, { ...options, token: this.readToken() }, onEntry);
  }

  /** A metric query over a range, as series of [ns, value] points. */
  metric(logql: string, options: MetricOptions = {}): Promise<MetricSeries[]> {
    return metricRange(this.query, logql, options);
  }

  /** A live tail of `logql`; resumes after a dropped connection without gap or duplicate. */
  tail(logql: string, options: TailOptions = {}): AsyncGenerator<TailEntry> {
    return tailEntries(this.query, logql, options);
  }

  /** Label names (`/api/v1/labels`). */
  labels(range: RangeOptions = {}): Promise<string[]> {
    return lookup<string[]>(this.query, '/api/v1/labels', rangeParams(range));
  }

  /** Values of label `name` (`/api/v1/label/{name}/values`). */
  labelValues(name: string, range: RangeOptions = {}): Promise<string[]> {
    return lookup<string[]>(this.query, `/api/v1/label/${encodeURIComponent(name)}/values`, rangeParams(range));
  }

  /** The label sets of the streams matching any of `match` (`/api/v1/series`). */
  series(match: string | string[], range: RangeOptions = {}): Promise<Record<string, string>[]> {
    return lookup<Record<string, string>[]>(this.query, '/api/v1/series', { match: Array.isArray(match) ? match : [match], ...rangeParams(range) });
  }

  /** The storage nodes the query service knows, with their partitions, and the topic's ends (`/internal/v1/directory`; auth: the `admin` scope). */
  cluster(): Promise<ClusterState> {
    return this.query.json<ClusterState>({ path: '/internal/v1/directory' });
  }

  private readToken(): string | undefined {
    return this.options.readYourWrites === false ? undefined : this.token;
  }

  private noteToken(token: string): void {
    this.token = this.token === undefined ? token : mergeTokens(this.token, token);
  }
}
