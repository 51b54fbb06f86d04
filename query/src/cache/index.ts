/** The query service's results cache, built from `cache` settings: pieces of log and metric range queries, current by the storage nodes' change logs. */
import type { Registry } from 'prom-client';
import type { CacheConfig } from '../../../core/src/config';
import type { MatrixSeries } from '../../../core/src/logql/metric/evaluate';
import type { Fanout } from '../engine/fanout';
import type { CachedEntry, LogCacheDeps } from './log-pieces';
import type { MetricCacheDeps } from './metric-pieces';
import { createCacheMetrics, ResultsCache } from './results-cache';

/** Pieces computed at once when a request misses several: bounds what one dashboard query puts on the storage nodes. */
const PIECE_CONCURRENCY = 4;

/** The caches of both kinds of query. */
export interface QueryCaches {
  metric: MetricCacheDeps;
  log: LogCacheDeps;
}

/** The caches of metric and log range queries over `fanout`, sharing one bound of `cache.maxBytes`. */
export function queryCaches(settings: CacheConfig, fanout: Fanout, registry: Registry, readableFrom: (tenant: string) => bigint): QueryCaches {
  // The gauges read the cache only when scraped, after both exist.
  const metrics = createCacheMetrics(registry, () => cache.size);
  const cache = new ResultsCache<MatrixSeries[] | CachedEntry[]>(settings.maxBytes, () => metrics.evictions.inc());
  const shared = {
    metrics,
    intervalNs: BigInt(settings.splitIntervalMs) * 1_000_000n,
    changes: (offsets: ReadonlyMap<number, bigint>, signal: AbortSignal) => fanout.changesSince(offsets, signal),
    readableFrom,
  };
  return {
    metric: { ...shared, cache: cache.view<MatrixSeries[]>('metric'), concurrency: PIECE_CONCURRENCY },
    log: { ...shared, cache: cache.view<CachedEntry[]>('log') },
  };
}
