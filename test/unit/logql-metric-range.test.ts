import { StepGrid, SegmentLayout } from '../../core/src/logql/metric/grid';
import { RangeAggregator, absentLabels } from '../../core/src/logql/metric/range-agg';
import { SiltError } from '../../core/src/errors';
import { S, T0, codeOf, plain, rangeAgg, runRange, type Sample } from './logql-metric-fixtures';

const A = { app: 'a' };
/** The oracle's ticker: one entry on every whole minute from T0 to T0+2h, its `value` the minute mod 7. */
const ticker: Sample[] = Array.from({ length: 121 }, (_, i) => [{ app: 'ticker' }, T0 + BigInt(i * 60) * S, i % 7]);
/** Four samples of one series 10 s apart, in the minute after T0. */
const four: Sample[] = [
  [A, T0 + 10n * S, 4],
  [A, T0 + 20n * S, 1],
  [A, T0 + 30n * S, 7],
  [A, T0 + 40n * S, 2],
];
const at60 = StepGrid.instant(T0 + 60n * S);

/** The one value of an instant evaluation (or undefined when there is no point). */
function instantValue(expr: Parameters<typeof runRange>[0], samples: Sample[], grid = at60): number | undefined {
  const m = runRange(expr, grid, samples);
  expect(m.length).toBeLessThanOrEqual(1);
  return m[0]?.present[0] === 1 ? m[0].values[0] : undefined;
}

describe('logql > metric > grid', () => {
  test('evaluates at start, start+step, … up to end, not aligned to the step', () => {
    const g = StepGrid.range(T0 + 17n * S, T0 + 1250n * S, 300n * S);
    expect(g.times.map((t) => Number((t - T0) / S))).toEqual([17, 317, 617, 917, 1217]);
    expect(g.instant).toBe(false);
    expect(StepGrid.instant(T0).times).toEqual([T0]);
    expect(StepGrid.instant(T0).instant).toBe(true);
  });

  test('refuses a non-positive step, an end before the start, and a range over 11,000 steps (Loki: (end − start) / step > 11000)', () => {
    expect(codeOf(() => StepGrid.range(T0, T0 + S, 0n))).toBe('SILT_BAD_RANGE');
    expect(codeOf(() => StepGrid.range(T0, T0 - S, S))).toBe('SILT_BAD_RANGE');
    expect(codeOf(() => StepGrid.range(T0, T0 + 11_001n * S, S))).toBe('SILT_BAD_RANGE');
    expect(StepGrid.range(T0, T0 + 11_000n * S, S).length).toBe(11_001);
  });

  test('cuts the timeline so that every window is a run of segments', () => {
    // range 5m, step 2m: cuts every 2m and 1m after each, windows of 5 segments.
    const g = StepGrid.range(T0, T0 + 4n * 60n * S, 120n * S);
    const l = new SegmentLayout(g, 300n * S, 0n);
    expect([l.windowStart(0), l.windowEnd(0), l.windowStart(2), l.windowEnd(2)]).toEqual([0, 5, 4, 9]);
    expect(l.count).toBe(9);
    const a0 = T0 - 300n * S;
    expect(l.segmentOf(a0)).toBe(-1);
    expect(l.segmentOf(a0 + 1n)).toBe(0);
    expect(l.segmentOf(a0 + 60n * S)).toBe(0);
    expect(l.segmentOf(a0 + 60n * S + 1n)).toBe(1);
    expect(l.segmentOf(a0 + 120n * S)).toBe(1);
    expect(l.segmentOf(T0 + 240n * S)).toBe(8);
    expect(l.segmentOf(T0 + 240n * S + 1n)).toBe(-1);
  });

  test('drops samples between windows when the range is shorter than the step', () => {
    const g = StepGrid.range(T0, T0 + 120n * S, 60n * S);
    const l = new SegmentLayout(g, 30n * S, 0n);
    expect(l.segmentOf(T0 - 30n * S + 1n)).toBe(0);
    expect(l.segmentOf(T0)).toBe(0);
    expect(l.segmentOf(T0 + 1n)).toBe(-1);
    expect(l.segmentOf(T0 + 30n * S)).toBe(-1);
    expect(l.segmentOf(T0 + 30n * S + 1n)).toBe(2);
  });

  test('finds segments with bigint arithmetic when the span is too long for doubles', () => {
    const range = 2n ** 53n;
    const l = new SegmentLayout(StepGrid.instant(T0), range, 0n);
    expect(l.segmentOf(T0 - range)).toBe(-1);
    expect(l.segmentOf(T0 - range + 1n)).toBe(0);
    expect(l.segmentOf(T0)).toBe(0);
    expect(l.segmentOf(T0 + 1n)).toBe(-1);
  });
});

