/**
 * The functions Loki gives `line_format` and `label_format` templates: Loki's own (`__line__`,
 * `__timestamp__`, ToLower…TrimSpace, regexReplaceAll, count, bytes, duration, urlencode, alignLeft,
 * b64dec, unixEpochMillis, toDateInZone, unixToTime, …) and the sprig subset it enables (lower,
 * upper, title, trunc, substr, replace, repeat, trim*, int, float64, add…mod, addf…divf, max, min,
 * ceil, floor, round, fromJson, date, toDate, now, unixEpoch, default, …), with sprig's argument
 * conversions (spf13/cast) and Go's panics as errors.
 */
import { ConversionError, durationSeconds, goQuote, goTrimSpace, parseGoDuration, parseGoFloat, parseHumanBytes, underscoreOK } from '../stages/convert';
import { compileRe2 } from '../re2';
import { BUILTINS, queryEscape, type GoFunc } from './builtins';
import { decimalFold, type DecimalOp } from './decimal';
import { GoTime, LOCAL, loadLocation, parseTime, UTC } from './go-time';
import { fromJsonValue, GoCallError, GoInt, GoMap, type GoValue } from './values';

const INT64_MIN = -(2n ** 63n);

/** cast.ToInt64: numbers truncated, strings parsed (base prefixes, decimals truncated), anything else 0. */
function toInt64(v: GoValue): bigint {
  if (v instanceof GoInt) return v.v;
  if (typeof v === 'number') return Number.isFinite(v) && Math.abs(v) < 2 ** 63 ? BigInt(Math.trunc(v)) : INT64_MIN;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v !== 'string' || v === '') return 0n;
  let s = v;
  if (s.includes('.')) {
    const m = /^([-+]?\d*)(\.\d*)?$/.exec(s);
    if (m !== null) s = m[1] === '-' || m[1] === '+' ? m[1] + '0' : m[1] === '' ? '0' : m[1]!;
  }
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(s);
  if (m === null || (s.includes('_') && !underscoreOK(s))) return 0n;
  let body = m[2]!.replace(/_/g, '');
  if (/^0[0-7]+$/.test(body)) body = '0o' + body.slice(1);
  const n = m[1] === '-' ? -BigInt(body) : BigInt(body);
  return n < INT64_MIN || n >= 2n ** 63n ? 0n : n;
}

/** cast.ToFloat64. */
function toFloat64(v: GoValue): number {
  if (typeof v === 'number') return v;
  if (v instanceof GoInt) return Number(v.v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v !== 'string' || v === '') return 0;
  try {
    return parseGoFloat(v);
  } catch {
    return 0;
  }
}

/** Go's integer division by zero panic. */
function divByZero(): never {
  throw new GoCallError('runtime error: integer divide by zero');
}

const utf8Decoder = new TextDecoder('utf-8');

/** A string's UTF-8 bytes sliced as Go slices strings (s[lo:hi]). */
function byteSlice(s: string, lo: number, hi?: number): string {
  if (Buffer.byteLength(s) === s.length) return s.slice(lo, hi);
  return utf8Decoder.decode(Buffer.from(s, 'utf8').subarray(lo, hi));
}

function byteLen(s: string): number {
  return Buffer.byteLength(s);
}

/** Go's strings.Repeat, with its panics (and a cap on the size of the result). */
function repeat(s: string, count: bigint): string {
  if (count < 0n) throw new GoCallError('strings: negative Repeat count');
  if (count * BigInt(s.length) > 64n * 1024n * 1024n) throw new GoCallError('strings: Repeat output length overflow');
  return s.repeat(Number(count));
}

/** Go's strings.Replace(s, old, new, n). */
function replaceN(s: string, old: string, rep: string, n: number): string {
  if (old === rep || n === 0) return s;
  if (old === '') {
    const chars = [...s];
    let out = '';
    let done = 0;
    for (let i = 0; i <= chars.length; i++) {
      if (n < 0 || done < n) {
        out += rep;
        done++;
      }
      if (i < chars.length) out += chars[i];
    }
    return out;
  }
  if (n < 0) return s.split(old).join(rep);
  let out = '';
  let start = 0;
  for (let k = 0; k < n; k++) {
    const j = s.indexOf(old, start);
    if (j < 0) break;
    out += s.slice(start, j) + rep;
    start = j + old.length;
  }
  return out + s.slice(start);
}

