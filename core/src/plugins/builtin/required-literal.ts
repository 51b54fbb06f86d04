/**
 * A substring every match of an RE2 pattern contains, for a cheap `includes` before the regex runs
 * (a redact rule looks at every line; most lines hold no match). Conservative: only literal
 * characters at the top level of the pattern count, a run of them broken by anything else; any
 * top-level `|`, flag group or `\Q` gives up. The longest run wins.
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

/** See the module comment; null when no substring is sure. */
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
