import type { LogSelectorExpr } from '../../core/src/logql/ast';
import { parseExpr } from '../../core/src/logql/parser';
import { compilePipeline } from '../../core/src/logql/pipeline';
import { BadRequestError } from '../../core/src/errors';
import type { Labels } from '../../core/src/labels';

const STREAM: Labels = { app: 'api', env: 'prod' };

/** The labels after `pipeline`, without the stream's own. */
function extracted(pipeline: string, line: string, stream: Labels = STREAM): Labels | null {
  const e = parseExpr(`{app="api"} ${pipeline}`) as LogSelectorExpr;
  const out = compilePipeline(e.pipeline).run(0n, line, stream, undefined);
  if (out === null) return null;
  const labels = { ...out.labels };
  for (const k of Object.keys(stream)) if (labels[k] === stream[k]) delete labels[k];
  return labels;
}

const API_LINE =
  '{"level":"info","user":{"id":4,"name":"dave","roles":["dev"]},"request":{"headers":{"User-Agent":"curl","X-Req-Id":"ab"},"query":""},"ok":true,"n":null,"lat":1.50}';

describe('logql > pipeline > json', () => {
  test('every scalar field, nested keys joined with _, names sanitized; arrays and nulls skipped; numbers as written', () => {
    expect(extracted('| json', API_LINE)).toEqual({
      level: 'info',
      user_id: '4',
      user_name: 'dave',
      request_headers_User_Agent: 'curl',
      request_headers_X_Req_Id: 'ab',
      request_query: '',
      ok: 'true',
      lat: '1.50',
    });
  });

  test('strings are unescaped; an invalid escape gives ""', () => {
    expect(extracted('| json', '{"msg":"tab\\there \\u00e9 \\"q\\" \\ud83d\\ude80","bad":"a\\x"}')).toEqual({ msg: 'tab\there é "q" 🚀', bad: '' });
  });

  test('the first of duplicate keys wins; a taken name gets _extracted; keys are sanitized', () => {
    expect(extracted('| json', '{"a":1,"a":2}')).toEqual({ a: '1' });
    expect(extracted('| json', '{"app":"web","nested":{"app":1}}')).toEqual({ app_extracted: 'web', nested_app: '1' });
    expect(extracted('| json', '{"1st":"x","my-key":"y","é":"z","  ":"w"}')).toEqual({ _1st: 'x', my_key: 'y', _: 'z' });
  });

  test('a syntax error keeps the labels found before it and marks JSONParserErr with jsonparser\'s message', () => {
    expect(extracted('| json', '{"level":"error","msg":"truncated')).toEqual({
      level: 'error',
      __error__: 'JSONParserErr',
      __error_details__: 'Value is string, but can\'t find closing \'"\' symbol',
    });
    expect(extracted('| json', '{"level":"warn" "msg":"missing comma"}')).toEqual({
      level: 'warn',
      __error__: 'JSONParserErr',
      __error_details__: "Value looks like object, but can't find closing '}' symbol",
    });
    expect(extracted('| json', 'not json at all')).toEqual({ __error__: 'JSONParserErr', __error_details__: "Value looks like object, but can't find closing '}' symbol" });
    expect(extracted('| json', '{"a":tru}')).toEqual({ __error__: 'JSONParserErr', __error_details__: 'Unknown value type' });
    expect(extracted('| json', '{"a":"x","b":')).toEqual({ a: 'x', __error__: 'JSONParserErr', __error_details__: 'Malformed JSON error' });
  });

  test('what jsonparser does not check is accepted: trailing text, a trailing comma in a nested object', () => {
    expect(extracted('| json', '{"a":1} trailing')).toEqual({ a: '1' });
    expect(extracted('| json', '{"a":{"b":1,}}')).toEqual({ a_b: '1' });
    expect(extracted('| json', '{}')).toEqual({});
  });

  test('params read paths: nested keys, indexes, quoted keys; objects and arrays as JSON text, null and missing as ""', () => {
    expect(
      extracted(
        '| json first_role="user.roles[0]", name="user.name", headers="request.headers", ua=`request.headers["User-Agent"]`, missing="nope", nul="n", roles="user.roles", level',
        API_LINE,
      ),
    ).toEqual({
      first_role: 'dev',
      name: 'dave',
      headers: '{"User-Agent":"curl","X-Req-Id":"ab"}',
      ua: 'curl',
      missing: '',
      nul: '',
      roles: '["dev"]',
      level: 'info',
    });
  });

  test('params on a line that does not start like JSON: JSONParserErr without details', () => {
    expect(extracted('| json a', 'plain text')).toEqual({ __error__: 'JSONParserErr' });
    expect(extracted('| json app', '{"app":"web"}')).toEqual({ app_extracted: 'web' });
  });

  test('an invalid param path is a 400', () => {
    expect(() => compilePipeline([{ kind: 'json', params: [{ label: 'x', path: 'a..b' }] }])).toThrow(BadRequestError);
    expect(() => compilePipeline([{ kind: 'json', params: [{ label: 'x', path: 'a[1.5]' }] }])).toThrow(BadRequestError);
  });
});

describe('logql > pipeline > logfmt', () => {
  test('pairs, quoted values with escapes; standalone keys and empty values only with --keep-empty', () => {
    const line = 'level=info msg="hello \\"world\\" \\u00e9" flag empty= n=5';
    expect(extracted('| logfmt', line)).toEqual({ level: 'info', msg: 'hello "world" é', n: '5' });
    expect(extracted('| logfmt --keep-empty', line)).toEqual({ level: 'info', msg: 'hello "world" é', flag: '', empty: '', n: '5' });
  });

  test('invalid pairs are skipped; --strict stops at the first with LogfmtParserErr and a byte position', () => {
    const line = 'a=1 =oops b=2 foo=bar=baz c=3';
    expect(extracted('| logfmt', line)).toEqual({ a: '1', b: '2', c: '3' });
    expect(extracted('| logfmt --strict', line)).toEqual({ a: '1', __error__: 'LogfmtParserErr', __error_details__: "logfmt syntax error at pos 5 : unexpected '='" });
    expect(extracted('| logfmt --strict', 'msg="naïve" x=1=2')).toEqual({ msg: 'naïve', __error__: 'LogfmtParserErr', __error_details__: "logfmt syntax error at pos 17 : unexpected '='" });
    expect(extracted('| logfmt --strict', 'a="xyz')).toEqual({ __error__: 'LogfmtParserErr', __error_details__: 'logfmt syntax error at pos 7 : unterminated quoted value' });
    expect(extracted('| logfmt --strict', 'a"b=1')).toEqual({ __error__: 'LogfmtParserErr', __error_details__: 'logfmt syntax error at pos 2 : unexpected \'"\'' });
    expect(extracted('| logfmt --strict | __error__=""', line)).toBeNull();
  });

  test('the first of duplicate keys wins; a taken name gets _extracted; keys are sanitized', () => {
    expect(extracted('| logfmt', 'a=1 a=2 app=x my.key=v')).toEqual({ a: '1', app_extracted: 'x', my_key: 'v' });
  });

  test('params: each preset to "", renamed keys, the last occurrence wins', () => {
    expect(extracted('| logfmt st="status", queue, missing', 'queue=a status=ok status=failed')).toEqual({ st: 'failed', queue: 'a', missing: '' });
    expect(extracted('| logfmt --strict msg, code', 'msg=x =bad code=1')).toEqual({ msg: 'x', code: '', __error__: 'LogfmtParserErr', __error_details__: "logfmt syntax error at pos 7 : unexpected '='" });
  });
});