function trimSet(s: string, cutset: string, left: boolean, right: boolean): string {
  const set = new Set([...cutset]);
  const chars = [...s];
  let a = 0;
  let b = chars.length;
  if (left) while (a < b && set.has(chars[a]!)) a++;
  if (right) while (b > a && set.has(chars[b - 1]!)) b--;
  return chars.slice(a, b).join('');
}

/** Go's per-rune case mapping (a mapping to several characters keeps the original). */
function mapCase(s: string, upper: boolean): string {
  const direct = upper ? s.toUpperCase() : s.toLowerCase();
  if (direct.length === s.length && Buffer.byteLength(s) === s.length) return direct;
  let out = '';
  for (const ch of s) {
    if (!upper && ch === '\u0130') {
      out += 'i';
      continue;
    }
    const m = upper ? ch.toUpperCase() : ch.toLowerCase();
    out += [...m].length === 1 ? m : ch;
  }
  return out;
}

function isSeparator(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  if (c <= 0x7f) return !/[0-9a-zA-Z_]/.test(ch);
  if (/[\p{L}\p{Nd}]/u.test(ch)) return false;
  return /\s/u.test(ch);
}

/** Go's strings.Title. */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? mapCase(ch, true) : ch;
    prev = ch;
  }
  return out;
}

const regexCache = new Map<string, RegExp>();

/** Compiles a template regex (RE2 semantics), Go's error text on failure. */
function templateRegex(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    try {
      const compiled = compileRe2(pattern, 'template');
      re = new RegExp(compiled.source, compiled.flags + 'g');
    } catch (err) {
      throw new GoCallError(`error parsing regexp: ${(err as Error).message}`);
    }
    if (regexCache.size >= 256) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

/** The matches of a regex as Go's *All functions find them (an empty match right after a match is skipped). */
function allMatches(re: RegExp, s: string): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  re.lastIndex = 0;
  let prevEnd = -1;
  while (re.lastIndex <= s.length) {
    const m = re.exec(s);
    if (m === null) break;
    const end = m.index + m[0].length;
    if (m[0].length === 0) {
      const cp = s.codePointAt(m.index);
      re.lastIndex = m.index + (cp !== undefined && cp > 0xffff ? 2 : 1);
      if (m.index === prevEnd) continue;
    }
    out.push(m);
    prevEnd = end;
  }
  return out;
}

/** Go's Regexp.Expand of a replacement template ($1, ${1}, $name, ${name}, $$). */
function expand(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))?/g, (all, braced: string | undefined, bare: string | undefined) => {
    if (all === '$$') return '$';
    const name = braced ?? bare;
    if (name === undefined) return all;
    if (/^[0-9]+$/.test(name)) return m[Number(name)] ?? '';
    return m.groups?.[name] ?? '';
  });
}

function regexReplace(pattern: string, s: string, repl: string, literal: boolean): string {
  const re = templateRegex(pattern);
  let out = '';
  let last = 0;
  for (const m of allMatches(re, s)) {
    out += s.slice(last, m.index) + (literal ? repl : expand(repl, m));
    last = m.index + m[0].length;
  }
  return out + s.slice(last);
}

/** url.QueryUnescape. */
function queryUnescape(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new GoCallError(`invalid URL escape ${goQuote(s.slice(i, i + 3))}`);
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (c === '+') {
      bytes.push(32);
    } else {
      for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
    }
  }
  return utf8Decoder.decode(Uint8Array.from(bytes));
}

function b64dec(v: string): string {
  const rem = v.length % 4;
  if (rem !== 0 && rem !== 1) v += '='.repeat(4 - rem);
  const bad = /[^A-Za-z0-9+/=]/.exec(v);
  const pad = v.indexOf('=');
  if (bad !== null || v.length % 4 !== 0 || (pad >= 0 && !/^=*$/.test(v.slice(pad))) || v.length - pad > 2 + (pad < 0 ? v.length : 0)) {
    const at = bad !== null ? bad.index : pad >= 0 ? pad : v.length - (v.length % 4);
    return `illegal base64 data at input byte ${at}`;
  }
  return utf8Decoder.decode(Buffer.from(v, 'base64'));
}

