import type { Labels } from '../../core/src/labels';
import type { RangeAggregationExpr, RangeOp } from '../../core/src/logql/ast';
import { StepGrid } from '../../core/src/logql/metric/grid';
import { RangeAggregator } from '../../core/src/logql/metric/range-agg';
import type { Matrix } from '../../core/src/logql/metric/series';
import { S, T0, codeOf, random, rangeAgg } from './logql-metric-fixtures';

/** One sample with its tie-breaker. */
interface Point {
  labels: Labels;
  ts: bigint;
  value: number;
  tie: number;
}

/**
 * Loki's batch range aggregation, written out directly from its definitions: per series the
 * samples of `(end − range, end]` in (ts, tie) order, folded as pkg/logql/range_vector.go folds them.
 */
function reference(expr: RangeAggregationExpr, grid: StepGrid, points: Point[]): Map<string, (number | undefined)[]> {
  const { rangeNs, offsetNs } = expr.range;
  const secs = Number(rangeNs) / 1e9;
  const bySeries = new Map<string, Point[]>();
  for (const p of points) {
    const key = JSON.stringify(Object.entries(p.labels).sort());
    bySeries.set(key, [...(bySeries.get(key) ?? []), p]);
  }
  const out = new Map<string, (number | undefined)[]>();
  for (const [key, list] of bySeries) {
    list.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.tie - b.tie));
    const values = grid.times.map((t) => {
        const end = t - offsetNs;
        const w = list.filter((p) => p.ts > end - rangeNs && p.ts <= end);
        if (w.length === 0) return undefined;
        const v = w.map((p) => p.value);
        const sum = v.reduce((a, b) => a + b, 0);
        switch (expr.op) {
          case 'count_over_time':
            return w.length;
          case 'rate':
            return expr.range.unwrap === null ? w.length / secs : sum / secs;
          case 'bytes_over_time':
          case 'sum_over_time':
            return sum;
          case 'bytes_rate':
            return sum / secs;
          case 'avg_over_time': {
            let mean = 0;
            v.forEach((x, i) => (mean += x / (i + 1) - mean / (i + 1)));
            return mean;
          }
          case 'min_over_time':
            return v.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a));
          case 'max_over_time':
            return v.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a));
          case 'stdvar_over_time':
          case 'stddev_over_time': {
            let count = 0;
            let mean = 0;
            let aux = 0;
            for (const x of v) {
              count++;
              const delta = x - mean;
              mean += delta / count;
              aux += delta * (x - mean);
            }
            return expr.op === 'stdvar_over_time' ? aux / count : Math.sqrt(aux / count);
          }
          case 'quantile_over_time': {
            const sorted = [...v].sort((a, b) => a - b);
            const rank = expr.param! * (sorted.length - 1);
            const lo = Math.max(0, Math.floor(rank));
            const hi = Math.min(sorted.length - 1, lo + 1);
            const weight = rank - Math.floor(rank);
            return sorted[lo]! * (1 - weight) + sorted[hi]! * weight;
          }
          case 'first_over_time':
            return v[0];
          case 'last_over_time':
            return v[v.length - 1];
          case 'rate_counter': {
            if (w.length < 2) return 0;
            let result = v[v.length - 1]! - v[0]!;
            let last = 0;
            for (const x of v) {
              if (x < last) result += last;
              last = x;
            }
            const start = end - rangeNs;
            let toStart = Number(w[0]!.ts - start) / 1e9;
            let toEnd = Number(end - w[w.length - 1]!.ts) / 1e9;
            const sampled = Number(w[w.length - 1]!.ts - w[0]!.ts) / 1e9;
            const avg = sampled / (w.length - 1);
            if (toStart >= avg * 1.1) toStart = avg / 2;
            let toZero = toStart;
            if (result > 0 && v[0]! >= 0) toZero = sampled * (v[0]! / result);
            if (toZero < toStart) toStart = toZero;
            if (toEnd >= avg * 1.1) toEnd = avg / 2;
            return (result * ((sampled + toStart + toEnd) / sampled)) / secs;
          }
          case 'absent_over_time':
            return 1;
        }
      });
    if (values.some((v) => v !== undefined)) out.set(key, values);
  }
  return out;
}

/** A finished matrix keyed like the reference. */
function keyed(m: Matrix): Map<string, (number | undefined)[]> {
  return new Map(m.map((s) => [JSON.stringify(Object.entries(s.labels).sort()), Array.from(s.values, (v, k) => (s.present[k] === 1 ? v : undefined))]));
}

/** Relative closeness as the oracle's comparer checks it (NaN equals NaN). */
function close(a: number | undefined, b: number | undefined, rel: number): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));
}

