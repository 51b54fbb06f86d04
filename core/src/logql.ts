/**
 * LogQL log queries as Silt answers them: a stream selector (`{app="api",level=~"warn|error"}`)
 * followed by line filters (`|= "timeout" != "health" |~ "5\\d\\d"`). Metric queries and the other
 * pipeline stages (`| json`, `| logfmt`, …) are refused with a 400 that names them and says where.
 *
 * Strings are Loki's: double-quoted with Go escapes, or backtick raw strings (lexed by
 * label-set.ts). Whitespace and `#` comments may stand between any two tokens.
 *
 * Regexes are RE2's: selector regexes are fully anchored, line filter regexes match anywhere in
 * the line. They run as JavaScript regexes, so each pattern is first read with RE2's grammar: what
 * RE2 refuses (backreferences, lookaround, possessive repeats, …) is a 400, and so is what
 * JavaScript cannot run with the same meaning (flags anywhere but at the very start). Line filter
 * regexes are translated to Unicode-mode JavaScript with RE2's meaning (ASCII \s, . and ^ $ by
 * RE2's newline rules, \pL, [[:alpha:]], \Q…\E, \x{…}, octal escapes, …). Known differences:
 * - under (?i), \b and \B take ſ (U+017F) and K (U+212A) for word characters, as JavaScript folds them;
 * - selector regexes are compiled by compileMatcher as written, in non-Unicode mode: there `.`,
 *   negated classes, \S, \W and \D see a character outside the Basic Multilingual Plane as two,
 *   and \s is JavaScript's (it also takes \v and Unicode spaces); constructs that mode would read
 *   differently (\p, \x{…}, \Q…\E, POSIX classes, (?m), …) are refused in selectors;
 * - JavaScript backtracks: a pathological regex such as (a+)+$ can take exponential time.
 */
import { BadRequestError } from './errors';
import { readStringLiteral } from './label-set';
import { compileMatcher, type CompiledMatcher, type LabelMatcher, type MatchOp } from './matchers';

/** The four line filter operators: contains, does not contain, regex matches somewhere, regex matches nowhere. */
export type LineFilterOp = '|=' | '!=' | '|~' | '!~';

/** One line filter as written; `value` is the decoded string (a substring, or an RE2 regex). */
export interface LineFilter {
  op: LineFilterOp;
  value: string;
}

/** A parsed log query: every matcher and every filter must hold. */
export interface LogQuery {
  matchers: LabelMatcher[];
  filters: LineFilter[];
}

/** Parses a LogQL log query: a stream selector followed by zero or more line filters. */
export function parseLogQuery(text: string): LogQuery {
  const p = new QueryParser(text);
  const matchers = p.selector();
  const filters = p.lineFilters();
  return { matchers, filters };
}

/** Parses a stream selector alone (e.g. for /series?match=). */
export function parseSelector(text: string): LabelMatcher[] {
  const p = new QueryParser(text);
  const matchers = p.selector();
  p.skipSpace();
  if (p.pos < text.length) {
    const what = isLineFilterOp(text.slice(p.pos, p.pos + 2)) ? 'a line filter' : `unexpected ${p.found()}`;
    p.fail(`${what} after the stream selector: only a stream selector is allowed here`);
  }
  return matchers;
}

/**
 * Compiles line filters into one predicate over a line; regexes are compiled once. Substring
 * filters are tested before regex filters (the result is the same as left to right: all must
 * hold, and no filter has side effects).
 */
export function compileLineFilter(filters: readonly LineFilter[]): ((line: string) => boolean) | null {
  if (filters.length === 0) return null;
  const { has, hasNot, match, matchNot } = planLineFilter(filters);
  const total = has.length + hasNot.length + match.length + matchNot.length;
  if (total === 0) return () => true;
  if (total === 1) {
    if (has.length === 1) {
      const s = has[0]!;
      return (line) => line.includes(s);
    }
    if (hasNot.length === 1) {
      const s = hasNot[0]!;
      return (line) => !line.includes(s);
    }
    if (match.length === 1) {
      const re = match[0]!;
      return (line) => re.test(line);
    }
    const re = matchNot[0]!;
    return (line) => !re.test(line);
  }
  return (line) => {
    for (let i = 0; i < has.length; i++) if (!line.includes(has[i]!)) return false;
    for (let i = 0; i < hasNot.length; i++) if (line.includes(hasNot[i]!)) return false;
    for (let i = 0; i < match.length; i++) if (!match[i]!.test(line)) return false;
    for (let i = 0; i < matchNot.length; i++) if (matchNot[i]!.test(line)) return false;
    return true;
  };
}

