/**
 * Timestamps: nanoseconds since the epoch as `bigint`, parsed from requests and formatted for responses.
 *
 * Accepted request forms (`parseTimestamp`):
 * - RFC 3339 (`2026-11-26T04:00:00.123456789Z`, `2026-11-26T06:00:00+02:00`): any number of
 *   fractional digits, exact to the nanosecond (digits past the ninth are truncated); `T`, `t` or a
 *   space between date and time; `Z`, `z` or a `±hh:mm` offset; seconds 00–59 (no leap second).
 * - An integer, as a JSON number or a decimal string, whose unit is told apart by magnitude of its
 *   integer part n: n < 1e11 → seconds, n < 1e14 → milliseconds, n < 1e17 → microseconds, else
 *   nanoseconds. A fraction is allowed (`"1700000000.5"`, `1700000000123.25`); digits finer than a
 *   nanosecond are truncated. JSON numbers above 2^53 lose precision before Silt sees them: send
 *   nanoseconds as strings.
 * - Rejected: negative values, non-finite numbers, anything past 2^63−1 ns (2262-04-11), exponents
 *   in strings, whitespace, booleans, null, objects and arrays.
 */
import { BadRequestError } from './errors';

/** The largest timestamp Silt stores: 2^63 − 1 ns, about 2262-04-11T23:47:16Z. */
export const MAX_TIMESTAMP_NS = (1n << 63n) - 1n;

const NS_PER_S = 1_000_000_000n;
/** The last whole second whose every nanosecond is at most MAX_TIMESTAMP_NS (2262-04-11T23:47:15Z). */
export const LAST_SAFE_SECOND = 9_223_372_035;
/** Powers of ten as bigint, for unit scaling (index = exponent). */
const POW10 = [1n, 10n, 100n, 1000n, 10000n, 100000n, 1000000n, 10000000n, 100000000n, 1000000000n];
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value);
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function bad(value: unknown, why: string): BadRequestError {
  return new BadRequestError('SILT_BAD_TIMESTAMP', `timestamp ${describe(value)} ${why}`, { value: describe(value) });
}

function checkRange(ns: bigint, value: unknown): bigint {
  if (ns < 0n) throw bad(value, 'is before 1970-01-01T00:00:00Z');
  if (ns > MAX_TIMESTAMP_NS) throw bad(value, 'is past 2262-04-11T23:47:16.854775807Z, the largest nanosecond timestamp');
  return ns;
}

/** Decimal exponent that turns a value of this many integer digits into nanoseconds (the magnitude rule). */
function unitExponent(intDigits: number): number {
  if (intDigits <= 11) return 9; // < 1e11: seconds
  if (intDigits <= 14) return 6; // < 1e14: milliseconds
  if (intDigits <= 17) return 3; // < 1e17: microseconds
  return 0; // nanoseconds
}

function fromNumber(n: number): bigint {
  if (!Number.isFinite(n)) throw bad(n, 'is not a finite number');
  if (n < 0) throw bad(n, 'is negative');
  if (Number.isInteger(n)) {
    const exp = n < 1e11 ? 9 : n < 1e14 ? 6 : n < 1e17 ? 3 : 0;
    if (n > 1e20) throw bad(n, 'is past 2262-04-11T23:47:16.854775807Z, the largest nanosecond timestamp');
    return checkRange(BigInt(n) * POW10[exp]!, n);
  }
  // The shortest decimal that round-trips is what the sender most likely wrote (tiny values print with an exponent).
  const text = String(n);
  const ns = fromDecimalString(text.includes('e') ? n.toFixed(20) : text, n);
  if (ns === null) throw bad(n, 'is not a usable number');
  return ns;
}

/** Two ASCII digits at `i` as a number, or -1. */
function twoDigits(s: Uint8Array, i: number): number {
  const a = s[i]! - 48;
  const b = s[i + 1]! - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** The last whole second `fromRfc3339` converted, and its nanoseconds. */
let lastSeconds = NaN;
let lastSecondsNs = 0n;

/** Where `rfc3339Parts` copies a string's characters as bytes; longer strings get their own buffer. */
const TEXT_BYTES = new Uint8Array(48);

/** `rfc3339Bytes` of a string: a character past ASCII never matches the shape, so such a string is refused before it is copied as bytes. */
function rfc3339Parts(value: string, out: SecondsAndNanos): boolean {
  const n = value.length;
  const bytes = n <= TEXT_BYTES.length ? TEXT_BYTES : new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7f) return false;
    bytes[i] = c;
  }
  return rfc3339Bytes(bytes, 0, n, out, value);
}

