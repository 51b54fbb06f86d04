/**
 * The log half of the LogQL parser: the token stream both halves read, stream selectors, and the
 * pipeline stages of Loki's grammar (pkg/logql/syntax/syntax.y), with the checks Loki makes while
 * it builds them (regexes, `| regexp` and `| pattern` captures). Label filter expressions keep
 * Loki's precedence: `and` binds tighter than `or`, both left-associative, while `,` and two
 * filters side by side mean `and` with everything to their right (goyacc resolves those
 * conflicts by shifting).
 */
import { compileMatcher, type LabelMatcher, type MatchOp } from '../matchers';
import type {
  CompareOp,
  DropKeepStage,
  ExtractionParam,
  LabelFilterExpr,
  LabelFormatItem,
  LabelSelectItem,
  LineFilterOp,
  LineFilterStage,
  PipelineStage,
} from './ast';
import { failSemantic, failSyntax, Lexer, T, type Token, type TokenKind } from './lexer';
import { parseGoFloat } from './parser-values';
import { Re2SyntaxError, translateRe2, type Re2Translation } from './re2';

const positions = new WeakMap<object, number>();

/** Where a node of a parsed tree starts in the query text (0-based), for messages about it; undefined for a node the parser did not make. */
export function nodePosition(node: object): number | undefined {
  return positions.get(node);
}

/** Records where `node` starts; returns it. */
export function at<N extends object>(node: N, position: number): N {
  positions.set(node, position);
  return node;
}

/** Tokens of one query with two of lookahead, and the helpers that fail on the current one. */
export class TokenStream {
  private readonly lexer: Lexer;
  private readonly ahead: Token[] = [];
  /** Problems Loki finds only when it builds the pipeline, after the whole query is read and checked. */
  readonly stageProblems: { position: number; message: string }[] = [];
  private depth = 0;

  constructor(readonly text: string) {
    this.lexer = new Lexer(text);
  }

  /** The token `k` ahead of the current one (0: the current one). */
  peek(k = 0): Token {
    while (this.ahead.length <= k) this.ahead.push(this.lexer.next());
    return this.ahead[k]!;
  }

  /** Whether the token `k` ahead is of `kind`. */
  is(kind: TokenKind, k = 0): boolean {
    return this.peek(k).kind === kind;
  }

  /** Moves past the current token and returns it. */
  take(): Token {
    const token = this.peek();
    this.ahead.shift();
    return token;
  }

  /** Takes the current token if it is of `kind`. */
  accept(kind: TokenKind): Token | null {
    return this.is(kind) ? this.take() : null;
  }

  /** Takes a token of `kind`, or fails naming `expected` (the kinds Loki's parser would take here). */
  expect(kind: TokenKind, expected: readonly TokenKind[] = [kind]): Token {
    if (!this.is(kind)) this.fail(expected);
    return this.take();
  }

  /**
   * Counts one more level of the tree being read (an operand, an operator, a label filter). Loki's
   * parser has no limit; this one stops at MAX_NESTING so that neither it nor what walks the tree
   * can exhaust the stack.
   */
  enter(): void {
    if (++this.depth > MAX_NESTING) failSemantic(this.peek().start, `query nested too deeply: more than ${MAX_NESTING} levels`);
  }

  /** Leaves `levels` levels counted by enter(). */
  leave(levels = 1): void {
    this.depth -= levels;
  }

  /** Records a problem of a stage (see stageProblems). */
  later(position: number, message: string): void {
    this.stageProblems.push({ position, message });
  }

  /** A syntax error at the current token. */
  fail(expected: readonly TokenKind[] = []): never {
    failSyntax(this.text, this.peek(), expected);
  }
}

/** How deep parentheses, operators and label filters may nest. */
const MAX_NESTING = 500;

const MATCH_OPS = new Map<TokenKind, MatchOp>([
  [T.EQ, '='],
  [T.NEQ, '!='],
  [T.RE, '=~'],
  [T.NRE, '!~'],
]);