function expectClose(actual: Map<string, (number | undefined)[]>, expected: Map<string, (number | undefined)[]>, rel: number, what: string): void {
  if (JSON.stringify([...actual.keys()].sort()) !== JSON.stringify([...expected.keys()].sort())) {
    throw new Error(`${what}: series ${JSON.stringify([...actual.keys()])} instead of ${JSON.stringify([...expected.keys()])}`);
  }
  for (const [key, want] of expected) {
    const got = actual.get(key)!;
    const bad = want.findIndex((w, k) => !close(got[k], w, rel));
    if (bad >= 0) throw new Error(`${what}: ${key} at step ${bad}: got ${got[bad]}, want ${want[bad]}`);
  }
}

const OPS: RangeOp[] = [
  'count_over_time',
  'rate',
  'bytes_over_time',
  'bytes_rate',
  'sum_over_time',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'quantile_over_time',
  'first_over_time',
  'last_over_time',
  'rate_counter',
];

/** A random query shape and samples around it. */
function scenario(seed: number): { grid: StepGrid; rangeNs: bigint; offsetNs: bigint; points: Point[] } {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const rangeNs = pick([1n, 30n, 45n, 60n, 90n, 300n, 7n]) * S;
  const offsetNs = pick([0n, 0n, 20n, 600n]) * S;
  const start = T0 + BigInt(Math.floor(rnd() * 1000)) * S + BigInt(Math.floor(rnd() * 1e9));
  const grid = rnd() < 0.2 ? StepGrid.instant(start) : StepGrid.range(start, start + BigInt(Math.floor(rnd() * 900)) * S, pick([15n, 30n, 60n, 120n, 7n]) * S);
  const last = grid.times[grid.length - 1]!;
  const from = grid.startNs - offsetNs - rangeNs - 30n * S;
  const span = Number(last - offsetNs + 30n * S - from);
  const integral = rnd() < 0.5;
  const series: Labels[] = [{ app: 'a' }, { app: 'b', env: 'x' }, { app: 'b', env: 'y' }];
  const points: Point[] = [];
  const n = Math.floor(rnd() * 400);
  for (let i = 0; i < n; i++) {
    // Some samples exactly on window edges, some sharing timestamps.
    const ts = rnd() < 0.1 ? pick(grid.times) - offsetNs - (rnd() < 0.5 ? rangeNs : 0n) : from + BigInt(Math.floor(rnd() * span));
    const value = integral ? Math.floor(rnd() * 50) : (rnd() - 0.3) * 1000;
    points.push({ labels: pick(series), ts: rnd() < 0.05 && points.length > 0 ? points[points.length - 1]!.ts : ts, value, tie: i });
  }
  return { grid, rangeNs, offsetNs, points };
}

