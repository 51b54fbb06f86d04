/**
 * Partials whose answer depends on which samples, not only on how many: first/last_over_time keep
 * the earliest/latest (ts, tie, value) of a slot, quantile_over_time keeps every value (exact), and
 * rate_counter keeps every (ts, tie, value) because counter resets are read in time order.
 *
 * Samples of one series with equal timestamps are ordered by `tie` (lower first; Loki orders them
 * by stream hash, then by position in the stream) and then by arrival; first_over_time keeps the
 * earliest arrival among full ties, last_over_time the latest, as Loki's in-order fold does.
 */
import {
  badPartials,
  decodeFloat,
  encodeFloat,
  floatColumn,
  wireColumns,
  type PartialKind,
  type SlotColumns,
  type WindowContext,
  type WindowFn,
} from './partials';

/** A wire column of n timestamps (decimal strings of nanoseconds). */
function timeColumn(col: unknown, n: number): bigint[] {
  if (!Array.isArray(col) || col.length !== n) throw badPartials('column length');
  return col.map((t) => {
    if (typeof t !== 'string' || !/^-?\d+$/.test(t)) throw badPartials('timestamp');
    return BigInt(t);
  });
}

/** A wire column of n tie-breakers (finite numbers). */
function tieColumn(col: unknown, n: number): number[] {
  if (!Array.isArray(col) || col.length !== n) throw badPartials('column length');
  for (const k of col) if (typeof k !== 'number' || !Number.isFinite(k)) throw badPartials('tie');
  return col as number[];
}

/** A wire column of n lists, each decoded by `item`. */
function listColumn<T>(col: unknown, n: number, item: (list: unknown, len: number) => T[], lengths: number[] | null): T[][] {
  if (!Array.isArray(col) || col.length !== n) throw badPartials('column length');
  return col.map((list, i) => {
    if (!Array.isArray(list) || list.length === 0) throw badPartials('empty slot');
    if (lengths !== null && lengths[i] !== list.length) throw badPartials('list length');
    return item(list, list.length);
  });
}

/** True when (ta, ka) comes before (tb, kb). */
function before(ta: bigint, ka: number, tb: bigint, kb: number): boolean {
  return ta < tb || (ta === tb && ka < kb);
}

/** The first or the last sample of each slot. */
class EdgeColumns implements SlotColumns {
  constructor(
    readonly t: bigint[],
    readonly k: number[],
    readonly x: number[],
    private readonly last: boolean,
  ) {}
  get size(): number {
    return this.x.length;
  }
  open(ts: bigint, tie: number, v: number): void {
    this.t.push(ts);
    this.k.push(tie);
    this.x.push(v);
  }
  add(slot: number, ts: bigint, tie: number, v: number): void {
    const replace = this.last ? !before(ts, tie, this.t[slot]!, this.k[slot]!) : before(ts, tie, this.t[slot]!, this.k[slot]!);
    if (!replace) return;
    this.t[slot] = ts;
    this.k[slot] = tie;
    this.x[slot] = v;
  }
  absorb(slot: number, other: EdgeColumns, j: number): void {
    this.add(slot, other.t[j]!, other.k[j]!, other.x[j]!);
  }
  adopt(other: EdgeColumns, j: number): void {
    this.open(other.t[j]!, other.k[j]!, other.x[j]!);
  }
  encode(order: readonly number[]): unknown[] {
    return [order.map((i) => String(this.t[i]!)), order.map((i) => this.k[i]!), order.map((i) => encodeFloat(this.x[i]!))];
  }
  windows(order: readonly number[]): WindowFn {
    // Segments are disjoint and in time order: the window's first sample is its first slot's.
    const x = this.x;
    return this.last ? (_from, to) => x[order[to - 1]!]! : (from) => x[order[from]!]!;
  }
}

/**
 * Prometheus's quantile (as Loki computes it) of `nan` NaNs followed by `sorted` (ascending): NaN
 * sorts below every number, ranks interpolate linearly, q < 0 gives −Inf and q > 1 gives +Inf.
 */
