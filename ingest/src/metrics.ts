/** The ingest service's Prometheus metrics, all on the instance's own registry. */
import { Counter, Histogram, type Registry } from 'prom-client';

/** Every metric ingest records. */
export interface IngestMetrics {
  requests: Counter<'route' | 'status'>;
  entriesAccepted: Counter<'tenant'>;
  bytesAccepted: Counter<'tenant'>;
  rejections: Counter<'reason'>;
  blockRawBytes: Counter;
  blockCompressedBytes: Counter;
  blocks: Counter;
  produceLatency: Histogram<'outcome'>;
  pushLatency: Histogram<'route'>;
}

/** Registers ingest's metrics on `registry`. */
export function createIngestMetrics(registry: Registry): IngestMetrics {
  const registers = [registry];
  return {
    requests: new Counter({ name: 'silt_ingest_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers }),
    entriesAccepted: new Counter({ name: 'silt_ingest_entries_accepted_total', help: 'Entries acknowledged by Kafka', labelNames: ['tenant'], registers }),
    bytesAccepted: new Counter({ name: 'silt_ingest_bytes_accepted_total', help: 'Line bytes acknowledged by Kafka', labelNames: ['tenant'], registers }),
    rejections: new Counter({ name: 'silt_ingest_rejections_total', help: 'Rejected entries and requests by reason code', labelNames: ['reason'], registers }),
    blockRawBytes: new Counter({ name: 'silt_ingest_block_raw_bytes_total', help: 'Raw bytes sealed into blocks', registers }),
    blockCompressedBytes: new Counter({ name: 'silt_ingest_block_compressed_bytes_total', help: 'Encoded (zstd) bytes of sealed blocks', registers }),
    blocks: new Counter({ name: 'silt_ingest_blocks_total', help: 'Blocks sealed', registers }),
    produceLatency: new Histogram({
      name: 'silt_ingest_produce_latency_seconds',
      help: 'Duration of one Kafka produce request',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    pushLatency: new Histogram({
      name: 'silt_ingest_push_latency_seconds',
      help: 'Duration of a push request from receipt to answer',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  };
}
