/** The token filter of v2 frames: the tokenizer, the required tokens of a substring needle, the hash and the bloom filter. */
import {
  TOKEN_FILTER_BITS_PER_TOKEN,
  TOKEN_FILTER_HASHES,
  TokenFilterBuilder,
  isDigitsToken,
  filterMayContain,
  hashTokens,
  isAsciiToken,
  requiredTokens,
  tokenize,
} from '../../core/src/token-filter';
import { rng } from '../support/rng';

const M32 = 0xffffffffn;
const M64 = (1n << 64n) - 1n;

/** FNV-1a 64 from its definition, over a string's UTF-8 bytes. */
function fnv1a64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(s, 'utf8')) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & M64;
  return h;
}

/** murmur3's fmix32, in BigInt arithmetic. */
function fmix32(v: bigint): bigint {
  let h = v;
  for (const [shift, mul] of [[16n, 0x85ebca6bn], [13n, 0xc2b2ae35n]] as const) h = ((h ^ (h >> shift)) * mul) & M32;
  return h ^ (h >> 16n);
}

// Characters that stress the rule: token ASCII, separators, non-ASCII letters and digits, a
// non-ASCII separator, a combining mark, astral letter and symbol, lone surrogates of both halves.
const ALPHABET = ['a', 'b', 'Z', '0', '7', '_', ' ', '.', '-', '=', '/', 'é', 'ß', '日', '٣', '—', '\u0301', '𝐀', '🚀', '\ud835', '\udc00'];

