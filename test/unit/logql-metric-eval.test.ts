import type { Labels } from '../../core/src/labels';
import type { LabelReplaceExpr, MetricExpr, RangeAggregationExpr } from '../../core/src/logql/ast';
import { evaluateMetric, rangeAggregationNodes, type Result } from '../../core/src/logql/metric/evaluate';
import { StepGrid } from '../../core/src/logql/metric/grid';
import { RangeAggregator } from '../../core/src/logql/metric/range-agg';
import { parseExpr } from '../../core/src/logql/parser';
import type { Matrix } from '../../core/src/logql/metric/series';
import { S, T0, bin, codeOf, lit, rangeAgg, series, vecAgg } from './logql-metric-fixtures';

const instant = StepGrid.instant(T0 + 3600n * S);
const twoSteps = StepGrid.range(T0, T0 + 600n * S, 600n * S);

/** A range node standing for a hand-made matrix. */
function node(): RangeAggregationExpr {
  return rangeAgg('count_over_time', 600n * S);
}

/** Evaluates with hand-made results for the range nodes. */
function run(expr: MetricExpr, grid: StepGrid, inputs: Map<RangeAggregationExpr, Matrix>): Result {
  return evaluateMetric(expr, grid, (n) => inputs.get(n)!);
}

/** An instant vector result as [labels, value] pairs in result order. */
function vec(r: Result): [Labels, number][] {
  if (r.type !== 'vector') throw new Error(`expected a vector, got ${r.type}`);
  return r.samples.map((s) => [s.labels, s.value]);
}

/** A matrix result as [labels, [seconds after T0, value][]] pairs in result order. */
function mat(r: Result): [Labels, [number, number][]][] {
  if (r.type !== 'matrix') throw new Error(`expected a matrix, got ${r.type}`);
  return r.series.map((s) => [s.labels, s.points.map(([t, v]) => [Number((t - T0) / S), v] as [number, number])]);
}

/** One instant input series per [labels, value]. */
function inputs(...values: [Labels, number][]): Matrix {
  return values.map(([l, v]) => series(l, 1, [[0, v]]));
}

