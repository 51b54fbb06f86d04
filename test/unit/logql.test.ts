import { BadRequestError } from '../../core/src/errors';
import { compileLineFilter, formatLogQuery, parseLogQuery, parseSelector, requiredSubstrings, type LineFilter, type LogQuery } from '../../core/src/logql';
import { compileMatcher, matchesAll } from '../../core/src/matchers';

/** Loki's message for a selector that would select every stream. */
const EVERY_STREAM =
  'queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will';

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

/** Asserts the query is refused with SILT_BAD_QUERY at `position`, and returns the message. */
function rejectsAt(text: string, position: number, parse: (text: string) => unknown = parseLogQuery): string {
  const error = errorOf(() => parse(text));
  expect(error).toMatchObject({ code: 'SILT_BAD_QUERY', status: 400, details: { position } });
  return error.message;
}

/** True when a stream with these labels is selected by the query's selector. */
function selects(query: string, labels: Record<string, string>): boolean {
  return matchesAll(parseLogQuery(query).matchers.map(compileMatcher), labels);
}

/** True when the line passes the query's line filters. */
function passes(query: string, line: string): boolean {
  const filter = compileLineFilter(parseLogQuery(query).filters);
  expect(filter).not.toBeNull();
  return filter!(line);
}

describe('core > logql > selector', () => {
  it.each([
    ['=', 'api', 'api', 'apx'],
    ['!=', 'api', 'web', 'api'],
    ['=~', 'api|web', 'web', 'db'],
    ['!~', 'api|web', 'db', 'api'],
  ])('parses and applies the %s matcher', (op, value, yes, no) => {
    const query = `{job="j",app${op}"${value}"}`;
    expect(parseLogQuery(query)).toEqual({
      matchers: [
        { name: 'job', op: '=', value: 'j' },
        { name: 'app', op, value },
      ],
      filters: [],
    });
    expect(selects(query, { job: 'j', app: yes })).toBe(true);
    expect(selects(query, { job: 'j', app: no })).toBe(false);
  });

  it('parses several matchers, all of which must hold', () => {
    const q = parseLogQuery('{app="api",level=~"warn|error",host!="h2",env!~"dev.*"}');
    expect(q.matchers).toEqual([
      { name: 'app', op: '=', value: 'api' },
      { name: 'level', op: '=~', value: 'warn|error' },
      { name: 'host', op: '!=', value: 'h2' },
      { name: 'env', op: '!~', value: 'dev.*' },
    ]);
    const q2 = '{app="api",level=~"warn|error",host!="h2",env!~"dev.*"}';
    expect(selects(q2, { app: 'api', level: 'warn', host: 'h1', env: 'prod' })).toBe(true);
    expect(selects(q2, { app: 'api', level: 'info', host: 'h1', env: 'prod' })).toBe(false);
    expect(selects(q2, { app: 'api', level: 'warn', host: 'h2', env: 'prod' })).toBe(false);
    expect(selects(q2, { app: 'api', level: 'warn', host: 'h1', env: 'dev1' })).toBe(false);
  });

  it('allows the same label name twice (both must hold)', () => {
    const q = '{app=~"a.*",app!="api"}';
    expect(parseLogQuery(q).matchers).toHaveLength(2);
    expect(selects(q, { app: 'auth' })).toBe(true);
    expect(selects(q, { app: 'api' })).toBe(false);
  });

  it.each([
    '{app="api",env="prod"}',
    '  {  app = "api" ,  env = "prod"  }  ',
    '\t{\tapp\t=\t"api"\t,\tenv\t=\t"prod"\t}\t',
    '\n{\r\napp=\n"api",\nenv="prod"\n}\n',
    '{app="api" # the service\n, env="prod"} # a comment',
    '# leading comment\n{app="api",env="prod"}',
  ])('accepts whitespace and comments anywhere between tokens: %j', (text) => {
    expect(parseLogQuery(text)).toEqual({
      matchers: [
        { name: 'app', op: '=', value: 'api' },
        { name: 'env', op: '=', value: 'prod' },
      ],
      filters: [],
    });
  });

  it.each([
    ['_a', '{_a="x"}'],
    ['A_1', '{A_1="x"}'],
    ['__name__', '{__name__="x"}'],
  ])('accepts the label name %s', (name, text) => {
    expect(parseLogQuery(text).matchers[0]!.name).toBe(name);
  });

  it.each([
    ['\\n\\t\\r', '\n\t\r'],
    ['\\a\\b\\f\\v', '\x07\b\f\v'],
    ['\\"\\\\', '"\\'],
    ['\\u00e9', 'é'],
    ['\\U0001F600', '😀'],
    ['\\x41\\xc3\\xa9', 'Aé'],
    ['\\101\\303\\251', 'Aé'],
  ])('decodes Go escapes in double-quoted strings: %s', (escaped, value) => {
    expect(parseLogQuery(`{app="${escaped}"}`).matchers[0]!.value).toBe(value);
    expect(parseLogQuery(`{app="x"} |= "${escaped}"`).filters[0]!.value).toBe(value);
  });

  it('keeps backtick strings raw: no escapes, newlines allowed', () => {
    expect(parseLogQuery('{app=`a\\nb\\"c"`}').matchers[0]!.value).toBe('a\\nb\\"c"');
    expect(parseLogQuery('{app="x"} |~ `\\d+\\.\\d+`').filters[0]!.value).toBe('\\d+\\.\\d+');
    expect(parseLogQuery('{app=`two\nlines`}').matchers[0]!.value).toBe('two\nlines');
  });

  it('takes the same regex from "\\\\w+" and `\\w+`', () => {
    expect(parseLogQuery('{app=~"\\\\w+"}')).toEqual(parseLogQuery('{app=~`\\w+`}'));
  });

  it('keeps unicode values', () => {
    const q = '{app="café ✓ 日本 😀"} |= "ünïcödé 😀"';
    expect(parseLogQuery(q)).toEqual({
      matchers: [{ name: 'app', op: '=', value: 'café ✓ 日本 😀' }],
      filters: [{ op: '|=', value: 'ünïcödé 😀' }],
    });
    expect(selects(q, { app: 'café ✓ 日本 😀' })).toBe(true);
    expect(passes(q, 'x ünïcödé 😀 y')).toBe(true);
  });

  it('anchors selector regexes: =~"ap" does not match "api"', () => {
    expect(selects('{app=~"ap"}', { app: 'api' })).toBe(false);
    expect(selects('{app=~"ap"}', { app: 'ap' })).toBe(true);
    expect(selects('{app=~"ap.*"}', { app: 'api' })).toBe(true);
    expect(selects('{app=~"pi"}', { app: 'api' })).toBe(false);
    expect(selects('{job="j",app!~"ap"}', { job: 'j', app: 'api' })).toBe(true);
    expect(selects('{app=~"a|api"}', { app: 'api' })).toBe(true);
  });

  it('supports (?i) at the start of a selector regex', () => {
    expect(selects('{app=~"(?i)API"}', { app: 'api' })).toBe(true);
    expect(selects('{app=~"(?i)API"}', { app: 'apix' })).toBe(false);
    expect(selects('{app=~"API"}', { app: 'api' })).toBe(false);
    expect(selects('{job="j",app!~"(?i)api"}', { job: 'j', app: 'API' })).toBe(false);
  });

  it('reads an absent label as the empty string', () => {
    expect(selects('{app="api",env=""}', { app: 'api' })).toBe(true);
    expect(selects('{app="api",env=""}', { app: 'api', env: 'prod' })).toBe(false);
  });

  it.each([
    '{app=~".*"}',
    '{app=""}',
    '{app!="api"}',
    '{app!~".+"}',
    '{app=~"a*"}',
    '{app=~".*",env=""}',
    '{app=~"(?i).*"}',
  ])('rejects %s: every matcher matches the empty string', (text) => {
    expect(rejectsAt(text, 0)).toBe(`parse error : ${EVERY_STREAM}`);
  });

  it.each(['{app=~".+"}', '{app=~".*",env="prod"}', '{app!~".*"}', '{app="api",env!="dev"}'])(
    'accepts %s: one matcher does not match the empty string',
    (text) => {
      expect(() => parseLogQuery(text)).not.toThrow();
    },
  );

  it('parses a selector alone with parseSelector', () => {
    expect(parseSelector(' {app="api", level=~"warn|error"} ')).toEqual([
      { name: 'app', op: '=', value: 'api' },
      { name: 'level', op: '=~', value: 'warn|error' },
    ]);
    expect(rejectsAt('{app="api"} |= "x"', 12, parseSelector)).toBe('parse error : only label matchers are supported');
    expect(rejectsAt('{app="api"} x', 12, parseSelector)).toMatch(/unexpected IDENTIFIER$/);
    expect(rejectsAt('{app=~".*"}', 0, parseSelector)).toBe(`parse error : ${EVERY_STREAM}`);
    expect(rejectsAt('rate({app="api"}[5m])', 0, parseSelector)).toBe('parse error : only label matchers are supported');
  });
});

