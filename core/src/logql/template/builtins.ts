/**
 * text/template's predefined functions: and, or, not, len, index, slice, print, printf, println,
 * html, js, urlquery and the comparisons eq, ne, lt, le, gt, ge, with Go's rules (comparisons only
 * between basic values of the same kind; ints of any size compare with each other).
 */
import { sprint, sprintf, sprintln } from './go-fmt';
import { GoTime } from './go-time';
import { GoCallError, GoInt, GoMap, truth, typeName, type GoValue } from './values';

/** The type of a function parameter: a Go type, `any` (interface {}) or `value` (reflect.Value: anything, even invalid). */
export type ParamType = 'string' | 'int' | 'float64' | 'bool' | 'any' | 'time' | 'value';

/** What a template function may read of the entry being formatted. */
export interface FuncEnv {
  line(): string;
  timestamp(): bigint;
}

/** A template function. */
export interface GoFunc {
  params: readonly ParamType[];
  variadic?: ParamType;
  /** and/or: arguments evaluated lazily by the executor. */
  lazy?: 'and' | 'or';
  call(args: GoValue[], env: FuncEnv): GoValue;
}

type Kind = 'bool' | 'int' | 'float' | 'string' | 'invalid' | 'other';

function kind(v: GoValue): Kind {
  if (v === undefined || v === null) return 'invalid';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'float';
  if (typeof v === 'string') return 'string';
  if (v instanceof GoInt) return 'int';
  return 'other';
}

function scalar(v: GoValue): bigint | number | string | boolean {
  return v instanceof GoInt ? v.v : (v as number | string | boolean);
}

function eq(args: GoValue[]): boolean {
  const [a, ...rest] = args;
  if (rest.length === 0) throw new GoCallError('missing argument for comparison');
  const k1 = kind(a);
  for (const b of rest) {
    const k2 = kind(b);
    let t = false;
    if (k1 !== k2) {
      if (k1 !== 'invalid' && k2 !== 'invalid') throw new GoCallError('incompatible types for comparison');
    } else if (k1 === 'invalid') {
      t = true;
    } else if (k1 === 'other') {
      if (a instanceof GoTime && b instanceof GoTime) t = a.ns === b.ns && a.loc === b.loc;
      else if (a instanceof GoTime || b instanceof GoTime) throw new GoCallError('incompatible types for comparison');
      else throw new GoCallError(`non-comparable type ${typeName(b)}: ${typeName(b)}`);
    } else {
      t = scalar(a) === scalar(b);
    }
    if (t) return true;
  }
  return false;
}

