/** A binary heap for k-way merges, shared by the storage node's reads and the query service's fan-out. */

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

  /** A copy of the items, in no particular order. */
  toArray(): T[] {
    return [...this.items];
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
