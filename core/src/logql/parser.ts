/**
 * The LogQL parser: any Loki 3.x query text to the tree of ast.ts, with Loki's grammar
 * (pkg/logql/syntax/syntax.y), its lexer (lexer.ts), its checks and its error messages
 * (`parse error at line 1, col 9: syntax error: unexpected $end, expecting } or ,`; checks made once
 * a construct is read: `parse error : invalid aggregation sum_over_time without unwrap`). Every
 * error is a 400 `SILT_BAD_QUERY` with the 0-based `position` in its details.
 *
 * As in Loki: binary operators by precedence `or` < `and unless` < comparisons < `+ -` < `* / %` <
 * `^`, all left-associative but `^`; a `-` sticks to the number after it (`-2 ^ 2` is 4, and `-sum(…)`
 * is a syntax error); an operation between two literals is folded into one literal (comparisons give
 * 1 or 0, division and modulo by zero NaN); checks Loki makes once the whole query is read (of
 * aggregations, operands, literals, selectors) come after every syntax error.
 */
import type { LabelMatcher } from '../matchers';
import type {
  BinaryExpr,
  BinaryOp,
  Expr,
  Grouping,
  LabelFilterExpr,
  LiteralExpr,
  LogRange,
  LogSelectorExpr,
  MetricExpr,
  RangeOp,
  Unwrap,
  UnwrapConversion,
  VectorMatching,
  VectorOp,
} from './ast';
import { failSemantic, T, type Token, type TokenKind } from './lexer';
import { parseGoFloat } from './parser-values';
import { at, EVERY_STREAM_MESSAGE, labelFilter, matchesOnlyEmpty, nodePosition, pipeline, regexProblem, selector, signedNumber, TokenStream } from './parser-log';

export { nodePosition, parsePattern, type PatternPart } from './parser-log';

/** Parses any LogQL query: a log query (selector and pipeline) or a metric query. */
export function parseExpr(text: string): Expr {
  const { expr, stream } = parseUnchecked(text);
  validate(expr);
  checkStages(stream);
  return expr;
}

/** Parses a log query (`{app="api"} | json | level="error"`); a metric query is a 400. */
export function parseLogSelector(text: string): LogSelectorExpr {
  const { expr, stream } = parseUnchecked(text);
  if (expr.kind !== 'log') failSemantic(0, 'only log selector is supported');
  validate(expr);
  checkStages(stream);
  return expr;
}

/** Parses a stream selector alone (`{app="api", env=~"prod|dev"}`, as /series `match[]` takes it). */
export function parseSelector(text: string): LabelMatcher[] {
  const expr = parseExpr(text);
  if (expr.kind !== 'log') failSemantic(0, 'only label matchers are supported');
  if (expr.pipeline.length > 0) failSemantic(nodePosition(expr.pipeline[0]!) ?? 0, 'only label matchers are supported');
  return expr.matchers;
}

/** Loki's limit on the length of a query, in bytes. */
const MAX_QUERY_BYTES = 131072;

function parseUnchecked(text: string): { expr: Expr; stream: TokenStream } {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes >= MAX_QUERY_BYTES) failSemantic(0, `input size too long (${bytes} > ${MAX_QUERY_BYTES})`);
  const stream = new TokenStream(text);
  const expr = binary(stream, 0);
  if (!stream.is(T.END)) stream.fail();
  return { expr, stream };
}

/** The first problem Loki would find building the pipelines (a bad line filter regex, `|~ ip(…)`), once the query has passed its checks. */
function checkStages(stream: TokenStream): void {
  const p = stream.stageProblems[0];
  if (p !== undefined) failSemantic(p.position, p.message);
}

// ---------------------------------------------------------------------------------------------
// Checks Loki makes once the query is read (its validateExpr): each node's own problem first,
// then its operands'.

const problems = new WeakMap<object, { position: number; message: string }>();

function problem(node: object, position: number, message: string): void {
  problems.set(node, { position, message });
}

function check(node: object): void {
  const p = problems.get(node);
  if (p !== undefined) failSemantic(p.position, p.message);
}