describe('logql > metric > vector aggregation', () => {
  const r = node();
  const env = (e: string, app: string, v: number): [Labels, number] => [{ app, env: e }, v];
  const data = new Map([[r, inputs(env('prod', 'a', 1), env('staging', 'a', 2), env('prod', 'b', 4), env('prod', 'c', 8))]]);

  test('sum by (app) keeps only the grouping labels (agg-01)', () => {
    expect(vec(run(vecAgg('sum', r, ['app']), instant, data))).toEqual([
      [{ app: 'a' }, 3],
      [{ app: 'b' }, 4],
      [{ app: 'c' }, 8],
    ]);
  });

  test('avg, min, max, count, stddev, stdvar by (env) (agg-02 … agg-05)', () => {
    const by = (op: 'avg' | 'min' | 'max' | 'count' | 'stddev' | 'stdvar'): [Labels, number][] => vec(run(vecAgg(op, r, ['env']), instant, data));
    expect(by('avg')).toEqual([
      [{ env: 'prod' }, 13 / 3],
      [{ env: 'staging' }, 2],
    ]);
    expect(by('min')).toEqual([
      [{ env: 'prod' }, 1],
      [{ env: 'staging' }, 2],
    ]);
    expect(by('max')).toEqual([
      [{ env: 'prod' }, 8],
      [{ env: 'staging' }, 2],
    ]);
    expect(by('count')).toEqual([
      [{ env: 'prod' }, 3],
      [{ env: 'staging' }, 1],
    ]);
    // prod: 1, 4, 8 → mean 13/3, squared deviations sum 74/3 … by Welford.
    let mean = 1;
    let aux = 0;
    [4, 8].forEach((v, i) => {
      const d = v - mean;
      mean += d / (i + 2);
      aux += d * (v - mean);
    });
    expect(by('stdvar')).toEqual([
      [{ env: 'prod' }, aux / 3],
      [{ env: 'staging' }, 0],
    ]);
    expect(by('stddev')[0]).toEqual([{ env: 'prod' }, Math.sqrt(aux / 3)]);
  });

  test('without drops the named labels; series lacking a by label group under the rest (agg-10)', () => {
    const d = new Map([
      [
        r,
        inputs([{ app: 'api', env: 'prod', region: 'eu' }, 500], [{ app: 'api', env: 'staging', region: 'us' }, 336], [{ app: 'worker', env: 'prod' }, 334], [{ app: 'worker', env: 'dev' }, 333]),
      ],
    ]);
    expect(vec(run(vecAgg('avg', r, ['app', 'env'], { without: true }), instant, d))).toEqual([
      [{}, 333.5],
      [{ region: 'eu' }, 500],
      [{ region: 'us' }, 336],
    ]);
    expect(vec(run(vecAgg('sum', r, ['region']), instant, d))).toEqual([
      [{}, 667],
      [{ region: 'eu' }, 500],
      [{ region: 'us' }, 336],
    ]);
    expect(vec(run(vecAgg('sum', vecAgg('sum', r, ['app']), null), instant, d))).toEqual([[{}, 1503]]);
  });

  test('topk/bottomk keep the series’ own labels; an instant result is still sorted by labels (agg-06)', () => {
    expect(vec(run(vecAgg('bottomk', r, null, { param: 2 }), instant, data))).toEqual([env('prod', 'a', 1), env('staging', 'a', 2)]);
    expect(vec(run(vecAgg('topk', r, null, { param: 2 }), instant, data))).toEqual([env('prod', 'b', 4), env('prod', 'c', 8)]);
    expect(vec(run(vecAgg('topk', r, ['env'], { param: 1 }), instant, data))).toEqual([env('staging', 'a', 2), env('prod', 'c', 8)]);
    expect(vec(run(vecAgg('topk', r, null, { param: 0 }), instant, data))).toEqual([]);
    expect(vec(run(vecAgg('topk', r, null, { param: 10 }), instant, data))).toHaveLength(4);
  });

  test('topk ranks NaN last and picks per evaluation time', () => {
    const d = new Map([
      [
        r,
        [
          series({ s: 'x' }, 2, [
            [0, NaN],
            [1, 5],
          ]),
          series({ s: 'y' }, 2, [
            [0, 1],
            [1, 2],
          ]),
        ],
      ],
    ]);
    expect(mat(run(vecAgg('topk', r, null, { param: 1 }), twoSteps, d))).toEqual([
      [{ s: 'x' }, [[600, 5]]],
      [{ s: 'y' }, [[0, 1]]],
    ]);
    expect(mat(run(vecAgg('bottomk', r, null, { param: 1 }), twoSteps, d))).toEqual([
      [
        { s: 'y' },
        [
          [0, 1],
          [600, 2],
        ],
      ],
    ]);
  });

  test('sort and sort_desc order an instant vector by value, NaN last (agg-07)', () => {
    const d = new Map([[r, inputs([{ app: 'a' }, 3], [{ app: 'b' }, NaN], [{ app: 'c' }, 1], [{ app: 'd' }, 2])]]);
    expect(vec(run(vecAgg('sort', r), instant, d)).map(([l]) => l.app)).toEqual(['c', 'd', 'a', 'b']);
    expect(vec(run(vecAgg('sort_desc', r), instant, d)).map(([l]) => l.app)).toEqual(['a', 'd', 'c', 'b']);
    // The order survives operators on the way out (Loki does not re-sort a query containing sort).
    expect(vec(run(bin('*', vecAgg('sort_desc', r), lit(2)), instant, d)).map(([l, v]) => `${l.app}=${v}`)).toEqual(['a=6', 'd=4', 'c=2', 'b=NaN']);
  });

  test('sum and avg fold as Loki: infinities and NaN', () => {
    const d = new Map([[r, inputs([{ a: '1' }, Infinity], [{ a: '2' }, 5], [{ a: '3' }, Infinity])]]);
    expect(vec(run(vecAgg('avg', r), instant, d))).toEqual([[{}, Infinity]]);
    expect(vec(run(vecAgg('sum', r), instant, d))).toEqual([[{}, Infinity]]);
    const mixed = new Map([[r, inputs([{ a: '1' }, Infinity], [{ a: '2' }, -Infinity])]]);
    expect(vec(run(vecAgg('avg', r), instant, mixed))[0]![1]).toBeNaN();
    const nan = new Map([[r, inputs([{ a: '1' }, NaN], [{ a: '2' }, 3])]]);
    expect(vec(run(vecAgg('max', r), instant, nan))).toEqual([[{}, 3]]);
    expect(vec(run(vecAgg('min', r), instant, nan))).toEqual([[{}, 3]]);
  });

  test('a literal cannot be aggregated', () => {
    expect(codeOf(() => run(vecAgg('sum', lit(1)), instant, new Map()))).toBe('SILT_BAD_QUERY');
  });
});