describe('logql > metric > range aggregation > map-reduce', () => {
  test.each(OPS)('%s: random samples in any order, split over two nodes, merge to the single-node answer and to Loki’s', (op) => {
    for (let seed = 1; seed <= 60; seed++) {
      const { grid, rangeNs, offsetNs, points } = scenario(seed * 7919 + op.length);
      const unwrap = !['count_over_time', 'bytes_over_time', 'bytes_rate'].includes(op) && seed % 2 === 0;
      const expr = rangeAgg(op, rangeNs, { offsetNs, unwrap: unwrap || op.endsWith('_over_time') || op === 'rate_counter', param: 0.3 + (seed % 5) * 0.15 });
      const rnd = random(seed);
      const shuffled = [...points].sort(() => rnd() - 0.5);
      const single = new RangeAggregator(expr, grid);
      const nodeA = new RangeAggregator(expr, grid);
      const nodeB = new RangeAggregator(expr, grid);
      for (const p of shuffled) {
        single.add(p.labels, p.ts, p.value, p.tie);
        (rnd() < 0.5 ? nodeA : nodeB).add({ ...p.labels }, p.ts, p.value, p.tie);
      }
      const merged = RangeAggregator.fromWire(expr, grid, JSON.parse(JSON.stringify(nodeA.toWire())));
      merged.merge(JSON.parse(JSON.stringify(nodeB.toWire())));
      const one = keyed(single.finish());
      const exactKinds = ['count_over_time', 'first_over_time', 'last_over_time', 'min_over_time', 'max_over_time', 'quantile_over_time', 'rate_counter'];
      const integralSums = points.every((p) => Number.isInteger(p.value)) && ['bytes_over_time', 'sum_over_time'].includes(op);
      expectClose(keyed(merged.finish()), one, exactKinds.includes(op) || integralSums ? 0 : 1e-12, `seed ${seed} merged`);
      expectClose(one, reference(expr, grid, points), 1e-9, `seed ${seed} reference`);
    }
  });

  test('absent_over_time merged over two nodes is 1 exactly where neither node has a sample', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { grid, rangeNs, offsetNs, points } = scenario(seed);
      const expr = rangeAgg('absent_over_time', rangeNs, { offsetNs });
      const nodes = [new RangeAggregator(expr, grid), new RangeAggregator(expr, grid)];
      points.forEach((p, i) => nodes[i % 2]!.add(p.labels, p.ts, p.value));
      const merged = RangeAggregator.fromWire(expr, grid, JSON.parse(JSON.stringify(nodes[0]!.toWire())));
      merged.merge(JSON.parse(JSON.stringify(nodes[1]!.toWire())));
      const covered = grid.times.map((t) => points.some((p) => p.ts > t - offsetNs - rangeNs && p.ts <= t - offsetNs));
      const got = merged.finish();
      const want = covered.map((c) => (c ? undefined : 1));
      expect(got.length === 0 ? want.map(() => undefined) : Array.from(got[0]!.values, (v, k) => (got[0]!.present[k] === 1 ? v : undefined))).toEqual(want);
      if (got.length > 0) expect(got[0]!.labels).toEqual({ app: 'a' });
    }
  });

  test('non-finite values and -0 survive the wire', () => {
    const grid = StepGrid.instant(T0 + 60n * S);
    for (const op of ['sum_over_time', 'max_over_time', 'quantile_over_time', 'last_over_time'] as const) {
      for (const v of [NaN, Infinity, -Infinity, -0]) {
        const expr = rangeAgg(op, 60n * S, { unwrap: true, param: 0.5 });
        const node = new RangeAggregator(expr, grid);
        node.add({ app: 'a' }, T0 + S, v);
        const wire = JSON.parse(JSON.stringify(node.toWire()));
        const value = RangeAggregator.fromWire(expr, grid, wire).finish()[0]!.values[0]!;
        // A sum starts at 0 (0 + −0 = 0); Loki's quantile weighs the upper rank by 0, and ±Inf · 0 is NaN.
        const want = op === 'sum_over_time' && Object.is(v, -0) ? 0 : op === 'quantile_over_time' && !Number.isFinite(v) ? NaN : v;
        expect([op, v, Object.is(value, want)]).toEqual([op, v, true]);
      }
    }
  });

  test('the wire is compact: labels once per series, one partial per segment', () => {
    const grid = StepGrid.range(T0, T0 + 3600n * S, 60n * S);
    const agg = new RangeAggregator(rangeAgg('count_over_time', 60n * S), grid);
    for (let i = 0; i < 6000; i++) agg.add({ app: 'a' }, T0 + 1n + BigInt(i) * 600_000_000n, 1);
    const wire = agg.toWire();
    expect(wire.series).toHaveLength(1);
    expect(wire.series[0]!.segs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(wire.series[0]!.cols).toEqual([Array(60).fill(100)]);
    expect(agg.finish()[0]!.values[30]).toBe(100);
  });

  test('refuses partials made for another query or malformed', () => {
    const grid = StepGrid.instant(T0);
    const count = new RangeAggregator(rangeAgg('count_over_time', 60n * S), grid);
    count.add({ app: 'a' }, T0, 1);
    const wire = count.toWire();
    expect(codeOf(() => RangeAggregator.fromWire(rangeAgg('sum_over_time', 60n * S, { unwrap: true }), grid, wire))).toBe('SILT_BAD_PARTIALS');
    expect(codeOf(() => RangeAggregator.fromWire(rangeAgg('count_over_time', 120n * S), grid, wire))).toBe('SILT_BAD_PARTIALS');
    expect(codeOf(() => RangeAggregator.fromWire(rangeAgg('count_over_time', 60n * S), StepGrid.instant(T0 + S), wire))).toBe('SILT_BAD_PARTIALS');
    const broken = { ...wire, series: [{ labels: { app: 'a' }, segs: [0], cols: [['x']] }] };
    expect(codeOf(() => RangeAggregator.fromWire(rangeAgg('count_over_time', 60n * S), grid, broken))).toBe('SILT_BAD_PARTIALS');
    expect(codeOf(() => RangeAggregator.fromWire(rangeAgg('count_over_time', 60n * S), grid, { ...wire, series: [{ labels: { app: 'a' }, segs: [3], cols: [[1]] }] }))).toBe(
      'SILT_BAD_PARTIALS',
    );
    expect(codeOf(() => RangeAggregator.fromWire(rangeAgg('count_over_time', 60n * S), grid, null))).toBe('SILT_BAD_PARTIALS');
  });
});