/** The error for a part of an RFC 3339 time out of its range: `name` and its text src[start + from, start + to), which `value` (else the bytes' text) holds. */
function badPart(src: Uint8Array, start: number, n: number, value: string | undefined, name: string, from: number, to: number, allowed: string): BadRequestError {
  const text = value ?? Buffer.from(src.buffer, src.byteOffset + start, n).toString('latin1');
  return bad(text, `has ${name} ${text.slice(from, to)}, ${allowed}`);
}

/**
 * Parses `YYYY-MM-DD[Tt ]hh:mm:ss[.f+](Z|z|±hh:mm)` in the bytes src[start, end) by hand (no
 * regex, no substrings) into whole seconds since the epoch (any sign) and nanoseconds in `out`;
 * false when the shape is wrong, throws for a field out of its range (naming `value`, else the
 * bytes' text). Bytes, not a string: a byte is read faster than a character, and a protocol that
 * has the bytes (an Elasticsearch document) makes no string at all. Nothing past `end` is read.
 */
export function rfc3339Bytes(src: Uint8Array, start: number, end: number, out: SecondsAndNanos, value?: string): boolean {
  const s = src;
  const o = start;
  const n = end - start;
  if (n < 20) return false;
  const y1 = twoDigits(s, o);
  const y2 = twoDigits(s, o + 2);
  const month = twoDigits(s, o + 5);
  const day = twoDigits(s, o + 8);
  const hour = twoDigits(s, o + 11);
  const minute = twoDigits(s, o + 14);
  const second = twoDigits(s, o + 17);
  const sep = s[o + 10];
  if (
    y1 < 0 ||
    y2 < 0 ||
    month < 0 ||
    day < 0 ||
    hour < 0 ||
    minute < 0 ||
    second < 0 ||
    s[o + 4] !== 45 ||
    s[o + 7] !== 45 ||
    (sep !== 84 && sep !== 116 && sep !== 32) ||
    s[o + 13] !== 58 ||
    s[o + 16] !== 58
  ) {
    return false;
  }
  let i = 19;
  let frac = 0;
  let fracDigits = 0;
  if (s[o + i] === 46) {
    i++;
    const fracStart = i;
    for (; i < n; i++) {
      const c = s[o + i]! - 48;
      if (c < 0 || c > 9) break;
      if (fracDigits < 9) {
        frac = frac * 10 + c;
        fracDigits++;
      }
    }
    if (i === fracStart) return false;
  }
  let offsetMinutes = 0;
  const z = i < n ? s[o + i] : -1;
  if (z === 90 || z === 122) {
    if (i + 1 !== n) return false;
  } else if (z === 43 || z === 45) {
    if (i + 6 !== n) return false;
    const oh = twoDigits(s, o + i + 1);
    const om = twoDigits(s, o + i + 4);
    if (oh < 0 || om < 0 || s[o + i + 3] !== 58) return false;
    if (oh > 23 || om > 59) throw badPart(s, o, n, value, 'offset', i, n, 'not within ±23:59');
    offsetMinutes = (z === 45 ? -1 : 1) * (oh * 60 + om);
  } else {
    return false;
  }
  const year = y1 * 100 + y2;
  if (month < 1 || month > 12) throw badPart(s, o, n, value, 'month', 5, 7, 'not 01–12');
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day < 1 || day > monthDays) throw badPart(s, o, n, value, 'day', 8, 10, `not 01–${monthDays} for that month`);
  if (hour > 23) throw badPart(s, o, n, value, 'hour', 11, 13, 'not 00–23');
  if (minute > 59) throw badPart(s, o, n, value, 'minute', 14, 16, 'not 00–59');
  if (second > 59) throw badPart(s, o, n, value, 'second', 17, 19, 'not 00–59');
  // Days since the epoch of a proleptic Gregorian date (H. Hinnant's days_from_civil); exact in doubles.
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  const days = era * 146097 + doe - 719468;
  const seconds = days * 86400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  for (let k = fracDigits; k < 9; k++) frac *= 10;
  out.seconds = seconds;
  out.nanos = frac;
  return true;
}