describe('logql > metric > binary operators', () => {
  const l = node();
  const rr = node();

  test('scalars: precedence from the tree, right-associative ^, comparisons give 0/1 (bin-07 … bin-09)', () => {
    expect(run(bin('+', lit(1), bin('*', lit(2), lit(3))), instant, new Map())).toEqual({ type: 'scalar', tsNs: instant.startNs, value: 7 });
    expect(run(bin('^', lit(2), bin('^', lit(3), lit(2))), instant, new Map())).toMatchObject({ value: 512 });
    expect(run(bin('>', lit(5), lit(3), { bool: true }), instant, new Map())).toMatchObject({ value: 1 });
    expect(run(bin('>', lit(3), lit(5)), instant, new Map())).toMatchObject({ value: 0 });
    expect(run(bin('^', lit(1), lit(NaN)), instant, new Map())).toMatchObject({ value: 1 });
    expect(run(bin('^', lit(-1), lit(Infinity)), instant, new Map())).toMatchObject({ value: 1 });
    expect(run(bin('%', lit(-7), lit(3)), instant, new Map())).toMatchObject({ value: -1 });
  });

  test('a scalar over a range query is one unlabelled series at every step', () => {
    expect(mat(run(lit(4), twoSteps, new Map()))).toEqual([
      [
        {},
        [
          [0, 4],
          [600, 4],
        ],
      ],
    ]);
  });

  test('division and modulo by zero give NaN, not ±Inf (bin-13 … bin-17)', () => {
    const v = (n: number): MetricExpr => ({ kind: 'vector', value: n });
    for (const expr of [bin('/', v(0), v(0)), bin('/', v(1), v(0)), bin('/', v(1), lit(0)), bin('%', v(1), lit(0)), bin('/', v(1), lit(-0))]) {
      const got = vec(run(expr, instant, new Map()));
      expect(got).toHaveLength(1);
      expect(got[0]![0]).toEqual({});
      expect(got[0]![1]).toBeNaN();
    }
    expect(vec(run(bin('/', lit(1), v(0)), instant, new Map()))[0]![1]).toBeNaN();
    expect(mat(run(bin('+', v(1), v(1)), twoSteps, new Map()))).toEqual([
      [
        {},
        [
          [0, 2],
          [600, 2],
        ],
      ],
    ]);
  });

  test('vector and scalar keep the labels; comparisons filter and keep the vector’s value (bin-02)', () => {
    const d = new Map([[l, inputs([{ app: 'a' }, 10], [{ app: 'b' }, 2])]]);
    expect(vec(run(bin('%', l, lit(3)), instant, d))).toEqual([
      [{ app: 'a' }, 1],
      [{ app: 'b' }, 2],
    ]);
    expect(vec(run(bin('-', lit(1), l), instant, d))).toEqual([
      [{ app: 'a' }, -9],
      [{ app: 'b' }, -1],
    ]);
    expect(vec(run(bin('>', l, lit(5)), instant, d))).toEqual([[{ app: 'a' }, 10]]);
    expect(vec(run(bin('<', lit(5), l), instant, d))).toEqual([[{ app: 'a' }, 10]]);
    expect(vec(run(bin('>', l, lit(5), { bool: true }), instant, d))).toEqual([
      [{ app: 'a' }, 1],
      [{ app: 'b' }, 0],
    ]);
    expect(codeOf(() => run(bin('and', l, lit(1)), instant, d))).toBe('SILT_BAD_QUERY');
  });

  test('one-to-one matching on all labels (bin-01), on (…) and ignoring (…)', () => {
    const d = new Map([
      [l, inputs([{ app: 'a', env: 'p' }, 6], [{ app: 'b', env: 'p' }, 8], [{ app: 'c', env: 'p' }, 1])],
      [rr, inputs([{ app: 'a', env: 'p' }, 3], [{ app: 'b', env: 's' }, 2])],
    ]);
    expect(vec(run(bin('/', l, rr), instant, d))).toEqual([[{ app: 'a', env: 'p' }, 2]]);
    expect(vec(run(bin('/', l, rr, { matching: { on: true, labels: ['app'], group: null } }), instant, d))).toEqual([
      [{ app: 'a' }, 2],
      [{ app: 'b' }, 4],
    ]);
    expect(vec(run(bin('-', l, rr, { matching: { on: false, labels: ['env'], group: null } }), instant, d))).toEqual([
      [{ app: 'a' }, 3],
      [{ app: 'b' }, 6],
    ]);
  });

  test('comparisons between vectors filter and keep the left value, or give 0/1 with bool (bin-12)', () => {
    const d = new Map([
      [l, inputs([{ env: 'prod' }, 250], [{ env: 'staging' }, 100])],
      [rr, inputs([{ env: 'prod' }, 200], [{ env: 'staging' }, 150])],
    ]);
    const on = { on: true, labels: ['env'], group: null };
    expect(vec(run(bin('>', l, rr, { matching: on }), instant, d))).toEqual([[{ env: 'prod' }, 250]]);
    expect(vec(run(bin('>', l, rr, { matching: on, bool: true }), instant, d))).toEqual([
      [{ env: 'prod' }, 1],
      [{ env: 'staging' }, 0],
    ]);
  });

  test('group_left keeps the many side’s labels and adds the included ones (bin-05, bin-15)', () => {
    const d = new Map([
      [l, inputs([{ app: 'hdfs', env: 'prod' }, 2], [{ app: 'hdfs', env: 'staging' }, 1], [{ app: 'apache', env: 'prod' }, 3])],
      [rr, inputs([{ app: 'hdfs', team: 't1' }, 3], [{ app: 'apache', team: 't2' }, 3])],
    ]);
    expect(vec(run(bin('/', l, rr, { matching: { on: false, labels: ['env', 'team'], group: { side: 'left', include: [] } } }), instant, d))).toEqual([
      [{ app: 'apache', env: 'prod' }, 1],
      [{ app: 'hdfs', env: 'prod' }, 2 / 3],
      [{ app: 'hdfs', env: 'staging' }, 1 / 3],
    ]);
    expect(vec(run(bin('*', l, rr, { matching: { on: true, labels: ['app'], group: { side: 'left', include: ['team'] } } }), instant, d))).toEqual([
      [{ app: 'apache', env: 'prod', team: 't2' }, 9],
      [{ app: 'hdfs', env: 'prod', team: 't1' }, 6],
      [{ app: 'hdfs', env: 'staging', team: 't1' }, 3],
    ]);
    // group_right: the right side is the "many" side, values stay left op right.
    expect(vec(run(bin('-', rr, l, { matching: { on: true, labels: ['app'], group: { side: 'right', include: [] } } }), instant, d))).toEqual([
      [{ app: 'apache', env: 'prod' }, 0],
      [{ app: 'hdfs', env: 'prod' }, 1],
      [{ app: 'hdfs', env: 'staging' }, 2],
    ]);
    const total = new Map([
      [l, inputs([{ app: 'api' }, 2490], [{ app: 'worker' }, 2000])],
      [rr, inputs([{}, 4490])],
    ]);
    expect(vec(run(bin('/', l, rr, { matching: { on: true, labels: [], group: { side: 'left', include: [] } } }), instant, total))).toEqual([
      [{ app: 'api' }, 2490 / 4490],
      [{ app: 'worker' }, 2000 / 4490],
    ]);
  });

  test('ambiguous matches are errors, as in Loki', () => {
    const d = new Map([
      [l, inputs([{ app: 'a', env: 'p' }, 1], [{ app: 'a', env: 's' }, 2])],
      [rr, inputs([{ app: 'a', x: '1' }, 1], [{ app: 'a', x: '2' }, 2])],
    ]);
    const on = (group: 'left' | null) => ({ on: true, labels: ['app'], group: group === null ? null : { side: group, include: [] } });
    expect(codeOf(() => run(bin('+', l, rr, { matching: on('left') }), instant, d))).toBe('SILT_VECTOR_MATCHING');
    const one = new Map([
      [l, d.get(l)!],
      [rr, inputs([{ app: 'a' }, 1])],
    ]);
    expect(codeOf(() => run(bin('+', l, rr, { matching: on(null) }), instant, one))).toBe('SILT_VECTOR_MATCHING');
    expect(vec(run(bin('+', l, rr, { matching: on('left') }), instant, one))).toHaveLength(2);
  });

  test('and, or, unless work per evaluation time on the matching labels (bin-03, bin-04)', () => {
    const d = new Map([
      [
        l,
        [
          series({ app: 'a' }, 2, [
            [0, 1],
            [1, 2],
          ]),
          series({ app: 'b' }, 2, [[0, 3]]),
        ],
      ],
      [
        rr,
        [
          series({ app: 'a' }, 2, [[1, 10]]),
          series({ app: 'c' }, 2, [
            [0, 20],
            [1, 30],
          ]),
        ],
      ],
    ]);
    expect(mat(run(bin('and', l, rr), twoSteps, d))).toEqual([[{ app: 'a' }, [[600, 2]]]]);
    expect(mat(run(bin('unless', l, rr), twoSteps, d))).toEqual([
      [{ app: 'a' }, [[0, 1]]],
      [{ app: 'b' }, [[0, 3]]],
    ]);
    expect(mat(run(bin('or', l, rr), twoSteps, d))).toEqual([
      [
        { app: 'a' },
        [
          [0, 1],
          [600, 2],
        ],
      ],
      [{ app: 'b' }, [[0, 3]]],
      [
        { app: 'c' },
        [
          [0, 20],
          [600, 30],
        ],
      ],
    ]);
    const onNothing = { on: true, labels: [], group: null };
    expect(mat(run(bin('or', l, rr, { matching: onNothing }), twoSteps, d)).map(([lb]) => lb.app)).toEqual(['a', 'b']);
    expect(mat(run(bin('and', l, rr, { matching: onNothing }), twoSteps, d))).toEqual([
      [
        { app: 'a' },
        [
          [0, 1],
          [600, 2],
        ],
      ],
      [{ app: 'b' }, [[0, 3]]],
    ]);
  });
});

