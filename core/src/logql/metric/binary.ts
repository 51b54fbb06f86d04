/**
 * Binary operators between scalars and vectors, at every evaluation time, as Loki evaluates them:
 * - arithmetic `+ - * / % ^`: division and modulo by zero give NaN (Loki guards them; Prometheus
 *   would give ±Inf), `^` is Go's `math.Pow` (1^NaN = 1, (−1)^±Inf = 1);
 * - comparisons filter, keeping the vector's value (with a scalar) or the left side's value
 *   (between vectors); with `bool` they give 0/1 and keep everything; between two scalars they
 *   always give 0/1;
 * - between vectors: one-to-one matching on all labels, `on (…)` or `ignoring (…)` (the result keeps
 *   the left labels, reduced to the `on` labels or without the `ignoring` ones), many-to-one
 *   `group_left (…)` / one-to-many `group_right (…)` (the result keeps the "many" side's labels
 *   plus the included labels of the "one" side), and the errors Loki raises for duplicate matches;
 * - `and`, `or`, `unless` as set operators on the matching signature.
 */
import { BadRequestError } from '../../errors';
import { labelsKey, type Labels } from '../../labels';
import type { BinaryExpr, BinaryOp, CompareOp, VectorMatching } from '../ast';
import { compareNumbers } from '../compare';
import { dropLabels, emptySeries, hasPoints, keepLabels, type GridSeries, type Matrix } from './series';

/** True for `== != > >= < <=`. */
function isComparison(op: BinaryOp): boolean {
  return op === '==' || op === '!=' || op === '>' || op === '>=' || op === '<' || op === '<=';
}

/** True for `and or unless`. */
function isSetOperator(op: BinaryOp): boolean {
  return op === 'and' || op === 'or' || op === 'unless';
}

/** Go's `math.Pow`, which differs from `**` for a base of 1 or −1. */
function goPow(a: number, b: number): number {
  if (a === 1) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return a ** b;
}

/** An arithmetic operator applied to two floats. */
function arithmetic(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return b === 0 ? NaN : a / b;
    case '%':
      return b === 0 ? NaN : a % b;
    case '^':
      return goPow(a, b);
    default:
      throw new BadRequestError('SILT_BAD_QUERY', `unexpected operator ${op}`);
  }
}

/** Two scalars: arithmetic, or 0/1 for a comparison (with or without `bool`). */
export function scalarBinary(op: BinaryOp, a: number, b: number): number {
  if (isSetOperator(op)) throw new BadRequestError('SILT_BAD_QUERY', `unexpected literal for logical/set binary operation (${op})`);
  if (isComparison(op)) return compareNumbers(op as CompareOp, a, b) ? 1 : 0;
  return arithmetic(op, a, b);
}

/** A vector and a scalar (on the left when `scalarLeft`): every series keeps its labels. */
export function vectorScalarBinary(op: BinaryOp, bool: boolean, input: Matrix, scalar: number, scalarLeft: boolean): Matrix {
  if (isSetOperator(op)) throw new BadRequestError('SILT_BAD_QUERY', `unexpected literal for ${scalarLeft ? 'left' : 'right'} leg of logical/set binary operation (${op})`);
  const comparison = isComparison(op);
  const out: Matrix = [];
  for (const s of input) {
    const r = emptySeries(s.labels, s.values.length);
    for (let k = 0; k < s.values.length; k++) {
      if (s.present[k] !== 1) continue;
      const v = s.values[k]!;
      const a = scalarLeft ? scalar : v;
      const b = scalarLeft ? v : scalar;
      let value: number;
      if (comparison) {
        const ok = compareNumbers(op as CompareOp, a, b);
        if (!ok && !bool) continue;
        value = bool ? (ok ? 1 : 0) : v;
      } else value = arithmetic(op, a, b);
      r.values[k] = value;
      r.present[k] = 1;
    }
    if (hasPoints(r)) out.push(r);
  }
  return out;
}

/** A vector-matching failure Loki reports (Loki answers it with a 500; it is the query's fault, so a 400 here). */
function matchingError(message: string): BadRequestError {
  return new BadRequestError('SILT_VECTOR_MATCHING', message);
}

/** Numbers the matching signatures of both sides (same labels after on/ignoring, same id). */
function signatures(matching: VectorMatching, lhs: Matrix, rhs: Matrix): { left: number[]; right: number[]; count: number } {
  const ids = new Map<string, number>();
  const id = (labels: Labels): number => {
    const key = labelsKey(matching.on ? keepLabels(labels, matching.labels) : dropLabels(labels, matching.labels));
    let n = ids.get(key);
    if (n === undefined) ids.set(key, (n = ids.size));
    return n;
  };
  const left = lhs.map((s) => id(s.labels));
  const right = rhs.map((s) => id(s.labels));
  return { left, right, count: ids.size };
}

