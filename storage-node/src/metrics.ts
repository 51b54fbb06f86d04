/** The storage node's Prometheus metrics, on the instance's own registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CompactionCounts, PartitionState } from './store';

/** What the metrics read at scrape time. */
export interface StorageMetricsSource {
  /** Partitions the node owns now: the per-partition gauges. */
  owned(): number[];
  /** Partitions with anything on disk: the totals. */
  stored(): number[];
  state(partition: number): PartitionState;
  highWatermark(partition: number): bigint | undefined;
  /** Compaction of small frames: jobs waiting, compactions done, frames they replaced, failures. */
  compactions(): CompactionCounts & { queued: number; pending: number };
  /** Frames reads had decoded and filtered on the scan threads. */
  framesScannedOnThreads(): number;
  /** Bytes of frame heads and filters kept in memory. */
  headsCachedBytes(): number;
  /** Bytes of decoded frames kept in memory, and the lookups that found and did not find a frame. */
  framesCached(): { bytes: number; hits: number; misses: number };
}

/** Every metric a storage node records. */
export interface StorageMetrics {
  applyLatency: Histogram;
  entriesStored: Counter;
  corruptBlocks: Counter;
  readRequests: Counter<'status'>;
  readLatency: Histogram;
  /** Entries an aggregate read went through, and the bytes of the partials it answered (the map side of metric queries). */
  aggregateEntries: Counter;
  aggregateBytes: Counter;
  /** What per-tenant retention removed: whole segments, tenants' parts of segments, and frames. */
  tenantRetentionRemoved: Counter<'removed'>;
}

/** Registers the node's metrics; gauges are computed from `source` when scraped. */
export function createStorageMetrics(registry: Registry, source: StorageMetricsSource): StorageMetrics {
  const registers = [registry];
  const perPartition = (name: string, help: string, value: (p: number) => number | undefined): Gauge<'partition'> =>
    new Gauge({
      name,
      help,
      labelNames: ['partition'],
      registers,
      collect() {
        this.reset();
        for (const p of source.owned()) {
          const v = value(p);
          if (v !== undefined) this.set({ partition: String(p) }, v);
        }
      },
    });
  perPartition('silt_storage_applied_offset', 'Next offset to apply, per partition', (p) => Number(source.state(p).appliedOffset));
  perPartition('silt_storage_consumer_lag', 'Kafka messages not yet applied, per partition', (p) => {
    const high = source.highWatermark(p);
    if (high === undefined) return undefined;
    const lag = high - source.state(p).appliedOffset;
    return Number(lag > 0n ? lag : 0n);
  });
  const total = (name: string, help: string, pick: (s: PartitionState) => number): Gauge =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(source.stored().reduce((sum, p) => sum + pick(source.state(p)), 0));
      },
    });
  total('silt_storage_segments', 'Segments on disk', (s) => s.segments);
  total('silt_storage_disk_bytes', 'Bytes stored in segments', (s) => s.bytes);
  total('silt_storage_entries', 'Entries held in segments', (s) => s.entries);
  // The metric names keep the word "merge" they were published with (dashboards and bench/ read them).
  const compaction = (name: string, help: string, pick: (m: ReturnType<StorageMetricsSource['compactions']>) => number): Gauge =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(pick(source.compactions()));
      },
    });
  compaction('silt_storage_merges_queued', 'Streams whose small frames wait to be compacted, plus one while compacting', (m) => m.queued);
  compaction('silt_storage_small_frames_pending', 'Small frames noted for compaction that wait for more of their stream or for the idle close-out', (m) => m.pending);
  compaction('silt_storage_merges', 'Compactions of small frames done since the node started', (m) => m.compactions);
  compaction('silt_storage_frames_merged', 'Small frames replaced by compacted ones since the node started', (m) => m.frames);
  compaction('silt_storage_merges_failed', 'Compactions that failed (the frames stay as they were) since the node started', (m) => m.failed);
  new Gauge({
    name: 'silt_storage_scan_thread_frames',
    help: 'Frames that reads with line filters had decoded and filtered on the scan threads since the node started',
    registers,
    collect() {
      this.set(source.framesScannedOnThreads());
    },
  });
  new Gauge({
    name: 'silt_storage_head_cache_bytes',
    help: 'Bytes of frame heads and token filters the node keeps in memory for counts and needle reads',
    registers,
    collect() {
      this.set(source.headsCachedBytes());
    },
  });
  new Gauge({
    name: 'silt_storage_frame_cache_bytes',
    help: 'Bytes of frames decoded whole that the node keeps in memory for reads of the same frames again',
    registers,
    collect() {
      this.set(source.framesCached().bytes);
    },
  });
  new Counter({
    name: 'silt_storage_frame_cache_requests_total',
    help: 'Frames reads looked up in the decoded-frame cache, by result: hit (not decompressed) or miss',
    labelNames: ['result'],
    registers,
    collect() {
      // The store counts; the scrape reports its totals.
      const c = source.framesCached();
      this.reset();
      this.inc({ result: 'hit' }, c.hits);
      this.inc({ result: 'miss' }, c.misses);
    },
  });
  const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  return {
    applyLatency: new Histogram({ name: 'silt_storage_apply_latency_seconds', help: 'Duration of one LevelDB apply of a Kafka batch', buckets, registers }),
    entriesStored: new Counter({ name: 'silt_storage_entries_stored_total', help: 'Entries applied to LevelDB', registers }),
    corruptBlocks: new Counter({ name: 'silt_storage_corrupt_blocks_total', help: 'Blocks that failed to decode and were quarantined', registers }),
    readRequests: new Counter({ name: 'silt_storage_read_requests_total', help: 'Internal read requests by status', labelNames: ['status'], registers }),
    readLatency: new Histogram({ name: 'silt_storage_read_latency_seconds', help: 'Duration of an internal read', buckets, registers }),
    aggregateEntries: new Counter({ name: 'silt_storage_aggregate_entries_total', help: 'Entries aggregate reads went through (their line bytes never leave the node)', registers }),
    aggregateBytes: new Counter({ name: 'silt_storage_aggregate_bytes_sent_total', help: 'Bytes of partial aggregates answered by aggregate reads', registers }),
    tenantRetentionRemoved: new Counter({
      name: 'silt_storage_tenant_retention_removed_total',
      help: 'What per-tenant retention (limits retentionHours) removed from disk: whole segments, tenant parts of segments, frames',
      labelNames: ['removed'],
      registers,
    }),
  };
}
