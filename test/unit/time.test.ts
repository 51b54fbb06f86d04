import { BadRequestError } from '../../core/src/errors';
import { formatNs, MAX_TIMESTAMP_NS, nowNs, parseTimestamp, rfc3339Bytes, splitHalves, splitNs, splitTimestamp, type SecondsAndNanos } from '../../core/src/time';

const MS = 1_000_000n;
const S = 1_000_000_000n;

/** ns of a UTC wall time, computed through Date (whole milliseconds only). */
function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): bigint {
  return BigInt(Date.UTC(y, mo - 1, d, h, mi, s)) * MS;
}

describe('core > time > parse timestamp > RFC 3339', () => {
  it('is exact to the nanosecond', () => {
    expect(parseTimestamp('2026-11-26T04:00:00.123456789Z')).toBe(utc(2026, 11, 26, 4) + 123_456_789n);
    expect(parseTimestamp('2026-11-26T04:00:00.000000001Z')).toBe(utc(2026, 11, 26, 4) + 1n);
    expect(parseTimestamp('2262-04-11T23:47:16.854775807Z')).toBe(MAX_TIMESTAMP_NS);
  });

  it.each([
    ['2026-11-26T04:00:00Z', 0n],
    ['2026-11-26T04:00:00.5Z', 500_000_000n],
    ['2026-11-26T04:00:00.12Z', 120_000_000n],
    ['2026-11-26T04:00:00.123Z', 123_000_000n],
    ['2026-11-26T04:00:00.123456Z', 123_456_000n],
    ['2026-11-26T04:00:00.1234567891234Z', 123_456_789n],
  ])('accepts any fractional precision: %s', (text, frac) => {
    expect(parseTimestamp(text)).toBe(utc(2026, 11, 26, 4) + frac);
  });

  it.each([
    ['2026-11-26T06:00:00+02:00', '2026-11-26T04:00:00Z'],
    ['2026-11-25T22:30:00-05:30', '2026-11-26T04:00:00Z'],
    ['2026-11-26T04:00:00.25+00:00', '2026-11-26T04:00:00.25Z'],
    ['2026-11-26T04:00:00-00:00', '2026-11-26T04:00:00Z'],
    ['2026-11-26t04:00:00z', '2026-11-26T04:00:00Z'],
    ['2026-11-26 04:00:00Z', '2026-11-26T04:00:00Z'],
    ['2027-01-01T01:00:00.000000007+02:00', '2026-12-31T23:00:00.000000007Z'],
  ])('applies the offset of %s', (text, same) => {
    expect(parseTimestamp(text)).toBe(parseTimestamp(same));
  });

  it('agrees with Date for dates across the whole range, leap years included', () => {
    const dates = ['1970-01-01T00:00:00Z', '2000-02-29T12:34:56Z', '2024-02-29T23:59:59Z', '2100-03-01T00:00:00Z', '2262-04-11T23:47:16Z'];
    for (let i = 0; i < 500; i++) dates.push(new Date(Math.floor(Math.random() * 9.2e12)).toISOString().replace(/\.\d+Z$/, 'Z'));
    for (const d of dates) expect(parseTimestamp(d)).toBe(BigInt(Date.parse(d)) * MS);
  });

  it.each([
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-11-26T24:00:00Z',
    '2026-11-26T04:60:00Z',
    '2026-11-26T04:00:60Z',
    '2026-11-26T04:00:00+24:00',
    '2026-11-26T04:00:00',
    '2026-11-26',
    '2026-11-26T04:00Z',
    '2026-11-26T04:00:00.Z',
    '2026-11-26T04:00:00Z ',
    '1969-12-31T23:59:59Z',
    '2262-04-11T23:47:16.854775808Z',
    '9999-12-31T23:59:59Z',
  ])('rejects %s', (text) => {
    expect(() => parseTimestamp(text)).toThrow(expect.objectContaining({ code: 'SILT_BAD_TIMESTAMP', status: 400 }));
  });
});

