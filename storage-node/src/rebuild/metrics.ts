/** Metrics of rebuilds from a peer, both ends, on the node's own registry. */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Why a copy attempt failed, as the `reason` label of `silt_storage_rebuild_failures_total`. */
export type RebuildFailure = 'peer' | 'dump' | 'behind' | 'lost';

/** Every rebuild metric a storage node records. */
export interface RebuildMetrics {
  /** Partitions adopted from a peer. */
  partitions: Counter;
  /** Segments and dump bytes taken in from peers. */
  segmentsCopied: Counter;
  bytesCopied: Counter;
  /** Failed attempts by reason; `lost` counts each check that found the partition's data neither in Kafka nor on any peer. */
  failures: Counter<'reason'>;
  /** Partitions being copied now, and partitions that no source can fill (data lost: the partition stays paused). */
  running: Gauge;
  blocked: Gauge;
  /** Segment dumps this node served to peers, and their bytes. */
  dumpsServed: Counter;
  bytesServed: Counter;
}

/** Registers the rebuild metrics. */
export function createRebuildMetrics(registry: Registry): RebuildMetrics {
  const registers = [registry];
  return {
    partitions: new Counter({ name: 'silt_storage_rebuild_partitions_total', help: 'Partitions rebuilt from a peer of another replica group', registers }),
    segmentsCopied: new Counter({ name: 'silt_storage_rebuild_segments_copied_total', help: 'Segments copied from peers (verified)', registers }),
    bytesCopied: new Counter({ name: 'silt_storage_rebuild_bytes_copied_total', help: 'Dump bytes received from peers', registers }),
    failures: new Counter({
      name: 'silt_storage_rebuild_failures_total',
      help: 'Failed rebuild attempts: peer (unreachable or refused), dump (truncated or corrupt), behind (peer behind Kafka), lost (no source holds the data)',
      labelNames: ['reason'],
      registers,
    }),
    running: new Gauge({ name: 'silt_storage_rebuild_running', help: 'Partitions being copied from a peer now', registers }),
    blocked: new Gauge({ name: 'silt_storage_rebuild_blocked_partitions', help: 'Partitions held back because neither Kafka nor any peer holds their older offsets', registers }),
    dumpsServed: new Counter({ name: 'silt_storage_rebuild_dumps_served_total', help: 'Segment dumps served to rebuilding peers', registers }),
    bytesServed: new Counter({ name: 'silt_storage_rebuild_bytes_served_total', help: 'Dump bytes served to rebuilding peers', registers }),
  };
}
