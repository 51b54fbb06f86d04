import { BadRequestError, SiltError } from '../../core/src/errors';
import {
  clampToStored,
  defaultStep,
  lokiBounds,
  lokiDirection,
  lokiInstantParams,
  lokiLimit,
  lokiRangeParams,
  lokiTimestamp,
  parseDirection,
  parseLimit,
  parseRange,
  parseSecondsOrDuration,
} from '../../core/src/query-params';
import { MAX_TIMESTAMP_NS } from '../../core/src/time';

const S = 1_000_000_000n;
const MS = 1_000_000n;
const T0 = 1_765_440_000n * S;

/** The message of what `fn` throws, checked to be a 400 with `code`. */
function rejects(fn: () => unknown, code: string): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).code).toBe(code);
    return (err as Error).message;
  }
  throw new Error('did not throw');
}

describe('core > query params > silt dialect', () => {
  it('reads start and end by the magnitude rule, end exclusive after start', () => {
    expect(parseRange({ start: '1765440000', end: '1765440000500' })).toEqual({ start: T0, end: T0 + 500n * MS });
    expect(parseRange({ start: '2025-12-11T08:00:00Z', end: '2025-12-11T09:00:00Z' })).toEqual({ start: T0, end: T0 + 3600n * S });
  });

  it('defaults end to now and start to an hour before end; empty values count as absent', () => {
    const before = BigInt(Date.now()) * MS;
    const { start, end } = parseRange({ start: '', end: '' });
    expect(end >= before && end <= BigInt(Date.now()) * MS + 1n).toBe(true);
    expect(end - start).toBe(3600n * S);
    expect(parseRange({ end: '1765440000' })).toEqual({ start: T0 - 3600n * S, end: T0 });
  });

  it('refuses end at or before start (400) and a range over the maximum (422)', () => {
    rejects(() => parseRange({ start: '1765440000', end: '1765440000' }), 'SILT_BAD_RANGE');
    expect(() => parseRange({ start: '1765440000', end: '1765443601' }, 3600_000)).toThrow(SiltError);
    try {
      parseRange({ start: '1765440000', end: '1765443601' }, 3600_000);
    } catch (err) {
      expect([(err as SiltError).status, (err as SiltError).code]).toEqual([422, 'SILT_RANGE_TOO_LONG']);
    }
    expect(parseRange({ start: '1765440000', end: '1765443600' }, 3600_000).end).toBe(T0 + 3600n * S);
  });

  it('reads limit as a positive integer up to the maximum', () => {
    expect(parseLimit(undefined, 100, 5000)).toBe(100);
    expect(parseLimit('', 100, 5000)).toBe(100);
    expect(parseLimit('5000', 100, 5000)).toBe(5000);
    for (const bad of ['0', '-1', '1.5', 'ten', '1e3']) rejects(() => parseLimit(bad, 100, 5000), 'SILT_BAD_LIMIT');
    try {
      parseLimit('5001', 100, 5000);
      throw new Error('did not throw');
    } catch (err) {
      expect([(err as SiltError).status, (err as SiltError).code]).toEqual([422, 'SILT_LIMIT_TOO_LARGE']);
    }
  });

  it('reads direction, backward by default', () => {
    expect(parseDirection(undefined)).toBe('backward');
    expect(parseDirection('forward')).toBe('forward');
    rejects(() => parseDirection('FORWARD'), 'SILT_BAD_DIRECTION');
  });
});

describe('core > query params > loki dialect > timestamps', () => {
  it.each([
    ['1765440000', T0],
    ['-3600', -3600n * S],
    ['+60', 60n * S],
    ['1765440000000000000', T0],
    ['17654400001', 17654400001n],
    ['1765440000.5', T0 + 500n * MS],
    ['1765440000.1234', T0 + 123n * MS],
    ['1765440000.9996', T0 + 1000n * MS],
    ['600.5', 600n * S + 500n * MS],
    ['2025-12-11T08:00:00.000000001Z', T0 + 1n],
    ['2025-12-11T09:00:00+01:00', T0],
  ])('reads %s as Loki does', (text, ns) => {
    expect(lokiTimestamp(text, 0n)).toBe(ns);
  });

  it('gives the default when absent and Go\'s error otherwise', () => {
    expect(lokiTimestamp(undefined, 42n)).toBe(42n);
    expect(lokiTimestamp('', 42n)).toBe(42n);
    expect(rejects(() => lokiTimestamp('yesterday', 0n), 'SILT_BAD_TIMESTAMP')).toBe('strconv.ParseInt: parsing "yesterday": invalid syntax');
    expect(rejects(() => lokiTimestamp('99999999999999999999', 0n), 'SILT_BAD_TIMESTAMP')).toBe('strconv.ParseInt: parsing "99999999999999999999": value out of range');
  });

  it('defaults end to now and start to min(end, now) − since', () => {
    const now = T0 + 7200n * S;
    expect(lokiBounds({}, now)).toEqual({ start: now - 3600n * S, end: now });
    expect(lokiBounds({ since: '15m' }, now)).toEqual({ start: now - 900n * S, end: now });
    expect(lokiBounds({ end: String(T0 / S) }, now)).toEqual({ start: T0 - 3600n * S, end: T0 });
    // An end in the future does not move the default start.
    expect(lokiBounds({ end: String(now / S + 86400n) }, now).start).toBe(now - 3600n * S);
    expect(rejects(() => lokiBounds({ start: 'x' }, now), 'SILT_BAD_TIMESTAMP')).toBe(`could not parse 'start' parameter: strconv.ParseInt: parsing "x": invalid syntax`);
    expect(rejects(() => lokiBounds({ since: '1.5h' }, now), 'SILT_BAD_RANGE')).toBe(`could not parse 'since' parameter: unknown unit "." in duration "1.5h"`);
  });

  it('clamps what Silt cannot store', () => {
    expect(clampToStored(-5n)).toBe(0n);
    expect(clampToStored(5n)).toBe(5n);
    expect(clampToStored(MAX_TIMESTAMP_NS + 1n)).toBe(MAX_TIMESTAMP_NS);
  });
});