function quantileOfSorted(q: number, sorted: Float64Array, nan: number): number {
  const n = sorted.length + nan;
  if (n === 0) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  const at = (i: number): number => (i < nan ? NaN : sorted[i - nan]!);
  return at(lower) * (1 - weight) + at(upper) * weight;
}

/** Every value of each slot (quantile_over_time). */
class ValueListColumns implements SlotColumns {
  constructor(
    readonly x: number[][],
    private readonly q: number,
  ) {}
  get size(): number {
    return this.x.length;
  }
  open(_ts: bigint, _tie: number, v: number): void {
    this.x.push([v]);
  }
  add(slot: number, _ts: bigint, _tie: number, v: number): void {
    this.x[slot]!.push(v);
  }
  absorb(slot: number, other: ValueListColumns, j: number): void {
    for (const v of other.x[j]!) this.x[slot]!.push(v);
  }
  adopt(other: ValueListColumns, j: number): void {
    this.x.push(other.x[j]!.slice());
  }
  encode(order: readonly number[]): unknown[] {
    return [order.map((i) => this.x[i]!.map(encodeFloat))];
  }
  windows(order: readonly number[]): WindowFn {
    const { x, q } = this;
    let total = 0;
    for (const list of x) total += list.length;
    const buf = new Float64Array(total);
    return (from, to) => {
      let n = 0;
      let nan = 0;
      for (let i = from; i < to; i++) {
        for (const v of x[order[i]!]!) {
          if (Number.isNaN(v)) nan++;
          else buf[n++] = v;
        }
      }
      return quantileOfSorted(q, buf.subarray(0, n).sort(), nan);
    };
  }
}

/** Every (ts, tie, value) of each slot (rate_counter). */
class SampleListColumns implements SlotColumns {
  constructor(
    readonly t: bigint[][],
    readonly k: number[][],
    readonly x: number[][],
  ) {}
  get size(): number {
    return this.x.length;
  }
  open(ts: bigint, tie: number, v: number): void {
    this.t.push([ts]);
    this.k.push([tie]);
    this.x.push([v]);
  }
  add(slot: number, ts: bigint, tie: number, v: number): void {
    this.t[slot]!.push(ts);
    this.k[slot]!.push(tie);
    this.x[slot]!.push(v);
  }
  absorb(slot: number, other: SampleListColumns, j: number): void {
    const tj = other.t[j]!;
    for (let i = 0; i < tj.length; i++) this.add(slot, tj[i]!, other.k[j]![i]!, other.x[j]![i]!);
  }
  adopt(other: SampleListColumns, j: number): void {
    this.t.push(other.t[j]!.slice());
    this.k.push(other.k[j]!.slice());
    this.x.push(other.x[j]!.slice());
  }
  encode(order: readonly number[]): unknown[] {
    return [order.map((i) => this.t[i]!.map(String)), order.map((i) => this.k[i]!), order.map((i) => this.x[i]!.map(encodeFloat))];
  }
  /** Puts each slot's samples in (ts, tie) order, keeping arrival order among full ties. */
  private sortSlots(): void {
    for (let s = 0; s < this.t.length; s++) {
      const t = this.t[s]!;
      const k = this.k[s]!;
      const x = this.x[s]!;
      let sorted = true;
      for (let i = 1; i < t.length && sorted; i++) sorted = !before(t[i]!, k[i]!, t[i - 1]!, k[i - 1]!);
      if (sorted) continue;
      const idx = t.map((_, i) => i).sort((a, b) => (before(t[a]!, k[a]!, t[b]!, k[b]!) ? -1 : before(t[b]!, k[b]!, t[a]!, k[a]!) ? 1 : a - b));
      this.t[s] = idx.map((i) => t[i]!);
      this.k[s] = idx.map((i) => k[i]!);
      this.x[s] = idx.map((i) => x[i]!);
    }
  }
  windows(order: readonly number[], ctx: WindowContext): WindowFn {
    this.sortSlots();
    const { t, x } = this;
    return (from, to, k) => {
      const firstSlot = order[from]!;
      const lastSlot = order[to - 1]!;
      let count = 0;
      for (let i = from; i < to; i++) count += x[order[i]!]!.length;
      const lastList = x[lastSlot]!;
      const lastTimes = t[lastSlot]!;
      return extrapolatedCounterRate(
        count,
        t[firstSlot]![0]!,
        x[firstSlot]![0]!,
        lastTimes[lastTimes.length - 1]!,
        lastList[lastList.length - 1]!,
        (fold) => {
          for (let i = from; i < to; i++) for (const v of x[order[i]!]!) fold(v);
        },
        ctx.windowEnd(k),
        ctx.rangeNs,
        ctx.rangeSeconds,
      );
    };
  }
}

