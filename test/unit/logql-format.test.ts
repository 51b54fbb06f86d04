import type { Expr } from '../../core/src/logql/ast';
import { formatExpr, goDuration, goFloat, goFloatPlain, goQuote, prettyExpr, promDuration } from '../../core/src/logql/format';
import { parseExpr } from '../../core/src/logql/parser';

const M = 60_000_000_000n;

describe('logql > format > Go values', () => {
  it.each([
    ['plain', '"plain"'],
    ['tab\there "q" back\\slash\nnew', '"tab\\there \\"q\\" back\\\\slash\\nnew"'],
    ['\x00\x1f\x7f\u0085\u2028\u200b\ufeff', '"\\x00\\x1f\\x7f\\u0085\\u2028\\u200b\\ufeff"'],
    ['café ✓ 日本 😀', '"café ✓ 日本 😀"'],
    ['\u{e0001}', '"\\U000e0001"'],
  ])('quotes %j as strconv.Quote does', (value, quoted) => {
    expect(goQuote(value)).toBe(quoted);
  });

  it.each([
    [1, '1'],
    [-2.5, '-2.5'],
    [123456, '123456'],
    [1e6, '1e+06'],
    [12_500_000, '1.25e+07'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.5e-300, '1.5e-300'],
    [0.1 + 0.2, '0.30000000000000004'],
    [-0, '-0'],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ])("writes %p as Go's %%v: %s", (value, text) => {
    expect(goFloat(value)).toBe(text);
  });

  it.each([
    [1e21, '1000000000000000000000'],
    [1e-7, '0.0000001'],
    [0.99, '0.99'],
    [-5, '-5'],
  ])("writes %p as strconv.FormatFloat(v, 'f', -1): %s", (value, text) => {
    expect(goFloatPlain(value)).toBe(text);
  });

  it.each([
    [0n, '0s'],
    [42n, '42ns'],
    [750_000n, '750µs'],
    [1_500_000n, '1.5ms'],
    [250_000_000n, '250ms'],
    [1_500_000_000n, '1.5s'],
    [90_000_000_000n, '1m30s'],
    [5n * M, '5m0s'],
    [60n * M, '1h0m0s'],
    [1440n * M, '24h0m0s'],
    [-5n * M, '-5m0s'],
    [3_723_000_000_001n, '1h2m3.000000001s'],
  ])('writes %p ns as time.Duration.String: %s', (ns, text) => {
    expect(goDuration(ns)).toBe(text);
  });

  it.each([
    [0n, '0s'],
    [500_000_000n, '500ms'],
    [90_000_000_000n, '1m30s'],
    [90n * M, '1h30m'],
    [1440n * M, '1d'],
    [14n * 1440n * M, '2w'],
    [365n * 1440n * M, '1y'],
    [366n * 1440n * M, '366d'],
    [-5n * M, '-5m'],
  ])("writes %p ns as Prometheus's model.Duration: %s", (ns, text) => {
    expect(promDuration(ns)).toBe(text);
  });
});