/**
 * Substrings every line that passes `filters` contains (from `|=` and literal `|~`): a reader may
 * skip, undecoded, any run of lines whose bytes lack one of them.
 */
export function requiredSubstrings(filters: readonly LineFilter[]): string[] {
  return planLineFilter(filters).has;
}

/** Line filters sorted by kind: substrings a line must and must not contain, regexes it must and must not match. */
function planLineFilter(filters: readonly LineFilter[]): { has: string[]; hasNot: string[]; match: RegExp[]; matchNot: RegExp[] } {
  const has: string[] = [];
  const hasNot: string[] = [];
  const match: RegExp[] = [];
  const matchNot: RegExp[] = [];
  for (const f of filters) {
    switch (f.op) {
      case '|=':
        if (f.value !== '') has.push(f.value); // every line contains ""
        break;
      case '!=':
        hasNot.push(f.value);
        break;
      case '|~':
      case '!~': {
        let t: Translation;
        try {
          t = translateRe2(f.value);
        } catch (err) {
          if (!(err instanceof RegexProblem)) throw err;
          throw new BadRequestError('SILT_BAD_QUERY', `invalid regex ${quoteForMessage(f.value)} in line filter ${f.op}: ${err.message}`);
        }
        if (t.literal !== null) {
          // A regex without metacharacters is a substring test.
          if (f.op === '!~') hasNot.push(t.literal);
          else if (t.literal !== '') has.push(t.literal);
        } else {
          (f.op === '|~' ? match : matchNot).push(compileTranslation(t, f.value));
        }
        break;
      }
      default:
        throw new BadRequestError('SILT_BAD_QUERY', `unknown line filter operator ${JSON.stringify((f as LineFilter).op)}`);
    }
  }
  return { has, hasNot, match, matchNot };
}

/**
 * Canonical text of a query (for logs and cursors): `{app="api", level=~"warn|error"} |= "x"`,
 * matchers and filters in their written order, every string double-quoted with Go escapes.
 * parseLogQuery(formatLogQuery(q)) gives back q.
 */
