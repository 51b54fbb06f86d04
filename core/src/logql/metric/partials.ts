/**
 * Partial aggregates of one series, one *slot* per segment that holds samples, in columns. A kind
 * says what a slot keeps so that slots merge exactly and any window is computed from its slots with
 * Loki's result: counts; sums; min/max (NaN only when every sample is NaN, as Loki's fold gives);
 * (count, mean) for averages, folded as Loki folds them and merged by weight; (count, mean, M2) for
 * variances (Welford within a slot as Loki, Chan's merge across); first/last as (ts, tie, value);
 * every value for quantiles; every (ts, tie, value) for rate_counter (it needs the order).
 *
 * Slots come in any order; a window is evaluated over slots sorted by segment (`order`,
 * `from`…`to`), which is time order. The ordered kinds live in partials-ordered.ts.
 */
import { SiltError } from '../../errors';

/** What a window evaluator may need besides the slots. */
export interface WindowContext {
  /** The range in seconds as Go's `Duration.Seconds()` gives it. */
  readonly rangeSeconds: number;
  /** The range in nanoseconds. */
  readonly rangeNs: bigint;
  /** End (inclusive) of the window of evaluation time k: `t_k − offset`. */
  windowEnd(k: number): bigint;
}

/** The value of the window made of slots `order[from] … order[to − 1]` (from < to), at evaluation time k. */
export type WindowFn = (from: number, to: number, k: number) => number;

/** The slots of one series, in columns; every method keeps the columns the same length. */
export interface SlotColumns {
  /** How many slots there are. */
  readonly size: number;
  /** Appends a slot holding one sample. */
  open(ts: bigint, tie: number, value: number): void;
  /** Folds one sample into a slot. */
  add(slot: number, ts: bigint, tie: number, value: number): void;
  /**
   * Folds `count` samples summing to `sum` into a slot (a new one for slot −1), for kinds that keep
   * neither timestamps nor order (counts, sums); absent on the others.
   */
  addMany?(slot: number, count: number, sum: number): void;
  /** Folds slot j of `other` (same kind) into slot i. */
  absorb(slot: number, other: this, j: number): void;
  /** Appends a copy of slot j of `other` (same kind). */
  adopt(other: this, j: number): void;
  /** The slots `order[0]`, `order[1]`, … as JSON-serializable columns. */
  encode(order: readonly number[]): unknown[];
  /** An evaluator of windows over the slots in `order`. */
  windows(order: readonly number[], ctx: WindowContext): WindowFn;
}

/** A kind of partial: how to make and decode its columns. */
export interface PartialKind {
  /** Name on the wire, checked when partials are merged. */
  readonly name: string;
  /** Empty columns. */
  create(): SlotColumns;
  /** Columns from `encode`'s output for n slots; throws SILT_BAD_PARTIALS when they do not fit. */
  decode(columns: unknown[], n: number): SlotColumns;
}

/** Partials that do not fit the query they are merged into (a bug or mixed versions, never user input). */
export function badPartials(message: string): SiltError {
  return new SiltError('SILT_BAD_PARTIALS', 500, false, `metric partials: ${message}`);
}

/** A float for JSON: non-finite values and −0 as the strings Go's ParseFloat reads. */
export function encodeFloat(v: number): number | string {
  if (Number.isFinite(v)) return Object.is(v, -0) ? '-0' : v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
}

/** The inverse of encodeFloat; throws SILT_BAD_PARTIALS on anything else. */
export function decodeFloat(v: unknown): number {
  if (typeof v === 'number') return v;
  switch (v) {
    case 'NaN':
      return NaN;
    case '+Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case '-0':
      return -0;
    default:
      throw badPartials(`not a number: ${JSON.stringify(v)}`);
  }
}

/** A wire column of n floats. */
export function floatColumn(col: unknown, n: number): number[] {
  if (!Array.isArray(col) || col.length !== n) throw badPartials('column length');
  return col.map(decodeFloat);
}

