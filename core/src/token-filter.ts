/**
 * The token filter of a v2 frame (docs/FORMAT.md, "Token filter"): a bloom filter of the word tokens
 * of a frame's lines, so a substring line filter can skip a frame without decompressing it. Tokens
 * split as VictoriaLogs splits them: maximal runs of letters, digits and `_`, case kept; tokens of
 * ASCII digits only are left out (numbers are most of a log's distinct tokens, ~94% on Loghub).
 */

/** Bits of filter per distinct token; with TOKEN_FILTER_HASHES positions the false-positive rate is about 0.05%. */
export const TOKEN_FILTER_BITS_PER_TOKEN = 16;
/** Bit positions set per token (k). */
export const TOKEN_FILTER_HASHES = 11;

/** A frame's filter as stored: `bitCount` bits (a multiple of 8, 0 for a frame without tokens), `hashes` positions per token. */
export interface TokenFilter {
  bits: Uint8Array;
  bitCount: number;
  hashes: number;
}

// ASCII token characters: letters, digits, underscore. Every other ASCII character separates tokens.
const ASCII_TOKEN = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  ASCII_TOKEN[c] = /[A-Za-z0-9_]/.test(ch) ? 1 : 0;
}
const LETTER_OR_DIGIT = /^[\p{L}\p{Nd}]$/u;

/** Unicode version whose letter and digit tables this process tokenizes with, as [major, minor]. */
export const UNICODE_VERSION: readonly [number, number] = parseUnicodeVersion(process.versions.unicode);

function parseUnicodeVersion(v: string | undefined): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(v ?? '');
  return m === null ? [0, 0] : [Math.min(255, Number(m[1])), Math.min(255, Number(m[2]))];
}

// Width in UTF-16 units of the token character at s[i], or 0 when s[i] starts no token character
// (a lone surrogate is none: it is written as U+FFFD).
function tokenCharWidth(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 128) return ASCII_TOKEN[c]!;
  const cp = s.codePointAt(i)!;
  return isTokenCodePoint(cp) ? (cp > 0xffff ? 2 : 1) : 0;
}

const FNV_HI = 0xcbf29ce4 | 0;
const FNV_LO = 0x84222325;
// The two 32-bit halves of the last hashBytes, returned here so hashing allocates nothing.
let hashHi = 0;
let hashLo = 0;

/** murmur3's 32-bit finalizer: spreads FNV's weak low bits over the whole word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * FNV-1a 64 over buf[start, end), kept as two 32-bit halves so no BigInt is made; leaves fmix32
 * of its high and low halves in hashHi and hashLo.
 */
function hashBytes(buf: Uint8Array, start: number, end: number): void {
  // offset basis 0xcbf29ce484222325; h *= 0x100000001b3 is h·0x1b3 + (h << 40) mod 2^64
  let hi = FNV_HI;
  let lo = FNV_LO;
  for (let i = start; i < end; i++) {
    lo = (lo ^ buf[i]!) >>> 0;
    const m = lo * 0x1b3;
    hi = (Math.imul(hi, 0x1b3) + (lo << 8) + Math.floor(m / 0x100000000)) | 0;
    lo = m >>> 0;
  }
  hashHi = fmix32(hi >>> 0);
  hashLo = fmix32(lo);
}

// Token class of each BMP code point, filled on first sight: 0 unknown, 1 token character, 2 separator.
const BMP_CLASS = new Uint8Array(0x10000);
const ASTRAL_CLASS = new Map<number, boolean>();

function isTokenCodePoint(cp: number): boolean {
  if (cp < 0x10000) {
    if (BMP_CLASS[cp] === 0) BMP_CLASS[cp] = LETTER_OR_DIGIT.test(String.fromCharCode(cp)) ? 1 : 2;
    return BMP_CLASS[cp] === 1;
  }
  let known = ASTRAL_CLASS.get(cp);
  if (known === undefined) ASTRAL_CLASS.set(cp, (known = LETTER_OR_DIGIT.test(String.fromCodePoint(cp))));
  return known;
}