function align(count: bigint, src: string, left: boolean): string {
  const runes = [...src];
  const n = Number(count);
  if (n < 0 || n === runes.length) return src;
  if (n > runes.length) return left ? src + ' '.repeat(n - runes.length) : ' '.repeat(n - runes.length) + src;
  return left ? runes.slice(0, n).join('') : runes.slice(runes.length - n).join('');
}

function unixToTime(epoch: string): GoTime {
  const bad = () => new GoCallError(`unable to parse time '${epoch}': strconv.ParseInt: parsing ${goQuote(epoch)}: invalid syntax`);
  if (!/^[+-]?[0-9]+$/.test(epoch)) throw bad();
  const i = BigInt(epoch);
  switch (epoch.length) {
    case 5:
      return new GoTime(i * 86400n * 1_000_000_000n, LOCAL);
    case 10:
      return new GoTime(i * 1_000_000_000n, LOCAL);
    case 13:
      return new GoTime(i * 1_000_000n, LOCAL);
    case 16:
      return new GoTime(i * 1000n, LOCAL);
    case 19:
      return new GoTime(i, LOCAL);
    default:
      throw new GoCallError(`unable to parse time '${epoch}': %!w(<nil>)`);
  }
}

/** sprig's empty: zero numbers, empty strings and collections, false, nil. */
function empty(v: GoValue): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v === 'string') return v.length === 0;
  if (Array.isArray(v)) return v.length === 0;
  if (v instanceof GoMap) return v.entries.size === 0;
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'number') return v === 0;
  if (v instanceof GoInt) return v.v === 0n;
  return false;
}

const str = (v: GoValue) => v as string;
const int = (v: GoValue) => (v as GoInt).v;
const time = (v: GoValue) => v as GoTime;

function decimal(op: DecimalOp, first: GoValue | null) {
  return (a: GoValue[]) => (first === null ? decimalFold(toFloat64(a[0]), a.slice(1).map(toFloat64), op) : decimalFold(0, a.map(toFloat64), op));
}

function conversion(fn: (s: string) => number) {
  return (a: GoValue[]) => {
    try {
      return fn(str(a[0]));
    } catch (err) {
      if (err instanceof ConversionError) throw new GoCallError(err.message);
      throw err;
    }
  };
}

