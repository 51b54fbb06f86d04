/** The query service's Prometheus metrics, on the instance's own registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Every metric the query service records. */
export interface QueryMetrics {
  latency: Histogram<'route' | 'status'>;
  entriesScanned: Counter;
  entriesReturned: Counter;
  fanoutErrors: Counter;
  failovers: Counter;
}

/** Registers the query service's metrics; `openTails` is read at scrape time. */
export function createQueryMetrics(registry: Registry, openTails: () => number): QueryMetrics {
  const registers = [registry];
  new Gauge({
    name: 'silt_query_tails_open',
    help: 'Live tails open now',
    registers,
    collect() {
      this.set(openTails());
    },
  });
  return {
    latency: new Histogram({
      name: 'silt_query_request_duration_seconds',
      help: 'Duration of read requests by route and status',
      labelNames: ['route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    entriesScanned: new Counter({ name: 'silt_query_entries_scanned_total', help: 'Entries decompressed on storage nodes for queries', registers }),
    entriesReturned: new Counter({ name: 'silt_query_entries_returned_total', help: 'Entries returned to clients', registers }),
    fanoutErrors: new Counter({ name: 'silt_query_fanout_errors_total', help: 'Storage node reads that failed or timed out', registers }),
    failovers: new Counter({ name: 'silt_query_failovers_total', help: 'Partitions re-read from another replica', registers }),
  };
}
