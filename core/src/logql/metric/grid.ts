/**
 * Where a metric query is evaluated and how its range windows cut the timeline.
 *
 * A range query is evaluated at `start, start + step, …` while `≤ end` (Loki does not align the
 * times to the step); an instant query at one time. A range aggregation evaluated at `t` covers the
 * samples with `ts` in `(t − offset − range, t − offset]`.
 *
 * The windows of all steps are unions of consecutive *segments*: the boundaries `t_k − offset` and
 * `t_k − offset − range` are `a0 + p·P` and `a0 + p·P + r` (period `P` = step, `r` = range mod P),
 * so a sample finds its segment by arithmetic, in O(1) whatever range and step are, and a partial
 * per (series, segment) merges into any window exactly. Cuts that no window needs (a period start
 * past the last window start) only split a segment in two, which changes no answer.
 */
import { BadRequestError } from '../../errors';

/** Loki's cap on the steps of one range query ((end − start) / step; `?step` too small for the range asked). */
const MAX_GRID_POINTS = 11_000;

/** The evaluation times of a metric query. */
export class StepGrid {
  /** Evaluation times, ascending (nanoseconds). */
  readonly times: readonly bigint[];

  private constructor(
    /** First evaluation time (nanoseconds). */
    readonly startNs: bigint,
    /** Last time that may be evaluated (nanoseconds); the last evaluation time is at or before it. */
    readonly endNs: bigint,
    /** Distance between evaluation times; 0n for an instant query. */
    readonly stepNs: bigint,
  ) {
    const times: bigint[] = [];
    if (stepNs === 0n) times.push(startNs);
    else for (let t = startNs; t <= endNs; t += stepNs) times.push(t);
    this.times = times;
  }

  /** A range query's grid: `start, start + step, …` up to `end`; a 400 when the step is not positive, end is before start, or the points exceed Loki's cap. */
  static range(startNs: bigint, endNs: bigint, stepNs: bigint): StepGrid {
    if (stepNs <= 0n) throw new BadRequestError('SILT_BAD_RANGE', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
    if (endNs < startNs) throw new BadRequestError('SILT_BAD_RANGE', 'end timestamp must not be before start time');
    if ((endNs - startNs) / stepNs > BigInt(MAX_GRID_POINTS)) {
      throw new BadRequestError(
        'SILT_BAD_RANGE',
        `exceeded maximum resolution of ${MAX_GRID_POINTS.toLocaleString('en-US')} points per timeseries. Try decreasing the query resolution (?step=XX)`,
      );
    }
    return new StepGrid(startNs, endNs, stepNs);
  }

  /** An instant query's grid: the one time `t`. */
  static instant(timeNs: bigint): StepGrid {
    return new StepGrid(timeNs, timeNs, 0n);
  }

  /** True for an instant query (its result is a vector or a scalar, not a matrix). */
  get instant(): boolean {
    return this.stepNs === 0n;
  }

  /** How many evaluation times there are. */
  get length(): number {
    return this.times.length;
  }
}

/** Largest span handled with doubles: every integer up to it and its neighbours are exact. */
const FAST_SPAN = 2n ** 52n;

/** The segments of one range aggregation (its range and offset) over a grid. */
export class SegmentLayout {
  /** How many segments there are; segment ids are 0 … count − 1, ascending in time. */
  readonly count: number;
  /** Segments per period: 2 when the range is not a whole number of periods, else 1. */
  private readonly cuts: number;
  /** Whole periods in the range. */
  private readonly q: number;
  /** Lower bound (exclusive) of segment 0: `t_0 − offset − range`. */
  private readonly a0: bigint;
  /** `t_last − offset − a0`: samples with `0 < ts − a0 ≤ span` lie in some segment. */
  private readonly span: bigint;
  private readonly period: bigint;
  private readonly rem: bigint;
  /** The span fits doubles exactly, so segmentOf computes with numbers after one subtraction. */
  private readonly fast: boolean;
  private readonly spanN: number;
  private readonly periodN: number;
  private readonly remN: number;
  /** The last segment found and its bounds `(hitLo, hitHi]`. */
  private hitLo = 0n;
  private hitHi = 0n;
  private hitSeg = -1;
  /** segmentAt's last answer and its bounds `(hitLoN, hitHiN]`, as coordinates. */
  private hitLoN = 0;
  private hitHiN = 0;
  private hitSegN = -1;