describe('core > time > parse timestamp > integers by magnitude', () => {
  it.each([
    ['seconds (number)', 1_764_129_600, 1_764_129_600n * S],
    ['seconds (string)', '1764129600', 1_764_129_600n * S],
    ['milliseconds (number)', 1_764_129_600_123, 1_764_129_600_123n * MS],
    ['milliseconds (string)', '1764129600123', 1_764_129_600_123n * MS],
    ['microseconds (number)', 1_764_129_600_123_456, 1_764_129_600_123_456_000n],
    ['microseconds (string)', '1764129600123456', 1_764_129_600_123_456_000n],
    ['nanoseconds (string, exact)', '1764129600123456789', 1_764_129_600_123_456_789n],
    ['nanoseconds (bigint)', 1_764_129_600_123_456_789n, 1_764_129_600_123_456_789n],
    ['nanoseconds (small bigint, never scaled by magnitude)', 1n, 1n],
    ['nanoseconds (bigint of a 1972 Timestamp)', 99_999_999_999_999_999n, 99_999_999_999_999_999n],
    ['zero', 0, 0n],
    ['zero (string)', '0', 0n],
    ['leading zeros', '0001764129600', 1_764_129_600n * S],
  ])('reads %s', (_name, value, expected) => {
    expect(parseTimestamp(value)).toBe(expected);
  });

  it('reads nanoseconds as a number with the precision of a double', () => {
    const n = Number('1764129600123456789'); // JSON.parse reads such a number as the nearest double
    expect(parseTimestamp(n)).toBe(1_764_129_600_123_456_768n);
  });

  it('tells units apart at the documented boundaries', () => {
    const outOfRange = expect.objectContaining({ code: 'SILT_BAD_TIMESTAMP' });
    // Below 1e11: seconds. The top of that range is past 2^63-1 ns (year 2262), so it is refused, never read as ms.
    expect(parseTimestamp(9_223_372_036)).toBe(9_223_372_036n * S);
    expect(() => parseTimestamp(99_999_999_999)).toThrow(outOfRange);
    expect(parseTimestamp(100_000_000_000)).toBe(100_000_000_000n * MS);
    expect(parseTimestamp('9223372036854')).toBe(9_223_372_036_854n * MS);
    expect(() => parseTimestamp('99999999999999')).toThrow(outOfRange);
    expect(parseTimestamp('100000000000000')).toBe(100_000_000_000_000_000n);
    expect(parseTimestamp('9223372036854775')).toBe(9_223_372_036_854_775_000n);
    expect(() => parseTimestamp('99999999999999999')).toThrow(outOfRange);
    expect(parseTimestamp('100000000000000000')).toBe(100_000_000_000_000_000n);
  });

  it('accepts fractions, truncating below a nanosecond', () => {
    expect(parseTimestamp(1_700_000_000.5)).toBe(1_700_000_000_500_000_000n);
    expect(parseTimestamp('1700000000.5')).toBe(1_700_000_000_500_000_000n);
    expect(parseTimestamp('1700000000.123456789')).toBe(1_700_000_000_123_456_789n);
    expect(parseTimestamp('1700000000.1234567899')).toBe(1_700_000_000_123_456_789n);
    expect(parseTimestamp(1_700_000_000.25)).toBe(1_700_000_000_250_000_000n);
    expect(parseTimestamp('1700000000123.5')).toBe(1_700_000_000_123_500_000n);
    expect(parseTimestamp('1700000000123456.7')).toBe(1_700_000_000_123_456_700n);
    expect(parseTimestamp('1700000000123456789.9')).toBe(1_700_000_000_123_456_789n);
    expect(parseTimestamp(0.0000001)).toBe(100n);
    expect(parseTimestamp('00.5')).toBe(500_000_000n);
    expect(parseTimestamp('1764129600123.456789')).toBe(1_764_129_600_123_456_789n);
    expect(parseTimestamp('1764129600123.000')).toBe(1_764_129_600_123_000_000n);
    expect(parseTimestamp('1764129600123456.789')).toBe(1_764_129_600_123_456_789n);
  });

  it.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a negative number', -1],
    ['a negative string', '-1'],
    ['a negative bigint', -1n],
    ['more than 2^63-1 ns', '9223372036854775808'],
    ['a huge number', 2 ** 70],
    ['a long digit string', '1'.repeat(40)],
    ['an exponent string', '1.7e9'],
    ['a trailing dot', '1700000000.'],
    ['a leading dot', '.5'],
    ['two dots', '1.2.3'],
    ['a plus sign', '+1700000000'],
    ['garbage', 'yesterday'],
    ['an empty string', ''],
    ['a padded string', ' 1700000000'],
    ['a hex string', '0x10'],
    ['true', true],
    ['false', false],
    ['null', null],
    ['undefined', undefined],
    ['an object', { s: 1 }],
    ['an array', [1]],
  ])('rejects %s', (_name, value) => {
    let error: unknown;
    try {
      parseTimestamp(value);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error).toMatchObject({ code: 'SILT_BAD_TIMESTAMP', status: 400 });
    expect((error as Error).message).toMatch(/^timestamp /);
  });

  it('names the value in the message', () => {
    expect(() => parseTimestamp('yesterday')).toThrow(/"yesterday"/);
    expect(() => parseTimestamp(-5)).toThrow(/-5/);
    expect(() => parseTimestamp(true)).toThrow(/boolean/);
  });
});

describe('core > time > now and format', () => {
  it('is never below Date.now() and strictly increases', () => {
    const before = BigInt(Date.now()) * MS;
    let last = nowNs();
    expect(last).toBeGreaterThanOrEqual(before);
    let increasing = true;
    let neverBelowWallClock = true;
    for (let i = 0; i < 100_000; i++) {
      const wall = BigInt(Date.now()) * MS;
      const n = nowNs();
      if (n <= last) increasing = false;
      if (n < wall) neverBelowWallClock = false;
      last = n;
    }
    expect(increasing).toBe(true);
    expect(neverBelowWallClock).toBe(true);
    expect(last).toBeLessThan((BigInt(Date.now()) + 10n) * MS); // close to the wall clock
  });

  it('formats nanoseconds as a decimal string', () => {
    expect(formatNs(1_764_129_600_123_456_789n)).toBe('1764129600123456789');
    expect(formatNs(0n)).toBe('0');
    expect(parseTimestamp(formatNs(MAX_TIMESTAMP_NS))).toBe(MAX_TIMESTAMP_NS);
  });
});