describe('logql > metric > range aggregation > windows', () => {
  test('a sample exactly at t - range is out, one at t is in', () => {
    const samples: Sample[] = [
      [A, T0, 1],
      [A, T0 + 30n * S, 1],
      [A, T0 + 60n * S, 1],
      [A, T0 + 60n * S + 1n, 1],
    ];
    expect(instantValue(rangeAgg('count_over_time', 60n * S), samples)).toBe(2);
  });

  test('count_over_time of the ticker over 1m is 1 at every minute (lrm-01)', () => {
    const g = StepGrid.range(T0, T0 + 600n * S, 60n * S);
    expect(plain(runRange(rangeAgg('count_over_time', 60n * S), g, ticker), g)).toEqual([
      { labels: { app: 'ticker' }, points: Array.from({ length: 11 }, (_, i) => [i * 60, 1]) },
    ]);
  });

  test('windows follow the unaligned start (lrm-08)', () => {
    const g = StepGrid.range(T0 + 17n * S, T0 + 1217n * S, 300n * S);
    expect(plain(runRange(rangeAgg('count_over_time', 300n * S), g, ticker), g)[0]!.points).toEqual([
      [17, 1],
      [317, 5],
      [617, 5],
      [917, 5],
      [1217, 5],
    ]);
  });

  test('offset moves the window back and keeps the evaluation time (lrm-06, bin-10)', () => {
    const expr = rangeAgg('count_over_time', 600n * S, { offsetNs: 1800n * S });
    expect(instantValue(expr, ticker, StepGrid.instant(T0 + 3600n * S))).toBe(10);
    const g = StepGrid.range(T0, T0 + 1800n * S, 600n * S);
    const m = runRange(rangeAgg('count_over_time', 600n * S, { offsetNs: 600n * S }), g, ticker);
    expect(plain(m, g)[0]!.points).toEqual([
      [600, 1],
      [1200, 10],
      [1800, 10],
    ]);
  });

  test('first_over_time of the ticker value over 10m (unw-06)', () => {
    const g = StepGrid.range(T0, T0 + 7200n * S, 600n * S);
    expect(plain(runRange(rangeAgg('first_over_time', 600n * S, { unwrap: true }), g, ticker), g)[0]!.points.map((p) => p[1])).toEqual([
      0, 1, 4, 0, 3, 6, 2, 5, 1, 4, 0, 3, 6,
    ]);
  });

  test('absent_over_time gives 1 labelled from the equality matchers where the window is empty (lrm-03)', () => {
    const g = StepGrid.range(T0 + 30n * S, T0 + 150n * S, 60n * S);
    const expr = rangeAgg('absent_over_time', 30n * S, { matchers: [{ name: 'app', op: '=', value: 'ticker' }] });
    expect(plain(runRange(expr, g, ticker), g)).toEqual([
      {
        labels: { app: 'ticker' },
        points: [
          [30, 1],
          [90, 1],
          [150, 1],
        ],
      },
    ]);
    const covering = rangeAgg('absent_over_time', 60n * S);
    expect(runRange(covering, g, ticker)).toEqual([]);
    const sparse = StepGrid.range(T0, T0 + 120n * S, 60n * S);
    expect(plain(runRange(covering, sparse, [[A, T0 + 90n * S, 1]]), sparse)[0]!.points).toEqual([
      [0, 1],
      [60, 1],
    ]);
  });

  test('absent labels drop names matched twice or by other operators', () => {
    const expr = rangeAgg('absent_over_time', S, {
      matchers: [
        { name: 'app', op: '=', value: 'a' },
        { name: 'env', op: '=', value: 'prod' },
        { name: 'region', op: '=~', value: 'eu' },
        { name: 'app', op: '=', value: 'b' },
      ],
    });
    expect(absentLabels(expr)).toEqual({ env: 'prod' });
  });

  test('a window without samples gives no point', () => {
    const g = StepGrid.range(T0, T0 + 180n * S, 60n * S);
    const m = runRange(rangeAgg('sum_over_time', 60n * S, { unwrap: true }), g, [[A, T0 + 100n * S, 3]]);
    expect(plain(m, g)[0]!.points).toEqual([[120, 3]]);
  });
});

