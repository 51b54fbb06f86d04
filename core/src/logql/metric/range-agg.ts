/**
 * A range aggregation (`count_over_time(…[5m])`, `rate(…)`, `quantile_over_time(0.9, … | unwrap x [1m])`,
 * …) computed as map-reduce: each storage node adds the samples of the partitions it holds and
 * sends `toWire()` — per series, one partial per segment (see grid.ts) and nothing else; the query
 * service merges the nodes' partials and `finish()`es every window from its segments. Merging is
 * exact: counts and integral sums are the same numbers as one node's, other floats differ from a
 * single in-order fold only by rounding (Loki itself folds in its own merge order).
 *
 * Samples come in any order, with the labels the sample extractor gave them (after the pipeline,
 * unwrap and the aggregation's grouping). Loki's rules kept here: a window without samples gives
 * no point; absent_over_time gives 1 at the times whose window holds no sample at all, labelled
 * with the selector's equality matchers; a series that still carries `__error__` (without
 * `__preserve_error__="true"`) and has a sample in some window fails the query with Loki's
 * "pipeline error".
 */
import { BadRequestError } from '../../errors';
import { labelsKey, sortedLabelPairs, type Labels } from '../../labels';
import type { RangeAggregationExpr } from '../ast';
import { SegmentLayout, type StepGrid } from './grid';
import { avgKind, badPartials, countKind, extremeKind, sumKind, varianceKind, type PartialKind, type SlotColumns, type WindowContext } from './partials';
import { counterKind, edgeKind, quantileKind } from './partials-ordered';
import { emptySeries, hasPoints, type Matrix } from './series';

/** The label Loki sets when a pipeline stage fails on an entry. */
const ERROR_LABEL = '__error__';
/** The label that lets `__error__` through a metric query (`| label_format __preserve_error__="true"`). */
const PRESERVE_ERROR_LABEL = '__preserve_error__';

/** The partials of one aggregator as JSON: per series its labels, its segments (ascending) and the kind's columns for them. */
export interface RangeWire {
  v: 1;
  kind: string;
  layout: string;
  series: { labels: Labels; segs: number[]; cols: unknown[] }[];
}

/** The partials of one series. */
interface SeriesState {
  readonly labels: Labels;
  readonly cols: SlotColumns;
  /** The segment of each slot. */
  readonly segs: number[];
  /** Null while slots are in ascending segment order (found by binary search); else segment → slot. */
  index: Map<number, number> | null;
  lastSeg: number;
  lastSlot: number;
}

/** Go's `Duration.Seconds()`: whole seconds plus the nanoseconds' fraction, in that order. */
function durationSeconds(ns: bigint): number {
  return Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;
}

/** The partial kind of a range aggregation, with its final arithmetic (rates divide by the range in seconds). */
function kindOf(expr: RangeAggregationExpr): PartialKind {
  const seconds = durationSeconds(expr.range.rangeNs);
  switch (expr.op) {
    case 'count_over_time':
    case 'absent_over_time':
      return countKind(1);
    case 'rate':
      return expr.range.unwrap === null ? countKind(seconds) : sumKind(seconds);
    case 'bytes_over_time':
    case 'sum_over_time':
      return sumKind(1);
    case 'bytes_rate':
      return sumKind(seconds);
    case 'avg_over_time':
      return avgKind();
    case 'min_over_time':
      return extremeKind(false);
    case 'max_over_time':
      return extremeKind(true);
    case 'stddev_over_time':
      return varianceKind(true);
    case 'stdvar_over_time':
      return varianceKind(false);
    case 'quantile_over_time':
      if (expr.param === null) throw new BadRequestError('SILT_BAD_QUERY', 'quantile_over_time needs a quantile parameter');
      return quantileKind(expr.param);
    case 'first_over_time':
      return edgeKind(false);
    case 'last_over_time':
      return edgeKind(true);
    case 'rate_counter':
      return counterKind();
  }
}

