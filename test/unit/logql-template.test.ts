import { BadRequestError } from '../../core/src/errors';
import { Template, TemplateExecError } from '../../core/src/logql/template/template';
import { GoMap, type GoValue } from '../../core/src/logql/template/values';

/** 2021-11-02T10:20:30.123456789Z */
const TS = 1635848430123456789n;

function render(text: string, labels: Record<string, string> = {}, line = 'the line', ts = TS): string {
  const t = new Template(text, 'line', 'invalid line template');
  return t.execute(new GoMap('string', new Map<string, GoValue>(Object.entries(labels))), { line: () => line, timestamp: () => ts });
}

function execError(text: string, labels: Record<string, string> = {}): string {
  try {
    render(text, labels);
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateExecError);
    return (err as Error).message;
  }
  throw new Error('expected an execution error');
}

describe('logql > template > syntax', () => {
  test('fields, missing labels, __line__, pipes, trim markers and comments', () => {
    expect(render('{{.a}}-{{.missing}}-{{ __line__ }}', { a: 'x' })).toBe('x--the line');
    expect(render('{{ .path | replace " " "_" | trunc 5 | upper }}', { path: 'a b c d e' })).toBe('A_B_C');
    expect(render('a  {{- .x -}}  b {{/* note */}}c', { x: '1' })).toBe('a1b c');
    expect(render('{{ $v := .a }}[{{ $v }}]{{ $v = "z" }}{{ $v }}', { a: 'q' })).toBe('[q]z');
    expect(render('{{ . }}', { b: '2', a: '1' })).toBe('map[a:1 b:2]');
  });

  test('if / else if / else and the comparison and logic functions', () => {
    const t = '{{ if eq .status "failed" }}FAIL {{ .err }}{{ else if and (ne .status "ok") (not .err) }}odd{{ else }}ok{{ end }}';
    expect(render(t, { status: 'failed', err: 'disk full' })).toBe('FAIL disk full');
    expect(render(t, { status: 'retry' })).toBe('odd');
    expect(render(t, { status: 'ok' })).toBe('ok');
    expect(render('{{ if or (contains "he" "hello") .x }}yes{{ end }}')).toBe('yes');
    expect(render('{{ eq .a "x" "y" }} {{ lt 1 2 }} {{ ge 2.5 2.5 }} {{ and .a .b }}|{{ or .b .a }}', { a: 'y', b: '' })).toBe('true true true |y');
  });

  test('range over a decoded JSON array, with break and continue; range over an int', () => {
    const labels = { queries: '[{"query":"a"},{"query":"skip"},{"query":"b"},{"query":"stop"},{"query":"c"}]' };
    expect(render('{{ range $q := fromJson .queries }}{{ if eq $q.query "skip" }}{{ continue }}{{ end }}{{ if eq $q.query "stop" }}{{ break }}{{ end }}{{ $q.query }} {{ end }}', labels)).toBe('a b ');
    expect(render('{{ range $i, $e := fromJson .queries }}{{ $i }}{{ end }}', labels)).toBe('01234');
    expect(render('{{ range fromJson .none }}x{{ else }}empty{{ end }}')).toBe('empty');
    expect(render('{{ range 3 }}{{ . }}{{ end }}')).toBe('012');
  });

  test('parse errors are 400s', () => {
    for (const bad of ['{{ nope }}', '{{ .a', '{{ if .a }}x', '{{ end }}', '{{ $x }}', '{{ .a "b" | "c" }}', '{{ break }}', '{{ define "x" }}{{ end }}']) {
      expect(() => new Template(bad, 'line', 'invalid line template')).toThrow(BadRequestError);
    }
  });
});

