import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BadRequestError } from '../../core/src/errors';
import type { Expr, LabelFilterExpr, LogSelectorExpr, MetricExpr, PipelineStage } from '../../core/src/logql/ast';
import { formatExpr } from '../../core/src/logql/format';
import { nodePosition, parseExpr, parseLogSelector, parsePattern, parseSelector } from '../../core/src/logql/parser';
import { compileRe2, re2Literal, translateRe2 } from '../../core/src/logql/re2';

const ORACLE = join(__dirname, '../../../shared/logql-oracle');

interface OracleQuery {
  id: string;
  category: string;
  query?: string;
  match?: string[];
}

const queries: OracleQuery[] = JSON.parse(readFileSync(join(ORACLE, 'queries.json'), 'utf8')).queries;
const recorded: Record<string, { status: number; error?: string }> = JSON.parse(readFileSync(join(ORACLE, 'expected.json'), 'utf8')).results;

/** Oracle errors that come from the request's parameters or from evaluation, not from the query text. */
const NOT_TEXT_ERRORS = new Set(['err-07', 'err-08', 'err-09', 'err-11', 'err-12']);

/** The BadRequestError that `fn` throws. */
function errorOf(fn: () => unknown): BadRequestError {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(BadRequestError);
  return error as BadRequestError;
}

/** The message of the SILT_BAD_QUERY that parsing `text` throws at `position`. */
function rejects(text: string, position: number): string {
  const error = errorOf(() => parseExpr(text));
  expect(error).toMatchObject({ code: 'SILT_BAD_QUERY', status: 400, details: { position } });
  return error.message;
}

function log(text: string): LogSelectorExpr {
  const e = parseExpr(text);
  expect(e.kind).toBe('log');
  return e as LogSelectorExpr;
}

function stages(text: string): PipelineStage[] {
  return log(text).pipeline;
}

/** The one label filter expression of `{a="b"} | <filter>`. */
function labelFilter(filter: string): LabelFilterExpr {
  const [stage] = stages(`{a="b"} | ${filter}`);
  expect(stage!.kind).toBe('label_filter');
  return (stage as { expr: LabelFilterExpr }).expr;
}

/** A compact picture of a label filter tree: `(a and (b or c))`. */
function shape(e: LabelFilterExpr): string {
  if ('left' in e) return `(${shape(e.left)} ${e.kind} ${shape(e.right)})`;
  return e.kind === 'matcher' ? e.matcher.name : e.name;
}

/** A compact picture of an operator tree: `(v1 + (v2 * v3))`, vectors by value. */
function ops(e: Expr): string {
  if (e.kind === 'binary') return `(${ops(e.left)} ${e.op} ${ops(e.right)})`;
  if (e.kind === 'vector') return `v${e.value}`;
  if (e.kind === 'literal') return String(e.value);
  return e.kind;
}

const sel = (name: string, value: string): LogSelectorExpr => ({ kind: 'log', matchers: [{ name, op: '=', value }], pipeline: [] });
const M = 60_000_000_000n;

describe('logql > parser > oracle queries', () => {
  const withText = queries.filter((q) => q.query !== undefined);

  it.each(withText.filter((q) => q.category !== 'errors' || NOT_TEXT_ERRORS.has(q.id)).map((q) => [q.id, q.query!]))('parses %s: %s', (_id, text) => {
    expect(() => parseExpr(text)).not.toThrow();
  });

  it.each(withText.filter((q) => q.category === 'errors' && !NOT_TEXT_ERRORS.has(q.id)).map((q) => [q.id, q.query!]))(
    "refuses %s with Loki's message: %s",
    (id, text) => {
      const error = errorOf(() => parseExpr(text));
      expect(error.code).toBe('SILT_BAD_QUERY');
      expect(error.message).toBe(recorded[id]!.error);
    },
  );

  it.each(withText.filter((q) => q.category !== 'errors' || NOT_TEXT_ERRORS.has(q.id)).map((q) => [q.id, q.query!]))('round-trips %s through formatExpr', (_id, text) => {
    const e = parseExpr(text);
    const formatted = formatExpr(e);
    expect(parseExpr(formatted)).toEqual(e);
    expect(formatExpr(parseExpr(formatted))).toBe(formatted);
  });

  it('reads every series match[] as a selector', () => {
    for (const q of queries) for (const m of q.match ?? []) expect(parseSelector(m).length).toBeGreaterThan(0);
  });
});