describe('logql > metric > range aggregation > operations', () => {
  const range = 60n * S;
  test.each([
    ['count_over_time', false, 4],
    ['rate', false, 4 / 60],
    ['rate', true, 14 / 60],
    ['bytes_over_time', false, 14],
    ['bytes_rate', false, 14 / 60],
    ['sum_over_time', true, 14],
    ['avg_over_time', true, 3.5],
    ['min_over_time', true, 1],
    ['max_over_time', true, 7],
    ['stdvar_over_time', true, 5.25],
    ['stddev_over_time', true, Math.sqrt(5.25)],
    ['first_over_time', true, 4],
    ['last_over_time', true, 2],
  ] as const)('%s (unwrap %s) of 4, 1, 7, 2', (op, unwrap, expected) => {
    expect(instantValue(rangeAgg(op, range, { unwrap }), four)).toBe(expected);
  });

  test('quantile_over_time interpolates as Prometheus, with -Inf/+Inf outside [0, 1]', () => {
    const q = (p: number): number | undefined => instantValue(rangeAgg('quantile_over_time', range, { unwrap: true, param: p }), four);
    expect(q(0.5)).toBe(3);
    const w = 0.9 * 3 - 2;
    expect(q(0.9)).toBe(4 * (1 - w) + 7 * w);
    expect(q(0)).toBe(1);
    expect(q(1)).toBe(7);
    expect(q(1.5)).toBe(Infinity);
    expect(q(-0.5)).toBe(-Infinity);
  });

  test('quantile_over_time sorts NaN below every number', () => {
    const samples: Sample[] = [
      [A, T0 + 10n * S, 3],
      [A, T0 + 20n * S, NaN],
      [A, T0 + 30n * S, 1],
    ];
    const q = (p: number): number | undefined => instantValue(rangeAgg('quantile_over_time', range, { unwrap: true, param: p }), samples);
    expect(q(0)).toBeNaN();
    expect(q(0.5)).toBe(1);
    expect(q(1)).toBe(3);
  });

  test('rate_counter is the extrapolated counter rate with resets', () => {
    // Increase 2 − 4, plus resets 4 (4 → 1) and 7 (7 → 2) = 9; extrapolated from 30 s of samples to 30 + 10 + 5 s.
    expect(instantValue(rangeAgg('rate_counter', range, { unwrap: true }), four)).toBe((9 * (45 / 30)) / 60);
    expect(instantValue(rangeAgg('rate_counter', range, { unwrap: true }), four.slice(0, 1))).toBe(0);
    // A steady counter that starts near zero extrapolates no further back than its zero point.
    // Zero is reached 1 s before the first sample (5 s after the window start); the end extrapolates half a spacing.
    const steady: Sample[] = [
      [A, T0 + 5n * S, 1],
      [A, T0 + 15n * S, 11],
      [A, T0 + 25n * S, 21],
    ];
    expect(instantValue(rangeAgg('rate_counter', range, { unwrap: true }), steady)).toBe((20 * ((20 + 1 + 5) / 20)) / 60);
  });

  test('rate_counter reads samples in time order whatever the arrival order', () => {
    const expr = rangeAgg('rate_counter', range, { unwrap: true });
    expect(instantValue(expr, [...four].reverse())).toBe(instantValue(expr, four));
  });

  test('min and max skip NaN unless every value is NaN', () => {
    const withNaN: Sample[] = [
      [A, T0 + 10n * S, NaN],
      [A, T0 + 20n * S, 2],
      [A, T0 + 30n * S, NaN],
    ];
    expect(instantValue(rangeAgg('max_over_time', range, { unwrap: true }), withNaN)).toBe(2);
    expect(instantValue(rangeAgg('min_over_time', range, { unwrap: true }), withNaN)).toBe(2);
    expect(instantValue(rangeAgg('max_over_time', range, { unwrap: true }), [withNaN[0]!])).toBeNaN();
  });

  test('avg_over_time keeps an infinite mean, gives NaN for opposite infinities, and does not overflow', () => {
    const avg = (values: number[]): number | undefined =>
      instantValue(
        rangeAgg('avg_over_time', range, { unwrap: true }),
        values.map((v, i) => [A, T0 + BigInt(i + 1) * S, v]),
      );
    expect(avg([Infinity, 1, 2])).toBe(Infinity);
    expect(avg([1, -Infinity])).toBe(-Infinity);
    expect(avg([Infinity, -Infinity])).toBeNaN();
    expect(avg([1e308, 1e308, 1e308])).toBe(1e308);
  });

  test('stdvar_over_time is exactly 0 for equal values and NaN with an infinity', () => {
    const stdvar = (values: number[]): number | undefined =>
      instantValue(
        rangeAgg('stdvar_over_time', range, { unwrap: true }),
        values.map((v, i) => [A, T0 + BigInt(i + 1) * S, v]),
      );
    expect(Object.is(stdvar([0.1, 0.1, 0.1]), 0)).toBe(true);
    expect(Object.is(stdvar([-3]), 0)).toBe(true);
    expect(stdvar([1, Infinity])).toBeNaN();
  });

  test('first/last break timestamp ties by tie (lower first), then by arrival', () => {
    const first = new RangeAggregator(rangeAgg('first_over_time', range, { unwrap: true }), at60);
    const last = new RangeAggregator(rangeAgg('last_over_time', range, { unwrap: true }), at60);
    for (const agg of [first, last]) {
      agg.add(A, T0 + 30n * S, 1, 5);
      agg.add(A, T0 + 30n * S, 2, 3);
      agg.add(A, T0 + 30n * S, 3, 3);
    }
    expect(first.finish()[0]!.values[0]).toBe(2);
    expect(last.finish()[0]!.values[0]).toBe(1);
    const lastArrival = new RangeAggregator(rangeAgg('last_over_time', range, { unwrap: true }), at60);
    lastArrival.add(A, T0 + 30n * S, 1);
    lastArrival.add(A, T0 + 30n * S, 2);
    expect(lastArrival.finish()[0]!.values[0]).toBe(2);
  });

  test('keeps series apart by labels, whatever object carries them', () => {
    const agg = new RangeAggregator(rangeAgg('count_over_time', range), at60);
    agg.add({ app: 'a', env: 'x' }, T0 + S, 1);
    agg.add({ env: 'x', app: 'a' }, T0 + 2n * S, 1);
    agg.add({ app: 'a', env: 'y' }, T0 + 3n * S, 1);
    expect(plain(agg.finish(), at60)).toEqual([
      { labels: { app: 'a', env: 'x' }, points: [[60, 2]] },
      { labels: { app: 'a', env: 'y' }, points: [[60, 1]] },
    ]);
  });
});