describe('core > query params > loki dialect > range queries', () => {
  const base = { start: String(T0 / S), end: String(T0 / S + 7200n) };

  it('takes the default step of max(floor(range / 250 s), 1) s', () => {
    expect(defaultStep(T0, T0 + 7200n * S)).toBe(28n * S);
    expect(defaultStep(T0, T0 + 100n * S)).toBe(S);
    expect(defaultStep(T0, T0)).toBe(S);
    expect(lokiRangeParams(base).step).toBe(28n * S);
  });

  it('reads step and interval as float seconds or Prometheus durations', () => {
    expect(lokiRangeParams({ ...base, step: '60' }).step).toBe(60n * S);
    expect(lokiRangeParams({ ...base, step: '2.5' }).step).toBe(2500n * MS);
    expect(lokiRangeParams({ ...base, step: '1m30s' }).step).toBe(90n * S);
    expect(lokiRangeParams({ ...base, step: '15000ms' }).step).toBe(15n * S);
    expect(lokiRangeParams({ ...base, interval: '300s' }).interval).toBe(300n * S);
    expect(lokiRangeParams(base).interval).toBe(0n);
  });

  it('has Loki\'s defaults for limit and direction', () => {
    const r = lokiRangeParams(base);
    expect([r.limit, r.direction, r.start, r.end]).toEqual([100, 'backward', T0, T0 + 7200n * S]);
    expect(lokiRangeParams({ ...base, direction: 'FORWARD', limit: '7' })).toMatchObject({ direction: 'forward', limit: 7 });
  });

  it.each([
    [{ step: '-60s' }, 'SILT_BAD_STEP', 'cannot parse "-60s" to a valid duration'],
    [{ step: '-60' }, 'SILT_BAD_STEP', 'zero or negative query resolution step widths are not accepted. Try a positive integer'],
    [{ step: '0' }, 'SILT_BAD_STEP', 'zero or negative query resolution step widths are not accepted. Try a positive integer'],
    [{ step: '0.5' }, 'SILT_BAD_STEP', 'exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter'],
    [{ step: '1e30' }, 'SILT_BAD_STEP', 'cannot parse "1e30" to a valid duration. It overflows int64'],
    [{ interval: '-1' }, 'SILT_BAD_INTERVAL', 'interval must be >= 0'],
    [{ interval: 'soon' }, 'SILT_BAD_INTERVAL', 'cannot parse "soon" to a valid duration'],
    [{ limit: '0' }, 'SILT_BAD_LIMIT', 'limit must be a positive value'],
    [{ limit: 'many' }, 'SILT_BAD_LIMIT', 'strconv.Atoi: parsing "many": invalid syntax'],
    [{ direction: 'sideways' }, 'SILT_BAD_DIRECTION', "invalid direction 'sideways'"],
    [{ start: String(T0 / S + 1n), end: String(T0 / S) }, 'SILT_BAD_RANGE', 'end timestamp must not be before or equal to start time'],
  ])('answers %j with Loki\'s message', (extra, code, message) => {
    expect(rejects(() => lokiRangeParams({ ...base, ...extra }), code)).toBe(message);
  });

  it('accepts end equal to start, and 11,000 steps exactly', () => {
    expect(lokiRangeParams({ start: base.start, end: base.start }).end).toBe(T0);
    expect(lokiRangeParams({ start: base.start, end: String(T0 / S + 11000n), step: '1' }).step).toBe(S);
  });
});

describe('core > query params > loki dialect > instant queries and the rest', () => {
  it('reads time (default now), limit and direction', () => {
    expect(lokiInstantParams({ time: '4000000000' }, 0n)).toEqual({ time: 4_000_000_000n * S, limit: 100, direction: 'backward' });
    expect(lokiInstantParams({}, 77n).time).toBe(77n);
    expect(rejects(() => lokiInstantParams({ time: 'noon' }), 'SILT_BAD_TIMESTAMP')).toBe('strconv.ParseInt: parsing "noon": invalid syntax');
  });

  it('reads directions in any case and limits up to 2^32 − 1', () => {
    expect(lokiDirection('Backward')).toBe('backward');
    expect(lokiLimit('4294967295')).toBe(4294967295);
    expect(rejects(() => lokiLimit('4294967296'), 'SILT_BAD_LIMIT')).toBe('limit value 4294967296 is out of range [0, 4294967295]');
  });

  it('reads seconds or durations exactly', () => {
    expect(parseSecondsOrDuration('1h', 'X')).toBe(3600n * S);
    expect(parseSecondsOrDuration('1y', 'X')).toBe(365n * 86400n * S);
    expect(parseSecondsOrDuration('0.001', 'X')).toBe(MS);
    expect(rejects(() => parseSecondsOrDuration('1h1d', 'X'), 'X')).toBe('cannot parse "1h1d" to a valid duration');
  });
});
