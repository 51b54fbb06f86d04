/**
 * The syntax tree of a LogQL query (Loki 3.x): log queries (a stream selector and a pipeline) and
 * metric queries (range aggregations over log ranges, vector aggregations, binary operators,
 * literals, `vector()`, `label_replace()`). The parser (`parser.ts`) builds it, the compiler and the
 * engines read it; nothing in it is evaluated. Durations are nanoseconds as bigint; strings are
 * decoded (escapes applied); regexes are kept as written (RE2 syntax, translated when compiled).
 */
import type { LabelMatcher } from '../matchers';

export type { LabelMatcher, MatchOp } from '../matchers';

/** A line filter operator: contains, lacks, regex somewhere, regex nowhere, pattern matches, pattern does not match. */
export type LineFilterOp = '|=' | '!=' | '|~' | '!~' | '|>' | '!>';

/**
 * One line filter. `values` are its alternatives (`|= "a" or "b"`: a line passes `|=` when it
 * contains any of them, `!=` when it contains none). `ip` marks `|= ip("10.0.0.0/8")`, whose one
 * value is an address, range or CIDR.
 */
export interface LineFilterStage {
  kind: 'line_filter';
  op: LineFilterOp;
  values: string[];
  ip: boolean;
}

/** `label="path"` of `| json` or `| logfmt`; `path` as written (`a.b[0]["c d"]` for json, a key for logfmt); null for a bare `label`. */
export interface ExtractionParam {
  label: string;
  path: string | null;
}

/** `| json` with no params (every field, nested keys joined with `_`), or only the given labels. */
export interface JsonStage {
  kind: 'json';
  params: ExtractionParam[];
}

/** `| logfmt [--strict] [--keep-empty] [params]`. */
export interface LogfmtStage {
  kind: 'logfmt';
  strict: boolean;
  keepEmpty: boolean;
  params: ExtractionParam[];
}

/** `| regexp "<RE2 with named groups>"`. */
export interface RegexpStage {
  kind: 'regexp';
  pattern: string;
}

/** `| pattern "<_> - <ip> ..."`. */
export interface PatternStage {
  kind: 'pattern';
  pattern: string;
}

/** `| unpack`: a JSON line's fields become labels and its `_entry` becomes the line. */
export interface UnpackStage {
  kind: 'unpack';
}

/** `| line_format "<Go template>"`. */
export interface LineFormatStage {
  kind: 'line_format';
  template: string;
}

/** One item of `label_format`: `dst=src` renames label `src` (an identifier); `dst="tmpl"` sets it from a template. */
export interface LabelFormatItem {
  dst: string;
  rename: string | null;
  template: string | null;
}

/** `| label_format a=b, c="{{.x}}"`. */
export interface LabelFormatStage {
  kind: 'label_format';
  items: LabelFormatItem[];
}

/** Numeric and string comparison operators of label filters (`=` and `==` are the same for numbers). */
export type CompareOp = '==' | '!=' | '>' | '>=' | '<' | '<=';

/** A label filter expression: `a="x" and (b > 5 or c =~ "y")`, `,` meaning `and`. */
export type LabelFilterExpr =
  | { kind: 'and' | 'or'; left: LabelFilterExpr; right: LabelFilterExpr }
  | { kind: 'matcher'; matcher: LabelMatcher }
  /** A plain number: the label's value is parsed as a float. */
  | { kind: 'number'; name: string; op: CompareOp; value: number }
  /** A Go duration (`250ms`, `1h2m`): the label's value is parsed as one; `value` in seconds. */
  | { kind: 'duration'; name: string; op: CompareOp; value: number }
  /** A size with units (`20MB`, `1KiB`, as go-humanize reads them): `value` in bytes. */
  | { kind: 'bytes'; name: string; op: CompareOp; value: number }
  /** `label = ip("...")` / `label != ip("...")`. */
  | { kind: 'ip'; name: string; negate: boolean; pattern: string };

/** `| <label filter expression>`. */
export interface LabelFilterStage {
  kind: 'label_filter';
  expr: LabelFilterExpr;
}

/** One item of `drop`/`keep`: a label name, or a matcher that limits it to matching values. */
export interface LabelSelectItem {
  name: string;
  matcher: LabelMatcher | null;
}

/** `| drop a, b="x"` and `| keep a, b`. */
export interface DropKeepStage {
  kind: 'drop' | 'keep';
  items: LabelSelectItem[];
}

