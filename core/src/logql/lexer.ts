/**
 * The LogQL lexer, with Loki's rules (pkg/logql/syntax/lex.go over a Go text/scanner): Go
 * identifiers, numbers, strings and `//`, `/* … *\/` and `#` comments; keywords case-insensitive;
 * function names (`rate`, `sum`, `bytes`, …) are keywords only before `(` or `by`/`without`, else
 * identifiers; a number followed by units is a duration (`5m`, `1h30m`, `250ms`, `-5m`) or a size
 * (`20MB`, `1.5KiB`); `[…]` is a range, read as a Prometheus duration.
 *
 * Errors read like Loki's: `parse error at line 1, col 9: syntax error: unexpected $end, expecting
 * } or ,`. Columns count characters; as in Loki, a token its lexer reads ahead for (two-character
 * operators, durations, sizes, ranges, flags) reports line 0.
 */
import { BadRequestError } from '../errors';
import { readStringLiteral } from '../label-set';
import { invalidSeparator, parseBytes, parseLokiDuration, parsePromDuration } from './parser-values';

/** Token kinds, in the order Loki's grammar declares them (the order of "expecting" lists). */
export const T = {
  END: 0,
  BYTES: 1,
  IDENTIFIER: 2,
  STRING: 3,
  NUMBER: 4,
  FUNCTION_FLAG: 5,
  DURATION: 6,
  RANGE: 7,
  EQ: 8,
  RE: 9,
  NRE: 10,
  NPA: 11,
  OPEN_BRACE: 12,
  CLOSE_BRACE: 13,
  OPEN_BRACKET: 14,
  CLOSE_BRACKET: 15,
  COMMA: 16,
  DOT: 17,
  PIPE_MATCH: 18,
  PIPE_EXACT: 19,
  PIPE_PATTERN: 20,
  OPEN_PARENTHESIS: 21,
  CLOSE_PARENTHESIS: 22,
  BY: 23,
  WITHOUT: 24,
  COUNT_OVER_TIME: 25,
  RATE: 26,
  RATE_COUNTER: 27,
  SUM: 28,
  SORT: 29,
  SORT_DESC: 30,
  AVG: 31,
  MAX: 32,
  MIN: 33,
  COUNT: 34,
  STDDEV: 35,
  STDVAR: 36,
  BOTTOMK: 37,
  TOPK: 38,
  APPROX_TOPK: 39,
  BYTES_OVER_TIME: 40,
  BYTES_RATE: 41,
  BOOL: 42,
  JSON: 43,
  REGEXP: 44,
  LOGFMT: 45,
  PIPE: 46,
  LINE_FMT: 47,
  LABEL_FMT: 48,
  UNWRAP: 49,
  AVG_OVER_TIME: 50,
  SUM_OVER_TIME: 51,
  MIN_OVER_TIME: 52,
  MAX_OVER_TIME: 53,
  STDVAR_OVER_TIME: 54,
  STDDEV_OVER_TIME: 55,
  QUANTILE_OVER_TIME: 56,
  BYTES_CONV: 57,
  DURATION_CONV: 58,
  DURATION_SECONDS_CONV: 59,
  FIRST_OVER_TIME: 60,
  LAST_OVER_TIME: 61,
  ABSENT_OVER_TIME: 62,
  VECTOR: 63,
  LABEL_REPLACE: 64,
  UNPACK: 65,
  OFFSET: 66,
  PATTERN: 67,
  IP: 68,
  ON: 69,
  IGNORING: 70,
  GROUP_LEFT: 71,
  GROUP_RIGHT: 72,
  DECOLORIZE: 73,
  DROP: 74,
  KEEP: 75,
  OR: 76,
  AND: 77,
  UNLESS: 78,
  CMP_EQ: 79,
  NEQ: 80,
  LT: 81,
  LTE: 82,
  GT: 83,
  GTE: 84,
  ADD: 85,
  SUB: 86,
  MUL: 87,
  DIV: 88,
  MOD: 89,
  POW: 90,
} as const;

/** A token kind (a value of T). */
export type TokenKind = (typeof T)[keyof typeof T];