/** What `rfc3339Parts` writes for `fromRfc3339` (one at a time). */
const PARTS: SecondsAndNanos = { seconds: 0, nanos: 0 };

/** `rfc3339Parts` as nanoseconds; null when the shape is wrong. */
function fromRfc3339(value: string): bigint | null {
  if (!rfc3339Parts(value, PARTS)) return null;
  const { seconds, nanos: frac } = PARTS;
  // Timestamps of one batch mostly share their second: its nanoseconds as a bigint are reused.
  if (seconds !== lastSeconds) {
    lastSeconds = seconds;
    lastSecondsNs = BigInt(seconds) * NS_PER_S;
  }
  const ns = lastSecondsNs + BigInt(frac);
  // Whole seconds in [0, LAST_SAFE_SECOND] keep any fraction within range: no bigint comparisons.
  return seconds >= 0 && seconds <= LAST_SAFE_SECOND ? ns : checkRange(ns, value);
}

/** Value of the ASCII digits s[from, to) (at most 15 of them, so exact in a double). */
function digitsValue(s: string, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) v = v * 10 + (s.charCodeAt(i) - 48);
  return v;
}

/** Parses a decimal string `digits[.digits]` by the magnitude rule, truncating below 1 ns, without substrings; null when it is not one. `value` is what errors name. */
function fromDecimalString(text: string, value: unknown = text): bigint | null {
  const n = text.length;
  if (n === 0 || n > 64) return null;
  let dot = -1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && dot < 0 && i > 0 && i < n - 1) dot = i;
    else if (c < 48 || c > 57) return null;
  }
  const intEnd = dot < 0 ? n : dot;
  let start = 0;
  while (start < intEnd && text.charCodeAt(start) === 48) start++;
  const digits = intEnd - start;
  if (digits > 20) throw bad(value, 'is past 2262-04-11T23:47:16.854775807Z, the largest nanosecond timestamp');
  const exp = unitExponent(digits);
  // Integer nanoseconds, the shape shippers send most: one native conversion.
  if (exp === 0 && dot < 0) return checkRange(BigInt(text), value);
  // Integer part as high digits and the last nine: each fits a double exactly.
  const split = Math.max(start, intEnd - 9);
  const low = digitsValue(text, split, intEnd);
  let ns = split === start ? BigInt(low) : BigInt(digitsValue(text, start, split)) * NS_PER_S + BigInt(low);
  if (exp > 0) {
    let frac = 0;
    if (dot >= 0) {
      const fracEnd = Math.min(n, dot + 1 + exp);
      frac = digitsValue(text, dot + 1, fracEnd);
      for (let k = fracEnd - dot - 1; k < exp; k++) frac *= 10;
    }
    ns = ns * POW10[exp]! + BigInt(frac);
  }
  return checkRange(ns, value);
}

/** Parses a request timestamp: RFC 3339 with any fractional precision (and offsets like +02:00), an integer (JS number or decimal string) in s, ms, µs or ns told apart by magnitude, or a bigint of exact nanoseconds; returns ns since epoch. */
export function parseTimestamp(value: unknown): bigint {
  if (typeof value === 'string') {
    const ns = value.charCodeAt(4) === 45 /* - */ ? fromRfc3339(value) : fromDecimalString(value);
    if (ns !== null) return ns;
    throw bad(value, 'is neither RFC 3339 nor a non-negative integer of s, ms, µs or ns');
  }
  if (typeof value === 'number') return fromNumber(value);
  if (typeof value === 'bigint') {
    // A bigint comes from a binary wire format (protobuf Timestamp, fixed64 ns): exact nanoseconds, never told apart by magnitude.
    if (value < 0n) throw bad(value, 'is negative');
    if (value > MAX_TIMESTAMP_NS) throw bad(value, 'is past 2262-04-11T23:47:16.854775807Z, the largest nanosecond timestamp');
    return value;
  }
  throw bad(value, 'must be an RFC 3339 string or an integer (number or decimal string)');
}