/** `| decolorize`: ANSI colour sequences are removed from the line. */
export interface DecolorizeStage {
  kind: 'decolorize';
}

/** One stage of a log pipeline, applied left to right. */
export type PipelineStage =
  | LineFilterStage
  | JsonStage
  | LogfmtStage
  | RegexpStage
  | PatternStage
  | UnpackStage
  | LineFormatStage
  | LabelFormatStage
  | LabelFilterStage
  | DropKeepStage
  | DecolorizeStage;

/** A log query: `{selector} <pipeline>`. */
export interface LogSelectorExpr {
  kind: 'log';
  matchers: LabelMatcher[];
  pipeline: PipelineStage[];
}

/** How `| unwrap` reads a label's value: as a float, a Go duration (seconds), or a size (bytes). */
export type UnwrapConversion = 'none' | 'duration' | 'duration_seconds' | 'bytes';

/** `| unwrap [conv(]label[)]`, with the label filters that follow it (`| __error__=""`). */
export interface Unwrap {
  label: string;
  conversion: UnwrapConversion;
  postFilters: LabelFilterExpr[];
}

/** The range of a range aggregation: `{…} | … [5m] offset 1h`, with an optional unwrap. */
export interface LogRange {
  selector: LogSelectorExpr;
  rangeNs: bigint;
  offsetNs: bigint;
  unwrap: Unwrap | null;
}

/** Range aggregation functions. */
export type RangeOp =
  | 'count_over_time'
  | 'rate'
  | 'bytes_over_time'
  | 'bytes_rate'
  | 'absent_over_time'
  | 'sum_over_time'
  | 'avg_over_time'
  | 'min_over_time'
  | 'max_over_time'
  | 'stddev_over_time'
  | 'stdvar_over_time'
  | 'quantile_over_time'
  | 'first_over_time'
  | 'last_over_time'
  | 'rate_counter';

/** `by (a, b)` or `without (a)`. */
export interface Grouping {
  without: boolean;
  labels: string[];
}

/** `op([param,] range) [by|without (…)]`; `param` is the quantile of quantile_over_time. */
export interface RangeAggregationExpr {
  kind: 'range_agg';
  op: RangeOp;
  range: LogRange;
  param: number | null;
  grouping: Grouping | null;
}

/** Vector aggregation operators. */
export type VectorOp = 'sum' | 'avg' | 'min' | 'max' | 'count' | 'stddev' | 'stdvar' | 'topk' | 'bottomk' | 'sort' | 'sort_desc';

/** `op [by|without (…)] ([param,] expr)`; `param` is k of topk/bottomk. */
export interface VectorAggregationExpr {
  kind: 'vector_agg';
  op: VectorOp;
  grouping: Grouping | null;
  param: number | null;
  expr: MetricExpr;
}

/** Binary operators, by precedence: `or` < `and unless` < comparisons < `+ -` < `* / %` < `^`. */
export type BinaryOp = 'or' | 'and' | 'unless' | '==' | '!=' | '>' | '>=' | '<' | '<=' | '+' | '-' | '*' | '/' | '%' | '^';

/** `on (…)`/`ignoring (…)` with `group_left (…)`/`group_right (…)`. */
export interface VectorMatching {
  on: boolean;
  labels: string[];
  group: { side: 'left' | 'right'; include: string[] } | null;
}

/** `left op [bool] [on|ignoring (…)] [group_left|group_right (…)] right`. */
export interface BinaryExpr {
  kind: 'binary';
  op: BinaryOp;
  bool: boolean;
  matching: VectorMatching | null;
  left: MetricExpr;
  right: MetricExpr;
}

/** A number literal (a scalar). */
export interface LiteralExpr {
  kind: 'literal';
  value: number;
}

/** `vector(1)`: one sample without labels at every step. */
export interface VectorExpr {
  kind: 'vector';
  value: number;
}

/** `label_replace(expr, "dst", "replacement", "src", "regex")`. */
export interface LabelReplaceExpr {
  kind: 'label_replace';
  expr: MetricExpr;
  dst: string;
  replacement: string;
  src: string;
  regex: string;
}

/** A query whose result is samples: a matrix (range query) or a vector/scalar (instant query). */
export type MetricExpr = RangeAggregationExpr | VectorAggregationExpr | BinaryExpr | LiteralExpr | VectorExpr | LabelReplaceExpr;

/** Any LogQL query. */
export type Expr = LogSelectorExpr | MetricExpr;
