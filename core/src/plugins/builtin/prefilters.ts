/**
 * What makes a redact rule cheap on the lines it does not change (it looks at every line; most hold
 * no match): a substring every match contains, for an `includes` before any regex runs; a run of
 * characters of one ASCII class every match contains (a card number's 16 digits), looked for by a
 * scan that skips ahead by the run's length; and a regex that answers `test` as the pattern does
 * while trying fewer start positions.
 */

/** The index just past the group that opens at `i` (`(` … `)`, nested groups, classes and escapes skipped), or -1. */
function pastGroup(p: string, i: number): number {
  let depth = 0;
  for (let k = i; k < p.length; k++) {
    const c = p[k];
    if (c === '\\') k++;
    else if (c === '[') {
      k = pastClass(p, k) - 1;
      if (k < 0) return -1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return k + 1;
  }
  return -1;
}

/** The index just past the class that opens at `i`, or -1. */
function pastClass(p: string, i: number): number {
  let k = i + 1;
  if (p[k] === '^') k++;
  if (p[k] === ']') k++;
  for (; k < p.length; k++) {
    if (p[k] === '\\') k++;
    else if (p[k] === '[' && p[k + 1] === ':') {
      const end = p.indexOf(':]', k + 2);
      if (end < 0) return -1;
      k = end + 1;
    } else if (p[k] === ']') return k + 1;
  }
  return -1;
}

const REPEAT = /^\{(\d+)(,\d*)?\}/;

/**
 * A substring every match of the RE2 `pattern` contains; null when none is sure. Conservative: only
 * literal characters at the top level of the pattern count, a run of them broken by anything else;
 * any top-level `|`, flag group or `\Q` gives up. The longest run wins.
 */
export function requiredLiteral(pattern: string): string | null {
  if (pattern.includes('(?') || pattern.includes('\\Q')) return null;
  let best = '';
  let run = '';
  const flush = (): void => {
    if (run.length > best.length) best = run;
    run = '';
  };
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    let atom: string | null = null;
    let next = i + 1;
    if (c === '|') return null;
    if (c === '\\') {
      const e = pattern[i + 1];
      if (e === undefined) return null;
      next = i + 2;
      if (/[^\p{L}\p{N}\s_]/u.test(e)) atom = e;
      else if ((e === 'p' || e === 'P' || e === 'x') && pattern[next] === '{') {
        next = pattern.indexOf('}', next) + 1;
        if (next === 0) return null;
      } else if (e === 'x') next += 2;
    } else if (c === '[') {
      next = pastClass(pattern, i);
      if (next < 0) return null;
    } else if (c === '(') {
      next = pastGroup(pattern, i);
      if (next < 0) return null;
    } else if (c === '{' && REPEAT.test(pattern.slice(i))) {
      return null;
    } else if (!'.^$*+?)'.includes(c)) atom = c;
    const q = pattern[next];
    const repeat = q === '{' ? REPEAT.exec(pattern.slice(next)) : null;
    if (q === '*' || q === '?' || (repeat !== null && repeat[1] === '0')) {
      flush();
      next += q === '{' ? repeat![0].length : 1;
      if (pattern[next] === '?') next++;
    } else if (q === '+' || repeat !== null) {
      // Required once, then repeated: the run ends with it.
      if (atom !== null) run += atom;
      flush();
      next += q === '+' ? 1 : repeat![0].length;
      if (pattern[next] === '?') next++;
    } else if (atom === null) flush();
    else run += atom;
    i = next;
  }
  flush();
  return best === '' ? null : best;
}

/** The end of the JS regex source's first atom when it is a character class or class escape (`[…]`, `\d`, `\w`, `\s` and their negations, `\p{…}`, `.`), else -1. */
function classAtomEnd(src: string): number {
  if (src[0] === '[') return pastClass(src, 0);
  if (src[0] === '.') return 1;
  if (src[0] !== '\\') return -1;
  const e = src[1];
  if (e !== undefined && 'dDwWsS'.includes(e)) return 2;
  if ((e === 'p' || e === 'P') && src[2] === '{') {
    const end = src.indexOf('}', 3);
    return end < 0 ? -1 : end + 1;
  }
  return -1;
}

/** Whether the JS regex source has a `|` outside every group and class. */
function hasTopLevelAlternation(src: string): boolean {
  for (let k = 0; k < src.length; k++) {
    const c = src[k];
    if (c === '\\') k++;
    else if (c === '[') {
      k = pastClass(src, k) - 1;
      if (k < 0) return true;
    } else if (c === '(') {
      k = pastGroup(src, k) - 1;
      if (k < 0) return true;
    } else if (c === '|') return true;
  }
  return false;
}

/**
 * A regex whose `test` answers as `re`'s, for a pattern that starts with an unbounded repetition of
 * one class (`C+…`, `C*…`, `C{n,}…`; an email's `[\w.+-]+@…`) and has no top-level `|`: `re`
 * behind `(?<!C)`. A backtracking engine tries a match at every character of a run of C and, where
 * the rest then fails, walks the run back each time, quadratic in the run; the lookbehind lets it
 * try the run's first character only. The answer is the same: a match that starts inside a run
 * consumes C up to some point and matches the rest from there, and the run's first character can
 * consume the same and do likewise. (Only for `test`: a global replace resumes after each match,
 * possibly inside a run, so it keeps `re`.) `re` itself where the shape does not hold.
 */
