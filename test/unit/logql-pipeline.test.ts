import type { LogSelectorExpr } from '../../core/src/logql/ast';
import { parseExpr } from '../../core/src/logql/parser';
import { compilePipeline, leadingLineFilters, reorderStages, type PipelineOutput } from '../../core/src/logql/pipeline';
import { BadRequestError } from '../../core/src/errors';
import type { Labels } from '../../core/src/labels';

const STREAM: Labels = { app: 'api', env: 'prod' };

function selector(query: string): LogSelectorExpr {
  const e = parseExpr(query);
  if (e.kind !== 'log') throw new Error(`not a log query: ${query}`);
  return e;
}

/** Runs `pipeline` (the text after the selector) over one entry. */
function run(pipeline: string, line: string, stream: Labels = STREAM, metadata?: Labels, ts = 1_700_000_000_000_000_000n): PipelineOutput | null {
  return compilePipeline(selector(`{app="api"} ${pipeline}`).pipeline).run(ts, line, stream, metadata);
}

/** The lines of `lines` that pass. */
function passing(pipeline: string, lines: string[]): string[] {
  const p = compilePipeline(selector(`{app="api"} ${pipeline}`).pipeline);
  return lines.filter((l) => p.run(0n, l, STREAM, undefined) !== null);
}

function badRequest(fn: () => unknown): BadRequestError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).code).toBe('SILT_BAD_QUERY');
    return err as BadRequestError;
  }
  throw new Error('expected a BadRequestError');
}

describe('logql > pipeline > stream labels and metadata', () => {
  test('an entry no stage changes keeps the stream labels object', () => {
    const out = run('|= "GET"', 'GET /');
    expect(out).toEqual({ line: 'GET /', labels: STREAM });
    expect(out!.labels).toBe(STREAM);
  });

  test('structured metadata joins the labels; a name taken by a stream label gets _extracted', () => {
    expect(run('', 'x', STREAM, { trace_id: 'ab12', app: 'other' })!.labels).toEqual({ app: 'api', env: 'prod', trace_id: 'ab12', app_extracted: 'other' });
  });

  test('an extracted label whose name is a metadata name gets _extracted, metadata is kept', () => {
    expect(run('| logfmt', 'user=mallory amount=5', STREAM, { user: 'alice' })!.labels).toEqual({
      app: 'api',
      env: 'prod',
      user: 'alice',
      user_extracted: 'mallory',
      amount: '5',
    });
  });

  test('a label filter sees metadata like any label', () => {
    expect(run('| trace_id="ab12"', 'x', STREAM, { trace_id: 'ab12' })).not.toBeNull();
    expect(run('| trace_id="ab12"', 'x', STREAM, { trace_id: 'cd34' })).toBeNull();
  });
});