/** Every function a LogQL template can call, by name. */
export const FUNCTIONS: Record<string, GoFunc> = {
  ...BUILTINS,
  __line__: { params: [], call: (_a, env) => env.line() },
  __timestamp__: { params: [], call: (_a, env) => new GoTime(env.timestamp(), LOCAL) },
  ToLower: { params: ['string'], call: (a) => mapCase(str(a[0]), false) },
  ToUpper: { params: ['string'], call: (a) => mapCase(str(a[0]), true) },
  Replace: { params: ['string', 'string', 'string', 'int'], call: (a) => replaceN(str(a[0]), str(a[1]), str(a[2]), Number(int(a[3]))) },
  Trim: { params: ['string', 'string'], call: (a) => trimSet(str(a[0]), str(a[1]), true, true) },
  TrimLeft: { params: ['string', 'string'], call: (a) => trimSet(str(a[0]), str(a[1]), true, false) },
  TrimRight: { params: ['string', 'string'], call: (a) => trimSet(str(a[0]), str(a[1]), false, true) },
  TrimPrefix: { params: ['string', 'string'], call: (a) => (str(a[0]).startsWith(str(a[1])) ? str(a[0]).slice(str(a[1]).length) : str(a[0])) },
  TrimSuffix: { params: ['string', 'string'], call: (a) => (str(a[1]) !== '' && str(a[0]).endsWith(str(a[1])) ? str(a[0]).slice(0, -str(a[1]).length) : str(a[0])) },
  TrimSpace: { params: ['string'], call: (a) => goTrimSpace(str(a[0])) },
  regexReplaceAll: { params: ['string', 'string', 'string'], call: (a) => regexReplace(str(a[0]), str(a[1]), str(a[2]), false) },
  regexReplaceAllLiteral: { params: ['string', 'string', 'string'], call: (a) => regexReplace(str(a[0]), str(a[1]), str(a[2]), true) },
  count: { params: ['string', 'string'], call: (a) => GoInt.int(allMatches(templateRegex(str(a[0])), str(a[1])).length) },
  urldecode: { params: ['string'], call: (a) => queryUnescape(str(a[0])) },
  urlencode: { params: ['string'], call: (a) => queryEscape(str(a[0])) },
  bytes: { params: ['string'], call: conversion(parseHumanBytes) },
  duration: { params: ['string'], call: conversion((s) => durationSeconds(parseGoDuration(s))) },
  duration_seconds: { params: ['string'], call: conversion((s) => durationSeconds(parseGoDuration(s))) },
  unixEpochMillis: { params: ['time'], call: (a) => (time(a[0]).ns / 1_000_000n - (time(a[0]).ns < 0n && time(a[0]).ns % 1_000_000n !== 0n ? 1n : 0n)).toString() },
  unixEpochNanos: { params: ['time'], call: (a) => time(a[0]).ns.toString() },
  toDateInZone: {
    params: ['string', 'string', 'string'],
    call: (a) => parseTime(str(a[0]), str(a[2]), loadLocation(str(a[1])) ?? UTC) ?? GoTime.zero(),
  },
  unixToTime: { params: ['string'], call: (a) => unixToTime(str(a[0])) },
  alignLeft: { params: ['int', 'string'], call: (a) => align(int(a[0]), str(a[1]), true) },
  alignRight: { params: ['int', 'string'], call: (a) => align(int(a[0]), str(a[1]), false) },
  b64dec: { params: ['string'], call: (a) => b64dec(str(a[0])) },
  b64enc: { params: ['string'], call: (a) => Buffer.from(str(a[0]), 'utf8').toString('base64') },
  lower: { params: ['string'], call: (a) => mapCase(str(a[0]), false) },
  upper: { params: ['string'], call: (a) => mapCase(str(a[0]), true) },
  title: { params: ['string'], call: (a) => title(str(a[0])) },
  trunc: {
    params: ['int', 'string'],
    call: (a) => {
      const c = Number(int(a[0]));
      const s = str(a[1]);
      const n = byteLen(s);
      if (c < 0 && n + c > 0) return byteSlice(s, n + c);
      if (c >= 0 && n > c) return byteSlice(s, 0, c);
      return s;
    },
  },
  substr: {
    params: ['int', 'int', 'string'],
    call: (a) => {
      const start = Number(int(a[0]));
      const end = Number(int(a[1]));
      const s = str(a[2]);
      const n = byteLen(s);
      if (start < 0) {
        if (end < 0 || end > n) throw new GoCallError(`runtime error: slice bounds out of range [:${end}] with length ${n}`);
        return byteSlice(s, 0, end);
      }
      if (end < 0 || end > n) {
        if (start > n) throw new GoCallError(`runtime error: slice bounds out of range [${start}:${n}]`);
        return byteSlice(s, start);
      }
      if (start > end) throw new GoCallError(`runtime error: slice bounds out of range [${start}:${end}]`);
      return byteSlice(s, start, end);
    },
  },
  contains: { params: ['string', 'string'], call: (a) => str(a[1]).includes(str(a[0])) },
  hasPrefix: { params: ['string', 'string'], call: (a) => str(a[1]).startsWith(str(a[0])) },
  hasSuffix: { params: ['string', 'string'], call: (a) => str(a[1]).endsWith(str(a[0])) },
  indent: { params: ['int', 'string'], call: (a) => indent(int(a[0]), str(a[1])) },
  nindent: { params: ['int', 'string'], call: (a) => '\n' + indent(int(a[0]), str(a[1])) },
  replace: { params: ['string', 'string', 'string'], call: (a) => replaceN(str(a[2]), str(a[0]), str(a[1]), -1) },
  repeat: { params: ['int', 'string'], call: (a) => repeat(str(a[1]), int(a[0])) },
  trim: { params: ['string'], call: (a) => goTrimSpace(str(a[0])) },
  trimAll: { params: ['string', 'string'], call: (a) => trimSet(str(a[1]), str(a[0]), true, true) },
  trimSuffix: { params: ['string', 'string'], call: (a) => (str(a[0]) !== '' && str(a[1]).endsWith(str(a[0])) ? str(a[1]).slice(0, -str(a[0]).length) : str(a[1])) },
  trimPrefix: { params: ['string', 'string'], call: (a) => (str(a[1]).startsWith(str(a[0])) ? str(a[1]).slice(str(a[0]).length) : str(a[1])) },
  int: { params: ['any'], call: (a) => GoInt.int(toInt64(a[0])) },
  float64: { params: ['any'], call: (a) => toFloat64(a[0]) },
  add: { params: [], variadic: 'any', call: (a) => GoInt.int64(a.reduce<bigint>((s, v) => s + toInt64(v), 0n)) },
  sub: { params: ['any', 'any'], call: (a) => GoInt.int64(toInt64(a[0]) - toInt64(a[1])) },
  mul: { params: ['any'], variadic: 'any', call: (a) => GoInt.int64(a.slice(1).reduce<bigint>((s, v) => BigInt.asIntN(64, s * toInt64(v)), toInt64(a[0]))) },
  div: { params: ['any', 'any'], call: (a) => (toInt64(a[1]) === 0n ? divByZero() : GoInt.int64(toInt64(a[0]) / toInt64(a[1]))) },
  mod: { params: ['any', 'any'], call: (a) => (toInt64(a[1]) === 0n ? divByZero() : GoInt.int64(toInt64(a[0]) % toInt64(a[1]))) },
  addf: { params: [], variadic: 'any', call: decimal('add', 0) },
  subf: { params: ['any'], variadic: 'any', call: decimal('sub', null) },
  mulf: { params: ['any'], variadic: 'any', call: decimal('mul', null) },
  divf: { params: ['any'], variadic: 'any', call: decimal('div', null) },
  max: { params: ['any'], variadic: 'any', call: (a) => GoInt.int64(a.map(toInt64).reduce((x, y) => (y > x ? y : x))) },
  min: { params: ['any'], variadic: 'any', call: (a) => GoInt.int64(a.map(toInt64).reduce((x, y) => (y < x ? y : x))) },
  maxf: { params: ['any'], variadic: 'any', call: (a) => a.map(toFloat64).reduce((x, y) => goMax(x, y)) },
  minf: { params: ['any'], variadic: 'any', call: (a) => a.map(toFloat64).reduce((x, y) => goMin(x, y)) },
  ceil: { params: ['any'], call: (a) => Math.ceil(toFloat64(a[0])) },
  floor: { params: ['any'], call: (a) => Math.floor(toFloat64(a[0])) },
  round: {
    params: ['any', 'int'],
    variadic: 'float64',
    call: (a) => {
      const roundOn = a.length > 2 ? (a[2] as number) : 0.5;
      const pow = Math.pow(10, Number(int(a[1])));
      const digit = pow * toFloat64(a[0]);
      const frac = digit - Math.trunc(digit);
      return (frac >= roundOn ? Math.ceil(digit) : Math.floor(digit)) / pow;
    },
  },
  fromJson: {
    params: ['string'],
    call: (a) => {
      try {
        return fromJsonValue(JSON.parse(str(a[0])));
      } catch {
        return null;
      }
    },
  },
  date: { params: ['string', 'any'], call: (a) => dateValue(a[1]).in(LOCAL).format(str(a[0])) },
  toDate: { params: ['string', 'string'], call: (a) => parseTime(str(a[0]), str(a[1]), LOCAL) ?? GoTime.zero() },
  now: { params: [], call: () => new GoTime(BigInt(Date.now()) * 1_000_000n, LOCAL) },
  unixEpoch: { params: ['time'], call: (a) => time(a[0]).unix().toString() },
  default: { params: ['any'], variadic: 'any', call: (a) => (a.length < 2 || empty(a[1]) ? a[0] : a[1]) },
};

function indent(spaces: bigint, v: string): string {
  const pad = repeat(' ', spaces);
  return pad + v.split('\n').join('\n' + pad);
}

function goMax(x: number, y: number): number {
  if (Number.isNaN(x) || Number.isNaN(y)) return NaN;
  return Math.max(x, y);
}

function goMin(x: number, y: number): number {
  if (Number.isNaN(x) || Number.isNaN(y)) return NaN;
  return Math.min(x, y);
}

/** sprig's date argument: a time, or Unix seconds as an int; anything else is now. */
function dateValue(v: GoValue): GoTime {
  if (v instanceof GoTime) return v;
  if (v instanceof GoInt) return new GoTime(v.v * 1_000_000_000n, LOCAL);
  return new GoTime(BigInt(Date.now()) * 1_000_000n, LOCAL);
}
