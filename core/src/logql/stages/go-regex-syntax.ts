/**
 * The part of Go's regexp/syntax parse that Loki's regex simplifier looks at: literal runs (with
 * case folding), `.`, captures, repetitions as Go's Simplify leaves them, and alternations factored
 * as Go factors them (common literal prefixes, runs of single characters merged into a class, empty
 * matches collapsed). Everything else (anchors, classes, word boundaries, counted repeats) is
 * opaque. It assumes a pattern already validated by the RE2 translator.
 */

/** A node of the (partial) Go syntax tree. */
export type GoNode =
  | { op: 'lit'; runes: number[]; fold: boolean }
  | { op: 'any' | 'anyNotNL' | 'class' | 'empty' | 'other' }
  | { op: 'star' | 'plus' | 'quest'; sub: GoNode }
  | { op: 'concat' | 'alt'; subs: GoNode[] }
  | { op: 'capture'; sub: GoNode };

interface Flags {
  fold: boolean;
  dotNL: boolean;
}

function foldVariants(cp: number): number[] {
  const s = String.fromCodePoint(cp);
  const out = new Set<number>([cp]);
  for (const t of [s.toLowerCase(), s.toUpperCase()]) {
    const c = t.codePointAt(0)!;
    if (t.length === String.fromCodePoint(c).length) out.add(c);
  }
  if (cp === 0x6b || cp === 0x4b) out.add(0x212a);
  if (cp === 0x73 || cp === 0x53) out.add(0x17f);
  return [...out].sort((a, b) => a - b);
}

/** Go's minFoldRune: the smallest rune of the case orbit. */
function minFold(cp: number): number {
  return foldVariants(cp)[0]!;
}

/** Parses a pattern into the partial Go syntax tree. */
export class GoRegexParser {
  i = 0;

  constructor(readonly p: string) {}

  parse(): GoNode {
    const n = this.alternation({ fold: false, dotNL: false });
    return n;
  }

  alternation(flags: Flags): GoNode {
    const legs: GoNode[] = [this.concatenation(flags)];
    while (this.p[this.i] === '|') {
      this.i++;
      legs.push(this.concatenation(flags));
    }
    return collapseAlt(legs);
  }

  /** Reads items up to `|`, `)` or the end; `flags` may be changed by `(?i)` for the rest of the group. */
  concatenation(flags: Flags): GoNode {
    const items: GoNode[] = [];
    const mergeable: boolean[] = [];
    const p = this.p;
    while (this.i < p.length && p[this.i] !== '|' && p[this.i] !== ')') {
      let atom = this.atom(flags);
      if (atom === null) continue;
      atom = this.repetitions(atom);
      pushItem(items, mergeable, atom);
    }
    if (items.length === 0) return { op: 'empty' };
    if (items.length === 1) return items[0]!;
    return { op: 'concat', subs: items };
  }