describe('logql > pipeline > line filters', () => {
  test('contains, lacks and alternatives', () => {
    const lines = ['GET /a 200', 'POST /b 500', 'PUT /c 404'];
    expect(passing('|= "GET" or "PUT"', lines)).toEqual(['GET /a 200', 'PUT /c 404']);
    expect(passing('!= "GET" or "PUT"', lines)).toEqual(['POST /b 500']);
    expect(passing('|= ""', lines)).toEqual(lines);
    expect(passing('!= ""', lines)).toEqual([]);
  });

  test('regex filters, including what Loki simplifies to substring tests', () => {
    const lines = ['level=error a', 'level=ERROR b', 'level=info c', ''];
    expect(passing('|~ "(?i)error"', lines)).toEqual(['level=error a', 'level=ERROR b']);
    expect(passing('|~ "err(or)?"', lines)).toEqual(['level=error a']);
    expect(passing('!~ "info|ERROR"', lines)).toEqual(['level=error a', '']);
    expect(passing('|~ ".+"', lines)).toEqual(['level=error a', 'level=ERROR b', 'level=info c']);
    // Loki drops the always-true side of an alternation: ".*|info" means "contains info".
    expect(passing('|~ ".*|info"', lines)).toEqual(['level=info c']);
  });

  test('Loki\'s simplifier shares the prefix bytes of alternatives, so foo(bar.*|qux.*) tests "fooqux" twice', () => {
    expect(passing('|~ "foo(bar.*|qux.*)"', ['a foobar b', 'a fooqux b', 'foo'])).toEqual(['a fooqux b']);
    expect(passing('|~ "foo(bar|qux)"', ['a foobar b', 'a fooqux b', 'foo'])).toEqual(['a foobar b', 'a fooqux b']);
    expect(passing('|~ "(?i)fo+"', ['FOO', 'f'])).toEqual(['FOO']);
  });

  test('pattern filters match the whole line with non-empty captures', () => {
    const lines = ['GET /a 200', 'GET  200', 'POST /b 500'];
    expect(passing('|> "GET <_> <_>"', lines)).toEqual(['GET /a 200']);
    expect(passing('!> "GET <_> <_>"', lines)).toEqual(['GET  200', 'POST /b 500']);
  });

  test('ip filters find addresses, CIDR prefixes and ranges in the line', () => {
    const lines = ['from 192.168.1.5 ok', 'from 10.0.0.1', 'v6 2001:db8::1 up', 'version 1.2.3', 'from 192.168.01.5'];
    expect(passing('|= ip("192.168.1.5")', lines)).toEqual(['from 192.168.1.5 ok']);
    expect(passing('|= ip("192.168.0.0/16")', lines)).toEqual(['from 192.168.1.5 ok']);
    expect(passing('|= ip("10.0.0.0-10.0.0.9")', lines)).toEqual(['from 10.0.0.1']);
    expect(passing('|= ip("2001:db8::/32")', lines)).toEqual(['v6 2001:db8::1 up']);
    expect(passing('!= ip("192.168.0.0/16")', lines)).toEqual(['from 10.0.0.1', 'v6 2001:db8::1 up', 'version 1.2.3', 'from 192.168.01.5']);
    badRequest(() => compilePipeline([{ kind: 'line_filter', op: '|=', values: ['300.1.1.1'], ip: true }]));
    badRequest(() => compilePipeline([{ kind: 'line_filter', op: '|~', values: ['10.0.0.1'], ip: true }]));
  });

  test('an invalid regex is a 400', () => {
    badRequest(() => compilePipeline([{ kind: 'line_filter', op: '|~', values: ['a(b'], ip: false }]));
    badRequest(() => compilePipeline([{ kind: 'label_filter', expr: { kind: 'matcher', matcher: { name: 'a', op: '=~', value: '(?<=x)y' } } }]));
  });
});

describe('logql > pipeline > reordering', () => {
  test('line filters move ahead of parsers and decolorize, not past label filters, line_format or unpack', () => {
    const stages = selector('{app="api"} | logfmt | decolorize |= "a" | level="x" |= "b" | line_format "{{.a}}" |= "c" | unpack |= "d"').pipeline;
    expect(reorderStages(stages).map((s) => s.kind + (s.kind === 'line_filter' ? ':' + s.values[0] : ''))).toEqual([
      'line_filter:a',
      'logfmt',
      'decolorize',
      'label_filter',
      'line_filter:b',
      'line_format',
      'line_filter:c',
      'unpack',
      'line_filter:d',
    ]);
    expect(leadingLineFilters(stages).map((f) => f.values)).toEqual([['a']]);
    expect(leadingLineFilters(selector('{app="api"} | json | x="1" |= "y"').pipeline)).toEqual([]);
  });

  test('a caller that applied the leading line filters can skip them', () => {
    const stages = selector('{app="api"} | logfmt |= "GET" | level="info" |= "x"').pipeline;
    expect(compilePipeline(stages, { leadingLineFiltersApplied: true }).run(0n, 'level=info x', STREAM, undefined)!.line).toBe('level=info x');
    expect(compilePipeline(stages).run(0n, 'level=info x', STREAM, undefined)).toBeNull();
    expect(compilePipeline(stages, { leadingLineFiltersApplied: true }).run(0n, 'level=info GET', STREAM, undefined)).toBeNull();
  });

  test('so a line filter after decolorize sees the coloured line, as in Loki', () => {
    expect(run('| decolorize |= "\\x1b[31m"', '\u001b[31mERROR\u001b[0m boom')).toEqual({ line: 'ERROR boom', labels: STREAM });
    expect(run('| decolorize |= "ERROR boom"', '\u001b[31mERROR\u001b[0m boom')).toBeNull();
  });
});