const LINE_FILTER_OPS = new Map<TokenKind, LineFilterOp>([
  [T.PIPE_EXACT, '|='],
  [T.NEQ, '!='],
  [T.PIPE_MATCH, '|~'],
  [T.NRE, '!~'],
  [T.PIPE_PATTERN, '|>'],
  [T.NPA, '!>'],
]);

const COMPARE_OPS = new Map<TokenKind, CompareOp>([
  [T.EQ, '=='],
  [T.CMP_EQ, '=='],
  [T.NEQ, '!='],
  [T.GT, '>'],
  [T.GTE, '>='],
  [T.LT, '<'],
  [T.LTE, '<='],
]);

const MATCHER_OP_KINDS = [T.EQ, T.RE, T.NRE, T.NEQ];

/** Loki's message for a regex Go's regexp refuses. */
function regexMessage(err: Re2SyntaxError, pattern: string): string {
  return `error parsing regexp: ${err.message} at character ${err.offset + 1} of \`${pattern}\``;
}

/** What Go's regexp would say about an RE2 regex (Loki's `error parsing regexp: …` message), or null when it is valid. */
export function regexProblem(pattern: string): string | null {
  try {
    translateRe2(pattern);
    return null;
  } catch (err) {
    if (!(err instanceof Re2SyntaxError)) throw err;
    return regexMessage(err, pattern);
  }
}

/** Checks an RE2 regex; fails with Loki's message (after `prefix`, such as "invalid regexp parser: "). */
function checkRegex(pattern: string, position: number, prefix = ''): Re2Translation {
  try {
    return translateRe2(pattern);
  } catch (err) {
    if (!(err instanceof Re2SyntaxError)) throw err;
    failSemantic(position, prefix + regexMessage(err, pattern));
  }
}

/** `name op "value"`; a regex is checked as RE2 reads it. */
function matcher(s: TokenStream, name: Token): LabelMatcher {
  const op = MATCH_OPS.get(s.peek().kind);
  if (op === undefined) s.fail(MATCHER_OP_KINDS);
  s.take();
  const value = s.expect(T.STRING);
  if (op === '=~' || op === '!~') checkRegex(value.text, value.start);
  return { name: name.text, op, value: value.text };
}

/** `{name op "value", …}`; `{}` is read (Loki refuses it once the query is read: see matchesOnlyEmpty). */
export function selector(s: TokenStream, expected: readonly TokenKind[]): LabelMatcher[] {
  s.expect(T.OPEN_BRACE, expected);
  const matchers: LabelMatcher[] = [];
  if (s.accept(T.CLOSE_BRACE)) return matchers;
  matchers.push(matcher(s, s.expect(T.IDENTIFIER, [T.IDENTIFIER, T.CLOSE_BRACE])));
  while (!s.accept(T.CLOSE_BRACE)) {
    s.expect(T.COMMA, [T.CLOSE_BRACE, T.COMMA]);
    matchers.push(matcher(s, s.expect(T.IDENTIFIER)));
  }
  return matchers;
}

/** Loki's rule: a query needs one matcher that does not match the empty string (else it would read every stream). */
export function matchesOnlyEmpty(matchers: readonly LabelMatcher[]): boolean {
  return matchers.every((m) => compileMatcher(m).test(''));
}

/** Loki's message for a selector that would select every stream. */
export const EVERY_STREAM_MESSAGE =
  'queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will';

/**
 * The pipeline after a selector: line filters and `| stage`s, up to what cannot continue it. In a
 * log range (`inRange`) it stops before `| unwrap`, which belongs to the range.
 */
export function pipeline(s: TokenStream, inRange: boolean): PipelineStage[] {
  const stages: PipelineStage[] = [];
  while (true) {
    const token = s.peek();
    const lineOp = LINE_FILTER_OPS.get(token.kind);
    if (lineOp !== undefined) {
      stages.push(...lineFilter(s, lineOp));
      continue;
    }
    if (token.kind !== T.PIPE) return stages;
    if (s.is(T.UNWRAP, 1) && inRange) return stages;
    s.take();
    stages.push(at(stage(s), token.start));
  }
}