describe('logql > template > values are printed as Go prints them', () => {
  test('floats with %v, ints, bools', () => {
    expect(render('{{ .b | bytes }} {{ .s | bytes }} {{ .d | duration }} {{ .n | duration_seconds }}', { b: '12.5MB', s: '14.9KB', d: '2m58s', n: '898ns' })).toBe('1.25e+07 14900 178 8.98e-07');
    expect(render('{{ 1.0 }} {{ 1e6 }} {{ 123456.5 }} {{ 0.000012 }} {{ 42 }} {{ true }}')).toBe('1 1e+06 123456.5 1.2e-05 42 true');
  });

  test('printf', () => {
    expect(render('{{ printf "%s=%d %.2f|%5s|%-5s|%05d|%x|%q|%v|%t" "a" 42 3.14159 "ab" "cd" 42 255 "q\\"t" 1.5 true }}')).toBe('a=42 3.14|   ab|cd   |00042|ff|"q\\"t"|1.5|true');
    expect(render('{{ printf "%d %s" "x" }}')).toBe('%!d(string=x) %!s(MISSING)');
    expect(render('{{ printf "%-10.3s|" .a }}', { a: 'abcdef' })).toBe('abc       |');
  });

  test('__timestamp__ prints as a time in UTC and formats with Go layouts', () => {
    expect(render('{{ __timestamp__ }}')).toBe('2021-11-02 10:20:30.123456789 +0000 UTC');
    expect(render('{{ __timestamp__ | date "2006-01-02T15:04:05.00Z07:00 Mon Jan _2 3PM .000" }}')).toBe('2021-11-02T10:20:30.12Z Tue Nov  2 10AM .123');
    expect(render('{{ __timestamp__ | date "04:05" }}', {}, '', 7140n * 1_000_000_000n)).toBe('59:00');
    expect(render('{{ __timestamp__ | unixEpoch }} {{ __timestamp__ | unixEpochMillis }} {{ __timestamp__ | unixEpochNanos }}')).toBe('1635848430 1635848430123 1635848430123456789');
  });

  test('toDate, toDateInZone and unixToTime', () => {
    expect(render('{{ toDate "2006-01-02" "2021-11-02" | unixEpoch }}')).toBe('1635811200');
    expect(render('{{ toDateInZone "2006-01-02 15:04" "UTC" "2021-11-02 10:00" }}')).toBe('2021-11-02 10:00:00 +0000 UTC');
    expect(render('{{ toDateInZone "2006-01-02 15:04" "Europe/Paris" "2021-07-02 10:00" | unixEpoch }}')).toBe('1625212800');
    expect(render('{{ toDate "2006-01-02" "not a date" }}')).toBe('0001-01-01 00:00:00 +0000 UTC');
    expect(render('{{ date "2006-01-02" (unixToTime .from) }}', { from: '1679577215' })).toBe('2023-03-23');
    expect(render('{{ unixToTime "19373" | unixEpoch }} {{ unixToTime "1673798889902" | unixEpochMillis }}')).toBe('1673827200 1673798889902');
  });
});

describe('logql > template > string functions', () => {
  test('Loki\'s documented examples', () => {
    expect(render('{{ alignLeft 5 "hello world"}}|{{ alignLeft 5 "hi"}}|{{ alignRight 5 "hello world"}}|{{ alignRight 5 "hi"}}')).toBe('hello|hi   |world|   hi');
    expect(render('{{ default "-" "" }} {{ default "-" "foo" }} {{ .x | default "-" }}')).toBe('- foo -');
    expect(render('{{ repeat 3 "hello" }} {{ replace "hello" "world" "hello world" }} {{ substr 0 5 "hello world"}}{{ substr 6 11 "hello world"}}')).toBe('hellohellohello world world helloworld');
    expect(render('{{ title "hello world"}} {{ lower "HELLO"}} {{ upper "hello"}} {{ trim "   hello    " }}|')).toBe('Hello World hello HELLO hello|');
    expect(render('{{ trimAll "$" "$5.00" }} {{ trimPrefix "-" "-hello" }} {{ trimSuffix "-" "hello-" }} {{ trunc 5 "hello world"}} {{ trunc -5 "hello world"}}')).toBe('5.00 hello hello hello world');
    expect(render('{{ indent 2 "a\\nb" }}|{{ nindent 2 "c" }}')).toBe('  a\n  b|\n  c');
    expect(render('{{ b64enc "héllo" }} {{ b64dec "aMOpbGxv" }} {{ b64dec "aGk" }}')).toBe('aMOpbGxv héllo hi');
    expect(render('{{ urlencode "a b&c=é" }} {{ urldecode "a+b%26c%3D%C3%A9" }}')).toBe('a+b%26c%3D%C3%A9 a b&c=é');
    expect(render('{{ ToUpper "a" }}{{ ToLower "B" }}{{ Replace "aaa" "a" "b" 2 }}{{ Trim "xxhixx" "x" }}{{ TrimLeft "xxhi" "x" }}{{ TrimRight "hixx" "x" }}{{ TrimPrefix "pre-x" "pre-" }}{{ TrimSuffix "x-suf" "-suf" }}{{ TrimSpace " s " }}')).toBe('Abbbahihihixxs');
  });

  test('regex functions, with $1 expansion and Go\'s empty-match rule', () => {
    expect(render('{{ regexReplaceAll "(a*)bc" .s "${1}a" }}', { s: 'aabcxbc' })).toBe('aaaxa');
    expect(render('{{ regexReplaceAllLiteral "(ts=)" .s "timestamp=" }}', { s: 'ts=1 ts=2' })).toBe('timestamp=1 timestamp=2');
    expect(render('{{ regexReplaceAll "b*" "abc" "-" }}')).toBe('-a-c-');
    expect(render('{{ count "a|b" "abab" }} {{ count "o" "foo" }} {{ __line__ | count "XYZ" }}', {}, 'XYZ..XYZ')).toBe('4 2 2');
    expect(render('{{ regexReplaceAll "\\\\$.*" "dfs.DataNode$DataXceiver" "" }}')).toBe('dfs.DataNode');
  });

  test('len counts bytes; substr and trunc slice bytes as sprig does', () => {
    expect(render('{{ len "héllo" }} {{ __line__ | len }}', {}, 'tick k=0 value=0 phase=first ok')).toBe('6 31');
    expect(render('{{ substr 0 15 __line__ }}|{{ __line__ | trimPrefix "Dec" | trunc 10 }}', {}, 'Dec 10 06:55:46 LabSZ sshd[24200]')).toBe('Dec 10 06:55:46| 10 06:55:');
  });
});

