import { BadRequestError } from '../../core/src/errors';
import { labelsProblem, parseLabelSet, type LabelLimits } from '../../core/src/label-set';

const limits: LabelLimits = { maxLabels: 15, maxLabelValueBytes: 1024, maxLabelNameBytes: 1024 };

describe('core > label set > parse', () => {
  it.each([
    ['{app="api",host="h1"}', { app: 'api', host: 'h1' }],
    [' { app = "api" ,\thost="h1" } ', { app: 'api', host: 'h1' }],
    ['{app="api",}', { app: 'api' }],
    ['{}', {}],
    ['{ }', {}],
    ['{_a1="x"}', { _a1: 'x' }],
    ['{app=`raw \\n "quoted"`}', { app: 'raw \\n "quoted"' }],
    ['{app=""}', { app: '' }],
    ['{app="a=b,c}"}', { app: 'a=b,c}' }],
  ])('parses %s', (text, expected) => {
    expect(parseLabelSet(text)).toEqual(expected);
  });

  it.each([
    ['\\n\\t\\r', '\n\t\r'],
    ['\\a\\b\\f\\v', '\x07\b\f\v'],
    ['\\"\\\\\\\'', '"\\\''],
    ['\\u00e9', 'é'],
    ['\\U0001F600', '😀'],
    ['\\x41\\x42', 'AB'],
    ['\\xc3\\xa9', 'é'],
    ['\\303\\251', 'é'],
    ['a\\x41b', 'aAb'],
    ['é✓', 'é✓'],
  ])('decodes Go escapes in %s', (escaped, value) => {
    expect(parseLabelSet(`{v="${escaped}"}`)).toEqual({ v: value });
  });

  it('keeps a label named __proto__ as an own property (labelsProblem then refuses it)', () => {
    const labels = parseLabelSet('{__proto__="x"}');
    expect(Object.keys(labels)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
    expect(labelsProblem(labels, limits)).toMatch(/reserved/);
  });

  it.each([
    ['', 0],
    ['app="api"', 0],
    ['{app="api"', 10],
    ['{app=~"api"}', 4],
    ['{app!="api"}', 4],
    ['{app!~"api"}', 4],
    ['{app="api",app="x"}', 11],
    ['{1app="x"}', 1],
    ['{app=api}', 5],
    ['{app="api"} x', 12],
    ['{app="api" host="h"}', 11],
    ['{app="unterminated}', 19],
    ['{app=`unterminated}', 5],
    ['{app="a\\qb"}', 7],
    ['{app="\\xff"}', 6],
    ['{app="ok\\xc3\\x28"}', 8],
    ['{app="\\x4"}', 6],
    ['{app="\\400"}', 6],
    ['{app="\\12"}', 6],
    ['{app="\\ud800"}', 6],
    ['{app="\\U00110000"}', 6],
    ['{app="line\nbreak"}', 10],
    ['{,}', 1],
  ])('rejects %j at position %d', (text, position) => {
    let error: unknown;
    try {
      parseLabelSet(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error).toMatchObject({ code: 'SILT_BAD_LABELS', status: 400, details: { position } });
    expect((error as Error).message).toContain(`at position ${position}`);
  });

  it('explains that only = matchers are allowed', () => {
    expect(() => parseLabelSet('{app=~"a.*"}')).toThrow(/only = matchers/);
  });
});

describe('core > label set > labels problem', () => {
  it('accepts valid labels', () => {
    expect(labelsProblem({ app: 'api', host: 'h1', _x: 'é' }, limits)).toBeNull();
    const fifteen: Record<string, string> = {};
    for (let i = 0; i < 15; i++) fifteen[`l${i}`] = 'v';
    expect(labelsProblem(fifteen, limits)).toBeNull();
    expect(labelsProblem({ app: 'x'.repeat(1024) }, limits)).toBeNull();
    expect(labelsProblem({ app: 'é'.repeat(512) }, limits)).toBeNull();
    expect(labelsProblem({ app: '😀'.repeat(256) }, limits)).toBeNull();
  });

  it.each([
    ['null', null, /must be an object/],
    ['undefined', undefined, /must be an object/],
    ['an array', [['app', 'api']], /must be an object/],
    ['a string', '{app="api"}', /must be an object/],
    ['a class instance', new Map([['app', 'api']]), /must be an object/],
    ['no labels', {}, /empty/],
    ['a bad name', { 'app-name': 'x' }, /"app-name" is invalid/],
    ['a name starting with a digit', { '1app': 'x' }, /"1app" is invalid/],
    ['an empty name', { '': 'x' }, /"" is invalid/],
    ['a reserved name', { __name__: 'x' }, /"__name__" is reserved/],
    ['a number value', { app: 1 }, /"app" must have a string value/],
    ['a null value', { app: null }, /"app" must have a string value, not null/],
    ['an empty value', { app: '' }, /"app" has an empty value/],
    ['a value over the byte limit', { app: 'x'.repeat(1025) }, /"app" has a value of 1025 bytes, over the 1024-byte limit/],
    ['a multi-byte value over the byte limit', { app: 'é'.repeat(513) }, /1026 bytes/],
    ['a lone surrogate', { app: 'a\ud800b' }, /"app" .*not valid UTF-8/],
  ])('refuses %s', (_name, labels, reason) => {
    expect(labelsProblem(labels, limits)).toMatch(reason);
  });

  it('refuses more labels than the limit, naming the count', () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 16; i++) many[`l${i}`] = 'v';
    expect(labelsProblem(many, limits)).toBe('stream has 16 labels, over the limit of 15');
  });

  it('refuses a name over the name limit', () => {
    expect(labelsProblem({ abcdef: 'x' }, { ...limits, maxLabelNameBytes: 5 })).toMatch(/"abcdef" is 6 bytes, over the 5-byte limit/);
  });
});
