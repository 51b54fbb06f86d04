/**
 * Loki's JSON answers (pkg/util/marshal): `{"status":"success","data":{"resultType",…,"result",
 * "stats"}}` with streams `{"stream":{…},"values":[["<ns>","line"],…]}`, matrices
 * `{"metric":{…},"values":[[<s>,"<v>"],…]}`, vectors `{"metric":{…},"value":[<s>,"<v>"]}` and
 * scalars `[<s>,"<v>"]`. Sample times are Prometheus model.Time (whole milliseconds) printed as
 * seconds; values as Go's strconv.FormatFloat(v, 'f', -1, 64), with NaN, +Inf and -Inf.
 */
import type { Labels } from '../../../core/src/labels';
import { goFloatPlain } from '../../../core/src/logql/format';

/** One series of a matrix: a metric and its points (ns, value). */
export interface SeriesPoints {
  metric: Labels;
  points: { t: bigint; v: number }[];
}

/** One sample of a vector. */
export interface VectorSample {
  metric: Labels;
  t: bigint;
  v: number;
}

/** What a query read and returned, for the `stats` object. */
export interface QueryCounters {
  /** Entries the storage nodes decompressed for the query. */
  linesProcessed: number;
  /** Their bytes. */
  bytesProcessed: number;
  /** Entries that passed the pipeline. */
  postFilterLines: number;
  /** Entries (log queries) or series (metric queries) in the answer. */
  entriesReturned: number;
  /** Wall time of the query, seconds. */
  execSeconds: number;
}

/** A sample time as Prometheus prints it: whole milliseconds (truncated, as Go's division does) as seconds. */
export function sampleTime(ns: bigint): number {
  return Number(ns / 1_000_000n) / 1000;
}

/** The `result` of a matrix answer. */
export function matrixResult(series: readonly SeriesPoints[]): { metric: Labels; values: [number, string][] }[] {
  return series.map((s) => ({ metric: s.metric, values: s.points.map((p): [number, string] => [sampleTime(p.t), goFloatPlain(p.v)]) }));
}

/** The `result` of a vector answer. */
export function vectorResult(samples: readonly VectorSample[]): { metric: Labels; value: [number, string] }[] {
  return samples.map((s) => ({ metric: s.metric, value: [sampleTime(s.t), goFloatPlain(s.v)] }));
}

/** The `result` of a scalar answer. */
export function scalarResult(t: bigint, v: number): [number, string] {
  return [sampleTime(t), goFloatPlain(v)];
}

const CHUNK_ZEROES = {
  headChunkBytes: 0,
  headChunkLines: 0,
  decompressedBytes: 0,
  decompressedLines: 0,
  compressedBytes: 0,
  totalDuplicates: 0,
  postFilterLines: 0,
  headChunkStructuredMetadataBytes: 0,
  decompressedStructuredMetadataBytes: 0,
};

function storeStats(chunk: typeof CHUNK_ZEROES): Record<string, unknown> {
  return {
    totalChunksRef: 0,
    totalChunksDownloaded: 0,
    chunksDownloadTime: 0,
    queryReferencedStructuredMetadata: false,
    queryUsedV2Engine: false,
    chunk,
    chunkRefsFetchTime: 0,
    congestionControlLatency: 0,
    pipelineWrapperFilteredLines: 0,
  };
}

function cacheStats(): Record<string, number> {
  return { entriesFound: 0, entriesRequested: 0, entriesStored: 0, bytesReceived: 0, bytesSent: 0, requests: 0, downloadTime: 0, queryLengthServed: 0 };
}

/**
 * Loki's `stats` object (pkg/logqlmodel/stats), every section present as Loki sends it; Grafana
 * reads `summary`. Silt's storage nodes play the querier's store: what they decompressed is there.
 */
export function lokiStats(c: QueryCounters): Record<string, unknown> {
  const perSecond = (n: number): number => (c.execSeconds > 0 ? Math.trunc(n / c.execSeconds) : 0);
  return {
    summary: {
      bytesProcessedPerSecond: perSecond(c.bytesProcessed),
      linesProcessedPerSecond: perSecond(c.linesProcessed),
      totalBytesProcessed: c.bytesProcessed,
      totalLinesProcessed: c.linesProcessed,
      execTime: c.execSeconds,
      queueTime: 0,
      subqueries: 0,
      totalEntriesReturned: c.entriesReturned,
      splits: 0,
      shards: 0,
      totalPostFilterLines: c.postFilterLines,
      totalStructuredMetadataBytesProcessed: 0,
    },
    querier: {
      store: storeStats({ ...CHUNK_ZEROES, decompressedBytes: c.bytesProcessed, decompressedLines: c.linesProcessed, postFilterLines: c.postFilterLines }),
      querierExecTime: c.execSeconds,
    },
    ingester: { totalReached: 0, totalChunksMatched: 0, totalBatches: 0, totalLinesSent: 0, store: storeStats({ ...CHUNK_ZEROES }) },
    cache: {
      chunk: cacheStats(),
      index: cacheStats(),
      result: cacheStats(),
      statsResult: cacheStats(),
      volumeResult: cacheStats(),
      seriesResult: cacheStats(),
      labelResult: cacheStats(),
      instantMetricResult: cacheStats(),
    },
    index: { totalChunks: 0, postFilterChunks: 0, shardsDuration: 0, usedBloomFilters: false },
  };
}

/** A query answer: `{"status":"success","data":{"resultType","result","stats"}}`. */
export function queryAnswer(resultType: 'streams' | 'matrix' | 'vector' | 'scalar', result: unknown, counters: QueryCounters): Record<string, unknown> {
  return { status: 'success', data: { resultType, result, stats: lokiStats(counters) } };
}
