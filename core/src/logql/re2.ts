/**
 * RE2 regexes run as JavaScript regexes with RE2's meaning. Each pattern is first read with RE2's
 * grammar: what RE2 refuses (backreferences, lookaround, possessive repeats, …) is an error, and so
 * is what JavaScript cannot run with the same meaning (flags anywhere but at the very start). The
 * translation is Unicode-mode JavaScript (ASCII \s, . and ^ $ by RE2's newline rules, \pL,
 * [[:alpha:]], \Q…\E, \x{…}, octal escapes, …); captures keep RE2's numbering, and named groups
 * (`(?P<name>…)`, `(?<name>…)`) are JavaScript named groups, a name that starts with a digit
 * prefixed with `_` (JavaScript names cannot start with one; Loki's label sanitizer does the same).
 * Known differences:
 * - under (?i), \b and \B take ſ (U+017F) and K (U+212A) for word characters, as JavaScript folds them;
 * - JavaScript backtracks: a pathological regex such as (a+)+$ can take exponential time.
 */
import { BadRequestError } from '../errors';

/** A pattern RE2 refuses, or that Silt cannot run with RE2's meaning; `offset` is in the pattern (UTF-16 units). */
export class Re2SyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** An RE2 pattern as a JavaScript regex with the same meaning. */
export interface Re2Translation {
  /** Source for `new RegExp(source, flags)`, in Unicode mode. */
  source: string;
  /** `u`, plus `i` for `(?i)`. */
  flags: string;
  /** The text the pattern matches when it is a plain literal (no metacharacters, no case folding), else null. */
  literal: string | null;
  /** The JavaScript names of the named groups, in order (RE2's names; one that starts with a digit prefixed with `_`). */
  groupNames: string[];
}

/** Checks an RE2 pattern and translates it to a JavaScript regex with the same meaning; throws Re2SyntaxError. */
export function translateRe2(pattern: string): Re2Translation {
  return new Re2Translator(pattern).run();
}

/**
 * Compiles an RE2 pattern into a Unicode-mode JavaScript regex with RE2's meaning: unanchored (as
 * `|~` uses it), or with `anchored` matching whole values only (as label matchers and
 * label_replace use it: Loki's `^(?:pattern)$`). An invalid or unsupported pattern is a 400 naming
 * `what` (such as "line filter |~").
 */
export function compileRe2(pattern: string, what: string, options: { anchored?: boolean } = {}): RegExp {
  let t: Re2Translation;
  try {
    t = translateRe2(pattern);
  } catch (err) {
    if (!(err instanceof Re2SyntaxError)) throw err;
    throw new BadRequestError('SILT_BAD_QUERY', `invalid regex ${quoteForMessage(pattern)} in ${what}: ${err.message}`);
  }
  try {
    return new RegExp(options.anchored === true ? `^(?:${t.source})$` : t.source, t.flags);
  } catch (err) {
    // JavaScript should accept every translation, but a refusal is still a 400.
    throw new BadRequestError('SILT_BAD_QUERY', `invalid regex ${quoteForMessage(pattern)} in ${what}: ${(err as Error).message}`);
  }
}

/** The text an RE2 pattern matches when it has no metacharacters and no case folding (so a substring test can stand in), else null; null too for an invalid pattern. */
export function re2Literal(pattern: string): string | null {
  try {
    return translateRe2(pattern).literal;
  } catch (err) {
    if (err instanceof Re2SyntaxError) return null;
    throw err;
  }
}