/**
 * Loki's rate_counter: Prometheus's extrapolated rate of a counter over the window
 * `(end − range, end]`, with counter resets, extrapolation to the window's edges when the
 * first/last samples are near them, and no extrapolation below zero; fewer than two samples give 0.
 * `each` replays the window's values in time order.
 */
function extrapolatedCounterRate(
  count: number,
  firstT: bigint,
  firstV: number,
  lastT: bigint,
  lastV: number,
  each: (fold: (v: number) => void) => void,
  end: bigint,
  rangeNs: bigint,
  rangeSeconds: number,
): number {
  if (count < 2) return 0;
  let result = lastV - firstV;
  let previous = 0;
  each((v) => {
    if (v < previous) result += previous;
    previous = v;
  });
  let durationToStart = Number(firstT - (end - rangeNs)) / 1e9;
  let durationToEnd = Number(end - lastT) / 1e9;
  const sampledInterval = Number(lastT - firstT) / 1e9;
  const averageBetween = sampledInterval / (count - 1);
  const threshold = averageBetween * 1.1;
  if (durationToStart >= threshold) durationToStart = averageBetween / 2;
  // A counter cannot go below zero: extrapolate at most to where it would have been zero.
  let durationToZero = durationToStart;
  if (result > 0 && firstV >= 0) durationToZero = sampledInterval * (firstV / result);
  if (durationToZero < durationToStart) durationToStart = durationToZero;
  if (durationToEnd >= threshold) durationToEnd = averageBetween / 2;
  const extrapolateTo = sampledInterval + durationToStart + durationToEnd;
  return (result * (extrapolateTo / sampledInterval)) / rangeSeconds;
}

/** first_over_time (last = false) or last_over_time (last = true). */
export function edgeKind(last: boolean): PartialKind {
  return {
    name: last ? 'last' : 'first',
    create: () => new EdgeColumns([], [], [], last),
    decode: (cols, n) => {
      const [t, k, x] = wireColumns(cols, 3);
      return new EdgeColumns(timeColumn(t, n), tieColumn(k, n), floatColumn(x, n), last);
    },
  };
}

/** quantile_over_time with quantile q. */
export function quantileKind(q: number): PartialKind {
  return {
    name: 'quantile',
    create: () => new ValueListColumns([], q),
    decode: (cols, n) => new ValueListColumns(listColumn(wireColumns(cols, 1)[0], n, (l) => (l as unknown[]).map(decodeFloat), null), q),
  };
}

/** rate_counter. */
export function counterKind(): PartialKind {
  return {
    name: 'counter',
    create: () => new SampleListColumns([], [], []),
    decode: (cols, n) => {
      const [t, k, x] = wireColumns(cols, 3);
      const times = listColumn(t, n, timeColumn, null);
      const lengths = times.map((l) => l.length);
      return new SampleListColumns(times, listColumn(k, n, tieColumn, lengths), listColumn(x, n, floatColumn, lengths));
    },
  };
}