describe('logql > pipeline > label filters', () => {
  test('numeric comparisons; a value that is not a number keeps the entry with LabelFilterErr', () => {
    expect(run('| logfmt | status >= 500', 'status=503')!.labels.status).toBe('503');
    expect(run('| logfmt | status >= 500', 'status=200')).toBeNull();
    expect(run('| logfmt | status >= 500', 'other=1')).toBeNull();
    expect(run('| logfmt | status >= 500', 'status=abc')!.labels).toEqual({
      app: 'api',
      env: 'prod',
      status: 'abc',
      __error__: 'LabelFilterErr',
      __error_details__: 'strconv.ParseFloat: parsing "abc": invalid syntax',
    });
  });

  test('durations: a failed conversion is marked with Go\'s message, and __error__ filters remove it', () => {
    expect(run('| logfmt | duration > 1s', 'duration=1.5s')).not.toBeNull();
    expect(run('| logfmt | duration > 1s', 'duration=750ms')).toBeNull();
    expect(run('| logfmt | duration > 1s', 'duration=n/a')!.labels).toMatchObject({ __error__: 'LabelFilterErr', __error_details__: 'time: invalid duration "n/a"' });
    expect(run('| logfmt | duration > 1s | __error__=""', 'duration=n/a')).toBeNull();
    expect(run('| logfmt | duration > 1s | __error__!=""', 'duration=2s')).toBeNull();
  });

  test('bytes compare after Loki\'s round trip of the query text: 1MiB becomes 1.0MB', () => {
    expect(run('| logfmt | size > 1MiB', 'size=1MiB')).not.toBeNull();
    expect(run('| logfmt | size > 1MiB', 'size=1MB')).toBeNull();
    expect(run('| logfmt | size >= 10MB', 'size=10MB')).not.toBeNull();
    expect(run('| logfmt | size < 1KB', 'size=999B')).not.toBeNull();
  });

  test('string matchers read an absent label as ""; regexes are simplified as Loki does', () => {
    expect(run('| missing=""', 'x')).not.toBeNull();
    expect(run('| logfmt | trace_id=~"0.*"', 'trace_id=1d5d4fb0f03a93f3')).not.toBeNull();
    expect(run('| logfmt | trace_id=~"0.*"', 'trace_id=1d5d4fbf')).toBeNull();
    expect(run('| logfmt | method=~"GET"', 'method=GETX')).toBeNull();
    expect(run('| logfmt | method=~"G.T|P[OU]ST"', 'method=PUST')).not.toBeNull();
    expect(run('| logfmt | method=~"G.T|P[OU]ST"', 'method=xGET')).toBeNull();
  });

  test('and evaluates both sides (both may mark errors), or stops at a true left side', () => {
    expect(run('| logfmt | a > 1 and b > 1', 'a=0 b=x')).toBeNull();
    expect(run('| logfmt | a > 1 and b > 1', 'a=2 b=x')!.labels.__error__).toBe('LabelFilterErr');
    expect(run('| logfmt | a > 1 and b > 1', 'a=x b=y')!.labels.__error_details__).toBe('strconv.ParseFloat: parsing "x": invalid syntax');
    expect(run('| logfmt | a > 1 or b > 1', 'a=2 b=x')!.labels.__error__).toBeUndefined();
    expect(run('| logfmt | a > 1 or b > 1', 'a=0 b=x')!.labels.__error__).toBe('LabelFilterErr');
    expect(run('| logfmt | (a > 1 or b > 1), c="y"', 'a=0 b=2 c=y')).not.toBeNull();
  });

  test('an ip label filter', () => {
    expect(run('| logfmt | addr = ip("10.0.0.0/8")', 'addr=10.1.2.3')).not.toBeNull();
    expect(run('| logfmt | addr != ip("10.0.0.0/8")', 'addr=10.1.2.3')).toBeNull();
  });
});