/** Keywords and operators, by their lower-case text (Loki's `tokens`). */
const WORDS = new Map<string, TokenKind>([
  [',', T.COMMA],
  ['.', T.DOT],
  ['{', T.OPEN_BRACE],
  ['}', T.CLOSE_BRACE],
  ['=', T.EQ],
  ['!=', T.NEQ],
  ['=~', T.RE],
  ['!~', T.NRE],
  ['!>', T.NPA],
  ['|=', T.PIPE_EXACT],
  ['|~', T.PIPE_MATCH],
  ['|>', T.PIPE_PATTERN],
  ['|', T.PIPE],
  ['unwrap', T.UNWRAP],
  ['(', T.OPEN_PARENTHESIS],
  [')', T.CLOSE_PARENTHESIS],
  ['by', T.BY],
  ['without', T.WITHOUT],
  ['bool', T.BOOL],
  ['[', T.OPEN_BRACKET],
  [']', T.CLOSE_BRACKET],
  ['label_replace', T.LABEL_REPLACE],
  ['offset', T.OFFSET],
  ['on', T.ON],
  ['ignoring', T.IGNORING],
  ['group_left', T.GROUP_LEFT],
  ['group_right', T.GROUP_RIGHT],
  ['or', T.OR],
  ['and', T.AND],
  ['unless', T.UNLESS],
  ['+', T.ADD],
  ['-', T.SUB],
  ['*', T.MUL],
  ['/', T.DIV],
  ['%', T.MOD],
  ['^', T.POW],
  ['==', T.CMP_EQ],
  ['>', T.GT],
  ['>=', T.GTE],
  ['<', T.LT],
  ['<=', T.LTE],
  ['json', T.JSON],
  ['regexp', T.REGEXP],
  ['logfmt', T.LOGFMT],
  ['unpack', T.UNPACK],
  ['pattern', T.PATTERN],
  ['label_format', T.LABEL_FMT],
  ['line_format', T.LINE_FMT],
  ['ip', T.IP],
  ['decolorize', T.DECOLORIZE],
  ['drop', T.DROP],
  ['keep', T.KEEP],
]);

/** Names that are keywords only when a call follows (`(`, or `by`/`without` then `(`); Loki's `functionTokens`. */
const FUNCTIONS = new Map<string, TokenKind>([
  ['rate', T.RATE],
  ['rate_counter', T.RATE_COUNTER],
  ['count_over_time', T.COUNT_OVER_TIME],
  ['bytes_rate', T.BYTES_RATE],
  ['bytes_over_time', T.BYTES_OVER_TIME],
  ['avg_over_time', T.AVG_OVER_TIME],
  ['sum_over_time', T.SUM_OVER_TIME],
  ['min_over_time', T.MIN_OVER_TIME],
  ['max_over_time', T.MAX_OVER_TIME],
  ['stdvar_over_time', T.STDVAR_OVER_TIME],
  ['stddev_over_time', T.STDDEV_OVER_TIME],
  ['quantile_over_time', T.QUANTILE_OVER_TIME],
  ['first_over_time', T.FIRST_OVER_TIME],
  ['last_over_time', T.LAST_OVER_TIME],
  ['absent_over_time', T.ABSENT_OVER_TIME],
  ['vector', T.VECTOR],
  ['sum', T.SUM],
  ['avg', T.AVG],
  ['max', T.MAX],
  ['min', T.MIN],
  ['count', T.COUNT],
  ['stddev', T.STDDEV],
  ['stdvar', T.STDVAR],
  ['bottomk', T.BOTTOMK],
  ['topk', T.TOPK],
  ['sort', T.SORT],
  ['sort_desc', T.SORT_DESC],
  ['label_replace', T.LABEL_REPLACE],
  ['approx_topk', T.APPROX_TOPK],
  ['bytes', T.BYTES_CONV],
  ['duration', T.DURATION_CONV],
  ['duration_seconds', T.DURATION_SECONDS_CONV],
  ['ip', T.IP],
]);

const FLAGS = new Set(['--strict', '--keep-empty']);

const KIND_NAMES: string[] = [];
for (const [name, kind] of Object.entries(T)) KIND_NAMES[kind] = name;
KIND_NAMES[T.END] = '$end';
for (const [text, kind] of WORDS) KIND_NAMES[kind] = text;

