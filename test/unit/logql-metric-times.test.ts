/** The frame path of range aggregations: timestamps read without entries, numeric segments, runs of samples folded at once. */
import { type BlockEntry, PayloadTimes, decodeFrameBytes, decodeFrameTimes, encodeFrame } from '../../core/src/block-format';
import type { Labels } from '../../core/src/labels';
import { parseExpr } from '../../core/src/logql/parser';
import { SegmentLayout, StepGrid } from '../../core/src/logql/metric/grid';
import { RangeAggregator } from '../../core/src/logql/metric/range-agg';
import { streamSamples } from '../../core/src/logql/sample';
import type { RangeAggregationExpr } from '../../core/src/logql/ast';
import { rng } from '../support/rng';
import { S, T0, codeOf, rangeAgg } from './logql-metric-fixtures';

/** Entries of random lines (ASCII and not) at T0 plus random offsets, in order or not. */
function randomEntries(rand: () => number, n: number, sorted: boolean): BlockEntry[] {
  const out: BlockEntry[] = [];
  let ts = T0 + BigInt(Math.floor(rand() * 1e12));
  for (let i = 0; i < n; i++) {
    ts += BigInt(Math.floor(rand() * 5e9)) - (sorted ? 0n : 2_000_000_000n);
    const line = 'x'.repeat(Math.floor(rand() * 300)) + (rand() < 0.2 ? 'é€😀' : '');
    out.push({ ts, line });
  }
  return out;
}

function times(entries: BlockEntry[]): { ok: boolean; t: PayloadTimes } {
  const f = encodeFrame(entries, 1);
  const t = new PayloadTimes();
  return { ok: decodeFrameTimes(f.bytes, f.rawLength, f.frameCrc, f.entryCount, t), t };
}

describe('core > block format > frame times', () => {
  test('reads every timestamp (as base + exact offset) and line byte length, in frame order, sorted or not', () => {
    const rand = rng(7);
    for (const sorted of [true, false]) {
      for (const n of [1, 2, 17, 3000]) {
        const entries = randomEntries(rand, n, sorted);
        const { ok, t } = times(entries);
        expect(ok).toBe(true);
        expect(t.count).toBe(n);
        expect(t.base).toBe(entries[0]!.ts);
        for (let i = 0; i < n; i++) {
          expect(t.base + BigInt(t.rel[i]!)).toBe(entries[i]!.ts);
          expect(t.bytes[i]).toBe(Buffer.byteLength(entries[i]!.line));
        }
      }
    }
  });

  test('declines a frame holding attributes, a delta beyond 49 bits, or more entries than its header says, which the full decoder reads', () => {
    expect(times([{ ts: T0, line: 'a' }, { ts: T0 + 1n, line: 'b', attrs: { k: 'v' } }]).ok).toBe(false);
    expect(times([{ ts: T0, line: 'a' }, { ts: T0 + (1n << 50n), line: 'b' }]).ok).toBe(false);
    const f = encodeFrame([{ ts: T0, line: 'a' }, { ts: T0 + 1n, line: 'b' }], 1);
    expect(decodeFrameTimes(f.bytes, f.rawLength, f.frameCrc, 1, new PayloadTimes())).toBe(false);
    expect(decodeFrameBytes(f.bytes, f.rawLength, f.frameCrc)).toHaveLength(2);
  });

  test('refuses a frame whose checksum or compressed bytes are wrong, with the codes the full decoder gives', () => {
    const f = encodeFrame([{ ts: T0, line: 'hello' }], 1);
    const t = new PayloadTimes();
    expect(codeOf(() => decodeFrameTimes(f.bytes, f.rawLength, f.frameCrc ^ 1, 1, t))).toBe('SILT_BLOCK_CHECKSUM');
    expect(codeOf(() => decodeFrameTimes(f.bytes, f.rawLength + 1, f.frameCrc, 1, t))).toBe('SILT_BLOCK_CORRUPT');
  });
});

describe('logql > metric > grid > numeric segments', () => {
  test('segmentAt(originOffset(ts)) is segmentOf(ts), for ranges shorter, longer and a multiple of the step, in any order', () => {
    const rand = rng(11);
    const grids: [StepGrid, bigint, bigint][] = [
      [StepGrid.range(T0, T0 + 3600n * S, 225n * S), 60n * S, 0n],
      [StepGrid.range(T0, T0 + 3600n * S, 60n * S), 300n * S, 0n],
      [StepGrid.range(T0, T0 + 3600n * S, 60n * S), 120n * S, 30n * S],
      [StepGrid.range(T0, T0 + 3600n * S, 100n * S), 250n * S, 0n],
      [StepGrid.instant(T0 + 600n * S), 300n * S, 0n],
    ];
    for (const [grid, range, offset] of grids) {
      const exact = new SegmentLayout(grid, range, offset);
      const numeric = new SegmentLayout(grid, range, offset);
      const lo = grid.startNs - range - offset - 10n * S;
      const width = Number(grid.times[grid.length - 1]! - lo) + 20e9;
      let ts = lo;
      for (let i = 0; i < 5000; i++) {
        // Mostly forward in small steps, sometimes a jump anywhere, and exact segment edges.
        ts = rand() < 0.9 ? ts + BigInt(Math.floor(rand() * 3e9)) : lo + BigInt(Math.floor(rand() * width));
        if (rand() < 0.05) ts = grid.times[Math.floor(rand() * grid.length)]! - offset + BigInt(Math.floor(rand() * 3) - 1);
        const x = numeric.originOffset(ts);
        expect(x).not.toBeNull();
        expect(numeric.segmentAt(x!)).toBe(exact.segmentOf(ts));
      }
    }
  });
});

