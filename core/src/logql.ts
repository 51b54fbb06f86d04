/**
 * LogQL log queries as Silt's query routes and storage nodes answer them today: a stream selector
 * (`{app="api",level=~"warn|error"}`) followed by line filters (`|= "timeout" != "health" |~
 * "5\\d\\d"`). Queries are read by the full parser (logql/parser.ts); what this module cannot run yet
 * (metric queries, other pipeline stages, `or` alternatives, `ip()` and pattern line filters) is
 * refused with a 400 that names it and says where.
 *
 * Line filter and selector regexes are RE2's, run through logql/re2.ts (selector regexes by
 * compileMatcher in matchers.ts).
 */
import { BadRequestError } from './errors';
import type { LabelMatcher } from './matchers';
import type { Expr, LabelFilterExpr, PipelineStage } from './logql/ast';
import { goQuote } from './logql/format';
import { nodePosition, parseExpr } from './logql/parser';
import { compileRe2, re2Literal } from './logql/re2';

export { parseSelector } from './logql/parser';

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

/** Parses a LogQL log query: a stream selector followed by zero or more line filters (other stages are refused). */
export function parseLogQuery(text: string): LogQuery {
  const expr = parseExpr(text);
  if (expr.kind !== 'log') refuse(text, metricQueryMessage(expr), nodePosition(expr) ?? 0);
  const filters: LineFilter[] = [];
  for (const stage of expr.pipeline) {
    const at = nodePosition(stage) ?? 0;
    if (stage.kind !== 'line_filter') refuse(text, stageMessage(stage), at);
    if (stage.op === '|>' || stage.op === '!>') refuse(text, `pattern line filters (${stage.op}) are not supported: use |= or |~`, at);
    if (stage.ip) refuse(text, 'ip() line filters are not supported: use a string or a regex', at);
    if (stage.values.length > 1) refuse(text, '"or" between line filter values is not supported: use a regex alternation such as |~ "a|b"', at);
    filters.push({ op: stage.op, value: stage.values[0]! });
  }
  return { matchers: expr.matchers, filters };
}

/** Throws the 400 for a construct this module does not run, naming the 1-based line and column and the 0-based position. */
function refuse(text: string, message: string, at: number): never {
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - (before.lastIndexOf('\n') + 1) + 1;
  throw new BadRequestError('SILT_BAD_QUERY', `${message} at line ${line}, column ${column} (position ${at})`, { position: at });
}

const ONLY_FILTERS = 'only line filters (|=, !=, |~, !~) may follow the stream selector';

function stageMessage(stage: Exclude<PipelineStage, { kind: 'line_filter' }>): string {
  if (stage.kind !== 'label_filter') return `the "| ${stage.kind}" pipeline stage is not supported: ${ONLY_FILTERS}`;
  return `label filter expressions ("| ${firstLabel(stage.expr)} …") are not supported: ${ONLY_FILTERS}`;
}

function firstLabel(e: LabelFilterExpr): string {
  if ('left' in e) return firstLabel(e.left);
  return e.kind === 'matcher' ? e.matcher.name : e.name;
}

function metricQueryMessage(expr: Exclude<Expr, { kind: 'log' }>): string {
  const what = expr.kind === 'range_agg' || expr.kind === 'vector_agg' ? ` such as ${expr.op}(…)` : '';
  return `metric queries${what} are not supported: a query is a stream selector {…} and optional line filters`;
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
        const literal = re2Literal(f.value);
        if (literal !== null) {
          // A regex without metacharacters is a substring test.
          if (f.op === '!~') hasNot.push(literal);
          else if (literal !== '') has.push(literal);
        } else {
          (f.op === '|~' ? match : matchNot).push(compileRe2(f.value, `line filter ${f.op}`));
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
  let out = '{' + q.matchers.map((m) => m.name + m.op + goQuote(m.value)).join(', ') + '}';
  for (const f of q.filters) out += ` ${f.op} ${goQuote(f.value)}`;
  return out;
}
