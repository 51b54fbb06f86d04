/**
 * Vector aggregations (`sum by (app) (…)`, `topk(3, …)`, `sort_desc(…)`, …) at every evaluation
 * time, with Loki's arithmetic: sums in input order, averages as a running mean that keeps an
 * infinite mean against finite values, min/max where anything replaces NaN, stddev/stdvar by
 * Welford's method. `by` keeps only the named labels, `without` drops them; topk/bottomk/sort/
 * sort_desc keep each series' own labels and rank NaN last. Groups are formed once per series (labels
 * do not change between evaluation times), values are folded per time.
 */
import { BadRequestError } from '../../errors';
import { labelsKey, type Labels } from '../../labels';
import type { VectorAggregationExpr, VectorOp } from '../ast';
import { dropLabels, emptySeries, hasPoints, keepLabels, type GridSeries, type Matrix } from './series';

/** A group of input series and the labels of its result. */
interface Group {
  labels: Labels;
  members: GridSeries[];
}

/** Splits the input into the groups of the expression's `by`/`without`, in order of first appearance. */
function groupsOf(expr: VectorAggregationExpr, input: Matrix): Group[] {
  const grouping = expr.grouping ?? { without: false, labels: [] };
  const without = grouping.without ? [...grouping.labels, '__name__'] : null;
  const groups = new Map<string, Group>();
  for (const s of input) {
    const labels = without !== null ? dropLabels(s.labels, without) : keepLabels(s.labels, grouping.labels);
    const key = labelsKey(labels);
    const g = groups.get(key);
    if (g === undefined) groups.set(key, { labels, members: [s] });
    else g.members.push(s);
  }
  return [...groups.values()];
}

/** The fold of sum/avg/min/max/count/stddev/stdvar over the members present at time k, or null when none is. */
function fold(op: VectorOp, members: readonly GridSeries[], k: number): number | null {
  let count = 0;
  let value = 0;
  let mean = 0;
  for (const m of members) {
    if (m.present[k] !== 1) continue;
    const v = m.values[k]!;
    count++;
    if (count === 1) {
      value = op === 'stddev' || op === 'stdvar' ? 0 : v;
      mean = v;
      continue;
    }
    switch (op) {
      case 'sum':
        value += v;
        break;
      case 'avg':
        // An infinite mean stays against a finite value or the same infinity (Loki's rule).
        if (!Number.isFinite(mean) && !Number.isNaN(mean) && (v === mean || Number.isFinite(v))) break;
        mean += (v - mean) / count;
        break;
      case 'max':
        if (value < v || Number.isNaN(value)) value = v;
        break;
      case 'min':
        if (value > v || Number.isNaN(value)) value = v;
        break;
      case 'stddev':
      case 'stdvar': {
        const delta = v - mean;
        mean += delta / count;
        value += delta * (v - mean);
        break;
      }
      default:
        break;
    }
  }
  if (count === 0) return null;
  switch (op) {
    case 'avg':
      return mean;
    case 'count':
      return count;
    case 'stddev':
      return Math.sqrt(value / count);
    case 'stdvar':
      return value / count;
    default:
      return value;
  }
}

/** Orders values for topk/sort_desc (descending) or bottomk/sort (ascending); NaN always last. */
function rankOrder(descending: boolean): (a: number, b: number) => number {
  return (a, b) => {
    const an = Number.isNaN(a);
    const bn = Number.isNaN(b);
    if (an || bn) return an === bn ? 0 : an ? 1 : -1;
    if (a === b) return 0;
    return (a < b) === descending ? 1 : -1;
  };
}

/** Orders series by their value at time 0 (what an instant query shows); absent ones last, ties in input order. */
function byFirstValue(series: GridSeries[], order: (a: number, b: number) => number): GridSeries[] {
  return series.sort((x, y) => {
    if (x.present[0] !== 1 || y.present[0] !== 1) return (y.present[0] ?? 0) - (x.present[0] ?? 0);
    return order(x.values[0]!, y.values[0]!);
  });
}

/** topk/bottomk: at each time, the k best present members of each group, with their own labels. */
function selectTop(groups: Group[], k: number, descending: boolean, length: number): Matrix {
  const order = rankOrder(descending);
  const out: Matrix = [];
  const picked: number[] = [];
  for (const g of groups) {
    const copies = g.members.map((m) => emptySeries(m.labels, length));
    for (let t = 0; t < length; t++) {
      picked.length = 0;
      for (let i = 0; i < g.members.length; i++) if (g.members[i]!.present[t] === 1) picked.push(i);
      picked.sort((a, b) => order(g.members[a]!.values[t]!, g.members[b]!.values[t]!) || a - b);
      for (let r = 0; r < Math.min(k, picked.length); r++) {
        const i = picked[r]!;
        copies[i]!.values[t] = g.members[i]!.values[t]!;
        copies[i]!.present[t] = 1;
      }
    }
    out.push(...byFirstValue(copies.filter(hasPoints), order));
  }
  return out;
}

/** Evaluates a vector aggregation over its operand's series. */
export function aggregateVector(expr: VectorAggregationExpr, input: Matrix, length: number): Matrix {
  const groups = groupsOf(expr, input);
  switch (expr.op) {
    case 'topk':
    case 'bottomk': {
      if (expr.param === null) throw new BadRequestError('SILT_BAD_QUERY', `${expr.op} needs a parameter k`);
      return expr.param < 1 ? [] : selectTop(groups, expr.param, expr.op === 'topk', length);
    }
    case 'sort':
    case 'sort_desc': {
      const order = rankOrder(expr.op === 'sort_desc');
      return groups.flatMap((g) => byFirstValue(g.members.slice(), order));
    }
    default: {
      const out: Matrix = [];
      for (const g of groups) {
        const series = emptySeries(g.labels, length);
        for (let t = 0; t < length; t++) {
          const v = fold(expr.op, g.members, t);
          if (v === null) continue;
          series.values[t] = v;
          series.present[t] = 1;
        }
        if (hasPoints(series)) out.push(series);
      }
      return out;
    }
  }
}
