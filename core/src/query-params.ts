/**
 * Parameters of read requests, parsed in one place for the query service and the storage node.
 *
 * Two dialects:
 * - Silt's own (`/api/v1/*` and the nodes' internal API): timestamps as `parseTimestamp` reads them
 *   (RFC 3339, or integers told apart by magnitude), errors as Silt codes.
 * - Loki's (`/loki/api/v1/*`), as Loki 3.x reads them (pkg/loghttp/params.go): a timestamp with a
 *   `.` is float seconds (rounded to the millisecond), an integer of at most 10 characters is
 *   seconds and a longer one nanoseconds, else RFC 3339; `step` and `interval` are float seconds or
 *   Prometheus durations (`1h30m`, `250ms`); defaults end = now, start = end − `since` (1 h), limit
 *   100, direction backward, step max(floor((end − start) / 250 s), 1) s. Messages are Loki's own
 *   text, because Loki clients show the body of a 400 as it is.
 */
import { BadRequestError, SiltError } from './errors';
import { parsePromDuration } from './logql/parser-values';
import { goQuote } from './logql/format';
import { MAX_TIMESTAMP_NS, parseTimestamp } from './time';

/** A read's direction: newest first (`backward`) or oldest first. */
export type Direction = 'forward' | 'backward';

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
const HOUR_NS = 3600n * NS_PER_S;

/** Now as ns, one past the current millisecond: `end` is exclusive, and an entry stamped now must be read. */
function nowEnd(): bigint {
  return BigInt(Date.now()) * NS_PER_MS + 1n;
}

function given(text: string | undefined): text is string {
  return text !== undefined && text !== '';
}

/** `start`/`end` of a Silt read: end defaults to now, start to an hour before end; end must be after start and, with `maxRangeMs`, no further than that from it. */
export function parseRange(q: { start?: string; end?: string }, maxRangeMs?: number): { start: bigint; end: bigint } {
  const end = given(q.end) ? parseTimestamp(q.end) : nowEnd();
  const start = given(q.start) ? parseTimestamp(q.start) : end - HOUR_NS;
  if (end <= start) throw new BadRequestError('SILT_BAD_RANGE', `end (${end}) must be after start (${start})`);
  if (maxRangeMs !== undefined && end - start > BigInt(maxRangeMs) * NS_PER_MS) {
    throw new SiltError('SILT_RANGE_TOO_LONG', 422, false, `the range spans more than the ${maxRangeMs} ms a query may span`, { maxRangeMs });
  }
  return { start, end };
}

/** `limit` of a Silt read: a positive integer up to `maxLimit`, `defaultLimit` when absent. */
export function parseLimit(text: string | undefined, defaultLimit: number, maxLimit: number): number {
  if (!given(text)) return defaultLimit;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new BadRequestError('SILT_BAD_LIMIT', `limit must be a positive integer, got "${text.slice(0, 40)}"`);
  if (n > maxLimit) throw new SiltError('SILT_LIMIT_TOO_LARGE', 422, false, `limit ${n} is over the maximum of ${maxLimit}`, { maxLimit });
  return n;
}

/** `direction` of a Silt read: `forward` or `backward` (the default). */
export function parseDirection(text: string | undefined): Direction {
  if (!given(text)) return 'backward';
  if (text !== 'forward' && text !== 'backward') throw new BadRequestError('SILT_BAD_DIRECTION', 'direction must be forward or backward');
  return text;
}

/** A 400 whose message is Loki's text for the same mistake. */
function lokiError(code: string, message: string): BadRequestError {
  return new BadRequestError(code, message);
}