  repetitions(atom: GoNode): GoNode {
    const p = this.p;
    while (this.i < p.length) {
      const c = p[this.i];
      let min: number;
      let max: number;
      if (c === '*' || c === '+' || c === '?') {
        this.i++;
        [min, max] = c === '*' ? [0, -1] : c === '+' ? [1, -1] : [0, 1];
      } else if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(this.i));
        if (m === null) return atom;
        this.i += m[0].length;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? -1 : Number(m[3]);
      } else {
        return atom;
      }
      if (p[this.i] === '?') this.i++;
      atom = simplifyRepeat(atom, min, max);
    }
    return atom;
  }

  /** One atom, or null for a flag group that only changed `flags`. */
  atom(flags: Flags): GoNode | null {
    const p = this.p;
    const c = p[this.i]!;
    switch (c) {
      case '(':
        return this.group(flags);
      case '.':
        this.i++;
        return { op: flags.dotNL ? 'any' : 'anyNotNL' };
      case '^':
      case '$':
        this.i++;
        return { op: 'other' };
      case '[':
        return this.charClass(flags);
      case '\\':
        return this.escape(flags);
      default: {
        const cp = p.codePointAt(this.i)!;
        this.i += cp > 0xffff ? 2 : 1;
        return literal(cp, flags);
      }
    }
  }

  group(flags: Flags): GoNode | null {
    const p = this.p;
    if (p[this.i + 1] !== '?') {
      this.i++;
      return this.groupBody(flags, true);
    }
    if (p[this.i + 2] === 'P' || p[this.i + 2] === '<') {
      this.i = p.indexOf('>', this.i) + 1;
      return this.groupBody(flags, true);
    }
    const m = /^\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])/.exec(p.slice(this.i))!;
    this.i += m[0].length;
    const next: Flags = { ...flags };
    for (const f of m[1]!) applyFlag(next, f, true);
    for (const f of m[2] ?? '') applyFlag(next, f, false);
    if (m[3] === ')') {
      flags.fold = next.fold;
      flags.dotNL = next.dotNL;
      return null;
    }
    return this.groupBody(next, false);
  }

  groupBody(flags: Flags, capture: boolean): GoNode {
    const inner = this.alternation({ ...flags });
    this.i++; // ')'
    return capture ? { op: 'capture', sub: inner } : inner;
  }

  escape(flags: Flags): GoNode {
    const p = this.p;
    const e = p[this.i + 1]!;
    if ('AzbB'.includes(e)) {
      this.i += 2;
      return { op: 'other' };
    }
    if ('dDsSwWpP'.includes(e)) {
      this.i += 2;
      if ((e === 'p' || e === 'P') && p[this.i] === '{') this.i = p.indexOf('}', this.i) + 1;
      else if (e === 'p' || e === 'P') this.i += String.fromCodePoint(p.codePointAt(this.i)!).length;
      return { op: 'class' };
    }
    if (e === 'Q') {
      const end = p.indexOf('\\E', this.i + 2);
      const text = end < 0 ? p.slice(this.i + 2) : p.slice(this.i + 2, end);
      this.i = end < 0 ? p.length : end + 2;
      const items: GoNode[] = [];
      const mergeable: boolean[] = [];
      for (const ch of text) pushItem(items, mergeable, literal(ch.codePointAt(0)!, flags));
      return items.length === 0 ? { op: 'empty' } : items.length === 1 ? items[0]! : { op: 'concat', subs: items };
    }
    return literal(this.charEscape(), flags);
  }

  /** A single-character escape at `i` (octal, \x, \a…\v, escaped punctuation); moves past it. */
  charEscape(): number {
    const p = this.p;
    const e = p[this.i + 1]!;
    if (e >= '0' && e <= '7') {
      const oct = /^[0-7]{1,3}/.exec(p.slice(this.i + 1))![0];
      this.i += 1 + oct.length;
      return parseInt(oct, 8);
    }
    if (e === 'x') {
      if (p[this.i + 2] === '{') {
        const close = p.indexOf('}', this.i);
        const cp = parseInt(p.slice(this.i + 3, close), 16);
        this.i = close + 1;
        return cp;
      }
      const cp = parseInt(p.slice(this.i + 2, this.i + 4), 16);
      this.i += 4;
      return cp;
    }
    const simple: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
    this.i += 2;
    return simple[e] ?? e.codePointAt(0)!;
  }

  /** `[...]`: a single rune (or a case pair) becomes a literal as in Go; anything else is an opaque class. */
  charClass(flags: Flags): GoNode {
    const p = this.p;
    let i = this.i + 1;
    let negated = false;
    if (p[i] === '^') {
      negated = true;
      i++;
    }
    const runes: number[] = [];
    let simple = !negated;
    let first = true;
    while (i < p.length && (p[i] !== ']' || first)) {
      first = false;
      if (p[i] === '[' && p[i + 1] === ':') {
        i = p.indexOf(':]', i) + 2;
        simple = false;
        continue;
      }
      let lo: number;
      if (p[i] === '\\') {
        const e = p[i + 1]!;
        if ('dDsSwWpP'.includes(e)) {
          simple = false;
          i += 2;
          if ((e === 'p' || e === 'P') && p[i] === '{') i = p.indexOf('}', i) + 1;
          else if (e === 'p' || e === 'P') i += 1;
          continue;
        }
        this.i = i;
        lo = this.charEscape();
        i = this.i;
      } else {
        lo = p.codePointAt(i)!;
        i += lo > 0xffff ? 2 : 1;
      }
      if (p[i] === '-' && p[i + 1] !== ']' && i + 1 < p.length) {
        simple = false;
        i++;
        if (p[i] === '\\') {
          this.i = i;
          this.charEscape();
          i = this.i;
        } else {
          i += p.codePointAt(i)! > 0xffff ? 2 : 1;
        }
        continue;
      }
      runes.push(lo);
    }
    this.i = i + 1;
    if (!simple) return { op: 'class' };
    const set = new Set<number>();
    for (const r of runes) for (const v of flags.fold ? foldVariants(r) : [r]) set.add(v);
    const sorted = [...set].sort((a, b) => a - b);
    if (sorted.length === 1) return { op: 'lit', runes: [sorted[0]!], fold: false };
    if (sorted.length === 2 && foldVariants(sorted[0]!).length === 2 && foldVariants(sorted[0]!)[1] === sorted[1]) {
      return { op: 'lit', runes: [sorted[0]!], fold: true };
    }
    return { op: 'class' };
  }
}

function applyFlag(flags: Flags, f: string, on: boolean): void {
  if (f === 'i') flags.fold = on;
  else if (f === 's') flags.dotNL = on;
}