/** A pattern quoted for an error message, cut to 64 characters. */
function quoteForMessage(text: string): string {
  return JSON.stringify(text.length > 64 ? text.slice(0, 64) + '…' : text);
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

const MAX_REPEAT = 1000;
const REPEAT_RE = /\{(\d+)(?:(,)(\d*))?\}/y;
const LEADING_FLAGS_RE = /\(\?([imsU]*)(?:(-)([imsU]*))?\)/y;

/** RE2's ASCII \s: tab, newline, form feed, carriage return, space (not \v, unlike JavaScript's). */
const SPACE_RANGES: Array<[number, number]> = [
  [9, 10],
  [12, 13],
  [32, 32],
];

const POSIX_CLASSES: Record<string, Array<[number, number]>> = {
  alnum: [
    [48, 57],
    [65, 90],
    [97, 122],
  ],
  alpha: [
    [65, 90],
    [97, 122],
  ],
  ascii: [[0, 0x7f]],
  blank: [
    [9, 9],
    [32, 32],
  ],
  cntrl: [
    [0, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[48, 57]],
  graph: [[0x21, 0x7e]],
  lower: [[97, 122]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [9, 13],
    [32, 32],
  ],
  upper: [[65, 90]],
  word: [
    [48, 57],
    [65, 90],
    [95, 95],
    [97, 122],
  ],
  xdigit: [
    [48, 57],
    [65, 70],
    [97, 102],
  ],
};

/** Characters that must be escaped to stand for themselves outside a class (Unicode mode). */
const SYNTAX_CHARS = '^$\\.*+?()[]{}|/';

type AtomKind = 'none' | 'char' | 'astral' | 'class' | 'group' | 'assertion' | 'repeat';

class Re2Translator {
  i = 0;
  out = '';
  fold = false;
  dotNL = false;
  multiLine = false;
  ungreedy = false;
  literal: string | null = '';
  /** Output offsets of the open groups. */
  readonly groups: number[] = [];
  /** Input offsets of the open groups, for "missing )". */
  readonly groupAt: number[] = [];
  readonly names = new Set<string>();
  atomStart = 0;
  atomKind: AtomKind = 'none';

  constructor(readonly p: string) {}

  problem(message: string, at: number): never {
    throw new Re2SyntaxError(message, at);
  }

  run(): Re2Translation {
    this.leadingFlags();
    const p = this.p;
    while (this.i < p.length) {
      const c = p[this.i]!;
      switch (c) {
        case '(':
          this.group();
          break;
        case ')':
          if (this.groups.length === 0) this.problem('unexpected ")"', this.i);
          this.i++;
          this.out += ')';
          this.groupAt.pop();
          this.setAtom('group', this.groups.pop()!);
          break;
        case '|':
          this.i++;
          this.out += '|';
          this.literal = null;
          this.atomKind = 'none';
          break;
        case '*':
        case '+':
        case '?':
          this.repeat(c, this.i + 1);
          break;
        case '{':
          if (!this.braces()) this.char(0x7b, this.i + 1);
          break;
        case '^':
          this.i++;
          // (?m): after \n only (JavaScript's m flag would also take \r, \u2028, \u2029). Positive lookarounds, because
          // V8 also tries zero-width matches between the halves of a surrogate pair, where negative ones would succeed.
          this.assertion(this.multiLine ? '(?<=^|\\n)' : '^');
          break;
        case '$':
          this.i++;
          this.assertion(this.multiLine ? '(?=$|\\n)' : '$');
          break;
        case '.':
          this.i++;
          this.atom('class', this.dotNL ? '[\\s\\S]' : '[^\\n]');
          break;
        case '[':
          this.charClass();
          break;
        case '\\':
          this.escape();
          break;
        default: {
          const cp = p.codePointAt(this.i)!;
          this.char(cp, this.i + (cp > 0xffff ? 2 : 1));
        }
      }
    }
    if (this.groups.length > 0) this.problem('missing closing ")"', this.groupAt[this.groupAt.length - 1]!);
    return {
      source: this.out,
      flags: this.fold ? 'iu' : 'u',
      literal: this.fold ? null : this.literal,
      groupNames: [...this.names],
    };
  }

  /** `(?i)`, `(?s)`, `(?m)`, `(?U)` and combinations (`(?is)`, `(?i-s)`) at the very start of the pattern. */
  leadingFlags(): void {
    while (true) {
      LEADING_FLAGS_RE.lastIndex = this.i;
      const m = LEADING_FLAGS_RE.exec(this.p);
      if (m === null) return;
      const [all, on = '', dash, off = ''] = m;
      if (dash !== undefined && off === '') this.problem(`missing flag after "-" in ${all}`, this.i);
      for (const f of on) this.flag(f, true);
      for (const f of off) this.flag(f, false);
      this.i += all.length;
    }
  }

  flag(f: string, on: boolean): void {
    switch (f) {
      case 'i':
        this.fold = on;
        break;
      case 's':
        this.dotNL = on;
        break;
      case 'm':
        this.multiLine = on;
        break;
      case 'U':
        this.ungreedy = on;
        break;
    }
  }

  setAtom(kind: AtomKind, start: number): void {
    this.atomKind = kind;
    this.atomStart = start;
    if (kind !== 'char' && kind !== 'astral') this.literal = null;
  }

  atom(kind: AtomKind, source: string): void {
    const start = this.out.length;
    this.out += source;
    this.setAtom(kind, start);
  }

  assertion(source: string): void {
    this.atom('assertion', source);
  }

  /** A literal character, which ends at `next` in the pattern. */
  char(cp: number, next: number): void {
    if (cp >= 0xd800 && cp <= 0xdfff) this.problem('a lone surrogate is not valid UTF-8', this.i);
    this.i = next;
    const ch = String.fromCodePoint(cp);
    let source: string;
    if (cp < 0x80 && SYNTAX_CHARS.includes(ch)) source = '\\' + ch;
    else if (cp < 0x20 || cp === 0x7f) source = `\\u{${cp.toString(16)}}`;
    else source = ch;
    this.atom(cp > 0xffff ? 'astral' : 'char', source);
    if (this.literal !== null) this.literal += ch;
  }

  /** Applies `*`, `+`, `?` or `{n,m}` (written from `this.i` to `next`) to the last atom. */
  repeat(op: string, next: number): void {
    const at = this.i;
    let lazy = false;
    if (this.p[next] === '?') {
      lazy = true;
      next++;
    }
    const written = this.p.slice(at, next);
    if (this.atomKind === 'none') this.problem(`missing argument to repetition operator "${written}"`, at);
    if (this.atomKind === 'repeat') this.problem(`invalid nested repetition operator "${written}"`, at);
    if (this.atomKind === 'assertion') {
      // JavaScript refuses to repeat an assertion; a group around it means the same.
      this.out = this.out.slice(0, this.atomStart) + '(?:' + this.out.slice(this.atomStart) + ')';
    }
    if (this.ungreedy) lazy = !lazy;
    this.out += op + (lazy ? '?' : '');
    this.i = next;
    this.atomKind = 'repeat';
    this.literal = null;
  }

  /** `{n}`, `{n,}`, `{n,m}`; false when the brace is not a repetition (RE2 then reads a literal "{"). */
  braces(): boolean {
    REPEAT_RE.lastIndex = this.i;
    const m = REPEAT_RE.exec(this.p);
    if (m === null) return false;
    const [all, minText, comma, maxText] = m;
    if (/^0\d/.test(minText!) || (maxText !== undefined && /^0\d/.test(maxText))) {
      // RE2 refuses leading zeros in a count and reads the brace as a literal; JavaScript would repeat.
      return false;
    }
    const min = Number(minText);
    const max = comma === undefined ? min : maxText === '' ? -1 : Number(maxText);
    if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) this.problem(`invalid repeat count "${all}"`, this.i);
    this.repeat(comma === undefined ? `{${min}}` : `{${min},${max < 0 ? '' : max}}`, this.i + all.length);
    return true;
  }

  group(): void {
    const p = this.p;
    const at = this.i;
    let next: number;
    let open = '(?:';
    if (p[at + 1] !== '?') {
      next = at + 1;
      open = '('; // a capture, kept so that groups number as in RE2 (label_replace's $1)
    } else {
      const c = p[at + 2];
      const d = p[at + 3];
      if (c === ':') {
        next = at + 3;
      } else if (c === '=' || c === '!') {
        this.problem(`lookahead "(?${c}" is not supported (RE2 has no lookaround)`, at);
      } else if (c === '<' && (d === '=' || d === '!')) {
        this.problem(`lookbehind "(?<${d}" is not supported (RE2 has no lookaround)`, at);
      } else if (c === 'P' && d === '=') {
        this.problem('backreferences "(?P=name)" are not supported (RE2 has no backreferences)', at);
      } else if (c === '<' || (c === 'P' && d === '<')) {
        const nameAt = c === '<' ? at + 3 : at + 4;
        const close = p.indexOf('>', nameAt);
        const name = close < 0 ? '' : p.slice(nameAt, close);
        if (close < 0 || !/^[A-Za-z0-9_]+$/.test(name)) this.problem(`invalid named capture "${p.slice(at, close < 0 ? p.length : close + 1)}"`, at);
        const jsName = name.charCodeAt(0) <= 57 ? '_' + name : name; // a leading digit (the only name character below 58)
        if (this.names.has(jsName)) this.problem(`duplicate capture group name "${name}"`, at);
        this.names.add(jsName);
        open = `(?<${jsName}>`;
        next = close + 1;
      } else if (c !== undefined && /[imsU-]/.test(c)) {
        this.problem('flag groups such as (?i:…), and flags after the start of the regex, are not supported: put the flags first, as in (?i)error', at);
      } else {
        this.problem(`invalid or unsupported Perl syntax "(?${c ?? ''}"`, at);
      }
    }
    this.groups.push(this.out.length);
    this.groupAt.push(at);
    this.out += open;
    this.i = next;
    this.literal = null;
    this.atomKind = 'none';
  }

  escape(): void {
    const p = this.p;
    const at = this.i;
    const e = p[at + 1];
    switch (e) {
      case 'A':
        this.i += 2;
        this.assertion('^');
        return;
      case 'z':
        this.i += 2;
        this.assertion('$');
        return;
      case 'b':
        this.i += 2;
        this.assertion('\\b');
        return;
      case 'B':
        // V8 also tries \B between the two halves of a surrogate pair, where RE2 has no position: the lookbehind rules that out.
        this.i += 2;
        this.assertion('(?<=^|[\\s\\S])\\B');
        return;
      case 'd':
      case 'D':
      case 'w':
      case 'W':
        this.i += 2;
        this.atom('class', '\\' + e);
        return;
      case 's':
        this.i += 2;
        this.atom('class', '[\\t\\n\\f\\r ]');
        return;
      case 'S':
        this.i += 2;
        this.atom('class', '[^\\t\\n\\f\\r ]');
        return;
      case 'p':
      case 'P':
        this.atom('class', this.unicodeClass());
        return;
      case 'Q': {
        // \Q…\E: everything between is literal.
        const end = p.indexOf('\\E', at + 2);
        const text = end < 0 ? p.slice(at + 2) : p.slice(at + 2, end);
        this.i = at + 2;
        for (const ch of text) this.char(ch.codePointAt(0)!, this.i + ch.length);
        this.i = end < 0 ? p.length : end + 2;
        return;
      }
      case 'C':
        this.problem('"\\C" (any byte) is not supported', at);
        break;
      default: {
        const cp = this.charEscape(at);
        this.char(cp, this.i);
      }
    }
  }

  /**
   * A character escape at `at` (RE2's: octal, \xHH, \x{H…}, \a \f \n \r \t \v, or an escaped ASCII
   * punctuation character); sets `i` past it and returns the code point.
   */
  charEscape(at: number): number {
    const p = this.p;
    const e = p[at + 1];
    if (e === undefined) this.problem('trailing backslash at end of expression', at);
    if (e >= '0' && e <= '7') {
      const oct = /^[0-7]{1,3}/.exec(p.slice(at + 1, at + 4))![0];
      if (e !== '0' && oct.length === 1) this.problem(`backreferences such as "\\${e}" are not supported (RE2 has no backreferences)`, at);
      this.i = at + 1 + oct.length;
      return parseInt(oct, 8);
    }
    if (e === 'x') {
      if (p[at + 2] === '{') {
        const close = p.indexOf('}', at + 3);
        const digits = close < 0 ? '' : p.slice(at + 3, close);
        const cp = /^[0-9a-fA-F]{1,8}$/.test(digits) ? parseInt(digits, 16) : -1;
        if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.problem(`invalid escape sequence "${p.slice(at, close < 0 ? at + 3 : close + 1)}"`, at);
        this.i = close + 1;
        return cp;
      }
      const digits = p.slice(at + 2, at + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(digits)) this.problem(`invalid escape sequence "\\x${digits}"`, at);
      this.i = at + 4;
      return parseInt(digits, 16);
    }
    const simple = CHAR_ESCAPES[e];
    if (simple !== undefined) {
      this.i = at + 2;
      return simple;
    }
    const c = e.charCodeAt(0);
    if (c < 0x80 && !isAlnum(c)) {
      // An escaped ASCII punctuation character (or space, or control) stands for itself.
      this.i = at + 2;
      return c;
    }
    const shown = String.fromCodePoint(p.codePointAt(at + 1)!);
    if (e === 'k') this.problem('named backreferences "\\k" are not supported (RE2 has no backreferences)', at);
    this.problem(`invalid escape sequence "\\${shown}"`, at);
  }

  /** `\pL`, `\p{Greek}`, `\PL`, `\P{Greek}`, `\p{^Greek}` at `i`: returns the JavaScript `\p{…}` or `\P{…}`. */
  unicodeClass(): string {
    const p = this.p;
    const at = this.i;
    let negated = p[at + 1] === 'P';
    let name: string;
    if (p[at + 2] === '{') {
      const close = p.indexOf('}', at + 3);
      if (close < 0) this.problem(`invalid character class range "${p.slice(at)}"`, at);
      name = p.slice(at + 3, close);
      this.i = close + 1;
    } else {
      const cp = p.codePointAt(at + 2);
      if (cp === undefined) this.problem(`invalid character class range "${p.slice(at)}"`, at);
      name = String.fromCodePoint(cp);
      this.i = at + 2 + name.length;
    }
    const written = p.slice(at, this.i);
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    const property = jsUnicodeProperty(name);
    if (property === null) this.problem(`invalid character class range "${written}"`, at);
    return `\\${negated ? 'P' : 'p'}{${property}}`;
  }

  charClass(): void {
    const p = this.p;
    const open = this.i;
    let i = open + 1;
    let negated = false;
    if (p[i] === '^') {
      negated = true;
      i++;
    }
    let body = '';
    let first = true;
    while (true) {
      if (i >= p.length) this.problem('missing closing "]"', open);
      const c = p[i]!;
      if (c === ']' && !first) {
        i++;
        break;
      }
      first = false;
      if (c === '[' && p[i + 1] === ':') {
        const close = p.indexOf(':]', i + 2);
        if (close >= 0) {
          let name = p.slice(i + 2, close);
          const named = p.slice(i, close + 2);
          const neg = name.startsWith('^');
          if (neg) name = name.slice(1);
          const ranges = Object.prototype.hasOwnProperty.call(POSIX_CLASSES, name) ? POSIX_CLASSES[name]! : null;
          if (ranges === null) this.problem(`invalid character class range "${named}"`, i);
          body += classRanges(neg ? complement(ranges) : ranges);
          i = close + 2;
          continue;
        }
      }
      if (c === '\\') {
        const e = p[i + 1];
        if (e === 'd' || e === 'D' || e === 'w' || e === 'W') {
          body += '\\' + e;
          i += 2;
          continue;
        }
        if (e === 's' || e === 'S') {
          body += classRanges(e === 's' ? SPACE_RANGES : complement(SPACE_RANGES));
          i += 2;
          continue;
        }
        if (e === 'p' || e === 'P') {
          this.i = i;
          body += this.unicodeClass();
          i = this.i;
          continue;
        }
      }
      const rangeAt = i;
      const lo = this.classChar(i);
      i = this.i;
      if (p[i] === '-' && i + 1 < p.length && p[i + 1] !== ']') {
        const hi = this.classChar(i + 1);
        i = this.i;
        if (hi < lo) this.problem(`invalid character class range "${p.slice(rangeAt, i)}"`, rangeAt);
        body += classChar(lo) + '-' + classChar(hi);
      } else {
        body += classChar(lo);
      }
    }
    this.i = i;
    this.atom('class', '[' + (negated ? '^' : '') + body + ']');
  }

  /** One character of a class at `at` (literal or escaped); sets `i` past it. */
  classChar(at: number): number {
    if (this.p[at] === '\\') return this.charEscape(at);
    const cp = this.p.codePointAt(at)!;
    if (cp >= 0xd800 && cp <= 0xdfff) this.problem('a lone surrogate is not valid UTF-8', at);
    this.i = at + (cp > 0xffff ? 2 : 1);
    return cp;
  }
}

const CHAR_ESCAPES: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };

