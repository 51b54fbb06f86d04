import { hasRun, requiredLiteral, requiredRun, runStartTest } from '../../core/src/plugins/builtin/prefilters';

describe('plugins > redact > a substring every match contains', () => {
  it.each([
    ['[\\w.+-]+@[\\w-]+\\.[\\w.]+', '@'],
    ['password=\\S+', 'password='],
    ['token: [a-f0-9]{32}', 'token: '],
    ['ab?cd', 'cd'],
    ['abc+d', 'abc'],
    ['x{2}yz', 'yz'],
    ['sk_live_[A-Za-z0-9]{24}', 'sk_live_'],
    ['\\bAKIA[0-9A-Z]{16}\\b', 'AKIA'],
    ['(foo|bar)baz', 'baz'],
    ['\\p{Greek}+key', 'key'],
    ['a\\.b\\-c', 'a.b-c'],
  ])('%s → %s', (pattern, literal) => expect(requiredLiteral(pattern)).toBe(literal));

  it.each([['\\b\\d{16}\\b'], ['foo|bar'], ['(?i)secret'], ['(?:foo|bar)baz'], ['\\Qa.b\\E'], ['a*'], ['[abc]'], ['.+']])('gives up on %s', (pattern) => expect(requiredLiteral(pattern)).toBeNull());

  it('every match of each pattern contains its literal', () => {
    const cases: [string, string[]][] = [
      ['[\\w.+-]+@[\\w-]+\\.[\\w.]+', ['bob@example.com', 'a.b+c@d-e.f.g']],
      ['ab?cd', ['acd', 'abcd']],
      ['abc+d', ['abcd', 'abcccd']],
      ['x{2}yz', ['xxyz']],
    ];
    for (const [pattern, samples] of cases) {
      const re = new RegExp(pattern, 'u');
      for (const s of samples) {
        expect(re.test(s)).toBe(true);
        expect(s.includes(requiredLiteral(pattern)!)).toBe(true);
      }
    }
  });
});

describe('plugins > redact > a test that tries only the start of each run', () => {
  it.each([
    ['[\\w.+-]+@[\\w-]+\\.[\\w.]+', '(?<![\\w.+-])[\\w.+-]+@[\\w-]+\\.[\\w.]+'],
    ['\\d+x', '(?<!\\d)\\d+x'],
    ['\\S*=secret', '(?<!\\S)\\S*=secret'],
    ['[a-c]{2,}z', '(?<![a-c])[a-c]{2,}z'],
    ['\\p{L}+:', '(?<!\\p{L})\\p{L}+:'],
  ])('%s is tested behind its class', (pattern, anchored) => expect(runStartTest(new RegExp(pattern, 'u')).source).toBe(anchored));

  it.each([['\\b\\d{16}\\b'], ['a+b'], ['[ab]{2,5}c'], ['\\d+x|y'], ['[ab]b?']])('%s stays as it is', (pattern) => {
    const re = new RegExp(pattern, 'u');
    expect(runStartTest(re)).toBe(re);
  });

  it('answers as the pattern on random lines, and drops the global flag', () => {
    const patterns = ['[\\w.+-]+@[\\w-]+\\.[\\w.]+', '\\d+x', '[ab]*c', '[a.]{2,}@b', '\\w+\\.(?:com|org)', '.+z'];
    const alphabet = 'ab.c@+-x1z9 .com';
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const p of patterns) {
      const re = new RegExp(p, 'gu');
      const fast = runStartTest(re);
      expect(fast.flags).not.toContain('g');
      for (let i = 0; i < 3000; i++) {
        let line = '';
        for (let n = Math.floor(rand() * 24); n > 0; n--) line += alphabet[Math.floor(rand() * alphabet.length)];
        re.lastIndex = 0;
        expect([p, line, fast.test(line)]).toEqual([p, line, re.test(line)]);
      }
    }
  });
});

describe('plugins > redact > a run of one class every match contains', () => {
  it.each([
    ['\\b\\d{16}\\b', 16, '0123456789'],
    ['[0-9a-f]{32}', 32, '0123456789abcdef'],
    ['sk_[\\w]{4}x\\d{3,}', 4, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz'],
    ['[\\u{2e}a-c]{5,9}', 5, '.abc'],
  ])('%s needs %i of [%s]', (pattern, length, members) => {
    const run = requiredRun(new RegExp(pattern, 'u'))!;
    expect(run.length).toBe(length);
    const inClass = [...Array(128).keys()].filter((c) => run.table[c] === 1).map((c) => String.fromCharCode(c)).join('');
    expect(inClass).toBe([...members].sort().join(''));
  });

  it.each([['\\d+'], ['a{3}|b'], ['[^0-9]{4}'], ['[é-ü]{3}'], ['(?:ab){3}']])('%s has none', (pattern) => expect(requiredRun(new RegExp(pattern, 'u'))).toBeNull());

  it('letters under case folding have none, digits keep theirs', () => {
    expect(requiredRun(new RegExp('[a-z]{4}', 'iu'))).toBeNull();
    expect(requiredRun(new RegExp('\\d{4}', 'iu'))!.length).toBe(4);
  });

  it('finds a run exactly when one is there, at any place and length', () => {
    const run = requiredRun(/\d{5}/u)!;
    let seed = 11;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20000; i++) {
      let line = '';
      for (let n = Math.floor(rand() * 40); n > 0; n--) line += rand() < 0.6 ? String(Math.floor(rand() * 10)) : 'x-é😀'[Math.floor(rand() * 4)];
      expect([line, hasRun(line, run)]).toEqual([line, /\d{5}/.test(line)]);
    }
  });
});