/**
 * `|= "a" or "b"`, `!= ip("10.0.0.0/8")`, `|~ "re"`, `|> "<_> pattern"`. Loki reads `!= "a" or
 * ip("b")` as `!= "a" != ip("b")`: alternatives of a negated filter that mix strings and ip() become
 * one stage per run of each.
 */
function lineFilter(s: TokenStream, op: LineFilterOp): LineFilterStage[] {
  const start = s.take().start;
  const values: { value: string; ip: boolean }[] = [];
  do {
    if (s.accept(T.IP)) {
      s.expect(T.OPEN_PARENTHESIS);
      values.push({ value: s.expect(T.STRING).text, ip: true });
      s.expect(T.CLOSE_PARENTHESIS);
    } else {
      const value = s.expect(T.STRING, [T.STRING, T.IP]);
      const problem = op === '|~' || op === '!~' ? regexProblem(value.text) : op === '|>' || op === '!>' ? linePatternProblem(value.text) : null;
      if (problem !== null) s.later(value.start, problem);
      values.push({ value: value.text, ip: false });
    }
  } while (s.accept(T.OR));
  const ips = values.filter((v) => v.ip).length;
  if (ips > 0 && op !== '|=' && op !== '!=') s.later(start, `ip: invalid operation: ip() only goes with |= and !=, not ${op}`);
  else if (ips > 0 && ips < values.length && op === '|=') s.later(start, 'ip() and strings as alternatives of one |= filter are not supported: use a regex, or two queries');
  const stages: LineFilterStage[] = [];
  for (const v of values) {
    const last = stages[stages.length - 1];
    if (last !== undefined && last.ip === v.ip) last.values.push(v.value);
    else stages.push(at({ kind: 'line_filter', op, values: [v.value], ip: v.ip }, start));
  }
  return stages;
}

/** The stage after `|`. */
function stage(s: TokenStream): PipelineStage {
  const token = s.peek();
  switch (token.kind) {
    case T.JSON:
      s.take();
      return { kind: 'json', params: extractionParams(s) };
    case T.LOGFMT: {
      s.take();
      let strict = false;
      let keepEmpty = false;
      for (let flag = s.accept(T.FUNCTION_FLAG); flag !== null; flag = s.accept(T.FUNCTION_FLAG)) {
        if (flag.text === '--strict') strict = true;
        else keepEmpty = true;
      }
      return { kind: 'logfmt', strict, keepEmpty, params: extractionParams(s) };
    }
    case T.REGEXP: {
      s.take();
      const pattern = s.expect(T.STRING);
      const t = checkRegex(pattern.text, pattern.start, 'invalid regexp parser: ');
      if (t.groupNames.length === 0) failSemantic(pattern.start, 'invalid regexp parser: at least one named capture must be supplied');
      return { kind: 'regexp', pattern: pattern.text };
    }
    case T.PATTERN: {
      s.take();
      const pattern = s.expect(T.STRING);
      checkPattern(pattern.text, pattern.start);
      return { kind: 'pattern', pattern: pattern.text };
    }
    case T.UNPACK:
      s.take();
      return { kind: 'unpack' };
    case T.LINE_FMT:
      s.take();
      return { kind: 'line_format', template: s.expect(T.STRING).text };
    case T.DECOLORIZE:
      s.take();
      return { kind: 'decolorize' };
    case T.LABEL_FMT:
      s.take();
      return { kind: 'label_format', items: labelFormatItems(s) };
    case T.DROP:
    case T.KEEP:
      s.take();
      return { kind: token.kind === T.DROP ? 'drop' : 'keep', items: labelSelectItems(s) } satisfies DropKeepStage;
    case T.IDENTIFIER:
    case T.OPEN_PARENTHESIS:
      return { kind: 'label_filter', expr: labelFilter(s) };
    default:
      s.fail();
  }
}