describe('logql > format > canonical text', () => {
  it.each([
    ['{ app = "api" ,env=~`p.*` }', '{app="api", env=~"p.*"}'],
    ['{a="b"}|="x"or"y" != "z" |= ip("1.2.3.4")', '{a="b"} |= "x" or "y" != "z" |= ip("1.2.3.4")'],
    ['{a="b"} != "x" or "y" |= ip("::1") or ip("10.0.0.0/8")', '{a="b"} != "x" or "y" |= ip("::1") or ip("10.0.0.0/8")'],
    ['{a="b"} | json | json x, y="a.b" | logfmt --keep-empty --strict z', '{a="b"} | json | json x,y="a.b" | logfmt --strict --keep-empty z'],
    ['{a="b"} | x > 1.5KiB or y <= 250ms and z == -2 | w = ip("1.2.3.4")', '{a="b"} | ( x>1536B or ( y<=250ms , z==-2 ) ) | w=ip("1.2.3.4")'],
    ['{a="b"} | label_format a=b, c="{{.d}}" | drop x, y="z" | keep q | decolorize | unpack', '{a="b"} | label_format a=b,c="{{.d}}" | drop x,y="z" | keep q | decolorize | unpack'],
    ['rate({a="b"}[5m] offset 90s | regexp "(?P<x>.)" | unwrap duration(x) | __error__="")', 'rate({a="b"} | regexp "(?P<x>.)" | unwrap duration(x) | __error__=""[5m] offset 1m30s)'],
    ['quantile_over_time(0.99, {a="b"} | unwrap x [1h]) by (env)', 'quantile_over_time(0.99,{a="b"} | unwrap x[1h]) by (env)'],
    ['sum by () (count_over_time({a="b"}[1m])) > bool on (a) group_left 1', '(sum by ()(count_over_time({a="b"}[1m])) > bool on (a) group_left 1)'],
    ['topk(3, vector(1)) by (a) * ignoring () group_right (b, c) vector(2e-7)', '(topk by (a)(3,vector(1)) * ignoring () group_right (b,c) vector(2e-07))'],
    ['label_replace(vector(1), "d", "$1", "s", "(.*)") - -1e6', '(label_replace(vector(1),"d","$1","s","(.*)") - -1e+06)'],
  ])('writes %s as %s', (text, canonical) => {
    const e = parseExpr(text);
    const formatted = formatExpr(e);
    if (canonical !== '') expect(formatted).toBe(canonical);
    expect(parseExpr(formatted)).toEqual(e);
  });

  it.each([NaN, Infinity, -Infinity, -0, 1e300, 5e-324])('writes the literal %p so that it reads back', (value) => {
    const e: Expr = { kind: 'binary', op: '+', bool: false, matching: null, left: { kind: 'vector', value: 1 }, right: { kind: 'literal', value } };
    expect(parseExpr(formatExpr(e))).toEqual(e);
  });

  it.each([
    '{app="api"} |= "timeout" != "health" |~ "5\\\\d\\\\d" | json | level=~"err.*" | line_format "{{.msg | lower}}"',
    '{a="tab\\there \\"q\\""} |= "\\x00\\u2028😀" | pattern "<_> <ip> [<ts>]" | ip != ip("192.168.0.0/16")',
    'sum by (app) (count_over_time({app=~".+"} | logfmt | duration > 1.5s, bytes < 20MB or status != 200 [1m]))',
    'avg_over_time({a="b"} | json | unwrap bytes(size) | __error__="" | size > 0 [10m] offset -1h)',
    'sum(rate({a="b"}[1m])) / on (app) group_left (team) sum by (app, team) (rate({a="c"}[1m])) ^ 2 ^ 0.5',
    'vector(1) or vector(2) and vector(3) unless vector(4) == bool vector(5) + vector(6) * vector(7) % vector(8)',
    'sort_desc(bottomk(2, sum without (pod) (bytes_rate({a="b"}[30s]))))',
    'absent_over_time({a="b"} |> "<_> failed <_>" !> "<_> retry" [1d]) and on () vector(1)',
  ])('round-trips %s', (text) => {
    const e = parseExpr(text);
    const formatted = formatExpr(e);
    expect(parseExpr(formatted)).toEqual(e);
    expect(formatExpr(parseExpr(formatted))).toBe(formatted);
  });
});