/** Go's strconv.ParseFloat syntax, decimal forms and inf/nan (hexadecimal floats are not taken). */
const GO_FLOAT_RE = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;
const GO_INT_RE = /^[+-]?\d+$/;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/** Go's math.Round: halves away from zero. */
function goRound(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** `value` read as Go's strconv.ParseFloat reads it, or null. */
function goFloat(value: string): number | null {
  if (!GO_FLOAT_RE.test(value)) return null;
  const lower = value.toLowerCase().replace(/^\+/, '');
  if (lower.endsWith('nan')) return NaN;
  if (lower.endsWith('inf') || lower.endsWith('infinity')) return lower.startsWith('-') ? -Infinity : Infinity;
  return Number(value);
}

/**
 * A Loki timestamp (loghttp's parseTimestamp) as ns, which may be before the epoch: float seconds
 * when it holds a `.`, an integer of at most 10 characters as seconds, a longer one as ns, else
 * RFC 3339. `def` when absent. The error is Go's (`strconv.ParseInt: parsing "x": invalid syntax`).
 */
export function lokiTimestamp(value: string | undefined, def: bigint): bigint {
  if (!given(value)) return def;
  if (value.includes('.')) {
    const t = goFloat(value);
    if (t !== null && Number.isFinite(t) && Math.abs(t) < 9.2e18) {
      const s = Math.trunc(t);
      const frac = goRound((t - s) * 1000) / 1000;
      return BigInt(s) * NS_PER_S + BigInt(Math.trunc(frac * 1e9));
    }
  }
  if (GO_INT_RE.test(value)) {
    const n = BigInt(value);
    if (n > INT64_MAX || n < INT64_MIN) throw lokiError('SILT_BAD_TIMESTAMP', `strconv.ParseInt: parsing ${goQuote(value)}: value out of range`);
    return value.length <= 10 ? n * NS_PER_S : n;
  }
  if (value.charCodeAt(4) === 45 /* - */) {
    try {
      return parseTimestamp(value);
    } catch {
      // Loki reports the integer parse, not the date parse.
    }
  }
  throw lokiError('SILT_BAD_TIMESTAMP', `strconv.ParseInt: parsing ${goQuote(value)}: invalid syntax`);
}

/** Float seconds, else a Prometheus duration, as ns (loghttp's parseSecondsOrDuration); may be negative. */
export function parseSecondsOrDuration(value: string, code: string): bigint {
  const f = goFloat(value);
  if (f !== null && !Number.isNaN(f)) {
    const ns = f * 1e9;
    // Go compares with float64(math.MaxInt64) and float64(math.MinInt64), which are ±2^63.
    if (ns > 2 ** 63 || ns < -(2 ** 63)) {
      throw lokiError(code, `cannot parse ${goQuote(value)} to a valid duration. It overflows int64`);
    }
    return BigInt(Math.trunc(ns));
  }
  const d = parsePromDuration(value);
  if (typeof d === 'string') throw lokiError(code, `cannot parse ${goQuote(value)} to a valid duration`);
  return d;
}

/** `start`/`end`/`since` of a Loki request (loghttp's bounds): end defaults to now, start to min(end, now) − since (1 h by default). */
export function lokiBounds(q: { start?: string; end?: string; since?: string }, now: bigint = nowEnd()): { start: bigint; end: bigint } {
  let since = HOUR_NS;
  if (given(q.since)) {
    const d = parsePromDuration(q.since);
    if (typeof d === 'string') throw lokiError('SILT_BAD_RANGE', `could not parse 'since' parameter: ${d}`);
    since = d;
  }
  const end = withContext('end', () => lokiTimestamp(q.end, now));
  const endOrNow = end > now ? now : end;
  const start = withContext('start', () => lokiTimestamp(q.start, endOrNow - since));
  return { start, end };
}

function withContext(name: string, parse: () => bigint): bigint {
  try {
    return parse();
  } catch (err) {
    throw lokiError('SILT_BAD_TIMESTAMP', `could not parse '${name}' parameter: ${(err as Error).message}`);
  }
}

/** `limit` of a Loki query: a positive integer, 100 when absent (Go's strconv.Atoi messages). */
export function lokiLimit(text: string | undefined, defaultLimit = 100): number {
  if (!given(text)) return defaultLimit;
  if (!GO_INT_RE.test(text)) throw lokiError('SILT_BAD_LIMIT', `strconv.Atoi: parsing ${goQuote(text)}: invalid syntax`);
  const n = BigInt(text);
  if (n > INT64_MAX || n < INT64_MIN) throw lokiError('SILT_BAD_LIMIT', `strconv.Atoi: parsing ${goQuote(text)}: value out of range`);
  if (n <= 0n) throw lokiError('SILT_BAD_LIMIT', 'limit must be a positive value');
  if (n > 4294967295n) throw lokiError('SILT_BAD_LIMIT', `limit value ${n} is out of range [0, 4294967295]`);
  return Number(n);
}

/** `direction` of a Loki query: `forward` or `backward` in any case, backward when absent. */
export function lokiDirection(text: string | undefined): Direction {
  if (!given(text)) return 'backward';
  const lower = text.toLowerCase();
  if (lower !== 'forward' && lower !== 'backward') throw lokiError('SILT_BAD_DIRECTION', `invalid direction '${text}'`);
  return lower;
}

/** The step Loki uses when a range query names none: max(floor((end − start) / 250 s), 1) s. */
export function defaultStep(start: bigint, end: bigint): bigint {
  const seconds = Math.floor(Number(end - start) / 1e9 / 250);
  return BigInt(Math.max(seconds, 1)) * NS_PER_S;
}

/** Most points a range query may have per series, as Loki allows. */
const MAX_POINTS = 11000n;

/** A parsed Loki range query's time parameters. */
export interface LokiRangeParams {
  start: bigint;
  end: bigint;
  /** ns, positive. */
  step: bigint;
  /** ns, 0 when absent: thins log query results to one entry per interval. */
  interval: bigint;
  limit: number;
  direction: Direction;
}

/** The parameters of `/loki/api/v1/query_range` in Loki's order of checks (loghttp's ParseRangeQuery), with Loki's messages. */
export function lokiRangeParams(q: { start?: string; end?: string; since?: string; step?: string; interval?: string; limit?: string; direction?: string }, now?: bigint): LokiRangeParams {
  const { start, end } = lokiBounds(q, now);
  if (end < start) throw lokiError('SILT_BAD_RANGE', 'end timestamp must not be before or equal to start time');
  const limit = lokiLimit(q.limit);
  const direction = lokiDirection(q.direction);
  const step = given(q.step) ? parseSecondsOrDuration(q.step, 'SILT_BAD_STEP') : defaultStep(start, end);
  if (step <= 0n) throw lokiError('SILT_BAD_STEP', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
  if ((end - start) / step > MAX_POINTS) {
    throw lokiError('SILT_BAD_STEP', 'exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter');
  }
  const interval = given(q.interval) ? parseSecondsOrDuration(q.interval, 'SILT_BAD_INTERVAL') : 0n;
  if (interval < 0n) throw lokiError('SILT_BAD_INTERVAL', 'interval must be >= 0');
  return { start, end, step, interval, limit, direction };
}

/** The parameters of `/loki/api/v1/query` (loghttp's ParseInstantQuery): `time` (default now), limit, direction. */
export function lokiInstantParams(q: { time?: string; limit?: string; direction?: string }, now: bigint = nowEnd()): { time: bigint; limit: number; direction: Direction } {
  const limit = lokiLimit(q.limit);
  const time = lokiTimestamp(q.time, now);
  return { time, limit, direction: lokiDirection(q.direction) };
}

/** A Loki timestamp clamped to what Silt stores (0 … 2^63 − 1 ns), for reads. */
export function clampToStored(ns: bigint): bigint {
  return ns < 0n ? 0n : ns > MAX_TIMESTAMP_NS ? MAX_TIMESTAMP_NS : ns;
}
