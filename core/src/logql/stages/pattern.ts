/**
 * Loki's pattern expressions: literal text with captures `<name>` and unnamed `<_>`
 * (`<_> - <ip> [<ts>] "<method> <path> <_>"`). Matching is a left-to-right scan: a capture takes
 * everything up to the next occurrence of the literal that follows it, the last capture takes the
 * rest, and a literal that cannot be found ends the match with the captures so far (the current
 * capture taking the rest). Used by `| pattern` and by the `|>` / `!>` line filters.
 */
import { BadRequestError } from '../../errors';
import { DUPLICATE_SUFFIX, type LabelsBuilder } from './labels-builder';
import type { Stage } from './stage';

type PatternNode = { capture: string } | { literal: string };

const CAPTURE_RE = /^<([A-Za-z_][A-Za-z0-9_]*)>/;

/** Splits a pattern into captures and literal runs. */
function parseNodes(pattern: string): PatternNode[] {
  const nodes: PatternNode[] = [];
  let lit = '';
  let i = 0;
  while (i < pattern.length) {
    if (pattern[i] === '<') {
      const m = CAPTURE_RE.exec(pattern.slice(i, i + 1 + 256));
      if (m !== null) {
        if (lit !== '') nodes.push({ literal: lit });
        lit = '';
        nodes.push({ capture: m[1]! });
        i += m[0].length;
        continue;
      }
    }
    lit += pattern[i];
    i++;
  }
  if (lit !== '') nodes.push({ literal: lit });
  return nodes;
}

function isCapture(n: PatternNode | undefined): n is { capture: string } {
  return n !== undefined && 'capture' in n;
}

function consecutiveCaptures(nodes: PatternNode[]): string | null {
  for (let i = 0; i + 1 < nodes.length; i++) {
    const a = nodes[i]!;
    const b = nodes[i + 1]!;
    if (isCapture(a) && isCapture(b)) return `<${a.capture}><${b.capture}>`;
  }
  return null;
}

function fail(message: string): never {
  throw new BadRequestError('SILT_BAD_QUERY', message);
}

/** A compiled pattern: `names` are the named captures in order. */
export class PatternMatcher {
  /** Named captures, in order. */
  readonly names: string[];

  private constructor(private readonly nodes: PatternNode[]) {
    this.names = nodes.filter(isCapture).map((n) => n.capture).filter((n) => n !== '_');
  }

  /** Compiles the pattern of `| pattern`: at least one named capture, no two captures in a row, no name twice. */
  static forParser(pattern: string): PatternMatcher {
    if (pattern === '') fail('invalid pattern parser: syntax error: unexpected $end');
    const nodes = parseNodes(pattern);
    const m = new PatternMatcher(nodes);
    if (m.names.length === 0) fail('invalid pattern parser: at least one capture is required');
    const consecutive = consecutiveCaptures(nodes);
    if (consecutive !== null) fail(`invalid pattern parser: found consecutive capture '${consecutive}': invalid expression`);
    const seen = new Set<string>();
    for (const n of m.names) {
      if (seen.has(n)) fail(`invalid pattern parser: duplicate capture name (${n}): invalid expression`);
      seen.add(n);
    }
    return m;
  }

  /** Compiles the pattern of a `|>` / `!>` line filter: only unnamed captures, none in a row. */
  static forLineFilter(pattern: string): PatternMatcher {
    const nodes = parseNodes(pattern);
    const consecutive = consecutiveCaptures(nodes);
    if (consecutive !== null) fail(`invalid pattern line filter: found consecutive capture '${consecutive}': invalid expression`);
    const named = nodes.find((n) => isCapture(n) && n.capture !== '_');
    if (named !== undefined) fail(`invalid pattern line filter: named captures are not allowed: found '<${(named as { capture: string }).capture}>'`);
    return new PatternMatcher(nodes);
  }

  /** The named captures of `line` in order; fewer than `names` when the match ends early, none when the leading literal is missing. */
  matches(line: string, out: string[]): string[] {
    out.length = 0;
    const nodes = this.nodes;
    if (line.length === 0 || nodes.length === 0) return out;
    let k = 0;
    let pos = 0;
    const first = nodes[0]!;
    if (!isCapture(first)) {
      if (line.indexOf(first.literal) !== 0) return out;
      pos = first.literal.length;
      k = 1;
    }
    if (k === nodes.length) return out;
    while (k < nodes.length) {
      const capt = nodes[k] as { capture: string };
      if (k === nodes.length - 1) {
        if (capt.capture !== '_') out.push(line.slice(pos));
        return out;
      }
      const lit = (nodes[k + 1] as { literal: string }).literal;
      k += 2;
      const at = line.indexOf(lit, pos);
      if (at < 0) {
        if (capt.capture !== '_') out.push(line.slice(pos));
        return out;
      }
      if (capt.capture !== '_') out.push(line.slice(pos, at));
      pos = at + lit.length;
    }
    return out;
  }

  /** Whether `line` matches as a whole (the `|>` test): literals in order, every capture non-empty. */
  test(line: string): boolean {
    const nodes = this.nodes;
    if (line.length === 0 || nodes.length === 0) return line.length === 0 && nodes.length === 0;
    let off = 0;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      if (isCapture(n)) continue;
      const j = line.indexOf(n.literal, off);
      if (j < 0) return false;
      if (i !== 0 && j === off) return false;
      off = j + n.literal.length;
    }
    const endsOnCapture = isCapture(nodes[nodes.length - 1]);
    return endsOnCapture === (off !== line.length);
  }
}

/** `| pattern "…"`: named captures become labels (`_extracted` when the name is taken). */
export class PatternStage implements Stage {
  private readonly matcher: PatternMatcher;
  private readonly captures: string[] = [];

  constructor(pattern: string) {
    this.matcher = PatternMatcher.forParser(pattern);
  }

  process(_ts: bigint, line: string, b: LabelsBuilder): string | null {
    const hints = b.hints;
    if (hints.noLabels()) return line;
    const values = this.matcher.matches(line, this.captures);
    const names = this.matcher.names;
    for (let i = 0; i < values.length; i++) {
      let name = names[i]!;
      if (b.taken(name)) name += DUPLICATE_SUFFIX;
      if (hints.extracted(name) || !hints.shouldExtract(name)) continue;
      b.setParsed(name, values[i]!);
      if (!hints.shouldContinueParsingLine(name, b)) return null;
    }
    return line;
  }
}