describe('logql > metric > range aggregation > runs of samples', () => {
  const grid = StepGrid.range(T0, T0 + 3600n * S, 225n * S);
  const A: Labels = { app: 'a' };

  test('addTimes gives the partials of add, sample by sample, for counts, rates and bytes', () => {
    const rand = rng(13);
    const entries = randomEntries(rand, 4000, false).map((e) => ({ ...e, ts: grid.startNs - 120n * S + BigInt(Math.floor(rand() * 3800e9)) }));
    const f = encodeFrame(entries, 1);
    const t = new PayloadTimes();
    expect(decodeFrameTimes(f.bytes, f.rawLength, f.frameCrc, f.entryCount, t)).toBe(true);
    for (const op of ['count_over_time', 'rate', 'bytes_over_time', 'bytes_rate', 'absent_over_time'] as const) {
      const expr = rangeAgg(op, 60n * S);
      const one = new RangeAggregator(expr, grid);
      const runs = new RangeAggregator(expr, grid);
      expect(runs.takesTimes).toBe(true);
      const bytes = op.startsWith('bytes');
      entries.forEach((e) => one.add(A, e.ts, bytes ? Buffer.byteLength(e.line) : 1));
      // In two pieces, as a merged frame's kept ranges come.
      expect(runs.addTimes(A, t.base, t.rel, bytes ? t.bytes : null, 0, 1500)).toBe(true);
      expect(runs.addTimes(A, t.base, t.rel, bytes ? t.bytes : null, 1500, t.count)).toBe(true);
      expect(runs.toWire()).toEqual(one.toWire());
      expect(runs.finish()).toEqual(one.finish());
    }
  });

  test('addFrame counts a frame from its header when its time span lies in one segment, and declines one that crosses a cut', () => {
    const expr = rangeAgg('bytes_over_time', 60n * S);
    const one = new RangeAggregator(expr, grid);
    const framed = new RangeAggregator(expr, grid);
    // Segments are (t − 60 s, t] for each step t (the rest of each step lies between windows): [start − 50 s, start − 5 s] is inside the first.
    const inside = [-50n, -40n, -5n].map((s) => grid.startNs + s * S);
    inside.forEach((ts) => one.add(A, ts, 100));
    expect(framed.addFrame(A, inside[0]!, inside[2]!, 3, 300)).toBe(true);
    expect(framed.toWire()).toEqual(one.toWire());
    expect(framed.addFrame(A, grid.startNs - 10n * S, grid.startNs + 10n * S, 2, 200)).toBe(false);
    expect(framed.toWire()).toEqual(one.toWire());
  });

  test('only kinds that keep neither timestamps nor order take runs', () => {
    for (const op of ['max_over_time', 'first_over_time', 'quantile_over_time', 'rate_counter', 'avg_over_time'] as const) {
      expect(new RangeAggregator(rangeAgg(op, 60n * S, { unwrap: true, param: 0.5 }), grid).takesTimes).toBe(false);
    }
  });
});

describe('logql > sample > stream samples', () => {
  const range = (q: string): RangeAggregationExpr => parseExpr(q) as RangeAggregationExpr;

  test('a bare selector gives the extractor\'s series labels per stream, with the grouping pushed in', () => {
    const bare = streamSamples(range('count_over_time({app=~".+"}[1m])'), { without: false, labels: ['app'] })!;
    expect(bare.labelsOf({ app: 'a', host: 'h' })).toEqual({ app: 'a' });
    expect(bare.bytes).toBe(false);
    const all = streamSamples(range('bytes_over_time({app="a"}[1m])'))!;
    expect(all.labelsOf({ app: 'a', host: 'h' })).toEqual({ app: 'a', host: 'h' });
    expect(all.bytes).toBe(true);
    expect(streamSamples(range('count_over_time({app="a"}[1m])'), { without: true, labels: ['app'] })!.labelsOf({ app: 'a', host: 'h' })).toEqual({ host: 'h' });
    expect(streamSamples(range('absent_over_time({app="a"}[1m])'))!.labelsOf({ app: 'a' })).toEqual({});
  });

  test('any pipeline stage or unwrap needs the entries', () => {
    expect(streamSamples(range('count_over_time({app="a"} |= "x" [1m])'))).toBeNull();
    expect(streamSamples(range('count_over_time({app="a"} | json [1m])'))).toBeNull();
    expect(streamSamples(range('sum_over_time({app="a"} | unwrap v [1m])'))).toBeNull();
  });
});
