import type { RangeAggregationExpr } from '../../core/src/logql/ast';
import { parseExpr } from '../../core/src/logql/parser';
import { compileSampleExtractor, injectedGrouping, type ExtractedSample } from '../../core/src/logql/sample';
import type { Labels } from '../../core/src/labels';

const STREAM: Labels = { app: 'api', env: 'prod' };

/** The extractor of a query: a range aggregation, or a vector aggregation over one (with Loki's pushed-down grouping). */
function extractor(query: string) {
  const e = parseExpr(query);
  if (e.kind === 'range_agg') return compileSampleExtractor(e);
  if (e.kind === 'vector_agg' && e.expr.kind === 'range_agg') return compileSampleExtractor(e.expr, injectedGrouping(e));
  throw new Error(`no range aggregation in ${query}`);
}

function sample(query: string, line: string, stream: Labels = STREAM, metadata?: Labels): ExtractedSample | null {
  return extractor(query).run(0n, line, stream, metadata);
}

describe('logql > sample > line extractors', () => {
  test('count and rate count 1 per entry, with the entry\'s labels (metadata included)', () => {
    const s = sample('count_over_time({app="api"} |= "GET" [5m])', 'GET /');
    expect(s).toEqual({ labels: STREAM, value: 1 });
    expect(s!.labels).toBe(STREAM);
    expect(sample('rate({app="api"} |= "GET" [5m])', 'POST /')).toBeNull();
    expect(sample('count_over_time({app="api"}[5m])', 'x', STREAM, { trace_id: 't1' })).toEqual({ labels: { ...STREAM, trace_id: 't1' }, value: 1 });
  });

  test('bytes count the UTF-8 bytes of the line after the pipeline', () => {
    expect(sample('bytes_over_time({app="api"}[5m])', 'héllo 🚀')).toEqual({ labels: STREAM, value: 11 });
    expect(sample('bytes_rate({app="api"} | line_format "ab" [5m])', 'héllo')).toEqual({ labels: STREAM, value: 2 });
  });

  test('absent_over_time has no labels', () => {
    expect(sample('absent_over_time({app="api"}[5m])', 'x')).toEqual({ labels: {}, value: 1 });
  });

  test('a parse error marks the sample, which keeps every label', () => {
    expect(sample('count_over_time({app="api"} | json [5m])', '{"level":"error","msg":"truncated')).toEqual({
      labels: { ...STREAM, level: 'error', __error__: 'JSONParserErr', __error_details__: 'Value is string, but can\'t find closing \'"\' symbol' },
      value: 1,
    });
    expect(sample('count_over_time({app="api"} | json | __error__="" [5m])', 'not json')).toBeNull();
  });
});

describe('logql > sample > grouping pushed down from sum, as Loki does', () => {
  test('sum without grouping needs no labels: the parsers do nothing, so there is no parse error', () => {
    expect(sample('sum(count_over_time({app="api"} | json [5m]))', 'not json')).toEqual({ labels: {}, value: 1 });
    expect(sample('sum(count_over_time({app="api"} | json | level="info" [5m]))', '{"level":"info"}')).toEqual({ labels: {}, value: 1 });
    expect(sample('sum(count_over_time({app="api"} | json | level="info" [5m]))', '{"level":"warn"}')).toBeNull();
  });

  test('sum by extracts only the labels it needs and stops once it has them', () => {
    expect(sample('sum by (level) (count_over_time({app="api"} | json [5m]))', '{"level":"error","msg":"truncated')).toEqual({ labels: { level: 'error' }, value: 1 });
    expect(sample('sum by (level) (count_over_time({app="api"} | json [5m]))', 'panic: boom')).toEqual({
      labels: { ...STREAM, __error__: 'JSONParserErr', __error_details__: "Value looks like object, but can't find closing '}' symbol" },
      value: 1,
    });
    expect(sample('sum by (app, level) (count_over_time({app="api"} | logfmt [5m]))', 'app=web level=warn x=1')).toEqual({ labels: { app: 'api', level: 'warn' }, value: 1 });
    expect(sample('sum without (env) (count_over_time({app="api"} | logfmt [5m]))', 'level=warn')).toEqual({ labels: { app: 'api', level: 'warn' }, value: 1 });
  });

  test('nothing is pushed below other aggregations', () => {
    const e = parseExpr('max by (level) (count_over_time({app="api"} | json [5m]))');
    expect(e.kind === 'vector_agg' && injectedGrouping(e)).toBeNull();
    expect(sample('max by (level) (count_over_time({app="api"} | json [5m]))', '{"level":"x","n":1}')).toEqual({ labels: { ...STREAM, level: 'x', n: '1' }, value: 1 });
  });
});