describe('logql > parser > log queries', () => {
  it('parses a selector with every matcher operator', () => {
    expect(parseExpr('{app="api", env!="dev", region=~"eu.*", host!~`h\\d`}')).toEqual({
      kind: 'log',
      matchers: [
        { name: 'app', op: '=', value: 'api' },
        { name: 'env', op: '!=', value: 'dev' },
        { name: 'region', op: '=~', value: 'eu.*' },
        { name: 'host', op: '!~', value: 'h\\d' },
      ],
      pipeline: [],
    });
  });

  it('keeps every RE2 construct in a selector regex as written', () => {
    expect(log('{a=~"\\\\pL+", b!~`(?m)^x$`, c=~`[[:alpha:]]\\Q.*\\E`, d=~`(?U)(?P<n>a+)\\x{41}\\101`}').matchers).toEqual([
      { name: 'a', op: '=~', value: '\\pL+' },
      { name: 'b', op: '!~', value: '(?m)^x$' },
      { name: 'c', op: '=~', value: '[[:alpha:]]\\Q.*\\E' },
      { name: 'd', op: '=~', value: '(?U)(?P<n>a+)\\x{41}\\101' },
    ]);
  });

  it('parses line filters with or alternatives, ip() and patterns, anywhere in the pipeline', () => {
    expect(stages('{a="b"} |= "x" or "y" != "z" |~ `\\d+` !~ "q" |> "<_> err" !> "<_> ok" | json |= ip("10.0.0.0/8") or ip("::1") != ip("1.2.3.4")')).toEqual([
      { kind: 'line_filter', op: '|=', values: ['x', 'y'], ip: false },
      { kind: 'line_filter', op: '!=', values: ['z'], ip: false },
      { kind: 'line_filter', op: '|~', values: ['\\d+'], ip: false },
      { kind: 'line_filter', op: '!~', values: ['q'], ip: false },
      { kind: 'line_filter', op: '|>', values: ['<_> err'], ip: false },
      { kind: 'line_filter', op: '!>', values: ['<_> ok'], ip: false },
      { kind: 'json', params: [] },
      { kind: 'line_filter', op: '|=', values: ['10.0.0.0/8', '::1'], ip: true },
      { kind: 'line_filter', op: '!=', values: ['1.2.3.4'], ip: true },
    ]);
  });

  it('splits a negated or-filter mixing strings and ip() into runs, as Loki reads it', () => {
    expect(stages('{a="b"} != "x" or "y" or ip("1.2.3.4")')).toEqual([
      { kind: 'line_filter', op: '!=', values: ['x', 'y'], ip: false },
      { kind: 'line_filter', op: '!=', values: ['1.2.3.4'], ip: true },
    ]);
  });

  it('parses json and logfmt with flags and extraction params', () => {
    expect(stages('{a="b"} | json | json first="servers[0]", ua="request.headers[\\"User-Agent\\"]", level | logfmt | logfmt --strict | logfmt --keep-empty --strict x, y="z"')).toEqual([
      { kind: 'json', params: [] },
      {
        kind: 'json',
        params: [
          { label: 'first', path: 'servers[0]' },
          { label: 'ua', path: 'request.headers["User-Agent"]' },
          { label: 'level', path: null },
        ],
      },
      { kind: 'logfmt', strict: false, keepEmpty: false, params: [] },
      { kind: 'logfmt', strict: true, keepEmpty: false, params: [] },
      {
        kind: 'logfmt',
        strict: true,
        keepEmpty: true,
        params: [
          { label: 'x', path: null },
          { label: 'y', path: 'z' },
        ],
      },
    ]);
  });

  it('parses regexp, pattern, unpack, line_format, label_format, drop, keep and decolorize', () => {
    expect(
      stages('{a="b"} | regexp `(?P<ip>\\S+) (?<code>\\d+)` | pattern "<_> <method> <path>" | unpack | line_format "{{.a}}" | label_format a=b, c="{{.d}}" | drop x, y="1", z=~"2.*" | keep a, b!="" | decolorize'),
    ).toEqual([
      { kind: 'regexp', pattern: '(?P<ip>\\S+) (?<code>\\d+)' },
      { kind: 'pattern', pattern: '<_> <method> <path>' },
      { kind: 'unpack' },
      { kind: 'line_format', template: '{{.a}}' },
      {
        kind: 'label_format',
        items: [
          { dst: 'a', rename: 'b', template: null },
          { dst: 'c', rename: null, template: '{{.d}}' },
        ],
      },
      {
        kind: 'drop',
        items: [
          { name: 'x', matcher: null },
          { name: 'y', matcher: { name: 'y', op: '=', value: '1' } },
          { name: 'z', matcher: { name: 'z', op: '=~', value: '2.*' } },
        ],
      },
      {
        kind: 'keep',
        items: [
          { name: 'a', matcher: null },
          { name: 'b', matcher: { name: 'b', op: '!=', value: '' } },
        ],
      },
      { kind: 'decolorize' },
    ]);
  });

  it('parses label filters: strings, numbers, durations, sizes and ip()', () => {
    expect(stages('{a="b"} | s="x" | s!="x" | s=~"x.*" | s!~"y" | n > 5 | n >= -1.5 | n < +2 | n <= 1e3 | n == 0.5 | n = 7 | n != 8 | d > 250ms | d <= 1h2m3s | d == -5m | b >= 20MB | b < 1.5KiB | b = 5k | i = ip("10.0.0.0/8") | i != ip("::1")')).toEqual(
      [
        { kind: 'matcher', matcher: { name: 's', op: '=', value: 'x' } },
        { kind: 'matcher', matcher: { name: 's', op: '!=', value: 'x' } },
        { kind: 'matcher', matcher: { name: 's', op: '=~', value: 'x.*' } },
        { kind: 'matcher', matcher: { name: 's', op: '!~', value: 'y' } },
        { kind: 'number', name: 'n', op: '>', value: 5 },
        { kind: 'number', name: 'n', op: '>=', value: -1.5 },
        { kind: 'number', name: 'n', op: '<', value: 2 },
        { kind: 'number', name: 'n', op: '<=', value: 1000 },
        { kind: 'number', name: 'n', op: '==', value: 0.5 },
        { kind: 'number', name: 'n', op: '==', value: 7 },
        { kind: 'number', name: 'n', op: '!=', value: 8 },
        { kind: 'duration', name: 'd', op: '>', value: 0.25 },
        { kind: 'duration', name: 'd', op: '<=', value: 3723 },
        { kind: 'duration', name: 'd', op: '==', value: -300 },
        { kind: 'bytes', name: 'b', op: '>=', value: 20_000_000 },
        { kind: 'bytes', name: 'b', op: '<', value: 1536 },
        { kind: 'bytes', name: 'b', op: '==', value: 5000 },
        { kind: 'ip', name: 'i', negate: false, pattern: '10.0.0.0/8' },
        { kind: 'ip', name: 'i', negate: true, pattern: '::1' },
      ].map((expr) => ({ kind: 'label_filter', expr })),
    );
  });

  it.each([
    ['a="1" and b="2" or c="3"', '((a and b) or c)'],
    ['a="1" or b="2" and c="3"', '(a or (b and c))'],
    ['a="1" or b="2" or c="3"', '((a or b) or c)'],
    ['a="1" and b="2" and c="3"', '((a and b) and c)'],
    ['a="1", b="2"', '(a and b)'],
    ['a="1" b="2"', '(a and b)'],
    ['a="1", b="2" or c="3"', '(a and (b or c))'],
    ['a="1" or b="2", c="3"', '(a or (b and c))'],
    ['a="1" or b="2", c="3" or d="4"', '(a or (b and (c or d)))'],
    ['a="1" and b="2", c="3"', '(a and (b and c))'],
    ['a="1" b="2" or c="3"', '(a and (b or c))'],
    ['(a="1" or b="2"), c="3"', '((a or b) and c)'],
    ['(a="1" or b="2") and (c="3" or d>4)', '((a or b) and (c or d))'],
    ['a > 1s or b < 2 and c = ip("1.2.3.4")', '(a or (b and c))'],
  ])("reads label filters with Loki's precedence: %s", (text, picture) => {
    expect(shape(labelFilter(text))).toBe(picture);
  });

  it('keeps whitespace and comments (# // /* */) anywhere between tokens', () => {
    expect(parseExpr('# lead\n{ app = "api" /* c */ , env=~"p.*" } // tail\n |= "x" # t\n | json')).toEqual({
      kind: 'log',
      matchers: [
        { name: 'app', op: '=', value: 'api' },
        { name: 'env', op: '=~', value: 'p.*' },
      ],
      pipeline: [
        { kind: 'line_filter', op: '|=', values: ['x'], ip: false },
        { kind: 'json', params: [] },
      ],
    });
  });

  it('reads keywords in any case, and function names as label names when no call follows', () => {
    expect(parseExpr('SUM BY (app) (Count_Over_Time({rate="x", count_over_time="y", bytes="z"} | Json [1m]))')).toEqual({
      kind: 'vector_agg',
      op: 'sum',
      grouping: { without: false, labels: ['app'] },
      param: null,
      expr: {
        kind: 'range_agg',
        op: 'count_over_time',
        range: {
          selector: {
            kind: 'log',
            matchers: [
              { name: 'rate', op: '=', value: 'x' },
              { name: 'count_over_time', op: '=', value: 'y' },
              { name: 'bytes', op: '=', value: 'z' },
            ],
            pipeline: [{ kind: 'json', params: [] }],
          },
          rangeNs: M,
          offsetNs: 0n,
          unwrap: null,
        },
        param: null,
        grouping: null,
      },
    });
  });

  it('takes Unicode letters in label names, as Go identifiers', () => {
    expect(log('{café="x"} | größe > 1').pipeline).toEqual([{ kind: 'label_filter', expr: { kind: 'number', name: 'größe', op: '>', value: 1 } }]);
  });

  it('parses log queries alone with parseLogSelector, and refuses metric queries there', () => {
    expect(parseLogSelector('{a="b"} |= "x"').pipeline).toHaveLength(1);
    const error = errorOf(() => parseLogSelector('rate({a="b"}[5m])'));
    expect(error.message).toBe('parse error : only log selector is supported');
    expect(error.code).toBe('SILT_BAD_QUERY');
  });

  it('parses a bare selector with parseSelector, and refuses anything else there', () => {
    expect(parseSelector('{a="b", c=~"d|e"}')).toEqual([
      { name: 'a', op: '=', value: 'b' },
      { name: 'c', op: '=~', value: 'd|e' },
    ]);
    expect(errorOf(() => parseSelector('{a="b"} | json')).message).toBe('parse error : only label matchers are supported');
    expect(errorOf(() => parseSelector('{a=""}')).message).toMatch(/^parse error : queries require at least one regexp or equality matcher/);
  });
});

