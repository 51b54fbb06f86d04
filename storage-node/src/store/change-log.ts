/**
 * What changed in each partition since a given offset, as the earliest entry timestamp it touched:
 * the query service's results cache reuses a piece computed at snapshot `o` only while nothing
 * applied at or after `o` (nor removed since) has a timestamp inside the piece.
 *
 * Per partition, a stack of (offset, earliest ts) with offsets and timestamps both increasing: a
 * change whose earliest ts is at or below an older entry's makes that entry redundant (any suffix
 * holding the older one holds the newer), so in-order logs keep a short stack, and a late entry
 * collapses it. The earliest ts at or after `o` is then the first entry with offset ≥ `o`. Past
 * `MAX_ENTRIES` the two oldest entries merge into one that is more conservative (earlier ts, later
 * offset), never less. What happened before tracking began (the node started, or adopted a copy)
 * is unknown, and so answered.
 */

/** Entries kept per partition before the oldest ones merge. */
const MAX_ENTRIES = 4096;

/** What changed in a partition at or after an offset: the earliest ts, none, or unknown (before tracking began). */
export type ChangesSince = { earliest: bigint } | 'none' | 'unknown';

interface PartitionChanges {
  /** Offsets from here on are tracked. */
  since: bigint;
  offsets: bigint[];
  earliest: bigint[];
}

/** The change log of every partition of one store; see the module comment. */
export class ChangeLog {
  private readonly parts = new Map<number, PartitionChanges>();

  private of(partition: number, since: bigint): PartitionChanges {
    let p = this.parts.get(partition);
    if (p === undefined) this.parts.set(partition, (p = { since, offsets: [], earliest: [] }));
    return p;
  }

  /** Starts tracking a partition at `applied` (the store opened, or a copy was adopted): what came before is unknown. */
  reset(partition: number, applied: bigint): void {
    this.parts.set(partition, { since: applied, offsets: [], earliest: [] });
  }

  /**
   * Records a change at `offset` touching entries from `earliest` on: a write of offsets up to
   * `offset` (its last block's), or a removal (at the partition's applied offset). `from` is the
   * applied offset before it, where tracking starts for a partition not yet tracked.
   */
  record(partition: number, from: bigint, offset: bigint, earliest: bigint): void {
    const p = this.of(partition, from);
    const { offsets, earliest: ts } = p;
    while (ts.length > 0 && ts[ts.length - 1]! >= earliest) {
      ts.pop();
      offsets.pop();
    }
    offsets.push(offset);
    ts.push(earliest);
    if (offsets.length > MAX_ENTRIES) {
      offsets.splice(0, 2, offsets[1]!);
      ts.splice(0, 2, ts[0]!);
    }
  }

  /** The earliest timestamp a change at or after `offset` touched; `current` is the partition's applied offset now. */
  since(partition: number, offset: bigint, current: bigint): ChangesSince {
    const p = this.of(partition, current);
    if (offset < p.since) return 'unknown';
    const { offsets, earliest } = p;
    let lo = 0;
    let hi = offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offsets[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo < offsets.length ? { earliest: earliest[lo]! } : 'none';
  }
}