/** Loki's labels for absent_over_time: the selector's `=` matchers, minus any name matched twice or otherwise. */
export function absentLabels(expr: RangeAggregationExpr): Labels {
  const out: Labels = {};
  const drop: string[] = [];
  for (const m of expr.range.selector.matchers) {
    if (m.op === '=' && out[m.name] === undefined) out[m.name] = m.value;
    else drop.push(m.name);
  }
  for (const name of drop) delete out[name];
  return out;
}

/** Loki's pipeline error for a series that still carries `__error__`. */
function pipelineError(labels: Labels): BadRequestError {
  const kind = labels[ERROR_LABEL]!;
  const series = '{' + sortedLabelPairs(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ') + '}';
  return new BadRequestError(
    'SILT_PIPELINE_ERROR',
    `pipeline error: '${kind}' for series: '${series}'.\n` +
      `Use a label filter to intentionally skip this error. (e.g | __error__!="${kind}").\n` +
      'To skip all potential errors you can match empty errors.(e.g __error__="")\n' +
      'The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__="" )\n',
    { error: kind, labels },
  );
}

/** Map-reduce evaluation of one range aggregation over a step grid. */
export class RangeAggregator {
  private readonly kind: PartialKind;
  private readonly layout: SegmentLayout;
  private readonly ctx: WindowContext;
  private readonly series = new Map<string, SeriesState>();
  private readonly byObject = new WeakMap<Labels, SeriesState>();
  private lastLabels: Labels | null = null;
  private lastState: SeriesState | null = null;
  /** Empty columns of the kind, to ask what it can do. */
  private readonly probe: SlotColumns;

  constructor(
    /** The aggregation (its op, range, offset and parameter are read; its grouping is the extractor's business). */
    readonly expr: RangeAggregationExpr,
    /** Where the query is evaluated. */
    readonly grid: StepGrid,
  ) {
    this.kind = kindOf(expr);
    this.probe = this.kind.create();
    this.layout = new SegmentLayout(grid, expr.range.rangeNs, expr.range.offsetNs);
    const { rangeNs, offsetNs } = expr.range;
    this.ctx = { rangeNs, rangeSeconds: durationSeconds(rangeNs), windowEnd: (k) => grid.times[k]! - offsetNs };
  }

  /** Partials made elsewhere (a `toWire()` for the same expression and grid). */
  static fromWire(expr: RangeAggregationExpr, grid: StepGrid, wire: unknown): RangeAggregator {
    const agg = new RangeAggregator(expr, grid);
    agg.merge(wire);
    return agg;
  }

  /**
   * Adds one sample. `labels` is the series (the extractor's output; not mutated afterwards: it is
   * remembered by identity), `ts` its time in nanoseconds, `value` its value (ignored by counts),
   * `tie` orders samples of the series with equal `ts` (lower first), for first/last/rate_counter.
   */
  add(labels: Labels, ts: bigint, value: number, tie = 0): void {
    const seg = this.layout.segmentOf(ts);
    if (seg < 0) return;
    const st = this.stateOf(labels);
    let slot = seg === st.lastSeg ? st.lastSlot : this.find(st, seg);
    if (slot >= 0) st.cols.add(slot, ts, tie, value);
    else {
      st.cols.open(ts, tie, value);
      slot = this.record(st, seg);
    }
    st.lastSeg = seg;
    st.lastSlot = slot;
  }

  /** True when addTimes can take this aggregation's samples (its kind keeps neither timestamps nor order, and the grid fits doubles). */
  get takesTimes(): boolean {
    return this.probe.addMany !== undefined && this.layout.originOffset(this.grid.startNs) !== null;
  }

