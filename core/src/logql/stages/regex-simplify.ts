/**
 * Loki's regex simplification, reproduced because it changes results: before compiling a line
 * filter or label filter regex, Loki parses it with Go's regexp/syntax and, when the tree is only
 * literals, `.*`, `.+` and alternations of those, replaces it with substring tests. A label filter
 * `trace_id=~"0.*"` therefore matches every value that *contains* "0" (not only those starting
 * with it), `.*|foo` means "contains foo", and a label regex that is a bare literal is an equality.
 * Anything the simplifier does not handle runs as a regex.
 */
import { GoRegexParser, type GoNode as Node } from './go-regex-syntax';

/** The substring tests a regex simplifies to (`fold`: case-insensitive; `equal` is a whole-value test). */
export type SimpleFilter =
  | { k: 'true' | 'exists' }
  | { k: 'contains' | 'equal'; text: string; fold: boolean }
  | { k: 'or'; a: SimpleFilter; b: SimpleFilter };

/**
 * A Go byte slice as append shares it: appending within capacity writes into the same array, so an
 * earlier test built on it sees the later bytes (Loki's simplifier has that aliasing, and so its results).
 */
class GoBytes {
  constructor(
    readonly arr: number[],
    readonly len: number,
    readonly cap: number,
  ) {}

  static from(bytes: number[]): GoBytes {
    return new GoBytes([...bytes], bytes.length, roundUpSize(bytes.length));
  }

  append(bytes: number[]): GoBytes {
    const newLen = this.len + bytes.length;
    if (newLen <= this.cap) {
      for (let j = 0; j < bytes.length; j++) this.arr[this.len + j] = bytes[j]!;
      return new GoBytes(this.arr, newLen, this.cap);
    }
    let newCap = this.cap * 2;
    if (newLen > newCap) newCap = newLen;
    else if (this.cap >= 256) {
      newCap = this.cap;
      while (newCap < newLen) newCap += (newCap + 768) >> 2;
    }
    const arr = this.arr.slice(0, this.len).concat(bytes);
    return new GoBytes(arr, newLen, roundUpSize(newCap));
  }

  text(): () => string {
    return () => Buffer.from(this.arr.slice(0, this.len)).toString('utf8');
  }
}

const SIZE_CLASSES = [
  8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896,
  1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
  12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
];

function roundUpSize(n: number): number {
  if (n === 0) return 0;
  for (const c of SIZE_CLASSES) if (c >= n) return c;
  return Math.ceil(n / 8192) * 8192;
}

function utf8Bytes(runes: number[]): number[] {
  return [...Buffer.from(String.fromCodePoint(...runes), 'utf8')];
}

/** A filter under construction: texts of non-folding tests are read at the end, after every append. */
type Pending =
  | { k: 'true' | 'exists' }
  | { k: 'contains' | 'equal'; text: () => string; fold: boolean }
  | { k: 'or'; a: Pending; b: Pending };

function containsOf(bytes: GoBytes, fold: boolean): Pending {
  if (bytes.len === 0) return { k: 'true' };
  if (fold) {
    const t = bytes.text()().toLowerCase();
    return { k: 'contains', text: () => t, fold };
  }
  return { k: 'contains', text: bytes.text(), fold };
}

/** Loki's newOrFilter: an always-true side is dropped (so `.*|foo` means "contains foo"). */
function orOf(a: Pending | null, b: Pending): Pending {
  if (a === null || a.k === 'true') return b;
  if (b.k === 'true') return a;
  return { k: 'or', a, b };
}

function clearCapture(n: Node): Node {
  return n.op === 'capture' ? n.sub : n;
}

function simplifyNode(n: Node, isLabel: boolean): Pending | null {
  switch (n.op) {
    case 'alt': {
      let f: Pending | null = null;
      for (let i = 0; i < n.subs.length; i++) {
        const g = simplifyNode(clearCapture(n.subs[i]!), isLabel);
        if (g === null) return null;
        f = i === 0 ? g : orOf(f, g);
      }
      return f;
    }
    case 'concat':
      return simplifyConcat(n.subs, null);
    case 'capture':
      return simplifyNode(n.sub, isLabel);
    case 'lit': {
      const bytes = GoBytes.from(utf8Bytes(n.runes));
      if (!isLabel) return containsOf(bytes, n.fold);
      const t = n.fold ? bytes.text()().toLowerCase() : bytes.text()();
      return { k: 'equal', text: () => t, fold: n.fold };
    }
    case 'star':
      return n.sub.op === 'anyNotNL' ? { k: 'true' } : null;
    case 'plus':
      return n.sub.op === 'anyNotNL' ? { k: 'exists' } : null;
    case 'empty':
      return { k: 'true' };
    default:
      return null;
  }
}

