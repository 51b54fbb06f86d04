/** Pending frame keys are copies of their own, so they never keep Node's shared allocation slabs alive. */
import { FrameKeyList } from '../../storage-node/src/store/frame-key-list';

describe('storage > compactor > frame key list', () => {
  it('keeps copies, not views of the pooled buffers the keys came in', () => {
    const list = new FrameKeyList(12);
    const pooled: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      const key = Buffer.allocUnsafe(12);
      key.fill(i);
      pooled.push(key);
      list.push(key);
    }
    expect(pooled[0].buffer.byteLength).toBeGreaterThan(12 * 100);
    const keys = list.keys();
    expect(keys).toHaveLength(100);
    const held = new Set(keys.map((k) => k.buffer));
    expect(held.size).toBe(1);
    for (const k of keys) expect(pooled.some((p) => p.buffer === k.buffer)).toBe(false);
    expect(keys[0].buffer.byteLength).toBeLessThanOrEqual(12 * 128);
    pooled.forEach((p) => p.fill(255));
    keys.forEach((k, i) => expect(k.equals(Buffer.alloc(12, i))).toBe(true));
  });

  it('refuses a key of another length', () => {
    const list = new FrameKeyList(4);
    list.push(Buffer.from([1, 2, 3, 4]));
    expect(() => list.push(Buffer.from([1, 2, 3]))).toThrow(RangeError);
    expect(list.length).toBe(1);
  });
});