describe('core > time > seconds and nanoseconds', () => {
  const of = (value: unknown): [number, number] | string => {
    const out: SecondsAndNanos = { seconds: 0, nanos: 0 };
    try {
      splitTimestamp(value, out);
    } catch (err) {
      return (err as Error).message;
    }
    return [out.seconds, out.nanos];
  };
  const expected = (value: unknown): [number, number] | string => {
    try {
      const ns = parseTimestamp(value);
      return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('splits every form parseTimestamp takes as parseTimestamp reads it, and refuses what it refuses, in its words', () => {
    const values: unknown[] = [
      '2026-12-02T06:00:00Z',
      '2026-12-02T06:00:00.123456789Z',
      '2026-12-02t06:00:00.1z',
      '2026-12-02 06:00:00.000001+02:30',
      '2026-12-02T06:00:00.9999999999-11:59',
      '1970-01-01T00:00:00Z',
      '1969-12-31T23:59:59Z',
      '2262-04-11T23:47:16.854775807Z',
      '2262-04-11T23:47:16.854775808Z',
      '2024-02-29T00:00:00Z',
      '2025-02-29T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-12-02T24:00:00Z',
      '2026-12-02T06:00:00+24:00',
      '2026-12-02T06:00:00',
      '2026-12-02',
      '1764655200123456789',
      '1764655200.5',
      1764655200123,
      1764655200,
      1_764_655_200_123_456_789n,
      'yesterday',
      -1,
    ];
    for (const value of values) expect([value, of(value)]).toEqual([value, expected(value)]);
  });

  it('reads RFC 3339 from bytes inside a larger buffer as from its text, never past the range', () => {
    const texts = ['2026-12-02T06:00:00Z', '2026-12-02T06:00:00.123456789Z', '2026-12-02 06:00:00.000001+02:30', '2026-12-02T06:00:00.9999999999-11:59', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-12-02T06:00:00+24:00', '2026-12-02T06:00:00', '2026-12-02T06:00:00.', '2026-12-02T06:00:00+02'];
    const bytesOf = (text: string): [number, number] | string | false => {
      // Digits and a zone right after the range: a parser that read past `end` would take them.
      const buf = Buffer.from(`xx${text}12:34Z`, 'latin1');
      const out: SecondsAndNanos = { seconds: 0, nanos: 0 };
      try {
        return rfc3339Bytes(buf, 2, 2 + text.length, out) ? [out.seconds, out.nanos] : false;
      } catch (err) {
        return (err as Error).message;
      }
    };
    const textOf = (text: string): [number, number] | string | false => {
      const out: SecondsAndNanos = { seconds: 0, nanos: 0 };
      try {
        splitTimestamp(text, out);
        return [out.seconds, out.nanos];
      } catch (err) {
        const message = (err as Error).message;
        return message.includes('is neither RFC 3339') ? false : message;
      }
    };
    for (const text of texts) expect([text, bytesOf(text)]).toEqual([text, textOf(text)]);
    expect(bytesOf('2026-12-02T06:00:00.5Z')).toEqual([Number(utc(2026, 12, 2, 6) / S), 500_000_000]);
  });

  it('refuses a string with a character past ASCII where the shape has a digit or a separator', () => {
    const out: SecondsAndNanos = { seconds: 0, nanos: 0 };
    // U+0130 in latin1 would be 0x30, the digit 0: it must not read as one.
    expect(() => splitTimestamp('2026-12-02T06:00:0\u0130Z', out)).toThrow('is neither RFC 3339');
    expect(() => splitTimestamp('2026-12-02T06:00:00.\u0131Z', out)).toThrow('is neither RFC 3339');
  });

  it('splits any 64-bit count of nanoseconds exactly', () => {
    const out: SecondsAndNanos = { seconds: 0, nanos: 0 };
    const samples = [0n, 1n, 999_999_999n, 1_000_000_000n, MAX_TIMESTAMP_NS, (1n << 64n) - 1n, (1n << 32n) * 1_000_000_000n - 1n];
    for (let i = 0n; i < 5_000n; i++) samples.push((i * 7_919_000_000_000_017n) % (1n << 64n));
    for (const ns of samples) {
      splitNs(ns, out);
      expect([ns, BigInt(out.seconds) * 1_000_000_000n + BigInt(out.nanos), out.nanos < 1e9]).toEqual([ns, ns, true]);
      splitHalves(Number(ns & 0xffffffffn), Number(ns >> 32n), out);
      expect([ns, BigInt(out.seconds) * 1_000_000_000n + BigInt(out.nanos)]).toEqual([ns, ns]);
    }
  });
});
