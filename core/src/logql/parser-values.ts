/**
 * The value syntaxes LogQL borrows from Go and Prometheus, as Loki reads them: Prometheus durations
 * (ranges), Go durations (offsets, duration filters), go-humanize sizes (`20MB`, `1.5KiB`) and Go
 * float literals (strconv.ParseFloat). Each returns the value, or null or Go's error message.
 */
import { goQuote } from './format';

/** True when an `_` in a number literal does not stand between two digits (a base prefix counts as a digit). */
export function invalidSeparator(x: string): boolean {
  const hex = /^0[xX]/.test(x);
  let i = /^0[xXoObB]/.test(x) ? 2 : 0;
  let prev = i === 2 ? '0' : '.';
  for (; i < x.length; i++) {
    const c = x[i]!;
    let d: string;
    if (c === '_') {
      if (prev !== '0') return true;
      d = '_';
    } else if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) {
      d = '0';
    } else {
      if (prev === '_') return true;
      d = '.';
    }
    prev = d;
  }
  return prev === '_';
}

const MAX_NS = (1n << 63n) - 1n;

const PROM_UNITS: Record<string, { order: number; ns: bigint }> = {
  y: { order: 1, ns: 365n * 86_400_000_000_000n },
  w: { order: 2, ns: 7n * 86_400_000_000_000n },
  d: { order: 3, ns: 86_400_000_000_000n },
  h: { order: 4, ns: 3_600_000_000_000n },
  m: { order: 5, ns: 60_000_000_000n },
  s: { order: 6, ns: 1_000_000_000n },
  ms: { order: 7, ns: 1_000_000n },
};

/** Prometheus's model.ParseDuration (integers, units y w d h m s ms from largest to smallest): nanoseconds, or the error message. */
export function parsePromDuration(s: string): bigint | string {
  if (s === '0') return 0n;
  if (s === '') return 'empty duration string';
  const invalid = `not a valid duration string: ${goQuote(s)}`;
  let rest = s;
  let total = 0n;
  let lastOrder = 0;
  while (rest !== '') {
    const m = /^([0-9]*)([^0-9]*)/.exec(rest)!;
    if (m[1] === '' || m[2] === '') return invalid;
    const unit = Object.prototype.hasOwnProperty.call(PROM_UNITS, m[2]!) ? PROM_UNITS[m[2]!]! : null;
    if (unit === null) return `unknown unit ${goQuote(m[2]!)} in duration ${goQuote(s)}`;
    if (unit.order <= lastOrder) return invalid;
    lastOrder = unit.order;
    const v = BigInt(m[1]!);
    if (v > (1n << 63n) / unit.ns) return 'duration out of range';
    total += v * unit.ns;
    if (total > MAX_NS) return 'duration out of range';
    rest = rest.slice(m[0].length);
  }
  return total;
}

const GO_UNITS: Record<string, bigint> = { ns: 1n, us: 1_000n, 'µs': 1_000n, 'μs': 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

/** Go's time.ParseDuration (`1.5h`, `-2m3s`, `750us`): nanoseconds, or null. */
function parseGoDuration(s: string): bigint | null {
  let rest = s;
  let negative = false;
  if (rest[0] === '-' || rest[0] === '+') {
    negative = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') return null;
  let total = 0n;
  while (rest !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?([^0-9.]*)/.exec(rest)!;
    const [all, whole = '', fraction, unitName = ''] = m;
    if (whole === '' && (fraction === undefined || fraction === '')) return null;
    const unit = Object.prototype.hasOwnProperty.call(GO_UNITS, unitName) ? GO_UNITS[unitName]! : null;
    if (unit === null) return null;
    let v = whole === '' ? 0n : BigInt(whole);
    if (v > (1n << 63n) / unit) return null;
    v *= unit;
    if (fraction !== undefined && fraction !== '') {
      // Go keeps at most the fraction's digits that fit in an int64, then scales in float64.
      let f = 0;
      let scale = 1;
      for (const digit of fraction) {
        if (f > (2 ** 63 - 10) / 10) break;
        f = f * 10 + Number(digit);
        scale *= 10;
      }
      v += BigInt(Math.trunc(f * (Number(unit) / scale)));
      if (v > 1n << 63n) return null;
    }
    total += v;
    if (total > 1n << 63n) return null;
    rest = rest.slice(all.length);
  }
  if (negative) return -total;
  return total > MAX_NS ? null : total;
}

/** Loki's duration rule: Prometheus's syntax first, then Go's. */
export function parseLokiDuration(s: string): bigint | null {
  const prom = parsePromDuration(s);
  return typeof prom === 'bigint' ? prom : parseGoDuration(s);
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  ki: 2 ** 10,
  kib: 2 ** 10,
  m: 1e6,
  mb: 1e6,
  mi: 2 ** 20,
  mib: 2 ** 20,
  g: 1e9,
  gb: 1e9,
  gi: 2 ** 30,
  gib: 2 ** 30,
  t: 1e12,
  tb: 1e12,
  ti: 2 ** 40,
  tib: 2 ** 40,
  p: 1e15,
  pb: 1e15,
  pi: 2 ** 50,
  pib: 2 ** 50,
  e: 1e18,
  eb: 1e18,
  ei: 2 ** 60,
  eib: 2 ** 60,
};

/** go-humanize's ParseBytes (`20MB`, `1.5KiB`, `5k`): bytes, truncated to an integer, or null. */
export function parseBytes(s: string): number | null {
  const m = /^([\p{Nd}.,]*)(.*)$/su.exec(s)!;
  const num = m[1]!.replace(/,/g, '');
  if (!/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)$/.test(num)) return null;
  const unit = m[2]!.trim().toLowerCase();
  if (!Object.prototype.hasOwnProperty.call(BYTE_UNITS, unit)) return null;
  const v = Number(num) * BYTE_UNITS[unit]!;
  return v >= 2 ** 64 ? null : Math.trunc(v);
}

/** Go's strconv.ParseFloat of a Go number literal (what Loki does with NUMBER tokens): the value, or Go's error message. */
export function parseGoFloat(text: string): number | string {
  const invalid = `strconv.ParseFloat: parsing ${goQuote(text)}: invalid syntax`;
  let v: number;
  const hex = /^0[xX]([0-9a-fA-F_]*)(?:\.([0-9a-fA-F_]*))?[pP]([+-]?[0-9_]+)$/.exec(text);
  if (hex !== null) {
    const [, whole = '', fraction = '', exp = ''] = hex;
    const digits = (whole + fraction).replace(/_/g, '');
    if (digits === '') return invalid;
    v = Number(BigInt('0x' + digits)) * 2 ** (Number(exp.replace(/_/g, '')) - 4 * fraction.replace(/_/g, '').length);
  } else {
    if (!/^(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][+-]?[0-9_]+)?$/.test(text) || invalidSeparator(text)) return invalid;
    v = Number(text.replace(/_/g, ''));
  }
  if (!Number.isFinite(v)) return `strconv.ParseFloat: parsing ${goQuote(text)}: value out of range`;
  return v;
}