/** How far the monotonic estimate may run ahead of Date.now() (a pause between the two reads) before it is pulled back. */
const MAX_AHEAD_NS = 5_000_000n;
/** A wall-clock step back larger than this is followed (time goes back); smaller ones are absorbed to stay increasing. */
const MAX_STEP_BACK_NS = 1_000_000_000n;
let anchorNs = BigInt(Date.now()) * 1_000_000n;
let anchorHr = process.hrtime.bigint();
let lastNs = 0n;

/** Wall-clock nanoseconds since the epoch: Date.now() refined by the monotonic clock (process.hrtime) for sub-millisecond precision; never below Date.now() and strictly increasing unless the wall clock steps back by more than a second. */
export function nowNs(): bigint {
  // Wall clock first, then the monotonic clock: a pause in between can only make the estimate later, never below `floor`.
  const floor = BigInt(Date.now()) * 1_000_000n;
  const hr = process.hrtime.bigint();
  let ns = anchorNs + (hr - anchorHr);
  if (ns < floor || ns > floor + MAX_AHEAD_NS) {
    // The estimate fell behind the wall clock or drifted ahead of it: re-anchor on it.
    ns = floor;
    anchorNs = floor;
    anchorHr = hr;
  }
  if (ns <= lastNs && lastNs - ns < MAX_STEP_BACK_NS) ns = lastNs + 1n;
  lastNs = ns;
  return ns;
}

/** Formats nanoseconds as the decimal string responses carry. */
export function formatNs(ns: bigint): string {
  return ns.toString();
}

/**
 * `parseTimestamp` into whole seconds and nanoseconds: the RFC 3339 text shippers send is read
 * without BigInt arithmetic; anything else is parsed as `parseTimestamp` parses it, and split.
 */
export function splitTimestamp(value: unknown, out: SecondsAndNanos): void {
  if (typeof value === 'string' && value.charCodeAt(4) === 45 && rfc3339Parts(value, out) && out.seconds >= 0 && out.seconds <= LAST_SAFE_SECOND) return;
  splitNs(parseTimestamp(value), out);
}

/** Whole seconds and the nanoseconds past them, as `splitNs` writes them. */
export interface SecondsAndNanos {
  seconds: number;
  nanos: number;
}

// The 64-bit word seen as 32-bit halves, in the platform's byte order.
const NS_WORD = new BigUint64Array(1);
const NS_HALVES = new Uint32Array(NS_WORD.buffer);
const NS_LOW = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
const BILLION = 1_000_000_000;

/**
 * Splits `ns` (in [0, 2^64)) into whole seconds and nanoseconds into `out`, by long division of
 * its 16-bit digits in doubles (every partial value stays below 2^47): no BigInt arithmetic, so
 * no garbage, on a path that runs once per entry.
 */
export function splitNs(ns: bigint, out: SecondsAndNanos): void {
  NS_WORD[0] = ns;
  splitHalves(NS_HALVES[NS_LOW]!, NS_HALVES[NS_LOW ^ 1]!, out);
}

/** `splitNs` of the nanoseconds whose low and high 32 bits are `low` and `high` (a protobuf fixed64 as read off the wire), with no bigint at all. */
export function splitHalves(low: number, high: number, out: SecondsAndNanos): void {
  // Each step: (rest · 2^16 + digit) ÷ 10^9, below 2^47, so exact in a double.
  let cur = high >>> 16;
  let q = Math.floor(cur / BILLION);
  let seconds = q;
  cur = (cur - q * BILLION) * 65536 + (high & 0xffff);
  q = Math.floor(cur / BILLION);
  seconds = seconds * 65536 + q;
  cur = (cur - q * BILLION) * 65536 + (low >>> 16);
  q = Math.floor(cur / BILLION);
  seconds = seconds * 65536 + q;
  cur = (cur - q * BILLION) * 65536 + (low & 0xffff);
  q = Math.floor(cur / BILLION);
  seconds = seconds * 65536 + q;
  const rest = cur - q * BILLION;
  out.seconds = seconds;
  out.nanos = rest;
}