describe('logql > metric > range aggregation > pipeline errors', () => {
  const errLabels = { app: 'a', __error__: 'JSONParserErr' };

  test('a series still carrying __error__ fails the query with Loki’s message', () => {
    const agg = new RangeAggregator(rangeAgg('count_over_time', 60n * S), at60);
    agg.add(errLabels, T0 + S, 1);
    let err: SiltError | undefined;
    try {
      agg.finish();
    } catch (e) {
      err = e as SiltError;
    }
    expect(err?.code).toBe('SILT_PIPELINE_ERROR');
    expect(err?.status).toBe(400);
    expect(err?.message.split('\n')[0]).toBe(`pipeline error: 'JSONParserErr' for series: '{__error__="JSONParserErr", app="a"}'.`);
  });

  test('__preserve_error__="true" lets it through, and a sample outside every window does not fail', () => {
    expect(runRange(rangeAgg('count_over_time', 60n * S), at60, [[{ ...errLabels, __preserve_error__: 'true' }, T0 + S, 1]])[0]!.values[0]).toBe(1);
    const gapped = StepGrid.range(T0, T0 + 120n * S, 60n * S);
    expect(runRange(rangeAgg('count_over_time', 10n * S), gapped, [[errLabels, T0 + 30n * S, 1]])).toEqual([]);
  });
});