  /**
   * Adds the samples at times `base + rel[i]` (ns; `rel` exact doubles) for i in [from, to), of
   * value `values[i]` (null: 1), to one series — `add` for a run of samples with numbers only, when
   * `takesTimes`. False, having added nothing, when `base` is too far from the grid for doubles.
   */
  addTimes(labels: Labels, base: bigint, rel: Float64Array, values: Float64Array | null, from: number, to: number): boolean {
    const origin = this.layout.originOffset(base);
    if (origin === null || from >= to) return origin !== null;
    const st = this.stateOf(labels);
    const layout = this.layout;
    let seg = layout.segmentAt(origin + rel[from]!);
    let count = 0;
    let sum = 0;
    for (let i = from; i < to; i++) {
      const s = layout.segmentAt(origin + rel[i]!);
      if (s !== seg) {
        if (seg >= 0) this.addRun(st, seg, count, sum);
        seg = s;
        count = 0;
        sum = 0;
      }
      count++;
      sum += values === null ? 1 : values[i]!;
    }
    if (seg >= 0) this.addRun(st, seg, count, sum);
    return true;
  }

  /**
   * Adds `count` samples summing to `sum`, all at times in [minTs, maxTs], when that span lies in
   * one segment and `takesTimes` — a frame counted from its header; false, having added nothing,
   * otherwise (the caller reads the frame's times).
   */
  addFrame(labels: Labels, minTs: bigint, maxTs: bigint, count: number, sum: number): boolean {
    if (!this.takesTimes) return false;
    const seg = this.layout.segmentOf(minTs);
    if (seg < 0 || this.layout.segmentOf(maxTs) !== seg) return false;
    this.addRun(this.stateOf(labels), seg, count, sum);
    return true;
  }

  /** The partials as JSON-serializable data (non-finite floats and timestamps as strings). */
  toWire(): RangeWire {
    const series: RangeWire['series'] = [];
    for (const st of this.series.values()) {
      const order = this.order(st);
      series.push({ labels: st.labels, segs: order.map((i) => st.segs[i]!), cols: st.cols.encode(order) });
    }
    return { v: 1, kind: this.kind.name, layout: this.layout.signature, series };
  }

  /** Merges partials made elsewhere for the same expression and grid; SILT_BAD_PARTIALS when they do not fit. */
  merge(wire: unknown): void {
    const w = wire as Partial<RangeWire> | null;
    if (w === null || typeof w !== 'object' || w.v !== 1) throw badPartials('unknown format');
    if (w.kind !== this.kind.name || w.layout !== this.layout.signature) throw badPartials('made for another query');
    if (!Array.isArray(w.series)) throw badPartials('no series');
    for (const s of w.series) {
      const labels = checkedLabels(s?.labels);
      const segs = this.checkedSegments(s?.segs);
      if (!Array.isArray(s.cols)) throw badPartials('no columns');
      const other = this.kind.decode(s.cols, segs.length);
      const st = this.stateOfKey(labelsKey(labels), labels);
      for (let j = 0; j < segs.length; j++) {
        const seg = segs[j]!;
        const slot = this.find(st, seg);
        if (slot >= 0) st.cols.absorb(slot, other, j);
        else {
          st.cols.adopt(other, j);
          this.record(st, seg);
        }
      }
      st.lastSeg = -1;
    }
  }

  /** Every window's value, one series per label set (absent_over_time: at most one series). */
  finish(): Matrix {
    for (const st of this.series.values()) {
      if (st.cols.size > 0 && st.labels[ERROR_LABEL] !== undefined && st.labels[PRESERVE_ERROR_LABEL] !== 'true') throw pipelineError(st.labels);
    }
    return this.expr.op === 'absent_over_time' ? this.finishAbsent() : this.finishWindows();
  }

  private finishWindows(): Matrix {
    const out: Matrix = [];
    const n = this.grid.length;
    for (const st of this.series.values()) {
      const order = this.order(st);
      const segs = order.map((i) => st.segs[i]!);
      const fn = st.cols.windows(order, this.ctx);
      const series = emptySeries(st.labels, n);
      this.eachWindow(segs, (k, from, to) => {
        series.values[k] = fn(from, to, k);
        series.present[k] = 1;
      });
      if (hasPoints(series)) out.push(series);
    }
    return out;
  }