export function formatLogQuery(q: LogQuery): string {
  let out = '{' + q.matchers.map((m) => m.name + m.op + quoteString(m.value)).join(', ') + '}';
  for (const f of q.filters) out += ` ${f.op} ${quoteString(f.value)}`;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Query parser

const PIPELINE_STAGES = new Set(['json', 'logfmt', 'regexp', 'pattern', 'unpack', 'line_format', 'label_format', 'unwrap', 'drop', 'keep', 'decolorize']);

function isLineFilterOp(s: string): s is LineFilterOp {
  return s === '|=' || s === '!=' || s === '|~' || s === '!~';
}

function isNameStart(c: number): boolean {
  return c === 95 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57);
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

class QueryParser {
  pos = 0;

  constructor(readonly text: string) {}

  /** Throws the 400 of the query API, naming the 1-based line and column and the 0-based position. */
  fail(message: string, at = this.pos): never {
    let line = 1;
    let lineStart = 0;
    for (let i = this.text.indexOf('\n'); i >= 0 && i < at; i = this.text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    throw new BadRequestError('SILT_BAD_QUERY', `${message} at line ${line}, column ${at - lineStart + 1} (position ${at})`, { position: at });
  }

  found(at = this.pos): string {
    if (at >= this.text.length) return 'the end of the query';
    const cp = this.text.codePointAt(at)!;
    return JSON.stringify(String.fromCodePoint(cp));
  }

  /** Skips whitespace (space, tab, newline, carriage return) and `#` comments, which run to the end of the line. */
  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) {
        this.pos++;
      } else if (c === 35) {
        const nl = t.indexOf('\n', this.pos);
        this.pos = nl < 0 ? t.length : nl + 1;
      } else {
        break;
      }
    }
  }

  /** Reads `[a-zA-Z_][a-zA-Z0-9_]*` at pos, or returns '' (pos unchanged). */
  identifier(): string {
    const t = this.text;
    const start = this.pos;
    if (start >= t.length || !isNameStart(t.charCodeAt(start))) return '';
    let i = start + 1;
    while (i < t.length && isNameChar(t.charCodeAt(i))) i++;
    this.pos = i;
    return t.slice(start, i);
  }

  string(what: string): string {
    this.skipSpace();
    const start = this.pos;
    const c = this.text[start];
    if (c === "'") this.fail(`expected ${what}: single-quoted strings are not supported, use double quotes or backticks`);
    if (c !== '"' && c !== '`') this.fail(`expected ${what} in double quotes or backticks, found ${this.found()}`);
    const { value, end } = readStringLiteral(this.text, start, (message, at) =>
      // The lexer finds an unterminated double-quoted string at the end of the text: point at its opening quote.
      at >= this.text.length ? this.fail('unterminated string', start) : this.fail(message, at),
    );
    this.pos = end;
    return value;
  }

  selector(): LabelMatcher[] {
    this.skipSpace();
    const open = this.pos;
    if (open >= this.text.length) this.fail('empty query: expected a stream selector such as {app="api"}');
    if (this.text[open] !== '{') this.notASelector();
    this.pos++;
    const compiled: CompiledMatcher[] = [];
    while (true) {
      this.skipSpace();
      if (this.text[this.pos] === '}' && compiled.length > 0) break; // a trailing comma, as Prometheus allows
      if (this.text[this.pos] === '}') this.fail('a stream selector needs at least one label matcher, such as {app="api"}', open);
      compiled.push(this.matcher());
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === '}') break;
      if (c !== ',') this.fail(`expected "," or "}" in the stream selector, found ${this.found()}`);
      this.pos++;
    }
    this.pos++;
    if (compiled.every((m) => m.test(''))) {
      this.fail(
        'queries need at least one label matcher that does not match the empty string ' +
          '(such as app="api" or app=~".+"; app=~".*" alone would select every stream)',
        open,
      );
    }
    return compiled.map(({ name, op, value }) => ({ name, op, value }));
  }

  /** Explains why the query does not start with `{`: a metric query, or something else. */
  notASelector(): never {
    const start = this.pos;
    const name = this.identifier();
    if (name !== '') {
      this.skipSpace();
      const save = this.pos;
      const next = this.identifier();
      this.pos = save;
      if (this.text[this.pos] === '(' || next === 'by' || next === 'without') {
        this.fail(`metric queries such as ${name}(…) are not supported: a query is a stream selector {…} and optional line filters`, start);
      }
    }
    this.fail(`expected "{" to start a stream selector, found ${this.found(start)}`, start);
  }

  /** One `name op "value"`, compiled (which validates its regex). */
  matcher(): CompiledMatcher {
    const t = this.text;
    const at = this.pos;
    const name = this.identifier();
    if (name === '') {
      if (t[at] === '"' || t[at] === '`') this.fail('quoted label names are not supported: a label name is [a-zA-Z_][a-zA-Z0-9_]*', at);
      this.fail(`expected a label name ([a-zA-Z_][a-zA-Z0-9_]*), found ${this.found(at)}`, at);
    }
    this.skipSpace();
    const opAt = this.pos;
    const two = t.slice(opAt, opAt + 2);
    let op: MatchOp;
    if (two === '=~' || two === '!=' || two === '!~') {
      op = two;
      this.pos += 2;
    } else if (two === '==') {
      this.fail(`"==" is not a label matcher operator: use "=" (the operators are =, !=, =~, !~)`, opAt);
    } else if (t[opAt] === '=') {
      op = '=';
      this.pos++;
    } else {
      this.fail(`expected a label matcher operator (=, !=, =~, !~) after ${JSON.stringify(name)}, found ${this.found(opAt)}`, opAt);
    }
    this.skipSpace();
    const valueAt = this.pos;
    const value = this.string(`the value of label ${JSON.stringify(name)}`);
    if (op === '=~' || op === '!~') this.checkSelectorRegex(value, valueAt);
    try {
      return compileMatcher({ name, op, value });
    } catch (err) {
      if (!(err instanceof BadRequestError)) throw err;
      this.fail(err.message, valueAt);
    }
  }

  /** Validates a selector regex against RE2 and against what compileMatcher runs faithfully. */
  checkSelectorRegex(pattern: string, at: number): void {
    let t: Translation;
    try {
      t = translateRe2(pattern);
    } catch (err) {
      if (!(err instanceof RegexProblem)) throw err;
      this.fail(`invalid regex ${quoteForMessage(pattern)}: ${err.message} (character ${err.offset + 1} of the regex)`, at);
    }
    if (t.selectorProblem !== null) this.fail(`regex ${quoteForMessage(pattern)}: ${t.selectorProblem} is not supported in a stream selector`, at);
  }

  lineFilters(): LineFilter[] {
    const filters: LineFilter[] = [];
    const t = this.text;
    while (true) {
      this.skipSpace();
      const at = this.pos;
      if (at >= t.length) return filters;
      const two = t.slice(at, at + 2);
      if (!isLineFilterOp(two)) this.notALineFilter();
      this.pos += 2;
      this.skipSpace();
      const valueAt = this.pos;
      const fn = this.identifier();
      if (fn !== '') {
        this.skipSpace();
        if (t[this.pos] === '(') this.fail(`${fn}() line filters are not supported: use a string or a regex`, valueAt);
        this.pos = valueAt;
      }
      const value = this.string(`a string after ${two}`);
      if (two === '|~' || two === '!~') {
        try {
          compileTranslation(translateRe2(value), value);
        } catch (err) {
          if (err instanceof RegexProblem) {
            this.fail(`invalid regex ${quoteForMessage(value)}: ${err.message} (character ${err.offset + 1} of the regex)`, valueAt);
          }
          if (err instanceof BadRequestError) this.fail(err.message, valueAt);
          throw err;
        }
      }
      filters.push({ op: two, value });
    }
  }

  /** Explains what stands where a line filter or the end of the query was expected. */
  notALineFilter(): never {
    const t = this.text;
    const at = this.pos;
    const two = t.slice(at, at + 2);
    if (two === '|>' || two === '!>') this.fail(`pattern line filters (${two}) are not supported: use |= or |~`, at);
    if (t[at] === '|') {
      this.pos++;
      this.skipSpace();
      const name = this.identifier();
      const only = 'only line filters (|=, !=, |~, !~) may follow the stream selector';
      if (PIPELINE_STAGES.has(name)) this.fail(`the "| ${name}" pipeline stage is not supported: ${only}`, at);
      if (name !== '') this.fail(`label filter expressions ("| ${name} …") are not supported: ${only}`, at);
      this.fail(`unexpected "|": ${only}`, at);
    }
    if (t[at] === '[') this.fail('range vectors ([5m]) belong to metric queries, which are not supported', at);
    const word = this.identifier();
    this.pos = at;
    if (word === 'or') this.fail('"or" between line filter values is not supported: use a regex alternation such as |~ "a|b"', at);
    this.fail(`unexpected ${this.found(at)} after the stream selector: expected a line filter (|=, !=, |~, !~) or the end of the query`, at);
  }
}