describe('logql > parser > metric queries', () => {
  it('parses a range aggregation with a pipeline, unwrap, conversion, post filters, offset and grouping', () => {
    expect(parseExpr('quantile_over_time(0.99, {app="api"} | json | unwrap duration_seconds(latency) | __error__="" | latency > 0 [5m] offset 1h) by (env)')).toEqual({
      kind: 'range_agg',
      op: 'quantile_over_time',
      param: 0.99,
      grouping: { without: false, labels: ['env'] },
      range: {
        selector: { kind: 'log', matchers: [{ name: 'app', op: '=', value: 'api' }], pipeline: [{ kind: 'json', params: [] }] },
        rangeNs: 5n * M,
        offsetNs: 60n * M,
        unwrap: {
          label: 'latency',
          conversion: 'duration_seconds',
          postFilters: [
            { kind: 'matcher', matcher: { name: '__error__', op: '=', value: '' } },
            { kind: 'number', name: 'latency', op: '>', value: 0 },
          ],
        },
      },
    });
  });

  const jsonSel = { kind: 'log', matchers: [{ name: 'a', op: '=', value: 'b' }], pipeline: [{ kind: 'json', params: [] }] };
  const bareSel = sel('a', 'b');
  const unwrapX = { label: 'x', conversion: 'none', postFilters: [] };

  it.each([
    ['rate({a="b"} | json [5m])', jsonSel, 0n, null],
    ['rate({a="b"}[5m] | json)', jsonSel, 0n, null],
    ['rate({a="b"}[5m] offset 2m | json)', jsonSel, 2n * M, null],
    ['rate(({a="b"} | json)[5m])', jsonSel, 0n, null],
    ['rate(({a="b"} | json [5m]))', jsonSel, 0n, null],
    ['rate((({a="b"} | json)[5m]))', jsonSel, 0n, null],
    ['rate(({a="b"})[5m] offset 2m)', bareSel, 2n * M, null],
    ['rate({a="b"} | json | unwrap x [5m])', jsonSel, 0n, unwrapX],
    ['rate({a="b"} | unwrap x [5m] offset 2m)', bareSel, 2n * M, unwrapX],
    ['rate({a="b"}[5m] | unwrap x)', bareSel, 0n, unwrapX],
    ['rate({a="b"}[5m] offset 2m | json | unwrap x)', jsonSel, 2n * M, unwrapX],
    ['rate(({a="b"})[5m] | unwrap x)', bareSel, 0n, unwrapX],
    ['rate(({a="b"} | json | unwrap x)[5m])', jsonSel, 0n, unwrapX],
  ])('reads the log range of %s', (text, selector, offsetNs, unwrap) => {
    const e = parseExpr(text);
    expect(e).toEqual({ kind: 'range_agg', op: 'rate', param: null, grouping: null, range: { selector, rangeNs: 5n * M, offsetNs, unwrap } });
  });

  it.each([
    ['[90s]', 90_000_000_000n],
    ['[1h30m]', 90n * M],
    ['[1d]', 1440n * M],
    ['[2w]', 2n * 7n * 1440n * M],
    ['[1y]', 365n * 1440n * M],
    ['[500ms]', 500_000_000n],
    ['[0]', 0n],
  ])('reads the range %s as a Prometheus duration', (range, ns) => {
    const e = parseExpr(`count_over_time({a="b"}${range})`) as Extract<MetricExpr, { kind: 'range_agg' }>;
    expect(e.range.rangeNs).toBe(ns);
  });

  it.each([
    ['offset 1h', 60n * M],
    ['offset -30s', -30_000_000_000n],
    ['offset 1.5m', 90_000_000_000n],
    ['offset 250us', 250_000n],
  ])('reads the %s as a Go duration', (offset, ns) => {
    const e = parseExpr(`count_over_time({a="b"}[1m] ${offset})`) as Extract<MetricExpr, { kind: 'range_agg' }>;
    expect(e.range.offsetNs).toBe(ns);
  });

  it('parses vector aggregations with grouping before or after, and topk with its k', () => {
    const inner = { kind: 'range_agg', op: 'rate', param: null, grouping: null, range: { selector: bareSel, rangeNs: 5n * M, offsetNs: 0n, unwrap: null } };
    const by = { without: false, labels: ['x', 'y'] };
    const vec = (op: string, grouping: unknown, param: number | null): unknown => ({ kind: 'vector_agg', op, grouping, param, expr: inner });
    expect(parseExpr('sum by (x, y) (rate({a="b"}[5m]))')).toEqual(vec('sum', by, null));
    expect(parseExpr('sum(rate({a="b"}[5m])) by (x, y)')).toEqual(vec('sum', by, null));
    expect(parseExpr('avg without (x) (rate({a="b"}[5m]))')).toEqual(vec('avg', { without: true, labels: ['x'] }, null));
    expect(parseExpr('count by () (rate({a="b"}[5m]))')).toEqual(vec('count', { without: false, labels: [] }, null));
    expect(parseExpr('max(rate({a="b"}[5m]))')).toEqual(vec('max', null, null));
    expect(parseExpr('topk(3, rate({a="b"}[5m]))')).toEqual(vec('topk', null, 3));
    expect(parseExpr('bottomk by (x, y) (2, rate({a="b"}[5m]))')).toEqual(vec('bottomk', by, 2));
    expect(parseExpr('topk(10, rate({a="b"}[5m])) by (x, y)')).toEqual(vec('topk', by, 10));
    expect(parseExpr('sort_desc(rate({a="b"}[5m]))')).toEqual(vec('sort_desc', null, null));
    for (const op of ['min', 'stddev', 'stdvar', 'sort']) expect(parseExpr(`${op}(rate({a="b"}[5m]))`)).toEqual(vec(op, null, null));
  });

  it('parses vector(), label_replace() and literals', () => {
    expect(parseExpr('vector(2.5)')).toEqual({ kind: 'vector', value: 2.5 });
    expect(parseExpr('label_replace(vector(1), "dst", "$1-x", "src", "(.*)")')).toEqual({
      kind: 'label_replace',
      expr: { kind: 'vector', value: 1 },
      dst: 'dst',
      replacement: '$1-x',
      src: 'src',
      regex: '(.*)',
    });
    expect(parseExpr('-2.5')).toEqual({ kind: 'literal', value: -2.5 });
    expect(parseExpr('+ 4')).toEqual({ kind: 'literal', value: 4 });
    expect(parseExpr('1e3')).toEqual({ kind: 'literal', value: 1000 });
    expect(parseExpr('.5')).toEqual({ kind: 'literal', value: 0.5 });
    expect(parseExpr('1_000')).toEqual({ kind: 'literal', value: 1000 });
    expect(parseExpr('017')).toEqual({ kind: 'literal', value: 17 });
    expect(parseExpr('0x1p4')).toEqual({ kind: 'literal', value: 16 });
  });

  it('parses bool, on/ignoring and group_left/group_right with and without label lists', () => {
    const picture = (text: string): unknown => {
      const e = parseExpr(text) as Extract<MetricExpr, { kind: 'binary' }>;
      return { op: e.op, bool: e.bool, matching: e.matching };
    };
    expect(picture('vector(1) > bool vector(2)')).toEqual({ op: '>', bool: true, matching: null });
    expect(picture('vector(1) / on (a, b) vector(2)')).toEqual({ op: '/', bool: false, matching: { on: true, labels: ['a', 'b'], group: null } });
    expect(picture('vector(1) / ignoring (a) group_left vector(2)')).toEqual({
      op: '/',
      bool: false,
      matching: { on: false, labels: ['a'], group: { side: 'left', include: [] } },
    });
    expect(picture('vector(1) * on () group_right (c, d) vector(2)')).toEqual({
      op: '*',
      bool: false,
      matching: { on: true, labels: [], group: { side: 'right', include: ['c', 'd'] } },
    });
    expect(picture('vector(1) == bool ignoring () group_left () vector(2)')).toEqual({
      op: '==',
      bool: true,
      matching: { on: false, labels: [], group: { side: 'left', include: [] } },
    });
  });

  it.each([
    ['vector(1) + vector(2) * vector(3)', '(v1 + (v2 * v3))'],
    ['vector(1) * vector(2) + vector(3)', '((v1 * v2) + v3)'],
    ['vector(1) - vector(2) - vector(3)', '((v1 - v2) - v3)'],
    ['vector(1) / vector(2) % vector(3)', '((v1 / v2) % v3)'],
    ['vector(1) ^ vector(2) ^ vector(3)', '(v1 ^ (v2 ^ v3))'],
    ['vector(1) * vector(2) ^ vector(3)', '(v1 * (v2 ^ v3))'],
    ['vector(1) + vector(2) > vector(3)', '((v1 + v2) > v3)'],
    ['vector(1) > vector(2) == vector(3)', '((v1 > v2) == v3)'],
    ['vector(1) and vector(2) > vector(3)', '(v1 and (v2 > v3))'],
    ['vector(1) or vector(2) and vector(3)', '(v1 or (v2 and v3))'],
    ['vector(1) or vector(2) unless vector(3)', '(v1 or (v2 unless v3))'],
    ['vector(1) and vector(2) unless vector(3)', '((v1 and v2) unless v3)'],
    ['(vector(1) + vector(2)) * vector(3)', '((v1 + v2) * v3)'],
    ['vector(1) - -2', '(v1 - -2)'],
    ['vector(1) >= bool vector(2) + 1', '(v1 >= (v2 + 1))'],
  ])("reads operators with Loki's precedence and associativity: %s", (text, picture) => {
    expect(ops(parseExpr(text))).toBe(picture);
  });

  it.each([
    ['1 + 2 * 3', 7],
    ['2 ^ 3 ^ 2', 512],
    ['-2 ^ 2', 4],
    ['(1 + 1) * 3', 6],
    ['5 > bool 3', 1],
    ['3 > 5', 0],
    ['2 == 2', 1],
    ['7 % 4', 3],
    ['1 / 0', NaN],
    ['1 % 0', NaN],
    ['0 / 0', NaN],
  ])('folds operations between literals into one literal, as Loki does: %s', (text, value) => {
    expect(parseExpr(text)).toEqual({ kind: 'literal', value });
  });

  it('keeps an operation between a literal and a vector', () => {
    expect(parseExpr('2 * vector(3)')).toEqual({ kind: 'binary', op: '*', bool: false, matching: null, left: { kind: 'literal', value: 2 }, right: { kind: 'vector', value: 3 } });
  });
});