/** `a, b="path", …` after `json` or `logfmt` (possibly none). */
function extractionParams(s: TokenStream): ExtractionParam[] {
  const params: ExtractionParam[] = [];
  if (!s.is(T.IDENTIFIER)) return params;
  do {
    const label = s.expect(T.IDENTIFIER).text;
    const path = s.accept(T.EQ) ? s.expect(T.STRING).text : null;
    params.push({ label, path });
  } while (s.accept(T.COMMA));
  return params;
}

function labelFormatItems(s: TokenStream): LabelFormatItem[] {
  const items: LabelFormatItem[] = [];
  do {
    const dst = s.expect(T.IDENTIFIER).text;
    s.expect(T.EQ);
    const src = s.peek();
    if (src.kind !== T.IDENTIFIER && src.kind !== T.STRING) s.fail([T.IDENTIFIER, T.STRING]);
    s.take();
    items.push(src.kind === T.IDENTIFIER ? { dst, rename: src.text, template: null } : { dst, rename: null, template: src.text });
  } while (s.accept(T.COMMA));
  return items;
}

function labelSelectItems(s: TokenStream): LabelSelectItem[] {
  const items: LabelSelectItem[] = [];
  do {
    const name = s.expect(T.IDENTIFIER);
    items.push({ name: name.text, matcher: MATCH_OPS.has(s.peek().kind) ? matcher(s, name) : null });
  } while (s.accept(T.COMMA));
  return items;
}

/** A label filter expression (after `|`, or after `| unwrap …|`). */
export function labelFilter(s: TokenStream): LabelFilterExpr {
  s.enter();
  let left = labelFilterAnd(s);
  let levels = 1;
  for (; s.accept(T.OR); levels++) {
    s.enter();
    left = { kind: 'or', left, right: labelFilterAnd(s) };
  }
  s.leave(levels);
  return left;
}

function labelFilterAnd(s: TokenStream): LabelFilterExpr {
  let left = labelFilterUnit(s);
  let levels = 0;
  for (; s.accept(T.AND); levels++) {
    s.enter();
    left = { kind: 'and', left, right: labelFilterUnit(s) };
  }
  s.leave(levels);
  return left;
}

/** One filter, and with it what a `,` or a filter side by side joins to it: all the rest of the expression. */
function labelFilterUnit(s: TokenStream): LabelFilterExpr {
  const left = labelFilterPrimary(s);
  if (s.accept(T.COMMA) || s.is(T.IDENTIFIER) || s.is(T.OPEN_PARENTHESIS)) return { kind: 'and', left, right: labelFilter(s) };
  return left;
}

function labelFilterPrimary(s: TokenStream): LabelFilterExpr {
  if (s.accept(T.OPEN_PARENTHESIS)) {
    const inner = labelFilter(s);
    s.expect(T.CLOSE_PARENTHESIS, []);
    return inner;
  }
  const name = s.expect(T.IDENTIFIER, [T.IDENTIFIER, T.OPEN_PARENTHESIS]);
  const opToken = s.peek();
  if (opToken.kind === T.RE || opToken.kind === T.NRE) return { kind: 'matcher', matcher: matcher(s, name) };
  const op = COMPARE_OPS.get(opToken.kind);
  if (op === undefined) s.fail();
  const valueToken = s.peek(1);
  if ((opToken.kind === T.EQ || opToken.kind === T.NEQ) && valueToken.kind === T.STRING) return { kind: 'matcher', matcher: matcher(s, name) };
  s.take();
  if ((opToken.kind === T.EQ || opToken.kind === T.NEQ) && s.accept(T.IP)) {
    s.expect(T.OPEN_PARENTHESIS);
    const pattern = s.expect(T.STRING).text;
    s.expect(T.CLOSE_PARENTHESIS);
    return { kind: 'ip', name: name.text, negate: opToken.kind === T.NEQ, pattern };
  }
  const value = s.peek();
  if (value.kind === T.DURATION) {
    s.take();
    return { kind: 'duration', name: name.text, op, value: Number(value.ns) / 1e9 };
  }
  if (value.kind === T.BYTES) {
    s.take();
    return { kind: 'bytes', name: name.text, op, value: value.bytes };
  }
  const number = signedNumber(s);
  if (number === null) s.fail();
  const parsed = parseGoFloat(number.text);
  if (typeof parsed === 'string') failSemantic(number.start, `unable to parse literal as a float: ${parsed}`);
  return { kind: 'number', name: name.text, op, value: number.negative ? -parsed : parsed };
}