  private finishAbsent(): Matrix {
    const n = this.grid.length;
    const seen = new Uint8Array(n);
    for (const st of this.series.values()) {
      const segs = this.order(st).map((i) => st.segs[i]!);
      this.eachWindow(segs, (k) => (seen[k] = 1));
    }
    const series = emptySeries(absentLabels(this.expr), n);
    for (let k = 0; k < n; k++) {
      if (seen[k] === 1) continue;
      series.values[k] = 1;
      series.present[k] = 1;
    }
    return hasPoints(series) ? [series] : [];
  }

  /** Calls `fn(k, from, to)` for every evaluation time k whose window holds the sorted segments `segs[from … to − 1]` (at least one). */
  private eachWindow(segs: readonly number[], fn: (k: number, from: number, to: number) => void): void {
    let from = 0;
    let to = 0;
    for (let k = 0; k < this.grid.length; k++) {
      const a = this.layout.windowStart(k);
      const b = this.layout.windowEnd(k);
      while (from < segs.length && segs[from]! < a) from++;
      if (to < from) to = from;
      while (to < segs.length && segs[to]! < b) to++;
      if (to > from) fn(k, from, to);
    }
  }

  private stateOf(labels: Labels): SeriesState {
    if (labels === this.lastLabels) return this.lastState!;
    let st = this.byObject.get(labels);
    if (st === undefined) {
      st = this.stateOfKey(labelsKey(labels), labels);
      this.byObject.set(labels, st);
    }
    this.lastLabels = labels;
    this.lastState = st;
    return st;
  }

  private stateOfKey(key: string, labels: Labels): SeriesState {
    let st = this.series.get(key);
    if (st === undefined) {
      st = { labels: { ...labels }, cols: this.kind.create(), segs: [], index: null, lastSeg: -1, lastSlot: -1 };
      this.series.set(key, st);
    }
    return st;
  }

  /** Folds a run of samples of one segment into its slot. */
  private addRun(st: SeriesState, seg: number, count: number, sum: number): void {
    const slot = seg === st.lastSeg ? st.lastSlot : this.find(st, seg);
    st.cols.addMany!(slot, count, sum);
    st.lastSeg = seg;
    st.lastSlot = slot >= 0 ? slot : this.record(st, seg);
  }

  /** The slot of a segment, or −1. */
  private find(st: SeriesState, seg: number): number {
    if (st.index !== null) return st.index.get(seg) ?? -1;
    const segs = st.segs;
    let lo = 0;
    let hi = segs.length - 1;
    if (hi < 0 || seg > segs[hi]!) return -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = segs[mid]!;
      if (s === seg) return mid;
      if (s < seg) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Records the segment of the slot just opened; returns the slot. */
  private record(st: SeriesState, seg: number): number {
    const slot = st.segs.length;
    if (st.index === null && slot > 0 && seg < st.segs[slot - 1]!) {
      // Out of order: from now on the slots are found through a map.
      st.index = new Map(st.segs.map((s, i) => [s, i]));
    }
    st.index?.set(seg, slot);
    st.segs.push(seg);
    return slot;
  }

  /** The slots of a series in ascending segment order. */
  private order(st: SeriesState): number[] {
    const order = st.segs.map((_, i) => i);
    return st.index === null ? order : order.sort((a, b) => st.segs[a]! - st.segs[b]!);
  }

  private checkedSegments(segs: unknown): number[] {
    if (!Array.isArray(segs)) throw badPartials('no segments');
    let previous = -1;
    for (const s of segs) {
      if (!Number.isInteger(s) || (s as number) <= previous || (s as number) >= this.layout.count) throw badPartials('segments');
      previous = s as number;
    }
    return segs as number[];
  }
}

/** A wire series' labels, checked to be strings. */
function checkedLabels(labels: unknown): Labels {
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) throw badPartials('labels');
  for (const v of Object.values(labels)) if (typeof v !== 'string') throw badPartials('labels');
  return labels as Labels;
}
