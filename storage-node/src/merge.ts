/**
 * Ordered-merge helpers of segment reads: the total order of entries (DESIGN Guarantee 5), a binary
 * heap for k-way merges, and the sorted order of one decoded frame's entries.
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

/** A binary heap whose top is the item `before` puts first; `updateTop` restores order after the top's key changed. */
export class BinaryHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  /** Number of items held. */
  get size(): number {
    return this.items.length;
  }

  /** The first item, or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** The item that would be first if the top were removed, or undefined when there is none. */
  runnerUp(): T | undefined {
    const items = this.items;
    if (items.length < 3) return items[1];
    return this.before(items[2]!, items[1]!) ? items[2] : items[1];
  }

  /** Adds an item. */
  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  /** Removes and returns the first item. */
  pop(): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Re-places the top item after its key changed (cheaper than pop + push). */
  updateTop(): void {
    if (this.items.length > 1) this.siftDown(0);
  }

  /** Removes every item and returns them, in no particular order. */
  drain(): T[] {
    return this.items.splice(0);
  }

  private siftDown(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.before(items[right]!, items[left]!) ? right : left;
      if (!this.before(items[child]!, item)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = item;
  }
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