describe('logql > metric > label_replace', () => {
  const r = node();
  const replace = (replacement: string, regex: string, src = 'app'): LabelReplaceExpr => ({ kind: 'label_replace', expr: r, dst: 'dst', replacement, src, regex });
  const one = (labels: Labels) => new Map([[r, inputs([labels, 1])]]);

  test.each([
    ['$1-${2}x', '(a+)(b*)', { app: 'aab', dst: 'aa-bx' }],
    ['$2$1', '(a+)(b*)', { app: 'aab', dst: 'baa' }],
    ['$$1', '(a+)b', { app: 'aab', dst: '$1' }],
    ['$1x', '(a+)b', { app: 'aab' }],
    ['${n}!', '(?P<n>a+)b', { app: 'aab', dst: 'aa!' }],
    ['$', '(a+)b', { app: 'aab', dst: '$' }],
    ['${1', '(a+)b', { app: 'aab', dst: '${1' }],
    ['$9', '(a+)b', { app: 'aab' }],
    ['x', 'a', { app: 'aab' }],
    ['up', '(?i)AAB', { app: 'aab', dst: 'up' }],
  ])('replacement %j with regex %j', (replacement, regex, expected) => {
    expect(vec(run(replace(replacement, regex), instant, one({ app: 'aab' })))).toEqual([[expected, 1]]);
  });

  test('an empty replacement removes dst; an absent src reads as empty', () => {
    expect(vec(run(replace('', '.*'), instant, one({ app: 'x', dst: 'old' })))).toEqual([[{ app: 'x' }, 1]]);
    expect(vec(run(replace('none', ''), instant, one({ env: 'p' })))).toEqual([[{ env: 'p', dst: 'none' }, 1]]);
  });

  test('series that end with the same labels are joined in a matrix', () => {
    const d = new Map([
      [
        r,
        [
          series({ app: 'a1' }, 2, [[0, 1]]),
          series({ app: 'a2' }, 2, [[1, 2]]),
        ],
      ],
    ]);
    const expr: LabelReplaceExpr = { kind: 'label_replace', expr: r, dst: 'app', replacement: '$1', src: 'app', regex: '(a)\\d' };
    expect(mat(run(expr, twoSteps, d))).toEqual([
      [
        { app: 'a' },
        [
          [0, 1],
          [600, 2],
        ],
      ],
    ]);
  });

  test('an invalid regex is a 400', () => {
    expect(codeOf(() => run(replace('x', '(a'), instant, one({ app: 'a' })))).toBe('SILT_BAD_QUERY');
  });
});