/** How Loki's error messages name a token kind (`$end`, `IDENTIFIER`, `|=`, `by`, `RATE`, …). */
export function kindName(kind: TokenKind): string {
  return KIND_NAMES[kind]!;
}

/** One token: its kind, where it starts, and its value. */
export interface Token {
  kind: TokenKind;
  /** 0-based offset of its first character in the query. */
  start: number;
  /** False when Loki's lexer reads ahead for this kind of token, so that its errors name line 0. */
  lineKnown: boolean;
  /** The source text (an identifier or number as written); the decoded value of a STRING; the flag of a FUNCTION_FLAG. */
  text: string;
  /** Nanoseconds of a DURATION or RANGE. */
  ns: bigint;
  /** Bytes of a BYTES token. */
  bytes: number;
}

/** Line (1-based) and column (1-based, in characters) of an offset. */
function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  let col = 1;
  for (let i = lineStart; i < offset; i++) {
    // The second half of a surrogate pair is not a character of its own.
    const c = text.charCodeAt(i);
    const low = c >= 0xdc00 && c <= 0xdfff;
    const afterHigh = i > lineStart && text.charCodeAt(i - 1) >= 0xd800 && text.charCodeAt(i - 1) <= 0xdbff;
    if (!(low && afterHigh)) col++;
  }
  return { line, col };
}

/** Throws Loki's parse error at a position: `parse error at line L, col C: <message>`, line 0 when `lineKnown` is false. */
export function failAt(text: string, position: number, lineKnown: boolean, message: string): never {
  const { line, col } = lineAndColumn(text, position);
  throw new BadRequestError('SILT_BAD_QUERY', `parse error at line ${lineKnown ? line : 0}, col ${col}: ${message}`, { position });
}

/** Throws Loki's parse error without a place (`parse error : <message>`), for what the parser finds wrong once a construct is read; `position` still goes in the details. */
export function failSemantic(position: number, message: string): never {
  throw new BadRequestError('SILT_BAD_QUERY', `parse error : ${message}`, { position });
}

/** Throws goyacc's syntax error for `token`: `unexpected X`, and `expecting A or B` when at most four kinds were expected. */
export function failSyntax(text: string, token: Token, expected: readonly TokenKind[] = []): never {
  let message = `syntax error: unexpected ${kindName(token.kind)}`;
  if (expected.length > 0 && expected.length <= 4) message += ', expecting ' + [...expected].sort((a, b) => a - b).map(kindName).join(' or ');
  failAt(text, token.start, token.lineKnown, message);
}

const IDENT_START_RE = /[\p{L}_]/u;
const IDENT_RE = /[\p{L}\p{Nd}_]/u;
const NUMBER_RE = /\p{N}/u;
const SPACE_RE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** A lexer over one query; `next()` returns tokens up to and including END. */
export class Lexer {
  private pos: number;

  constructor(readonly text: string) {
    this.pos = text.startsWith('\ufeff') ? 1 : 0; // Go's scanner skips a leading byte order mark
  }

  private fail(at: number, lineKnown: boolean, message: string): never {
    failAt(this.text, at, lineKnown, message);
  }

  private token(kind: TokenKind, start: number, end: number, lineKnown: boolean): Token {
    this.pos = end;
    return { kind, start, lineKnown, text: this.text.slice(start, end), ns: 0n, bytes: 0 };
  }

  /** The code point at `i` as a string ('' at the end). */
  private charAt(i: number): string {
    const cp = this.text.codePointAt(i);
    return cp === undefined ? '' : String.fromCodePoint(cp);
  }

  /** Skips Go whitespace (space, tab, CR, LF), `//` and `/* *\/` comments (Go's scanner) and `#` comments (Loki's). */
  private skip(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
        this.pos++;
      } else if (c === '#' || (c === '/' && t[this.pos + 1] === '/')) {
        const nl = t.indexOf('\n', this.pos);
        this.pos = nl < 0 ? t.length : nl;
      } else if (c === '/' && t[this.pos + 1] === '*') {
        const end = t.indexOf('*/', this.pos + 2);
        if (end < 0) this.fail(this.pos, true, 'comment not terminated');
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }

