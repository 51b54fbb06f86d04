/** Chooses the Kafka partition of a stream: by its id by default, round-robin for streams named hot. */
import { labelsKey, type Labels } from '../../core/src/labels';

/** Maps (tenant, labels) to a partition of `silt.logs`. */
export class Partitioner {
  private readonly spread: Set<string>;
  private next = 0;

  /** `spread` holds `tenant/{labels}` keys (canonical label order) of streams too hot for one partition. */
  constructor(
    private readonly partitions: number,
    spread: readonly string[] = [],
  ) {
    this.spread = new Set(spread);
  }

  /** The partition for one stream's entries of one push; `key` is the stream's canonical label key. */
  partition(tenant: string, key: string, id: bigint): number {
    // Round-robin per push keeps each push's entries of the stream together, in order, in one block.
    if (this.spread.size > 0 && this.spread.has(`${tenant}/${key}`)) return this.next++ % this.partitions;
    return Number(id % BigInt(this.partitions));
  }
}

/** The canonical key of a stream to name in `ingest.spreadStreams`. */
export function spreadKey(tenant: string, labels: Labels): string {
  return `${tenant}/${labelsKey(labels)}`;
}