describe('logql > metric > results', () => {
  const r = node();

  test('instant vector(n) is one unlabelled sample; series sort by labels in Prometheus order', () => {
    expect(run({ kind: 'vector', value: 2 }, instant, new Map())).toEqual({ type: 'vector', tsNs: instant.startNs, samples: [{ labels: {}, value: 2 }] });
    const d = new Map([[r, inputs([{ b: '1' }, 1], [{ a: '1', b: 'x' }, 2], [{ a: '1' }, 3], [{ a: '2' }, 4], [{ a: 'é' }, 5], [{ a: '😀' }, 6], [{ a: '\uffff' }, 7])]]);
    expect(vec(run(r, instant, d)).map(([, v]) => v)).toEqual([3, 2, 4, 5, 7, 6, 1]);
    expect(mat(run(r, twoSteps, new Map([[r, d.get(r)!.map((s) => series(s.labels, 2, [[1, s.values[0]!]]))]]))).map(([, p]) => p[0]![1])).toEqual([3, 2, 4, 5, 7, 6, 1]);
  });

  test('a range query of a vector with no points is an empty matrix', () => {
    expect(run(r, twoSteps, new Map([[r, []]]))).toEqual({ type: 'matrix', series: [] });
  });
});

describe('logql > metric > range nodes', () => {
  test('lists each range aggregation with the samples its windows need', () => {
    const a = rangeAgg('count_over_time', 600n * S);
    const b = rangeAgg('count_over_time', 600n * S, { offsetNs: 3600n * S });
    const grid = StepGrid.range(T0 + 3600n * S, T0 + 7250n * S, 600n * S);
    const nodes = rangeAggregationNodes(bin('-', vecAgg('sum', a), vecAgg('sum', b)), grid);
    expect(nodes.map((n) => [n.node, Number((n.fromNs - T0) / S), Number((n.toNs - T0) / S)])).toEqual([
      [a, 3000, 7200],
      [b, -600, 3600],
    ]);
  });

  test('pushes the grouping of an enclosing sum down where Loki does', () => {
    const count = rangeAgg('count_over_time', 60n * S);
    const [pushed] = rangeAggregationNodes(vecAgg('sum', count, ['app']), instant);
    expect(pushed!.node).toBe(count);
    expect(pushed!.extract).toEqual({ ...count, grouping: { without: false, labels: ['app'] } });
    expect(rangeAggregationNodes(vecAgg('sum', count), instant)[0]!.extract.grouping).toEqual({ without: false, labels: [] });
    const max = rangeAgg('max_over_time', 60n * S, { unwrap: true });
    expect(rangeAggregationNodes(vecAgg('sum', max, ['app']), instant)[0]!.extract).toBe(max);
    expect(rangeAggregationNodes(vecAgg('avg', count, ['app']), instant)[0]!.extract).toBe(count);
    const grouped = rangeAgg('sum_over_time', 60n * S, { unwrap: true, grouping: { without: false, labels: ['env'] } });
    expect(rangeAggregationNodes(vecAgg('sum', grouped, ['app']), instant)[0]!.extract).toBe(grouped);
  });
});