function order(a: GoValue, b: GoValue): number {
  const k1 = kind(a);
  const k2 = kind(b);
  if (k1 === 'invalid' || k2 === 'invalid' || k1 === 'other' || k2 === 'other') throw new GoCallError('invalid type for comparison');
  if (k1 !== k2) throw new GoCallError('incompatible types for comparison');
  if (k1 === 'bool') throw new GoCallError('invalid type for comparison');
  const x = scalar(a);
  const y = scalar(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function length(v: GoValue): GoValue {
  if (typeof v === 'string') return GoInt.int(Buffer.byteLength(v));
  if (Array.isArray(v)) return GoInt.int(v.length);
  if (v instanceof GoMap) return GoInt.int(v.entries.size);
  if (v === undefined || v === null) throw new GoCallError('len of nil pointer');
  throw new GoCallError(`len of type ${typeName(v)}`);
}

function indexArg(v: GoValue): number {
  if (v instanceof GoInt) return Number(v.v);
  if (v === undefined || v === null) throw new GoCallError('cannot index slice/array with nil');
  throw new GoCallError(`cannot index slice/array with type ${typeName(v)}`);
}

function index(args: GoValue[]): GoValue {
  let item = args[0];
  for (const ix of args.slice(1)) {
    if (item === undefined || item === null) throw new GoCallError('index of untyped nil');
    if (item instanceof GoMap) {
      if (typeof ix !== 'string') throw new GoCallError(`value has type ${typeName(ix)}; should be string`);
      const found = item.entries.get(ix);
      item = found !== undefined ? found : item.elem === 'string' ? '' : null;
    } else if (Array.isArray(item) || typeof item === 'string') {
      const n = indexArg(ix);
      const len = typeof item === 'string' ? Buffer.byteLength(item) : item.length;
      if (n < 0 || n >= len) throw new GoCallError(`index out of range: ${n}`);
      item = typeof item === 'string' ? GoInt.int(Buffer.from(item, 'utf8')[n]!) : item[n];
    } else {
      throw new GoCallError(`can't index item of type ${typeName(item)}`);
    }
  }
  return item;
}

function slice(args: GoValue[]): GoValue {
  const item = args[0];
  if (typeof item !== 'string' && !Array.isArray(item)) throw new GoCallError(`can't slice item of type ${typeName(item)}`);
  if (args.length > 4 || (typeof item === 'string' && args.length > 3)) throw new GoCallError('too many slice indexes');
  const len = typeof item === 'string' ? Buffer.byteLength(item) : item.length;
  const ix = args.slice(1).map(indexArg);
  const lo = ix[0] ?? 0;
  const hi = ix[1] ?? len;
  if (lo < 0 || hi > len || lo > hi) throw new GoCallError(`invalid slice index: ${lo} > ${hi}`);
  return typeof item === 'string' ? Buffer.from(item, 'utf8').subarray(lo, hi).toString('utf8') : item.slice(lo, hi);
}

/** The text the escaping builtins work on: a lone string as it is, else fmt.Sprint of the arguments. */
function argsText(args: GoValue[]): string {
  return args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args);
}

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => ({ '\0': '\ufffd', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\' || ch === "'" || ch === '"') out += '\\' + ch;
    else if (ch === '<') out += '\\u003C';
    else if (ch === '>') out += '\\u003E';
    else if (ch === '&') out += '\\u0026';
    else if (ch === '=') out += '\\u003D';
    else if (c < 0x20 || c === 0x7f) out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
    else out += ch;
  }
  return out;
}

/** url.QueryEscape. */
export function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

const value = (n: number): ParamType[] => new Array<ParamType>(n).fill('value');

/** The predefined functions. */
export const BUILTINS: Record<string, GoFunc> = {
  and: { params: ['value'], variadic: 'value', lazy: 'and', call: (a) => a[a.length - 1] },
  or: { params: ['value'], variadic: 'value', lazy: 'or', call: (a) => a[a.length - 1] },
  not: { params: ['value'], call: (a) => !truth(a[0]) },
  len: { params: ['value'], call: (a) => length(a[0]) },
  index: { params: ['value'], variadic: 'value', call: index },
  slice: { params: ['value'], variadic: 'value', call: slice },
  print: { params: [], variadic: 'any', call: (a) => sprint(a) },
  println: { params: [], variadic: 'any', call: (a) => sprintln(a) },
  printf: { params: ['string'], variadic: 'any', call: (a) => sprintf(a[0] as string, a.slice(1)) },
  html: { params: [], variadic: 'any', call: (a) => htmlEscape(argsText(a)) },
  js: { params: [], variadic: 'any', call: (a) => jsEscape(argsText(a)) },
  urlquery: { params: [], variadic: 'any', call: (a) => queryEscape(argsText(a)) },
  eq: { params: ['value'], variadic: 'value', call: (a) => eq(a) },
  ne: { params: value(2), call: (a) => !eq(a) },
  lt: { params: value(2), call: (a) => order(a[0], a[1]) < 0 },
  le: { params: value(2), call: (a) => order(a[0], a[1]) <= 0 },
  gt: { params: value(2), call: (a) => order(a[0], a[1]) > 0 },
  ge: { params: value(2), call: (a) => order(a[0], a[1]) >= 0 },
};