  /** The next token. */
  next(): Token {
    this.skip();
    const t = this.text;
    const start = this.pos;
    if (start >= t.length) return this.token(T.END, start, start, true);
    const ch = this.charAt(start);
    if (IDENT_START_RE.test(ch)) return this.word(start);
    if (/[0-9]/.test(ch) || (ch === '.' && /[0-9]/.test(t[start + 1] ?? ''))) {
      const end = this.scanNumber(start);
      return this.numberOrUnits(start, end, t.slice(start, end));
    }
    if (ch === '"' || ch === '`') return this.string(start);
    if (ch === "'") return this.charLiteral(start);
    if (ch === '[') return this.range(start);
    if (ch === '\0') this.fail(start, true, 'invalid character NUL');
    if (ch === '-') {
      if (t[start + 1] === '-') {
        const m = /^--[\p{L}-]*/u.exec(t.slice(start))![0];
        if (FLAGS.has(m)) return this.token(T.FUNCTION_FLAG, start, start + m.length, false);
      }
      const duration = this.unitsAfter('-', start + 1, isDurationChar, parseLokiDuration);
      if (duration !== null) return { ...this.token(T.DURATION, start, duration.end, false), ns: duration.value };
    }
    const two = start + 2 <= t.length ? WORDS.get(t.slice(start, start + 2)) : undefined;
    if (two !== undefined) return this.token(two, start, start + 2, false);
    const one = WORDS.get(ch);
    return this.token(one ?? T.IDENTIFIER, start, start + ch.length, true);
  }

  /** An identifier, a keyword, or a function name before a call. */
  private word(start: number): Token {
    const t = this.text;
    let end = start;
    while (end < t.length) {
      const c = this.charAt(end);
      if (!IDENT_RE.test(c)) break;
      end += c.length;
    }
    const lower = t.slice(start, end).toLowerCase();
    const fn = FUNCTIONS.get(lower);
    if (fn !== undefined) return this.token(this.callFollows(end) ? fn : T.IDENTIFIER, start, end, true);
    return this.token(WORDS.get(lower) ?? T.IDENTIFIER, start, end, true);
  }

  /** Loki's isFunction: after spaces, `(`, or `by`/`without` then spaces and `(`. */
  private callFollows(at: number): boolean {
    const t = this.text;
    const afterSpace = (i: number): number => {
      while (i < t.length && SPACE_RE.test(t[i]!)) i++;
      return i;
    };
    const i = afterSpace(at);
    if (t[i] === '(') return true;
    for (const word of ['by', 'without']) {
      if (t.slice(i, i + word.length).toLowerCase() === word) return t[afterSpace(i + word.length)] === '(';
    }
    return false;
  }

  /** A number, or a duration or size when units follow it without a space (Loki tries a duration first). */
  private numberOrUnits(start: number, end: number, number: string): Token {
    const duration = this.unitsAfter(number, end, isDurationChar, parseLokiDuration);
    if (duration !== null) return { ...this.token(T.DURATION, start, duration.end, false), ns: duration.value };
    const bytes = this.unitsAfter(number, end, isBytesChar, parseBytes);
    if (bytes !== null) return { ...this.token(T.BYTES, start, bytes.end, false), bytes: bytes.value };
    return this.token(T.NUMBER, start, end, true);
  }

  /** Reads the unit characters after `prefix` (ending at `at`) and parses the whole; null when there are none or it does not parse. */
  private unitsAfter<V>(prefix: string, at: number, isUnitChar: (c: string) => boolean, parse: (s: string) => V | null): { value: V; end: number } | null {
    const t = this.text;
    let end = at;
    while (end < t.length) {
      const c = this.charAt(end);
      if (!isUnitChar(c) && !NUMBER_RE.test(c) && c !== '.') break;
      end += c.length;
    }
    if (end === at) return null;
    const value = parse(prefix + t.slice(at, end));
    return value === null ? null : { value, end };
  }