describe('logql > template > math functions', () => {
  test('sprig\'s int arithmetic with cast conversions of strings', () => {
    expect(render('{{ add 3 2 5 }} {{ sub 5 2 }} {{ mul 5 2 3 }} {{ div 10 3 }} {{ mod 10 3 }} {{ add "7" .n "1.9" }}', { n: '0x10' })).toBe('10 3 30 3 1 24');
    expect(render('{{ max 1 2 3 }} {{ min 1 2 3 }} {{ "3" | int }} {{ "3.5" | float64 }} {{ int "abc" }}')).toBe('3 1 3 3.5 0');
  });

  test('float arithmetic through decimals, rounding', () => {
    expect(render('{{ addf 3.5 2 5 }} {{ addf 0.1 0.2 }} {{ subf 5.5 2 1.5 }} {{ mulf 5.5 2 2.5 }} {{ divf 10 2 4 }} {{ divf 1 3 }}')).toBe('10.5 0.3 2 27.5 1.25 0.3333333333333333');
    expect(render('{{ maxf 1 2.5 3 }} {{ minf 1 2.5 3 }} {{ ceil 123.001 }} {{ floor 123.9999 }} {{ round 123.555555 3 }} {{ round 123.88571428571 5 .2 }}')).toBe('3 1 124 123 123.556 123.88572');
  });
});

describe('logql > template > execution errors have Go\'s messages', () => {
  test('calls that fail or panic', () => {
    expect(execError('{{ div 1 0 }}')).toBe('template: line:1:3: executing "line" at <div 1 0>: error calling div: runtime error: integer divide by zero');
    expect(render('{{ substr 0 20 "short" }}')).toBe('short');
    expect(execError('{{ substr -1 20 "short" }}')).toBe('template: line:1:3: executing "line" at <substr -1 20 "short">: error calling substr: runtime error: slice bounds out of range [:20] with length 5');
    expect(execError('{{ .a | bytes }}', { a: 'n/a' })).toBe('template: line:1:8: executing "line" at <bytes>: error calling bytes: strconv.ParseFloat: parsing "": invalid syntax');
    expect(execError('{{ eq .a 1 }}', { a: 'x' })).toBe('template: line:1:3: executing "line" at <eq .a 1>: error calling eq: incompatible types for comparison');
  });

  test('wrong types and field access', () => {
    expect(execError('{{ trunc .n .s }}', { n: '5', s: 'x' })).toBe('template: line:1:9: executing "line" at <.n>: wrong type for value; expected int; got string');
    expect(execError('{{ trunc "5" .s }}')).toBe('template: line:1:9: executing "line" at <"5">: expected integer; found "5"');
    expect(execError('{{ .a.b }}', { a: 'x' })).toBe('template: line:1:3: executing "line" at <.a.b>: can\'t evaluate field b in type string');
    expect(execError('{{ repeat 2 }}')).toBe('template: line:1:3: executing "line" at <repeat>: wrong number of args for repeat: want 2 got 1');
  });
});
