/**
 * The JSON scanner Loki's `| json` uses (grafana/jsonparser), reproduced step for step because its
 * leniency and its error texts are visible in results: it reads only as much as it must (values it
 * skips are not validated), keys found before a syntax error are kept, and the error's text becomes
 * `__error_details__`. Positions are UTF-16 offsets into the line; every structural character is
 * ASCII, so the scan decides exactly as the byte-oriented original does.
 */

/** Value types, as jsonparser numbers them. */
export const JsonType = { NotExist: 0, String: 1, Number: 2, Object: 3, Array: 4, Boolean: 5, Null: 6, Unknown: 7 } as const;

/** jsonparser's error texts. */
export const JsonError = {
  unknownValueType: 'Unknown value type',
  malformedJson: 'Malformed JSON error',
  malformedString: 'Value is string, but can\'t find closing \'"\' symbol',
  malformedArray: "Value is array, but can't find closing ']' symbol",
  malformedObject: "Value looks like object, but can't find closing '}' symbol",
  malformedStringEscape: 'Encountered an invalid escape sequence in a string',
} as const;

/** A value found by `getValue`: its bounds (quotes stripped from strings), type, and where it ends. */
export interface JsonValue {
  start: number;
  end: number;
  type: number;
  after: number;
}

/** Next non-whitespace position at or after `i`, or -1. */
function nextToken(d: string, i: number, end: number): number {
  for (; i < end; i++) {
    const c = d.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return i;
  }
  return -1;
}

function tokenEnd(d: string, i: number, end: number): number {
  for (; i < end; i++) {
    const c = d.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9 || c === 44 || c === 125 || c === 93) return i;
  }
  return end;
}

/** Set by `stringEnd`: whether the string had a backslash. */
let lastEscaped = false;

/**
 * From just after an opening quote: the position after the closing quote, or -1. A quote closes
 * the string unless a backslash came before it in the string and an odd run of backslashes
 * precedes it (jsonparser's rule).
 */
function stringEnd(d: string, i: number, end: number): number {
  let escaped = false;
  for (let k = i; k < end; k++) {
    const c = d.charCodeAt(k);
    if (c === 34) {
      if (!escaped) {
        lastEscaped = false;
        return k + 1;
      }
      let j = k - 1;
      while (j >= i && d.charCodeAt(j) === 92) j--;
      if ((k - 1 - j) % 2 === 0) {
        lastEscaped = true;
        return k + 1;
      }
    } else if (c === 92) {
      escaped = true;
    }
  }
  lastEscaped = escaped;
  return -1;
}

/** From an opening bracket: the position after its matching close, or -1. */
function blockEnd(d: string, i: number, end: number, open: number, close: number): number {
  let level = 0;
  for (let k = i; k < end; k++) {
    const c = d.charCodeAt(k);
    if (c === 34) {
      const se = stringEnd(d, k + 1, end);
      if (se < 0) return -1;
      k = se - 1;
    } else if (c === open) {
      level++;
    } else if (c === close) {
      level--;
      if (level === 0) return k + 1;
    }
  }
  return -1;
}

/** The value at `offset` (after whitespace), as jsonparser's Get with no keys; an error text on failure. */
function getValue(d: string, offset: number, end: number, out: JsonValue): string | null {
  const o = nextToken(d, offset, end);
  if (o < 0) return JsonError.malformedJson;
  const c = d.charCodeAt(o);
  if (c === 34) {
    out.type = JsonType.String;
    const se = stringEnd(d, o + 1, end);
    if (se < 0) return JsonError.malformedString;
    out.start = o + 1;
    out.end = se - 1;
    out.after = se;
    return null;
  }
  if (c === 91 || c === 123) {
    out.type = c === 91 ? JsonType.Array : JsonType.Object;
    const be = blockEnd(d, o, end, c, c === 91 ? 93 : 125);
    if (be < 0) return c === 91 ? JsonError.malformedArray : JsonError.malformedObject;
    out.start = o;
    out.end = be;
    out.after = be;
    return null;
  }
  const te = tokenEnd(d, o, end);
  const len = te - o;
  if (c === 116 || c === 102) {
    if (!((len === 4 && d.startsWith('true', o)) || (len === 5 && d.startsWith('false', o)))) return JsonError.unknownValueType;
    out.type = JsonType.Boolean;
  } else if (c === 117 || c === 110) {
    if (!(len === 4 && d.startsWith('null', o))) return JsonError.unknownValueType;
    out.type = JsonType.Null;
  } else if ((c >= 48 && c <= 57) || c === 45) {
    out.type = JsonType.Number;
  } else {
    return JsonError.unknownValueType;
  }
  out.start = o;
  out.end = te;
  out.after = te;
  return null;
}