describe('logql > pipeline > label_format and line_format', () => {
  test('rename moves a label; templates see the labels as the stage started', () => {
    expect(run('| logfmt | label_format lvl=level, both="{{.lvl}}/{{.level}}"', 'level=warn')!.labels).toEqual({
      app: 'api',
      env: 'prod',
      lvl: 'warn',
      both: 'warn/',
    });
    expect(run('| label_format env="{{.app}}-x"', 'l')!.labels).toEqual({ app: 'api', env: 'api-x' });
  });

  test('a filter on an extracted label overwritten by label_format still sees the extracted value, as in Loki', () => {
    // Loki applies the first filter on a label inside the parser that extracts it.
    expect(run('| logfmt | label_format k="50" | k > 10', 'k=5')).toBeNull();
    expect(run('| logfmt | label_format k="5" | k > 10', 'k=50')).toBeNull();
    expect(run('| logfmt | label_format k="50" | k > 10', 'k=20')!.labels.k).toBe('50');
  });

  test('line_format replaces the line; {{.x}} alone copies the label or gives ""', () => {
    expect(run('| logfmt | line_format "{{.status}} {{.missing}}|"', 'status=200')!.line).toBe('200 |');
    expect(run('| line_format "{{.nope}}"', 'x')!.line).toBe('');
    expect(run('| line_format "{{ __line__ | upper }}"', 'abc')!.line).toBe('ABC');
  });

  test('a template error keeps the line and marks TemplateFormatErr with Go\'s message', () => {
    expect(run('| line_format "{{ .app.x }}"', 'keep')).toEqual({
      line: 'keep',
      labels: { app: 'api', env: 'prod', __error__: 'TemplateFormatErr', __error_details__: 'template: line:1:3: executing "line" at <.app.x>: can\'t evaluate field x in type string' },
    });
  });

  test('invalid templates and duplicate names are 400s', () => {
    badRequest(() => compilePipeline([{ kind: 'line_format', template: '{{ nope }}' }]));
    badRequest(() => compilePipeline([{ kind: 'line_format', template: '{{ .a' }]));
    badRequest(() => compilePipeline([{ kind: 'label_format', items: [{ dst: 'a', rename: null, template: '{{.x}}' }, { dst: 'a', rename: 'b', template: null }] }]));
    badRequest(() => compilePipeline([{ kind: 'label_format', items: [{ dst: '__error__', rename: null, template: 'x' }] }]));
  });
});