  constructor(grid: StepGrid, rangeNs: bigint, offsetNs: bigint) {
    const n = grid.length;
    // An instant grid has one window: any period works, the range itself gives one segment.
    this.period = grid.instant ? (rangeNs > 0n ? rangeNs : 1n) : grid.stepNs;
    this.rem = rangeNs > 0n ? rangeNs % this.period : 0n;
    this.q = rangeNs > 0n ? Number(rangeNs / this.period) : 0;
    this.cuts = this.rem > 0n ? 2 : 1;
    this.a0 = grid.startNs - offsetNs - rangeNs;
    this.span = rangeNs + BigInt(n - 1) * grid.stepNs;
    if (n === 0 || rangeNs <= 0n) this.count = 0;
    else this.count = this.cuts === 2 ? 2 * (n - 1 + this.q) + 1 : n - 1 + this.q;
    this.fast = this.span < FAST_SPAN;
    this.spanN = Number(this.span);
    this.periodN = Number(this.period);
    this.remN = Number(this.rem);
  }

  /** Names the cut of the timeline, so that partials made for another query are refused. */
  get signature(): string {
    return `${this.a0}/${this.period}/${this.rem}/${this.count}`;
  }

  /** The segment holding a sample at `ts`, or −1 when no window covers it. */
  segmentOf(ts: bigint): number {
    // Samples mostly come in time order: two comparisons avoid the (costly) bigint arithmetic.
    if (ts > this.hitLo && ts <= this.hitHi) return this.hitSeg;
    const seg = this.locate(ts);
    if (seg >= 0) {
      const p = BigInt(this.cuts === 2 ? seg >> 1 : seg);
      const periodStart = this.a0 + p * this.period;
      const second = this.cuts === 2 && (seg & 1) === 1;
      this.hitLo = second ? periodStart + this.rem : periodStart;
      this.hitHi = this.cuts === 2 && !second ? periodStart + this.rem : periodStart + this.period;
      this.hitSeg = seg;
    }
    return seg;
  }

  /**
   * `ts − a0` as an exact double, the coordinate segmentAt takes (an exact offset may be added to
   * it); null when the layout's span or this difference is beyond exact doubles.
   */
  originOffset(ts: bigint): number | null {
    if (!this.fast || this.count === 0) return null;
    const x = Number(ts - this.a0);
    return Number.isSafeInteger(x) ? x : null;
  }

  /** segmentOf for the sample at coordinate x (see originOffset), with numbers only; for samples in time order, mostly two comparisons. */
  segmentAt(x: number): number {
    if (x > this.hitLoN && x <= this.hitHiN) return this.hitSegN;
    if (x <= 0 || x > this.spanN) return -1;
    const period = this.periodN;
    let p = Math.floor((x - 1) / period);
    // The division is rounded: put p right with exact integer arithmetic (all below 2^53).
    let w = x - p * period;
    if (w <= 0) {
      p -= 1;
      w += period;
    } else if (w > period) {
      p += 1;
      w -= period;
    }
    const above = w > this.remN;
    const seg = this.segmentIn(p, above);
    const periodStart = p * period;
    if (this.cuts === 1) {
      this.hitLoN = periodStart;
      this.hitHiN = periodStart + period;
    } else {
      this.hitLoN = above ? periodStart + this.remN : periodStart;
      this.hitHiN = above ? periodStart + period : periodStart + this.remN;
    }
    // Between windows (seg −1) is cached too: the next samples are likely there as well.
    this.hitSegN = seg;
    return seg;
  }

  private locate(ts: bigint): number {
    if (this.count === 0) return -1;
    if (this.fast) {
      const x = Number(ts - this.a0);
      return x > 0 && x <= this.spanN ? this.segmentAt(x) : -1;
    }
    const x = ts - this.a0;
    if (x <= 0n || x > this.span) return -1;
    const pb = (x - 1n) / this.period;
    return this.segmentIn(Number(pb), x - pb * this.period > this.rem);
  }

  /** The segment of period p, in its first cut or (`above`) its second. */
  private segmentIn(p: number, above: boolean): number {
    if (this.cuts === 1) return p;
    // With range < period, the second segment of each period lies between windows.
    if (above && this.q === 0) return -1;
    return 2 * p + (above ? 1 : 0);
  }

  /** First segment of the window of evaluation time k. */
  windowStart(k: number): number {
    return this.count === 0 ? 0 : k * this.cuts;
  }

  /** One past the last segment of the window of evaluation time k. */
  windowEnd(k: number): number {
    if (this.count === 0) return 0;
    return this.cuts === 2 ? 2 * (k + this.q) + 1 : k + this.q;
  }
}
