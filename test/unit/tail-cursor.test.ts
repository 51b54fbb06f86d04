import {
  advanceTailCursor,
  decodeTailCursor,
  encodeTailCursor,
  isAfterPosition,
  MAX_TAIL_CURSOR_LENGTH,
  TailCursorBuilder,
  type TailCursor,
} from '../../core/src/tail-cursor';

const bytes = (...b: number[]): string => Buffer.from(b).toString('base64url');

describe('core > tail cursor', () => {
  const cursor: TailCursor = new Map([
    [3, { offset: 2n ** 63n - 1n, after: { frame: 65535, index: 2 ** 32 - 1 } }],
    [0, { offset: 0n }],
    [1, { offset: 12345n, after: { frame: 0, index: 0 } }],
    [7, { offset: 99n, after: { frame: 4, index: 1000 } }],
  ]);

  it('round-trips positions with and without a delivered entry, whatever the map order', () => {
    const text = encodeTailCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeTailCursor(text)).toEqual(cursor);
    const reordered = new Map([...cursor].reverse());
    expect(encodeTailCursor(reordered)).toBe(text);
  });

  it('is compact: version byte, then a few varint bytes per partition', () => {
    const eight: TailCursor = new Map();
    for (let p = 0; p < 8; p++) eight.set(p, { offset: 1_000_000n + BigInt(p), after: { frame: 2, index: 300 } });
    // 1 + 8 × (1 partition + 3 offset + 1 frame + 2 index) = 57 bytes = 76 characters.
    expect(encodeTailCursor(eight)).toHaveLength(76);
    expect(encodeTailCursor(new Map([[0, { offset: 5n }]]))).toBe(bytes(1, 0, 5, 0));
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'ab+/'],
    ['padding', bytes(1, 0, 5, 0) + '='],
    ['non-canonical trailing bits', 'AQAFAB'],
    ['unknown version', bytes(2, 0, 5, 0)],
    ['no partitions', bytes(1)],
    ['truncated offset', bytes(1, 0)],
    ['truncated varint', bytes(1, 0, 0x85)],
    ['truncated index', bytes(1, 0, 5, 3)],
    ['partitions out of order', bytes(1, 2, 5, 0, 1, 5, 0)],
    ['a partition twice', bytes(1, 2, 5, 0, 2, 6, 0)],
    ['partition out of range', bytes(1, 0xa1, 0x8d, 0x06, 5, 0)],
    ['offset past 2^63 - 1', bytes(1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0)],
    ['varint too long', bytes(1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0)],
    ['non-minimal varint', bytes(1, 0, 0x85, 0x00, 0)],
    ['frame out of range', bytes(1, 0, 5, 0x81, 0x80, 0x04, 0)],
    ['index out of range', bytes(1, 0, 5, 1, 0x80, 0x80, 0x80, 0x80, 0x10)],
    ['too long', 'A'.repeat(MAX_TAIL_CURSOR_LENGTH + 4)],
    ['garbage text', 'hello world'],
  ])('rejects %s with 400 SILT_BAD_CURSOR', (_name, text) => {
    let caught: unknown;
    try {
      decodeTailCursor(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'SILT_BAD_CURSOR', status: 400 });
  });

  it('refuses to encode what it could not decode', () => {
    expect(() => encodeTailCursor(new Map([[-1, { offset: 0n }]]))).toThrow(RangeError);
    expect(() => encodeTailCursor(new Map([[0, { offset: -1n }]]))).toThrow(RangeError);
    expect(() => encodeTailCursor(new Map([[0, { offset: 0n, after: { frame: 65536, index: 0 } }]]))).toThrow(RangeError);
  });

  it('advances one partition without touching the original', () => {
    const next = advanceTailCursor(cursor, 0, 10n, 1, 2);
    expect(next.get(0)).toEqual({ offset: 10n, after: { frame: 1, index: 2 } });
    expect(cursor.get(0)).toEqual({ offset: 0n });
    expect(next.get(7)).toEqual(cursor.get(7));
    expect(decodeTailCursor(encodeTailCursor(next))).toEqual(next);
  });

  it('tells entries after a position from those delivered already', () => {
    const fresh = { offset: 10n };
    expect(isAfterPosition(fresh, 9n, 5, 5)).toBe(false);
    expect(isAfterPosition(fresh, 10n, 0, 0)).toBe(true);
    expect(isAfterPosition(fresh, 11n, 0, 0)).toBe(true);
    const mid = { offset: 10n, after: { frame: 2, index: 3 } };
    expect(isAfterPosition(mid, 10n, 2, 3)).toBe(false);
    expect(isAfterPosition(mid, 10n, 1, 99)).toBe(false);
    expect(isAfterPosition(mid, 10n, 2, 4)).toBe(true);
    expect(isAfterPosition(mid, 10n, 3, 0)).toBe(true);
    expect(isAfterPosition(mid, 11n, 0, 0)).toBe(true);
    expect(isAfterPosition(mid, 9n, 9, 9)).toBe(false);
  });

  it('builds the same text incrementally as encodeTailCursor does at once', () => {
    const builder = new TailCursorBuilder(cursor);
    expect(builder.toString()).toBe(encodeTailCursor(cursor));
    let expected: TailCursor = new Map(cursor);
    const steps: [number, bigint, number | undefined, number | undefined][] = [
      [0, 0n, 0, 0],
      [0, 0n, 1, 7],
      [0, 1n, undefined, undefined],
      [5, 40n, 0, 1], // a partition the cursor did not have
      [7, 100n, undefined, undefined],
    ];
    for (const [p, offset, frame, index] of steps) {
      const pos = frame === undefined ? { offset } : { offset, after: { frame, index: index! } };
      builder.set(p, pos);
      expected = new Map(expected).set(p, pos);
      expect(builder.toString()).toBe(encodeTailCursor(expected));
      expect(builder.get(p)).toEqual(pos);
    }
    expect(builder.snapshot()).toEqual(expected);
  });
});