// ---------------------------------------------------------------------------------------------
// Strings

/** Go's strconv.Quote: `"` and `\` escaped, non-printable characters as \a … \v, \xHH, \uHHHH or \UHHHHHHHH. */
function quoteString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const escaped = QUOTE_ESCAPES[ch];
    if (escaped !== undefined) {
      out += escaped;
    } else if (NON_PRINTABLE_RE.test(ch)) {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x20 || cp === 0x7f) out += '\\x' + hex(cp, 2);
      else if (cp < 0x10000) out += '\\u' + hex(cp, 4);
      else out += '\\U' + hex(cp, 8);
    } else {
      out += ch; // printable, or a lone surrogate (no escape can write one)
    }
  }
  return out + '"';
}

const QUOTE_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

/** What Go's unicode.IsPrint refuses (other than lone surrogates): controls, format, private use, unassigned, separators but the space. */
const NON_PRINTABLE_RE = /^(?:[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]|(?! )\p{Zs})$/u;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** A pattern quoted for an error message, cut to 64 characters. */
function quoteForMessage(text: string): string {
  return JSON.stringify(text.length > 64 ? text.slice(0, 64) + '…' : text);
}

// ---------------------------------------------------------------------------------------------
// RE2 → JavaScript

/** A pattern RE2 refuses, or that Silt cannot run with RE2's meaning; `offset` is in the pattern. */
class RegexProblem extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** An RE2 pattern as a JavaScript regex with the same meaning. */
interface Translation {
  /** Source for `new RegExp(source, flags)`, in Unicode mode. */
  source: string;
  /** `u`, plus `i` for `(?i)`. */
  flags: string;
  /** The text the pattern matches when it is a plain literal (no metacharacters, no case folding), else null. */
  literal: string | null;
  /**
   * Set when the pattern, compiled as written by compileMatcher (non-Unicode JavaScript, `s` flag,
   * leading `(?i)`/`(?s)` only), would not mean what it means in RE2: names the construct.
   */
  selectorProblem: string | null;
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

/** Checks an RE2 pattern and translates it to a JavaScript regex with the same meaning; throws RegexProblem. */
function translateRe2(pattern: string): Translation {
  return new Re2Translator(pattern).run();
}

/** Compiles a translation; JavaScript should accept every translation, but a refusal is still a 400. */
function compileTranslation(t: Translation, pattern: string): RegExp {
  try {
    return new RegExp(t.source, t.flags);
  } catch (err) {
    throw new BadRequestError('SILT_BAD_QUERY', `invalid regex ${quoteForMessage(pattern)}: ${(err as Error).message}`);
  }
}

type AtomKind = 'none' | 'char' | 'astral' | 'class' | 'group' | 'assertion' | 'repeat';

class Re2Translator {
  i = 0;
  out = '';
  fold = false;
  dotNL = false;
  multiLine = false;
  ungreedy = false;
  literal: string | null = '';
  selectorProblem: string | null = null;
  /** Output offsets of the open groups. */
  readonly groups: number[] = [];
  /** Input offsets of the open groups, for "missing )". */
  readonly groupAt: number[] = [];
  readonly names = new Set<string>();
  atomStart = 0;
  atomKind: AtomKind = 'none';