describe('logql > pipeline > drop, keep and decolorize', () => {
  test('drop by name and by matcher; drop __error__ clears the error', () => {
    expect(run('| logfmt | drop level="info", env', 'level=info a=1')!.labels).toEqual({ app: 'api', a: '1' });
    expect(run('| logfmt | drop level="info"', 'level=warn')!.labels).toEqual({ app: 'api', env: 'prod', level: 'warn' });
    expect(run('| logfmt | n > 1 | drop __error__', 'n=x')!.labels).toEqual({ app: 'api', env: 'prod', n: 'x', __error_details__: 'strconv.ParseFloat: parsing "x": invalid syntax' });
  });

  test('keep keeps named labels and matching ones, and never the error labels\' removal', () => {
    expect(run('| logfmt | keep app, level=~"warn|error"', 'level=warn x=1')!.labels).toEqual({ app: 'api', level: 'warn' });
    expect(run('| logfmt | keep app, level=~"warn|error"', 'level=info')!.labels).toEqual({ app: 'api' });
    expect(run('| logfmt | n > 1 | keep app', 'n=x')!.labels).toEqual({ app: 'api', __error__: 'LabelFilterErr', __error_details__: 'strconv.ParseFloat: parsing "x": invalid syntax' });
    expect(run('| keep trace_id', 'x', STREAM, { trace_id: 't1', user: 'u' })!.labels).toEqual({ trace_id: 't1' });
  });

  test('decolorize removes ANSI sequences', () => {
    expect(run('| decolorize', '\u001b[1;31mERROR\u001b[0m  héllo 🚀')!.line).toBe('ERROR  héllo 🚀');
  });
});

describe('logql > pipeline > regexp, pattern and unpack', () => {
  test('regexp named groups become labels; a group that did not take part is ""; no match sets nothing', () => {
    expect(run('| regexp "(?P<method>\\\\w+) (?P<path>\\\\S+)(?: (?P<code>\\\\d+))?"', 'GET /x')!.labels).toEqual({ app: 'api', env: 'prod', method: 'GET', path: '/x', code: '' });
    expect(run('| regexp "(?P<method>\\\\d+)"', 'none')!.labels).toBe(STREAM);
    expect(run('| regexp "(?P<app>\\\\w+)"', 'web')!.labels).toEqual({ app: 'api', env: 'prod', app_extracted: 'web' });
    badRequest(() => compilePipeline([{ kind: 'regexp', pattern: '(\\w+)' }]));
  });

  test('pattern captures keep spaces; a missing literal ends the match with the rest', () => {
    expect(run('| pattern "<date> - <level> [<thread>] - <msg>"', '2015-07-29 - WARN  [main] - boom')!.labels).toEqual({
      app: 'api',
      env: 'prod',
      date: '2015-07-29',
      level: 'WARN ',
      thread: 'main',
      msg: 'boom',
    });
    expect(run('| pattern "<a> x <b> y <c>"', 'one x two')!.labels).toEqual({ app: 'api', env: 'prod', a: 'one', b: 'two' });
    expect(run('| pattern "GET <path>"', 'POST /x')!.labels).toBe(STREAM);
    badRequest(() => compilePipeline([{ kind: 'pattern', pattern: '<_>' }]));
    badRequest(() => compilePipeline([{ kind: 'pattern', pattern: '<a><b>' }]));
    badRequest(() => compilePipeline([{ kind: 'pattern', pattern: '<a> <a>' }]));
  });

  test('unpack sets string fields and makes _entry the line; without _entry nothing changes', () => {
    expect(run('| unpack', '{"_entry":"the line","pod":"p1","n":5,"app":"x"}')).toEqual({
      line: 'the line',
      labels: { app: 'api', env: 'prod', pod: 'p1', app_extracted: 'x' },
    });
    expect(run('| unpack', '{"pod":"p1"}')).toEqual({ line: '{"pod":"p1"}', labels: STREAM });
    expect(run('| unpack', 'plain')!.labels).toEqual({ app: 'api', env: 'prod', __error__: 'JSONParserErr', __error_details__: 'expecting json object(6), but it is not' });
  });

  test('a parser does not overwrite a label a previous parser extracted', () => {
    expect(run('| logfmt | regexp "a=(?P<a>\\\\w+) (?P<b>\\\\w+)"', 'a=1 b=2')!.labels).toEqual({ app: 'api', env: 'prod', a: '1', b: '2' });
    expect(run('| logfmt | regexp "(?P<c>\\\\w+)="', 'a=1')!.labels).toEqual({ app: 'api', env: 'prod', a: '1', c: 'a' });
    expect(run('| logfmt', 'a=1 a=2')!.labels.a).toBe('1');
  });
});