describe('logql > sample > unwrap', () => {
  test('a float label; the unwrapped label leaves the series labels', () => {
    expect(sample('sum_over_time({app="api"} | logfmt | unwrap latency [5m])', 'latency=1.25 level=info')).toEqual({ labels: { ...STREAM, level: 'info' }, value: 1.25 });
    expect(sample('sum_over_time({app="api"} | logfmt | unwrap latency [5m])', 'latency=1e3')!.value).toBe(1000);
  });

  test('durations in seconds and sizes in bytes; by keeps only the grouping', () => {
    expect(sample('max_over_time({app="api"} | logfmt | unwrap duration(d) [5m]) by (env)', 'd=2m3.5s')).toEqual({ labels: { env: 'prod' }, value: 123.5 });
    expect(sample('max_over_time({app="api"} | logfmt | unwrap duration_seconds(d) [5m]) by (env)', 'd=750us')!.value).toBe(0.00075);
    expect(sample('min_over_time({app="api"} | logfmt | unwrap bytes(size) [5m])', 'size=1.5KiB')).toEqual({ labels: STREAM, value: 1536 });
    expect(sample('min_over_time({app="api"} | logfmt | unwrap bytes(size) [5m]) without (env)', 'size=12MB')).toEqual({ labels: { app: 'api' }, value: 12e6 });
  });

  test('an absent or empty label gives no sample', () => {
    expect(sample('sum_over_time({app="api"} | logfmt | unwrap latency [5m])', 'other=1')).toBeNull();
    expect(sample('sum_over_time({app="api"} | logfmt --keep-empty | unwrap latency [5m])', 'latency=')).toBeNull();
  });

  test('a value that does not convert is 0 with SampleExtractionErr and every label; post filters can drop it', () => {
    expect(sample('sum_over_time({app="api"} | logfmt | unwrap duration(d) [10m])', 'd=n/a')).toEqual({
      labels: { ...STREAM, d: 'n/a', __error__: 'SampleExtractionErr', __error_details__: 'time: invalid duration "n/a"' },
      value: 0,
    });
    expect(sample('sum_over_time({app="api"} | logfmt | unwrap duration(d) | __error__="" [10m])', 'd=n/a')).toBeNull();
    expect(sample('sum_over_time({app="api"} | logfmt | unwrap n [10m])', 'n=abc')!.labels.__error_details__).toBe('strconv.ParseFloat: parsing "abc": invalid syntax');
  });

  test('post-unwrap label filters, and their bytes values are exact (no round trip)', () => {
    const q = 'avg_over_time({app="api"} | logfmt amount, items | unwrap amount | items > 5 [30m]) by (env)';
    expect(sample(q, 'amount=9.5 items=7')).toEqual({ labels: { env: 'prod' }, value: 9.5 });
    expect(sample(q, 'amount=9.5 items=2')).toBeNull();
    const bytes = 'sum_over_time({app="api"} | logfmt | unwrap n | size > 1MiB [5m])';
    expect(sample(bytes, 'n=1 size=1MiB')).toBeNull();
    expect(sample(bytes, 'n=1 size=2MiB')!.value).toBe(1);
  });
});

describe('logql > sample > compiled once, reused per entry', () => {
  test('an extractor runs entries independently', () => {
    const ex = extractor('sum by (level) (count_over_time({app="api"} | logfmt [5m]))');
    expect(ex.run(1n, 'level=a', STREAM, undefined)).toEqual({ labels: { level: 'a' }, value: 1 });
    expect(ex.run(2n, 'other=1', STREAM, undefined)).toEqual({ labels: {}, value: 1 });
    expect(ex.run(3n, 'level=b', STREAM, { level: 'meta' })).toEqual({ labels: { level: 'meta' }, value: 1 });
    const range = parseExpr('count_over_time({app="api"}[1m])') as RangeAggregationExpr;
    expect(compileSampleExtractor(range).run(0n, 'x', { app: 'api' }, undefined)).toEqual({ labels: { app: 'api' }, value: 1 });
  });

  test('leading line filters the caller already applied are skipped', () => {
    const range = parseExpr('count_over_time({app="api"} |= "GET" | logfmt |= "x" [1m])') as RangeAggregationExpr;
    expect(compileSampleExtractor(range, null, { leadingLineFiltersApplied: true }).run(0n, 'POST', STREAM, undefined)).toEqual({ labels: STREAM, value: 1 });
    expect(compileSampleExtractor(range).run(0n, 'POST', STREAM, undefined)).toBeNull();
  });
});