function simplifyConcat(rawSubs: Node[], base: GoBytes | null): Pending | null {
  const subs = rawSubs.map(clearCapture).filter((s) => s.op !== 'empty');
  if (subs.length > 3) return null;
  let curr: Pending | null = null;
  let literals = 0;
  let baseFold = false;
  let literal = base;
  for (const sub of subs) {
    if (sub.op === 'lit') {
      if (literals !== 0) return null;
      literals++;
      const bytes = utf8Bytes(sub.runes);
      literal = literal === null ? GoBytes.from(bytes) : literal.append(bytes);
      baseFold = sub.fold;
      continue;
    }
    if (sub.op === 'alt' && literal !== null) {
      curr = simplifyConcatAlternate(sub.subs, literal, curr, baseFold);
      if (curr === null) return null;
      continue;
    }
    if (sub.op === 'star' && sub.sub.op === 'anyNotNL') continue;
    return null;
  }
  if (curr !== null) return curr;
  if (literal !== null) return containsOf(literal, baseFold);
  return null;
}

function simplifyConcatAlternate(alts: Node[], literal: GoBytes, curr: Pending | null, fold: boolean): Pending | null {
  for (const alt of alts) {
    const altFold = alt.op === 'lit' && alt.fold;
    if (!fold && altFold) return null;
    switch (alt.op) {
      case 'empty':
        curr = orOf(curr, containsOf(literal, fold));
        break;
      case 'lit': {
        const bytes = utf8Bytes(alt.runes);
        const joined = new GoBytes([...literal.arr.slice(0, literal.len), ...bytes], literal.len + bytes.length, literal.len + bytes.length);
        curr = orOf(curr, containsOf(joined, fold));
        break;
      }
      case 'concat': {
        const f = simplifyConcat(alt.subs, literal);
        if (f === null) return null;
        curr = orOf(curr, f);
        break;
      }
      case 'star':
        if (alt.sub.op !== 'anyNotNL') return null;
        curr = orOf(curr, containsOf(literal, fold));
        break;
      default:
        return null;
    }
  }
  return curr;
}

function finish(p: Pending): SimpleFilter {
  switch (p.k) {
    case 'true':
    case 'exists':
      return { k: p.k };
    case 'or':
      return { k: 'or', a: finish(p.a), b: finish(p.b) };
    default:
      return { k: p.k, text: p.text(), fold: p.fold };
  }
}

/**
 * The substring tests Loki replaces an (already validated) RE2 regex with, or null when Loki runs
 * it as a regex. `isLabel`: a label filter, where a bare literal is an equality.
 */
export function simplifyRegex(pattern: string, isLabel: boolean): SimpleFilter | null {
  const tree = new GoRegexParser(pattern).parse();
  const p = simplifyNode(tree, isLabel);
  return p === null ? null : finish(p);
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** Compiles a simplified filter into a test over a string. */
export function compileSimpleFilter(f: SimpleFilter): (s: string) => boolean {
  switch (f.k) {
    case 'true':
      return () => true;
    case 'exists':
      return (s) => s.length > 0;
    case 'or': {
      const a = compileSimpleFilter(f.a);
      const b = compileSimpleFilter(f.b);
      return (s) => a(s) || b(s);
    }
    case 'contains': {
      const t = f.text;
      if (!f.fold) return (s) => s.includes(t);
      const re = new RegExp(escapeRegExp(t), 'iu');
      return (s) => re.test(s);
    }
    case 'equal': {
      const t = f.text;
      if (!f.fold) return (s) => s === t;
      const re = new RegExp(`^${escapeRegExp(t)}$`, 'iu');
      return (s) => re.test(s);
    }
  }
}
