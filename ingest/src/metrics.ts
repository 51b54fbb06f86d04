/** The ingest service's Prometheus metrics, all on the instance's own registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

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
  syslogMessages: Counter<'transport'>;
  syslogMalformed: Counter<'reason'>;
  syslogTruncated: Counter<'transport'>;
  syslogDropped: Counter<'transport' | 'reason'>;
  syslogRetries: Counter;
  syslogConnections: Gauge<'transport'>;
  syslogPausedConnections: Gauge<'transport'>;
  syslogConnectionsClosed: Counter<'transport' | 'reason'>;
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
    syslogMessages: new Counter({ name: 'silt_ingest_syslog_messages_total', help: 'Syslog messages received, by transport', labelNames: ['transport'], registers }),
    syslogMalformed: new Counter({
      name: 'silt_ingest_syslog_malformed_total',
      help: 'Syslog messages stored with a syslog_error attribute, by reason',
      labelNames: ['reason'],
      registers,
    }),
    syslogTruncated: new Counter({ name: 'silt_ingest_syslog_truncated_total', help: 'Syslog messages cut to the line limit, by transport', labelNames: ['transport'], registers }),
    syslogDropped: new Counter({
      name: 'silt_ingest_syslog_dropped_total',
      help: 'Syslog messages not stored, by transport and reason',
      labelNames: ['transport', 'reason'],
      registers,
    }),
    syslogRetries: new Counter({ name: 'silt_ingest_syslog_retries_total', help: 'Syslog batches pushed again after Kafka could not take them', registers }),
    syslogConnections: new Gauge({ name: 'silt_ingest_syslog_connections', help: 'Open syslog connections, by transport', labelNames: ['transport'], registers }),
    syslogPausedConnections: new Gauge({
      name: 'silt_ingest_syslog_paused_connections',
      help: 'Syslog connections not being read until Kafka takes their batch, by transport',
      labelNames: ['transport'],
      registers,
    }),
    syslogConnectionsClosed: new Counter({
      name: 'silt_ingest_syslog_connections_closed_total',
      help: 'Syslog connections closed, by transport and reason',
      labelNames: ['transport', 'reason'],
      registers,
    }),
  };
}
