/**
 * Go's conversions that LogQL applies to label values, with Go's results and Go's error texts
 * (they become `__error_details__`): strconv.ParseFloat, time.ParseDuration, go-humanize's
 * ParseBytes, and the quoting their messages use.
 */

/** A conversion that failed; `message` is Go's error text. */
export class ConversionError extends Error {}

const PRINTABLE_RE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };

/** Go's strconv.Quote: a double-quoted Go string literal, non-printable characters escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp < 0x80 && cp >= 0x20 && cp !== 0x7f) out += ch;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    else if (cp >= 0x80 && PRINTABLE_RE.test(ch)) out += ch;
    else if (SHORT_ESCAPES[cp] !== undefined) out += SHORT_ESCAPES[cp];
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}

const utf8 = new TextEncoder();

/** The quoting of Go's time package (ParseDuration messages): non-ASCII and control bytes as \xHH. */
function timeQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x80 || cp < 0x20) {
      for (const b of utf8.encode(ch)) out += '\\x' + b.toString(16).padStart(2, '0');
    } else {
      if (ch === '"' || ch === '\\') out += '\\';
      out += ch;
    }
  }
  return out + '"';
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function lower(c: number): number {
  return c | 0x20;
}

/** Go's underscoreOK: underscores only between digits (or after a base prefix). */
export function underscoreOK(s: string): boolean {
  let saw = '^';
  let i = 0;
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && (lower(s.charCodeAt(1)) === 98 || lower(s.charCodeAt(1)) === 111 || lower(s.charCodeAt(1)) === 120)) {
    i = 2;
    saw = '0';
    hex = lower(s.charCodeAt(1)) === 120;
  }
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c) || (hex && lower(c) >= 97 && lower(c) <= 102)) {
      saw = '0';
      continue;
    }
    if (c === 95) {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

/** Infinity or NaN as Go spells them (`inf`, `+Infinity`, `nan`, any case), or null. */
function special(s: string): number | null {
  const l = s.toLowerCase();
  let sign = 1;
  let body = l;
  if (l[0] === '+' || l[0] === '-') {
    sign = l[0] === '-' ? -1 : 1;
    body = l.slice(1);
    return body === 'inf' || body === 'infinity' ? sign * Infinity : null;
  }
  if (body === 'inf' || body === 'infinity') return Infinity;
  if (body === 'nan') return NaN;
  return null;
}

/** The value of a Go hexadecimal float literal body (after the sign), or null when malformed. */
function hexFloat(s: string): number | null {
  const m = /^0[xX]([0-9a-fA-F_]*)(?:\.([0-9a-fA-F_]*))?[pP]([+-]?[0-9_]+)$/.exec(s);
  if (m === null) return null;
  const intPart = m[1]!.replace(/_/g, '');
  const frac = (m[2] ?? '').replace(/_/g, '');
  if (intPart === '' && frac === '') return null;
  const mant = BigInt('0x' + (intPart + frac || '0'));
  const exp = Number(m[3]!.replace(/_/g, '')) - 4 * frac.length;
  return Number(mant) * 2 ** exp;
}

/** Go's strconv.ParseFloat(s, 64); throws ConversionError with Go's message. */
export function parseGoFloat(s: string): number {
  const sp = special(s);
  if (sp !== null) return sp;
  const syntax = () => new ConversionError(`strconv.ParseFloat: parsing ${goQuote(s)}: invalid syntax`);
  let body = s;
  let sign = 1;
  if (body[0] === '+' || body[0] === '-') {
    sign = body[0] === '-' ? -1 : 1;
    body = body.slice(1);
  }
  let value: number;
  if (body.length > 2 && body[0] === '0' && lower(body.charCodeAt(1)) === 120) {
    const h = hexFloat(body);
    if (h === null || (body.includes('_') && !underscoreOK(s))) throw syntax();
    value = h;
  } else {
    if (!/^(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][+-]?[0-9_]+)?$/.test(body) || !/[0-9]/.test(body.split(/[eE]/)[0]!)) throw syntax();
    if (body.includes('_') && !underscoreOK(s)) throw syntax();
    value = Number(body.replace(/_/g, ''));
  }
  if (!Number.isFinite(value)) throw new ConversionError(`strconv.ParseFloat: parsing ${goQuote(s)}: value out of range`);
  return sign * value;
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const MAX_DURATION = 2 ** 63;

/** Go's time.ParseDuration: the duration in nanoseconds; throws ConversionError with Go's message. */
export function parseGoDuration(orig: string): number {
  const invalid = () => new ConversionError(`time: invalid duration ${timeQuote(orig)}`);
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let d = 0;
  let i = 0;
  while (i < s.length) {
    const c0 = s.charCodeAt(i);
    if (!(c0 === 46 || isDigit(c0))) throw invalid();
    const intStart = i;
    let v = 0;
    while (i < s.length && isDigit(s.charCodeAt(i))) {
      if (v > MAX_DURATION / 10) throw invalid();
      v = v * 10 + (s.charCodeAt(i) - 48);
      if (v > MAX_DURATION) throw invalid();
      i++;
    }
    const pre = i > intStart;
    let f = 0;
    let scale = 1;
    let post = false;
    if (i < s.length && s.charCodeAt(i) === 46) {
      i++;
      const fracStart = i;
      let overflow = false;
      while (i < s.length && isDigit(s.charCodeAt(i))) {
        if (!overflow) {
          if (f > (MAX_DURATION - 1) / 10) overflow = true;
          else {
            f = f * 10 + (s.charCodeAt(i) - 48);
            scale *= 10;
          }
        }
        i++;
      }
      post = i > fracStart;
    }
    if (!pre && !post) throw invalid();
    const unitStart = i;
    while (i < s.length && !(s.charCodeAt(i) === 46 || isDigit(s.charCodeAt(i)))) i++;
    if (i === unitStart) throw new ConversionError(`time: missing unit in duration ${timeQuote(orig)}`);
    const u = s.slice(unitStart, i);
    const unit = DURATION_UNITS[u];
    if (unit === undefined) throw new ConversionError(`time: unknown unit ${timeQuote(u)} in duration ${timeQuote(orig)}`);
    if (v > MAX_DURATION / unit) throw invalid();
    v *= unit;
    if (f > 0) {
      v += Math.trunc(f * (unit / scale));
      if (v > MAX_DURATION) throw invalid();
    }
    d += v;
    if (d > MAX_DURATION) throw invalid();
  }
  if (neg) return -d;
  if (d > MAX_DURATION - 1) throw invalid();
  return d;
}

/** Seconds of a duration in nanoseconds, as Go's Duration.Seconds computes them. */
export function durationSeconds(ns: number): number {
  const sec = Math.trunc(ns / 1e9);
  return sec + (ns - sec * 1e9) / 1e9;
}

const BYTE_SIZES: Record<string, number> = {
  b: 1,
  kib: 1024,
  kb: 1e3,
  mib: 1024 ** 2,
  mb: 1e6,
  gib: 1024 ** 3,
  gb: 1e9,
  tib: 1024 ** 4,
  tb: 1e12,
  pib: 1024 ** 5,
  pb: 1e15,
  eib: 1024 ** 6,
  eb: 1e18,
  '': 1,
  ki: 1024,
  k: 1e3,
  mi: 1024 ** 2,
  m: 1e6,
  gi: 1024 ** 3,
  g: 1e9,
  ti: 1024 ** 4,
  t: 1e12,
  pi: 1024 ** 5,
  p: 1e15,
  ei: 1024 ** 6,
  e: 1e18,
};

const DIGIT_RE = /\p{Nd}/u;
const GO_SPACE_RE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/** Go's strings.TrimSpace (Unicode white space, not U+FEFF as JavaScript's trim also removes). */
export function goTrimSpace(s: string): string {
  if (s.length === 0 || (s.charCodeAt(0) > 32 && s.charCodeAt(0) < 0x7f && s.charCodeAt(s.length - 1) > 32 && s.charCodeAt(s.length - 1) < 0x7f)) return s;
  return s.replace(GO_SPACE_RE, '');
}

/** go-humanize's ParseBytes ("12MB", "1.5 KiB", "1,024"): bytes as an integer; throws ConversionError with its message. */
export function parseHumanBytes(s: string): number {
  let last = 0;
  let hasComma = false;
  for (const ch of s) {
    if (!(DIGIT_RE.test(ch) || ch === '.' || ch === ',')) break;
    if (ch === ',') hasComma = true;
    last += ch.length;
  }
  let num = s.slice(0, last);
  if (hasComma) num = num.replace(/,/g, '');
  const f = parseGoFloat(num);
  const extra = goTrimSpace(s.slice(last)).toLowerCase();
  const m = Object.prototype.hasOwnProperty.call(BYTE_SIZES, extra) ? BYTE_SIZES[extra]! : undefined;
  if (m === undefined) throw new ConversionError(`unhandled size name: ${extra}`);
  const v = f * m;
  if (v >= 2 ** 64) throw new ConversionError(`too large: ${s}`);
  return Math.trunc(v);
}

const SI_SIZES = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/**
 * The bytes value a pipeline's bytes filter ends up with in Loki: its query is sent from the
 * frontend to the querier as text, where the filter is written with go-humanize's Bytes (two
 * significant digits, SI units: 1MiB becomes "1.0MB") and read back. So `size > 1MiB` compares
 * with 1000000.
 */
export function bytesAfterRoundTrip(n: number): number {
  if (n < 10) return n;
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / Math.pow(1000, e)) * 10 + 0.5) / 10;
  const digits = Math.max(2 - String(Math.trunc(val)).length, 0);
  const text = formatFixed(val, digits) + SI_SIZES[e];
  try {
    return parseHumanBytes(text);
  } catch {
    return n;
  }
}

/** Go's %.Nf of a value already rounded to one decimal (ties to even, as Go formats). */
function formatFixed(v: number, digits: number): string {
  if (digits > 0) return v.toFixed(digits);
  const r = Math.round(v);
  return String(Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r);
}