/** `and`, `or`, `unless`: series of one side kept or dropped by the presence of the other side's signatures at each time. */
function setOperation(op: BinaryOp, matching: VectorMatching, lhs: Matrix, rhs: Matrix, length: number): Matrix {
  const sig = signatures(matching, lhs, rhs);
  // `or` filters the right side by the left; `and`/`unless` filter the left side by the right.
  const [base, baseSigs, other, otherSigs] = op === 'or' ? [rhs, sig.right, lhs, sig.left] : [lhs, sig.left, rhs, sig.right];
  const keepWhenSeen = op === 'and';
  // Filtered copies share the base's values (never written) and get their own presence.
  const kept: Matrix = base.map((s) => ({ labels: s.labels, values: s.values, present: new Uint8Array(length) }));
  const seen = new Uint8Array(sig.count);
  for (let k = 0; k < length; k++) {
    seen.fill(0);
    for (let i = 0; i < other.length; i++) if (other[i]!.present[k] === 1) seen[otherSigs[i]!] = 1;
    for (let i = 0; i < base.length; i++) {
      if (base[i]!.present[k] === 1 && (seen[baseSigs[i]!] === 1) === keepWhenSeen) kept[i]!.present[k] = 1;
    }
  }
  return (op === 'or' ? [...lhs, ...kept] : kept).filter(hasPoints);
}

/** Loki's result labels of a match between `many` (or the left side, one-to-one) and `one`. */
function resultLabels(many: Labels, one: Labels, matching: VectorMatching): Labels {
  const out = matching.group !== null ? { ...many } : matching.on ? keepLabels(many, matching.labels) : dropLabels(many, matching.labels);
  for (const name of matching.group?.include ?? []) {
    const v = one[name];
    if (v !== undefined && v !== '') out[name] = v;
    else delete out[name];
  }
  return out;
}

/** Collects result points into series by label set; a second point for the same labels and time opens another series, as Loki keeps both. */
class ResultSeries {
  readonly out: Matrix = [];
  private readonly byKey = new Map<string, GridSeries[]>();
  constructor(private readonly length: number) {}
  put(key: string, labels: Labels, k: number, value: number): void {
    let list = this.byKey.get(key);
    if (list === undefined) this.byKey.set(key, (list = []));
    let s = list.find((c) => c.present[k] === 0);
    if (s === undefined) {
      s = emptySeries(labels, this.length);
      list.push(s);
      this.out.push(s);
    }
    s.values[k] = value;
    s.present[k] = 1;
  }
}

/** Arithmetic and comparisons between two vectors, matched per evaluation time. */
function matchedOperation(expr: BinaryExpr, matching: VectorMatching, lhs: Matrix, rhs: Matrix, length: number): Matrix {
  const sig = signatures(matching, lhs, rhs);
  const oneToMany = matching.group?.side === 'right';
  const oneToOne = matching.group === null;
  // After the swap, `many` is iterated and `one` is looked up; values are swapped back for the operator.
  const many = oneToMany ? rhs : lhs;
  const one = oneToMany ? lhs : rhs;
  const manySigs = oneToMany ? sig.right : sig.left;
  const oneSigs = oneToMany ? sig.left : sig.right;
  const comparison = isComparison(expr.op);
  const labelsOfPair = new Map<number, { labels: Labels; key: string }>();
  const result = new ResultSeries(length);
  const oneAt = new Int32Array(sig.count);
  const matchedOnce = new Uint8Array(sig.count);
  const matchedLabels = new Map<number, Set<string>>();
  for (let k = 0; k < length; k++) {
    oneAt.fill(-1);
    for (let j = 0; j < one.length; j++) {
      if (one[j]!.present[k] !== 1) continue;
      const id = oneSigs[j]!;
      if (oneAt[id] !== -1) {
        throw matchingError(
          `found duplicate series on the ${oneToMany ? 'left' : 'right'} hand-side;many-to-many matching not allowed: matching labels must be unique on one side`,
        );
      }
      oneAt[id] = j;
    }
    matchedOnce.fill(0);
    matchedLabels.clear();
    for (let i = 0; i < many.length; i++) {
      const m = many[i]!;
      if (m.present[k] !== 1) continue;
      const id = manySigs[i]!;
      const j = oneAt[id]!;
      if (j < 0) continue;
      const pairKey = i * one.length + j;
      let pair = labelsOfPair.get(pairKey);
      if (pair === undefined) {
        const labels = resultLabels(m.labels, one[j]!.labels, matching);
        labelsOfPair.set(pairKey, (pair = { labels, key: labelsKey(labels) }));
      }
      if (oneToOne) {
        if (matchedOnce[id] === 1) throw matchingError('multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
        matchedOnce[id] = 1;
      } else {
        let inserted = matchedLabels.get(id);
        if (inserted === undefined) matchedLabels.set(id, (inserted = new Set()));
        if (inserted.has(pair.key)) throw matchingError('multiple matches for labels: grouping labels must ensure unique matches');
        inserted.add(pair.key);
      }
      const a = oneToMany ? one[j]!.values[k]! : m.values[k]!;
      const b = oneToMany ? m.values[k]! : one[j]!.values[k]!;
      let value: number;
      if (comparison) {
        const ok = compareNumbers(expr.op as CompareOp, a, b);
        if (!ok && !expr.bool) continue;
        value = expr.bool ? (ok ? 1 : 0) : a;
      } else value = arithmetic(expr.op, a, b);
      result.put(pair.key, pair.labels, k, value);
    }
  }
  return result.out;
}

/** Two vectors: set operators, or arithmetic/comparison with the expression's matching. */
export function vectorBinary(expr: BinaryExpr, lhs: Matrix, rhs: Matrix, length: number): Matrix {
  const matching = expr.matching ?? { on: false, labels: [], group: null };
  if (isSetOperator(expr.op)) return setOperation(expr.op, matching, lhs, rhs, length);
  return matchedOperation(expr, matching, lhs, rhs, length);
}