/** A wire column of n non-negative integers (counts). */
function countColumn(col: unknown, n: number): number[] {
  if (!Array.isArray(col) || col.length !== n) throw badPartials('column length');
  for (const c of col) if (!Number.isSafeInteger(c) || (c as number) < 0) throw badPartials('count');
  return col as number[];
}

/** The columns of an n-slot wire form, checked to be an array of `k` columns. */
export function wireColumns(columns: unknown[], k: number): unknown[] {
  if (columns.length !== k) throw badPartials(`expected ${k} columns`);
  return columns;
}

/**
 * Prefix sums of `x` over `order` when they give every window sum exactly (all integers and every
 * partial sum below 2^53), else null.
 */
function exactPrefix(x: readonly number[], order: readonly number[]): Float64Array | null {
  const prefix = new Float64Array(order.length + 1);
  let acc = 0;
  for (let i = 0; i < order.length; i++) {
    const v = x[order[i]!]!;
    if (!Number.isSafeInteger(v)) return null;
    acc += v;
    if (!Number.isSafeInteger(acc)) return null;
    prefix[i + 1] = acc;
  }
  return prefix;
}

/** Counts per slot (count_over_time, rate and absent_over_time without unwrap). */
class CountColumns implements SlotColumns {
  constructor(
    readonly n: number[],
    private readonly divisor: number,
  ) {}
  get size(): number {
    return this.n.length;
  }
  open(): void {
    this.n.push(1);
  }
  add(slot: number): void {
    this.n[slot]! += 1;
  }
  addMany(slot: number, count: number): void {
    if (slot < 0) this.n.push(count);
    else this.n[slot]! += count;
  }
  absorb(slot: number, other: CountColumns, j: number): void {
    this.n[slot]! += other.n[j]!;
  }
  adopt(other: CountColumns, j: number): void {
    this.n.push(other.n[j]!);
  }
  encode(order: readonly number[]): unknown[] {
    return [order.map((i) => this.n[i]!)];
  }
  windows(order: readonly number[]): WindowFn {
    const prefix = exactPrefix(this.n, order)!;
    const d = this.divisor;
    return d === 1 ? (from, to) => prefix[to]! - prefix[from]! : (from, to) => (prefix[to]! - prefix[from]!) / d;
  }
}

/** Sums per slot (bytes_over_time, bytes_rate, sum_over_time, rate over unwrap). */
class SumColumns implements SlotColumns {
  constructor(
    readonly x: number[],
    private readonly divisor: number,
  ) {}
  get size(): number {
    return this.x.length;
  }
  open(_ts: bigint, _tie: number, v: number): void {
    this.x.push(v);
  }
  add(slot: number, _ts: bigint, _tie: number, v: number): void {
    this.x[slot]! += v;
  }
  addMany(slot: number, _count: number, sum: number): void {
    if (slot < 0) this.x.push(sum);
    else this.x[slot]! += sum;
  }
  absorb(slot: number, other: SumColumns, j: number): void {
    this.x[slot]! += other.x[j]!;
  }
  adopt(other: SumColumns, j: number): void {
    this.x.push(other.x[j]!);
  }
  encode(order: readonly number[]): unknown[] {
    return [order.map((i) => encodeFloat(this.x[i]!))];
  }
  windows(order: readonly number[]): WindowFn {
    const d = this.divisor;
    const prefix = exactPrefix(this.x, order);
    if (prefix !== null) return (from, to) => (prefix[to]! - prefix[from]!) / d;
    const x = this.x;
    return (from, to) => {
      let sum = 0;
      for (let i = from; i < to; i++) sum += x[order[i]!]!;
      return sum / d;
    };
  }
}

/** Loki's max fold step: a larger value wins, and anything replaces NaN. */
function maxStep(acc: number, v: number): number {
  return v > acc || Number.isNaN(acc) ? v : acc;
}

/** Loki's min fold step: a smaller value wins, and anything replaces NaN. */
function minStep(acc: number, v: number): number {
  return v < acc || Number.isNaN(acc) ? v : acc;
}