describe('logql > parser > syntax errors', () => {
  it.each([
    ['{app="x"', 8, 'parse error at line 1, col 9: syntax error: unexpected $end, expecting } or ,'],
    ['{', 1, 'parse error at line 1, col 2: syntax error: unexpected $end, expecting IDENTIFIER or }'],
    ['{app', 4, 'parse error at line 1, col 5: syntax error: unexpected $end, expecting = or =~ or !~ or !='],
    ['{app=', 5, 'parse error at line 1, col 6: syntax error: unexpected $end, expecting STRING'],
    ['{app="x",', 9, 'parse error at line 1, col 10: syntax error: unexpected $end, expecting IDENTIFIER'],
    ['{app="x"} |~', 12, 'parse error at line 1, col 13: syntax error: unexpected $end, expecting STRING or ip'],
    ['{app="x"} |= "a" or', 19, 'parse error at line 1, col 20: syntax error: unexpected $end, expecting STRING or ip'],
    ['{app="x"} |= ip(', 16, 'parse error at line 1, col 17: syntax error: unexpected $end, expecting STRING'],
    ['{app="x"} foo', 10, 'parse error at line 1, col 11: syntax error: unexpected IDENTIFIER'],
    ['{app="x"} | unwrap x', 12, 'parse error at line 1, col 13: syntax error: unexpected unwrap'],
    ['{app="x"} | regexp', 18, 'parse error at line 1, col 19: syntax error: unexpected $end, expecting STRING'],
    ['{app="x"} | label_format a', 26, 'parse error at line 1, col 27: syntax error: unexpected $end, expecting ='],
    ['{app="x"} | label_format a=', 27, 'parse error at line 1, col 28: syntax error: unexpected $end, expecting IDENTIFIER or STRING'],
    ['{app="x"} | a >= ip("1.2.3.4")', 17, 'parse error at line 1, col 18: syntax error: unexpected ip'],
    ['{app="x"} | json --strict', 17, 'parse error at line 0, col 18: syntax error: unexpected FUNCTION_FLAG'],
    ['{app="x"}[5m]', 9, 'parse error at line 0, col 10: syntax error: unexpected RANGE'],
    ['count_over_time({app="x"})', 25, 'parse error at line 1, col 26: syntax error: unexpected )'],
    ['rate(x)', 5, 'parse error at line 1, col 6: syntax error: unexpected IDENTIFIER, expecting NUMBER or { or ('],
    ['quantile_over_time(0.5 {a="b"}[1m])', 23, 'parse error at line 1, col 24: syntax error: unexpected {, expecting ,'],
    ['quantile_over_time(0.5, x)', 24, 'parse error at line 1, col 25: syntax error: unexpected IDENTIFIER, expecting { or ('],
    ['rate({a="b"}[1m] offset 5)', 24, 'parse error at line 1, col 25: syntax error: unexpected NUMBER, expecting DURATION'],
    ['rate({a="b"} | unwrap [1m])', 22, 'parse error at line 0, col 23: syntax error: unexpected RANGE, expecting IDENTIFIER or BYTES_CONV or DURATION_CONV or DURATION_SECONDS_CONV'],
    ['rate({a="b"} | unwrap x | json [1m])', 26, 'parse error at line 1, col 27: syntax error: unexpected json, expecting IDENTIFIER or ('],
    ['sum by (a (rate({a="b"}[1m]))', 10, 'parse error at line 1, col 11: syntax error: unexpected (, expecting , or )'],
    ['sum by (', 8, 'parse error at line 1, col 9: syntax error: unexpected $end, expecting IDENTIFIER or )'],
    ['sum(rate({a="b"}[1m])) by (a) by (b)', 30, 'parse error at line 1, col 31: syntax error: unexpected by'],
    ['topk(a, rate({a="b"}[1m]))', 5, 'parse error at line 1, col 6: syntax error: unexpected IDENTIFIER'],
    ['sum({a="b"})', 11, 'parse error at line 1, col 12: syntax error: unexpected )'],
    ['-sum(rate({a="b"}[1m]))', 1, 'parse error at line 1, col 2: syntax error: unexpected SUM, expecting NUMBER'],
    ['vector(-1)', 7, 'parse error at line 1, col 8: syntax error: unexpected -, expecting NUMBER'],
    ['vector(1) + on vector(1)', 15, 'parse error at line 1, col 16: syntax error: unexpected VECTOR, expecting ('],
    ['vector(1) + group_left vector(1)', 12, 'parse error at line 1, col 13: syntax error: unexpected group_left'],
    ['label_replace(vector(1), "a")', 28, 'parse error at line 1, col 29: syntax error: unexpected ), expecting ,'],
    ['label_replace(vector(1), "a", x', 30, 'parse error at line 1, col 31: syntax error: unexpected IDENTIFIER, expecting STRING'],
    ['1 +', 3, 'parse error at line 1, col 4: syntax error: unexpected $end'],
    ['bool 1', 0, 'parse error at line 1, col 1: syntax error: unexpected bool'],
    ['', 0, 'parse error at line 1, col 1: syntax error: unexpected $end'],
  ])('refuses %j at %i: %s', (text, position, message) => {
    expect(rejects(text, position)).toBe(message);
  });

  it('counts lines and characters (not UTF-16 units) for the column', () => {
    expect(rejects('{a="😀😀"}\n  | x > "y"', 19)).toBe('parse error at line 2, col 9: syntax error: unexpected STRING');
  });

  it.each([
    ['rate({a="b"}[5x])', 12, 'parse error at line 0, col 13: unknown unit "x" in duration "5x"'],
    ['rate({a="b"}[1.5m])', 12, 'parse error at line 0, col 13: unknown unit "." in duration "1.5m"'],
    ['rate({a="b"}[m5])', 12, 'parse error at line 0, col 13: not a valid duration string: "m5"'],
    ['rate({a="b"}[5s1m])', 12, 'parse error at line 0, col 13: not a valid duration string: "5s1m"'],
    ['rate({a="b"}[])', 12, 'parse error at line 0, col 13: empty duration string'],
    ['rate({a="b"}[5m', 12, "parse error at line 0, col 13: missing closing ']' in duration"],
    ['{a="b', 3, 'parse error at line 1, col 4: literal not terminated'],
    ['{a=`b', 3, 'parse error at line 1, col 4: literal not terminated'],
    ['{a="\\q"}', 3, 'parse error at line 1, col 4: invalid char escape'],
    ["{a='bc'}", 3, 'parse error at line 1, col 4: invalid char literal'],
    ['{a="b"} /* x', 8, 'parse error at line 1, col 9: comment not terminated'],
    ['1e', 0, 'parse error at line 1, col 1: exponent has no digits'],
    ['0x', 0, 'parse error at line 1, col 1: hexadecimal literal has no digits'],
    ['09', 0, "parse error at line 1, col 1: invalid digit '9' in octal literal"],
    ['1__0', 0, "parse error at line 1, col 1: '_' must separate successive digits"],
  ])('refuses what the lexer cannot read, %j, where Loki does', (text, position, message) => {
    expect(rejects(text, position)).toBe(message);
  });
});