/** What an objectEach callback returns: null to go on, an error text, or a stop marker the caller defined. */
export type EachResult = string | symbol | null;

/**
 * jsonparser's ObjectEach over d[start, end): calls `cb` with each key (unescaped) and value;
 * returns null, an error text, or what `cb` returned to stop.
 */
export function objectEach(d: string, start: number, end: number, cb: (key: string, v: JsonValue) => EachResult): EachResult {
  let offset = nextToken(d, start, end);
  if (offset < 0 || d.charCodeAt(offset) !== 123) return JsonError.malformedObject;
  offset = nextToken(d, offset + 1, end);
  if (offset < 0) return JsonError.malformedJson;
  if (d.charCodeAt(offset) === 125) return null;
  const v: JsonValue = { start: 0, end: 0, type: 0, after: 0 };
  while (offset < end) {
    const c = d.charCodeAt(offset);
    if (c === 125) return null;
    if (c !== 34) return JsonError.malformedObject;
    offset++;
    const se = stringEnd(d, offset, end);
    if (se < 0) return JsonError.malformedJson;
    let key = d.slice(offset, se - 1);
    if (lastEscaped) {
      const u = unescapeJson(key);
      if (u === null) return JsonError.malformedStringEscape;
      key = u;
    }
    offset = nextToken(d, se, end);
    if (offset < 0 || d.charCodeAt(offset) !== 58) return JsonError.malformedJson;
    const err = getValue(d, offset + 1, end, v);
    if (err !== null) return err;
    const r = cb(key, v);
    if (r !== null) return r;
    offset = nextToken(d, v.after, end);
    if (offset < 0) return JsonError.malformedArray;
    const sep = d.charCodeAt(offset);
    if (sep === 125) return null;
    if (sep !== 44) return JsonError.malformedObject;
    offset = nextToken(d, offset + 1, end);
    if (offset < 0) return JsonError.malformedArray;
  }
  return JsonError.malformedObject;
}

/** jsonparser's ArrayEach over d[start, end): returns where it stopped (-1 at once) and an error text. */
function arrayEach(d: string, start: number, end: number, cb: (v: JsonValue, offset: number) => void): { at: number; err: string | null } {
  if (end - start === 0) return { at: -1, err: JsonError.malformedObject };
  const nt = nextToken(d, start, end);
  if (nt < 0) return { at: -1, err: JsonError.malformedJson };
  let offset = nt + 1;
  const no = nextToken(d, offset, end);
  if (no < 0) return { at: offset, err: JsonError.malformedJson };
  offset = no;
  if (d.charCodeAt(offset) === 93) return { at: offset, err: null };
  const v: JsonValue = { start: 0, end: 0, type: 0, after: 0 };
  while (true) {
    const err = getValue(d, offset, end, v);
    if (err !== null) return { at: offset, err };
    if (v.after === offset) break;
    cb({ ...v }, v.after - (v.end - v.start));
    offset = v.after;
    const skip = nextToken(d, offset, end);
    if (skip < 0) return { at: offset, err: JsonError.malformedArray };
    offset = skip;
    const c = d.charCodeAt(offset);
    if (c === 93) break;
    if (c !== 44) return { at: offset, err: JsonError.malformedArray };
    offset++;
  }
  return { at: offset, err: null };
}

