/**
 * Go's fmt for template values: Sprint, Sprintln and Sprintf with the verbs, flags, width and
 * precision a template can use (%v %s %q %d %b %o %x %X %c %U %e %E %f %F %g %G %t %T %%), and
 * Go's error forms (`%!d(string=abc)`, `%!s(MISSING)`, `%!(EXTRA int=1)`).
 */
import { goQuote } from '../stages/convert';
import { formatGoFloat } from './go-float';
import { GoTime } from './go-time';
import { formatValue, GoInt, GoMap, typeName, type GoValue } from './values';

/** fmt.Sprint: operands formatted with %v, a space between two operands when neither is a string. */
export function sprint(args: readonly GoValue[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a, true);
  }
  return out;
}

/** fmt.Sprintln: operands with %v separated by spaces, then a newline. */
export function sprintln(args: readonly GoValue[]): string {
  return args.map((a) => formatValue(a, true)).join(' ') + '\n';
}

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width: number | null;
  prec: number | null;
}

function padTo(s: string, spec: Spec, numeric: boolean): string {
  if (spec.width === null || [...s].length >= spec.width) return s;
  const n = spec.width - [...s].length;
  if (spec.minus) return s + ' '.repeat(n);
  if (spec.zero && numeric) {
    const sign = /^[+\- ]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(n) + s.slice(sign.length);
  }
  return ' '.repeat(n) + s;
}

function signed(s: string, negative: boolean, spec: Spec): string {
  if (negative) return '-' + s;
  if (spec.plus) return '+' + s;
  if (spec.space) return ' ' + s;
  return s;
}