  constructor(readonly p: string) {}

  problem(message: string, at: number): never {
    throw new RegexProblem(message, at);
  }

  selector(construct: string): void {
    if (this.selectorProblem === null) this.selectorProblem = construct;
  }

  run(): Translation {
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
      selectorProblem: this.selectorProblem,
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
      if (dash !== undefined) this.selector(`the flag group ${all}`);
      for (const f of on) this.flag(f, true, all);
      for (const f of off) this.flag(f, false, all);
      this.i += all.length;
    }
  }

  flag(f: string, on: boolean, group: string): void {
    switch (f) {
      case 'i':
        this.fold = on;
        break;
      case 's':
        this.dotNL = on;
        if (!on) this.selector(`the flag group ${group}`); // compileMatcher always lets . match \n
        break;
      case 'm':
        this.multiLine = on;
        if (on) this.selector(`the flag group ${group}`);
        break;
      case 'U':
        this.ungreedy = on;
        if (on) this.selector(`the flag group ${group}`);
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
      this.selector(`a repeated anchor "${written}"`);
    }
    if (this.atomKind === 'astral') this.selector(`repeating a character outside the Basic Multilingual Plane`);
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
      this.selector(`the literal ${all}`);
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
    if (p[at + 1] !== '?') {
      next = at + 1; // a capture: captures do not matter to a match test
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
        if (c === 'P') this.selector('the named group syntax "(?P<name>"');
        const close = p.indexOf('>', nameAt);
        const name = close < 0 ? '' : p.slice(nameAt, close);
        if (close < 0 || !/^[A-Za-z0-9_]+$/.test(name)) this.problem(`invalid named capture "${p.slice(at, close < 0 ? p.length : close + 1)}"`, at);
        if (this.names.has(name)) this.problem(`duplicate capture group name "${name}"`, at);
        this.names.add(name);
        next = close + 1;
      } else if (c !== undefined && /[imsU-]/.test(c)) {
        this.problem('flag groups such as (?i:…), and flags after the start of the regex, are not supported: put the flags first, as in (?i)error', at);
      } else {
        this.problem(`invalid or unsupported Perl syntax "(?${c ?? ''}"`, at);
      }
    }
    this.groups.push(this.out.length);
    this.groupAt.push(at);
    this.out += '(?:';
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
        this.selector('"\\A"');
        return;
      case 'z':
        this.i += 2;
        this.assertion('$');
        this.selector('"\\z"');
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
        this.selector('"\\Q…\\E"');
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
      this.selector(`the octal escape "\\${oct}"`);
      this.i = at + 1 + oct.length;
      return parseInt(oct, 8);
    }
    if (e === 'x') {
      if (p[at + 2] === '{') {
        const close = p.indexOf('}', at + 3);
        const digits = close < 0 ? '' : p.slice(at + 3, close);
        const cp = /^[0-9a-fA-F]{1,8}$/.test(digits) ? parseInt(digits, 16) : -1;
        if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.problem(`invalid escape sequence "${p.slice(at, close < 0 ? at + 3 : close + 1)}"`, at);
        this.selector(`the escape "\\x{${digits}}"`);
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
      if (e === 'a') this.selector('"\\a"');
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
    this.selector(`the Unicode class "${written}"`);
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
      if (c === ']') this.selector('"]" first in a character class');
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
          this.selector(`the POSIX class "${named}"`);
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
        if (hi > 0xffff) this.selector('a character outside the Basic Multilingual Plane in a character class');
        body += classChar(lo) + '-' + classChar(hi);
      } else {
        if (lo > 0xffff) this.selector('a character outside the Basic Multilingual Plane in a character class');
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