describe('logql > metric > parsed queries end to end', () => {
  test('a ratio with group_left over two range aggregations computed from samples (bin-05)', () => {
    const expr = parseExpr(
      'sum by (app, env) (count_over_time({app=~"hdfs|apache"}[10m])) / ignoring (env) group_left sum by (app) (count_over_time({app=~"hdfs|apache"}[10m]))',
    ) as MetricExpr;
    const grid = StepGrid.range(T0, T0 + 600n * S, 600n * S);
    const samples: [Labels, bigint][] = [
      [{ app: 'hdfs', env: 'prod' }, T0 - S],
      [{ app: 'hdfs', env: 'prod' }, T0 + S],
      [{ app: 'hdfs', env: 'prod' }, T0 + 600n * S],
      [{ app: 'hdfs', env: 'staging' }, T0 + 300n * S],
    ];
    const results = new Map<RangeAggregationExpr, Matrix>();
    for (const n of rangeAggregationNodes(expr, grid)) {
      const agg = new RangeAggregator(n.node, grid);
      for (const [labels, ts] of samples) if (ts > n.fromNs && ts <= n.toNs) agg.add(labels, ts, 1);
      results.set(n.node, agg.finish());
    }
    expect(mat(evaluateMetric(expr, grid, (n) => results.get(n)!))).toEqual([
      [
        { app: 'hdfs', env: 'prod' },
        [
          [0, 1],
          [600, 2 / 3],
        ],
      ],
      [{ app: 'hdfs', env: 'staging' }, [[600, 1 / 3]]],
    ]);
  });
});
