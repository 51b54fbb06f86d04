/** Ordered-merge helpers of segment reads: the total order, the heap, and per-frame entry order. */
import { comparePositions, type EntryPosition } from '../../core/src/position';
import { BinaryHeap } from '../../core/src/binary-heap';
import { compareFramePlace, frameEntryOrder } from '../../storage-node/src/store/merge';
import { rng } from '../support/rng';

function key(ts: bigint, streamId: bigint, partition: number, offset: bigint, frame: number, index: number): EntryPosition {
  return { ts, streamId, partition, offset, frame, index };
}

describe('storage node > merge > total order', () => {
  it('orders by ts, then stream id, partition, offset, frame, index', () => {
    const base = key(5n, 3n, 1, 10n, 2, 4);
    expect(comparePositions(base, { ...base })).toBe(0);
    const bigger: EntryPosition[] = [
      { ...base, ts: 6n, streamId: 0n, partition: 0, offset: 0n, frame: 0, index: 0 },
      { ...base, streamId: 4n, partition: 0, offset: 0n, frame: 0, index: 0 },
      { ...base, partition: 2, offset: 0n, frame: 0, index: 0 },
      { ...base, offset: 11n, frame: 0, index: 0 },
      { ...base, frame: 3, index: 0 },
      { ...base, index: 5 },
    ];
    for (const b of bigger) {
      expect(comparePositions(base, b)).toBeLessThan(0);
      expect(comparePositions(b, base)).toBeGreaterThan(0);
    }
  });

  it('treats ±Infinity and out-of-range values as bounds', () => {
    const e = key(5n, 3n, 1, 10n, 2, 4);
    expect(comparePositions(key(5n, 3n, 1, 10n, 2, -Infinity), e)).toBeLessThan(0);
    expect(comparePositions(key(5n, 3n, 1, 10n, 2, Infinity), e)).toBeGreaterThan(0);
    expect(comparePositions(key(5n, -1n, -Infinity, -1n, -Infinity, -Infinity), key(5n, 0n, 0, 0n, 0, 0))).toBeLessThan(0);
    expect(comparePositions(key(5n, 1n << 64n, Infinity, 1n << 64n, Infinity, Infinity), key(5n, (1n << 64n) - 1n, 9, 9n, 9, 9))).toBeGreaterThan(0);
  });

  it('compares a frame place without the index', () => {
    const a = key(5n, 3n, 1, 10n, 2, 4);
    expect(compareFramePlace(5n, 3n, 1, 10n, 2, a)).toBe(0);
    expect(compareFramePlace(5n, 3n, 1, 10n, 1, a)).toBe(-1);
    expect(compareFramePlace(4n, 9n, 9, 99n, 9, a)).toBe(-1);
    expect(compareFramePlace(5n, 3n, 2, 0n, 0, a)).toBe(1);
  });
});

describe('storage node > merge > binary heap', () => {
  it('pops in order whatever the push order, for both directions', () => {
    const rand = rng(3);
    for (const dir of [1, -1]) {
      const heap = new BinaryHeap<EntryPosition>((a, b) => comparePositions(a, b) * dir < 0);
      const all: EntryPosition[] = [];
      for (let i = 0; i < 500; i++) {
        const k = key(BigInt(Math.floor(rand() * 20)), BigInt(Math.floor(rand() * 3)), Math.floor(rand() * 2), BigInt(i), 0, 0);
        all.push(k);
        heap.push(k);
      }
      const out: EntryPosition[] = [];
      while (heap.size > 0) out.push(heap.pop()!);
      expect(out).toEqual([...all].sort((a, b) => comparePositions(a, b) * dir));
      expect(heap.pop()).toBeUndefined();
    }
  });

  it('re-places the top after its key changes (a k-way merge of sorted runs)', () => {
    const rand = rng(4);
    const runs: number[][] = [];
    for (let r = 0; r < 7; r++) {
      const run: number[] = [];
      let v = 0;
      for (let i = 0; i < 50 + Math.floor(rand() * 50); i++) run.push((v += Math.floor(rand() * 5)));
      runs.push(run);
    }
    interface Cursor {
      run: number[];
      pos: number;
    }
    const heap = new BinaryHeap<Cursor>((a, b) => a.run[a.pos]! < b.run[b.pos]!);
    for (const run of runs) heap.push({ run, pos: 0 });
    const out: number[] = [];
    while (heap.size > 0) {
      const top = heap.peek()!;
      out.push(top.run[top.pos]!);
      if (++top.pos < top.run.length) heap.updateTop();
      else heap.pop();
    }
    expect(out).toEqual(runs.flat().sort((a, b) => a - b));
  });

  it('drains what it holds', () => {
    const heap = new BinaryHeap<number>((a, b) => a < b);
    [3, 1, 2].forEach((n) => heap.push(n));
    expect(heap.drain().sort()).toEqual([1, 2, 3]);
    expect(heap.size).toBe(0);
  });
});

describe('storage node > merge > frame entry order', () => {
  const entries = (ts: number[]): { ts: bigint }[] => ts.map((t) => ({ ts: BigInt(t) }));

  it('keeps push order for sorted frames', () => {
    expect([...frameEntryOrder(entries([1, 2, 2, 5]), null)]).toEqual([0, 1, 2, 3]);
  });

  it('sorts out-of-order frames by ts, ties by push order', () => {
    expect([...frameEntryOrder(entries([5, 1, 3, 1, 5, 0]), null)]).toEqual([5, 1, 3, 2, 0, 4]);
  });

  it('leaves out what keep refuses', () => {
    expect([...frameEntryOrder(entries([5, 1, 3, 1, 5, 0]), (ts, i) => ts >= 1n && i !== 3)]).toEqual([1, 2, 0, 4]);
    expect(frameEntryOrder(entries([1, 2]), () => false).length).toBe(0);
  });

  it('agrees with a reference sort on random frames', () => {
    const rand = rng(5);
    for (let n = 0; n < 50; n++) {
      const ts = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Math.floor(rand() * 10));
      const keep = (t: bigint): boolean => t !== 3n;
      const expected = ts
        .map((t, i) => ({ t, i }))
        .filter(({ t }) => t !== 3)
        .sort((a, b) => a.t - b.t || a.i - b.i)
        .map(({ i }) => i);
      expect([...frameEntryOrder(entries(ts), keep)]).toEqual(expected);
    }
  });
});
