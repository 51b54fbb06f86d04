/** The query service's results cache, built from `cache` settings: pieces of metric range queries, current by the storage nodes' change logs. */
import type { Registry } from 'prom-client';
import type { CacheConfig } from '../../../core/src/config';
import type { MatrixSeries } from '../../../core/src/logql/metric/evaluate';
import type { Fanout } from '../engine/fanout';
import type { MetricCacheDeps } from './metric-pieces';
import { createCacheMetrics, ResultsCache } from './results-cache';

/** Pieces computed at once when a request misses several: bounds what one dashboard query puts on the storage nodes. */
const PIECE_CONCURRENCY = 4;

/** The cache of metric range queries over `fanout`. */
export function metricCache(settings: CacheConfig, fanout: Fanout, registry: Registry, readableFrom: (tenant: string) => bigint): MetricCacheDeps {
  // The gauges read the cache only when scraped, after both exist.
  const metrics = createCacheMetrics(registry, () => cache.size);
  const cache = new ResultsCache<MatrixSeries[]>(settings.maxBytes, () => metrics.evictions.inc());
  return {
    cache,
    metrics,
    intervalNs: BigInt(settings.splitIntervalMs) * 1_000_000n,
    changes: (offsets, signal) => fanout.changesSince(offsets, signal),
    concurrency: PIECE_CONCURRENCY,
    readableFrom,
  };
}
