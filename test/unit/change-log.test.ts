import { ChangeLog } from '../../storage-node/src/store/change-log';

describe('storage > change log > earliest timestamp changed since an offset', () => {
  it('in-order writes: the first write at or after the offset has the earliest timestamp', () => {
    const c = new ChangeLog();
    c.record(0, 0n, 9n, 100n);
    c.record(0, 10n, 19n, 200n);
    c.record(0, 20n, 29n, 300n);
    expect(c.since(0, 0n, 30n)).toEqual({ earliest: 100n });
    expect(c.since(0, 10n, 30n)).toEqual({ earliest: 200n });
    expect(c.since(0, 15n, 30n)).toEqual({ earliest: 200n });
    expect(c.since(0, 20n, 30n)).toEqual({ earliest: 300n });
    expect(c.since(0, 30n, 30n)).toBe('none');
  });

  it('a late write reaches back for every snapshot before it', () => {
    const c = new ChangeLog();
    c.record(0, 0n, 9n, 100n);
    c.record(0, 10n, 19n, 200n);
    c.record(0, 20n, 29n, 50n);
    c.record(0, 30n, 39n, 400n);
    expect(c.since(0, 0n, 40n)).toEqual({ earliest: 50n });
    expect(c.since(0, 25n, 40n)).toEqual({ earliest: 50n });
    expect(c.since(0, 30n, 40n)).toEqual({ earliest: 400n });
  });

  it('before tracking began is unknown: a partition first seen at its applied offset, an adopted copy, a dropped partition', () => {
    const c = new ChangeLog();
    expect(c.since(3, 5n, 100n)).toBe('unknown');
    expect(c.since(3, 100n, 100n)).toBe('none');
    c.record(1, 50n, 59n, 10n);
    expect(c.since(1, 49n, 60n)).toBe('unknown');
    expect(c.since(1, 50n, 60n)).toEqual({ earliest: 10n });
    c.reset(1, 200n);
    expect(c.since(1, 60n, 200n)).toBe('unknown');
    expect(c.since(1, 200n, 200n)).toBe('none');
  });

  it('past its bound it merges the oldest entries conservatively: never a later timestamp than the truth', () => {
    const c = new ChangeLog();
    const truth: [bigint, bigint][] = [];
    for (let i = 0; i < 10_000; i++) {
      const ts = BigInt(i * 10 + (i % 7 === 0 ? -500 : 0));
      c.record(0, BigInt(i * 10), BigInt(i * 10 + 9), ts);
      truth.push([BigInt(i * 10 + 9), ts]);
    }
    for (const from of [0n, 5n, 1000n, 50_000n, 99_990n]) {
      let min: bigint | null = null;
      for (const [o, t] of truth) if (o >= from && (min === null || t < min)) min = t;
      const got = c.since(0, from, 100_000n);
      expect(got).not.toBe('none');
      expect((got as { earliest: bigint }).earliest <= min!).toBe(true);
    }
    expect(c.since(0, 99_990n, 100_000n)).toEqual({ earliest: 99_990n });
  });
});