describe('logql > parser > checks after reading', () => {
  const everyStream = 'parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will';

  it.each([
    ['{}', 0, everyStream],
    ['{env=""}', 0, everyStream],
    ['{a=~".*", b!="x"}', 0, everyStream],
    ['rate({a=~".*"}[1m])', 5, everyStream],
    ['sum_over_time({a="b"}[1m])', 0, 'parse error : invalid aggregation sum_over_time without unwrap'],
    ['rate_counter({a="b"}[1m])', 0, 'parse error : invalid aggregation rate_counter without unwrap'],
    ['count_over_time({a="b"} | unwrap x [1m])', 0, 'parse error : invalid aggregation count_over_time with unwrap'],
    ['bytes_rate({a="b"} | unwrap x [1m])', 0, 'parse error : invalid aggregation bytes_rate with unwrap'],
    ['sum_over_time({a="b"} | unwrap x [1m]) by (a)', 0, 'parse error : grouping not allowed for sum_over_time aggregation'],
    ['count_over_time({a="b"}[1m]) by (a)', 0, 'parse error : grouping not allowed for count_over_time aggregation'],
    ['quantile_over_time({a="b"} | unwrap x [1m])', 0, 'parse error : parameter required for operation quantile_over_time'],
    ['avg_over_time(0.5, {a="b"} | unwrap x [1m])', 0, 'parse error : parameter 0.5 not supported for operation avg_over_time'],
    ['topk(rate({a="b"}[1m]))', 0, 'parse error : parameter required for operation topk'],
    ['topk(0, rate({a="b"}[1m]))', 5, 'parse error : invalid parameter (must be greater than 0) topk(0'],
    ['bottomk(1.5, rate({a="b"}[1m]))', 8, 'parse error : invalid parameter bottomk(1.5,'],
    ['sum(3, rate({a="b"}[1m]))', 4, 'parse error : unsupported parameter for operation sum(3,'],
    ['sort by (a) (rate({a="b"}[1m]))', 0, "parse error : sort and sort_desc doesn't allow grouping by "],
    ['vector(1) and 1', 10, 'parse error : unexpected literal for right leg of logical/set binary operation (and): 1.000000'],
    ['2 unless vector(1)', 2, 'parse error : unexpected literal for left leg of logical/set binary operation (unless): 2.000000'],
    ['{a="b"} + 1', 8, 'parse error : unexpected type for left leg of binary operation (+): *syntax.MatchersExpr'],
    ['1 > {a="b"} | json', 2, 'parse error : unexpected type for right leg of binary operation (>): *syntax.PipelineExpr'],
    ['0x10', 0, 'parse error : unable to parse literal as a float: strconv.ParseFloat: parsing "0x10": invalid syntax'],
    ['1e400', 0, 'parse error : unable to parse literal as a float: strconv.ParseFloat: parsing "1e400": value out of range'],
    ['vector(0o7)', 7, 'parse error : unable to parse vectorExpr as a float: strconv.ParseFloat: parsing "0o7": invalid syntax'],
    ['label_replace(vector(1), "a", "b", "c", "(")', 40, 'parse error : invalid regex in label_replace: error parsing regexp: missing closing ")" at character 1 of `(`'],
    ['{a="b"} | pattern "<_> x"', 18, 'parse error : invalid pattern parser: at least one capture is required'],
    ['{a="b"} | pattern "<x><y>"', 18, "parse error : invalid pattern parser: found consecutive capture '<x><y>': invalid expression"],
    ['{a="b"} | pattern "<x> <x>"', 18, 'parse error : invalid pattern parser: duplicate capture name (x): invalid expression'],
    ['{a="b"} | pattern ""', 18, 'parse error : invalid pattern parser: syntax error: unexpected $end'],
    ['{a="b"} | regexp "(\\\\d+)"', 17, 'parse error : invalid regexp parser: at least one named capture must be supplied'],
    ['{a="b"} | regexp "(?P<x>"', 17, 'parse error : invalid regexp parser: error parsing regexp: missing closing ")" at character 1 of `(?P<x>`'],
    ['{a=~"a(?=b)"}', 4, 'parse error : error parsing regexp: lookahead "(?=" is not supported (RE2 has no lookaround) at character 2 of `a(?=b)`'],
    ['{a="b"} | c=~"("', 13, 'parse error : error parsing regexp: missing closing ")" at character 1 of `(`'],
    ['{a="b"} | drop c=~"["', 18, 'parse error : error parsing regexp: missing closing "]" at character 1 of `[`'],
    ['{a="b"} |~ "("', 11, 'parse error : error parsing regexp: missing closing ")" at character 1 of `(`'],
    ['{a="b"} |> "<x> y"', 11, "parse error : named captures are not allowed: found '<x>'"],
    ['{a="b"} !> "<_><_>"', 11, "parse error : found consecutive capture '<_><_>': invalid expression"],
    ['{a="b"} |~ ip("1.2.3.4")', 8, 'parse error : ip: invalid operation: ip() only goes with |= and !=, not |~'],
    ['{a="b"} | x > 1e400', 14, 'parse error : unable to parse literal as a float: strconv.ParseFloat: parsing "1e400": value out of range'],
  ])('refuses %j at %i: %s', (text, position, message) => {
    expect(rejects(text, position)).toBe(message);
  });

  it('reports a syntax error before a problem found once the query is read', () => {
    expect(rejects('sum_over_time({a="b"}[1m]) +', 28)).toBe('parse error at line 1, col 29: syntax error: unexpected $end');
    expect(rejects('{a=""} |~ "("', 0)).toMatch(/^parse error : queries require at least one regexp/);
    expect(rejects('{a="b"} |~ "(" x', 15)).toBe('parse error at line 1, col 16: syntax error: unexpected IDENTIFIER');
  });

  it('checks a binary operation before its operands, as Loki does', () => {
    expect(rejects('(vector(1) and 1) + sum_over_time({a="b"}[1m])', 11)).toMatch(/unexpected literal for right leg/);
  });
});

