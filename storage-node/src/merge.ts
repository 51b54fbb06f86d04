/**
 * Ordered-merge helpers of segment reads: where a frame stands in the total order of entries
 * (DESIGN Guarantee 5), and the sorted order of one decoded frame's entries.
 */
import type { EntryPosition } from '../../core/src/position';

/** Compares a frame's place (ts, streamId, partition, offset, frame) with a point's, ignoring the entry index. */
export function compareFramePlace(ts: bigint, streamId: bigint, partition: number, offset: bigint, frame: number, b: EntryPosition): number {
  if (ts !== b.ts) return ts < b.ts ? -1 : 1;
  if (streamId !== b.streamId) return streamId < b.streamId ? -1 : 1;
  if (partition !== b.partition) return partition < b.partition ? -1 : 1;
  if (offset !== b.offset) return offset < b.offset ? -1 : 1;
  if (frame !== b.frame) return frame < b.frame ? -1 : 1;
  return 0;
}

/**
 * Indices of a frame's entries that `keep` accepts (all when keep is null), sorted by (ts, index)
 * ascending: a frame keeps push order, so timestamps may go backwards within it.
 */
export function frameEntryOrder(entries: readonly { ts: bigint }[], keep: ((ts: bigint, index: number) => boolean) | null): Int32Array {
  const n = entries.length;
  let sorted = true;
  let count = 0;
  let prev: bigint | undefined;
  const picked = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const ts = entries[i]!.ts;
    if (keep !== null && !keep(ts, i)) continue;
    if (prev !== undefined && ts < prev) sorted = false;
    prev = ts;
    picked[count++] = i;
  }
  const order = count === n ? picked : picked.subarray(0, count);
  if (!sorted) {
    order.sort((a, b) => {
      const ta = entries[a]!.ts;
      const tb = entries[b]!.ts;
      return ta === tb ? a - b : ta < tb ? -1 : 1;
    });
  }
  return order;
}