/**
 * The non-ASCII UTF-8 character at buf[i] (buf[i] ≥ 0x80): its byte length, negated when it is no
 * token character. A byte that starts no valid sequence counts as a one-byte separator.
 */
function utf8Char(buf: Uint8Array, i: number, end: number): number {
  const b = buf[i]!;
  const n = b >= 0xf8 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
  if (n === 1 || i + n > end) return -1;
  let cp = b & (0x7f >> n);
  for (let k = 1; k < n; k++) cp = (cp << 6) | (buf[i + k]! & 0x3f);
  return isTokenCodePoint(cp) ? n : -n;
}

/**
 * Calls `each(start, end)` for every token of s, a maximal run of token characters, in order;
 * returns nothing, so a line is split without making a substring.
 */
function scanTokens(s: string, each: (start: number, end: number) => void): void {
  const n = s.length;
  let i = 0;
  while (i < n) {
    let w = tokenCharWidth(s, i);
    if (w === 0) {
      i += s.codePointAt(i)! > 0xffff ? 2 : 1;
      continue;
    }
    const start = i;
    do i += w;
    while (i < n && (w = tokenCharWidth(s, i)) > 0);
    each(start, i);
  }
}

/** Every token of `text`, in order, repeats kept. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  scanTokens(text, (start, end) => out.push(text.slice(start, end)));
  return out;
}

/**
 * The tokens every line containing `needle` (as a substring, case-sensitive) must have: the
 * needle's tokens with an ASCII non-token character right before and right after them within the
 * needle. A token at either end of the needle is not one (the line may extend it), nor one next to
 * a non-ASCII separator (its class may differ under the writer's Unicode version).
 */
export function requiredTokens(needle: string): string[] {
  const out = new Set<string>();
  scanTokens(needle, (start, end) => {
    if (start === 0 || end === needle.length) return;
    if (needle.charCodeAt(start - 1) >= 128 || needle.charCodeAt(end) >= 128) return;
    out.add(needle.slice(start, end));
  });
  return [...out];
}

/** True when the token is made of ASCII digits only: the builder leaves such tokens out of a filter. */
export function isDigitsToken(token: string): boolean {
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return token.length > 0;
}

/** True when the token is pure ASCII, so its being one token does not depend on a Unicode version. */
export function isAsciiToken(token: string): boolean {
  for (let i = 0; i < token.length; i++) if (token.charCodeAt(i) >= 128) return false;
  return true;
}

/** The hash pairs of `tokens` (FNV-1a 64, halves through fmix32), two u32 a token, for filterMayContain. */
export function hashTokens(tokens: readonly string[]): Uint32Array {
  const out = new Uint32Array(tokens.length * 2);
  tokens.forEach((t, i) => {
    const bytes = Buffer.from(t, 'utf8');
    hashBytes(bytes, 0, bytes.length);
    out[2 * i] = hashHi;
    out[2 * i + 1] = hashLo;
  });
  return out;
}

/** False only when some token of `hashes` (pairs from hashTokens) is certainly not in the filter. */
export function filterMayContain(filter: TokenFilter, hashes: Uint32Array): boolean {
  const { bits, bitCount, hashes: k } = filter;
  for (let t = 0; t < hashes.length; t += 2) {
    if (bitCount === 0) return false;
    const x = hashes[t]!;
    const y = hashes[t + 1]!;
    for (let i = 0; i < k; i++) {
      const p = (x + i * y) % bitCount;
      if ((bits[p >>> 3]! & (1 << (p & 7))) === 0) return false;
    }
  }
  return true;
}

/** Builds the token filter of a frame's lines; reused across frames, so it allocates only on growth. */
export class TokenFilterBuilder {
  // Open-addressing set of distinct token hashes: pairs at 2·slot, `used` marks taken slots.
  private keys = new Uint32Array(2 * 4096);
  private used = new Uint8Array(4096);
  private size = 0;