/** `NUMBER`, `+NUMBER` or `-NUMBER` (Loki's literalExpr); null when the current token starts none of them. */
export function signedNumber(s: TokenStream): { text: string; negative: boolean; start: number } | null {
  const sign = s.peek();
  if (sign.kind === T.ADD || sign.kind === T.SUB) {
    s.take();
    return { text: s.expect(T.NUMBER).text, negative: sign.kind === T.SUB, start: sign.start };
  }
  if (sign.kind !== T.NUMBER) return null;
  s.take();
  return { text: sign.text, negative: false, start: sign.start };
}

/** One part of a Loki pattern: literal text, or a capture (`<name>`, or `<_>` which keeps nothing). */
export type PatternPart = { kind: 'literal'; text: string } | { kind: 'capture'; name: string };

const CAPTURE_RE = /<([A-Za-z_][A-Za-z0-9_]*)>/y;

/** Splits a Loki pattern (`<ip> - - <_> "<method> <path>"`) into literals and captures. */
export function parsePattern(pattern: string): PatternPart[] {
  const parts: PatternPart[] = [];
  let literal = '';
  for (let i = 0; i < pattern.length; ) {
    CAPTURE_RE.lastIndex = i;
    const m = pattern[i] === '<' ? CAPTURE_RE.exec(pattern) : null;
    if (m === null) {
      literal += pattern[i];
      i++;
      continue;
    }
    if (literal !== '') parts.push({ kind: 'literal', text: literal });
    literal = '';
    parts.push({ kind: 'capture', name: m[1]! });
    i += m[0].length;
  }
  if (literal !== '') parts.push({ kind: 'literal', text: literal });
  return parts;
}

/** The problem Loki finds with consecutive captures (`<a><b>`), or null. */
function consecutiveCaptures(parts: readonly PatternPart[]): string | null {
  for (let i = 0; i + 1 < parts.length; i++) {
    const a = parts[i]!;
    const b = parts[i + 1]!;
    if (a.kind === 'capture' && b.kind === 'capture') return `found consecutive capture '<${a.name}><${b.name}>': invalid expression`;
  }
  return null;
}

/** Checks `| pattern "…"` as Loki does: not empty, at least one named capture, none twice, no two side by side. */
function checkPattern(pattern: string, position: number): void {
  const parts = parsePattern(pattern);
  const fail = (problem: string): never => failSemantic(position, `invalid pattern parser: ${problem}`);
  if (parts.length === 0) fail('syntax error: unexpected $end');
  const names = parts.flatMap((p) => (p.kind === 'capture' && p.name !== '_' ? [p.name] : []));
  if (names.length === 0) fail('at least one capture is required');
  const consecutive = consecutiveCaptures(parts);
  if (consecutive !== null) fail(consecutive);
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) fail(`duplicate capture name (${name}): invalid expression`);
    seen.add(name);
  }
}

/** What Loki finds wrong with a pattern line filter (`|> "<_> error"`: only `<_>` captures, none side by side), or null. */
function linePatternProblem(pattern: string): string | null {
  const parts = parsePattern(pattern);
  const consecutive = consecutiveCaptures(parts);
  if (consecutive !== null) return consecutive;
  const named = parts.find((p) => p.kind === 'capture' && p.name !== '_');
  return named !== undefined && named.kind === 'capture' ? `named captures are not allowed: found '<${named.name}>'` : null;
}