/** Min or max per slot. */
class ExtremeColumns implements SlotColumns {
  constructor(
    readonly x: number[],
    private readonly step: (acc: number, v: number) => number,
  ) {}
  get size(): number {
    return this.x.length;
  }
  open(_ts: bigint, _tie: number, v: number): void {
    this.x.push(v);
  }
  add(slot: number, _ts: bigint, _tie: number, v: number): void {
    this.x[slot] = this.step(this.x[slot]!, v);
  }
  absorb(slot: number, other: ExtremeColumns, j: number): void {
    this.x[slot] = this.step(this.x[slot]!, other.x[j]!);
  }
  adopt(other: ExtremeColumns, j: number): void {
    this.x.push(other.x[j]!);
  }
  encode(order: readonly number[]): unknown[] {
    return [order.map((i) => encodeFloat(this.x[i]!))];
  }
  windows(order: readonly number[]): WindowFn {
    const { x, step } = this;
    return (from, to) => {
      let acc = x[order[from]!]!;
      for (let i = from + 1; i < to; i++) acc = step(acc, x[order[i]!]!);
      return acc;
    };
  }
}

/** Merges two means of na and nb samples as the mean of all; infinities as Loki's running mean treats them. */
function mergeMeans(ma: number, na: number, mb: number, nb: number): number {
  if (!Number.isFinite(ma) || !Number.isFinite(mb)) {
    if (Number.isNaN(ma) || Number.isNaN(mb)) return NaN;
    if (!Number.isFinite(ma) && !Number.isFinite(mb)) return ma === mb ? ma : NaN;
    return Number.isFinite(ma) ? mb : ma;
  }
  const n = na + nb;
  const d = mb - ma;
  // Weights keep two huge means of opposite sign from overflowing their difference.
  return Number.isFinite(d) ? ma + d * (nb / n) : ma * (na / n) + mb * (nb / n);
}

/** (count, mean) per slot (avg_over_time), the mean folded as Loki folds it. */
class AvgColumns implements SlotColumns {
  constructor(
    readonly n: number[],
    readonly m: number[],
  ) {}
  get size(): number {
    return this.n.length;
  }
  open(_ts: bigint, _tie: number, v: number): void {
    // Loki's running mean starts at 0, so a first −0 gives 0.
    this.n.push(1);
    this.m.push(0 + v);
  }
  add(slot: number, _ts: bigint, _tie: number, v: number): void {
    const count = (this.n[slot]! += 1);
    const mean = this.m[slot]!;
    if (!Number.isFinite(mean) && !Number.isNaN(mean)) {
      // An infinite mean stays unless a NaN or the opposite infinity arrives (Loki's rule).
      if (Number.isNaN(v) || v === -mean) this.m[slot] = NaN;
      return;
    }
    this.m[slot] = mean + (v / count - mean / count);
  }
  absorb(slot: number, other: AvgColumns, j: number): void {
    this.m[slot] = mergeMeans(this.m[slot]!, this.n[slot]!, other.m[j]!, other.n[j]!);
    this.n[slot]! += other.n[j]!;
  }
  adopt(other: AvgColumns, j: number): void {
    this.n.push(other.n[j]!);
    this.m.push(other.m[j]!);
  }
  encode(order: readonly number[]): unknown[] {
    return [order.map((i) => this.n[i]!), order.map((i) => encodeFloat(this.m[i]!))];
  }
  windows(order: readonly number[]): WindowFn {
    const { n, m } = this;
    return (from, to) => {
      let count = n[order[from]!]!;
      let mean = m[order[from]!]!;
      for (let i = from + 1; i < to; i++) {
        const s = order[i]!;
        mean = mergeMeans(mean, count, m[s]!, n[s]!);
        count += n[s]!;
      }
      return mean;
    };
  }
}