describe('logql > parser > limits', () => {
  it.each([
    ['parentheses', '('.repeat(600) + '1' + ')'.repeat(600)],
    ['aggregations', 'sum('.repeat(600) + 'vector(1)' + ')'.repeat(600)],
    ['a chain of operators', 'vector(1)' + ' + vector(1)'.repeat(600)],
    ['a chain of label filters', '{a="b"} | ' + 'x="1", '.repeat(600) + 'y="2"'],
    ['label filters joined by and', '{a="b"} | ' + 'x="1" and '.repeat(600) + 'y="2"'],
    ['nested log ranges', 'rate(' + '('.repeat(600) + '{a="b"}[1m]' + ')'.repeat(600) + ')'],
  ])('refuses %s nested deeper than 500 levels with a 400, not a stack overflow', (_what, text) => {
    const error = errorOf(() => parseExpr(text));
    expect(error.code).toBe('SILT_BAD_QUERY');
    expect(error.message).toBe('parse error : query nested too deeply: more than 500 levels');
  });

  it('reads a query nested 200 levels deep, and writes it back', () => {
    const e = parseExpr('('.repeat(200) + 'vector(1)' + ' * vector(2)'.repeat(200) + ')'.repeat(200));
    expect(parseExpr(formatExpr(e))).toEqual(e);
  });

  it("refuses a query of 128 KiB or more, as Loki's limit", () => {
    const text = '{a="' + 'x'.repeat(131066) + '"}';
    expect(errorOf(() => parseExpr(text)).message).toBe('parse error : input size too long (131072 > 131072)');
    expect(() => parseExpr('{a="' + 'x'.repeat(131065) + '"}')).not.toThrow();
  });
});