  /** Go's text/scanner number literal at `start` (decimal, 0x/0o/0b, legacy octal, floats, `_` separators); returns its end. */
  private scanNumber(start: number): number {
    const t = this.text;
    let i = start;
    let base = 10;
    let prefix = '';
    let sawDigits = false;
    let invalid = '';
    const digits = (): void => {
      while (i < t.length) {
        const c = t[i]!;
        const decimal = c >= '0' && c <= '9';
        if (base === 16 ? !(decimal || /[a-fA-F_]/.test(c)) : !(decimal || c === '_')) break;
        if (c !== '_') {
          sawDigits = true;
          if (base < 10 && decimal && Number(c) >= base && invalid === '') invalid = c;
        }
        i++;
      }
    };
    let float = false;
    if (t[i] !== '.') {
      if (t[i] === '0') {
        i++;
        const p = (t[i] ?? '').toLowerCase();
        if (p === 'x' || p === 'o' || p === 'b') {
          i++;
          prefix = p;
          base = p === 'x' ? 16 : p === 'o' ? 8 : 2;
        } else {
          prefix = '0';
          base = 8;
          sawDigits = true;
        }
      }
      digits();
      if (t[i] === '.') {
        if (prefix === 'o' || prefix === 'b') this.fail(start, true, `invalid radix point in ${literalName(prefix)}`);
        i++;
        float = true;
        digits();
      }
    } else {
      i++;
      float = true;
      digits();
    }
    if (!sawDigits) this.fail(start, true, `${literalName(prefix)} has no digits`);
    const e = (t[i] ?? '').toLowerCase();
    if (e === 'e' || (e === 'p' && prefix === 'x')) {
      if (e === 'e' && prefix !== '' && prefix !== '0') this.fail(start, true, `'${t[i]}' exponent requires decimal mantissa`);
      i++;
      float = true;
      if (t[i] === '+' || t[i] === '-') i++;
      const before = i;
      while (i < t.length && /[0-9_]/.test(t[i]!)) i++;
      if (!/[0-9]/.test(t.slice(before, i))) this.fail(start, true, 'exponent has no digits');
    } else if (prefix === 'x' && float) {
      this.fail(start, true, "hexadecimal mantissa requires a 'p' exponent");
    }
    if (!float && invalid !== '') this.fail(start, true, `invalid digit '${invalid}' in ${literalName(prefix)}`);
    if (t.slice(start, i).includes('_') && invalidSeparator(t.slice(start, i))) this.fail(start, true, "'_' must separate successive digits");
    return i;
  }

  private string(start: number): Token {
    const t = this.text;
    if (t[start] === '`' && t.indexOf('`', start + 1) < 0) this.fail(start, true, 'literal not terminated');
    const { value, end } = readStringLiteral(t, start, (_message, at) =>
      this.fail(start, true, at >= t.length || t[at] === '\n' ? 'literal not terminated' : 'invalid char escape'),
    );
    return { ...this.token(T.STRING, start, end, true), text: value };
  }

  /** Go's scanner reads `'x'` as a character, which Loki's lexer then passes on as an identifier. */
  private charLiteral(start: number): Token {
    const t = this.text;
    const m = /^'((?:[^'\\\n]|\\.)*)'/su.exec(t.slice(start));
    if (m === null) this.fail(start, true, 'literal not terminated');
    if ([...m[1]!].length !== 1) this.fail(start, true, 'invalid char literal');
    return this.token(T.IDENTIFIER, start, start + m[0].length, true);
  }

  private range(start: number): Token {
    const t = this.text;
    const close = t.indexOf(']', start + 1);
    if (close < 0) this.fail(start, false, "missing closing ']' in duration");
    const d = parsePromDuration(t.slice(start + 1, close));
    if (typeof d === 'string') this.fail(start, false, d);
    return { ...this.token(T.RANGE, start, close + 1, false), ns: d };
  }
}

function literalName(prefix: string): string {
  if (prefix === 'x') return 'hexadecimal literal';
  if (prefix === 'o' || prefix === '0') return 'octal literal';
  if (prefix === 'b') return 'binary literal';
  return 'decimal literal';
}

function isDurationChar(c: string): boolean {
  return 'nuµmshdwy'.includes(c);
}

function isBytesChar(c: string): boolean {
  return 'BikKMGTP'.includes(c);
}