/** (count, mean, M2) per slot (stddev/stdvar_over_time): Welford within a slot as Loki, Chan's merge across. */
class VarianceColumns implements SlotColumns {
  constructor(
    readonly n: number[],
    readonly m: number[],
    readonly m2: number[],
    private readonly sqrt: boolean,
  ) {}
  get size(): number {
    return this.n.length;
  }
  open(_ts: bigint, _tie: number, v: number): void {
    // Loki's first Welford step from (0, 0, 0): an infinite first value makes M2 NaN.
    this.n.push(1);
    this.m.push(0 + v);
    this.m2.push(0 + v * (v - v));
  }
  add(slot: number, _ts: bigint, _tie: number, v: number): void {
    const count = (this.n[slot]! += 1);
    const delta = v - this.m[slot]!;
    const mean = (this.m[slot]! += delta / count);
    this.m2[slot]! += delta * (v - mean);
  }
  absorb(slot: number, other: VarianceColumns, j: number): void {
    const na = this.n[slot]!;
    const nb = other.n[j]!;
    const n = na + nb;
    const delta = other.m[j]! - this.m[slot]!;
    this.m[slot]! += delta * (nb / n);
    this.m2[slot]! += other.m2[j]! + delta * delta * ((na * nb) / n);
    this.n[slot] = n;
  }
  adopt(other: VarianceColumns, j: number): void {
    this.n.push(other.n[j]!);
    this.m.push(other.m[j]!);
    this.m2.push(other.m2[j]!);
  }
  encode(order: readonly number[]): unknown[] {
    return [order.map((i) => this.n[i]!), order.map((i) => encodeFloat(this.m[i]!)), order.map((i) => encodeFloat(this.m2[i]!))];
  }
  windows(order: readonly number[]): WindowFn {
    const { n, m, m2, sqrt } = this;
    return (from, to) => {
      const first = order[from]!;
      let count = n[first]!;
      let mean = m[first]!;
      let aux = m2[first]!;
      for (let i = from + 1; i < to; i++) {
        const s = order[i]!;
        const nb = n[s]!;
        const total = count + nb;
        const delta = m[s]! - mean;
        mean += delta * (nb / total);
        aux += m2[s]! + delta * delta * ((count * nb) / total);
        count = total;
      }
      const variance = aux / count;
      return sqrt ? Math.sqrt(variance) : variance;
    };
  }
}

/** Counts, optionally divided by the range in seconds (rate). */
export function countKind(divisor: number): PartialKind {
  return {
    name: 'count',
    create: () => new CountColumns([], divisor),
    decode: (cols, n) => new CountColumns(countColumn(wireColumns(cols, 1)[0], n), divisor),
  };
}

/** Sums, optionally divided by the range in seconds (bytes_rate, rate over unwrap). */
export function sumKind(divisor: number): PartialKind {
  return {
    name: 'sum',
    create: () => new SumColumns([], divisor),
    decode: (cols, n) => new SumColumns(floatColumn(wireColumns(cols, 1)[0], n), divisor),
  };
}

/** Minimum or maximum. */
export function extremeKind(max: boolean): PartialKind {
  const step = max ? maxStep : minStep;
  return {
    name: max ? 'max' : 'min',
    create: () => new ExtremeColumns([], step),
    decode: (cols, n) => new ExtremeColumns(floatColumn(wireColumns(cols, 1)[0], n), step),
  };
}

/** Average. */
export function avgKind(): PartialKind {
  return {
    name: 'avg',
    create: () => new AvgColumns([], []),
    decode: (cols, n) => {
      const [c, m] = wireColumns(cols, 2);
      return new AvgColumns(countColumn(c, n), floatColumn(m, n));
    },
  };
}

/** Population variance, or its square root. */
export function varianceKind(sqrt: boolean): PartialKind {
  return {
    name: 'variance',
    create: () => new VarianceColumns([], [], [], sqrt),
    decode: (cols, n) => {
      const [c, m, m2] = wireColumns(cols, 3);
      return new VarianceColumns(countColumn(c, n), floatColumn(m, n), floatColumn(m2, n), sqrt);
    },
  };
}