describe('logql > parser > positions', () => {
  it('records where each node and stage starts', () => {
    const e = parseExpr('sum(rate({a="b"} |= "x" | json [1m])) / 2') as Extract<MetricExpr, { kind: 'binary' }>;
    const agg = e.left as Extract<MetricExpr, { kind: 'vector_agg' }>;
    const range = agg.expr as Extract<MetricExpr, { kind: 'range_agg' }>;
    expect(nodePosition(e)).toBe(0);
    expect(nodePosition(agg)).toBe(0);
    expect(nodePosition(range)).toBe(4);
    expect(nodePosition(range.range.selector)).toBe(9);
    expect(range.range.selector.pipeline.map((s) => nodePosition(s))).toEqual([17, 24]);
    expect(nodePosition(e.right)).toBe(40);
    expect(nodePosition({})).toBeUndefined();
  });
});

describe('logql > parser > patterns', () => {
  it('splits a pattern into literals and captures', () => {
    expect(parsePattern('<ip> - <_> "<method> <path>" <<x>> <1> <a-b>')).toEqual([
      { kind: 'capture', name: 'ip' },
      { kind: 'literal', text: ' - ' },
      { kind: 'capture', name: '_' },
      { kind: 'literal', text: ' "' },
      { kind: 'capture', name: 'method' },
      { kind: 'literal', text: ' ' },
      { kind: 'capture', name: 'path' },
      { kind: 'literal', text: '" <' },
      { kind: 'capture', name: 'x' },
      { kind: 'literal', text: '> <1> <a-b>' },
    ]);
    expect(parsePattern('')).toEqual([]);
  });
});