/** jsonparser's searchKeys: where the value at `keys` starts in d[start, end), or -1. */
function searchKeys(d: string, start: number, end: number, keys: readonly string[]): number {
  let keyLevel = 0;
  let level = 0;
  let lastMatched = true;
  const lk = keys.length;
  if (lk === 0) return start;
  for (let i = start; i < end; i++) {
    const c = d.charCodeAt(i);
    if (c === 34) {
      const keyBegin = i + 1;
      const se = stringEnd(d, keyBegin, end);
      if (se < 0) return -1;
      const escaped = lastEscaped;
      i = nextToken(d, se, end);
      if (i < 0) return -1;
      if (d.charCodeAt(i) === 58) {
        if (level < 1) return -1;
        let key: string | null = d.slice(keyBegin, se - 1);
        if (escaped) {
          key = unescapeJson(key);
          if (key === null) return -1;
        }
        if (level > lk) return -1;
        if (key === keys[level - 1]) {
          lastMatched = true;
          if (keyLevel === level - 1) {
            keyLevel++;
            if (keyLevel === lk) return i + 1;
          }
        } else {
          lastMatched = false;
        }
      } else {
        i--;
      }
    } else if (c === 123) {
      if (!lastMatched) {
        const be = blockEnd(d, i, end, 123, 125);
        if (be < 0) return -1;
        i = be - 1;
      } else {
        level++;
      }
    } else if (c === 125) {
      level--;
      if (level === keyLevel) keyLevel--;
    } else if (c === 91) {
      const k = keys[level];
      if (keyLevel === level && k !== undefined && k[0] === '[') {
        if (k.length < 3 || k[k.length - 1] !== ']' || !/^[+-]?\d+$/.test(k.slice(1, -1))) return -1;
        const aIdx = Number(k.slice(1, -1));
        let cur = 0;
        let found: { start: number; end: number } | null = null;
        arrayEach(d, i, end, (v, offset) => {
          if (cur === aIdx) found = v.type === JsonType.String ? { start: offset - 2, end: offset + (v.end - v.start) } : { start: offset, end: v.end };
          cur++;
        });
        if (found === null) return -1;
        const f = found as { start: number; end: number };
        const sub = searchKeys(d, f.start, f.end, keys.slice(level + 1));
        return sub < 0 ? -1 : sub;
      }
      const be = blockEnd(d, i, end, 91, 93);
      if (be < 0) return -1;
      i = be - 1;
    } else if (c === 58) {
      return -1;
    }
  }
  return -1;
}

/** strconv.Atoi with its error ignored (0), as EachKey reads array indexes. */
function atoi(s: string): number {
  return /^[+-]?\d+$/.test(s) ? Number(s) : 0;
}

function sameTree(p1: readonly string[], p2: readonly string[], n: number): boolean {
  const m = Math.min(p1.length, n);
  for (let k = 0; k < m; k++) if (p1[k] !== p2[k]) return false;
  return true;
}

/** A callback of eachKey: the path's index (-1 for a structural error), the value or null, and an error text or null. */
export type EachKeyCallback = (index: number, v: JsonValue | null, err: string | null) => void;