describe('core > logql > line filters', () => {
  it.each([
    ['|=', 'timeout', 'request timeout after 5s', 'request ok'],
    ['!=', 'health', 'GET /api', 'GET /health'],
    ['|~', '5\\d\\d', 'status=503', 'status=200'],
    ['!~', '5\\d\\d', 'status=200', 'status=503'],
  ] as const)('parses and applies the %s filter', (op, value, yes, no) => {
    const q = parseLogQuery(`{app="api"} ${op} \`${value}\``);
    expect(q.filters).toEqual([{ op, value }]);
    const f = compileLineFilter(q.filters)!;
    expect(f(yes)).toBe(true);
    expect(f(no)).toBe(false);
  });

  it('names the substrings every kept line contains: |= and literal |~ only', () => {
    const q = parseLogQuery('{app="api"} |= "timeout" != "health" |~ "upstream" |~ `5\\d\\d` !~ "retry" |~ "(?i)warn" |= ""');
    expect(requiredSubstrings(q.filters)).toEqual(['timeout', 'upstream']);
    expect(requiredSubstrings([])).toEqual([]);
  });

  it('returns null when there are no filters', () => {
    expect(compileLineFilter([])).toBeNull();
    expect(compileLineFilter(parseLogQuery('{app="api"}').filters)).toBeNull();
  });

  it('chains filters left to right, all of which must hold', () => {
    const q = '{app="api",level=~"warn|error"} |= "timeout" != "health" |~ "5\\\\d\\\\d" !~ "(?i)retry"';
    expect(parseLogQuery(q).filters).toEqual([
      { op: '|=', value: 'timeout' },
      { op: '!=', value: 'health' },
      { op: '|~', value: '5\\d\\d' },
      { op: '!~', value: '(?i)retry' },
    ]);
    expect(passes(q, 'GET /api 504 timeout')).toBe(true);
    expect(passes(q, 'GET /api 200 timeout')).toBe(false);
    expect(passes(q, 'GET /health 504 timeout')).toBe(false);
    expect(passes(q, 'GET /api 504 slow')).toBe(false);
    expect(passes(q, 'GET /api 504 timeout, RETRYING')).toBe(false);
  });

  it('accepts filters with and without whitespace around them', () => {
    expect(parseLogQuery('{app="api"}|="a"!="b"|~"c"!~"d"').filters).toEqual(
      parseLogQuery('{app="api"}\n  |= "a"\n  != "b"\n  |~ "c"\n  !~ "d"\n').filters,
    );
  });

  it('does not anchor filter regexes: |~ "ap" matches "api"', () => {
    expect(passes('{a="b"} |~ "ap"', 'api')).toBe(true);
    expect(passes('{a="b"} |~ "pi"', 'api')).toBe(true);
    expect(passes('{a="b"} |~ "^ap$"', 'api')).toBe(false);
    expect(passes('{a="b"} !~ "ap"', 'api')).toBe(false);
  });

  it('treats "" as contained in every line', () => {
    expect(passes('{a="b"} |= ""', 'anything')).toBe(true);
    expect(passes('{a="b"} |= ""', '')).toBe(true);
    expect(passes('{a="b"} != ""', 'anything')).toBe(false);
    expect(passes('{a="b"} |~ ""', 'anything')).toBe(true);
    expect(passes('{a="b"} !~ ""', 'anything')).toBe(false);
  });

  it('treats regex metacharacters in |= as plain text', () => {
    expect(passes('{a="b"} |= "a.b"', 'a.b')).toBe(true);
    expect(passes('{a="b"} |= "a.b"', 'axb')).toBe(false);
    expect(passes('{a="b"} |~ "a.b"', 'axb')).toBe(true);
    expect(passes('{a="b"} |~ "a\\\\.b"', 'axb')).toBe(false);
    expect(passes('{a="b"} |~ "a\\\\.b"', 'a.b')).toBe(true);
  });

  it('supports (?i) at the start of a filter regex', () => {
    expect(passes('{a="b"} |~ "(?i)error"', 'An ERROR occurred')).toBe(true);
    expect(passes('{a="b"} |~ "error"', 'An ERROR occurred')).toBe(false);
    expect(passes('{a="b"} !~ "(?i)error"', 'An Error occurred')).toBe(false);
    expect(passes('{a="b"} |~ "(?i)straße"', 'STRASSE')).toBe(false);
    expect(passes('{a="b"} |~ "(?i)é"', 'É')).toBe(true);
  });

  it('lets . match anything but \\n, and \\n too with (?s), as RE2 does', () => {
    expect(passes('{a="b"} |~ "a.b"', 'a\nb')).toBe(false);
    expect(passes('{a="b"} |~ "a.b"', 'a\rb')).toBe(true);
    expect(passes('{a="b"} |~ "a.b"', 'a\u2028b')).toBe(true);
    expect(passes('{a="b"} |~ "(?s)a.b"', 'a\nb')).toBe(true);
    expect(passes('{a="b"} |~ "(?is)A.B"', 'a\nb')).toBe(true);
  });

  it('matches . and negated classes per code point, as RE2 does per rune', () => {
    expect(passes('{a="b"} |~ "^a.b$"', 'a😀b')).toBe(true);
    expect(passes('{a="b"} |~ "^a[^x]b$"', 'a😀b')).toBe(true);
    expect(passes('{a="b"} |~ "^😀+$"', '😀😀')).toBe(true);
    expect(passes('{a="b"} |~ "^[😀-😂]$"', '😁')).toBe(true);
  });

  it('anchors ^ and $ at the line ends, or at \\n with (?m)', () => {
    expect(passes('{a="b"} |~ "^b"', 'a\nb')).toBe(false);
    expect(passes('{a="b"} |~ "(?m)^b"', 'a\nb')).toBe(true);
    expect(passes('{a="b"} |~ "(?m)a$"', 'a\nb')).toBe(true);
    expect(passes('{a="b"} |~ "(?m)a$"', 'a\rb')).toBe(false);
    expect(passes('{a="b"} |~ "(?m)^b"', 'a\rb')).toBe(false);
    expect(passes('{a="b"} |~ "\\\\Aa"', 'ba\na')).toBe(false);
    expect(passes('{a="b"} |~ "b\\\\z"', 'ab\n')).toBe(false);
  });

  it.each([
    ['\\s is ASCII space only', 'a\\sb', ['a b', 'a\tb', 'a\nb'], ['a\u00a0b', 'a\vb', 'a\u2003b']],
    ['\\S', '^\\S+$', ['ab\u00a0c'], ['a b']],
    ['[\\s] and [\\S]', '^[\\s]x[\\S]$', [' xy', '\txé'], ['\vxy', ' x ']],
    ['\\d and \\w are ASCII', '^\\d\\w$', ['1a', '9_'], ['١a', '1é']],
    ['\\b', '\\bcat\\b', ['a cat.'], ['concat']],
    ['\\pL', '^\\pL+$', ['héllo', '日本'], ['h3llo']],
    ['\\p{Greek}', '^\\p{Greek}+$', ['αβγ'], ['abc']],
    ['\\PL', '^\\PL+$', ['123'], ['1a']],
    ['\\p{^Greek}', '^\\p{^Greek}$', ['a'], ['α']],
    ['[\\p{Lu}\\d]', '^[\\p{Lu}\\d]+$', ['AB12'], ['Ab']],
    ['[[:digit:]]', '^[[:digit:]]+$', ['123'], ['12a']],
    ['[[:^alpha:]]', '^[[:^alpha:]]+$', ['12 !'], ['1a']],
    ['[[:punct:][:space:]]', '^[[:punct:][:space:]]+$', ['!? ,'], ['a']],
    ['a literal ] first in a class', '^[]a]+$', [']a]'], ['b']],
    ['a literal - in a class', '^[a-]+$|^[-z]+$|^[\\d-z]+$', ['a-', '-z', '1-z'], ['b']],
    ['a range', '^[a-cx]+$', ['abcx'], ['d']],
    ['escaped punctuation', '^\\.\\-\\:\\#\\ \\<$', ['.-:# <'], ['x']],
    ['\\Q…\\E', '^\\Q.*+?\\E$', ['.*+?'], ['abcd']],
    ['octal and hex escapes', '^\\101\\x42\\x{43}\\x{1F600}$', ['ABC😀'], ['ABCD']],
    ['control escapes', '^\\a\\f\\t\\n\\r\\v$', ['\x07\f\t\n\r\v'], ['x']],
    ['repeat counts', '^a{2}b{1,2}c{2,}$', ['aabcc', 'aabbccc'], ['abcc', 'aabbbcc']],
    ['a literal {', '^a{$|^a{,2}$|^x{1,2$|^y{a}$', ['a{', 'a{,2}', 'x{1,2', 'y{a}'], ['aa']],
    ['{01} is literal in RE2', '^a{01}$', ['a{01}'], ['a']],
    ['lazy repeats', '^a+?b*?c??$', ['aabbc'], ['x']],
    ['groups and named groups', '^(a|b)(?:c)(?P<x>d)(?<y>e)$', ['acde', 'bcde'], ['ccde']],
    ['a repeated anchor', '^*a', ['a'], ['b']],
    ['alternation with empty branches', '^(|a)b$', ['b', 'ab'], ['cb']],
    ['lone ] and }', '^]}$', [']}'], ['x']],
    ['(?U) swaps greedy and lazy', '(?U)^a+b$', ['aab'], ['b']],
    ['(?i) with classes', '(?i)^[a-c]+\\pL$', ['ABCx'], ['ABD1']],
    ['\\B never between the halves of a surrogate pair', '\\B', ['ab', '😀', ''], ['a😀b', 'a']],
    ['\\B next to astral characters', '^\\B|\\B$', ['😀', '😀a😀', ''], ['a😀a']],
    ['(?m) anchors never between the halves of a surrogate pair', '(?m)$^', ['a\n\nb'], ['😀', 'a😀b']],
  ])('runs RE2 syntax faithfully: %s', (_name, re, yes, no) => {
    const f = compileLineFilter([{ op: '|~', value: re }])!;
    for (const line of yes) expect([line, f(line)]).toEqual([line, true]);
    for (const line of no) expect([line, f(line)]).toEqual([line, false]);
  });

  it('compiles a regex once and allocates nothing per line', () => {
    const spy = jest.spyOn(globalThis, 'RegExp');
    try {
      const f = compileLineFilter([
        { op: '|~', value: 'a.c' },
        { op: '!~', value: 'x+y' },
        { op: '|=', value: 'b' },
      ])!;
      const constructed = spy.mock.calls.length;
      for (let i = 0; i < 1000; i++) f(i % 2 === 0 ? 'abc' : 'abd');
      expect(spy.mock.calls.length).toBe(constructed);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses an invalid regex handed to compileLineFilter directly', () => {
    expect(errorOf(() => compileLineFilter([{ op: '|~', value: '(a' }]))).toMatchObject({ code: 'SILT_BAD_QUERY' });
    expect(errorOf(() => compileLineFilter([{ op: '!~', value: '(?=a)' }])).message).toMatch(/lookahead/);
    expect(errorOf(() => compileLineFilter([{ op: '|x', value: 'a' } as unknown as LineFilter])).message).toMatch(/unknown line filter operator/);
  });
});

describe('core > logql > regex', () => {
  it.each([
    ['a backreference', '(a)\\1', /backreferences/],
    ['a named backreference', '(?P<n>a)(?P=n)', /backreferences/],
    ['a \\k backreference', '(?<n>a)\\k<n>', /backreferences/],
    ['lookahead', 'a(?=b)', /lookahead/],
    ['negative lookahead', 'a(?!b)', /lookahead/],
    ['lookbehind', '(?<=a)b', /lookbehind/],
    ['negative lookbehind', '(?<!a)b', /lookbehind/],
    ['a flag after the start', 'a(?i)b', /put the flags first/],
    ['a flag group', '(?i:a)b', /put the flags first/],
    ['an atomic group', '(?>a)', /unsupported Perl syntax/],
    ['a comment group', '(?#x)a', /unsupported Perl syntax/],
    ['a possessive repeat', 'a*+', /nested repetition/],
    ['a doubled repeat', 'a**', /nested repetition/],
    ['a repeat of nothing', '*a', /missing argument/],
    ['a repeat after (', '(*a)', /missing argument/],
    ['a repeat after |', 'a|*b', /missing argument/],
    ['a repeat after (?i)', '(?i)*a', /missing argument/],
    ['a repeat count over 1000', 'a{1001}', /invalid repeat count/],
    ['a reversed repeat count', 'a{3,2}', /invalid repeat count/],
    ['\\Z', 'a\\Z', /invalid escape/],
    ['\\e', '\\e', /invalid escape/],
    ['\\u', '\\u0041', /invalid escape/],
    ['\\cA', '\\cA', /invalid escape/],
    ['\\8', '\\8', /invalid escape/],
    ['\\b in a class', '[\\b]', /invalid escape/],
    ['\\d as a range end', '[a-\\d]', /invalid escape/],
    ['\\C', '\\C', /any byte/],
    ['a trailing backslash', 'a\\', /trailing backslash/],
    ['a missing )', '(ab', /missing closing "\)"/],
    ['an unexpected )', 'ab)', /unexpected "\)"/],
    ['a missing ]', '[ab', /missing closing "\]"/],
    ['[] with nothing after', '[]', /missing closing "\]"/],
    ['a reversed range', '[z-a]', /invalid character class range/],
    ['an unknown POSIX class', '[[:foo:]]', /invalid character class range/],
    ['an unknown Unicode class', '\\p{Foo}', /invalid character class range/],
    ['an unterminated \\p{', '\\p{L', /invalid character class range/],
    ['a bad \\x', '\\xZZ', /invalid escape/],
    ['a too large \\x{}', '\\x{110000}', /invalid escape/],
    ['a bad named group', '(?P<a-b>x)', /invalid named capture/],
    ['a duplicate group name', '(?P<a>x)(?P<a>y)', /duplicate capture group name/],
    ['a dangling flag', '(?i-)a', /missing flag/],
    ['a surrogate code point', '\\x{D800}', /invalid escape/],
  ])('rejects %s, at the position of the string', (_name, re, reason) => {
    const selector = rejectsAt(`{app=~\`${re}\`}`, 6);
    expect(selector).toMatch(reason);
    expect(selector).toMatch(/^parse error : error parsing regexp: /);
    const filter = rejectsAt(`{app="api"} |~ \`${re}\``, 15);
    expect(filter).toMatch(reason);
    expect(rejectsAt(`{app="api"} != "x" !~ "${re.replace(/\\/g, '\\\\')}"`, 22)).toMatch(reason);
  });

  it('rejects a lone surrogate in a regex', () => {
    expect(errorOf(() => compileLineFilter([{ op: '|~', value: 'a\ud800' }])).message).toMatch(/lone surrogate/);
    expect(errorOf(() => compileLineFilter([{ op: '|~', value: '[\udc00]' }])).message).toMatch(/lone surrogate/);
  });

  it('names the offset of the problem inside the regex', () => {
    expect(rejectsAt('{app="api"} |~ "abc(?=x)"', 15)).toMatch(/at character 4 of `abc\(\?=x\)`$/);
  });

  it.each([
    ['(?m)', '(?m)a$\\nb', 'a\nb', 'ab'],
    ['(?U)', '(?U)a+', 'aaa', 'b'],
    ['(?-s)', '(?-s)a.b', 'axb', 'a\nb'],
    ['\\p', '\\pL+', 'héllo', 'h1'],
    ['\\p{…}', '\\p{Greek}+', 'αβγ', 'abc'],
    ['\\x{…}', '\\x{41}', 'A', 'a'],
    ['\\Q…\\E', '\\Q.*\\E', '.*', 'ab'],
    ['POSIX classes', '[[:alpha:]]+', 'abc', 'ab1'],
    ['negated POSIX classes', '[[:^digit:]]+', 'ab', 'a1'],
    ['] first in a class', '[]a]+', ']a]', 'b'],
    ['octal escapes', '\\101', 'A', 'a'],
    ['\\a', '\\a', '\x07', 'a'],
    ['\\A and \\z', '\\Aa\\z', 'a', 'aa'],
    ['(?P<name>', '(?P<x>a)b', 'ab', 'a'],
    ['a repeated anchor', 'a^*', 'a', 'aa'],
    ['a brace with a leading zero, a literal', 'a{01}', 'a{01}', 'a'],
    ['an astral character repeated', '😀+', '😀😀', '😀x'],
    ['an astral character in a class', '[😀x]', '😀', 'y'],
    ['. on an astral character', '.', '😀', 'ab'],
    ["RE2's ASCII \\s, without \\v", 'a\\sb', 'a b', 'a\vb'],
  ])('accepts %s in a selector regex, with the meaning RE2 gives it', (_name, re, yes, no) => {
    expect(parseLogQuery(`{app=~\`${re}\`}`).matchers).toEqual([{ name: 'app', op: '=~', value: re }]);
    expect(selects(`{app=~\`${re}\`}`, { app: yes })).toBe(true);
    expect(selects(`{app=~\`${re}\`}`, { app: no })).toBe(false);
    expect(selects(`{job="j", app!~\`${re}\`}`, { job: 'j', app: yes })).toBe(false);
    expect(selects(`{job="j", app!~\`${re}\`}`, { job: 'j', app: no })).toBe(true);
  });

  it('matches selector regexes as Loki does: RE2 classes and folding, whole values, . across newlines', () => {
    expect(selects('{app=~"\\\\p{L}+"}', { app: 'Łódź' })).toBe(true);
    expect(selects('{app=~"\\\\p{L}+"}', { app: '𝒜𝒜' })).toBe(true);
    expect(selects('{app=~"\\\\p{L}+"}', { app: 'Łódź1' })).toBe(false);
    expect(selects('{app=~"(?i)k"}', { app: '\u212a' })).toBe(true); // RE2 folds k with the Kelvin sign
    expect(selects('{app=~"(?i)warn|err"}', { app: 'ERR' })).toBe(true);
    expect(selects('{app=~"(?i)warn|err"}', { app: 'errx' })).toBe(false);
    expect(selects('{zone=~"[[:upper:]][[:digit:]]{2}"}', { zone: 'A12' })).toBe(true);
    expect(selects('{zone=~"[[:upper:]][[:digit:]]{2}"}', { zone: 'Á12' })).toBe(false); // POSIX classes are ASCII
    expect(selects('{zone=~"[[:upper:]][[:digit:]]{2}"}', { zone: 'a12' })).toBe(false);
    const twoLines = { msg: 'first\nmiddle\nlast' };
    expect(selects('{msg=~"first.*last"}', twoLines)).toBe(true);
    expect(selects('{msg=~"(?-s)first.*last"}', twoLines)).toBe(false);
    expect(selects('{msg=~"first"}', twoLines)).toBe(false);
    expect(selects('{msg=~"(?m)^middle$"}', twoLines)).toBe(false);
    expect(selects('{msg=~"(?m)first$\\\\n^middle$\\\\n^last"}', twoLines)).toBe(true);
    expect(selects('{msg=~"first$\\\\n.*"}', twoLines)).toBe(false);
    expect(selects('{job="j", msg!~"first.*"}', { job: 'j', ...twoLines })).toBe(false);
  });

  it('runs selector regexes through compileMatcher with RE2 meaning for the common syntax', () => {
    const q = '{app=~`(?i)^(api|web)-\\d{2,3}[a-z_]*\\.svc$`, env=~"(?s)a.b", host=~"(?<h>h)\\\\w+"}';
    expect(selects(q, { app: 'API-123x_y.svc', env: 'a\nb', host: 'h1' })).toBe(true);
    expect(selects(q, { app: 'db-12.svc', env: 'a\nb', host: 'h1' })).toBe(false);
    expect(selects(q, { app: 'web-1.svc', env: 'a\nb', host: 'h1' })).toBe(false);
  });
});

describe('core > logql > errors', () => {
  it("rejects with SILT_BAD_QUERY, Loki's line and column and a 0-based position", () => {
    const error = errorOf(() => parseLogQuery('{app="api"\n  env="x"}'));
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.code).toBe('SILT_BAD_QUERY');
    expect(error.status).toBe(400);
    expect(error.details).toEqual({ position: 13 });
    expect(error.message).toBe('parse error at line 2, col 3: syntax error: unexpected IDENTIFIER, expecting } or ,');
  });

  it('names the line, column and position of a stage it cannot run', () => {
    const error = errorOf(() => parseLogQuery('{app="api"}\n  | json'));
    expect(error.details).toEqual({ position: 14 });
    expect(error.message).toContain('at line 2, column 3 (position 14)');
  });

  it.each([
    ['{app="api', 5],
    ['{app=`api', 5],
    ['{app="api"} |= "timeout', 15],
    ['{app="api"} |= `timeout', 15],
  ])('rejects an unterminated string with its position: %j', (text, position) => {
    expect(rejectsAt(text, position)).toBe(`parse error at line 1, col ${position + 1}: literal not terminated`);
  });

  it.each([
    ['{app="api"', 10, 'parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,'],
    ['{app="api" |= "x"', 11, 'parse error at line 0, col 12: syntax error: unexpected |=, expecting } or ,'],
    ['{app="api" env="prod"}', 11, 'parse error at line 1, col 12: syntax error: unexpected IDENTIFIER, expecting } or ,'],
    ['{app="api";env="prod"}', 10, 'parse error at line 1, col 11: syntax error: unexpected IDENTIFIER, expecting } or ,'],
    ['{app="api", env="prod",}', 23, 'parse error at line 1, col 24: syntax error: unexpected }, expecting IDENTIFIER'],
  ])('rejects a missing "}" or a trailing comma with its position: %j', (text, position, message) => {
    expect(rejectsAt(text, position)).toBe(message);
  });

  it.each([
    ['{app=="api"}', 4, 'parse error at line 0, col 5: syntax error: unexpected ==, expecting = or =~ or !~ or !='],
    ['{app~"api"}', 4, 'parse error at line 1, col 5: syntax error: unexpected IDENTIFIER, expecting = or =~ or !~ or !='],
    ['{app<"api"}', 4, 'parse error at line 1, col 5: syntax error: unexpected <, expecting = or =~ or !~ or !='],
    ['{app = ~"api"}', 7, 'parse error at line 1, col 8: syntax error: unexpected IDENTIFIER, expecting STRING'],
    ['{app "api"}', 5, 'parse error at line 1, col 6: syntax error: unexpected STRING, expecting = or =~ or !~ or !='],
    ['{app}', 4, 'parse error at line 1, col 5: syntax error: unexpected }, expecting = or =~ or !~ or !='],
  ])('rejects a bad operator with its position: %j', (text, position, message) => {
    expect(rejectsAt(text, position)).toBe(message);
  });

  it.each([
    ['{1app="x"}', 1, /unexpected NUMBER, expecting IDENTIFIER or \}$/],
    ['{app-name="x"}', 4, /unexpected -, expecting = or =~ or !~ or !=$/],
    ['{,}', 1, /unexpected ,, expecting IDENTIFIER or \}$/],
    ['{app="x",,env="y"}', 9, /unexpected ,, expecting IDENTIFIER$/],
    ['{"app"="x"}', 1, /unexpected STRING, expecting IDENTIFIER or \}$/],
    ['{json="x"}', 1, /unexpected json, expecting IDENTIFIER or \}$/],
  ])('rejects a bad label name with its position: %j', (text, position, reason) => {
    expect(rejectsAt(text, position)).toMatch(reason);
  });

  it('takes Unicode letters in label names, as Go identifiers do', () => {
    expect(parseLogQuery('{é="x"}').matchers).toEqual([{ name: 'é', op: '=', value: 'x' }]);
  });

  it.each([
    ['{app=api}', 5, 'parse error at line 1, col 6: syntax error: unexpected IDENTIFIER, expecting STRING'],
    ["{app='api'}", 5, 'parse error at line 1, col 6: invalid char literal'],
    ['{app="a\\qb"}', 5, 'parse error at line 1, col 6: invalid char escape'],
    ['{app="line\nbreak"}', 5, 'parse error at line 1, col 6: literal not terminated'],
    ['{app="x"} |=', 12, 'parse error at line 1, col 13: syntax error: unexpected $end, expecting STRING or ip'],
    ['{app="x"} |= timeout', 13, 'parse error at line 1, col 14: syntax error: unexpected IDENTIFIER, expecting STRING or ip'],
  ])('rejects a bad string with its position: %j', (text, position, message) => {
    expect(rejectsAt(text, position)).toBe(message);
  });

  it.each([
    ['', 0, 'parse error at line 1, col 1: syntax error: unexpected $end'],
    ['   ', 3, 'parse error at line 1, col 4: syntax error: unexpected $end'],
    ['# only a comment', 16, 'parse error at line 1, col 17: syntax error: unexpected $end'],
    ['{}', 0, `parse error : ${EVERY_STREAM}`],
    ['{ }', 0, `parse error : ${EVERY_STREAM}`],
    ['app="api"', 0, 'parse error at line 1, col 1: syntax error: unexpected IDENTIFIER'],
    ['"api"', 0, 'parse error at line 1, col 1: syntax error: unexpected STRING'],
  ])('rejects a missing selector with its position: %j', (text, position, message) => {
    expect(rejectsAt(text, position)).toBe(message);
  });

  it.each([
    ['{app="api"} x', 12, /unexpected IDENTIFIER$/],
    ['{app="api"} }', 12, /unexpected \}$/],
    ['{app="api"} |= "a" "b"', 19, /unexpected STRING$/],
    ['{app="api"} {env="prod"}', 12, /unexpected \{$/],
    ['{app="api"} ! "x"', 12, /unexpected IDENTIFIER$/],
  ])('rejects trailing garbage with its position: %j', (text, position, reason) => {
    expect(rejectsAt(text, position)).toMatch(reason);
  });

  it.each([
    ['{app="api"} | json', 12, /"\| json" pipeline stage is not supported/],
    ['{app="api"} |= "x" | logfmt', 19, /"\| logfmt" pipeline stage is not supported/],
    ['{app="api"} | line_format "{{.msg}}"', 12, /"\| line_format" pipeline stage is not supported/],
    ['{app="api"} | level="error"', 12, /label filter expressions \("\| level …"\) are not supported/],
    ['{app="api"} | ', 14, /syntax error: unexpected \$end$/],
    ['{app="api"} |> "<_> error"', 12, /pattern line filters \(\|>\) are not supported/],
    ['{app="api"} !> "<_> error"', 12, /pattern line filters \(!>\) are not supported/],
    ['{app="api"} |= "a" or "b"', 12, /"or" between line filter values is not supported/],
    ['{app="api"} |= ip("10.0.0.1")', 12, /ip\(\) line filters are not supported/],
    ['{app="api"}[5m]', 11, /syntax error: unexpected RANGE$/],
    ['rate({app="api"}[5m])', 0, /metric queries such as rate\(…\) are not supported/],
    ['count_over_time({app="api"} |= "x" [1m])', 0, /metric queries such as count_over_time\(…\) are not supported/],
    ['sum by (app) (rate({app="api"}[5m]))', 0, /metric queries such as sum\(…\) are not supported/],
    ['  topk(3, rate({app="api"}[5m]))', 2, /metric queries such as topk\(…\) are not supported/],
    ['1 + vector(1)', 0, /metric queries are not supported/],
  ])('rejects an unsupported feature with its position: %j', (text, position, reason) => {
    expect(rejectsAt(text, position)).toMatch(reason);
  });

  it('reports the line and column of an error on a later line', () => {
    expect(rejectsAt('{\n  app="api",\n  env~"a"\n}', 20)).toBe('parse error at line 3, col 6: syntax error: unexpected IDENTIFIER, expecting = or =~ or !~ or !=');
  });
});