describe('logql > format > pretty (format_query)', () => {
  it('keeps a query that fits in 100 bytes on one line, as Loki writes it', () => {
    expect(prettyExpr(parseExpr('sum by(app)(rate({app="api"}|json|x>1.5KiB or y=~"a.b"[5m]))'))).toBe(
      'sum by (app)(rate({app="api"} | json | ( x>1.5kB or y=~`a.b` )[5m]))',
    );
    expect(prettyExpr(parseExpr('{a="b"} != "x" or "y" | json x | label_format c=d'))).toBe('{a="b"} != "x" != "y" | json x="x" | label_format c=d');
    expect(prettyExpr(parseExpr('vector(1) + on (a) vector(2)'))).toBe('(vector(1.000000) + on (a)  vector(2.000000))');
    expect(prettyExpr(parseExpr('sum by () (vector(1))'))).toBe('sum(vector(1.000000))');
  });

  it('splits a long log query into one stage a line', () => {
    const q = '{app="api", env="production"} |= "error" != "health" | json | duration > 250ms and status >= 500 | line_format "{{.path}}"';
    expect(prettyExpr(parseExpr(q))).toBe(
      ['{app="api", env="production"}', '  |= "error" != "health"', '  | json', '  | ( duration>250ms , status>=500 )', '  | line_format "{{.path}}"'].join('\n'),
    );
  });

  it('splits aggregations, ranges and unwraps over indented lines', () => {
    const q = 'topk(5, sum by (app) (rate({cluster="eu-west-1", namespace="loki"} | logfmt | unwrap bytes(size) | __error__="" [1m] offset 5m)))';
    expect(prettyExpr(parseExpr(q))).toBe(
      [
        'topk(',
        '  5,',
        '  sum by (app)(',
        '    rate(',
        '      {cluster="eu-west-1", namespace="loki"} | logfmt',
        '        | unwrap bytes(size)',
        '        | __error__="" [1m] offset 5m',
        '    )',
        '  )',
        ')',
      ].join('\n'),
    );
  });

  it('splits binary operations around their operator, without parentheses', () => {
    const q = 'sum by (app) (rate({app="frontend"}[5m])) / on (app) group_left (team) sum by (app, team) (rate({app="backend"}[5m]))';
    expect(prettyExpr(parseExpr(q), 40)).toBe(
      [
        '  sum by (app)(rate({app="frontend"}[5m]))',
        '/ on (app) group_left (team)',
        '  sum by (app, team)(',
        '    rate({app="backend"}[5m])',
        '  )',
      ].join('\n'),
    );
  });

  it('splits label_replace one argument a line, and a long run of line filters one a line', () => {
    const q = 'label_replace(count_over_time({a="b"} |= "first" |= "second" |= "third" [1m]), "x", "$1", "a", "(.*)")';
    expect(prettyExpr(parseExpr(q), 30)).toBe(
      [
        'label_replace(',
        '  count_over_time(',
        '    {a="b"}',
        '      |= "first" |= "second"',
        '      |= "third" [1m]',
        '  ),',
        '  "x",',
        '  "$1",',
        '  "a",',
        '  "(.*)"',
        ')',
      ].join('\n'),
    );
  });
});

describe('logql > format > round trip of arbitrary strings', () => {
  it('writes every string value so that it reads back, wherever it stands', () => {
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '`', '\n', '\t', '\r', '\x00', '\x7f', '\u0085', 'é', '日', '😀', '\u2028', '\ufeff', '{', '}', '|', '~', '=', '!', '#', ',', '(', ')'];
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 200; i++) {
      let v = '';
      for (let j = next(10); j > 0; j--) v += alphabet[next(alphabet.length)];
      const e: Expr = {
        kind: 'label_replace',
        expr: {
          kind: 'range_agg',
          op: 'count_over_time',
          param: null,
          grouping: null,
          range: {
            selector: {
              kind: 'log',
              matchers: [
                { name: 'app', op: '=', value: 'api' },
                { name: 'v', op: '!=', value: v },
              ],
              pipeline: [
                { kind: 'line_filter', op: '|=', values: [v, v], ip: false },
                { kind: 'json', params: [{ label: 'x', path: v }] },
                { kind: 'label_filter', expr: { kind: 'matcher', matcher: { name: 'x', op: '=', value: v } } },
                { kind: 'line_format', template: v },
                { kind: 'label_format', items: [{ dst: 'y', rename: null, template: v }] },
              ],
            },
            rangeNs: M,
            offsetNs: 0n,
            unwrap: null,
          },
        },
        dst: v,
        replacement: v,
        src: v,
        regex: 'x',
      };
      expect(parseExpr(formatExpr(e))).toEqual(e);
    }
  });
});