/** jsonparser's EachKey: calls `cb` for the first value found at each path of d[start, end). */
export function eachKey(d: string, start: number, end: number, paths: readonly (readonly string[])[], cb: EachKeyCallback): void {
  let level = 0;
  let matched = 0;
  const flags = new Array<boolean>(paths.length).fill(false);
  let maxPath = 0;
  for (const p of paths) if (p.length > maxPath) maxPath = p.length;
  const buf = new Array<string>(maxPath).fill('');
  const v: JsonValue = { start: 0, end: 0, type: 0, after: 0 };
  for (let i = start; i < end; i++) {
    const c = d.charCodeAt(i);
    if (c === 34) {
      const keyBegin = i + 1;
      const se = stringEnd(d, keyBegin, end);
      if (se < 0) return;
      const escaped = lastEscaped;
      i = nextToken(d, se, end);
      if (i < 0) return;
      if (d.charCodeAt(i) !== 58) {
        i--;
        continue;
      }
      let match = -1;
      let key: string | null = d.slice(keyBegin, se - 1);
      if (escaped) {
        key = unescapeJson(key);
        if (key === null) return;
      }
      if (maxPath >= level) {
        if (level < 1) {
          cb(-1, null, JsonError.malformedJson);
          return;
        }
        buf[level - 1] = key;
        for (let pi = 0; pi < paths.length; pi++) {
          const p = paths[pi]!;
          if (p.length !== level || flags[pi] || key !== p[level - 1] || !sameTree(p, buf, level)) continue;
          match = pi;
          matched++;
          flags[pi] = true;
          const err = getValue(d, i + 1, end, v);
          cb(pi, err === null ? v : null, err);
          if (matched === paths.length) break;
        }
        if (matched === paths.length) return;
      }
      if (match === -1) {
        const t = nextToken(d, i + 1, end);
        i = t < 0 ? i - 1 : t - 1;
        if (d.charCodeAt(i) === 123) {
          const be = blockEnd(d, i, end, 123, 125);
          i = be < 0 ? i : be + 1;
        }
      }
      if (i < end) {
        const k = d.charCodeAt(i);
        if (k === 123 || k === 125 || k === 91 || k === 34) i--;
      }
    } else if (c === 123) {
      level++;
    } else if (c === 125) {
      level--;
    } else if (c === 91) {
      if (level < 0) {
        cb(-1, null, JsonError.malformedJson);
        return;
      }
      const idx = new Set<number>();
      const pIdx = new Array<boolean>(paths.length).fill(false);
      for (let pi = 0; pi < paths.length; pi++) {
        const p = paths[pi]!;
        const k = p[level];
        if (p.length < level + 1 || flags[pi] || k === undefined || k === '' || k[0] !== '[' || !sameTree(p, buf, level)) continue;
        if (k.length > 2) {
          idx.add(atoi(k.slice(1, -1)));
          pIdx[pi] = true;
        }
      }
      if (idx.size > 0) {
        level++;
        let cur = 0;
        const arr = arrayEach(d, i, end, (val) => {
          if (idx.has(cur)) {
            for (let pi = 0; pi < paths.length; pi++) {
              if (!pIdx[pi]) continue;
              const p = paths[pi]!;
              if (cur !== atoi(p[level - 1]!.slice(1, -1))) continue;
              const of = searchKeys(d, val.start, val.end, p.slice(level));
              matched++;
              flags[pi] = true;
              if (of < 0) continue;
              if (val.type === JsonType.String) {
                cb(pi, { start: of, end: val.end, type: val.type, after: val.after }, null);
              } else {
                const err = getValue(d, of, val.end, v);
                cb(pi, err === null ? v : null, err);
              }
            }
          }
          cur++;
        });
        if (matched === paths.length) return;
        i = arr.at < 0 ? i - 2 : arr.at - 1;
      } else {
        const be = blockEnd(d, i, end, 91, 93);
        if (be < 0) return;
        i = be - 1;
      }
    } else if (c === 93) {
      level--;
    }
  }
}

function hex4(s: string, i: number): number {
  if (i + 4 > s.length) return -1;
  let r = 0;
  for (let k = i; k < i + 4; k++) {
    const c = s.charCodeAt(k);
    const h = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (h < 0) return -1;
    r = r * 16 + h;
  }
  return r;
}

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** jsonparser's Unescape of a string's raw text; null for an invalid escape. */
export function unescapeJson(s: string): string | null {
  let i = s.indexOf('\\');
  if (i < 0) return s;
  let out = s.slice(0, i);
  while (i < s.length) {
    const e = s[i + 1];
    if (e === undefined) return null;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out += simple;
      i += 2;
    } else if (e === 'u') {
      const r = hex4(s, i + 2);
      if (r < 0) return null;
      if (r < 0xd800 || r > 0xdfff) {
        out += String.fromCharCode(r);
        i += 6;
      } else {
        // jsonparser reads the second half's digits without checking that "\u" precedes them.
        const r2 = i + 12 <= s.length ? hex4(s, i + 8) : -1;
        if (r2 < 0xdc00) return null;
        const cp = 0x10000 + (r - 0xd800) * 1024 + (r2 - 0xdc00);
        out += cp > 0x10ffff ? '\ufffd' : String.fromCodePoint(cp);
        i += 12;
      }
    } else {
      return null;
    }
    const next = s.indexOf('\\', i);
    if (next < 0) return out + s.slice(i);
    out += s.slice(i, next);
    i = next;
  }
  return out;
}

/** A string value as Loki reads it: unescaped ('' when the escapes are invalid), U+FFFD replaced by a space. */
export function jsonStringValue(raw: string): string {
  const u = unescapeJson(raw);
  if (u === null) return '';
  return u.includes('\ufffd') ? u.replace(/\ufffd/g, ' ') : u;
}