/** A class member for JavaScript's Unicode mode: ASCII letters and digits as they are, anything else as \u{…}. */
function classChar(cp: number): string {
  return isAlnum(cp) ? String.fromCharCode(cp) : `\\u{${cp.toString(16)}}`;
}

function classRanges(ranges: ReadonlyArray<readonly [number, number]>): string {
  let out = '';
  for (const [lo, hi] of ranges) out += lo === hi ? classChar(lo) : `${classChar(lo)}-${classChar(hi)}`;
  return out;
}

/** The complement of sorted, disjoint ranges over all code points. */
function complement(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let next = 0;
  for (const [lo, hi] of ranges) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

const unicodePropertyCache = new Map<string, string | null>();

/** RE2's Unicode class name (a general category such as L or Lu, a script such as Greek, or Any) as a JavaScript property, or null. */
function jsUnicodeProperty(name: string): string | null {
  let property = unicodePropertyCache.get(name);
  if (property !== undefined) return property;
  property = null;
  // Any; else a general category (L, Lu, …); else a script (Greek, Old_Italic, …).
  const candidates = name === 'Any' ? ['Any'] : /^[A-Z][A-Za-z_]*$/.test(name) ? [`gc=${name}`, `sc=${name}`] : [];
  for (const candidate of candidates) {
    try {
      new RegExp(`\\p{${candidate}}`, 'u');
      property = candidate;
      break;
    } catch {
      // not this kind of name
    }
  }
  if (unicodePropertyCache.size < 1000) unicodePropertyCache.set(name, property);
  return property;
}