export function runStartTest(re: RegExp): RegExp {
  const src = re.source;
  const atom = classAtomEnd(src);
  if (atom < 0 || hasTopLevelAlternation(src)) return re;
  const q = src[atom];
  const unbounded = q === '+' || q === '*' || (q === '{' && /^\{\d+,\}/.test(src.slice(atom)));
  if (!unbounded) return re;
  return new RegExp(`(?<!${src.slice(0, atom)})${src}`, re.flags.replace('g', '').replace('y', ''));
}

/** A run every match of a pattern contains: `length` consecutive characters of an ASCII class (`table[c]` is 1 for its code units). */
export interface RequiredRun {
  table: Uint8Array;
  length: number;
}

/** The end of the escape at `i` in JS regex source (`\u{…}`, `\p{…}`, `\xHH`, `\uHHHH`, or one character). */
function escapeEnd(src: string, i: number): number {
  const e = src[i + 1];
  if ((e === 'u' || e === 'p' || e === 'P') && src[i + 2] === '{') return src.indexOf('}', i + 3) + 1 || -1;
  if (e === 'x') return i + 4;
  if (e === 'u') return i + 6;
  return i + 2;
}

/** The code unit an escape or character at `i` stands for, when it is one ASCII character (else -1). */
function asciiAt(src: string, i: number, end: number): number {
  if (src[i] !== '\\') return end === i + 1 && src.charCodeAt(i) < 128 ? src.charCodeAt(i) : -1;
  const e = src[i + 1]!;
  if (src[i + 2] === '{' && e === 'u') {
    const c = parseInt(src.slice(i + 3, end - 1), 16);
    return c < 128 ? c : -1;
  }
  if (e === 'x' || e === 'u') {
    const c = parseInt(src.slice(i + 2, end), 16);
    return c < 128 ? c : -1;
  }
  return /[^\p{L}\p{N}\s_]/u.test(e) ? e.charCodeAt(0) : -1;
}

/** The ASCII class of a class atom of JS regex source (`[…]` without `^`, `\d`, `\w`), or null (non-ASCII members, case folding of letters, anything else). */
function asciiClass(atom: string, caseless: boolean): Uint8Array | null {
  const table = new Uint8Array(128);
  const set = (from: number, to: number): void => {
    table.fill(1, from, to + 1);
  };
  const escapeClass = (e: string): boolean => {
    if (e === 'd') set(48, 57);
    else if (e === 'w') {
      set(48, 57);
      set(65, 90);
      set(97, 122);
      set(95, 95);
    } else return false;
    return true;
  };
  if (atom === '\\d' || atom === '\\w') escapeClass(atom[1]!);
  else {
    if (atom[0] !== '[' || atom[1] === '^') return null;
    const body = atom.slice(1, -1);
    for (let i = 0; i < body.length; ) {
      if (body[i] === '\\' && (body[i + 1] === 'd' || body[i + 1] === 'w')) {
        escapeClass(body[i + 1]!);
        i += 2;
        continue;
      }
      const end = body[i] === '\\' ? escapeEnd(body, i) : i + 1;
      const from = end < 0 ? -1 : asciiAt(body, i, end);
      if (from < 0) return null;
      if (body[end] === '-' && end + 1 < body.length) {
        const end2 = body[end + 1] === '\\' ? escapeEnd(body, end + 1) : end + 2;
        const to = end2 < 0 ? -1 : asciiAt(body, end + 1, end2);
        if (to < from) return null;
        set(from, to);
        i = end2;
      } else {
        set(from, from);
        i = end;
      }
    }
  }
  // With case folding, letters stand for more than themselves (some outside ASCII).
  if (caseless && (table.subarray(65, 91).includes(1) || table.subarray(97, 123).includes(1))) return null;
  return table;
}

/**
 * The longest run of one ASCII class that every match of `re` contains: an atom `C{n}`, `C{n,}` or
 * `C{n,m}` (n ≥ 2) at the top level of a pattern without a top-level `|`; null when there is none.
 */
export function requiredRun(re: RegExp): RequiredRun | null {
  const src = re.source;
  if (hasTopLevelAlternation(src)) return null;
  let best: RequiredRun | null = null;
  for (let i = 0; i < src.length; ) {
    const c = src[i];
    const end = c === '[' ? pastClass(src, i) : c === '(' ? pastGroup(src, i) : c === '\\' ? escapeEnd(src, i) : i + 1;
    if (end < 0) return best;
    const repeat = /^\{(\d+)(?:,\d*)?\}/.exec(src.slice(end));
    const n = repeat === null ? 0 : Number(repeat[1]);
    if (n >= 2 && (best === null || n > best.length)) {
      const table = asciiClass(src.slice(i, end), re.flags.includes('i'));
      if (table !== null) best = { table, length: n };
    }
    i = end + (repeat?.[0].length ?? 0);
  }
  return best;
}

/** Whether `text` holds `run`: looks at every `length`-th code unit until one is in the class, then at its neighbours. */
export function hasRun(text: string, run: RequiredRun): boolean {
  const { table, length } = run;
  const n = text.length;
  const inClass = (i: number): boolean => {
    const c = text.charCodeAt(i);
    return c < 128 && table[c] === 1;
  };
  for (let i = length - 1; i < n; ) {
    if (!inClass(i)) {
      // A run of `length` ending at or before i would have ended before the last skip: none ends before i + length.
      i += length;
      continue;
    }
    let have = 1;
    for (let j = i - 1; j >= 0 && have < length && inClass(j); j--) have++;
    let f = i + 1;
    for (; have < length && f < n && inClass(f); f++) have++;
    if (have >= length) return true;
    i = f + length;
  }
  return false;
}