  /** Distinct tokens added since the last `build`. */
  get distinct(): number {
    return this.size;
  }

  /**
   * Adds every token of one line given as its UTF-8 bytes buf[start, end) — the bytes a frame
   * stores, split by the same rule as `tokenize` splits the string — but those of ASCII digits only.
   */
  addUtf8(buf: Uint8Array, start: number, end: number): void {
    let i = start;
    while (i < end) {
      const b = buf[i]!;
      const w = b < 0x80 ? (ASCII_TOKEN[b] === 0 ? -1 : 1) : utf8Char(buf, i, end);
      if (w < 0) {
        i -= w;
        continue;
      }
      // An ASCII token is hashed as it is scanned; one with other characters is hashed once its end is known.
      const tokenStart = i;
      let hi = FNV_HI;
      let lo = FNV_LO;
      let ascii = true;
      let digits = true;
      while (i < end) {
        const c = buf[i]!;
        if (c < 0x80) {
          if (ASCII_TOKEN[c] === 0) break;
          if (c < 0x30 || c > 0x39) digits = false;
          lo = (lo ^ c) >>> 0;
          const m = lo * 0x1b3;
          hi = (Math.imul(hi, 0x1b3) + (lo << 8) + Math.floor(m / 0x100000000)) | 0;
          lo = m >>> 0;
          i++;
        } else {
          const w = utf8Char(buf, i, end);
          if (w < 0) break;
          ascii = false;
          i += w;
        }
      }
      if (ascii && digits) continue;
      if (ascii) {
        hashHi = fmix32(hi >>> 0);
        hashLo = fmix32(lo);
      } else hashBytes(buf, tokenStart, i);
      if (this.put(hashHi, hashLo) && 2 * this.size > this.used.length) this.grow();
    }
  }

  /** The filter of every token added since the last build, sized for them; then starts over. */
  build(bitsPerToken = TOKEN_FILTER_BITS_PER_TOKEN, hashes = TOKEN_FILTER_HASHES): TokenFilter {
    const bytes = Math.ceil((this.size * bitsPerToken) / 8);
    const bits = new Uint8Array(bytes);
    const bitCount = bytes * 8;
    const { keys, used } = this;
    for (let slot = 0; slot < used.length && bitCount > 0; slot++) {
      if (used[slot] === 0) continue;
      const x = keys[2 * slot]!;
      const y = keys[2 * slot + 1]!;
      for (let i = 0; i < hashes; i++) {
        const p = (x + i * y) % bitCount;
        bits[p >>> 3]! |= 1 << (p & 7);
      }
    }
    this.clear();
    return { bits, bitCount, hashes };
  }

  /** Forgets every token added since the last build. */
  clear(): void {
    // A frame of many tokens must not pin its set for the life of the process.
    if (this.used.length > 1 << 16) {
      this.keys = new Uint32Array(2 * 4096);
      this.used = new Uint8Array(4096);
    } else this.used.fill(0);
    this.size = 0;
  }

  // True when (x, y) was not in the set yet.
  private put(x: number, y: number): boolean {
    const { keys, used } = this;
    const mask = used.length - 1;
    let slot = (x ^ y) & mask;
    while (used[slot] !== 0) {
      if (keys[2 * slot] === x && keys[2 * slot + 1] === y) return false;
      slot = (slot + 1) & mask;
    }
    used[slot] = 1;
    keys[2 * slot] = x;
    keys[2 * slot + 1] = y;
    this.size++;
    return true;
  }

  private grow(): void {
    const { keys, used } = this;
    this.keys = new Uint32Array(keys.length * 2);
    this.used = new Uint8Array(used.length * 2);
    this.size = 0;
    for (let slot = 0; slot < used.length; slot++) if (used[slot] !== 0) this.put(keys[2 * slot]!, keys[2 * slot + 1]!);
  }
}