function badVerb(verb: string, v: GoValue): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(v)}=${formatValue(v, true)})`;
}

function formatInt(v: bigint, verb: string, spec: Spec): string | null {
  const neg = v < 0n;
  const a = neg ? -v : v;
  let s: string;
  switch (verb) {
    case 'd':
    case 'v':
      s = a.toString();
      break;
    case 'b':
      s = a.toString(2);
      break;
    case 'o':
    case 'O':
      s = a.toString(8);
      if (verb === 'O') s = '0o' + s;
      else if (spec.sharp && s[0] !== '0') s = '0' + s;
      break;
    case 'x':
    case 'X':
      s = a.toString(16);
      if (verb === 'X') s = s.toUpperCase();
      if (spec.sharp) s = (verb === 'x' ? '0x' : '0X') + s;
      break;
    case 'c':
      return padTo(String.fromCodePoint(Number(v >= 0n && v <= 0x10ffffn ? v : 0xfffdn)), spec, false);
    case 'q':
      return padTo("'" + goQuote(String.fromCodePoint(Number(v >= 0n && v <= 0x10ffffn ? v : 0xfffdn))).slice(1, -1).replace(/\\"/g, '"') + "'", spec, false);
    case 'U':
      return padTo('U+' + a.toString(16).toUpperCase().padStart(4, '0'), spec, false);
    default:
      return null;
  }
  if (spec.prec !== null) s = s.padStart(spec.prec, '0');
  const out = signed(s, neg, spec);
  return padTo(out, spec.prec !== null ? { ...spec, zero: false } : spec, true);
}

function formatFloat(f: number, verb: string, spec: Spec): string | null {
  let s: string;
  switch (verb) {
    case 'v':
    case 'g':
    case 'G':
      s = formatGoFloat(f, verb === 'G' ? 'G' : 'g', spec.prec ?? -1);
      break;
    case 'e':
    case 'E':
      s = formatGoFloat(f, verb, spec.prec ?? 6);
      break;
    case 'f':
    case 'F':
      s = formatGoFloat(f, 'f', spec.prec ?? 6);
      break;
    default:
      return null;
  }
  if (s === '+Inf' && !spec.plus) s = spec.space ? ' Inf' : 'Inf';
  else if (s !== 'NaN' && !s.startsWith('-') && !s.startsWith('+')) s = signed(s, false, spec);
  else if (s === 'NaN' && (spec.plus || spec.space)) s = (spec.plus ? '+' : ' ') + s;
  const numeric = Number.isFinite(f);
  return padTo(s, spec, numeric);
}

function formatString(s: string, verb: string, spec: Spec): string | null {
  switch (verb) {
    case 'v':
    case 's': {
      const t = spec.prec !== null ? [...s].slice(0, spec.prec).join('') : s;
      return padTo(t, spec, false);
    }
    case 'q':
      return padTo(spec.sharp && canBackquote(s) ? '`' + s + '`' : goQuote(s), spec, false);
    case 'x':
    case 'X': {
      let hex = '';
      const bytes = Buffer.from(spec.prec !== null ? s.slice(0, spec.prec) : s, 'utf8');
      for (let i = 0; i < bytes.length; i++) {
        if (spec.space && i > 0) hex += ' ';
        if (spec.sharp && (spec.space || i === 0)) hex += verb === 'x' ? '0x' : '0X';
        const h = bytes[i]!.toString(16).padStart(2, '0');
        hex += verb === 'X' ? h.toUpperCase() : h;
      }
      return padTo(hex, spec, false);
    }
    default:
      return null;
  }
}

/** strconv.CanBackquote: no backquote, no control character but tab, no U+FEFF. */
function canBackquote(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x60 || c === 0xfeff || c === 0x7f || (c < 0x20 && c !== 9)) return false;
  }
  return true;
}

/** One operand with one verb. */
function formatOne(v: GoValue, verb: string, spec: Spec): string {
  if (verb === 'T') return padTo(v === null || v === undefined ? '<nil>' : typeName(v), spec, false);
  if (v === null || v === undefined) return verb === 'v' ? padTo('<nil>', spec, false) : badVerb(verb, v);
  let out: string | null = null;
  if (typeof v === 'string') out = formatString(v, verb, spec);
  else if (typeof v === 'number') out = formatFloat(v, verb, spec);
  else if (typeof v === 'boolean') out = verb === 't' || verb === 'v' ? padTo(v ? 'true' : 'false', spec, false) : null;
  else if (v instanceof GoInt) out = formatInt(v.v, verb, spec);
  else if (v instanceof GoTime) out = verb === 'v' || verb === 's' || verb === 'q' ? formatString(v.toString(), verb, spec) : null;
  else if (Array.isArray(v)) out = '[' + v.map((e) => formatOne(e, verb, { ...spec, width: null })).join(' ') + ']';
  else if (v instanceof GoMap) out = 'map[' + v.sortedKeys().map((k) => `${formatOne(k, verb, spec)}:${formatOne(v.entries.get(k), verb, spec)}`).join(' ') + ']';
  return out ?? badVerb(verb, v);
}

/** fmt.Sprintf. */
export function sprintf(format: string, args: readonly GoValue[]): string {
  let out = '';
  let argi = 0;
  const nextInt = (): number | null => {
    const a = args[argi++];
    return a instanceof GoInt ? Number(a.v) : null;
  };
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const spec: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false, width: null, prec: null };
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === '-') spec.minus = true;
      else if (c === '+') spec.plus = true;
      else if (c === '#') spec.sharp = true;
      else if (c === ' ') spec.space = true;
      else if (c === '0') spec.zero = !spec.minus;
      else break;
    }
    if (format[i] === '*') {
      i++;
      const w = nextInt();
      if (w === null) out += '%!(BADWIDTH)';
      else if (w < 0) {
        spec.minus = true;
        spec.width = -w;
      } else spec.width = w;
    } else {
      const m = /^[0-9]+/.exec(format.slice(i));
      if (m !== null) {
        spec.width = Number(m[0]);
        i += m[0].length;
      }
    }
    if (format[i] === '.') {
      i++;
      if (format[i] === '*') {
        i++;
        const p = nextInt();
        if (p === null || p < 0) out += '%!(BADPREC)';
        else spec.prec = p;
      } else {
        const m = /^[0-9]*/.exec(format.slice(i))!;
        spec.prec = m[0] === '' ? 0 : Number(m[0]);
        i += m[0].length;
      }
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(args[argi++], verb, spec);
  }
  if (argi < args.length) {
    out += '%!(EXTRA ' + args.slice(argi).map((a) => (a === null || a === undefined ? '<nil>' : `${typeName(a)}=${formatValue(a, true)}`)).join(', ') + ')';
  }
  return out;
}