function literal(cp: number, flags: Flags): GoNode {
  return { op: 'lit', runes: [flags.fold ? minFold(cp) : cp], fold: flags.fold };
}

/**
 * Appends to a concatenation as Go's parse stack does: adjacent literals with the same case folding
 * merge, but the pieces of a nested concatenation (a group) are hoisted unmerged.
 */
function pushItem(items: GoNode[], mergeable: boolean[], n: GoNode): void {
  if (n.op === 'concat') {
    for (const s of n.subs) {
      items.push(s);
      mergeable.push(false);
    }
    return;
  }
  const k = items.length - 1;
  const last = items[k];
  if (n.op === 'lit' && last !== undefined && mergeable[k] && last.op === 'lit' && last.fold === n.fold) {
    items[k] = { op: 'lit', runes: [...last.runes, ...n.runes], fold: last.fold };
    return;
  }
  items.push(n);
  mergeable.push(true);
}

/** Go's Simplify of a repetition. */
function simplifyRepeat(sub: GoNode, min: number, max: number): GoNode {
  let op: 'star' | 'plus' | 'quest' | null = null;
  if (min === 0 && max === -1) op = 'star';
  else if (min === 1 && max === -1) op = 'plus';
  else if (min === 0 && max === 1) op = 'quest';
  else if (min === 1 && max === 1) return sub;
  else if (min === 0 && max === 0) return { op: 'empty' };
  if (op === null) return { op: 'other' };
  if (sub.op === 'empty') return sub;
  if (sub.op === op) return sub;
  return { op, sub };
}

function isCharClassLike(n: GoNode): boolean {
  return (n.op === 'lit' && n.runes.length === 1) || n.op === 'class' || n.op === 'any' || n.op === 'anyNotNL';
}

/** Go's collapse of an alternation: nested alternations hoisted, then factored. */
function collapseAlt(legs: GoNode[]): GoNode {
  const flat: GoNode[] = [];
  for (const l of legs) {
    if (l.op === 'alt') flat.push(...l.subs);
    else flat.push(l);
  }
  if (flat.length === 1) return flat[0]!;
  const factored = factor(flat);
  return factored.length === 1 ? factored[0]! : { op: 'alt', subs: factored };
}

function leadingString(n: GoNode): { runes: number[]; fold: boolean } | null {
  const first = n.op === 'concat' ? n.subs[0]! : n;
  return first.op === 'lit' ? { runes: first.runes, fold: first.fold } : null;
}

function removeLeadingString(n: GoNode, count: number): GoNode {
  if (n.op === 'concat') {
    const first = removeLeadingString(n.subs[0]!, count);
    if (first.op !== 'empty') return { op: 'concat', subs: [first, ...n.subs.slice(1)] };
    const rest = n.subs.slice(1);
    return rest.length === 0 ? { op: 'empty' } : rest.length === 1 ? rest[0]! : { op: 'concat', subs: rest };
  }
  if (n.op === 'lit') {
    const runes = n.runes.slice(count);
    return runes.length === 0 ? { op: 'empty' } : { op: 'lit', runes, fold: n.fold };
  }
  return n;
}

/** Go's factor: rounds 1 (common literal prefixes), 3 (runs of single characters become a class) and 4 (repeated empty matches). */
function factor(subs: GoNode[]): GoNode[] {
  const round1: GoNode[] = [];
  let start = 0;
  let str: number[] = [];
  let strFold = false;
  for (let i = 0; i <= subs.length; i++) {
    let istr: number[] = [];
    let ifold = false;
    if (i < subs.length) {
      const ls = leadingString(subs[i]!);
      if (ls !== null) {
        istr = ls.runes;
        ifold = ls.fold;
      }
      if (ifold === strFold) {
        let same = 0;
        while (same < str.length && same < istr.length && str[same] === istr[same]) same++;
        if (same > 0) {
          str = str.slice(0, same);
          continue;
        }
      }
    }
    if (i === start + 1) {
      round1.push(subs[start]!);
    } else if (i > start + 1) {
      const prefix: GoNode = { op: 'lit', runes: str, fold: strFold };
      const suffix = collapseAlt(subs.slice(start, i).map((s) => removeLeadingString(s, str.length)));
      round1.push({ op: 'concat', subs: [prefix, suffix] });
    }
    start = i;
    str = istr;
    strFold = ifold;
  }
  const round3: GoNode[] = [];
  start = 0;
  for (let i = 0; i <= round1.length; i++) {
    if (i < round1.length && isCharClassLike(round1[i]!)) continue;
    if (i === start + 1) round3.push(round1[start]!);
    else if (i > start + 1) round3.push({ op: 'class' });
    if (i < round1.length) round3.push(round1[i]!);
    start = i + 1;
  }
  return round3.filter((n, i) => !(n.op === 'empty' && round3[i + 1]?.op === 'empty'));
}

