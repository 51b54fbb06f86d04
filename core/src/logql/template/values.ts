/**
 * Go values as templates see them, in JavaScript: string, float64 (number), bool, int and int64
 * (GoInt, exact 64-bit), time.Time (GoTime), maps (GoMap: the labels as map[string]string, JSON
 * objects as map[string]interface {}), []interface {} (arrays), a nil interface (null) and the
 * invalid value of a missing result (undefined, printed "<no value>"). Printing follows fmt's %v.
 */
import { goFloatString } from './go-float';
import { GoTime } from './go-time';

/** An int or int64 value. */
export class GoInt {
  constructor(
    readonly v: bigint,
    readonly type: 'int' | 'int64',
  ) {}

  /** An int64 from any bigint, wrapped to 64 bits as Go arithmetic wraps. */
  static int64(v: bigint): GoInt {
    return new GoInt(BigInt.asIntN(64, v), 'int64');
  }

  /** An int from any bigint, wrapped to 64 bits. */
  static int(v: bigint | number): GoInt {
    return new GoInt(BigInt.asIntN(64, typeof v === 'number' ? BigInt(v) : v), 'int');
  }
}

/** A Go map with string keys. */
export class GoMap {
  constructor(
    /** The element type: the labels map holds strings, a decoded JSON object holds anything. */
    readonly elem: 'string' | 'interface {}',
    readonly entries: Map<string, GoValue>,
  ) {}

  /** Keys in Go's printing and ranging order (sorted). */
  sortedKeys(): string[] {
    return [...this.entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/** Any value a template can hold. */
export type GoValue = string | number | boolean | GoInt | GoTime | GoMap | GoValue[] | null | undefined;

/** An error a template function returns (or a runtime panic it raises), as text. */
export class GoCallError extends Error {}

/** Go's type name of a value, as error messages print it. */
export function typeName(v: GoValue): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof GoInt) return v.type;
  if (v instanceof GoTime) return 'time.Time';
  if (v instanceof GoMap) return `map[string]${v.elem}`;
  if (Array.isArray(v)) return '[]interface {}';
  return 'interface {}';
}

/** text/template's truth: false for zero numbers, empty strings, maps and slices, false, nil. */
export function truth(v: GoValue): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (v instanceof GoInt) return v.v !== 0n;
  if (v instanceof GoMap) return v.entries.size > 0;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

/** fmt's %v of a value (`nested`: inside a slice or map, where nil prints "<nil>"). */
export function formatValue(v: GoValue, nested = false): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goFloatString(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof GoInt) return v.v.toString();
  if (v instanceof GoTime) return v.toString();
  if (v instanceof GoMap) return 'map[' + v.sortedKeys().map((k) => `${k}:${formatValue(v.entries.get(k), true)}`).join(' ') + ']';
  if (Array.isArray(v)) return '[' + v.map((e) => formatValue(e, true)).join(' ') + ']';
  return nested || v === null ? '<nil>' : '<no value>';
}

/** A decoded JSON document as Go's encoding/json gives it to interface {} (numbers as float64). */
export function fromJsonValue(v: unknown): GoValue {
  if (v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(fromJsonValue);
  const m = new Map<string, GoValue>();
  for (const [k, e] of Object.entries(v as Record<string, unknown>)) m.set(k, fromJsonValue(e));
  return new GoMap('interface {}', m);
}

const GO_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"' };

/** Go's strconv.Unquote of a double-quoted string or a character constant; null when invalid. */
export function goUnquote(quoted: string): string | null {
  const q = quoted[0];
  if ((q !== '"' && q !== "'") || quoted[quoted.length - 1] !== q || quoted.length < 2) return null;
  const body = quoted.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === q || c === '\n') return null;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) return null;
    if (GO_ESCAPES[e] !== undefined) {
      if ((e === "'" && q === '"') || (e === '"' && q === "'")) return null;
      out += GO_ESCAPES[e];
      continue;
    }
    let digits: string | null = null;
    let base = 16;
    if (e === 'x') digits = body.slice(i + 1, i + 3);
    else if (e === 'u') digits = body.slice(i + 1, i + 5);
    else if (e === 'U') digits = body.slice(i + 1, i + 9);
    else if (e >= '0' && e <= '7') {
      digits = body.slice(i, i + 3);
      base = 8;
      i--;
    }
    if (digits === null) return null;
    const want = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 3;
    if (digits.length !== want || !(base === 16 ? /^[0-9a-fA-F]+$/ : /^[0-7]+$/).test(digits)) return null;
    const cp = parseInt(digits, base);
    if (base === 8 && cp > 255) return null;
    if ((e === 'u' || e === 'U') && (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) return null;
    // \x and octal escapes are bytes; a lone byte above 0x7f is not valid UTF-8 and decodes as U+FFFD.
    out += (e === 'x' || base === 8) && cp > 0x7f ? '\ufffd' : String.fromCodePoint(cp);
    i += want;
  }
  if (q === "'" && [...out].length !== 1) return null;
  return out;
}