describe('core > logql > format', () => {
  it('writes the canonical text', () => {
    const q = parseLogQuery('{ app = "api" ,level=~`warn|error` }|="timeout"  !=  "health" |~ `5\\d\\d` !~"x"');
    expect(formatLogQuery(q)).toBe('{app="api", level=~"warn|error"} |= "timeout" != "health" |~ "5\\\\d\\\\d" !~ "x"');
  });

  it.each([
    '{app="api"}',
    '{app="api", level=~"warn|error"} |= "timeout" != "health" |~ "5\\\\d\\\\d"',
    '{app!~"a|b", app!="c", env=~"(?i)prod.*"} !~ "(?i)debug" |= ""',
    '{app="tab\\there \\"quoted\\" back\\\\slash"} |= "new\\nline"',
    '{app="\\x00\\x1f\\x7f\\u0085\\u2028\\u200b\\ufeff"} |= "\\a\\b\\f\\v\\r"',
    '{app="café ✓ 日本 😀"} |= "\\U000e0001"',
    '{app=`raw \\d "quoted"`} |~ `\\bword\\b` != `\\`',
  ])('round-trips through parseLogQuery: %s', (text) => {
    const q = parseLogQuery(text);
    const formatted = formatLogQuery(q);
    expect(parseLogQuery(formatted)).toEqual(q);
    expect(formatLogQuery(parseLogQuery(formatted))).toBe(formatted);
  });

  it('escapes what Go escapes and keeps printable characters', () => {
    const q: LogQuery = { matchers: [{ name: 'a', op: '=', value: 'é\u0000\u0085\u2028😀"\\\n' }], filters: [] };
    expect(formatLogQuery(q)).toBe('{a="é\\x00\\u0085\\u2028😀\\"\\\\\\n"}');
  });

  it('round-trips pseudo-random strings', () => {
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '`', '\n', '\t', '\r', '\x00', '\x7f', '\u0085', 'é', '日', '😀', '\u2028', '\ufeff', '{', '}', '|', '~', '=', '!', '#', ','];
    let seed = 42;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 300; i++) {
      let value = '';
      const length = next(12);
      for (let j = 0; j < length; j++) value += alphabet[next(alphabet.length)];
      const q: LogQuery = {
        matchers: [
          { name: 'app', op: '=', value: 'api' },
          { name: 'v', op: '!=', value },
        ],
        filters: [
          { op: '|=', value },
          { op: '!=', value },
        ],
      };
      expect(parseLogQuery(formatLogQuery(q))).toEqual(q);
    }
  });
});