describe('logql > re2 > named groups and compiling', () => {
  it('turns RE2 named groups into JavaScript named groups, numbered as in RE2', () => {
    const re = compileRe2('(?P<ip>\\S+) (\\d+) (?<9x>\\w+)', 'regexp stage');
    const m = re.exec('GET 10.0.0.1 200 ok')!;
    expect(m.groups).toEqual({ ip: '10.0.0.1', _9x: 'ok' });
    expect([m[1], m[2], m[3]]).toEqual(['10.0.0.1', '200', 'ok']);
    expect(translateRe2('(?P<a>x)(b)(?<c>y)').groupNames).toEqual(['a', 'c']);
  });

  it('anchors on request, as label matchers and label_replace need', () => {
    const re = compileRe2('(?i)ap|web', 'label filter', { anchored: true });
    expect(['AP', 'WeB', 'apx', 'xweb'].map((v) => re.test(v))).toEqual([true, true, false, false]);
    expect(compileRe2('ap|web', 'line filter').test('xwebx')).toBe(true);
  });

  it('refuses an invalid regex with a 400 naming where it was', () => {
    const error = errorOf(() => compileRe2('(a', 'line filter |~'));
    expect(error).toMatchObject({ code: 'SILT_BAD_QUERY', status: 400 });
    expect(error.message).toBe('invalid regex "(a" in line filter |~: missing closing ")"');
  });

  it('names the literal a metacharacter-free regex matches', () => {
    expect(re2Literal('timeout')).toBe('timeout');
    expect(re2Literal('a\\.b')).toBe('a.b');
    expect(re2Literal('a.b')).toBeNull();
    expect(re2Literal('(?i)a')).toBeNull();
    expect(re2Literal('(')).toBeNull();
  });
});