function randomText(rand: () => number, max: number): string {
  let s = '';
  const n = Math.floor(rand() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

function addLine(b: TokenFilterBuilder, line: string): void {
  const bytes = Buffer.from(line);
  b.addUtf8(bytes, 0, bytes.length);
}

describe('core/token-filter', () => {
  describe('tokenize', () => {
    it('splits at every character that is not a letter, a digit or an underscore, case kept', () => {
      expect(tokenize('GET /users/42?x=a_b HTTP/1.1')).toEqual(['GET', 'users', '42', 'x', 'a_b', 'HTTP', '1', '1']);
      expect(tokenize('Error: Connection-Reset')).toEqual(['Error', 'Connection', 'Reset']);
      expect(tokenize('')).toEqual([]);
      expect(tokenize(' .-/ ')).toEqual([]);
    });

    it('keeps Unicode letters and decimal digits in tokens and splits at other code points', () => {
      expect(tokenize('héllo wörld — 日本語 🚀 ٣٤')).toEqual(['héllo', 'wörld', '日本語', '٣٤']);
      // An astral letter is one code point of two UTF-16 units; an emoji separates.
      expect(tokenize('x𝐀y a🚀b')).toEqual(['x𝐀y', 'a', 'b']);
      // A combining mark is no letter (VictoriaLogs: unicode.IsLetter), nor is a lone surrogate.
      expect(tokenize('e\u0301t a\ud800b c\udc00d')).toEqual(['e', 't', 'a', 'b', 'c', 'd']);
      // Letter-like numbers (Nl, No) are not decimal digits.
      expect(tokenize('Ⅻ²')).toEqual([]);
    });
  });

  describe('requiredTokens', () => {
    it('keeps only tokens with an ASCII separator on both sides within the needle', () => {
      expect(requiredTokens('rror')).toEqual([]);
      expect(requiredTokens('foo bar baz')).toEqual(['bar']);
      expect(requiredTokens(' foo ')).toEqual(['foo']);
      expect(requiredTokens('a=1, b=2, c')).toEqual(['1', 'b', '2']);
      expect(requiredTokens(' x x ')).toEqual(['x']);
      expect(requiredTokens('')).toEqual([]);
    });

    it('never counts a non-ASCII code point as a boundary, while non-ASCII tokens between ASCII ones count', () => {
      expect(requiredTokens('«foo»')).toEqual([]);
      expect(requiredTokens('x —foo— y')).toEqual([]);
      expect(requiredTokens('x — foo — y')).toEqual(['foo']);
      expect(requiredTokens('a 日本語 b')).toEqual(['日本語']);
      expect(requiredTokens('\udc00foo ')).toEqual([]);
    });

    it('gives, for random lines and needles, only tokens of every line that contains the needle (UTF-16 or UTF-8 substring)', () => {
      const rand = rng(10);
      let checked = 0;
      for (let round = 0; round < 20000; round++) {
        const line = randomText(rand, 24);
        const start = Math.floor(rand() * (line.length + 1));
        // Mostly real substrings (some cutting a surrogate pair), sometimes a needle of its own.
        const needle = rand() < 0.8 ? line.slice(start, start + Math.floor(rand() * 12)) : randomText(rand, 8);
        const required = requiredTokens(needle);
        const bytesMatch = Buffer.from(line).includes(Buffer.from(needle));
        if (!line.includes(needle) && !bytesMatch) continue;
        const tokens = new Set(tokenize(line));
        for (const t of required) expect({ line, needle, t, found: tokens.has(t) }).toEqual({ line, needle, t, found: true });
        if (required.length > 0) checked++;
      }
      expect(checked).toBeGreaterThan(1000);
    });
  });

  describe('hashTokens', () => {
    it('is FNV-1a 64 over the UTF-8 bytes, each half through fmix32', () => {
      expect(fnv1a64('a')).toBe(0xaf63dc4c8601ec8cn);
      expect(fnv1a64('foobar')).toBe(0x85944171f73967e8n);
      const tokens = ['a', 'foobar', 'GET', 'héllo', '日本語', 'x𝐀y', 'blk_1073741825', 'x'.repeat(300)];
      const hashes = hashTokens(tokens);
      tokens.forEach((t, i) => {
        const h = fnv1a64(t);
        expect([BigInt(hashes[2 * i]!), BigInt(hashes[2 * i + 1]!)]).toEqual([fmix32(h >> 32n), fmix32(h & M32)]);
      });
    });
  });

  describe('TokenFilterBuilder and filterMayContain', () => {
    it('sizes the filter from the distinct tokens and finds every one of them', () => {
      const b = new TokenFilterBuilder();
      const rand = rng(11);
      const lines = Array.from({ length: 5000 }, (_, i) => `req ${i} user_${i % 300} GET /api/v${i % 3} ok ${randomText(rand, 12)}`);
      for (const l of lines) addLine(b, l);
      const distinct = new Set(lines.flatMap(tokenize).filter((t) => !isDigitsToken(t)));
      // The builder splits the lines' UTF-8 bytes exactly as tokenize splits the strings, and leaves out tokens of digits only.
      expect(b.distinct).toBe(distinct.size);
      const filter = b.build();
      expect(filter.bitCount).toBe(Math.ceil((distinct.size * TOKEN_FILTER_BITS_PER_TOKEN) / 8) * 8);
      expect(filter.hashes).toBe(TOKEN_FILTER_HASHES);
      for (const t of distinct) expect(filterMayContain(filter, hashTokens([t]))).toBe(true);
      expect(filterMayContain(filter, hashTokens([...distinct]))).toBe(true);
      expect(filterMayContain(filter, hashTokens([]))).toBe(true);
      // The builder starts over after build.
      expect(b.distinct).toBe(0);
      expect(b.build().bitCount).toBe(0);
    });

    it('rules out absent words at about the rate its parameters give', () => {
      const b = new TokenFilterBuilder();
      for (let i = 0; i < 20000; i++) addLine(b, `w${i}`);
      const filter = b.build();
      let positives = 0;
      const probes = 400_000;
      for (let i = 0; i < probes; i++) if (filterMayContain(filter, hashTokens([`absent${i}`]))) positives++;
      const k = TOKEN_FILTER_HASHES;
      const expected = (1 - Math.exp(-k / TOKEN_FILTER_BITS_PER_TOKEN)) ** k;
      expect(positives / probes).toBeGreaterThan(expected / 2);
      expect(positives / probes).toBeLessThan(expected * 1.5);
    });

    it('leaves out tokens of ASCII digits only, and keeps every other token with a digit', () => {
      const b = new TokenFilterBuilder();
      addLine(b, 'pid 4711 took 12ms at 2017-12-23 in ७७ worker_2 0x1f');
      expect(b.distinct).toBe(['pid', 'took', '12ms', 'at', 'in', '७७', 'worker_2', '0x1f'].length);
      const filter = b.build();
      for (const t of ['12ms', '७७', 'worker_2', '0x1f']) expect(filterMayContain(filter, hashTokens([t]))).toBe(true);
      expect(['4711', '2017', '12', '23', '0', '00'].map(isDigitsToken)).toEqual([true, true, true, true, true, true]);
      expect(['12ms', '७७', '', '_1'].map(isDigitsToken)).toEqual([false, false, false, false]);
    });

    it('says no to any token when the frame had none', () => {
      const filter = new TokenFilterBuilder().build();
      expect(filter).toEqual({ bits: new Uint8Array(0), bitCount: 0, hashes: TOKEN_FILTER_HASHES });
      expect(filterMayContain(filter, hashTokens(['a']))).toBe(false);
      expect(filterMayContain(filter, hashTokens([]))).toBe(true);
    });

    it('tells ASCII tokens apart', () => {
      expect(isAsciiToken('abc_1')).toBe(true);
      expect(isAsciiToken('héllo')).toBe(false);
    });
  });
});