function checkSelector(selector: LogSelectorExpr): void {
  if (matchesOnlyEmpty(selector.matchers)) failSemantic(nodePosition(selector) ?? 0, EVERY_STREAM_MESSAGE);
}

function validate(e: Expr): void {
  check(e);
  switch (e.kind) {
    case 'log':
      checkSelector(e);
      return;
    case 'binary':
      validate(e.left);
      validate(e.right);
      return;
    case 'vector_agg':
      if ((e.op === 'sort' || e.op === 'sort_desc') && e.grouping !== null && e.grouping.labels.length > 0) {
        failSemantic(nodePosition(e) ?? 0, "sort and sort_desc doesn't allow grouping by ");
      }
      validate(e.expr);
      return;
    case 'label_replace':
      validate(e.expr);
      return;
    case 'range_agg':
      checkSelector(e.range.selector);
      return;
    case 'literal':
    case 'vector':
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Expressions

const BINARY_OPS = new Map<TokenKind, { op: BinaryOp; precedence: number }>([
  [T.OR, { op: 'or', precedence: 1 }],
  [T.AND, { op: 'and', precedence: 2 }],
  [T.UNLESS, { op: 'unless', precedence: 2 }],
  [T.CMP_EQ, { op: '==', precedence: 3 }],
  [T.NEQ, { op: '!=', precedence: 3 }],
  [T.GT, { op: '>', precedence: 3 }],
  [T.GTE, { op: '>=', precedence: 3 }],
  [T.LT, { op: '<', precedence: 3 }],
  [T.LTE, { op: '<=', precedence: 3 }],
  [T.ADD, { op: '+', precedence: 4 }],
  [T.SUB, { op: '-', precedence: 4 }],
  [T.MUL, { op: '*', precedence: 5 }],
  [T.DIV, { op: '/', precedence: 5 }],
  [T.MOD, { op: '%', precedence: 5 }],
  [T.POW, { op: '^', precedence: 6 }],
]);

const RANGE_OPS = new Map<TokenKind, RangeOp>([
  [T.COUNT_OVER_TIME, 'count_over_time'],
  [T.RATE, 'rate'],
  [T.RATE_COUNTER, 'rate_counter'],
  [T.BYTES_OVER_TIME, 'bytes_over_time'],
  [T.BYTES_RATE, 'bytes_rate'],
  [T.AVG_OVER_TIME, 'avg_over_time'],
  [T.SUM_OVER_TIME, 'sum_over_time'],
  [T.MIN_OVER_TIME, 'min_over_time'],
  [T.MAX_OVER_TIME, 'max_over_time'],
  [T.STDVAR_OVER_TIME, 'stdvar_over_time'],
  [T.STDDEV_OVER_TIME, 'stddev_over_time'],
  [T.QUANTILE_OVER_TIME, 'quantile_over_time'],
  [T.FIRST_OVER_TIME, 'first_over_time'],
  [T.LAST_OVER_TIME, 'last_over_time'],
  [T.ABSENT_OVER_TIME, 'absent_over_time'],
]);

const VECTOR_OPS = new Map<TokenKind, VectorOp>([
  [T.SUM, 'sum'],
  [T.AVG, 'avg'],
  [T.COUNT, 'count'],
  [T.MAX, 'max'],
  [T.MIN, 'min'],
  [T.STDDEV, 'stddev'],
  [T.STDVAR, 'stdvar'],
  [T.BOTTOMK, 'bottomk'],
  [T.TOPK, 'topk'],
  [T.SORT, 'sort'],
  [T.SORT_DESC, 'sort_desc'],
]);

/** Range aggregations that take `by`/`without`, that take `| unwrap`, and that do without it (Loki's RangeAggregationExpr.validate). */
const RANGE_GROUPING = new Set<RangeOp>(['avg_over_time', 'stddev_over_time', 'stdvar_over_time', 'quantile_over_time', 'max_over_time', 'min_over_time', 'first_over_time', 'last_over_time']);
const RANGE_WITH_UNWRAP = new Set<RangeOp>([
  'avg_over_time',
  'sum_over_time',
  'max_over_time',
  'min_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'quantile_over_time',
  'rate',
  'rate_counter',
  'absent_over_time',
  'first_over_time',
  'last_over_time',
]);
const RANGE_WITHOUT_UNWRAP = new Set<RangeOp>(['bytes_over_time', 'bytes_rate', 'count_over_time', 'rate', 'absent_over_time']);

/** Operators at or above `minPrecedence`, by precedence climbing. */
function binary(s: TokenStream, minPrecedence: number): Expr {
  s.enter();
  let left = operand(s);
  let levels = 1;
  for (let info = BINARY_OPS.get(s.peek().kind); info !== undefined && info.precedence >= minPrecedence; info = BINARY_OPS.get(s.peek().kind)) {
    s.enter();
    levels++;
    const opToken = s.take();
    const bool = s.accept(T.BOOL) !== null;
    const matching = vectorMatching(s);
    const right = binary(s, info.op === '^' ? info.precedence : info.precedence + 1);
    left = binaryNode(info.op, bool, matching, left, right, opToken.start);
  }
  s.leave(levels);
  return left;
}

/** Loki's type name of a log query leg, for its "unexpected type" message. */
function logTypeName(e: LogSelectorExpr): string {
  return e.pipeline.length === 0 ? '*syntax.MatchersExpr' : '*syntax.PipelineExpr';
}

/** A binary operation; two literals fold into one, as Loki's mustNewBinOpExpr does. */
function binaryNode(op: BinaryOp, bool: boolean, matching: VectorMatching | null, left: Expr, right: Expr, position: number): MetricExpr {
  const node = at({ kind: 'binary', op, bool, matching, left, right } as BinaryExpr, nodePosition(left) ?? position);
  if (left.kind === 'log') {
    problem(node, position, `unexpected type for left leg of binary operation (${op}): ${logTypeName(left)}`);
    return node;
  }
  if (right.kind === 'log') {
    problem(node, position, `unexpected type for right leg of binary operation (${op}): ${logTypeName(right)}`);
    return node;
  }
  const bad = [left, right].find((e) => e.kind === 'literal' && problems.has(e));
  if (bad !== undefined) {
    problems.set(node, problems.get(bad)!);
    return node;
  }
  if (op === 'or' || op === 'and' || op === 'unless') {
    if (left.kind === 'literal') problem(node, position, `unexpected literal for left leg of logical/set binary operation (${op}): ${goFixed(left.value)}`);
    else if (right.kind === 'literal') problem(node, position, `unexpected literal for right leg of logical/set binary operation (${op}): ${goFixed(right.value)}`);
    return node;
  }
  if (left.kind === 'literal' && right.kind === 'literal') return literal(foldScalars(op, left.value, right.value), nodePosition(left) ?? position);
  return node;
}

/** Go's `%f`: six decimals, NaN and ±Inf by name. */
function goFixed(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return Math.abs(v) < 1e21 ? v.toFixed(6) : BigInt(v).toString() + '.000000';
}

/** Loki's merge of two scalars: comparisons give 1 or 0 (never filter), `/` and `%` by zero give NaN. */
function foldScalars(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return b === 0 ? NaN : a / b;
    case '%':
      return b === 0 ? NaN : a % b;
    case '^':
      return Math.pow(a, b);
    case '==':
      return a === b ? 1 : 0;
    case '!=':
      return a !== b ? 1 : 0;
    case '>':
      return a > b ? 1 : 0;
    case '>=':
      return a >= b ? 1 : 0;
    case '<':
      return a < b ? 1 : 0;
    case '<=':
      return a <= b ? 1 : 0;
    default:
      throw new Error(`no scalar fold for ${op}`);
  }
}

function literal(value: number, position: number): LiteralExpr {
  return at({ kind: 'literal', value }, position);
}

/** `on (…)`/`ignoring (…)` and `group_left`/`group_right` with an optional label list, after an operator and `bool`. */
function vectorMatching(s: TokenStream): VectorMatching | null {
  const onOrIgnoring = s.accept(T.ON) ?? s.accept(T.IGNORING);
  if (onOrIgnoring === null) return null;
  s.expect(T.OPEN_PARENTHESIS);
  const labels = labelList(s);
  const groupToken = s.accept(T.GROUP_LEFT) ?? s.accept(T.GROUP_RIGHT);
  let group: VectorMatching['group'] = null;
  if (groupToken !== null) {
    group = { side: groupToken.kind === T.GROUP_LEFT ? 'left' : 'right', include: s.accept(T.OPEN_PARENTHESIS) ? labelList(s) : [] };
  }
  return { on: onOrIgnoring.kind === T.ON, labels, group };
}

/** `a, b)` or `)` after an opening parenthesis. */
function labelList(s: TokenStream): string[] {
  const labels: string[] = [];
  if (s.accept(T.CLOSE_PARENTHESIS)) return labels;
  labels.push(s.expect(T.IDENTIFIER, [T.IDENTIFIER, T.CLOSE_PARENTHESIS]).text);
  while (!s.accept(T.CLOSE_PARENTHESIS)) {
    s.expect(T.COMMA, [T.COMMA, T.CLOSE_PARENTHESIS]);
    labels.push(s.expect(T.IDENTIFIER).text);
  }
  return labels;
}

function grouping(s: TokenStream): Grouping | null {
  const token = s.accept(T.BY) ?? s.accept(T.WITHOUT);
  if (token === null) return null;
  s.expect(T.OPEN_PARENTHESIS);
  return { without: token.kind === T.WITHOUT, labels: labelList(s) };
}

/** One operand of a binary operation (or the whole query). */
function operand(s: TokenStream): Expr {
  const token = s.peek();
  const rangeOp = RANGE_OPS.get(token.kind);
  if (rangeOp !== undefined) return rangeAggregation(s, rangeOp);
  const vectorOp = VECTOR_OPS.get(token.kind);
  if (vectorOp !== undefined) return vectorAggregation(s, vectorOp);
  switch (token.kind) {
    case T.OPEN_BRACE:
      return logQuery(s);
    case T.OPEN_PARENTHESIS: {
      s.take();
      const inner = binary(s, 0);
      s.expect(T.CLOSE_PARENTHESIS, []);
      return inner;
    }
    case T.LABEL_REPLACE:
      return labelReplace(s);
    case T.VECTOR: {
      s.take();
      s.expect(T.OPEN_PARENTHESIS);
      const number = s.expect(T.NUMBER);
      s.expect(T.CLOSE_PARENTHESIS);
      const value = parseGoFloat(number.text);
      const node = at({ kind: 'vector' as const, value: typeof value === 'number' ? value : NaN }, token.start);
      if (typeof value === 'string') problem(node, number.start, `unable to parse vectorExpr as a float: ${value}`);
      return node;
    }
    case T.APPROX_TOPK:
      failSemantic(token.start, 'approx_topk is not supported: use topk');
      break;
    default: {
      const number = signedNumber(s);
      if (number === null) s.fail();
      const value = parseGoFloat(number.text);
      const node = literal(typeof value === 'number' ? (number.negative ? -value : value) : NaN, number.start);
      if (typeof value === 'string') problem(node, number.start, `unable to parse literal as a float: ${value}`);
      return node;
    }
  }
}

/** An operand where only a metric query may stand: a log query here can only be followed by an operator. */
function metricOperand(s: TokenStream): MetricExpr {
  const e = binary(s, 0);
  if (e.kind === 'log') s.fail();
  return e;
}

/** `{…} <pipeline>` as a query of its own. */
function logQuery(s: TokenStream): LogSelectorExpr {
  const start = s.peek().start;
  const matchers = selector(s, []);
  return at({ kind: 'log', matchers, pipeline: pipeline(s, false) }, start);
}

function vectorAggregation(s: TokenStream, op: VectorOp): MetricExpr {
  const opToken = s.take();
  let group = grouping(s);
  s.expect(T.OPEN_PARENTHESIS, group === null ? [T.OPEN_PARENTHESIS, T.BY, T.WITHOUT] : [T.OPEN_PARENTHESIS]);
  let paramToken: Token | null = null;
  if (s.is(T.NUMBER) && s.is(T.COMMA, 1)) {
    paramToken = s.take();
    s.take();
  }
  const expr = metricOperand(s);
  s.expect(T.CLOSE_PARENTHESIS, []);
  if (group === null) group = grouping(s);
  const node = at({ kind: 'vector_agg' as const, op, grouping: group, param: null as number | null, expr }, opToken.start);
  const param = paramToken?.text;
  if (op === 'topk' || op === 'bottomk') {
    const k = param !== undefined && /^[+-]?[0-9]+$/.test(param) ? Number(param) : NaN;
    if (param === undefined) problem(node, opToken.start, `parameter required for operation ${op}`);
    else if (!Number.isSafeInteger(k)) problem(node, paramToken!.start, `invalid parameter ${op}(${param},`);
    else if (k <= 0) problem(node, paramToken!.start, `invalid parameter (must be greater than 0) ${op}(${param}`);
    else node.param = k;
  } else if (param !== undefined) {
    problem(node, paramToken!.start, `unsupported parameter for operation ${op}(${param},`);
  }
  return node;
}

function rangeAggregation(s: TokenStream, op: RangeOp): MetricExpr {
  const opToken = s.take();
  s.expect(T.OPEN_PARENTHESIS);
  let paramToken: Token | null = null;
  if (s.is(T.NUMBER)) {
    paramToken = s.take();
    s.expect(T.COMMA);
  }
  const range = logRange(s, paramToken === null ? [T.NUMBER, T.OPEN_BRACE, T.OPEN_PARENTHESIS] : [T.OPEN_BRACE, T.OPEN_PARENTHESIS]);
  s.expect(T.CLOSE_PARENTHESIS, []);
  const group = grouping(s);
  const node = at({ kind: 'range_agg' as const, op, range, param: null as number | null, grouping: group }, opToken.start);
  const fail = (message: string): void => problem(node, opToken.start, message);
  if (paramToken !== null) {
    const value = parseGoFloat(paramToken.text);
    if (op !== 'quantile_over_time') fail(`parameter ${paramToken.text} not supported for operation ${op}`);
    else if (typeof value === 'string') fail(`invalid parameter for operation ${op}: ${value}`);
    else node.param = value;
  } else if (op === 'quantile_over_time') {
    fail(`parameter required for operation ${op}`);
  }
  if (problems.has(node)) return node;
  if (group !== null && !RANGE_GROUPING.has(op)) fail(`grouping not allowed for ${op} aggregation`);
  else if (range.unwrap !== null && !RANGE_WITH_UNWRAP.has(op)) fail(`invalid aggregation ${op} with unwrap`);
  else if (range.unwrap === null && !RANGE_WITHOUT_UNWRAP.has(op)) fail(`invalid aggregation ${op} without unwrap`);
  return node;
}

/**
 * The log range of a range aggregation, in each of the orders Loki's grammar takes:
 * `{…} | p [5m] offset 1h`, `{…} | p | unwrap x [5m]`, `{…}[5m] | p | unwrap x`,
 * `({…} | p)[5m]`, `({…} | p [5m])`, ….
 */
function logRange(s: TokenStream, expected: readonly TokenKind[]): LogRange {
  if (s.is(T.OPEN_PARENTHESIS)) {
    s.take();
    if (s.is(T.OPEN_PARENTHESIS)) {
      s.enter();
      const inner = logRange(s, [T.OPEN_BRACE, T.OPEN_PARENTHESIS]);
      s.leave();
      s.expect(T.CLOSE_PARENTHESIS, []);
      return inner;
    }
    const sel = logSelector(s, [T.OPEN_BRACE, T.OPEN_PARENTHESIS]);
    const unwrapped = unwrap(s);
    if (s.accept(T.CLOSE_PARENTHESIS)) {
      const { rangeNs, offsetNs } = rangeAndOffset(s);
      const bare = sel.pipeline.length === 0 && unwrapped === null;
      return { selector: sel, rangeNs, offsetNs, unwrap: bare ? unwrap(s) : unwrapped };
    }
    const inner = afterSelector(s, sel, unwrapped);
    s.expect(T.CLOSE_PARENTHESIS, []);
    return inner;
  }
  const sel = logSelector(s, expected);
  return afterSelector(s, sel, unwrap(s));
}

/** A selector and the pipeline after it (up to `| unwrap`). */
function logSelector(s: TokenStream, expected: readonly TokenKind[]): LogSelectorExpr {
  const start = s.peek().start;
  const matchers = selector(s, expected);
  return at({ kind: 'log', matchers, pipeline: pipeline(s, true) }, start);
}

/** The rest of a log range after its selector, pipeline and unwrap: `[range] [offset]`, then a pipeline and unwrap if none came before. */
function afterSelector(s: TokenStream, sel: LogSelectorExpr, unwrapped: Unwrap | null): LogRange {
  if (!s.is(T.RANGE)) s.fail();
  const { rangeNs, offsetNs } = rangeAndOffset(s);
  if (sel.pipeline.length > 0 || unwrapped !== null) return { selector: sel, rangeNs, offsetNs, unwrap: unwrapped };
  sel.pipeline = pipeline(s, true);
  return { selector: sel, rangeNs, offsetNs, unwrap: unwrap(s) };
}

function rangeAndOffset(s: TokenStream): { rangeNs: bigint; offsetNs: bigint } {
  const range = s.expect(T.RANGE, []);
  const offsetNs = s.accept(T.OFFSET) ? s.expect(T.DURATION).ns : 0n;
  return { rangeNs: range.ns, offsetNs };
}

const CONVERSIONS = new Map<TokenKind, UnwrapConversion>([
  [T.BYTES_CONV, 'bytes'],
  [T.DURATION_CONV, 'duration'],
  [T.DURATION_SECONDS_CONV, 'duration_seconds'],
]);

/** `| unwrap label`, `| unwrap duration(label)`, with the `| label filter`s after it; null when no `| unwrap` is next. */
function unwrap(s: TokenStream): Unwrap | null {
  if (!s.is(T.PIPE) || !s.is(T.UNWRAP, 1)) return null;
  s.take();
  s.take();
  const token = s.peek();
  const conversion = CONVERSIONS.get(token.kind);
  let label: string;
  if (conversion !== undefined) {
    s.take();
    s.expect(T.OPEN_PARENTHESIS);
    label = s.expect(T.IDENTIFIER).text;
    s.expect(T.CLOSE_PARENTHESIS);
  } else {
    label = s.expect(T.IDENTIFIER, [T.IDENTIFIER, T.BYTES_CONV, T.DURATION_CONV, T.DURATION_SECONDS_CONV]).text;
  }
  const postFilters: LabelFilterExpr[] = [];
  while (s.accept(T.PIPE)) {
    if (!s.is(T.IDENTIFIER) && !s.is(T.OPEN_PARENTHESIS)) s.fail([T.IDENTIFIER, T.OPEN_PARENTHESIS]);
    postFilters.push(labelFilter(s));
  }
  return { label, conversion: conversion ?? 'none', postFilters };
}

/** `label_replace(expr, "dst", "replacement", "src", "regex")`; the regex is checked as Loki anchors it. */
function labelReplace(s: TokenStream): MetricExpr {
  const start = s.take().start;
  s.expect(T.OPEN_PARENTHESIS);
  const expr = metricOperand(s);
  const strings: Token[] = [];
  for (let i = 0; i < 4; i++) {
    s.expect(T.COMMA);
    strings.push(s.expect(T.STRING));
  }
  s.expect(T.CLOSE_PARENTHESIS);
  const [dst, replacement, src, regex] = strings.map((t) => t.text) as [string, string, string, string];
  const node = at({ kind: 'label_replace' as const, expr, dst, replacement, src, regex }, start);
  const bad = regexProblem(regex);
  if (bad !== null) problem(node, strings[3]!.start, `invalid regex in label_replace: ${bad}`);
  return node;
}
