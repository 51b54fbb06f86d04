import { requiredLiteral } from '../../core/src/plugins/builtin/required-literal';

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
